"""The GPU path (`rnnkit.layers.fused.cudnn`), tested on the CPU by forcing the dispatch.

No GPU with TensorFlow is available to this project's machines, so these tests make
`Recurrent` believe TensorFlow sees one (`fused._gpu`) and check what can be checked here:

- the arguments `Recurrent(LSTMCell)`/`Recurrent(GRUCell)` hand to the TensorFlow backend's
  `lstm`/`gru` are those `keras.layers.LSTM`/`GRU` hand it for the same weights (kernels,
  biases, masks, `go_backwards`, initial states), recorded by a stand-in for the backend;
- where cuDNN's rules do not hold, the plain loop runs: other cells and activations,
  recurrent dropout while training, a mask that is not right-padded (at run time);
- what cuDNN returns (zeros on padded steps) is turned into what Keras's loop returns;
- a trace with Keras's own GPU check forced as well holds `CudnnRNNV3`, while the export
  made meanwhile holds no `Cudnn` and no rnnkit op and serves in a CPU-only process
  without rnnkit, and the `.keras` file holds no graph at all.

What is not verified here: cuDNN's own numbers on a GPU (Keras's `_cudnn_lstm`/`_cudnn_gru`
compute them from the arguments checked here) and its speed.
"""

import importlib
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras.src import backend as keras_backend

from rnnkit.layers import GRUCell, LeakyRNNCell, LSTMCell, Recurrent, SimpleRNNCell, fused

from ..helpers import serve_without_rnnkit

RNG = np.random.default_rng(0)
X = RNG.normal(size=(5, 7, 3)).astype("float32")
RIGHT_PADDED = np.arange(7)[None, :] < np.array([[7], [5], [3], [7], [1]])
LEFT_PADDED = ~RIGHT_PADDED[:, ::-1]
UNITS = 4
TF_RNN = importlib.import_module("keras.src.backend.tensorflow.rnn")  # its `_is_gpu_available`


@pytest.fixture
def gpu(monkeypatch):
    """`Recurrent` dispatches as on a GPU; the backend's lstm/gru record their arguments and
    decline (`NotImplementedError`), as they do on a CPU, so both layers run their loops."""
    calls = []

    def recorder(name):
        def record(*args, **kwargs):
            calls.append((name, args, kwargs))
            raise NotImplementedError

        return record

    monkeypatch.setattr(fused, "_gpu", lambda: True)
    monkeypatch.setattr(keras_backend, "lstm", recorder("lstm"))
    monkeypatch.setattr(keras_backend, "gru", recorder("gru"))
    return calls


def pair(family, **options):
    """Keras's built-in layer and `Recurrent` over rnnkit's cell, with the same weights."""
    keras_layer = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[family](UNITS, **options)
    ours = Recurrent({"lstm": LSTMCell, "gru": GRUCell}[family](UNITS), **options)
    keras_layer(X), ours(X)
    weights = [w + RNG.normal(size=w.shape).astype("float32") * 0.3 for w in keras_layer.get_weights()]
    keras_layer.set_weights(weights)
    ours.set_weights(weights)
    return keras_layer, ours


def values(argument):
    if isinstance(argument, (list, tuple)):
        return [values(a) for a in argument]
    if argument is None or isinstance(argument, (bool, str)) or callable(argument):
        return argument
    return keras.ops.convert_to_numpy(argument)


def assert_same_call(ours, theirs):
    (name_a, args_a, kwargs_a), (name_b, args_b, kwargs_b) = ours, theirs
    assert name_a == name_b and len(args_a) == len(args_b) and kwargs_a.keys() == kwargs_b.keys()
    for a, b in zip(args_a, args_b, strict=True):
        np.testing.assert_array_equal(values(a), values(b))
    for key in kwargs_a:
        a, b = values(kwargs_a[key]), values(kwargs_b[key])
        if callable(a):  # the activations: the same functions
            assert a is b, key
        else:
            np.testing.assert_array_equal(a, b, err_msg=key)


