"""Initializers for recurrent weight matrices.

Both act block by block on gate-stacked recurrent kernels: a matrix of shape
`(units, k * units)` (k = 4 for LSTM, 3 for GRU) is treated as k square blocks, each of
which gets the property on its own. A square matrix is the case k = 1.

Besides these, every Keras initializer works (`"orthogonal"`, `keras.initializers.Orthogonal()`).
"""

import keras
from keras import ops

__all__ = ["ScaledIdentity", "SpectralRadius", "get"]


def _square_blocks(shape, name):
    """Number of `(rows, rows)` blocks in a `(rows, k * rows)` shape."""
    if len(shape) != 2 or shape[0] == 0 or shape[1] % shape[0] != 0:
        raise ValueError(
            f"{name} initializes square recurrent matrices or gate stacks of them, of shape "
            f"(units, k * units). Received: shape={tuple(shape)}"
        )
    return shape[1] // shape[0]


def _seeded(initializer, seed):
    """`initializer` resolved to an object; a name is instantiated with `seed`."""
    if isinstance(initializer, str) and seed is not None:
        cls = type(keras.initializers.get(initializer))
        return cls.from_config({**cls().get_config(), "seed": seed})
    return get(initializer)


@keras.saving.register_keras_serializable(package="rnnkit")
class SpectralRadius(keras.initializers.Initializer):
    """Draws `W0` from `base`, then rescales it to spectral radius `radius`.

        W = radius * W0 / max_k |lambda_k(W0)|

    The spectral radius (largest absolute eigenvalue) of the recurrent matrix decides
    whether signals and gradients shrink (< 1) or grow (> 1) as they travel through time;
    echo-state reservoirs are scaled to just below 1 (the echo-state property).

    Args:
        radius: target spectral radius, a positive float.
        base: initializer (name or object) the matrix is drawn from before rescaling.
            Defaults to `"glorot_uniform"`.
        seed: seed for `base` when `base` is given by name.

    Example:

    >>> init = SpectralRadius(0.9, seed=1)
    >>> w = keras.ops.convert_to_numpy(init((8, 8)))
    >>> round(float(abs(np.linalg.eigvals(w)).max()), 4)
    0.9

    Reference: Jaeger, "The echo state approach to analysing and training recurrent
    neural networks", GMD report 148 (2001).
    """

    def __init__(self, radius=1.0, base="glorot_uniform", seed=None):
        if isinstance(radius, bool) or not isinstance(radius, (int, float)) or radius <= 0:
            raise ValueError(f"Argument `radius` must be a positive number. Received: radius={radius!r}")
        self.radius = float(radius)
        self.base = _seeded(base, seed)
        self.seed = seed

    def __call__(self, shape, dtype=None):
        blocks = _square_blocks(shape, "SpectralRadius")
        rows = shape[0]
        w = ops.cast(self.base((rows, blocks * rows), dtype="float32"), "float64")
        scaled = []
        for k in range(blocks):
            block = w[:, k * rows : (k + 1) * rows]
            eigenvalues, _ = ops.eig(block)
            scaled.append(block * (self.radius / ops.max(ops.abs(eigenvalues))))
        return ops.cast(ops.concatenate(scaled, axis=1), dtype or keras.config.floatx())

    def get_config(self):
        return {
            "radius": self.radius,
            "base": keras.initializers.serialize(self.base),
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["base"] = keras.initializers.deserialize(config["base"])
        return cls(**config)


@keras.saving.register_keras_serializable(package="rnnkit")
class ScaledIdentity(keras.initializers.Initializer):
    """`W = gain * I`, the IRNN initialization of the recurrent matrix.

    With ReLU units and `gain = 1` the state is copied forward unchanged until the inputs
    move it, so gradients neither vanish nor explode at the start of training.
    Unlike `keras.initializers.Identity`, a gate stack `(units, k * units)` gets an
    identity in every block, not only the first.

    Args:
        gain: the multiplier, a float (default 1.0).

    Example:

    >>> keras.ops.convert_to_numpy(ScaledIdentity(0.5)((2, 4))).tolist()
    [[0.5, 0.0, 0.5, 0.0], [0.0, 0.5, 0.0, 0.5]]

    Reference: Le, Jaitly and Hinton, "A simple way to initialize recurrent networks of
    rectified linear units", arXiv:1504.00941 (2015).
    """

    def __init__(self, gain=1.0):
        if isinstance(gain, bool) or not isinstance(gain, (int, float)):
            raise ValueError(f"Argument `gain` must be a number. Received: gain={gain!r}")
        self.gain = float(gain)

    def __call__(self, shape, dtype=None):
        blocks = _square_blocks(shape, "ScaledIdentity")
        eye = ops.eye(shape[0], dtype=dtype or keras.config.floatx())
        return self.gain * ops.tile(eye, (1, blocks))

    def get_config(self):
        return {"gain": self.gain}


_ALIASES = {"spectral_radius": SpectralRadius, "scaled_identity": ScaledIdentity}


def get(identifier):
    """Resolves an initializer name, config or object, rnnkit's names included.

    Accepts everything `keras.initializers.get` does, plus `"spectral_radius"` and
    `"scaled_identity"` (with default arguments).
    """
    if isinstance(identifier, str) and identifier in _ALIASES:
        return _ALIASES[identifier]()
    try:
        return keras.initializers.get(identifier)
    except ValueError as error:
        raise ValueError(
            f"Unknown initializer {identifier!r}: expected a Keras initializer name or object, "
            f"or one of {sorted(_ALIASES)}."
        ) from error
