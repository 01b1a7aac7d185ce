"""Pins what rnnkit takes from Keras's and TensorFlow's private modules (`layers/_keras_compat.py`).

Dropout masks: the same at every step of a sequence, drawn afresh for each batch,
inside `keras.layers.RNN` and `Recurrent` alike. The fast path's assumptions: exports tracing
outside TensorFlow's save context and saving what was traced inside it, the backend
functions' arguments, the save and XLA contexts.
"""

import contextlib
import inspect
import tempfile
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from rnnkit import layers as rk
from rnnkit.layers import _keras_compat as compat


class MaskProbe(rk.SimpleRNNCell):
    """An Elman cell that outputs the input it sees after dropout: `x_t * mask`."""

    def recurrent_step(self, projected, states, training=False):
        return projected, states

    def build(self, input_shape):
        super().build(input_shape)
        self.kernel.assign(np.eye(input_shape[-1], self.units))  # x W = x


@pytest.mark.parametrize("wrapper", [keras.layers.RNN, rk.Recurrent], ids=["keras.RNN", "Recurrent"])
def test_input_mask_fixed_over_steps_and_fresh_per_batch(wrapper):
    layer = wrapper(MaskProbe(16, dropout=0.5, use_bias=False, seed=0), return_sequences=True)
    x = np.ones((8, 6, 16), "float32")
    first = ops.convert_to_numpy(layer(x, training=True))
    second = ops.convert_to_numpy(layer(x, training=True))
    for steps in (first, second):
        # every step of a sequence saw the same mask
        np.testing.assert_array_equal(steps, np.repeat(steps[:, :1], 6, axis=1))
        assert set(np.unique(steps)) == {0.0, 2.0}  # inverted dropout at rate 0.5
    assert not np.array_equal(first, second)  # a new batch, a new mask
    np.testing.assert_array_equal(ops.convert_to_numpy(layer(x)), x)  # no dropout at inference


@pytest.mark.parametrize("wrapper", [keras.layers.RNN, rk.Recurrent], ids=["keras.RNN", "Recurrent"])
def test_recurrent_mask_fixed_over_steps(wrapper):
    """With U = I, W = 0 and a linear Elman cell, h_t = h_{t-1} * m: m^t, one mask m."""
    cell = rk.SimpleRNNCell(
        32,
        activation=None,
        use_bias=False,
        recurrent_dropout=0.5,
        kernel_initializer="zeros",
        recurrent_initializer=rk.ScaledIdentity(1.0),
        seed=1,
    )
    layer = wrapper(cell, return_sequences=True)
    h0 = np.ones((4, 32), "float32")
    out = ops.convert_to_numpy(layer(np.zeros((4, 3, 2), "float32"), initial_state=[h0], training=True))
    mask = out[:, 0]
    np.testing.assert_allclose(out[:, 1], mask * mask)
    np.testing.assert_allclose(out[:, 2], mask * mask * mask)


def test_masks_are_cleared_after_the_call():
    cell = rk.LSTMCell(4, dropout=0.3, recurrent_dropout=0.3)
    layer = rk.Recurrent(cell)
    layer(np.ones((2, 3, 5), "float32"), training=True)
    assert cell._dropout_mask is None and cell._recurrent_dropout_mask is None


def test_dropout_trains_in_fit():
    inputs = keras.Input((4, 3))
    outputs = keras.layers.Dense(1)(rk.Recurrent(rk.GRUCell(4, dropout=0.2, recurrent_dropout=0.2))(inputs))
    model = keras.Model(inputs, outputs)
    model.compile("adam", "mse")
    history = model.fit(np.ones((8, 4, 3)), np.ones((8, 1)), epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))


# What the fast path takes from Keras and TensorFlow: verified against these versions. A
# version change fails here first: read the reasons in layers/_keras_compat.py again.
PINNED = {"keras": "3.15.", "tensorflow": "2.21."}


def test_the_pinned_versions_are_the_installed_ones():
    assert keras.version().startswith(PINNED["keras"]), keras.version()
    assert tf.__version__.startswith(PINNED["tensorflow"]), tf.__version__


@pytest.mark.skipif(not rk.fused.available(), reason="the fused op could not be built here")
def test_model_export_saves_a_trace_made_in_the_save_context(tmp_path, monkeypatch):
    """Why exports need no hook into Keras: `model.export` traces its endpoint outside the
    save context (to list variables), but `tf.saved_model.save` traces it again inside, and
    the SavedModel holds that trace, which `fused.kernel_for` keeps to standard ops."""
    inputs = keras.Input((5, 3))
    model = keras.Model(inputs, rk.Recurrent(rk.LSTMCell(4))(inputs))
    model.predict(np.ones((2, 5, 3), "float32"), verbose=0)  # a trace with the fused op
    contexts, kernel_for = [], rk.fused.kernel_for

    def spy(cell, training=False):
        contexts.append(compat.in_save_context())
        return kernel_for(cell, training)

    monkeypatch.setattr(rk.fused, "kernel_for", spy)
    model.export(str(tmp_path / "export"), verbose=False)
    assert False in contexts and True in contexts  # traced outside, then inside the save context
    assert b"RnnkitRecurrence" not in (tmp_path / "export" / "saved_model.pb").read_bytes()


