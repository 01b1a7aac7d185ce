"""Truncated backpropagation through time in `Recurrent(bptt_steps=k)`."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from rnnkit import layers as rk

from ..helpers import assert_close

B, T, F, UNITS = 3, 9, 2, 4


def _x():
    return tf.constant(np.random.default_rng(0).normal(size=(B, T, F)).astype("float32"))


def _pair(make_cell, k, **options):
    full = rk.Recurrent(make_cell(), **options)
    truncated = rk.Recurrent(make_cell(), bptt_steps=k, **options)
    full.build((B, T, F))
    truncated.build((B, T, F))
    truncated.set_weights(full.get_weights())
    return full, truncated


def _input_gradient(layer, x, mask=None, at=None):
    """d output[:, at] / d x (or of the last output), summed over batch and units."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, mask=mask)
        y = y[0] if isinstance(y, list) else y
        target = tf.reduce_sum(y if at is None else y[:, at])
    return tape.gradient(target, x).numpy()


CELLS = {
    "rnn": lambda: rk.SimpleRNNCell(UNITS, seed=0),
    "lstm": lambda: rk.LSTMCell(UNITS, seed=0),
    "gru": lambda: rk.GRUCell(UNITS, seed=0),
    "keras-gru": lambda: keras.layers.GRUCell(UNITS, seed=0),  # no seam: the fallback loop
}


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("k", [T, T + 5])
def test_k_at_least_t_is_full_bptt(cell, k):
    full, truncated = _pair(CELLS[cell], k, return_sequences=True)
    x = _x()
    assert_close(truncated(x), full(x))
    assert_close(_input_gradient(truncated, x), _input_gradient(full, x))


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize(
    "options", [{}, {"return_sequences": True}, {"go_backwards": True, "return_sequences": True}]
)
def test_forward_pass_is_unchanged_and_gradients_stop_k_steps_back(cell, options):
    k = 4
    full, truncated = _pair(CELLS[cell], k, **options)
    x = _x()
    assert_close(truncated(x), full(x))  # truncation changes gradients only
    last = T - 1
    gradient = _input_gradient(truncated, x, at=last if options else None)
    full_gradient = _input_gradient(full, x, at=last if options else None)
    # The last output sits in the chunk of steps 8 (chunks 0-3, 4-7, 8): nothing reaches further back.
    processed = np.arange(T)[::-1] if options.get("go_backwards") else np.arange(T)
    reach = [t for i, t in enumerate(processed) if i >= (T - 1) // k * k]  # the last chunk's steps
    outside = np.setdiff1d(np.arange(T), reach)
    assert np.all(gradient[:, outside] == 0)
    assert np.abs(full_gradient[:, outside]).sum() > 0  # full BPTT does reach them
    assert_close(gradient[:, reach], full_gradient[:, reach])  # within the chunk: exact


def test_every_output_reaches_back_to_the_start_of_its_chunk_only():
    k = 3
    _, truncated = _pair(CELLS["lstm"], k, return_sequences=True)
    x = _x()
    for t in range(T):
        gradient = np.abs(_input_gradient(truncated, x, at=t)).sum(axis=(0, 2))
        start = t // k * k
        assert (
            np.all(gradient[:start] == 0)
            and np.all(gradient[start : t + 1] > 0)
            and np.all(gradient[t + 1 :] == 0)
        )


@pytest.mark.parametrize("zero_output_for_mask", [False, True])
def test_masked_padding_is_carried_across_chunks(zero_output_for_mask):
    full, truncated = _pair(
        CELLS["gru"], 2, return_sequences=True, return_state=True, zero_output_for_mask=zero_output_for_mask
    )
    x = _x()
    mask = tf.constant(np.arange(T)[None, :] < np.array([[9], [5], [2]]))  # post-padding
    for a, e in zip(truncated(x, mask=mask), full(x, mask=mask), strict=True):
        assert_close(a, e)
    last, *_ = rk.Recurrent(truncated.cell, bptt_steps=2)(x, mask=mask), None
    assert_close(last, keras.layers.RNN(truncated.cell)(x, mask=mask))


def test_trains_with_model_fit_and_round_trips(tmp_path):
    inputs = keras.Input((T, F))
    outputs = keras.layers.Dense(1)(rk.Recurrent(rk.LSTMCell(UNITS), bptt_steps=3)(inputs))
    model = keras.Model(inputs, outputs)
    model.compile("adam", "mse")
    history = model.fit(_x(), np.ones((B, 1)), epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.layers[1].bptt_steps == 3
    assert_close(loaded(_x()), model(_x()))


@pytest.mark.parametrize("value", [0, -2, 1.5, True, "4"])
def test_bad_bptt_steps(value):
    with pytest.raises(ValueError, match="bptt_steps"):
        rk.Recurrent(rk.GRUCell(2), bptt_steps=value)


def test_a_dynamic_length_is_refused_with_a_clear_message():
    layer = rk.Recurrent(rk.GRUCell(2), bptt_steps=2)
    with pytest.raises(ValueError, match="static sequence length"):
        layer(keras.Input((None, F)))
