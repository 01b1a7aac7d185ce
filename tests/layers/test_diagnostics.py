"""`layers.diagnostics`: spectral radii, ||dh_T/dh_t||, per-step gradients, the fit callback."""

import keras
import numpy as np
import pytest

from rnnkit import layers as rk
from rnnkit.layers import diagnostics

T, F, UNITS = 12, 3, 6


def _inputs(batch=4):
    return np.random.default_rng(0).normal(size=(batch, T, F)).astype("float32")


def _built(cell):
    cell.build((None, F))
    return cell


@pytest.mark.parametrize(
    ("make", "gates"),
    [(rk.SimpleRNNCell, ["h"]), (rk.GRUCell, ["z", "r", "h"]), (rk.LSTMCell, ["i", "f", "c", "o"])],
)
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


def test_tanh_elman_vanishes_where_lstm_keeps_more():
    x = _inputs()
    elman = _built(rk.SimpleRNNCell(UNITS, recurrent_initializer=rk.SpectralRadius(0.5, seed=0)))
    lstm = _built(rk.LSTMCell(UNITS, recurrent_initializer=rk.SpectralRadius(0.5, seed=0)))
    elman_norms = diagnostics.state_gradient_norms(elman, x)
    assert np.all(np.diff(elman_norms) > 0)  # shrinking going back in time
    assert elman_norms[0] < 1e-3 * elman_norms[-1]
    assert diagnostics.state_gradient_norms(lstm, x)[0] > elman_norms[0]  # the forget gate's path


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
