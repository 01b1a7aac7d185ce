"""`layers.diagnostics`: spectral radii, ||dh_T/dh_t||, per-step gradients, gate saturation, the callback."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from rnnkit import layers as rk
from rnnkit.layers import diagnostics

T, F, UNITS = 12, 3, 6
CELL_GATES = [(rk.SimpleRNNCell, ["h"]), (rk.GRUCell, ["z", "r", "h"]), (rk.LSTMCell, ["i", "f", "c", "o"])]


def _inputs(batch=4):
    return np.random.default_rng(0).normal(size=(batch, T, F)).astype("float32")


def _built(cell):
    cell.build((None, F))
    return cell


@pytest.mark.parametrize(("make", "gates"), CELL_GATES)
def test_spectral_radius_of_each_gate_block(make, gates):
    cell = _built(make(UNITS, recurrent_initializer=rk.SpectralRadius(1.3, seed=0)))
    radii = diagnostics.spectral_radius(keras.layers.RNN(cell))
    assert list(radii) == gates
    np.testing.assert_allclose(list(radii.values()), 1.3, rtol=1e-4)


def test_effective_spectral_radius_with_leak():
    reservoir = _built(rk.EchoStateCell(50, spectral_radius=0.5, leak_rate=1.0, seed=0))
    assert diagnostics.effective_spectral_radius(reservoir) == pytest.approx(0.5, rel=1e-4)
    leaky = _built(rk.EchoStateCell(50, spectral_radius=0.5, leak_rate=0.1, seed=0))
    assert 0.9 <= diagnostics.effective_spectral_radius(leaky) <= 1.0  # (1 - a) + a * rho at most


@pytest.mark.parametrize("gain", [0.5, 1.0, 1.5])
def test_linear_elman_state_gradients_are_powers_of_the_recurrent_matrix(gain):
    """h_t = h_{t-1} U + x_t W with U = gain I: dh_T/dh_t = U^(T-t), Frobenius norm gain^(T-t) sqrt(n)."""
    cell = _built(rk.SimpleRNNCell(UNITS, activation="linear", recurrent_initializer=rk.ScaledIdentity(gain)))
    norms = diagnostics.state_gradient_norms(cell, _inputs())
    expected = gain ** (T - np.arange(T)) * np.sqrt(UNITS)
    np.testing.assert_allclose(norms, expected, rtol=1e-4)


@pytest.mark.parametrize("make", [rk.GRUCell, rk.LSTMCell])
def test_state_gradient_norms_match_batch_jacobians_step_by_step(make, monkeypatch):
    """Reference: tf's batch_jacobian of h_T with respect to h_t (other states held), one t at a time."""
    cell = _built(make(UNITS, recurrent_initializer=rk.SpectralRadius(1.2, seed=0)))
    x = _inputs()[:, :4]
    expected = []
    for t in range(4):
        states = cell.get_initial_state(batch_size=4)
        for step in range(t):
            _, states = cell(x[:, step], states)
        with tf.GradientTape() as tape:
            tape.watch(states[0])
            h_t, last = states[0], states
            for step in range(t, 4):
                _, last = cell(x[:, step], last)
        jacobians = tape.batch_jacobian(last[0], h_t).numpy()  # (B, units, units)
        expected.append(np.linalg.norm(jacobians, axis=(1, 2)).mean())
    np.testing.assert_allclose(diagnostics.state_gradient_norms(cell, x), expected, rtol=1e-5)
    monkeypatch.setattr(diagnostics, "REPLICA_ROWS", 8)  # two units per backward pass, three passes
    np.testing.assert_allclose(diagnostics.state_gradient_norms(cell, x), expected, rtol=1e-5)


def test_tanh_elman_vanishes_where_lstm_keeps_more():
    x = _inputs()
    elman = _built(rk.SimpleRNNCell(UNITS, recurrent_initializer=rk.SpectralRadius(0.5, seed=0)))
    lstm = _built(rk.LSTMCell(UNITS, recurrent_initializer=rk.SpectralRadius(0.5, seed=0)))
    elman_norms = diagnostics.state_gradient_norms(elman, x)
    assert np.all(np.diff(elman_norms) > 0)  # shrinking going back in time
    assert elman_norms[0] < 1e-3 * elman_norms[-1]
    assert diagnostics.state_gradient_norms(lstm, x)[0] > elman_norms[0]  # the forget gate's path


def _signs(batch=4):
    """x_t = +-1 on every feature, the sign drawn per step: x_t W with W = w everywhere is +-F w."""
    signs = np.random.default_rng(1).choice([-1.0, 1.0], size=(batch, T, 1))
    return np.repeat(signs, F, axis=-1).astype("float32")


@pytest.mark.parametrize(("make", "gates"), CELL_GATES)
def test_gate_saturation_of_huge_and_zero_weights(make, gates):
    """x W = +-3000 pins every gate to an end of its range; zero weights leave sigmoid(b), tanh(b)."""
    huge = _built(make(UNITS, kernel_initializer=keras.initializers.Constant(1000.0)))
    zero = _built(make(UNITS, kernel_initializer="zeros", recurrent_initializer="zeros"))
    assert diagnostics.gate_saturation(keras.layers.RNN(huge), _signs()) == dict.fromkeys(gates, 1.0)
    assert diagnostics.gate_saturation(zero, _inputs()) == dict.fromkeys(gates, 0.0)


