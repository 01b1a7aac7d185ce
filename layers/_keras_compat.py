"""The only place where rnnkit reaches into Keras's and TensorFlow's private modules.

Pieces of Keras 3.15's and TensorFlow 2.21's machinery that have no public name:

- `DropoutRNNCell`: `keras.layers.RNN` draws a cell's dropout masks once per call (so the
  same mask serves every step of a sequence) and clears them afterwards (so the next batch
  gets a fresh one), but only for cells that subclass this mixin.
- `rnn`: the backend's time loop (masking, `go_backwards`, `unroll`, `zero_output_for_mask`)
  that `keras.layers.RNN.inner_loop` runs; `Recurrent` runs it over a pre-projected sequence.
- `backend_lstm`, `backend_gru`: the backend functions `keras.layers.LSTM`/`GRU` call for
  cuDNN, looked up at call time as those layers do.
- `in_save_context`: whether `tf.saved_model.save` is tracing. `model.export` and
  `keras.export.ExportArchive` trace their endpoints once outside it (to list their
  variables), but `tf.saved_model.save` traces them again inside it, and that trace is what
  the SavedModel holds: so `fused.kernel_for`, which honours the save context, keeps every
  export portable with no hook into Keras's export machinery.
- `in_xla_context`: whether an XLA compilation (`jit_compile`) is tracing.
- `build_training_state`: the model's `_symbolic_build`, which creates the optimizer's and
  the compiled metrics' variables from symbolic inputs.

`tests/layers/test_keras_compat.py` pins the behaviour rnnkit relies on, so a Keras or
TensorFlow upgrade that moves any of it fails there, in one place.
"""

import tensorflow as tf
from keras.src import backend as _backend
from keras.src.backend import rnn
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell
from tensorflow.python.ops import control_flow_util
from tensorflow.python.saved_model import save_context

__all__ = [
    "DropoutRNNCell",
    "backend_gru",
    "backend_lstm",
    "build_training_state",
    "in_save_context",
    "in_xla_context",
    "rnn",
]


def backend_lstm(*args, **kwargs):
    """`keras.src.backend.lstm`: cuDNN's LSTM, or `NotImplementedError` where it cannot run."""
    return _backend.lstm(*args, **kwargs)


def backend_gru(*args, **kwargs):
    """`keras.src.backend.gru`: cuDNN's GRU, or `NotImplementedError` where it cannot run."""
    return _backend.gru(*args, **kwargs)


def in_save_context():
    return save_context.in_save_context()


def in_xla_context():
    return control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph())


def build_training_state(model, element_spec):
    """Creates a compiled model's missing weights, optimizer slots and metric variables from
    `element_spec` (a dataset's `(x, y[, sample_weight])` specs), before `model.fit`.

    With no distribution strategy, Keras 3.15 creates them inside the first trace of its
    train function, and a `tf.function` that creates variables is traced a second time
    without them: every `fit` would trace its train step twice. Under a strategy Keras
    builds them first itself, with this same method.
    """
    model._symbolic_build(data_batch=element_spec)
