"""Every public layer and initializer through the shared layer test."""

import keras
import pytest

from rnnkit.layers import (
    EchoStateCell,
    GRUCell,
    LeakyRNNCell,
    LSTMCell,
    Recurrent,
    ScaledIdentity,
    SimpleRNNCell,
    SpectralRadius,
)
from tests.helpers import run_layer_test

CELLS = {
    "SimpleRNNCell": lambda: SimpleRNNCell(3),
    "LSTMCell": lambda: LSTMCell(3),
    "GRUCell": lambda: GRUCell(3),
    "GRUCell-reset_before": lambda: GRUCell(3, reset_after=False),
    "LeakyRNNCell": lambda: LeakyRNNCell(3, leak_rate=0.3),
    "EchoStateCell": lambda: EchoStateCell(6, seed=3),
}
WRAPPERS = {"keras.RNN": keras.layers.RNN, "Recurrent": Recurrent}


@pytest.mark.parametrize("wrapper", WRAPPERS)
@pytest.mark.parametrize("cell", CELLS)
def test_cell_contract(cell, wrapper, tmp_path):
    run_layer_test(lambda: WRAPPERS[wrapper](CELLS[cell]()), tmp_path)


@pytest.mark.parametrize(
    "initializer",
    [SpectralRadius(0.8, seed=1), ScaledIdentity(0.5), "spectral_radius", "scaled_identity"],
    ids=["SpectralRadius", "ScaledIdentity", "spectral_radius-name", "scaled_identity-name"],
)
@pytest.mark.parametrize("cell_class", [SimpleRNNCell, LSTMCell], ids=lambda c: c.__name__)
def test_initializer_contract(initializer, cell_class, tmp_path):
    run_layer_test(lambda: Recurrent(cell_class(3, recurrent_initializer=initializer)), tmp_path)


def test_bidirectional_contract(tmp_path):
    run_layer_test(lambda: keras.layers.Bidirectional(Recurrent(GRUCell(3))), tmp_path)
