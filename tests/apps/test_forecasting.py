"""`ForecastPipeline` end to end on a tiny hourly series: fit, predict, backtest, save, export, CLI."""

import numpy as np
import pandas as pd
import pytest

from rnnkit.apps.forecasting.pipeline import ForecastPipeline

from ..data import hourly
from ..helpers import serve_without_rnnkit

SMALL = {"lookback": 24, "horizon": 6, "units": 8, "batch_size": 32}
NAIVE = ["last value", "seasonal naive", "linear autoregression"]  # the baselines without intervals
STATISTICAL = ["AutoETS", "AutoARIMA", "AutoTheta"]  # with the pipeline's quantiles


@pytest.mark.parametrize("multi_step", ["direct", "autoregressive"])
@pytest.mark.parametrize("quantiles", [None, [0.1, 0.5, 0.9]], ids=["point", "quantiles"])
def test_fit_predict_backtest(multi_step, quantiles):
    series = hourly()
    pipeline = ForecastPipeline(**SMALL, multi_step=multi_step, quantiles=quantiles)
    history = pipeline.fit(series.iloc[:300], epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert pipeline.state["targets"] == ["y"] and pipeline.state["covariates"] == ["x"]
    assert pipeline.state["season"] == 24

    forecast = pipeline.predict(series.iloc[:300])
    assert list(forecast.index) == list(series.index[300:306])
    expected_columns = ["y"] + ([f"y_q{q:g}" for q in quantiles] if quantiles else [])
    assert list(forecast.columns) == expected_columns
    if quantiles:  # the point forecast is the middle quantile
        np.testing.assert_allclose(forecast["y"], forecast["y_q0.5"])

    table = pipeline.backtest(series, start=300)
    assert set(table.model) == {"rnnkit", *NAIVE, *STATISTICAL}
    assert table.fold.nunique() == len(range(300, 400 - 6 + 1, 6))
    assert table[["mae", "rmse", "mase", "smape"]].notna().all().all()
    if quantiles:  # intervals of the pipeline and the statistical baselines, scored
        with_interval = table.model.isin(["rnnkit", *STATISTICAL])
        assert table.loc[with_interval, "coverage"].between(0, 1).all()
        assert table.loc[~with_interval, ["pinball", "coverage"]].isna().all().all()
    else:
        assert "coverage" not in table


@pytest.mark.parametrize("multi_step", ["direct", "autoregressive"])
def test_truncated_bptt_reaches_every_recurrent_layer(multi_step, tmp_path):
    from rnnkit.layers import Recurrent

    pipeline = ForecastPipeline(**SMALL, layers=2, multi_step=multi_step, bptt_steps=8)
    history = pipeline.fit(hourly().iloc[:300], epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    recurrent = [layer for layer in pipeline.model._flatten_layers() if isinstance(layer, Recurrent)]
    assert len(recurrent) == 2 and {layer.bptt_steps for layer in recurrent} == {8}
    pipeline.save(tmp_path / "saved")
    restored = ForecastPipeline.load(tmp_path / "saved")
    np.testing.assert_allclose(restored.predict(hourly().iloc[:300]), pipeline.predict(hourly().iloc[:300]))


def test_scaling_is_learned_from_training_data_only():
    # fit holds out the last tenth (`validation_tail`): the scaler sees the first 180 of 200 steps
    series = hourly()
    pipeline = ForecastPipeline(**SMALL, scaler="standard")
    pipeline.fit(series.iloc[:200], epochs=1, verbose=0)
    np.testing.assert_allclose(pipeline.preprocessor.input_mean, series.iloc[:180].mean().to_numpy())
    minmax = ForecastPipeline(**SMALL, scaler="minmax", validation_tail=0)
    minmax.fit(series.iloc[:200], epochs=1, verbose=0)
    np.testing.assert_allclose(minmax.preprocessor.input_mean, series.iloc[:200].min().to_numpy())


def test_export_takes_raw_history_and_returns_raw_forecasts(tmp_path):
    series = hourly()
    pipeline = ForecastPipeline(**SMALL, quantiles=[0.1, 0.5, 0.9])
    pipeline.fit(series.iloc[:300], epochs=1, verbose=0)
    path = pipeline.export(tmp_path / "saved_model")
    served = serve_without_rnnkit(path, "serve", [series.iloc[276:300].to_numpy(dtype="float32")[None]])
    expected = pipeline.predict(series.iloc[:300])
    np.testing.assert_allclose(np.asarray(served["forecast"])[0, :, 0], expected["y"], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(
        np.asarray(served["quantiles"])[0, :, 0, 2], expected["y_q0.9"], rtol=1e-4, atol=1e-4
    )


@pytest.mark.parametrize("quantiles", [None, [0.2, 0.5, 0.8]], ids=["point", "quantiles"])
def test_save_load_round_trip(tmp_path, quantiles):
    series = hourly()
    pipeline = ForecastPipeline(**SMALL, multi_step="autoregressive", quantiles=quantiles)
    pipeline.fit(series.iloc[:300], epochs=1, verbose=0)
    restored = ForecastPipeline.load(pipeline.save(tmp_path / "pipeline"))
    pd.testing.assert_frame_equal(restored.predict(series.iloc[:300]), pipeline.predict(series.iloc[:300]))


@pytest.mark.parametrize(
    "make, call, argument",
    [
        (lambda: hourly(20), lambda p, s: p.fit(s, epochs=1), "lookback \\+ horizon"),
        (lambda: hourly().assign(y=np.nan), lambda p, s: p.fit(s, epochs=1), "missing values"),
        (lambda: hourly().iloc[::-1], lambda p, s: p.fit(s, epochs=1), "not sorted"),
        (lambda: hourly(), lambda p, s: p.predict(s), "fit"),
    ],
)
def test_bad_series_fail_before_training(make, call, argument):
    pipeline = ForecastPipeline(**SMALL)
    with pytest.raises(ValueError, match=argument):
        call(pipeline, make())
    assert pipeline.model is None


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"horizon": 0}, "horizon"),
        ({"lookback": -1}, "lookback"),
        ({"multi_step": "seq2seq"}, "multi_step"),
        ({"strategy": "direct"}, "multi_step"),  # the old name, refused with the new one
        ({"quantiles": [0.9, 0.1]}, "quantiles"),
        ({"scaler": "log"}, "scaler"),
        ({"cell": "tcn"}, "cell"),
        ({"fill": "mean"}, "fill"),
        ({"bptt_steps": -1}, "bptt_steps"),
        ({"lookback": 24, "bptt_steps": 25}, "bptt_steps"),
        ({"linear": "yes"}, "linear"),
        ({"validation_tail": 1.0}, "validation_tail"),
    ],
)
def test_bad_hyper_parameters(kwargs, argument):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        ForecastPipeline(**kwargs)


