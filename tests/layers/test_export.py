"""`model.export()` with each cell, reloaded by TensorFlow alone in a fresh process."""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest

from rnnkit import layers as rk

CELLS = {
    "rnn": lambda: rk.SimpleRNNCell(4),
    "lstm": lambda: rk.LSTMCell(4),
    "gru": lambda: rk.GRUCell(4),
    "leaky": lambda: rk.LeakyRNNCell(4),
    "esn": lambda: rk.EchoStateCell(8, seed=0),
}

RELOAD = """
import json, sys
sys.modules["rnnkit"] = None  # from here on, `import rnnkit` raises ImportError
try:
    import rnnkit  # noqa: F401
    raise SystemExit("rnnkit is importable in the reloading process")
except ImportError:
    pass
import numpy as np
import tensorflow as tf

root, names = sys.argv[1], json.loads(sys.argv[2])
x = np.load(f"{root}/x.npy")
for name in names:
    reloaded = tf.saved_model.load(f"{root}/{name}")  # keep a reference: it owns the variables
    np.save(f"{root}/{name}.npy", reloaded.serve(tf.constant(x)).numpy())
"""


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Exports one masked, bidirectional model per cell and reloads them all in one subprocess."""
    root = tmp_path_factory.mktemp("exports")
    x = np.random.default_rng(0).normal(size=(3, 6, 2)).astype("float32")
    x[1, 4:] = 0.0  # padding, masked below
    np.save(root / "x.npy", x)
    expected = {}
    for name, make in CELLS.items():
        inputs = keras.Input((None, 2))
        h = keras.layers.Masking(0.0)(inputs)
        h = keras.layers.Bidirectional(rk.Recurrent(make(), return_sequences=True))(h)
        outputs = keras.layers.Dense(1)(rk.Recurrent(make())(h))
        model = keras.Model(inputs, outputs)
        model.export(str(root / name), verbose=False)
        expected[name] = keras.ops.convert_to_numpy(model(x))
    subprocess.run(
        [sys.executable, "-c", RELOAD, str(root), json.dumps(list(CELLS))],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return root, expected


@pytest.mark.parametrize("name", CELLS)
def test_export_reloads_without_rnnkit(exported, name):
    root, expected = exported
    np.testing.assert_allclose(np.load(root / f"{name}.npy"), expected[name], atol=1e-5)
