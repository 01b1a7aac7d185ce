"""`SpectralRadius`, `ScaledIdentity` and the initializer lookup."""

import keras
import numpy as np
import pytest

from rnnkit.layers import ScaledIdentity, SpectralRadius, initializers


@pytest.mark.parametrize("base", ["glorot_uniform", "random_normal", keras.initializers.Orthogonal(seed=3)])
@pytest.mark.parametrize("radius", [0.3, 1.0, 2.5])
def test_spectral_radius_of_square_matrix(radius, base):
    w = SpectralRadius(radius, base=base, seed=0)((16, 16)).numpy()
    assert abs(np.abs(np.linalg.eigvals(w)).max() - radius) < 1e-5


def test_spectral_radius_per_gate_block():
    w = SpectralRadius(0.7, seed=0)((6, 24)).numpy()
    for block in np.split(w, 4, axis=1):
        assert abs(np.abs(np.linalg.eigvals(block)).max() - 0.7) < 1e-5


def test_spectral_radius_keeps_the_base_direction():
    """Rescaling only: the result is the seeded base draw times a positive constant."""
    base = keras.initializers.RandomNormal(seed=4)
    drawn = base((8, 8)).numpy()
    w = SpectralRadius(0.5, base=keras.initializers.RandomNormal(seed=4))((8, 8)).numpy()
    ratio = w / drawn
    np.testing.assert_allclose(ratio, ratio.flat[0], rtol=1e-5)


def test_spectral_radius_seeded_name_is_deterministic():
    a = SpectralRadius(0.9, base="glorot_uniform", seed=7)((5, 5)).numpy()
    b = SpectralRadius(0.9, base="glorot_uniform", seed=7)((5, 5)).numpy()
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("shape", [(3, 4), (4,), (3, 3, 3)])
def test_non_square_shapes_rejected(shape):
    for init in (SpectralRadius(1.0), ScaledIdentity(1.0)):
        with pytest.raises(ValueError, match="square"):
            init(shape)


def test_scaled_identity_blocks():
    w = ScaledIdentity(2.0)((3, 9)).numpy()
    np.testing.assert_array_equal(w, 2.0 * np.tile(np.eye(3), (1, 3)))


@pytest.mark.parametrize("init", [SpectralRadius(0.8, base="random_uniform", seed=2), ScaledIdentity(0.25)])
def test_config_round_trip(init):
    config = keras.initializers.serialize(init)
    restored = keras.initializers.deserialize(config)
    assert type(restored) is type(init) and restored.get_config() == init.get_config()
    np.testing.assert_array_equal(restored((4, 4)).numpy(), init((4, 4)).numpy())


@pytest.mark.parametrize(
    "name, cls", [("spectral_radius", SpectralRadius), ("scaled_identity", ScaledIdentity)]
)
def test_names_resolve(name, cls):
    assert type(initializers.get(name)) is cls


def test_keras_names_and_objects_resolve():
    assert type(initializers.get("orthogonal")) is keras.initializers.Orthogonal
    obj = ScaledIdentity(3.0)
    assert initializers.get(obj) is obj


def test_unknown_name_lists_rnnkit_names():
    with pytest.raises(ValueError, match="scaled_identity"):
        initializers.get("no_such_initializer")
