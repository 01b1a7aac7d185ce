"""`rnnkit.apps.forecasting.backtest`: any forecasters, the same folds, the user's untouched.

The forecasters here are the baselines and a small recording one, so every number is known
in closed form; `tests/apps/test_forecasting.py` backtests the RNN pipeline itself.
"""

import numpy as np
import pytest

from rnnkit.apps.forecasting import LastValue, LinearAutoregression, SeasonalNaive, backtest, metrics

from ..data import hourly


class Mean:
    """Forecasts the mean of the series it was fitted on, and records each fit's length."""

    name = "mean"
    is_fitted = False

    def __init__(self, fits):
        self.fits = fits

    def clone(self):  # what backtest copies with, as ForecastPipeline.clone; shares the record
        return Mean(self.fits)

    def fit(self, series):
        self.fits.append(len(series))
        self.level = float(series["y"].mean())
        self.is_fitted = True
        return self

    def forecast(self, history, horizon):
        return np.full((horizon, 1), self.level)


def test_last_value_folds_are_the_closed_form():
    """MAE of the last value at origin o: mean over h of |y_{o+h} - y_{o-1}|, and MASE divides it
    by the in-sample mean |y_t - y_{t-m}| before the first origin."""
    series = hourly(120)
    table = backtest([LastValue(columns=["y"])], series, horizon=6, start=60, targets=["y"], season=24)
    y = series.y.to_numpy()
    origins = range(60, 120 - 6 + 1, 6)
    assert list(table.fold) == list(range(len(origins)))
    assert list(table.origin) == [series.index[o] for o in origins]
    for row, o in zip(table.itertuples(), origins, strict=True):
        assert row.mae == pytest.approx(np.abs(y[o : o + 6] - y[o - 1]).mean())
        scale = np.abs(y[24:60] - y[:36]).mean()
        assert row.mase == pytest.approx(np.abs(y[o : o + 6] - y[o - 1]).mean() / scale)
        assert row.smape == pytest.approx(metrics.smape(y[o : o + 6, None], np.full((6, 1), y[o - 1])))


def test_refit_fits_a_fresh_copy_before_each_origin_and_never_the_forecaster_passed():
    fits = []
    mean = Mean(fits)
    table = backtest({"m": mean}, hourly(120), horizon=6, start=60, stride=20, refit=True)
    assert fits == [60, 80, 100] and not mean.is_fitted  # copies, on all before each origin
    level = hourly(120).y.to_numpy()[:80].mean()  # the second fold's copy saw 80 steps
    second = table[table.fold == 1].iloc[0]
    assert second.mae == pytest.approx(np.abs(hourly(120).y.to_numpy()[80:86] - level).mean())


def test_without_refit_a_fitted_forecaster_is_used_as_is_and_an_unfitted_one_is_copied():
    fits = []
    unfitted, fitted = Mean(fits), Mean(fits).fit(hourly(120).iloc[:30])
    backtest({"unfitted": unfitted, "fitted": fitted}, hourly(120), horizon=6, start=60)
    assert fits == [30, 60] and not unfitted.is_fitted  # the fitted one is not fitted again


def test_every_forecaster_is_scored_on_the_same_folds_with_its_quantiles_or_nan():
    class Interval(LastValue):
        name = "interval"
        quantiles = [0.1, 0.5, 0.9]

        def forecast(self, history, horizon):
            point = super().forecast(history, horizon)
            return np.stack([point - 1, point, point + 1], axis=-1)

    series = hourly(120)
    forecasters = [
        Interval(columns=["y"]),
        SeasonalNaive(24, columns=["y"]),
        LinearAutoregression(24, 6, columns=["y"]),
    ]
    table = backtest(forecasters, series, horizon=6, start=60)
    assert table.groupby("model").fold.apply(list).apply(tuple).nunique() == 1  # same folds
    interval = table[table.model == "interval"]
    assert interval.coverage.between(0, 1).all() and interval.pinball.notna().all()
    assert table[table.model != "interval"][["pinball", "coverage"]].isna().all().all()
    # the middle level is the point forecast: the interval's MAE is the last value's
    last = backtest([LastValue(columns=["y"])], series, horizon=6, start=60)
    np.testing.assert_allclose(interval.mae, last.mae)


def test_baselines_read_their_columns_of_a_frame_or_every_column_of_an_array():
    series = hourly(120)
    assert LastValue(columns=["y"]).forecast(series, 3).shape == (3, 1)
    assert LastValue().forecast(series.to_numpy(), 3).shape == (3, 2)
    model = LinearAutoregression(24, 6, columns=["x", "y"]).fit(series)
    assert model.is_fitted and model.forecast(series, 6).shape == (6, 2)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"start": 10}, "`start`: the first origin needs 25 steps"),  # more than a season
        ({"start": 116}, "`start`"),  # no room for the horizon
        ({"start": "soon"}, "`start` must be a position or a timestamp"),
        ({"stride": 0}, "`stride`"),
        ({"horizon": 0}, "`horizon`"),
        ({"fit_kwargs": {"rnnkit": {"epochs": 1}}}, "`fit_kwargs` names \\['rnnkit'\\]"),
    ],
)
def test_bad_arguments_are_refused_before_any_fit(kwargs, match):
    fits = []
    with pytest.raises(ValueError, match=match):
        backtest({"m": Mean(fits)}, hourly(120), **{"horizon": 6, **kwargs})
    assert fits == []


def test_a_forecast_of_the_wrong_shape_names_the_forecaster():
    with pytest.raises(ValueError, match="'last value' returned a forecast of shape \\(6, 2\\)"):
        backtest([LastValue()], hourly(120), horizon=6, start=60, targets=["y"])
    with pytest.raises(ValueError, match="`series` must be a DataFrame with a DatetimeIndex"):
        backtest([LastValue()], hourly(120).reset_index(), horizon=6)
