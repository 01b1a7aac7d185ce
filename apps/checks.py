"""Validation of raw pipeline inputs: a clear `ValueError` naming the argument, before training."""

import numbers

import numpy as np
import pandas as pd

__all__ = ["check_cell", "check_choice", "check_positive_int", "check_texts"]


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
            kind = (
                "missing (None/NaN)"
                if text is None or (isinstance(text, float) and np.isnan(text))
                else type(text).__name__
            )
            raise ValueError(f"Argument `{argument}`: item {i} is {kind}; every item must be a string.")
    return list(texts)


def check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"Argument `{name}` must be a positive integer. Received: {name}={value!r}")
    return int(value)


def check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"Argument `{name}` must be one of {list(choices)}. Received: {name}={value!r}")
    return value


def check_cell(cell, units):
    """A cell name from `rnnkit.layers.CELLS` (any case) or a cell instance, as given."""
    from rnnkit.layers import CELLS, get_cell

    if isinstance(cell, str):
        check_choice("cell", cell.lower(), sorted(CELLS))
    else:
        get_cell(cell, units)  # any object honouring the Keras cell contract, else ValueError
    return cell
