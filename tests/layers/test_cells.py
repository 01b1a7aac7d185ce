"""Cell arguments, `get_cell`, and the leaky and echo-state cells."""

import keras
import numpy as np
import pytest

from rnnkit import layers as rk
from tests.helpers import assert_close

ALL_CELLS = [rk.SimpleRNNCell, rk.LSTMCell, rk.GRUCell, rk.LeakyRNNCell, rk.EchoStateCell]


@pytest.mark.parametrize("cell_class", ALL_CELLS, ids=lambda c: c.__name__)
@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"units": 0}, "units"),
        ({"units": -3}, "units"),
        ({"units": 2.5}, "units"),
        ({"units": 4, "dropout": 1.5}, "dropout"),
        ({"units": 4, "dropout": -0.1}, "dropout"),
        ({"units": 4, "recurrent_dropout": 2}, "recurrent_dropout"),
    ],
)
def test_invalid_arguments_name_the_argument(cell_class, kwargs, argument):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        cell_class(**kwargs)


@pytest.mark.parametrize(
    "make, argument",
    [
        (lambda: rk.LeakyRNNCell(3, leak_rate=0.0), "leak_rate"),
        (lambda: rk.LeakyRNNCell(3, leak_rate=1.2), "leak_rate"),
        (lambda: rk.EchoStateCell(3, spectral_radius=0), "spectral_radius"),
        (lambda: rk.EchoStateCell(3, input_scaling=-1.0), "input_scaling"),
        (lambda: rk.SpectralRadius(-1.0), "radius"),
        (lambda: rk.ScaledIdentity("big"), "gain"),
    ],
)
def test_invalid_cell_specific_arguments(make, argument):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        make()


@pytest.mark.parametrize("name, cell_class", list(rk.CELLS.items()))
def test_get_cell_by_name(name, cell_class):
    cell = rk.get_cell(name.upper(), 7, dropout=0.1)
    assert type(cell) is cell_class and cell.units == 7 and cell.dropout == 0.1


def test_get_cell_unknown_name_lists_known_ones():
    with pytest.raises(ValueError, match=r"'lstm'.*'rnn'"):
        rk.get_cell("transformer", 4)


def test_get_cell_passes_instances_through():
    keras_cell = keras.layers.GRUCell(3)
    assert rk.get_cell(keras_cell, 3) is keras_cell
    with pytest.raises(ValueError, match="`cell`"):
        rk.get_cell(42, 3)


@pytest.mark.parametrize("cell_class", ALL_CELLS, ids=lambda c: c.__name__)
def test_initializers_reach_the_right_weights(cell_class):
    """`kernel_initializer` sets W (input-to-hidden), `recurrent_initializer` sets U."""
    kwargs = {} if cell_class is rk.EchoStateCell else {"recurrent_initializer": rk.ScaledIdentity(0.5)}
    cell = cell_class(3, kernel_initializer="ones", bias_initializer="zeros", **kwargs)
    cell.build((None, 2))
    np.testing.assert_array_equal(cell.kernel.numpy(), np.ones((2, 3 * cell.gates)))
    if cell_class is not rk.EchoStateCell:
        np.testing.assert_array_equal(
            cell.recurrent_kernel.numpy(), 0.5 * np.tile(np.eye(3), (1, cell.gates))
        )


def test_leaky_cell_with_rate_one_is_the_elman_cell():
    x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    leaky = rk.Recurrent(rk.LeakyRNNCell(4, leak_rate=1.0))
    elman = rk.Recurrent(rk.SimpleRNNCell(4))
    leaky.build(x.shape)
    elman.build(x.shape)
    elman.set_weights(leaky.get_weights())
    assert_close(leaky(x), elman(x))


def test_leaky_state_is_slow():
    """A small leak rate keeps the state close to where it was: |h_1 - h_0| <= a."""
    cell = rk.LeakyRNNCell(4, leak_rate=0.05)
    h0 = np.full((1, 4), 0.5, "float32")
    h1, _ = cell(np.ones((1, 3), "float32"), [h0])
    assert np.all(np.abs(h1.numpy() - h0) <= 0.05 * 2 + 1e-6)