def test_the_backend_functions_take_the_arguments_rnnkit_passes():
    lstm = inspect.signature(compat.backend_lstm.__globals__["_backend"].lstm).parameters
    gru = inspect.signature(compat.backend_gru.__globals__["_backend"].gru).parameters
    common = {"kernel", "recurrent_kernel", "bias", "activation", "recurrent_activation"}
    common |= {"return_sequences", "go_backwards", "unroll"}
    assert list(lstm)[:4] == ["inputs", "initial_state_h", "initial_state_c", "mask"] and common <= set(lstm)
    assert list(gru)[:3] == ["inputs", "initial_state", "mask"] and common | {"reset_after"} <= set(gru)


def test_save_and_xla_contexts_are_seen():
    seen = {}

    def probe(x):
        seen[tf.executing_eagerly()] = (compat.in_save_context(), compat.in_xla_context())
        return x

    assert not compat.in_save_context() and not compat.in_xla_context()
    tf.function(probe, jit_compile=True)(tf.ones(2))
    assert seen[False] == (False, True)
    module = tf.Module()
    module.f = tf.function(probe, input_signature=[tf.TensorSpec((2,))])
    seen.clear()
    with tempfile.TemporaryDirectory() as folder:
        tf.saved_model.save(module, str(Path(folder) / "module"))
    assert (True, False) in seen.values()


class StepCounter(keras.Model):
    """A model that counts how often Keras traces its train step."""

    traces = 0

    def train_step(self, data):
        StepCounter.traces += 1
        return super().train_step(data)


@pytest.mark.parametrize("built_first", [False, True])
def test_a_model_built_first_traces_its_train_step_once(built_first):
    """Keras 3.15 creates the optimizer's and metrics' variables in the first trace of the
    train function, so TensorFlow traces it twice; `build_training_state` builds them first."""
    inputs = keras.Input((None, 3))
    model = StepCounter(inputs, keras.layers.Dense(1)(rk.Recurrent(rk.GRUCell(4))(inputs)))
    model.compile("adam", "mse", metrics=["mae"], steps_per_execution=4)
    data = tf.data.Dataset.from_tensor_slices((np.ones((16, 5, 3), "float32"), np.ones((16, 1), "float32")))
    data = data.batch(4)
    StepCounter.traces = 0
    if built_first:
        compat.build_training_state(model, data.element_spec)
        assert model.optimizer.built
    model.fit(data, epochs=2, verbose=0)
    assert StepCounter.traces == (1 if built_first else 2)


def test_distributed_keras_replaces_what_multi_worker_fit_trips_on():
    """Keras's `fit` builds through `_maybe_symbolic_build` and reduces its logs through the
    trainer module's `reduce_per_replica` (keras-team/keras#20585): the two names
    `distributed_keras` overrides, and restores."""
    from keras.src.backend.tensorflow import trainer

    assert "self._maybe_symbolic_build(iterator=epoch_iterator)" in inspect.getsource(
        trainer.TensorFlowTrainer.fit
    )
    source = "".join(inspect.getsource(trainer.TensorFlowTrainer._make_function).split())  # train and test
    assert 'reduce_per_replica(outputs,self.distribute_strategy,reduction="auto",)' in source
    assert callable(trainer._collective_all_reduce_multi_worker)
    model, original = keras.Sequential([keras.layers.Dense(1)]), trainer.reduce_per_replica
    with compat.distributed_keras(model):
        assert trainer.reduce_per_replica is not original and model._maybe_symbolic_build() is None
    assert trainer.reduce_per_replica is original and "_maybe_symbolic_build" not in model.__dict__


def _shuffled_fit(strategy):
    """Losses of a seeded model on seeded, reshuffled batches, under `strategy` (or none)."""
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(12, 3)).astype("float32")
    data = tf.data.Dataset.from_tensor_slices((x, x.sum(axis=1, keepdims=True)))
    data = data.shuffle(12, seed=1, reshuffle_each_iteration=True).batch(4)
    with strategy.scope() if strategy else contextlib.nullcontext():
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        model.compile(keras.optimizers.SGD(0.1), "mse")
        compat.build_training_state(model, data.element_spec)
    with compat.distributed_keras(model) if strategy else contextlib.nullcontext():
        return model.fit(data, epochs=3, verbose=0).history["loss"]


def test_under_a_strategy_a_model_built_first_draws_no_batch_to_build():
    """Without the override Keras draws one batch to build the model, which moves the seeded
    reshuffling on by an epoch; with it, a one-device strategy trains as no strategy."""
    np.testing.assert_allclose(
        _shuffled_fit(tf.distribute.MirroredStrategy(["/cpu:0"])), _shuffled_fit(None), rtol=1e-6
    )
