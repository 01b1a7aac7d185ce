"""The statistical baselines: statsforecast's models, fitted once, forward over each history.

The reference is statsforecast itself, called directly on the same numbers; these tests check
what rnnkit adds: the columns, the window fitted on, the history forwarded over, the interval
levels of the quantiles, and the fallbacks.
"""

import logging

import numpy as np
import pytest
from statsforecast import models as statsforecast_models

from rnnkit.apps.forecasting import AutoARIMA, AutoETS, AutoTheta, backtest
from rnnkit.apps.forecasting.baselines import interval_levels

from ..data import hourly

# statsforecast's own ARIMA fits warn of candidates whose optimizer stopped early (ours filter it)
pytestmark = pytest.mark.filterwarnings("ignore:possible convergence problem:UserWarning")

QUANTILES = [0.1, 0.5, 0.9]  # statsforecast's level=[80]: lo-80, mean, hi-80
FIT, ORIGIN, HORIZON = 96, 108, 6  # fitted on 4 days of hourly data, forecast after 4.5 days

# each baseline, and the statsforecast model it should be (for the hourly series: m = 24)
REFERENCES = {
    AutoETS: lambda m: statsforecast_models.AutoETS(season_length=m),
    # R's `approximation` rule: on for more than 150 steps or m above 12
    AutoARIMA: lambda m: statsforecast_models.AutoARIMA(season_length=m, approximation=m > 12),
    AutoTheta: lambda m: statsforecast_models.AutoTheta(season_length=m),
}


def reference(baseline, m, fitted, history, quantiles):
    """statsforecast's forecast `(horizon, levels)` or `(horizon,)`: fitted on `fitted`, then
    `forward` over `history`."""
    model = REFERENCES[baseline](m).fit(fitted)
    if quantiles is None:
        return model.forward(y=history, h=HORIZON)["mean"]
    result = model.forward(y=history, h=HORIZON, level=[80])
    return np.stack([result["lo-80"], result["mean"], result["hi-80"]], axis=-1)


@pytest.mark.parametrize("quantiles", [None, QUANTILES], ids=["point", "quantiles"])
@pytest.mark.parametrize("baseline", [AutoETS, AutoARIMA, AutoTheta], ids=lambda b: b.label)
def test_forecast_is_statsforecasts_forward_after_one_fit(baseline, quantiles):
    series = hourly(120)
    y = series.y.to_numpy()
    model = baseline(24, quantiles=quantiles, columns=["y"]).fit(series.iloc[:FIT])
    forecast = model.forecast(series.iloc[:ORIGIN], HORIZON)
    expected = reference(baseline, 24, y[:FIT], y[:ORIGIN], quantiles)
    assert forecast.shape == ((HORIZON, 1, 3) if quantiles else (HORIZON, 1))
    np.testing.assert_allclose(forecast[:, 0], expected, rtol=1e-12)
    if quantiles:
        assert np.all(np.diff(forecast, axis=-1) > 0)  # lo-80 < mean < hi-80


def test_each_column_is_its_own_univariate_model():
    series = hourly(120)
    forecast = AutoTheta(24, quantiles=QUANTILES).fit(series.iloc[:FIT]).forecast(series.iloc[:ORIGIN], 6)
    assert forecast.shape == (HORIZON, 2, 3)
    for k, column in enumerate(["y", "x"]):
        values = series[column].to_numpy()
        expected = reference(AutoTheta, 24, values[:FIT], values[:ORIGIN], QUANTILES)
        np.testing.assert_allclose(forecast[:, k], expected, rtol=1e-12)


@pytest.mark.parametrize(
    "quantiles, levels, keys",
    [
        ([0.1, 0.5, 0.9], [80], ["lo-80", "mean", "hi-80"]),
        ([0.05, 0.25, 0.5, 0.75, 0.95], [50, 90], ["lo-90", "lo-50", "mean", "hi-50", "hi-90"]),
        ([0.025, 0.975], [95], ["lo-95", "hi-95"]),
        ([0.3, 0.5, 0.75], [40, 50], ["lo-40", "mean", "hi-50"]),  # an asymmetric pair
        ([0.125, 0.875], [75], ["lo-75", "hi-75"]),
        ([0.0125, 0.5], [97.5], ["lo-97.5", "mean"]),
    ],
)
def test_a_quantile_is_an_end_of_the_central_interval_of_level_100_abs_1_minus_2q(quantiles, levels, keys):
    assert interval_levels(quantiles) == (levels, keys)


def test_other_quantiles_read_other_interval_levels():
    series = hourly(120)
    y = series.y.to_numpy()
    quantiles = [0.05, 0.25, 0.5, 0.75, 0.95]
    forecast = AutoETS(24, quantiles=quantiles, columns=["y"]).fit(series.iloc[:FIT])
    forecast = forecast.forecast(series.iloc[:ORIGIN], HORIZON)[:, 0]  # (horizon, 5)
    result = REFERENCES[AutoETS](24).fit(y[:FIT]).forward(y=y[:ORIGIN], h=HORIZON, level=[50, 90])
    for k, key in enumerate(["lo-90", "lo-50", "mean", "hi-50", "hi-90"]):
        np.testing.assert_allclose(forecast[:, k], result[key], rtol=1e-12)