class TestEchoStateCell:
    def test_reservoir_is_fixed(self):
        cell = rk.EchoStateCell(20, seed=0)
        layer = rk.Recurrent(cell)
        inputs = keras.Input((5, 2))
        model = keras.Model(inputs, keras.layers.Dense(1)(layer(inputs)))
        assert cell.trainable_weights == [] and len(cell.non_trainable_weights) == 3
        before = [w.numpy().copy() for w in cell.weights]
        model.compile("adam", "mse")
        model.fit(np.ones((4, 5, 2)), np.ones((4, 1)), verbose=0, epochs=2)
        for b, w in zip(before, cell.weights, strict=True):
            np.testing.assert_array_equal(b, w.numpy())

    @pytest.mark.parametrize("radius", [0.5, 0.9, 1.3])
    def test_spectral_radius_as_requested(self, radius):
        cell = rk.EchoStateCell(50, spectral_radius=radius, seed=1)
        cell.build((None, 3))
        eigenvalues = np.linalg.eigvals(cell.recurrent_kernel.numpy())
        assert abs(np.abs(eigenvalues).max() - radius) < 1e-3

    def test_input_scaling_bounds_the_kernel(self):
        cell = rk.EchoStateCell(30, input_scaling=0.2, seed=1)
        cell.build((None, 3))
        kernel = cell.kernel.numpy()
        assert np.abs(kernel).max() <= 0.2 and np.abs(kernel).max() > 0.1

    def test_same_seed_same_reservoir(self):
        a, b, c = (
            rk.EchoStateCell(10, seed=5),
            rk.EchoStateCell(10, seed=5),
            rk.EchoStateCell(10, seed=6),
        )
        for cell in (a, b, c):
            cell.build((None, 2))
        for wa, wb in zip(a.weights, b.weights, strict=True):
            np.testing.assert_array_equal(wa.numpy(), wb.numpy())
        assert not np.allclose(a.recurrent_kernel.numpy(), c.recurrent_kernel.numpy())

    def test_config_keeps_the_draw_not_the_rescaled_wrapper(self):
        cell = rk.EchoStateCell(10, spectral_radius=0.7, seed=2)
        clone = rk.EchoStateCell.from_config(cell.get_config())
        for c in (cell, clone):
            c.build((None, 2))
        np.testing.assert_array_equal(cell.recurrent_kernel.numpy(), clone.recurrent_kernel.numpy())
        assert clone.get_config() == cell.get_config()

    def test_echo_state_property_forgets_the_start(self):
        """With radius < 1, two different initial states converge under the same inputs."""
        cell = rk.EchoStateCell(40, spectral_radius=0.8, seed=3)
        layer = rk.Recurrent(cell)
        x = np.random.default_rng(0).uniform(-1, 1, size=(1, 200, 1)).astype("float32")
        layer.build(x.shape)
        h_a = layer(x, initial_state=[np.full((1, 40), 0.9, "float32")])
        h_b = layer(x, initial_state=[np.full((1, 40), -0.9, "float32")])
        assert np.abs(h_a.numpy() - h_b.numpy()).max() < 1e-4


@pytest.mark.parametrize("wrapper", [keras.layers.RNN, rk.Recurrent], ids=["keras.RNN", "Recurrent"])
@pytest.mark.parametrize("cell_class", ALL_CELLS, ids=lambda c: c.__name__)
def test_mixed_precision_trains(cell_class, wrapper):
    """Under `mixed_bfloat16` the cell computes in bfloat16 and keeps float32 weights."""
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        inputs = keras.Input((5, 3))
        layer = wrapper(cell_class(4))
        outputs = keras.layers.Dense(1, dtype="float32")(layer(inputs))
        model = keras.Model(inputs, outputs)
        model.compile("adam", "mse")
        history = model.fit(np.ones((8, 5, 3)), np.ones((8, 1)), verbose=0)
    finally:
        keras.config.set_dtype_policy("float32")
    assert layer.compute_dtype == "bfloat16"
    assert all(w.dtype == "float32" for w in layer.weights)
    assert np.isfinite(history.history["loss"][0])
