"""Time series as the forecasting pipeline takes them: validated, regular, gap-free.

A series is a pandas DataFrame with a `DatetimeIndex` (or a named time column). Its
frequency is inferred; missing timestamps and NaN are filled by an explicit policy, or
rejected with an error that names the first bad timestamp.
"""

import contextlib

import numpy as np
import pandas as pd
from pandas.api.types import is_numeric_dtype

from ..checks import check_choice, preview

__all__ = ["FILL", "prepare_series", "seasonal_period"]

FILL = ("interpolate", "ffill", "zero")

# Seasonal period m by the base unit of a pandas frequency (MASE, seasonal naive).
_SEASONS = {
    "min": 60,
    "h": 24,
    "D": 7,
    "B": 5,
    "W": 52,
    "M": 12,
    "MS": 12,
    "ME": 12,
    "Q": 4,
    "QS": 4,
    "QE": 4,
}


def prepare_series(frame, columns, time_col=None, fill=None, argument="data"):
    """`(series, freq)`: `columns` of `frame` on a regular `DatetimeIndex`, gaps filled.

    Args:
        frame: a DataFrame with a `DatetimeIndex`, or with a time column `time_col`.
        columns: the numeric columns to keep, in order.
        time_col: the name of the time column, if the index is not the time (a frame that
            already has a DatetimeIndex and no such column is taken as it is).
        fill: `None` (reject gaps and NaN), `"interpolate"` (linear in time),
            `"ffill"` (carry the last value forward) or `"zero"`.
        argument: the argument name used in error messages.

    Example:

    >>> frame = pd.DataFrame({"t": ["2024-01-01", "2024-01-02", "2024-01-04"], "y": [1.0, 2.0, 4.0]})
    >>> series, freq = prepare_series(frame, ["y"], time_col="t", fill="interpolate")
    >>> freq, series["y"].tolist()
    ('D', [1.0, 2.0, 3.0, 4.0])
    """
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(
            f"Argument `{argument}` must be a pandas DataFrame. Received: {type(frame).__name__}"
        )
    if len(frame) == 0:
        raise ValueError(f"Argument `{argument}` is empty.")
    check_choice("fill", fill, [None, *FILL])
    frame = _with_time_index(frame, time_col, argument)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"Argument `{argument}` has no column(s) {preview(missing)}; "
            f"its columns are {preview(list(frame.columns))}."
        )
    for column in columns:
        if not is_numeric_dtype(frame[column]):
            raise ValueError(
                f"Argument `{argument}`: column {column!r} is not numeric ({frame[column].dtype})."
            )
    frame = frame[list(columns)].astype("float64")
    infinite = np.isinf(frame.to_numpy()).any(axis=1)
    if infinite.any():  # no fill policy makes sense of them, and they would turn every forecast NaN
        raise ValueError(
            f"Argument `{argument}` holds an infinite value, first at {frame.index[infinite.argmax()]}."
        )

    freq = _infer_freq(frame.index) if len(frame) >= 3 else None
    if freq is None:  # gaps: the most common step is the frequency
        steps = frame.index.to_series().diff().dropna()
        if steps.empty:
            raise ValueError(f"Argument `{argument}` needs at least two timestamps to infer a frequency.")
        step, start = steps.mode().iloc[0], frame.index[0]
        freq = _infer_freq(pd.DatetimeIndex([start, start + step, start + 2 * step]))
    regular = frame.reindex(pd.date_range(frame.index[0], frame.index[-1], freq=freq))
    if len(regular.dropna()) < len(frame.dropna()):  # timestamps off the grid would be lost
        off_grid = frame.index.difference(regular.index)
        raise ValueError(
            f"Argument `{argument}`: timestamp {off_grid[0]} is off the inferred frequency {freq!r}."
        )
    bad = regular.isna().any(axis=1)
    if bad.any():
        if fill is None:
            first = regular.index[bad.argmax()]
            raise ValueError(
                f"Argument `{argument}` has missing values or timestamps, first at {first}; "
                f"pass fill='interpolate', 'ffill' or 'zero' to fill them."
            )
        if fill == "interpolate":
            regular = regular.interpolate(method="time", limit_direction="both")
        elif fill == "ffill":
            regular = regular.ffill().bfill()
        else:
            regular = regular.fillna(0.0)
    regular.index.freq = freq
    return regular, freq


def _infer_freq(index):
    """`pd.infer_freq` as a frequency string, or None.

    pandas 3 returns an offset under the option `future.infer_freq_returns_offset` (its
    future default); pandas 2 has no such option and returns the string.
    """
    option = "future.infer_freq_returns_offset"
    try:
        pd.get_option(option)
        context = pd.option_context(option, True)
    except pd.errors.OptionError:  # pandas 2
        context = contextlib.nullcontext()
    with context:
        freq = pd.infer_freq(index)
    return freq if freq is None or isinstance(freq, str) else freq.freqstr


def _with_time_index(frame, time_col, argument):
    if time_col is not None and not (
        time_col not in frame.columns and isinstance(frame.index, pd.DatetimeIndex)
    ):
        if time_col not in frame.columns:
            raise ValueError(
                f"Argument `time_col`: no column {time_col!r}; "
                f"the columns are {preview(list(frame.columns))}."
            )
        try:
            index = pd.DatetimeIndex(pd.to_datetime(frame[time_col]))
        except (ValueError, TypeError) as error:
            raise ValueError(
                f"Argument `time_col`: column {time_col!r} does not parse as dates ({error})."
            ) from None
        frame = frame.drop(columns=[time_col]).set_axis(index, axis=0)
    elif not isinstance(frame.index, pd.DatetimeIndex):
        raise ValueError(
            f"Argument `{argument}` needs a DatetimeIndex or a time column named by `time_col`. "
            f"Received an index of type {type(frame.index).__name__}."
        )
    duplicated = frame.index.duplicated()
    if duplicated.any():
        raise ValueError(
            f"Argument `{argument}`: timestamp {frame.index[duplicated.argmax()]} appears twice."
        )
    backwards = frame.index[1:] < frame.index[:-1]
    if backwards.any():
        raise ValueError(
            f"Argument `{argument}`: timestamps are not sorted; {frame.index[backwards.argmax() + 1]} "
            "comes after a later one. Sort the data by time first."
        )
    return frame


def seasonal_period(freq):
    """The seasonal period `m` of a pandas frequency: 24 for hourly, 7 for daily, 12 for monthly.

    Example:

    >>> seasonal_period("h"), seasonal_period("D"), seasonal_period("MS"), seasonal_period("15min")
    (24, 7, 12, 4)
    """
    offset = pd.tseries.frequencies.to_offset(freq)
    base = offset.rule_code.split("-")[0]  # "W-SUN" -> "W", "QS-JAN" -> "QS"
    if base == "min" and 60 % offset.n == 0:
        return 60 // offset.n if offset.n > 1 else 60
    if base == "h" and offset.n > 1 and 24 % offset.n == 0:
        return 24 // offset.n
    return _SEASONS.get(base, 1)
