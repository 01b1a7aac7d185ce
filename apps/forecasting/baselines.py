"""The forecasting baselines every backtest scores beside the RNN.

Each is a forecaster in `backtest`'s sense: `fit(series)`, then `forecast(history, horizon)`
for its `columns` (default: every column), DataFrames or arrays `(time, columns)` in,
`(horizon, columns)` out; `(horizon, columns, levels)` for the statistical models given
`quantiles`.

The naive ones and a linear autoregression are written here; the statistical ones (AutoETS,
AutoARIMA, AutoTheta) are statsforecast's ports of R's forecast package (inner loops in C++),
one model per column, fitted once and applied to each new history without refitting.
"""

import logging
import warnings

import numpy as np
import pandas as pd
from sklearn.linear_model import Ridge

from ..checks import check_positive_int, check_quantiles

__all__ = ["AutoARIMA", "AutoETS", "AutoTheta", "LastValue", "LinearAutoregression", "SeasonalNaive"]

log = logging.getLogger(__name__)

MAX_TRAIN = 1000  # steps the statistical models are fitted on, at most (see `StatisticalBaseline`)
MIN_STEPS = 12  # the fewest they fit on: AutoETS needs more than parameters + 4 (7 at most)


def sliding_windows(values, length):
    """Every window of `length` consecutive steps of `values` `(time, columns)`, as a view
    `(time - length + 1, length, columns)`."""
    windows = np.lib.stride_tricks.sliding_window_view(values, length, axis=0)  # (N, columns, length)
    return np.moveaxis(windows, -1, 1)


class Baseline:
    """What the baselines share: the columns they read, and `fit`, which learns nothing."""

    lookback = 1  # steps of history a forecast needs
    is_fitted = True

    def __init__(self, columns=None):
        self.columns = None if columns is None else list(columns)

    def values(self, series):
        """The `columns` of a DataFrame (all of an array) as a float64 array `(time, columns)`."""
        if self.columns is not None and hasattr(series, "columns"):
            series = series[self.columns]
        return np.asarray(series, dtype="float64")

    def fit(self, series):
        return self


class LastValue(Baseline):
    """The last observed value, repeated: `y_hat_{T+h} = y_T`."""

    name = "last value"

    def forecast(self, history, horizon):
        return np.repeat(self.values(history)[-1:], horizon, axis=0)


class SeasonalNaive(Baseline):
    """The value one season earlier: `y_hat_{T+h} = y_{T+h-m k}`, `k` the smallest that reaches into the past.

    Example:

    >>> SeasonalNaive(m=3).forecast(np.array([[1.0], [2.0], [3.0], [4.0]]), horizon=4)[:, 0].tolist()
    [2.0, 3.0, 4.0, 2.0]
    """

    name = "seasonal naive"

    def __init__(self, m, columns=None):
        super().__init__(columns)
        self.m = self.lookback = int(m)

    def forecast(self, history, horizon):
        history = self.values(history)
        if len(history) < self.m:
            raise ValueError(f"Argument `history` needs at least m={self.m} steps; got {len(history)}.")
        season = history[-self.m :]
        return np.stack([season[h % self.m] for h in range(horizon)])


class LinearAutoregression(Baseline):
    """A linear model of the next `horizon` steps on the last `lags` steps (scikit-learn Ridge).

    Direct multi-step: one linear map from the flattened lag window `(lags * columns,)` to all
    `horizon * columns` outputs, fitted by least squares (a tiny ridge penalty for stability).
    """

    name = "linear autoregression"
    is_fitted = False

    def __init__(self, lags, horizon, alpha=1e-6, columns=None):
        super().__init__(columns)
        self.lags = self.lookback = int(lags)
        self.horizon = int(horizon)
        self.model = Ridge(alpha=alpha)

    def fit(self, series):
        series = self.values(series)
        window = self.lags + self.horizon
        if len(series) < window:
            raise ValueError(
                f"Argument `series` needs at least lags + horizon = {window} steps; got {len(series)}."
            )
        windows = sliding_windows(series, window)
        x = windows[:, : self.lags].reshape(len(windows), -1)
        y = windows[:, self.lags :].reshape(len(windows), -1)
        self.model.fit(x, y)
        self.targets = series.shape[1]
        self.is_fitted = True
        return self

    def forecast(self, history, horizon):
        if horizon != self.horizon:
            raise ValueError(
                f"Argument `horizon`: this model was fitted for {self.horizon} steps, not {horizon}."
            )
        x = self.values(history)[-self.lags :].reshape(1, -1)
        return self.model.predict(x).reshape(self.horizon, self.targets)


