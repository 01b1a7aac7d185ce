"""`get_cell`: a cell by name, the way pipelines take `cell=`."""

from .echo_state_cell import EchoStateCell
from .gru_cell import GRUCell
from .leaky_rnn_cell import LeakyRNNCell
from .lstm_cell import LSTMCell
from .simple_rnn_cell import SimpleRNNCell

__all__ = ["CELLS", "clone_cell", "get_cell"]

CELLS = {
    "rnn": SimpleRNNCell,
    "lstm": LSTMCell,
    "gru": GRUCell,
    "leaky": LeakyRNNCell,
    "esn": EchoStateCell,
}


def get_cell(name, units, **kwargs):
    """A new cell of the kind `name` with `units` units.

    Args:
        name: one of `"rnn"` (Elman), `"lstm"`, `"gru"`, `"leaky"`, `"esn"`
            (case-insensitive); or a cell instance (any object with `call` and
            `state_size`, the Keras cell contract), which is returned as it is.
        units: the state size.
        **kwargs: the cell's other constructor arguments.

    Example:

    >>> cell = get_cell("gru", 16, recurrent_initializer="orthogonal")
    >>> type(cell).__name__, cell.units
    ('GRUCell', 16)
    """
    if not isinstance(name, str):
        if callable(getattr(name, "call", None)) and hasattr(name, "state_size"):
            return name
        raise ValueError(
            f"Argument `cell` must be a cell name, one of {sorted(CELLS)}, or a cell instance "
            f"with `call` and `state_size`. Received: cell={name!r}"
        )
    key = name.lower()
    if key not in CELLS:
        raise ValueError(f"Argument `cell`: unknown cell name {name!r}; expected one of {sorted(CELLS)}.")
    return CELLS[key](units, **kwargs)


def clone_cell(cell):
    """A fresh, unbuilt cell with `cell`'s configuration (one per layer or direction).

    Example:

    >>> twin = clone_cell(get_cell("lstm", 8, dropout=0.1))
    >>> type(twin).__name__, twin.units, twin.dropout
    ('LSTMCell', 8, 0.1)
    """
    return type(cell).from_config(cell.get_config())
