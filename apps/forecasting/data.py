"""The forecasting pipeline's embedded default series, and the CSV reader."""

import numpy as np
import pandas as pd

from ..checks import read_csv

__all__ = ["generate_mackey_glass", "generate_series", "read_series"]


def generate_series(n=2400, freq="h", seed=0):
    """A seeded hourly `load` series with a `temperature` covariate that drives it.

        load_t = 50 + 0.004 t + 8 sin(2 pi t / 24) + 4 sin(2 pi t / 168)
                 + 0.6 (temperature_{t-3} - 15) + e_t,      e_t = 0.7 e_{t-1} + N(0, 1)

    Daily and weekly seasonality, a slow trend, autocorrelated noise, and a covariate
    whose effect arrives three steps later: what a forecaster must find in real demand data.

    Example:

    >>> frame = generate_series(48)
    >>> list(frame.columns), frame.index.freqstr, len(frame)
    (['load', 'temperature'], 'h', 48)
    """
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    # temperature from three steps before the first timestamp, so that its lag exists
    walk = np.cumsum(rng.normal(0, 0.3, n + 3)) * 0.2
    temperature = 15 + 6 * np.sin(2 * np.pi * (np.arange(-3, n) - 6) / 24) + walk  # (n + 3,)
    noise = np.zeros(n)
    for i in range(1, n):
        noise[i] = 0.7 * noise[i - 1] + rng.normal()
    seasons = 8 * np.sin(2 * np.pi * t / 24) + 4 * np.sin(2 * np.pi * t / 168)
    load = 50 + 0.004 * t + seasons + 0.6 * (temperature[:n] - 15) + noise  # temperature[:n] is t - 3
    index = pd.date_range("2024-01-01", periods=n, freq=freq)
    return pd.DataFrame({"load": load, "temperature": temperature[3:]}, index=index)


def generate_mackey_glass(n=3000, tau=17, beta=0.2, gamma=0.1, power=10, step=0.1, seed=0):
    """The Mackey-Glass delay equation, sampled once per time unit: a chaotic benchmark series.

        dx/dt = beta x(t - tau) / (1 + x(t - tau)^power) - gamma x(t)

    integrated with Euler steps of `step` from a seeded random history; tau = 17 gives
    the classic mildly chaotic regime. Returns a float array of shape `(n,)`.

    Example:

    >>> x = generate_mackey_glass(500)
    >>> x.shape, bool(0.2 < x.min() < x.max() < 1.5)
    ((500,), True)
    """
    per_unit = int(round(1 / step))
    lag = int(round(tau / step))
    warmup = 1000 * per_unit  # let the start's transient die out
    total = warmup + n * per_unit
    x = np.empty(lag + total)
    x[: lag + 1] = 1.2 + 0.1 * np.random.default_rng(seed).uniform(-1, 1, lag + 1)  # the history
    for i in range(lag, lag + total - 1):
        delayed = x[i - lag]
        x[i + 1] = x[i] + step * (beta * delayed / (1 + delayed**power) - gamma * x[i])
    return x[lag + warmup :: per_unit][:n]


def read_series(path):
    """A UTF-8 CSV file as a DataFrame (pandas); the time column is named later, by `time_col`."""
    return read_csv(path, "step")