class StatisticalBaseline(Baseline):
    """A statsforecast model per column, fitted once, then applied to each new history.

    `fit(series)` fits the model on the last `max_train` steps of each column. `forecast`
    runs the fitted model over the history from the first of those steps on, parameters
    fixed (statsforecast's `forward`, as its `cross_validation(refit=False)`), and forecasts
    from its end: the states (level, trend, seasonal phase, ARIMA's drift) carry on from the
    fit. The history must therefore continue the series that was fitted: the same step at
    the same position, or for a DataFrame the same timestamp.

    Fitting on the most recent steps only is what practitioners do with long series: the
    fit's cost grows with its length (ARIMA's with m too), not its accuracy. On the hourly
    series here (m = 24), 1000 steps fit in about 1 s (ETS) and 2 s (ARIMA), 2000 in 2.5 s
    and 2 to 7 s, with no better backtest MASE; each forecast then costs a pass over the
    history since the fit began (milliseconds per thousand steps).

    With `quantiles`, quantile `q` is an end of statsforecast's central prediction interval
    of level `100 |1 - 2q|` percent, the lower end below 0.5 and the upper one above; 0.5 is
    the point forecast (the mean). [0.1, 0.5, 0.9] is `level=[80]`: lo-80, mean, hi-80.

    Args:
        season: the seasonal period m (default 1, none); a model with a `max_season` falls
            back to its non-seasonal form above it, says so in its `name`, and logs a warning.
        quantiles: None for point forecasts, or increasing levels in (0, 1).
        max_train: the most recent steps the model is fitted on (default 1000), at least two
            seasons; None for all.
        columns: the columns forecast (default every column).
    """

    is_fitted = False
    max_season = None  # the longest seasonal period the model takes, None for any

    def __init__(self, season=1, *, quantiles=None, max_train=MAX_TRAIN, columns=None):
        super().__init__(columns)
        self.season = check_positive_int("season", season)
        self.quantiles = check_quantiles(quantiles)
        self.max_train = None if max_train is None else check_positive_int("max_train", max_train)
        self.seasonal = self.max_season is None or self.season <= self.max_season
        self.m = self.season if self.seasonal else 1  # the period the model is fitted with
        self.name = self.label if self.seasonal else f"{self.label} (non-seasonal)"
        self.lookback = max(MIN_STEPS, 2 * self.m)  # the shortest series it fits on
        if self.max_train is not None and self.max_train < self.lookback:
            raise ValueError(
                f"Argument `max_train` must be at least {self.lookback} (two seasons of m={self.m}, "
                f"and {MIN_STEPS} at least). Received: max_train={self.max_train}"
            )
        self.levels, self.keys = interval_levels(self.quantiles or [])
        if not self.seasonal:
            log.warning(
                "%s takes seasonal periods up to %d: season=%d is fitted without a season.",
                self.label,
                self.max_season,
                self.season,
            )

    def model(self):
        """A new, unfitted statsforecast model of period `self.m`."""
        raise NotImplementedError

    def fit(self, series):
        """Fits one model per column on the last `max_train` steps of `series`."""
        values = self.values(series)  # (time, columns)
        first = 0 if self.max_train is None else max(0, len(values) - self.max_train)
        train = values[first:]
        if len(train) < self.lookback:
            raise ValueError(
                f"Argument `series` needs at least {self.lookback} steps to fit {self.name} with "
                f"m={self.m} (two seasons, and {MIN_STEPS} at least); got {len(train)}."
            )
        _check_finite("series", train)
        if first:
            log.info("%s: fitted on the last %d of %d steps (max_train).", self.name, len(train), len(values))
        self.models = [self.model().fit(y) for y in train.T]
        self.first = first
        index = getattr(series, "index", None)
        self.first_time = index[first] if isinstance(index, pd.DatetimeIndex) else None  # checks `history`
        self.is_fitted = True
        return self

    def forecast(self, history, horizon):
        """The next `horizon` steps after `history`, `(horizon, columns)` or with quantiles
        `(horizon, columns, levels)`: the fitted models run over `history` from the fit's
        first step on, without refitting."""
        if not self.is_fitted:
            raise ValueError(f"{self.name} forecasts once fitted: call `fit(series)` first.")
        horizon = check_positive_int("horizon", horizon)
        values = self.values(history)[self._first_step(history) :]  # (time, columns) since the fit's start
        _check_finite("history", values)
        forecasts = []
        for model, y in zip(self.models, values.T, strict=True):
            result = model.forward(y=y, h=horizon, level=self.levels or None)
            if self.quantiles is None:
                forecasts.append(result["mean"])  # (horizon,)
            else:
                forecasts.append(np.stack([result[key] for key in self.keys], axis=-1))  # (horizon, levels)
        return np.stack(forecasts, axis=1)  # (horizon, columns[, levels])

    def _first_step(self, history):
        """The position in `history` of the first step the model was fitted on."""
        index = getattr(history, "index", None)
        if self.first_time is None or not isinstance(index, pd.DatetimeIndex):
            if len(history) <= self.first:
                raise ValueError(
                    f"Argument `history` must continue the series {self.name} was fitted on, whose "
                    f"step {self.first} the fit began at; it has {len(history)} steps."
                )
            return self.first
        position = index.searchsorted(self.first_time)
        if position == len(index) or index[position] != self.first_time:
            raise ValueError(
                f"Argument `history` must continue the series {self.name} was fitted on, from "
                f"{self.first_time} on (where the fit began); it has no such timestamp."
            )
        return position