@pytest.mark.parametrize("baseline", [AutoETS, AutoARIMA], ids=lambda b: b.label)
def test_a_season_above_24_falls_back_to_the_non_seasonal_model_and_says_so(baseline, caplog):
    series = hourly(120)
    y = series.y.to_numpy()
    with caplog.at_level(logging.WARNING, logger="rnnkit.apps.forecasting.baselines"):
        model = baseline(25, quantiles=QUANTILES, columns=["y"])
    assert f"{baseline.label} takes seasonal periods up to 24: season=25" in caplog.text
    assert model.name == f"{baseline.label} (non-seasonal)" and model.m == 1 and not model.seasonal
    forecast = model.fit(series.iloc[:FIT]).forecast(series.iloc[:ORIGIN], HORIZON)
    np.testing.assert_allclose(
        forecast[:, 0], reference(baseline, 1, y[:FIT], y[:ORIGIN], QUANTILES), rtol=1e-12
    )
    assert baseline(24).name == baseline.label  # up to 24, seasonal


def test_theta_keeps_a_long_season():
    model = AutoTheta(48, columns=["y"])
    assert model.m == 48 and model.name == "AutoTheta" and model.lookback == 96
    series = hourly(150)
    y = series.y.to_numpy()
    forecast = model.fit(series.iloc[:120]).forecast(series, HORIZON)
    expected = REFERENCES[AutoTheta](48).fit(y[:120]).forward(y=y, h=HORIZON)["mean"]
    np.testing.assert_allclose(forecast[:, 0], expected, rtol=1e-12)


def test_a_long_series_is_fitted_on_its_last_max_train_steps_and_forwarded_from_there(caplog):
    series = hourly(120)
    y = series.y.to_numpy()
    model = AutoTheta(24, quantiles=QUANTILES, max_train=48, columns=["y"])
    with caplog.at_level(logging.INFO, logger="rnnkit.apps.forecasting.baselines"):
        model.fit(series.iloc[:FIT])
    assert "fitted on the last 48 of 96 steps" in caplog.text
    expected = reference(AutoTheta, 24, y[FIT - 48 : FIT], y[FIT - 48 : ORIGIN], QUANTILES)
    np.testing.assert_allclose(model.forecast(series.iloc[:ORIGIN], HORIZON)[:, 0], expected, rtol=1e-12)
    # the history is found by the fit's first timestamp, or for an array, its position
    np.testing.assert_allclose(model.forecast(series.iloc[10:ORIGIN], HORIZON)[:, 0], expected, rtol=1e-12)
    np.testing.assert_allclose(model.forecast(y[:ORIGIN, None], HORIZON)[:, 0], expected, rtol=1e-12)
    with pytest.raises(ValueError, match="`history` must continue the series AutoTheta was fitted on"):
        model.forecast(series.iloc[60:ORIGIN], HORIZON)  # it begins after the fit's first step
    with pytest.raises(ValueError, match="`history` must continue"):
        model.forecast(y[:40, None], HORIZON)
    assert AutoTheta(24, max_train=None).fit(series.iloc[:FIT]).first == 0


def test_backtest_scores_their_intervals_on_the_same_folds():
    series = hourly(120)
    forecasters = [AutoTheta(24, quantiles=QUANTILES, columns=["y"]), AutoETS(24, columns=["y"])]
    table = backtest(forecasters, series, horizon=6, start=96, stride=6)
    theta, ets = table[table.model == "AutoTheta"], table[table.model == "AutoETS"]
    assert list(theta.fold) == list(ets.fold) == [0, 1, 2, 3]
    assert theta.coverage.between(0, 1).all() and theta.pinball.notna().all()
    assert ets[["pinball", "coverage"]].isna().all().all()  # point forecasts: no interval
    assert not forecasters[0].is_fitted  # backtest fitted a copy


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"season": 0}, "season"),
        ({"season": 2.5}, "season"),
        ({"quantiles": [0.9, 0.1]}, "quantiles"),
        ({"quantiles": [0.5, 1.0]}, "quantiles"),
        ({"quantiles": "0.5"}, "quantiles"),
        ({"max_train": 0}, "max_train"),
        ({"max_train": 47}, "max_train"),  # two seasons of m = 24 are needed
    ],
)
def test_bad_arguments(kwargs, argument):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        AutoETS(**{"season": 24, **kwargs})


def test_bad_series_and_histories():
    series = hourly(120)
    with pytest.raises(ValueError, match="`series` needs at least 48 steps to fit AutoETS with m=24"):
        AutoETS(24, columns=["y"]).fit(series.iloc[:47])
    with pytest.raises(ValueError, match="`series` holds NaN"):
        AutoETS(24, columns=["y"]).fit(series.assign(y=np.nan))
    with pytest.raises(ValueError, match="call `fit"):
        AutoETS(24).forecast(series, 6)
    model = AutoTheta(24, columns=["y"]).fit(series.iloc[:FIT])
    with pytest.raises(ValueError, match="`horizon`"):
        model.forecast(series, 0)
    with pytest.raises(ValueError, match="`history` holds NaN"):
        model.forecast(series.assign(y=np.nan), 6)


def test_the_pipeline_passes_its_season_quantiles_and_a_window_of_two_seasons_at_least():
    from rnnkit.apps.forecasting import ForecastPipeline

    pipeline = ForecastPipeline(lookback=24, horizon=6, quantiles=QUANTILES)
    statistical = pipeline.baselines(["y"], 24)[3:]
    assert [b.name for b in statistical] == ["AutoETS", "AutoARIMA", "AutoTheta"]
    assert all(b.m == 24 and b.quantiles == QUANTILES and b.max_train == 1000 for b in statistical)
    names = [b.name for b in pipeline.baselines(["y"], 700)[3:]]  # a season longer than 1000 / 2
    assert names == ["AutoETS (non-seasonal)", "AutoARIMA (non-seasonal)", "AutoTheta"]
    assert pipeline.baselines(["y"], 700)[-1].max_train == 1400
