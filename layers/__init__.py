"""rnnkit.layers: the lectures' recurrent cells as Keras 3 layers.

Every cell splits a step at the kernel/recurrent seam (`RecurrentCell`), works inside
`keras.layers.RNN`, and inside `Recurrent`, which projects the whole input sequence in
one matrix product before the time loop and runs the loop as one compiled op
(`fused`) for the cells whose math the op holds.
"""

from . import decoding, diagnostics, fused, initializers, reservoir
from .attention import AttentionCell
from .deep import DeepRecurrent
from .echo_state_cell import EchoStateCell
from .gru_cell import GRUCell
from .initializers import ScaledIdentity, SpectralRadius
from .leaky_rnn_cell import LeakyRNNCell
from .lstm_cell import LSTMCell
from .recurrent import Recurrent
from .recurrent_cell import RecurrentCell
from .recursive import Recursive
from .registry import CELLS, clone_cell, get_cell
from .simple_rnn_cell import SimpleRNNCell

__all__ = [
    "AttentionCell",
    "CELLS",
    "DeepRecurrent",
    "EchoStateCell",
    "GRUCell",
    "LSTMCell",
    "LeakyRNNCell",
    "Recurrent",
    "RecurrentCell",
    "Recursive",
    "ScaledIdentity",
    "SimpleRNNCell",
    "SpectralRadius",
    "decoding",
    "diagnostics",
    "fused",
    "get_cell",
    "clone_cell",
    "initializers",
    "reservoir",
]
