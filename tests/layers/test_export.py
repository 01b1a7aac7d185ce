"""`model.export()` with each cell, reloaded by TensorFlow alone in a fresh process."""

import keras
import numpy as np
import pytest

from rnnkit import layers as rk

from ..helpers import serve_all_without_rnnkit

CELLS = {
    "rnn": lambda: rk.SimpleRNNCell(4),
    "lstm": lambda: rk.LSTMCell(4),
    "gru": lambda: rk.GRUCell(4),
    "leaky": lambda: rk.LeakyRNNCell(4),
    "esn": lambda: rk.EchoStateCell(8, seed=0),
}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Exports one masked, bidirectional model per cell and reloads them all in one subprocess."""
    root = tmp_path_factory.mktemp("exports")
    x = np.random.default_rng(0).normal(size=(3, 6, 2)).astype("float32")
    x[1, 4:] = 0.0  # padding, masked below
    expected = {}
    for name, make in CELLS.items():
        inputs = keras.Input((None, 2))
        h = keras.layers.Masking(0.0)(inputs)
        h = keras.layers.Bidirectional(rk.Recurrent(make(), return_sequences=True))(h)
        outputs = keras.layers.Dense(1)(rk.Recurrent(make())(h))
        model = keras.Model(inputs, outputs)
        model.export(str(root / name), verbose=False)
        expected[name] = keras.ops.convert_to_numpy(model(x))
    served = serve_all_without_rnnkit([(root / name, "serve", [x]) for name in CELLS])
    return dict(zip(CELLS, served, strict=True)), expected


@pytest.mark.parametrize("name", CELLS)
def test_export_reloads_without_rnnkit(exported, name):
    served, expected = exported
    np.testing.assert_allclose(served[name], expected[name], atol=1e-5)
