"""`LeakyRNNCell`: Elman units with leaky integration."""

import keras
from keras import ops

from .recurrent_cell import RecurrentCell, check_fraction

__all__ = ["LeakyRNNCell"]


@keras.saving.register_keras_serializable(package="rnnkit")
class LeakyRNNCell(RecurrentCell):
    """Leaky-integrator units: each step moves `h` only part of the way, leak rate `a`.

        h_t = (1 - a) h_{t-1} + a tanh(x_t W + h_{t-1} U + b)

    A small `a` makes a slow unit whose state is an exponential moving average of its
    Elman update, a time constant of about `1 / a` steps: the lecture's remedy for long
    dependencies. `a = 1` is the Elman cell. `W` is `kernel` `(input_dim, units)`, `U` is
    `recurrent_kernel` `(units, units)`, `b` is `bias` `(units,)`, `tanh` is `activation`.

    Args:
        units: dimensionality of `h`, a positive integer.
        leak_rate: `a`, in (0, 1] (default 0.5).
        activation, use_bias, kernel_initializer, recurrent_initializer, bias_initializer,
        kernel_regularizer, recurrent_regularizer, bias_regularizer, kernel_constraint,
        recurrent_constraint, bias_constraint, dropout, recurrent_dropout, seed:
            as in `SimpleRNNCell`.

    Call arguments:
        inputs: `x_t`, shape `(batch, input_dim)`.
        states: `[h_{t-1}]`, shape `(batch, units)`.
        training: whether dropout is applied.

    Returns:
        `(h_t, [h_t])`, each of shape `(batch, units)`.

    Example:

    >>> layer = keras.layers.RNN(LeakyRNNCell(4, leak_rate=0.1))
    >>> layer(np.ones((2, 3, 5), "float32")).shape
    TensorShape([2, 4])

    Reference: Jaeger et al., "Optimization and applications of echo state networks with
    leaky-integrator neurons", Neural Networks 20 (2007); Goodfellow, Bengio and
    Courville, Deep Learning, section 10.9.2.
    """

    gates = 1

    def __init__(self, units, leak_rate=0.5, **kwargs):
        super().__init__(units, **kwargs)
        self.leak_rate = check_fraction("leak_rate", leak_rate, low_open=True)

    @property
    def state_size(self):
        return self.units

    def gate_activations(self, projected, states, training=False):
        """`{"h": tanh(x_t W + h_{t-1} U + b)}`, (B, units): the Elman update before the leak."""
        h_prev = states[0] if isinstance(states, (list, tuple)) else states
        update = projected + ops.matmul(self.drop_recurrent(h_prev, training), self.recurrent_kernel)
        if self.activation is not None:
            update = self.activation(update)
        return {"h": update}

    def recurrent_step(self, projected, states, training=False):
        h_prev = states[0] if isinstance(states, (list, tuple)) else states
        update = self.gate_activations(projected, states, training)["h"]
        a = self.leak_rate
        h = (1.0 - a) * h_prev + a * update
        return h, [h] if isinstance(states, (list, tuple)) else h

    def get_config(self):
        config = {"leak_rate": self.leak_rate}
        base_config = super().get_config()
        return {**base_config, **config}