def test_unknown_target_column():
    with pytest.raises(ValueError, match="'pm25'"):
        ForecastPipeline(**SMALL, target="pm25").fit(hourly(), epochs=1)


def test_default_series_is_seeded_and_regular():
    from rnnkit.apps.forecasting import generate_series

    a, b = generate_series(500, seed=1), generate_series(500, seed=1)
    pd.testing.assert_frame_equal(a, b)
    assert a.index.freqstr == "h" and not a.isna().any().any()
    # what the seasons and the trend leave of the load follows the temperature three hours earlier
    t = np.arange(500)
    rest = a.load.to_numpy() - 8 * np.sin(2 * np.pi * t / 24) - 4 * np.sin(2 * np.pi * t / 168) - 0.004 * t
    assert np.corrcoef(a.temperature.to_numpy()[:-3], rest[3:])[0, 1] > 0.5


def test_refit_backtest_trains_copies_and_plots_take_its_table():
    series = hourly()
    pipeline = ForecastPipeline(**SMALL, quantiles=[0.1, 0.5, 0.9])
    table = pipeline.backtest(series, start=340, stride=20, refit=True, epochs=1)
    assert pipeline.model is None and pipeline.state is None  # copies were trained, not it
    assert set(table.fold) == {0, 1, 2} and table.model.nunique() == 7
    assert table.loc[table.model.isin(["rnnkit", *STATISTICAL]), "coverage"].between(0, 1).all()
    assert table.loc[table.model.isin(NAIVE), ["pinball", "coverage"]].isna().all().all()
    pipeline.fit(series.iloc[:340], epochs=1, verbose=0)
    weights = [w.copy() for w in pipeline.model.get_weights()]
    pipeline.backtest(series, start=340, stride=20, refit=True, epochs=1)
    for before, after in zip(weights, pipeline.model.get_weights(), strict=True):
        np.testing.assert_array_equal(before, after)
    figures = pipeline.plots(series, table)
    assert set(figures) == {"forecast", "backtest_error"}


