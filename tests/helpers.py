"""The shared layer test: one helper every public layer and initializer goes through."""

import copy

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