@pytest.mark.parametrize("family", ["lstm", "gru"])
@pytest.mark.parametrize(
    ("options", "mask", "initial"),
    [
        ({}, None, False),
        ({"return_sequences": True}, RIGHT_PADDED, False),
        ({"return_sequences": True, "go_backwards": True}, RIGHT_PADDED, True),
        ({"go_backwards": True}, None, True),
    ],
    ids=["last", "masked-sequence", "backwards-masked-initial", "backwards-initial"],
)
def test_the_backend_gets_what_keras_layers_give_it(gpu, family, options, mask, initial):
    keras_layer, ours = pair(family, **options)
    states = [RNG.normal(size=(5, UNITS)).astype("float32") for _ in range(2 if family == "lstm" else 1)]
    kwargs = {"mask": mask, "initial_state": states if initial else None}
    assert ours.fused_kernel()[0] == f"cudnn_{family}"
    gpu.clear()
    expected = keras_layer(X, **kwargs)
    (theirs,) = gpu
    gpu.clear()
    got = ours(X, **kwargs)
    (mine,) = gpu
    assert_same_call(mine, theirs)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)  # both then ran their loops


def test_the_gru_sends_its_two_biases_as_keras_does(gpu):
    _, ours = pair("gru")
    gpu.clear()
    ours(X)
    ((_, _, kwargs),) = gpu
    assert kwargs["reset_after"] is True and values(kwargs["bias"]).shape == (2, 3 * UNITS)


def test_cells_and_settings_outside_cudnns_rules_run_the_plain_loop(gpu):
    assert fused.kernel_for(SimpleRNNCell(3)) is None  # Elman and leaky units: the plain loop
    assert fused.kernel_for(LeakyRNNCell(3, leak_rate=0.5)) is None
    assert fused.kernel_for(GRUCell(3, reset_after=False)) is None
    assert fused.kernel_for(LSTMCell(3, recurrent_activation="hard_sigmoid")) is None
    assert fused.kernel_for(LSTMCell(3, use_bias=False)) is None
    assert fused.kernel_for(LSTMCell(3, dtype="bfloat16")) is None
    assert fused.kernel_for(LSTMCell(3, dtype="mixed_float16")) == ("cudnn_lstm", 1.0)
    dropping = LSTMCell(3, recurrent_dropout=0.3)
    assert fused.kernel_for(dropping, training=True) is None
    assert fused.kernel_for(dropping, training=False) == ("cudnn_lstm", 1.0)
    with fused.portable():
        assert fused.kernel_for(LSTMCell(3)) is None
    layer = Recurrent(SimpleRNNCell(3))
    layer(X)
    assert gpu == [] and layer.supports_jit  # XLA can compile the plain loop


def test_a_mask_that_is_not_right_padded_takes_the_plain_loop_at_run_time(gpu):
    _, ours = pair("lstm", return_sequences=True)
    plain = Recurrent(LSTMCell(UNITS), return_sequences=True, fused=False)
    plain(X)
    plain.set_weights(ours.get_weights())
    gpu.clear()
    for mask in (LEFT_PADDED, np.ones_like(RIGHT_PADDED) & (np.arange(7) != 3)):  # left padding, a hole
        np.testing.assert_allclose(ours(X, mask=mask), plain(X, mask=mask), rtol=1e-5, atol=1e-5)
    assert gpu == []  # the cuDNN branch never ran
    empty_row = RIGHT_PADDED.copy()
    empty_row[4] = False  # cuDNN fails on a sequence with no step
    np.testing.assert_allclose(ours(X, mask=empty_row), plain(X, mask=empty_row), rtol=1e-5, atol=1e-5)
    assert gpu == []


