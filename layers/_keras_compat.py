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
- `distributed_keras`: two overrides that let Keras's own `fit` and `evaluate` run under
  `MultiWorkerMirroredStrategy` (keras-team/keras#20585): Keras's `_maybe_symbolic_build` and
  the TensorFlow trainer's `reduce_per_replica`.

`tests/layers/test_keras_compat.py` pins the behaviour rnnkit relies on, so a Keras or
TensorFlow upgrade that moves any of it fails there, in one place.
"""

import contextlib

import tensorflow as tf
from keras.src import backend as _backend
from keras.src import tree
from keras.src.backend import rnn
from keras.src.backend.tensorflow import trainer as _trainer
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell
from tensorflow.python.ops import control_flow_util
from tensorflow.python.saved_model import save_context

__all__ = [
    "DropoutRNNCell",
    "backend_gru",
    "backend_lstm",
    "build_training_state",
    "distributed_keras",
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


@contextlib.contextmanager
def distributed_keras(model):
    """Keras 3.15's `model.fit` and `model.evaluate` under a `tf.distribute` strategy, with
    every worker of a `MultiWorkerMirroredStrategy` (keras-team/keras#20585) reducing its logs.

    Two pieces of `keras/src/backend/tensorflow/trainer.py` fail there, and are overridden
    for the duration of the block:

    - `_maybe_symbolic_build` draws the first batch to build the model and reduces it with
      `strategy.reduce("MEAN", batch)`, which a multi-worker strategy cannot do for a nested
      batch. rnnkit builds the model first (`build_training_state`), so the model skips it:
      no batch is drawn, and seeded shuffling is that of a run without a strategy.
    - `reduce_per_replica(..., "mean")` takes a multi-worker mean with `axis=0`, which fails
      on the scalar logs of a train or test step. Here each scalar is averaged over every
      replica of every worker with an all-reduce, so every worker sees the same logs (the
      same `EarlyStopping` decisions, the same history). Other cases are Keras's own.
    """
    original = _trainer.reduce_per_replica

    def reduce_per_replica(values, strategy, reduction):
        if reduction not in ("auto", "mean") or not _trainer._collective_all_reduce_multi_worker(strategy):
            return original(values, strategy, reduction)

        def mean(value):
            if value.shape.rank != 0:
                return original(value, strategy, reduction)
            replica_means = strategy.run(
                lambda v: tf.distribute.get_replica_context().all_reduce("MEAN", v), args=(value,)
            )
            return strategy.experimental_local_results(replica_means)[0]

        return tree.map_structure(mean, values)

    model.__dict__["_maybe_symbolic_build"] = lambda iterator=None, data_batch=None: None
    _trainer.reduce_per_replica = reduce_per_replica
    try:
        yield model
    finally:
        _trainer.reduce_per_replica = original
        del model.__dict__["_maybe_symbolic_build"]
