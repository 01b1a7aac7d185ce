"""Series validation and filling, forecast metrics and baselines (the forecasting foundation)."""

import numpy as np
import pandas as pd
import pytest

from rnnkit.apps.forecasting import (
    LastValue,
    LinearAutoregression,
    SeasonalNaive,
    metrics,
    prepare_series,
    seasonal_period,
)


def daily(values, start="2024-01-01", drop=()):
    index = pd.date_range(start, periods=len(values), freq="D")
    frame = pd.DataFrame({"y": values, "x": np.arange(len(values), dtype=float)}, index=index)
    return frame.drop(index[list(drop)])


@pytest.mark.parametrize("freq", ["h", "D", "MS", "15min", "W-SUN"])
def test_frequency_is_inferred(freq):
    frame = pd.DataFrame({"y": np.arange(10.0)}, index=pd.date_range("2024-01-07", periods=10, freq=freq))
    series, inferred = prepare_series(frame, ["y"])
    assert pd.tseries.frequencies.to_offset(inferred) == pd.tseries.frequencies.to_offset(freq)
    pd.testing.assert_frame_equal(series, frame, check_freq=False)


def test_time_column_becomes_the_index():
    frame = daily([1.0, 2.0, 3.0]).reset_index(names="when")
    series, freq = prepare_series(frame, ["y", "x"], time_col="when")
    assert freq == "D" and list(series.columns) == ["y", "x"] and isinstance(series.index, pd.DatetimeIndex)


@pytest.mark.parametrize(
    "fill, expected",
    [
        ("interpolate", [1.0, 2.0, 3.0, 4.0, 5.0]),
        ("ffill", [1.0, 2.0, 2.0, 2.0, 5.0]),
        ("zero", [1.0, 2.0, 0.0, 0.0, 5.0]),
    ],
)
def test_fill_policies_cover_missing_rows_and_nan(fill, expected):
    frame = daily([1.0, 2.0, np.nan, 4.0, 5.0], drop=[3])  # a NaN and a missing day
    series, _ = prepare_series(frame, ["y"], fill=fill)
    assert series["y"].tolist() == expected
    assert len(series) == 5


def test_without_fill_the_first_bad_timestamp_is_named():
    frame = daily([1.0, 2.0, 3.0, 4.0, 5.0], drop=[2])
    with pytest.raises(ValueError, match="2024-01-03.*fill="):
        prepare_series(frame, ["y"])


@pytest.mark.parametrize(
    "make, kwargs, match",
    [
        (lambda: daily([1.0, 2.0, 3.0]).iloc[[0, 2, 1]], {}, "not sorted.*2024-01-02"),
        (lambda: daily([1.0, 2.0, 3.0]).iloc[[0, 1, 1, 2]], {}, "2024-01-02.*twice"),
        (lambda: daily([1.0, 2.0]).reset_index(drop=True), {}, "DatetimeIndex"),
        (lambda: daily([1.0, 2.0]).assign(y=["a", "b"]), {}, "'y' is not numeric"),
        (lambda: daily([1.0, 2.0]), {"columns": ["z"]}, r"no column\(s\) \['z'\]"),
        (lambda: daily([1.0, 2.0]).reset_index(drop=True), {"time_col": "when"}, "`time_col`"),
        (lambda: daily([1.0, 2.0]).iloc[:0], {}, "empty"),
        (lambda: [1, 2, 3], {}, "DataFrame"),
        (lambda: daily([1.0, 2.0]), {"fill": "mean"}, "`fill`"),
    ],
)
def test_bad_series_are_rejected(make, kwargs, match):
    kwargs = {"columns": ["y"], **kwargs}
    with pytest.raises(ValueError, match=match):
        prepare_series(make(), **kwargs)


@pytest.mark.parametrize(
    "freq, m", [("h", 24), ("D", 7), ("W", 52), ("MS", 12), ("QS", 4), ("30min", 2), ("6h", 4)]
)
def test_seasonal_period(freq, m):
    assert seasonal_period(freq) == m


def test_metrics_against_hand_computed_values():
    y, y_hat = np.array([1.0, 2.0, 4.0]), np.array([2.0, 2.0, 2.0])
    assert metrics.mae(y, y_hat) == pytest.approx(1.0)
    assert metrics.rmse(y, y_hat) == pytest.approx(np.sqrt(5 / 3))
    assert metrics.mase(y, y_hat, insample=[0.0, 2.0, 4.0, 6.0], m=1) == pytest.approx(0.5)
    assert metrics.smape([1.0], [3.0]) == pytest.approx(100.0)
    # pinball at q = 0.9: under-forecast by 1 costs 0.9, over-forecast by 1 costs 0.1
    assert metrics.pinball([1.0, 1.0], np.array([[0.0], [2.0]]), [0.9]) == pytest.approx(0.5)
    assert metrics.coverage([1.0, 5.0], [0.0, 0.0], [2.0, 2.0]) == 0.5


def test_baselines_on_a_seasonal_series():
    t = np.arange(120, dtype=float)
    series = np.stack([np.sin(2 * np.pi * t / 12), 0.5 * t], axis=1)  # seasonal and trend targets
    history, future = series[:100], series[100:106]
    np.testing.assert_allclose(LastValue().fit(history).forecast(history, 6), np.repeat(history[-1:], 6, 0))
    naive = SeasonalNaive(12).fit(history).forecast(history, 6)
    np.testing.assert_allclose(naive[:, 0], future[:, 0], atol=1e-9)  # a pure season repeats exactly
    linear = LinearAutoregression(lags=24, horizon=6).fit(history).forecast(history, 6)
    np.testing.assert_allclose(linear, future, atol=1e-4)  # sine and line are linear recurrences
    with pytest.raises(ValueError, match="`horizon`"):
        LinearAutoregression(lags=24, horizon=6).fit(history).forecast(history, 3)