def test_forecast_cli_train_backtest_predict_export(tmp_path, capsys):
    from rnnkit.apps.cli import main

    csv = tmp_path / "series.csv"
    hourly(300).rename_axis("time").reset_index().to_csv(csv, index=False)
    out = tmp_path / "run"
    common = ["--data", str(csv), "--time-col", "time", "--out", str(out)]
    small = ["--lookback", "24", "--horizon", "6", "--units", "8", "--epochs", "1", "--quiet"]
    assert (
        main(["forecast", "train", *common, *small, "--target", "y", "--quantiles", "0.1", "0.5", "0.9"]) == 0
    )
    assert "linear autoregression" in capsys.readouterr().out
    assert {"forecast.png", "backtest_error.png", "metrics.json", "saved_model"} <= {
        p.name for p in out.iterdir()
    }
    read = [*common[:-2], "--run", str(out)]  # the other verbs read the run with --run
    assert main(["forecast", "backtest", *read]) == 0
    assert "rnnkit" in capsys.readouterr().out
    assert main(["forecast", "predict", *read]) == 0
    assert "y_q0.9" in capsys.readouterr().out
    assert main(["forecast", "export", *read, "--overwrite"]) == 0
    assert main(["forecast", "train", *common, *small, "--target", "nope", "--overwrite"]) == 2
    assert "'nope'" in capsys.readouterr().err


def test_several_targets_and_evaluate():
    series = hourly()
    pipeline = ForecastPipeline(**SMALL, target=["y", "x"], covariates=[], season=12)
    pipeline.fit(series.iloc[:300], epochs=1, verbose=0)
    assert pipeline.state["targets"] == ["y", "x"] and pipeline.state["season"] == 12
    forecast = pipeline.predict(series.iloc[:300])
    assert list(forecast.columns) == ["y", "x"] and forecast.shape == (6, 2)
    scores = pipeline.evaluate(series.iloc[300:])
    assert set(scores) == {"mae", "rmse", "mase", "smape"} and all(np.isfinite(list(scores.values())))


def test_non_numeric_target_is_rejected():
    frame = hourly().assign(label="a")
    with pytest.raises(ValueError, match="'label' is not numeric"):
        ForecastPipeline(**SMALL, target="label").fit(frame, epochs=1)


def test_a_config_saved_before_the_multi_step_rename_still_loads():
    config = ForecastPipeline(**SMALL, multi_step="autoregressive").get_config()
    config["strategy"] = config.pop("multi_step")  # as pipelines saved before the rename hold it
    assert ForecastPipeline.from_config(config).multi_step == "autoregressive"


def _windows(pipeline, series):
    """The scaled training windows `(N, lookback + horizon, features)` of a series."""
    scaled = pipeline.preprocessor(series.to_numpy()[None]).numpy()[0]
    length = pipeline.lookback + pipeline.horizon
    return np.stack([scaled[i : i + length] for i in range(len(scaled) - length + 1)])


@pytest.mark.parametrize("multi_step", ["direct", "autoregressive"])
def test_training_starts_from_the_least_squares_autoregression(multi_step):
    # y_{T+h} - y_T = W vec(window) + b, by least squares; the recurrent head adds nothing yet.
    # (A noisy covariate: the lags of an exact sinusoid are collinear, its solution not unique.)
    series = hourly(200)
    series["x"] += np.random.default_rng(1).normal(0, 0.1, 200)
    pipeline = ForecastPipeline(**SMALL, multi_step=multi_step)
    pipeline.learn_preprocessing(series)
    pipeline.model = pipeline.build_model()
    windows = _windows(pipeline, series)
    x, n = windows[:, :24].reshape(len(windows), -1), pipeline.lookback
    deltas = windows[:, n:, 0] - windows[:, n - 1 : n, 0]
    design = np.hstack([x, np.ones((len(x), 1))])
    solution = np.linalg.lstsq(design, deltas, rcond=None)[0]
    expected = windows[:, n - 1 : n, 0] + design @ solution
    if multi_step == "direct":  # the autoregressive rollout's own head starts random
        np.testing.assert_allclose(
            pipeline.model.predict(windows[:, :n], verbose=0)[..., 0], expected, atol=1e-3
        )
    linear = pipeline.model.get_layer("linear").get_weights()
    np.testing.assert_allclose(linear[0], solution[:-1], atol=1e-3)
    np.testing.assert_allclose(linear[1], solution[-1], atol=1e-3)


