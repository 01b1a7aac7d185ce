"""`RecurrentCell`: the kernel/recurrent seam every rnnkit cell is built on."""

import keras
from keras import ops

from . import initializers as rnn_initializers
from ._keras_compat import DropoutRNNCell

__all__ = ["RecurrentCell"]


def check_units(units):
    if isinstance(units, bool) or not isinstance(units, int) or units <= 0:
        raise ValueError(f"Argument `units` must be a positive integer. Received: units={units!r}")
    return units


def check_fraction(name, value, low_open=False):
    """A float in [0, 1] (or (0, 1] with `low_open`), named in the error."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = ok and (0.0 < value <= 1.0 if low_open else 0.0 <= value <= 1.0)
    if not ok:
        interval = "(0, 1]" if low_open else "[0, 1]"
        raise ValueError(f"Argument `{name}` must be a float in {interval}. Received: {name}={value!r}")
    return float(value)


class RecurrentCell(keras.layers.Layer, DropoutRNNCell):
    """Base class of rnnkit's cells: a step split at the kernel/recurrent seam.

    Every cell computes one time step in two parts:

        a_t = x_t W + b                      (project_inputs: no time dependence)
        h_t, state_t = f(a_t, state_{t-1})   (recurrent_step: holds h_{t-1} U)

    `W` is `kernel`, shape `(input_dim, gates * units)`, `U` is `recurrent_kernel`,
    shape `(units, gates * units)`, `b` is `bias`. `call` composes the two parts, so a
    cell works in `keras.layers.RNN` unchanged; `rnnkit.layers.Recurrent` applies
    `project_inputs` to the whole sequence in one matrix product before the loop and
    keeps only `recurrent_step` inside it.

    Dropout follows Keras (Gal and Ghahramani's variational dropout): one mask on `x`
    and one on `h_{t-1}`, drawn once per sequence and shared by its steps, shared by the
    gates, drawn afresh for every batch.

    Subclasses set `gates` and implement `recurrent_step(a, states, training)` and
    `state_size`; they may override `build_bias`/`input_bias` for other bias layouts.
    rnnkit's cells split `recurrent_step` once more: `gate_activations(a, states,
    training)` returns the step's gate values `{gate: (B, units)}`, which
    `recurrent_step` combines into the new state (`diagnostics.gate_saturation` reads them).
    """

    gates = 1

    def __init__(
        self,
        units,
        activation="tanh",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = check_units(units)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = rnn_initializers.get(kernel_initializer)
        self.recurrent_initializer = rnn_initializers.get(recurrent_initializer)
        self.bias_initializer = rnn_initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = keras.regularizers.get(recurrent_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.recurrent_constraint = keras.constraints.get(recurrent_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.dropout = check_fraction("dropout", dropout)
        self.recurrent_dropout = check_fraction("recurrent_dropout", recurrent_dropout)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.output_size = self.units

    # Weights -------------------------------------------------------------------------

    def build(self, input_shape):
        width = self.gates * self.units
        self.kernel = self.add_weight(
            shape=(input_shape[-1], width),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, width),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        self.bias = self.build_bias(width) if self.use_bias else None

    def build_bias(self, width):
        return self.add_weight(
            shape=(width,),
            name="bias",
            initializer=self.bias_initializer,
            regularizer=self.bias_regularizer,
            constraint=self.bias_constraint,
        )

    @property
    def input_bias(self):
        """The part of `bias` added to `x W` (all of it, unless a subclass splits it)."""
        return self.bias

    # The seam ------------------------------------------------------------------------

    def project_inputs(self, inputs, training=False):
        """`x W + b` for one step `(B, F)` or a whole sequence `(B, T, F)`.

        Returns `(B, gates * units)` or `(B, T, gates * units)`.
        """
        inputs = self.drop_inputs(inputs, training)
        if len(inputs.shape) == 3:  # one (B T, F) @ (F, G units) product, not B batched ones
            shape = ops.shape(inputs)
            flat = ops.matmul(ops.reshape(inputs, (-1, inputs.shape[-1])), self.kernel)
            projected = ops.reshape(flat, (shape[0], shape[1], self.kernel.shape[-1]))
        else:
            projected = ops.matmul(inputs, self.kernel)
        if self.use_bias:
            projected = projected + self.input_bias
        return projected

    def drop_inputs(self, inputs, training=False):
        """`x` (one step `(B, F)` or a sequence `(B, T, F)`) with the dropout mask applied
        while training: one mask per sequence, shared by its steps."""
        if training and self.dropout > 0:
            is_sequence = len(inputs.shape) == 3
            mask = self.get_dropout_mask(inputs[:, 0] if is_sequence else inputs)  # (B, F)
            inputs = inputs * (ops.expand_dims(mask, 1) if is_sequence else mask)
        return inputs

    def drop_recurrent(self, h_prev, training=False):
        """`h_{t-1}` with the recurrent dropout mask applied while training."""
        if training and self.recurrent_dropout > 0:
            return h_prev * self.get_recurrent_dropout_mask(h_prev)
        return h_prev

    def recurrent_step(self, projected, states, training=False):
        raise NotImplementedError(f"{type(self).__name__} must implement `recurrent_step`.")

    def call(self, inputs, states, training=False):
        return self.recurrent_step(self.project_inputs(inputs, training), states, training)

    # Keras cell contract -------------------------------------------------------------

    def get_initial_state(self, batch_size=None):
        sizes = self.state_size if isinstance(self.state_size, (list, tuple)) else [self.state_size]
        return [ops.zeros((batch_size, size), dtype=self.compute_dtype) for size in sizes]

    def get_config(self):
        config = {
            "units": self.units,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": keras.initializers.serialize(self.recurrent_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": keras.regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": keras.constraints.serialize(self.recurrent_constraint),
            "bias_constraint": keras.constraints.serialize(self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }
        base_config = super().get_config()
        return {**base_config, **config}
