"""`GRUCell`: the gated recurrent unit."""

import keras
from keras import ops

from .recurrent_cell import RecurrentCell

__all__ = ["GRUCell"]


@keras.saving.register_keras_serializable(package="rnnkit")
class GRUCell(RecurrentCell):
    """GRU cell with the lecture's update and reset gates, in Keras's order z, r, h.

    With `reset_after=True` (the default, as in Keras and cuDNN), the reset gate acts
    after the recurrent product, and the recurrent part has its own bias `b'`:

        z = sigmoid(x_t W_z + b_z + h_{t-1} U_z + b'_z)          update gate
        r = sigmoid(x_t W_r + b_r + h_{t-1} U_r + b'_r)          reset gate
        g = tanh(x_t W_h + b_h + r * (h_{t-1} U_h + b'_h))       candidate
        h_t = z * h_{t-1} + (1 - z) * g

    With `reset_after=False` (Cho et al., 2014) the candidate is
    `g = tanh(x_t W_h + b_h + (r * h_{t-1}) U_h)` and there is no `b'`.

    `W = [W_z W_r W_h]` is `kernel` `(input_dim, 3 units)`, `U` is `recurrent_kernel`
    `(units, 3 units)`; `bias` is `[b; b']` of shape `(2, 3 units)` with `reset_after`,
    `b` of shape `(3 units,)` without. `sigmoid` is `recurrent_activation`, `tanh` is
    `activation`. Arguments, defaults, weight names and shapes are those of
    `keras.layers.GRUCell`, so `set_weights` carries weights across.

    Args:
        units: dimensionality of `h`, a positive integer.
        activation: the candidate nonlinearity (default `"tanh"`).
        recurrent_activation: the gate nonlinearity (default `"sigmoid"`).
        use_bias: whether to add the biases (default True).
        kernel_initializer: initializer of `W`, input-to-hidden (default `"glorot_uniform"`).
        recurrent_initializer: initializer of `U`, hidden-to-hidden (default `"orthogonal"`).
        bias_initializer: initializer of the biases (default `"zeros"`).
        kernel_regularizer, recurrent_regularizer, bias_regularizer: regularizers of
            `W`, `U`, the biases (default None).
        kernel_constraint, recurrent_constraint, bias_constraint: constraints of
            `W`, `U`, the biases (default None).
        dropout: fraction of `x` dropped, in [0, 1] (default 0).
        recurrent_dropout: fraction of `h_{t-1}` dropped in `h_{t-1} U`, in [0, 1] (default 0).
        reset_after: apply `r` after the recurrent product (default True).
        seed: seed of the dropout masks.

    Call arguments:
        inputs: `x_t`, shape `(batch, input_dim)`.
        states: `[h_{t-1}]`, shape `(batch, units)`.
        training: whether dropout is applied.

    Returns:
        `(h_t, [h_t])`, each of shape `(batch, units)`.

    Example:

    >>> layer = keras.layers.RNN(GRUCell(4), return_sequences=True)
    >>> layer(np.ones((2, 3, 5), "float32")).shape
    TensorShape([2, 3, 4])

    Reference: Cho et al., "Learning phrase representations using RNN encoder-decoder for
    statistical machine translation", EMNLP (2014).
    """

    gates = 3

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        reset_after=True,
        **kwargs,
    ):
        kwargs.pop("implementation", None)  # Keras's switch between two equal code paths
        super().__init__(units, activation=activation, use_bias=use_bias, **kwargs)
        self.recurrent_activation = keras.activations.get(recurrent_activation)
        self.reset_after = bool(reset_after)

    @property
    def state_size(self):
        return self.units

    def build_bias(self, width):
        return self.add_weight(
            shape=(2, width) if self.reset_after else (width,),
            name="bias",
            initializer=self.bias_initializer,
            regularizer=self.bias_regularizer,
            constraint=self.bias_constraint,
        )

    @property
    def input_bias(self):
        return self.bias[0] if self.reset_after else self.bias

    def gate_activations(self, projected, states, training=False):
        """`{"z", "r", "h"}`: the update and reset gates and the candidate `g`, (B, units) each."""
        h_prev = states[0] if isinstance(states, (list, tuple)) else states
        h_dropped = self.drop_recurrent(h_prev, training)
        x_z, x_r, x_h = ops.split(projected, 3, axis=-1)  # x W + b, (B, units) each
        if self.reset_after:
            inner = ops.matmul(h_dropped, self.recurrent_kernel)  # h U + b'
            if self.use_bias:
                inner = inner + self.bias[1]
            h_z, h_r, h_h = ops.split(inner, 3, axis=-1)
        else:
            h_z, h_r = ops.split(
                ops.matmul(h_dropped, self.recurrent_kernel[:, : 2 * self.units]), 2, axis=-1
            )
        z = self.recurrent_activation(x_z + h_z)
        r = self.recurrent_activation(x_r + h_r)
        if self.reset_after:
            g = self.activation(x_h + r * h_h)
        else:
            g = self.activation(x_h + ops.matmul(r * h_dropped, self.recurrent_kernel[:, 2 * self.units :]))
        return {"z": z, "r": r, "h": g}

    def recurrent_step(self, projected, states, training=False):
        h_prev = states[0] if isinstance(states, (list, tuple)) else states
        gate = self.gate_activations(projected, states, training)
        h = gate["z"] * h_prev + (1.0 - gate["z"]) * gate["h"]
        return h, [h] if isinstance(states, (list, tuple)) else h

    def get_config(self):
        config = {
            "recurrent_activation": keras.activations.serialize(self.recurrent_activation),
            "reset_after": self.reset_after,
        }
        base_config = super().get_config()
        return {**base_config, **config}