class AutoETS(StatisticalBaseline):
    """Exponential smoothing, ETS(error, trend, season) chosen by AICc (statsforecast `AutoETS`).

    The additive form, with damping phi (1 without), smoothing alpha, beta, gamma:

        y_t = l_{t-1} + phi b_{t-1} + s_{t-m} + e_t
        l_t = l_{t-1} + phi b_{t-1} + alpha e_t
        b_t = phi b_{t-1} + beta e_t
        s_t = s_{t-m} + gamma e_t

    and its multiplicative variants; the forecast is the state equations run on with e = 0.
    statsforecast, as R's `ets`, takes seasonal periods up to 24: above that (m = 52
    weekly, 365 daily) the model is fitted without a season, as R does.
    Reference: Hyndman and Khandakar (2008), Automatic time series forecasting.
    """

    label = "AutoETS"
    max_season = 24

    def model(self):
        from statsforecast.models import AutoETS  # here: 0.5 s of imports only a backtest needs

        return AutoETS(season_length=self.m)


class AutoARIMA(StatisticalBaseline):
    """Seasonal ARIMA, orders chosen by the Hyndman-Khandakar stepwise search on AICc
    (statsforecast `AutoARIMA`, R's `auto.arima`):

        phi(B) Phi(B^m) (1 - B)^d (1 - B^m)^D y_t = c + theta(B) Theta(B^m) e_t

    B the backshift operator, d and D from unit-root tests (KPSS, seasonal strength). The
    search fits by conditional sums of squares when the series is longer than 150 steps or m
    above 12 (R's default `approximation`; statsforecast's is off), then refits the best by
    maximum likelihood. A seasonal period above 24 is fitted without a season: the state
    grows with m, and with it the fit time (13 s at m = 52 on 2000 steps, 2 to 7 s at m = 24).
    """

    label = "AutoARIMA"
    max_season = 24

    def model(self):
        from statsforecast.models import AutoARIMA  # here: 0.5 s of imports only a backtest needs

        return AutoARIMA(season_length=self.m, approximation=None)

    def fit(self, series):
        with warnings.catch_warnings():
            # candidates of the search whose optimizer stops early warn; they lose on AICc
            warnings.filterwarnings("ignore", "possible convergence problem", UserWarning)
            return super().fit(series)


class AutoTheta(StatisticalBaseline):
    """The Theta method, its variant chosen by in-sample MSE (statsforecast `AutoTheta`).

    When the autocorrelation at lag m is significant (90%), the series is deseasonalized by a
    classical decomposition (multiplicative for positive data) and the seasonal indices are
    put back on the forecast. The standard Theta method (STM, the M3 competition's winner)
    is then simple exponential smoothing plus half the slope b_0 of a linear trend:

        y_hat_{T+h} = l_T + b_0 / 2 * (h - 1 + 1 / alpha - (1 - alpha)^T / alpha)

    and AutoTheta picks among it, the optimized Theta (theta fitted, not 2), and their
    dynamic forms (the trend updated with each step). Any seasonal period works.
    References: Assimakopoulos and Nikolopoulos (2000); Fiorucci et al. (2016).
    """

    label = "AutoTheta"

    def model(self):
        from statsforecast.models import AutoTheta  # here: 0.5 s of imports only a backtest needs

        return AutoTheta(season_length=self.m)


def interval_levels(quantiles):
    """`(levels, keys)`: statsforecast's `level` for `quantiles`, and the result key of each.

    Example:

    >>> interval_levels([0.1, 0.5, 0.9])
    ([80], ['lo-80', 'mean', 'hi-80'])
    """
    levels, keys = set(), []
    for q in quantiles:
        if q == 0.5:
            keys.append("mean")
            continue
        level = round(100 * abs(1 - 2 * q), 6)
        level = int(level) if level.is_integer() else level
        levels.add(level)
        keys.append(f"{'lo' if q < 0.5 else 'hi'}-{level}")
    return sorted(levels), keys


def _check_finite(argument, values):
    if not np.isfinite(values).all():
        raise ValueError(f"Argument `{argument}` holds NaN or infinity; the statistical models take none.")
