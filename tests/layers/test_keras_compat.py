"""Pins what rnnkit takes from Keras's private modules (`layers/_keras_compat.py`).

Dropout masks: the same at every step of a sequence, drawn afresh for each batch,
inside `keras.layers.RNN` and `Recurrent` alike.
"""

import keras
import numpy as np
import pytest
from keras import ops

from rnnkit import layers as rk


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
