"""Validation of raw pipeline inputs: a clear `ValueError` naming the argument, before training."""

import io
import numbers
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "check_bool",
    "check_bptt_steps",
    "check_cell",
    "check_choice",
    "check_dropout",
    "check_int",
    "check_non_negative",
    "check_positive",
    "check_positive_int",
    "check_quantiles",
    "check_seed",
    "check_split_fractions",
    "check_texts",
    "preview",
    "read_csv",
    "read_utf8",
]


def check_texts(texts, argument="texts"):
    """A non-empty sequence of strings as a list; rejects None, NaN and non-strings."""
    if isinstance(texts, str):
        raise ValueError(
            f"Argument `{argument}` must be a sequence of strings, not one string: wrap it in a list."
        )
    if isinstance(texts, (pd.Series, pd.Index, np.ndarray)):
        texts = list(texts)
    if not isinstance(texts, (list, tuple)):
        raise ValueError(
            f"Argument `{argument}` must be a list, tuple, NumPy array or pandas Series of strings. "
            f"Received: {type(texts).__name__}"
        )
    if len(texts) == 0:
        raise ValueError(f"Argument `{argument}` is empty: at least one text is needed.")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            missing = text is None or (isinstance(text, float) and np.isnan(text))
            kind = "missing (None/NaN)" if missing else type(text).__name__
            raise ValueError(f"Argument `{argument}`: item {i} is {kind}; every item must be a string.")
    return list(texts)


def check_int(name, value, minimum=0):
    """An integer (a NumPy one too, not a bool) >= `minimum`, such as a count or a size."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(
            f"Argument `{name}` must be an integer >= {minimum}. Received: {name}={preview(value)}"
        )
    return int(value)


def check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"Argument `{name}` must be a positive integer. Received: {name}={preview(value)}")
    return int(value)


def check_quantiles(quantiles):
    """None, or increasing levels in (0, 1) such as [0.1, 0.5, 0.9], as a list of floats."""
    if quantiles is None:
        return None
    try:
        levels = [float(q) for q in quantiles]
    except (TypeError, ValueError):
        raise ValueError(
            f"Argument `quantiles` must be None or a list of levels in (0, 1). Received: {preview(quantiles)}"
        ) from None
    if not levels or any(not 0 < q < 1 for q in levels) or levels != sorted(set(levels)):
        raise ValueError(
            "Argument `quantiles` must be None or increasing levels in (0, 1). "
            f"Received: {preview(quantiles)}"
        )
    return levels


def check_positive(name, value):
    """A finite float > 0, such as a learning rate."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < float("inf"):
        raise ValueError(f"Argument `{name}` must be a finite float > 0. Received: {name}={preview(value)}")
    return float(value)


def check_bool(name, value):
    """True or False (a NumPy bool too); a string such as "no" would otherwise count as True."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"Argument `{name}` must be True or False. Received: {name}={preview(value)}")
    return bool(value)


def check_seed(seed):
    """An integer in [0, 2**32 - 1], as `keras.utils.set_random_seed` takes it."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed < 2**32:
        raise ValueError(
            f"Argument `seed` must be an integer in [0, 2**32 - 1]. Received: seed={preview(seed)}"
        )
    return int(seed)


def check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(
            f"Argument `{name}` must be one of {list(choices)}. Received: {name}={preview(value)}"
        )
    return value


def check_cell(cell, units):
    """A cell name from `rnnkit.layers.CELLS` (any case) or a cell instance, as given."""
    from rnnkit.layers import CELLS, get_cell

    if isinstance(cell, str):
        check_choice("cell", cell.lower(), sorted(CELLS))
    else:
        get_cell(cell, units)  # any object honouring the Keras cell contract, else ValueError
    return cell


def check_bptt_steps(bptt_steps, steps, steps_name):
    """None (full BPTT) or a chunk length in `[1, steps]` for `Recurrent(bptt_steps=)`."""
    if bptt_steps is None:
        return None
    if (
        isinstance(bptt_steps, bool)
        or not isinstance(bptt_steps, numbers.Integral)
        or not 0 < bptt_steps <= steps
    ):
        raise ValueError(
            f"Argument `bptt_steps` must be None (full BPTT) or an integer in [1, {steps_name}={steps}]. "
            f"Received: bptt_steps={preview(bptt_steps)}"
        )
    return int(bptt_steps)


def check_dropout(name, value):
    """A float in [0, 1): a fraction of units dropped."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ValueError(f"Argument `{name}` must be a float in [0, 1). Received: {name}={preview(value)}")
    return float(value)


def check_non_negative(name, value):
    """A float >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
        raise ValueError(f"Argument `{name}` must be a float >= 0. Received: {name}={preview(value)}")
    return float(value)


def check_split_fractions(val_fraction, test_fraction):
    """Validation and test shares of a data set: each in [0, 1), together below 1."""
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
            raise ValueError(f"Argument `{name}` must be in [0, 1). Received: {name}={preview(value)}")
    if val_fraction + test_fraction >= 1:
        raise ValueError(
            "Arguments `val_fraction` and `test_fraction` must sum to less than 1. "
            f"Received: val_fraction={val_fraction!r}, test_fraction={test_fraction!r}"
        )


def preview(value, limit=200):
    """`repr(value)` cut to `limit` characters, for quoting user data in a one-line message."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def read_csv(path, rows, **options):
    """`pandas.read_csv(path, **options)` of a UTF-8 file with a header (the argument `data`); a
    ValueError names the file if it is missing, not UTF-8, empty or malformed. `rows` says what
    a row holds, for the message of an empty file."""
    path, text = read_utf8(path, "data")
    if not text.strip():
        raise ValueError(
            f"Argument `data`: {str(path)!r} is empty (expected a header and one row per {rows})."
        )
    try:
        return pd.read_csv(io.StringIO(text), **options)
    except pd.errors.ParserError as error:
        raise ValueError(
            f"Argument `data`: {str(path)!r} does not parse as a table ({str(error).strip()})."
        ) from None


def read_utf8(path, argument):
    """`(path, text)` of a UTF-8 file, or a ValueError naming `argument`, the file and the line."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"Argument `{argument}`: no such file {str(path)!r}.")
    raw = path.read_bytes()
    try:
        return path, raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise ValueError(
            f"Argument `{argument}`: {str(path)!r} is not UTF-8 text (line {line}, byte {error.start})."
        ) from None
