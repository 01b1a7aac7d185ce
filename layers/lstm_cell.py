"""`LSTMCell`: long short-term memory."""

import keras
from keras import ops

from .recurrent_cell import RecurrentCell

__all__ = ["LSTMCell"]


@keras.saving.register_keras_serializable(package="rnnkit")
class LSTMCell(RecurrentCell):
    """LSTM cell with the lecture's gates, in Keras's gate order i, f, c, o.

        i = sigmoid(x_t W_i + h_{t-1} U_i + b_i)        input gate
        f = sigmoid(x_t W_f + h_{t-1} U_f + b_f)        forget gate
        c = f * c_{t-1} + i * tanh(x_t W_c + h_{t-1} U_c + b_c)
        o = sigmoid(x_t W_o + h_{t-1} U_o + b_o)        output gate
        h_t = o * tanh(c)

    `W = [W_i W_f W_c W_o]` is `kernel` `(input_dim, 4 units)`, `U` is `recurrent_kernel`
    `(units, 4 units)`, `b` is `bias` `(4 units,)`; `sigmoid` is `recurrent_activation`
    and `tanh` is `activation`. Arguments, defaults, weight names, shapes and gate order
    are those of `keras.layers.LSTMCell`, so `set_weights` carries weights across.

    Args:
        units: dimensionality of `h` and `c`, a positive integer.
        activation: the candidate and output nonlinearity (default `"tanh"`).
        recurrent_activation: the gate nonlinearity (default `"sigmoid"`).
        use_bias: whether to add `b` (default True).
        kernel_initializer: initializer of `W`, input-to-hidden (default `"glorot_uniform"`).
        recurrent_initializer: initializer of `U`, hidden-to-hidden (default `"orthogonal"`).
        bias_initializer: initializer of `b` (default `"zeros"`).
        unit_forget_bias: start `b_f` at 1 so the cell remembers by default (default True;
            Jozefowicz et al., 2015).
        kernel_regularizer, recurrent_regularizer, bias_regularizer: regularizers of
            `W`, `U`, `b` (default None).
        kernel_constraint, recurrent_constraint, bias_constraint: constraints of
            `W`, `U`, `b` (default None).
        dropout: fraction of `x` dropped, in [0, 1] (default 0).
        recurrent_dropout: fraction of `h_{t-1}` dropped, in [0, 1] (default 0).
        seed: seed of the dropout masks.

    Call arguments:
        inputs: `x_t`, shape `(batch, input_dim)`.
        states: `[h_{t-1}, c_{t-1}]`, each `(batch, units)`.
        training: whether dropout is applied.

    Returns:
        `(h_t, [h_t, c_t])`, each of shape `(batch, units)`.

    Example:

    >>> layer = keras.layers.RNN(LSTMCell(4), return_state=True)
    >>> output, h, c = layer(np.ones((2, 3, 5), "float32"))
    >>> tuple(c.shape)
    (2, 4)

    Reference: Hochreiter and Schmidhuber, "Long short-term memory", Neural Computation 9
    (1997); Gers, Schmidhuber and Cummins, "Learning to forget" (2000).
    """

    gates = 4

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        unit_forget_bias=True,
        **kwargs,
    ):
        kwargs.pop("implementation", None)  # Keras's switch between two equal code paths
        super().__init__(units, activation=activation, use_bias=use_bias, **kwargs)
        self.recurrent_activation = keras.activations.get(recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)

    @property
    def state_size(self):
        return [self.units, self.units]

    def build_bias(self, width):
        initializer = self.bias_initializer
        if self.unit_forget_bias:
            base = self.bias_initializer

            def initializer(shape, dtype=None):  # b_f = 1, the rest from bias_initializer
                return ops.concatenate(
                    [
                        base((self.units,), dtype=dtype),
                        ops.ones((self.units,), dtype=dtype),
                        base((2 * self.units,), dtype=dtype),
                    ]
                )

        return self.add_weight(
            shape=(width,),
            name="bias",
            initializer=initializer,
            regularizer=self.bias_regularizer,
            constraint=self.bias_constraint,
        )

    def gate_activations(self, projected, states, training=False):
        """The step's `{"i", "f", "c", "o"}`, (B, units) each; `c` is the candidate
        `tanh(x_t W_c + h_{t-1} U_c + b_c)`, not the cell state."""
        h_prev = states[0]
        z = projected + ops.matmul(self.drop_recurrent(h_prev, training), self.recurrent_kernel)
        z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)  # (B, units) each
        return {
            "i": self.recurrent_activation(z_i),
            "f": self.recurrent_activation(z_f),
            "c": self.activation(z_c),
            "o": self.recurrent_activation(z_o),
        }

    def recurrent_step(self, projected, states, training=False):
        c_prev = states[1]
        gate = self.gate_activations(projected, states, training)
        c = gate["f"] * c_prev + gate["i"] * gate["c"]
        h = gate["o"] * self.activation(c)
        return h, [h, c]

    def get_config(self):
        config = {
            "recurrent_activation": keras.activations.serialize(self.recurrent_activation),
            "unit_forget_bias": self.unit_forget_bias,
        }
        base_config = super().get_config()
        return {**base_config, **config}
