"""Parity with Keras's own cells: copied weights give equal outputs and gradients.

Our `SimpleRNNCell`, `LSTMCell` and `GRUCell`, inside `keras.layers.RNN` and inside
`Recurrent`, against Keras's cells inside `keras.layers.RNN`, over the RNN options.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from rnnkit import layers as rk
from tests.helpers import assert_close

PAIRS = {
    "rnn": (rk.SimpleRNNCell, keras.layers.SimpleRNNCell, {}),
    "rnn-relu-nobias": (
        rk.SimpleRNNCell,
        keras.layers.SimpleRNNCell,
        {"activation": "relu", "use_bias": False},
    ),
    "lstm": (rk.LSTMCell, keras.layers.LSTMCell, {}),
    "lstm-no-forget-bias": (
        rk.LSTMCell,
        keras.layers.LSTMCell,
        {"unit_forget_bias": False, "bias_initializer": "random_normal"},
    ),
    "lstm-nobias": (rk.LSTMCell, keras.layers.LSTMCell, {"use_bias": False}),
    "gru": (rk.GRUCell, keras.layers.GRUCell, {"bias_initializer": "random_normal"}),
    "gru-reset-before": (
        rk.GRUCell,
        keras.layers.GRUCell,
        {"reset_after": False, "bias_initializer": "random_normal"},
    ),
    "gru-nobias": (rk.GRUCell, keras.layers.GRUCell, {"use_bias": False}),
}
OPTIONS = {
    "last": {},
    "sequences": {"return_sequences": True},
    "state": {"return_state": True},
    "backwards": {"go_backwards": True, "return_sequences": True},
    "zero-masked": {"return_sequences": True, "zero_output_for_mask": True},
    "unrolled": {"return_sequences": True, "unroll": True},
}
WRAPPERS = {"keras.RNN": keras.layers.RNN, "Recurrent": rk.Recurrent}
UNITS, FEATURES, BATCH, TIME = 4, 3, 5, 7


def _data(masked):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH, TIME, FEATURES)).astype("float32")
    mask = None
    if masked:  # post-padding of different lengths
        lengths = np.array([7, 5, 3, 7, 1])
        mask = np.arange(TIME)[None, :] < lengths[:, None]
    return x, mask


def _weighted_sum(output):
    """A scalar that weights every element of `output` differently: sum(o * sin(1..n))."""
    weights = np.sin(np.arange(1, output.shape.num_elements() + 1, dtype="float32"))
    return tf.reduce_sum(output * weights.reshape(output.shape))


def _outputs_and_gradients(layer, x, mask):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        outputs = layer(x, mask=None if mask is None else tf.constant(mask))
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        loss = sum(_weighted_sum(o) for o in outputs)
    gradients = tape.gradient(loss, [x, *layer.trainable_weights])
    return outputs, gradients


MAIN_PAIRS = ("rnn", "lstm", "gru")


def _grid():
    """Every pair x option; the variants beyond `sequences` run with `-m slow` (CI time)."""
    for pair in PAIRS:
        for option in OPTIONS:
            slow = pair not in MAIN_PAIRS and option != "sequences"
            yield pytest.param(pair, option, id=f"{pair}-{option}", marks=[pytest.mark.slow] if slow else [])


@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "masked"])
@pytest.mark.parametrize("wrapper", WRAPPERS)
@pytest.mark.parametrize(("pair", "option"), list(_grid()))
def test_parity_with_keras_cell(pair, wrapper, option, masked):
    ours_class, keras_class, kwargs = PAIRS[pair]
    x, mask = _data(masked)
    reference = keras.layers.RNN(keras_class(UNITS, **kwargs), **OPTIONS[option])
    reference.build(x.shape)
    ours = WRAPPERS[wrapper](ours_class(UNITS, **kwargs), **OPTIONS[option])
    ours.build(x.shape)
    assert [w.shape for w in ours.weights] == [w.shape for w in reference.weights]
    assert [w.name for w in ours.weights] == [w.name for w in reference.weights]
    ours.set_weights(reference.get_weights())

    expected, expected_grads = _outputs_and_gradients(reference, x, mask)
    actual, actual_grads = _outputs_and_gradients(ours, x, mask)
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected, strict=True):
        assert_close(a, e)
    for a, e in zip(actual_grads, expected_grads, strict=True):
        assert_close(a, e)


@pytest.mark.parametrize("pair", ["rnn", "lstm", "gru"])
def test_weights_move_back_to_keras(pair):
    """`set_weights` works the other way too: ours -> Keras's built-in layer."""
    ours_class, _, _ = PAIRS[pair]
    builtin = {"rnn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[pair]
    x, _ = _data(masked=False)
    ours = rk.Recurrent(ours_class(UNITS, bias_initializer="random_normal"), return_sequences=True)
    reference = builtin(UNITS, return_sequences=True)
    ours.build(x.shape)
    reference.build(x.shape)
    reference.set_weights(ours.get_weights())
    assert_close(ours(x), reference(x))


@pytest.mark.parametrize("wrapper", WRAPPERS)
def test_stateful_parity(wrapper):
    """Two halves through a stateful layer equal the whole sequence through Keras's."""
    x, _ = _data(masked=False)
    reference = keras.layers.LSTM(UNITS, return_sequences=True)
    reference.build(x.shape)
    ours = WRAPPERS[wrapper](rk.LSTMCell(UNITS), return_sequences=True, stateful=True)
    ours.build(x.shape)
    ours.set_weights(reference.get_weights())
    halves = np.concatenate([ours(x[:, :3]), ours(x[:, 3:])], axis=1)
    assert_close(halves, reference(x))
    ours.reset_state()
    assert_close(ours(x[:, :3]), reference(x[:, :3]))


@pytest.mark.parametrize("wrapper", WRAPPERS)
def test_initial_state_parity(wrapper):
    x, _ = _data(masked=False)
    rng = np.random.default_rng(1)
    h0, c0 = (rng.normal(size=(BATCH, UNITS)).astype("float32") for _ in range(2))
    reference = keras.layers.LSTM(UNITS)
    reference.build(x.shape)
    ours = WRAPPERS[wrapper](rk.LSTMCell(UNITS))
    ours.build(x.shape)
    ours.set_weights(reference.get_weights())
    assert_close(ours(x, initial_state=[h0, c0]), reference(x, initial_state=[h0, c0]))


def test_bidirectional_and_stacked_parity():
    """Bidirectional over two stacked layers, ours against Keras's built-in GRU."""
    x, mask = _data(masked=True)

    def stack(make):
        inputs = keras.Input((TIME, FEATURES))
        h = keras.layers.Masking(0.0)(inputs)
        h = keras.layers.Bidirectional(make(return_sequences=True))(h)
        return keras.Model(inputs, keras.layers.Bidirectional(make())(h))

    reference = stack(lambda **kw: keras.layers.GRU(UNITS, **kw))
    ours = stack(lambda **kw: rk.Recurrent(rk.GRUCell(UNITS), **kw))
    ours.set_weights(reference.get_weights())
    x = x * mask[..., None]  # zero the padded steps so Masking finds them
    assert_close(ours(x), reference(x))


def test_keras_cell_runs_through_recurrent():
    """A cell without the seam is stepped as `keras.layers.RNN` steps it."""
    x, mask = _data(masked=True)
    reference = keras.layers.RNN(keras.layers.GRUCell(UNITS), return_sequences=True)
    ours = rk.Recurrent(keras.layers.GRUCell(UNITS), return_sequences=True)
    for layer in (reference, ours):
        layer.build(x.shape)
    ours.set_weights(reference.get_weights())
    assert_close(ours(x, mask=mask), reference(x, mask=mask))


def test_list_of_cells_parity():
    """A list of cells (Keras's StackedRNNCells) runs through `Recurrent` too."""
    x, _ = _data(masked=False)
    reference = keras.layers.RNN([keras.layers.LSTMCell(UNITS), keras.layers.GRUCell(UNITS)])
    reference.build(x.shape)
    ours = rk.Recurrent([rk.LSTMCell(UNITS), rk.GRUCell(UNITS)])
    ours.build(x.shape)
    ours.set_weights(reference.get_weights())
    assert_close(ours(x), reference(x))


OURS = {
    "rnn": lambda: rk.SimpleRNNCell(UNITS),
    "lstm": lambda: rk.LSTMCell(UNITS),
    "gru": lambda: rk.GRUCell(UNITS, bias_initializer="random_normal"),
    "leaky": lambda: rk.LeakyRNNCell(UNITS, leak_rate=0.4),
    "esn": lambda: rk.EchoStateCell(UNITS, seed=0),
}


@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "masked"])
@pytest.mark.parametrize("option", OPTIONS)
@pytest.mark.parametrize("cell", OURS)
def test_recurrent_matches_keras_rnn_loop(cell, option, masked):
    """`Recurrent` (projection before the loop) against `keras.layers.RNN` (inside it)."""
    x, mask = _data(masked)
    reference = keras.layers.RNN(OURS[cell](), **OPTIONS[option])
    ours = rk.Recurrent(OURS[cell](), **OPTIONS[option])
    for layer in (reference, ours):
        layer.build(x.shape)
    ours.set_weights(reference.get_weights())
    expected, expected_grads = _outputs_and_gradients(reference, x, mask)
    actual, actual_grads = _outputs_and_gradients(ours, x, mask)
    for a, e in zip([*actual, *actual_grads], [*expected, *expected_grads], strict=True):
        assert_close(a, e)