def cudnn_stand_in(family):
    """The backend's lstm/gru as cuDNN returns it, computed on the CPU: padded steps give zeros
    (Keras's loop with `zero_output_for_mask`), `last_output` is the final state."""

    def run(inputs, *states_and_mask, kernel, recurrent_kernel, bias, return_sequences, go_backwards, **_):
        *states, mask = states_and_mask
        cell = {"lstm": LSTMCell, "gru": GRUCell}[family](UNITS)
        loop = Recurrent(cell, return_sequences=True, return_state=True, go_backwards=go_backwards,
                         zero_output_for_mask=True, fused=False)  # fmt: skip
        loop(inputs)
        loop.set_weights([values(kernel), values(recurrent_kernel), values(bias)])
        outputs, *final = loop(inputs, mask=mask, initial_state=list(states))
        return final[0], outputs if return_sequences else final[0][:, None], final

    return run


@pytest.mark.parametrize("family", ["lstm", "gru"])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("zero_output_for_mask", [False, True])
def test_cudnns_padded_outputs_become_keras_loops(family, go_backwards, zero_output_for_mask, monkeypatch):
    monkeypatch.setattr(fused, "_gpu", lambda: True)
    monkeypatch.setattr(keras_backend, family, cudnn_stand_in(family))
    options = {"return_sequences": True, "return_state": True, "go_backwards": go_backwards,
               "zero_output_for_mask": zero_output_for_mask}  # fmt: skip
    cell = {"lstm": LSTMCell, "gru": GRUCell}[family]
    ours, plain = Recurrent(cell(UNITS), **options), Recurrent(cell(UNITS), fused=False, **options)
    ours(X), plain(X)
    plain.set_weights(ours.get_weights())
    for got, expected in zip(ours(X, mask=RIGHT_PADDED), plain(X, mask=RIGHT_PADDED), strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def lstm_model():
    inputs = keras.Input((7, 3))
    hidden = keras.layers.Masking()(inputs)
    hidden = keras.layers.Bidirectional(Recurrent(LSTMCell(UNITS), return_sequences=True))(hidden)
    outputs = keras.layers.Dense(1)(Recurrent(GRUCell(UNITS))(hidden))
    return keras.Model(inputs, outputs)


def op_types(concrete_function):
    """The op types of a traced function, those inside its branches and loops included."""
    graph = concrete_function.graph.as_graph_def()
    types = {node.op for node in graph.node}
    for function in graph.library.function:
        types |= {node.op for node in function.node_def}
    return types


def test_forced_cudnn_traces_stay_out_of_exports_and_keras_files(monkeypatch, tmp_path):
    model = lstm_model()
    padded = X * RIGHT_PADDED[:, :, None]  # Masking: the zero steps are right padding
    expected = model(padded).numpy()  # the CPU's kernels, before any forcing
    monkeypatch.setattr(fused, "_gpu", lambda: True)
    monkeypatch.setattr(TF_RNN, "_is_gpu_available", lambda: True)  # Keras's own check too
    trace = tf.function(lambda x: model(x)).get_concrete_function(tf.TensorSpec((None, 7, 3)))
    assert "CudnnRNNV3" in op_types(trace)  # the forcing works: the trace takes cuDNN

    model.export(str(tmp_path / "export"), verbose=False)
    model.save(tmp_path / "model.keras")
    graph = (tmp_path / "export" / "saved_model.pb").read_bytes()
    assert b"Cudnn" not in graph and b"Rnnkit" not in graph
    with zipfile.ZipFile(tmp_path / "model.keras") as archive:
        assert not any(b"Cudnn" in archive.read(name) for name in archive.namelist())
    monkeypatch.undo()

    served = serve_without_rnnkit(tmp_path / "export", "serve", [padded])  # CPU only, no rnnkit
    np.testing.assert_allclose(served, expected, rtol=1e-5, atol=1e-5)
    reloaded = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    np.testing.assert_allclose(reloaded(padded), expected, rtol=1e-5, atol=1e-5)
