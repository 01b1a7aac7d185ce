"""Rolling-origin backtests over any forecasters, scored on the same folds (as in darts).

A forecaster is anything with

    fit(series)                     series: a DataFrame with a DatetimeIndex
    forecast(history, horizon)      -> array (horizon, targets); with a `quantiles` attribute
                                       that is not None: (horizon, targets, levels), levels
                                       increasing, the point forecast the middle one

and, optionally, `lookback` (the steps of history a forecast needs) and `is_fitted`.
`ForecastPipeline` and the baselines (`LastValue`, `SeasonalNaive`, `LinearAutoregression`,
and the statistical `AutoETS`, `AutoARIMA`, `AutoTheta`, with quantiles if asked) are.
`backtest` forecasts `horizon` steps from each origin, with everything before the origin
as history, and scores each forecast against the truth. A forecaster that is fitted
(`is_fitted`) is used as it is; otherwise a copy of it is fitted on everything before the
first origin. With `refit=True` a fresh copy is fitted on everything before each origin
(darts's `historical_forecasts(retrain=True)`). The forecasters passed in are never changed.
"""

import copy

import numpy as np
import pandas as pd

from ..checks import check_positive_int
from . import metrics
from .series import seasonal_period

__all__ = ["backtest", "mean_by_model", "score"]


def score(truth, forecast, insample, season, quantiles=None, levels=None):
    """MAE, RMSE, MASE and sMAPE of a point `forecast` (and pinball and the outer levels'
    coverage of `quantiles`, `(horizon, targets, levels)`, when `levels` are given)."""
    row = {
        "mae": metrics.mae(truth, forecast),
        "rmse": metrics.rmse(truth, forecast),
        "mase": metrics.mase(truth, forecast, insample[:, 0] if insample.shape[1] == 1 else insample, season),
        "smape": metrics.smape(truth, forecast),
    }
    if levels:
        no_quantiles = quantiles is None
        row["pinball"] = np.nan if no_quantiles else metrics.pinball(truth, quantiles, levels)
        row["coverage"] = (
            np.nan if no_quantiles else metrics.coverage(truth, quantiles[..., 0], quantiles[..., -1])
        )
    return row


def _origin(series, start, before):
    """`start` (a position, a timestamp or None for 80% in) as a position."""
    if start is None:
        return max(before, int(0.8 * len(series)))
    if isinstance(start, (int, np.integer)):
        return int(start)
    try:
        return int(series.index.get_indexer([pd.Timestamp(start)], method="bfill")[0])
    except (TypeError, ValueError):
        raise ValueError(
            f"Argument `start` must be a position or a timestamp. Received: start={start!r}"
        ) from None


def mean_by_model(table):
    """A backtest table's metrics averaged over folds, a row per model, best MASE first."""
    return table.drop(columns=["fold", "origin"]).groupby("model").mean().sort_values("mase")


def backtest(
    forecasters,
    series,
    *,
    horizon,
    start=None,
    stride=None,
    refit=False,
    targets=None,
    season=None,
    fit_kwargs=None,
):
    """A row per fold and forecaster: the forecast from each origin, scored against the truth.

    Args:
        forecasters: a dict `{name: forecaster}`, or a list of forecasters named by their
            `name` attribute.
        series: a DataFrame with a DatetimeIndex, every column a forecaster reads.
        horizon: steps forecast from each origin.
        start: the first origin, a position or a timestamp (default: 80% in).
        stride: steps between origins (default `horizon`).
        refit: fit a fresh copy of every forecaster on all that precedes each origin.
        targets: the columns forecast and scored (default the first column).
        season: the seasonal period m of MASE (default from the series' frequency).
        fit_kwargs: `{name: keyword arguments}` for the fits of that forecaster's copies,
            e.g. `{"rnnkit": {"epochs": 5, "verbose": 0}}`.

    Returns:
        A DataFrame with columns model, fold, origin, mae, rmse, mase, smape, and pinball and
        coverage when a forecaster gives quantiles (NaN for those that do not).
    """
    if not isinstance(forecasters, dict):
        forecasters = {forecaster.name: forecaster for forecaster in forecasters}
    if not forecasters:
        raise ValueError("Argument `forecasters` must name at least one forecaster.")
    fit_kwargs = fit_kwargs or {}
    unknown = sorted(set(fit_kwargs) - set(forecasters))
    if unknown:
        raise ValueError(f"Argument `fit_kwargs` names {unknown}, which are not among {sorted(forecasters)}.")
    if not isinstance(series, pd.DataFrame) or not isinstance(series.index, pd.DatetimeIndex):
        raise ValueError("Argument `series` must be a DataFrame with a DatetimeIndex (see `prepare_series`).")
    targets = [series.columns[0]] if targets is None else list(targets)
    horizon = check_positive_int("horizon", horizon)
    season = check_positive_int("season", season or seasonal_period(series.index.freqstr))
    # MASE's in-sample scale compares each step with the one a season before
    before = max(season + 1, *(getattr(f, "lookback", 0) for f in forecasters.values()))
    start = _origin(series, start, before)
    stride = horizon if stride is None else check_positive_int("stride", stride)
    n = len(series)
    origins = list(range(start, n - horizon + 1, stride))
    if start < before or not origins:
        raise ValueError(
            f"Argument `start`: the first origin needs {before} steps before it (the forecasters' "
            f"lookback, and more than season={season} for MASE) and horizon={horizon} after; the "
            f"series has {n} steps. Received: start={start}"
        )
    truth = series[targets].to_numpy(dtype="float64")
    insample = truth[:start]  # MASE's scale: the part before the first origin
    levels = next((f.quantiles for f in forecasters.values() if getattr(f, "quantiles", None)), None)

    def fitted_on(name, forecaster, end):
        # a pipeline's `clone()` (its config, no weights), else a deep copy
        copied = forecaster.clone() if hasattr(forecaster, "clone") else copy.deepcopy(forecaster)
        copied.fit(series.iloc[:end], **fit_kwargs.get(name, {}))  # a pipeline returns its History
        return copied

    rows = []
    for name, forecaster in forecasters.items():
        if not refit and not getattr(forecaster, "is_fitted", False):
            forecaster = fitted_on(name, forecaster, start)
        own_levels = getattr(forecaster, "quantiles", None)
        expected = (horizon, len(targets), len(own_levels)) if own_levels else (horizon, len(targets))
        for fold, origin in enumerate(origins):
            model = fitted_on(name, forecaster, origin) if refit else forecaster
            forecast = np.asarray(model.forecast(series.iloc[:origin], horizon), dtype="float64")
            if forecast.shape != expected:
                raise ValueError(
                    f"Forecaster {name!r} returned a forecast of shape {forecast.shape}; (horizon, targets"
                    f"{', levels' if own_levels else ''}) = {expected} was expected."
                )
            point, quantiles = (
                (forecast[..., len(own_levels) // 2], forecast) if own_levels else (forecast, None)
            )
            scores = score(
                truth[origin : origin + horizon], point, insample, season, quantiles, own_levels or levels
            )
            rows.append({"model": name, "fold": fold, "origin": series.index[origin], **scores})
    return pd.DataFrame(rows)
