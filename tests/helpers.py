"""Helpers shared by the tests: the layer contract, and serving an export without rnnkit."""

import copy
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

import keras
import numpy as np
from keras import ops


def assert_close(actual, expected, atol=1e-5, rtol=1e-5):
    np.testing.assert_allclose(
        ops.convert_to_numpy(actual), ops.convert_to_numpy(expected), atol=atol, rtol=rtol
    )


def run_layer_test(make_layer, tmp_path, batch=3, time=5, features=4):
    """Checks the contract of a sequence layer `make_layer()` (B, T, F) -> (B, units).

    1. config round trip: `from_config(get_config())` gives an equal config;
    2. symbolic call: the output shape of a functional model;
    3. eager call: the same shape on real data;
    4. a `fit` step: finite loss and trainable weights that move;
    5. `.keras` save and load: equal outputs;
    6. masking: padded steps change nothing.
    """
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, time, features)).astype("float32")

    # 1. Config round trip.
    layer = make_layer()
    config = layer.get_config()
    clone = type(layer).from_config(copy.deepcopy(config))  # RNN.from_config pops 'cell'
    assert clone.get_config() == config

    # 2. Symbolic call.
    inputs = keras.Input((time, features))
    outputs = layer(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(outputs))
    assert outputs.shape[0] is None and outputs.shape[1:] == tuple(
        layer.compute_output_shape((batch, time, features))[1:]
    )

    # 3. Eager call.
    eager = layer(x)
    assert tuple(eager.shape) == (batch, *outputs.shape[1:])
    assert np.all(np.isfinite(ops.convert_to_numpy(eager)))

    # 4. One fit step.
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    before = [ops.convert_to_numpy(w).copy() for w in model.trainable_weights]
    history = model.fit(x, rng.normal(size=(batch, 1)), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    after = [ops.convert_to_numpy(w) for w in model.trainable_weights]
    assert any(not np.allclose(b, a) for b, a in zip(before, after, strict=True))

    # 5. .keras save and load.
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    assert_close(restored(x), model(x), atol=1e-6)

    # 6. Masking: zero-padding after the real steps changes nothing.
    padded = np.concatenate([x, np.zeros((batch, 2, features), "float32")], axis=1)
    masked_in = keras.Input((None, features))
    masked_model = keras.Model(masked_in, model.layers[1](keras.layers.Masking(0.0)(masked_in)))
    assert_close(masked_model(padded), layer(x), atol=1e-5)
    return model


SERVE = r"""
import importlib, pickle, sys
sys.modules["rnnkit"] = None  # `import rnnkit` fails from here on: the exports must stand alone
try:
    import rnnkit  # noqa: F401
    raise SystemExit("rnnkit is importable in the serving process")
except ImportError:
    pass
import numpy as np
import tensorflow as tf
for name in sys.argv[3:]:  # op libraries an export needs (tensorflow_text), imported before loading
    importlib.import_module(name)
assert not tf.config.list_logical_devices("GPU")


def plain(value):  # NumPy for numbers, lists of str for strings
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    value = value.numpy()
    return np.char.decode(value.astype(bytes), "utf-8").tolist() if value.dtype == object else value


calls, loaded, results = pickle.load(open(sys.argv[1], "rb")), {}, []
for path, endpoint, inputs in calls:
    if path not in loaded:
        loaded[path] = tf.saved_model.load(path)  # kept: it owns the variables
    try:
        results.append(plain(getattr(loaded[path], endpoint)(*[tf.constant(x) for x in inputs])))
    except tf.errors.OpError as error:
        results.append(ValueError(error.message))
pickle.dump(results, open(sys.argv[2], "wb"))
"""


def serve_all_without_rnnkit(calls, timeout=300, imports=()):
    """Results of `(path, endpoint, inputs)` calls, each `endpoint(*inputs)` of the SavedModel at
    `path`, made in one fresh CPU-only process in which `import rnnkit` fails and which imports
    nothing but TensorFlow and the modules named in `imports` (e.g. `"tensorflow_text"`, whose
    import registers the ops of a translation export).

    Inputs are NumPy arrays or (nested) lists; results come back as NumPy arrays, lists of str
    for strings, dicts of those for dict outputs, and `ValueError(message)` for a call that
    TensorFlow refused.
    """
    with tempfile.TemporaryDirectory() as folder:
        sent, received = Path(folder) / "calls.pkl", Path(folder) / "results.pkl"
        sent.write_bytes(
            pickle.dumps([(str(path), endpoint, list(inputs)) for path, endpoint, inputs in calls])
        )
        env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"}
        completed = subprocess.run(
            [sys.executable, "-c", SERVE, str(sent), str(received), *imports],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
        )
        assert completed.returncode == 0, completed.stderr[-3000:]
        return pickle.loads(received.read_bytes())


def serve_without_rnnkit(path, endpoint, inputs):
    """`endpoint(*inputs)` of the SavedModel at `path`, served without rnnkit (see above)."""
    (result,) = serve_all_without_rnnkit([(path, endpoint, inputs)])
    return result


def assert_same_outputs(actual, expected, rtol=1e-5, atol=1e-5):
    """Equal text, and numbers equal to float32 rounding, through dicts, lists and tensors."""
    if isinstance(expected, dict):
        assert sorted(actual) == sorted(expected)
        for key in expected:
            assert_same_outputs(actual[key], expected[key], rtol, atol)
        return
    actual, expected = ops.convert_to_numpy(actual), ops.convert_to_numpy(expected)
    if expected.dtype.kind in "SOU":
        assert actual.astype(str).tolist() == expected.astype(str).tolist()
    else:
        np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


def run_pipeline_test(cls, init_kwargs, data, tmp_path, inputs, endpoint="serve"):
    """Fit -> evaluate -> save -> load -> export -> reload: the round trip of every task.

    Args:
        cls, init_kwargs: the pipeline to build.
        data: `(train, validation, test)`, each the tuple of the pipeline's data arguments
            (`(texts, labels)`, `(series,)`, ...); validation may be None.
        inputs: a batch of raw inputs of the export's `endpoint` (a deterministic one).

    Checks that one epoch trains to a finite loss; that the loaded pipeline has the same
    config, a `model.keras` and a `config.json` only, and evaluates the same; and that the
    export, reloaded with `tf.saved_model.load`, computes what the loaded pipeline's own
    endpoint function does. Returns `(pipeline, loaded, reloaded)` for further checks.
    """
    import tensorflow as tf

    train, validation, test = data
    pipeline = cls(**init_kwargs)
    history = pipeline.fit(*train, validation_data=validation, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all() and len(history.history["loss"]) == 1
    metrics = pipeline.evaluate(*test)
    path = pipeline.save(tmp_path / "pipeline")
    assert sorted(p.name for p in path.iterdir()) == ["config.json", "model.keras"]
    loaded = cls.load(path)
    assert loaded.get_config() == pipeline.get_config()
    again = loaded.evaluate(*test)
    numbers = {k: v for k, v in metrics.items() if isinstance(v, (int, float))}
    assert numbers and all(np.isclose(again[k], v, rtol=1e-5, atol=1e-6) for k, v in numbers.items()), again
    reloaded = tf.saved_model.load(str(loaded.export(tmp_path / "saved_model")))  # owns the variables
    function = loaded.endpoints()[endpoint][0]
    assert_same_outputs(getattr(reloaded, endpoint)(tf.constant(inputs)), function(tf.constant(inputs)))
    return pipeline, loaded, reloaded