def test_each_quantile_starts_at_that_share_of_the_training_residuals():
    series = hourly(200)
    pipeline = ForecastPipeline(**SMALL, quantiles=[0.1, 0.5, 0.9])
    pipeline.learn_preprocessing(series)
    pipeline.model = pipeline.build_model()
    windows = _windows(pipeline, series)
    quantiles = pipeline.model.predict(windows[:, :24], verbose=0)  # (N, horizon, 1, 3)
    below = (windows[:, 24:, :1, None] < quantiles).mean(axis=(0, 2))  # per step and level
    np.testing.assert_allclose(below, np.broadcast_to([0.1, 0.5, 0.9], below.shape), atol=2 / len(windows))


def test_fit_holds_out_the_tail_to_select_the_epoch_unless_told_otherwise():
    series = hourly(300)
    pipeline = ForecastPipeline(**SMALL)
    history = pipeline.fit(series, epochs=3, verbose=0)
    assert "val_loss" in history.history and "learning_rate" in history.history  # patience 10 watches it
    alone = ForecastPipeline(**SMALL, validation_tail=0).fit(series, epochs=2, verbose=0)
    assert "val_loss" not in alone.history
    with pytest.raises(ValueError, match="`patience` needs `validation_data`"):
        ForecastPipeline(**SMALL, validation_tail=0).fit(series, epochs=1, patience=3)
    with pytest.raises(ValueError, match="`validation_tail`"):  # 40 steps, 6 held out: 34 < 24 + 6 + ...
        ForecastPipeline(**SMALL, validation_tail=0.5).fit(series.iloc[:40], epochs=1)


def test_conformal_offsets_make_the_held_out_intervals_cover_and_travel(tmp_path):
    # split conformal: on the windows they were computed from, the 10%-90% intervals cover at
    # least ceil((n + 1) 0.8) / n of the truth at every step, and save/load keeps the offsets
    series = hourly(400)
    pipeline = ForecastPipeline(**SMALL, quantiles=[0.1, 0.5, 0.9])
    pipeline.fit(series, epochs=2, verbose=0)
    offsets = pipeline.model.get_layer("calibration").get_weights()[0]
    assert np.all(offsets[..., 1] == 0) and np.all(offsets[..., 0] == -offsets[..., 2])
    tail = pipeline.check_data(series).iloc[360 - 24 :]
    windows = np.stack([tail.to_numpy()[i : i + 24] for i in range(len(tail) - 30 + 1)])
    truth = np.stack([tail["y"].to_numpy()[i + 24 : i + 30] for i in range(len(tail) - 30 + 1)])
    quantiles = pipeline.task.predict(windows.astype("float32"), verbose=0)[:, :, 0]  # raw scale
    covered = ((quantiles[..., 0] <= truth) & (truth <= quantiles[..., 2])).mean(axis=0)
    assert np.all(covered >= np.ceil(0.8 * (len(truth) + 1)) / len(truth) - 1e-9)
    pipeline.save(tmp_path / "saved")
    restored = ForecastPipeline.load(tmp_path / "saved")
    np.testing.assert_array_equal(restored.model.get_layer("calibration").get_weights()[0], offsets)


def test_defaults_beat_every_baseline_by_five_percent_on_the_demo_series():
    # issue 22's bar on the embedded series: only lookback, horizon and target named
    from rnnkit.apps.forecasting import generate_series

    series = generate_series()
    pipeline = ForecastPipeline(lookback=48, horizon=12, target="load")
    pipeline.fit(series.iloc[:1920], verbose=0)
    mase = pipeline.backtest(series, start=1920).groupby("model").mase.mean()
    assert mase["rnnkit"] < 0.95 * mase.drop("rnnkit").min(), mase.to_dict()
