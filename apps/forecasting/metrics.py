"""Forecast errors: MAE, RMSE, MASE, sMAPE, and for quantiles the pinball loss and coverage.

Each takes arrays of the same shape, `(..., horizon)` or any other, and returns a float.
MAE, RMSE and the pinball loss come from scikit-learn; MASE and sMAPE, which it lacks,
are written here from their definitions (Hyndman and Koehler, 2006; Makridakis, 1993).
"""

import numpy as np
from sklearn.metrics import mean_absolute_error, mean_pinball_loss, root_mean_squared_error

__all__ = ["coverage", "mae", "mase", "pinball", "rmse", "smape"]


def mae(y_true, y_pred):
    return float(mean_absolute_error(np.ravel(y_true), np.ravel(y_pred)))


def rmse(y_true, y_pred):
    return float(root_mean_squared_error(np.ravel(y_true), np.ravel(y_pred)))


def mase(y_true, y_pred, insample, m=1):
    """MAE scaled by the in-sample MAE of the seasonal naive forecast with period `m`.

        MASE = mean |y - y_hat| / mean_t |x_t - x_{t-m}|     (x: the training series)

    Below 1: better than the seasonal naive forecast was in sample.

    Example:

    >>> mase([3.0, 4.0], [3.5, 4.5], insample=[1.0, 2.0, 3.0], m=1)
    0.5
    """
    insample = np.asarray(insample, dtype="float64")
    if len(insample) <= m:
        raise ValueError(f"Argument `insample` needs more than m={m} values for MASE; got {len(insample)}.")
    scale = np.mean(np.abs(insample[m:] - insample[:-m]))
    return float(mae(y_true, y_pred) / scale) if scale > 0 else float("nan")


def smape(y_true, y_pred):
    """Symmetric MAPE in percent: `100 * mean(2 |y - y_hat| / (|y| + |y_hat|))`, 0/0 counted as 0.

    Example:

    >>> smape([100.0, 0.0], [110.0, 0.0])
    4.761904761904762
    """
    y_true, y_pred = np.ravel(y_true).astype("float64"), np.ravel(y_pred).astype("float64")
    denominator = np.abs(y_true) + np.abs(y_pred)
    ratio = np.divide(
        2.0 * np.abs(y_true - y_pred), denominator, out=np.zeros_like(denominator), where=denominator > 0
    )
    return float(100.0 * ratio.mean())


def pinball(y_true, quantile_preds, quantiles):
    """Mean pinball loss over `quantiles`; `quantile_preds[..., k]` forecasts quantile `quantiles[k]`."""
    y_true, quantile_preds = np.asarray(y_true), np.asarray(quantile_preds)
    losses = [
        mean_pinball_loss(np.ravel(y_true), np.ravel(quantile_preds[..., k]), alpha=q)
        for k, q in enumerate(quantiles)
    ]
    return float(np.mean(losses))


def coverage(y_true, lower, upper):
    """The share of `y_true` inside `[lower, upper]`: 0.8 is right for a 10%-90% interval.

    Example:

    >>> coverage([1.0, 2.0, 3.0, 4.0], lower=[0.0, 2.5, 2.0, 3.0], upper=[2.0, 3.0, 4.0, 3.5])
    0.5
    """
    y_true = np.asarray(y_true)
    return float(np.mean((y_true >= np.asarray(lower)) & (y_true <= np.asarray(upper))))
