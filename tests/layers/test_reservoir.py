"""`layers.reservoir`: the closed-form readout, memory capacity, and an ESN on a chaotic series."""

import keras
import numpy as np
import pytest
from sklearn.linear_model import Ridge

from rnnkit.apps.forecasting.data import generate_mackey_glass
from rnnkit.layers import EchoStateCell, reservoir


def _inputs(batch=2, steps=120, features=2):
    return np.random.default_rng(0).uniform(-1, 1, size=(batch, steps, features)).astype("float32")


def test_readout_solves_the_ridge_regression_exactly(tmp_path):
    cell = EchoStateCell(30, spectral_radius=0.8, seed=0)
    x = _inputs()
    states = reservoir.reservoir_states(cell, x)  # (2, 120, 30)
    w, b = np.random.default_rng(1).normal(size=(30, 2)), np.array([0.5, -1.0])
    targets = states @ w + b  # a readout exists that fits exactly
    model = reservoir.fit_readout(cell, x, targets, washout=20, ridge=0.0)
    kernel, bias = model.get_layer("readout").get_weights()
    np.testing.assert_allclose(kernel, w, atol=1e-3)
    np.testing.assert_allclose(bias, b, atol=1e-3)
    np.testing.assert_allclose(model.predict(x, verbose=0)[:, 20:], targets[:, 20:], atol=1e-3)
    model.save(tmp_path / "esn.keras")
    loaded = keras.models.load_model(tmp_path / "esn.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_readout_matches_scikit_learn_ridge():
    cell = EchoStateCell(25, seed=3)
    x = _inputs(batch=1, steps=200, features=1)
    y = np.sin(np.cumsum(x[0, :, 0]))  # any target
    model = reservoir.fit_readout(cell, x, y, washout=50, ridge=0.1)
    states = reservoir.reservoir_states(cell, x, washout=50)[0]
    expected = Ridge(alpha=0.1).fit(states, y[50:])  # the same objective; its bias is not penalised either
    np.testing.assert_allclose(model.get_layer("readout").get_weights()[0][:, 0], expected.coef_, atol=1e-4)


def test_memory_capacity_is_bounded_by_the_units_and_grows_with_the_radius():
    small = reservoir.memory_capacity(
        EchoStateCell(20, spectral_radius=0.1, input_scaling=0.1, seed=0), steps=1500
    )
    large = reservoir.memory_capacity(
        EchoStateCell(20, spectral_radius=0.95, input_scaling=0.1, seed=0), steps=1500
    )
    for capacity, r2 in (small, large):
        assert 0 < capacity <= 20 and np.all((0 <= r2) & (r2 <= 1))
    assert large[0] > small[0] + 2  # a slower-fading reservoir remembers more steps back
    assert small[1][0] > 0.9  # the last input is always recalled


def test_esn_beats_a_linear_model_on_mackey_glass():
    """One step ahead on the chaotic Mackey-Glass series: reservoir readout against linear AR(10)."""
    series = generate_mackey_glass(2200, seed=0).astype("float32")
    x, y = series[:-1] - 0.9, series[1:]  # input centred near the series' mean; next value as target
    train, washout = 1600, 100
    cell = EchoStateCell(200, spectral_radius=0.95, input_scaling=1.0, seed=0)
    model = reservoir.fit_readout(
        cell, x[None, :train, None], y[None, :train, None], washout=washout, ridge=1e-7
    )
    predicted = model.predict(x[None, :, None], verbose=0)[0, train:, 0]
    truth = y[train:]
    lags = 10
    windows = np.lib.stride_tricks.sliding_window_view(x, lags)  # windows[i] = x[i : i + lags]
    ar = Ridge(alpha=1e-7).fit(windows[: train - lags + 1], y[lags - 1 : train])
    linear = ar.predict(windows[train - lags + 1 :])
    nrmse = lambda p: np.sqrt(np.mean((p - truth) ** 2)) / np.std(truth)  # noqa: E731
    assert nrmse(predicted) < 0.5 * nrmse(linear), (nrmse(predicted), nrmse(linear))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda c: reservoir.fit_readout(c, _inputs(), np.zeros((2, 120)), washout=120), "washout"),
        (lambda c: reservoir.fit_readout(c, _inputs(), np.zeros((2, 100)), washout=10), "targets"),
        (lambda c: reservoir.fit_readout(c, _inputs(), np.zeros((2, 120)), ridge=-1), "ridge"),
        (lambda c: reservoir.reservoir_states(c, np.zeros(5)), "inputs"),
    ],
)
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call(EchoStateCell(5, seed=0))
