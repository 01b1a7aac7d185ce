"""`SimpleRNNCell`: the Elman recurrent unit."""

import keras
from keras import ops

from .recurrent_cell import RecurrentCell

__all__ = ["SimpleRNNCell"]


@keras.saving.register_keras_serializable(package="rnnkit")
class SimpleRNNCell(RecurrentCell):
    """Elman cell, the lecture's vanilla RNN.

        h_t = tanh(x_t W + h_{t-1} U + b)

    `W` is `kernel` `(input_dim, units)`, `U` is `recurrent_kernel` `(units, units)`,
    `b` is `bias` `(units,)`; `tanh` is `activation`. Arguments, defaults, weight names and
    shapes are those of `keras.layers.SimpleRNNCell`, so `set_weights` carries weights
    across in both directions.

    Args:
        units: dimensionality of `h`, a positive integer.
        activation: the nonlinearity (default `"tanh"`; `None` for linear).
        use_bias: whether to add `b` (default True).
        kernel_initializer: initializer of `W`, the input-to-hidden weights
            (default `"glorot_uniform"`).
        recurrent_initializer: initializer of `U`, the hidden-to-hidden weights
            (default `"orthogonal"`; try `ScaledIdentity()` with `"relu"` for an IRNN,
            or `SpectralRadius(r)`).
        bias_initializer: initializer of `b` (default `"zeros"`).
        kernel_regularizer, recurrent_regularizer, bias_regularizer: regularizers of
            `W`, `U`, `b` (default None).
        kernel_constraint, recurrent_constraint, bias_constraint: constraints of
            `W`, `U`, `b` (default None).
        dropout: fraction of `x` dropped, in [0, 1] (default 0).
        recurrent_dropout: fraction of `h_{t-1}` dropped, in [0, 1] (default 0).
        seed: seed of the dropout masks.

    Call arguments:
        inputs: `x_t`, shape `(batch, input_dim)`.
        states: `[h_{t-1}]`, shape `(batch, units)`.
        training: whether dropout is applied.

    Returns:
        `(h_t, [h_t])`, each of shape `(batch, units)`.

    Example:

    >>> layer = keras.layers.RNN(SimpleRNNCell(4))
    >>> layer(np.ones((2, 3, 5), "float32")).shape
    TensorShape([2, 4])

    Reference: Elman, "Finding structure in time", Cognitive Science 14 (1990).
    """

    gates = 1

    @property
    def state_size(self):
        return self.units

    def gate_activations(self, projected, states, training=False):
        """`{"h": tanh(x_t W + h_{t-1} U + b)}`, (B, units): no gates, only the activation."""
        h_prev = states[0] if isinstance(states, (list, tuple)) else states
        h_prev = self.drop_recurrent(h_prev, training)
        h = projected + ops.matmul(h_prev, self.recurrent_kernel)  # x W + b + h U
        if self.activation is not None:
            h = self.activation(h)
        return {"h": h}

    def recurrent_step(self, projected, states, training=False):
        h = self.gate_activations(projected, states, training)["h"]
        return h, [h] if isinstance(states, (list, tuple)) else h
