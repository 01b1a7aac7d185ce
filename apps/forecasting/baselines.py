"""The forecasting baselines every backtest scores beside the RNN.

Each is a forecaster in `backtest`'s sense: `fit(series)`, then `forecast(history, horizon)`
for its `columns` (default: every column), DataFrames or arrays `(time, columns)` in,
`(horizon, columns)` out.
"""

import numpy as np
from sklearn.linear_model import Ridge

__all__ = ["LastValue", "LinearAutoregression", "SeasonalNaive"]


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
        windows = np.lib.stride_tricks.sliding_window_view(series, window, axis=0)  # (N, columns, window)
        windows = np.moveaxis(windows, -1, 1)  # (N, window, columns)
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