@pytest.mark.parametrize(("make", "gates"), CELL_GATES)
def test_gate_saturation_is_a_fraction_per_gate_and_step(make, gates):
    cell = _built(make(UNITS, recurrent_initializer=rk.SpectralRadius(1.5, seed=0)))
    per_step = diagnostics.gate_saturation(cell, 3.0 * _inputs(), per_step=True)
    assert list(per_step) == gates
    for fractions in per_step.values():
        assert fractions.shape == (T,) and np.all((0.0 <= fractions) & (fractions <= 1.0))
    mean = diagnostics.gate_saturation(cell, 3.0 * _inputs())
    np.testing.assert_allclose(list(mean.values()), [f.mean() for f in per_step.values()])


@pytest.mark.parametrize(("threshold", "expected"), [(0.05, 3 / 6), (0.2, 5 / 6)])
def test_gate_saturation_counts_units_within_threshold_of_an_end(threshold, expected):
    """h = tanh(x W) with x = 1 and U = 0: the units sit at tanh values chosen by hand."""
    targets = np.array([0.97, -0.97, 0.9, -0.9, 0.0, 0.99])  # within 0.05 of +-1: three; 0.2: five
    cell = _built(rk.SimpleRNNCell(UNITS, recurrent_initializer="zeros"))
    kernel = np.tile(np.arctanh(targets) / F, (F, 1))  # (F, units): x W = arctanh(targets)
    cell.set_weights([kernel, np.zeros((UNITS, UNITS)), np.zeros(UNITS)])
    saturation = diagnostics.gate_saturation(cell, np.ones((2, T, F), "float32"), threshold=threshold)
    assert saturation == {"h": pytest.approx(expected)}


def test_gate_saturation_leaves_out_unbounded_activations():
    relu = _built(rk.SimpleRNNCell(UNITS, activation="relu"))
    assert diagnostics.gate_saturation(relu, _inputs()) == {}


def test_input_gradient_norms_per_step():
    inputs = keras.Input((T, F))
    cell = rk.SimpleRNNCell(UNITS, activation="linear", recurrent_initializer=rk.ScaledIdentity(0.7))
    model = keras.Model(inputs, keras.layers.Dense(1)(rk.Recurrent(cell)(inputs)))
    model.compile(loss="mse")
    norms = diagnostics.input_gradient_norms(model, _inputs(), np.zeros((4, 1)))
    assert norms.shape == (T,)
    np.testing.assert_allclose(norms[:-1] / norms[1:], 0.7, rtol=1e-4)  # one factor of U per step back


def test_callback_logs_and_warns_when_gradients_vanish():
    inputs = keras.Input((T, F))
    layer = rk.Recurrent(rk.SimpleRNNCell(UNITS, recurrent_initializer=rk.SpectralRadius(0.05, seed=0)))
    model = keras.Model(inputs, keras.layers.Dense(1)(layer(inputs)))
    model.compile(optimizer=keras.optimizers.SGD(1e-4), loss="mse")
    callback = diagnostics.GradientDiagnostics(layer, _inputs(), vanish=1e-3)
    with pytest.warns(RuntimeWarning, match="vanish"):
        history = model.fit(_inputs(), np.zeros((4, 1)), epochs=2, verbose=0, callbacks=[callback])
    assert len(callback.history) == 2 and callback.norms.shape == (T,)
    assert "state_gradient_first" in history.history and "spectral_radius" in history.history
    assert all(0.0 <= value <= 1.0 for value in history.history["gate_saturation_h"])
    figure = diagnostics.plot_norms({"elman": callback.norms})
    assert figure.axes[0].get_yscale() == "log"


def test_callback_warns_when_gradients_explode():
    inputs = keras.Input((T, F))
    cell = rk.SimpleRNNCell(UNITS, activation="linear", recurrent_initializer=rk.ScaledIdentity(2.0))
    layer = rk.Recurrent(cell)
    model = keras.Model(inputs, keras.layers.Dense(1)(layer(inputs)))
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    with pytest.warns(RuntimeWarning, match="explode"):
        model.fit(
            _inputs(),
            np.zeros((4, 1)),
            epochs=1,
            verbose=0,
            callbacks=[diagnostics.GradientDiagnostics(layer, _inputs(), explode=100.0)],
        )


def test_bad_arguments():
    with pytest.raises(ValueError, match="layer_or_cell"):
        diagnostics.spectral_radius(keras.layers.Dense(3))
    with pytest.raises(ValueError, match="inputs"):
        diagnostics.state_gradient_norms(_built(rk.GRUCell(UNITS)), np.ones((4, F), "float32"))


@pytest.mark.parametrize("threshold", [0.0, 0.5, -0.1, True, "0.1"])
def test_gate_saturation_bad_threshold(threshold):
    with pytest.raises(ValueError, match="threshold"):
        diagnostics.gate_saturation(_built(rk.LSTMCell(UNITS)), _inputs(), threshold=threshold)


def test_gate_saturation_bad_arguments():
    with pytest.raises(ValueError, match="inputs"):
        diagnostics.gate_saturation(_built(rk.LSTMCell(UNITS)), np.ones((4, F), "float32"))
    keras_cell = keras.layers.LSTMCell(UNITS)
    keras_cell.build((None, F))
    with pytest.raises(ValueError, match="layer_or_cell"):
        diagnostics.gate_saturation(keras_cell, _inputs())
    with pytest.raises(ValueError, match="saturation"):
        diagnostics.GradientDiagnostics(rk.Recurrent(rk.LSTMCell(UNITS)), _inputs(), saturation=0.7)
