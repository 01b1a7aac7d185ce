"""`EchoStateCell`: a fixed random reservoir of leaky units."""

import keras

from .initializers import SpectralRadius
from .leaky_rnn_cell import LeakyRNNCell

__all__ = ["EchoStateCell"]


@keras.saving.register_keras_serializable(package="rnnkit")
class EchoStateCell(LeakyRNNCell):
    """Echo-state reservoir: leaky units whose weights are drawn once and never trained.

        h_t = (1 - a) h_{t-1} + a tanh(x_t W + h_{t-1} U + b)

    the `LeakyRNNCell` update, with `W`, `U` and `b` fixed (non-trainable) after a seeded
    draw: `W ~ Uniform(-s, s)` with `s = input_scaling`, and `U` drawn from
    `recurrent_initializer` then rescaled so that its spectral radius is
    `spectral_radius` (just below 1 gives the echo-state property: the state forgets its
    start and echoes the recent inputs). Only the layers after the reservoir, the readout,
    learn; in a Keras model that is the `Dense` layer on top.

    Args:
        units: reservoir size, a positive integer.
        spectral_radius: largest absolute eigenvalue of `U`, positive (default 0.9).
        input_scaling: `s`, the half-width of `W`'s uniform distribution (default 1.0).
        leak_rate: `a`, in (0, 1] (default 1.0: no leak).
        kernel_initializer: draw of `W`; by default `Uniform(-s, s)` seeded with `seed`.
        recurrent_initializer: draw of `U` before rescaling; by default
            `Uniform(-1, 1)` seeded with `seed + 1`.
        bias_initializer: draw of `b` (default `"zeros"`).
        seed: seed of the reservoir's draw and of the dropout masks. The same seed gives
            the same reservoir.
        activation, use_bias, regularizers, constraints, dropout, recurrent_dropout:
            as in `SimpleRNNCell`.

    Call arguments and returns: as in `LeakyRNNCell`.

    Example:

    >>> cell = EchoStateCell(50, spectral_radius=0.95, seed=7)
    >>> _ = keras.layers.RNN(cell)(np.ones((1, 4, 3), "float32"))
    >>> cell.trainable_weights
    []

    Reference: Jaeger, "The echo state approach to analysing and training recurrent
    neural networks", GMD report 148 (2001); Lukosevicius, "A practical guide to
    applying echo state networks" (2012).
    """

    def __init__(
        self,
        units,
        spectral_radius=0.9,
        input_scaling=1.0,
        leak_rate=1.0,
        kernel_initializer=None,
        recurrent_initializer=None,
        seed=None,
        **kwargs,
    ):
        if (
            isinstance(spectral_radius, bool)
            or not isinstance(spectral_radius, (int, float))
            or spectral_radius <= 0
        ):
            raise ValueError(
                "Argument `spectral_radius` must be a positive number. "
                f"Received: spectral_radius={spectral_radius!r}"
            )
        if (
            isinstance(input_scaling, bool)
            or not isinstance(input_scaling, (int, float))
            or input_scaling <= 0
        ):
            raise ValueError(
                "Argument `input_scaling` must be a positive number. "
                f"Received: input_scaling={input_scaling!r}"
            )
        seed_w, seed_u = (None, None) if seed is None else (seed, seed + 1)
        if kernel_initializer is None:
            kernel_initializer = keras.initializers.RandomUniform(-input_scaling, input_scaling, seed=seed_w)
        if recurrent_initializer is None:
            recurrent_initializer = keras.initializers.RandomUniform(-1.0, 1.0, seed=seed_u)
        super().__init__(
            units,
            leak_rate=leak_rate,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=SpectralRadius(spectral_radius, base=recurrent_initializer),
            seed=seed,
            **kwargs,
        )
        self.spectral_radius = float(spectral_radius)
        self.input_scaling = float(input_scaling)

    def build(self, input_shape):
        super().build(input_shape)
        for weight in self.weights:  # the reservoir is fixed
            weight.trainable = False

    def get_config(self):
        config = {
            "spectral_radius": self.spectral_radius,
            "input_scaling": self.input_scaling,
            # the draw before rescaling; __init__ wraps it in SpectralRadius again
            "recurrent_initializer": keras.initializers.serialize(self.recurrent_initializer.base),
        }
        base_config = super().get_config()
        return {**base_config, **config}
