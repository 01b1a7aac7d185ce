"""The forecasting baselines every backtest scores beside the RNN.

Each baseline is fitted on a training series and forecasts `horizon` steps from a history
window, for one or more target columns: arrays `(time, targets)` in, `(horizon, targets)` out.
"""

import numpy as np
from sklearn.linear_model import Ridge

__all__ = ["LastValue", "LinearAutoregression", "SeasonalNaive"]


class LastValue:
    """The last observed value, repeated: `y_hat_{T+h} = y_T`."""

    name = "last value"

    def fit(self, series):
        return self

    def forecast(self, history, horizon):
        history = np.asarray(history, dtype="float64")
        return np.repeat(history[-1:], horizon, axis=0)


class SeasonalNaive:
    """The value one season earlier: `y_hat_{T+h} = y_{T+h-m k}`, `k` the smallest that reaches into the past.

    Example:

    >>> SeasonalNaive(m=3).forecast(np.array([[1.0], [2.0], [3.0], [4.0]]), horizon=4)[:, 0].tolist()
    [2.0, 3.0, 4.0, 2.0]
    """

    name = "seasonal naive"

    def __init__(self, m):
        self.m = int(m)

    def fit(self, series):
        return self

    def forecast(self, history, horizon):
        history = np.asarray(history, dtype="float64")
        if len(history) < self.m:
            raise ValueError(f"Argument `history` needs at least m={self.m} steps; got {len(history)}.")
        season = history[-self.m :]
        return np.stack([season[h % self.m] for h in range(horizon)])


class LinearAutoregression:
    """A linear model of the next `horizon` steps on the last `lags` steps (scikit-learn Ridge).

    Direct multi-step: one linear map from the flattened lag window `(lags * targets,)` to all
    `horizon * targets` outputs, fitted by least squares (a tiny ridge penalty for stability).
    """

    name = "linear autoregression"

    def __init__(self, lags, horizon, alpha=1e-6):
        self.lags, self.horizon = int(lags), int(horizon)
        self.model = Ridge(alpha=alpha)

    def fit(self, series):
        series = np.asarray(series, dtype="float64")
        window = self.lags + self.horizon
        if len(series) < window:
            raise ValueError(
                f"Argument `series` needs at least lags + horizon = {window} steps; got {len(series)}."
            )
        windows = np.lib.stride_tricks.sliding_window_view(series, window, axis=0)  # (N, targets, window)
        windows = np.moveaxis(windows, -1, 1)  # (N, window, targets)
        x = windows[:, : self.lags].reshape(len(windows), -1)
        y = windows[:, self.lags :].reshape(len(windows), -1)
        self.model.fit(x, y)
        self.targets = series.shape[1]
        return self

    def forecast(self, history, horizon):
        if horizon != self.horizon:
            raise ValueError(
                f"Argument `horizon`: this model was fitted for {self.horizon} steps, not {horizon}."
            )
        x = np.asarray(history, dtype="float64")[-self.lags :].reshape(1, -1)
        return self.model.predict(x).reshape(self.horizon, self.targets)
