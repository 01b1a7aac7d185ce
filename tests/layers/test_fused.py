"""The fused recurrence (`rnnkit.layers.fused`): the same math as the cells' own step.

Every comparison runs one layer on the compiled op and its twin (`fused=False`) on the
cell's `recurrent_step` in Keras's loop, with the same weights, and compares outputs,
final states and the gradients of a loss that reads all of them, with respect to the
inputs, the initial state and every weight.
"""

import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from rnnkit.layers import (
    EchoStateCell,
    GRUCell,
    LeakyRNNCell,
    LSTMCell,
    Recurrent,
    SimpleRNNCell,
    fused,
)

pytestmark = pytest.mark.skipif(not fused.available(), reason="the fused op could not be built here")

CELLS = {
    "elman": (lambda: SimpleRNNCell(7), "leaky"),
    "leaky": (lambda: LeakyRNNCell(7, leak_rate=0.3), "leaky"),
    "esn": (lambda: EchoStateCell(7, seed=1), "leaky"),
    "lstm": (lambda: LSTMCell(7), "lstm"),
    "gru": (lambda: GRUCell(7), "gru"),
    "gru_v1": (lambda: GRUCell(7, reset_after=False), "gru_v1"),
}
RNG = np.random.default_rng(0)
X = RNG.normal(size=(6, 9, 5)).astype("float32")
MASK = np.ones((6, 9), bool)
MASK[1, 6:] = False  # right padding
MASK[2, :3] = False  # left padding
MASK[3, 4] = False  # a hole


def twins(make, x=X, **kwargs):
    """A fused layer and its Keras-loop twin with the same (perturbed) weights."""
    a, b = Recurrent(make(), **kwargs), Recurrent(make(), fused=False, **kwargs)
    a(x[:, :2]), b(x[:, :2])
    weights = [w + RNG.normal(size=w.shape).astype("float32") * 0.3 for w in a.get_weights()]
    a.set_weights(weights)
    b.set_weights(weights)
    return a, b


def outputs_and_gradients(layer, x=X, mask=None, initial_state=None, training=False):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        if initial_state is not None:
            tape.watch(initial_state)
        out = layer(x, mask=mask, initial_state=initial_state, training=training)
        outs = list(out) if isinstance(out, (list, tuple)) else [out]
        loss = sum(tf.reduce_sum(tf.sin(o * (i + 1.0))) for i, o in enumerate(outs))
    sources = [x] + list(initial_state or []) + list(layer.trainable_weights)
    return [o.numpy() for o in outs], [g.numpy() for g in tape.gradient(loss, sources)]


def assert_twins_agree(a, b, atol=2e-5, **kwargs):
    (outs_a, grads_a), (outs_b, grads_b) = (outputs_and_gradients(layer, **kwargs) for layer in (a, b))
    for p, q in zip(outs_a + grads_a, outs_b + grads_b, strict=True):
        np.testing.assert_allclose(p, q, rtol=1e-5, atol=atol)


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("masked", [False, True], ids=["dense", "masked"])
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"return_sequences": True, "return_state": True},
        {"return_sequences": True, "go_backwards": True},
        {"return_sequences": True, "zero_output_for_mask": True},
    ],
    ids=["last", "sequence+state", "backwards", "zero-masked"],
)
def test_fused_equals_the_cells_own_step(name, masked, options):
    make, kind = CELLS[name]
    a, b = twins(make, **options)
    assert a.fused_kernel()[0] == kind and b.fused_kernel() is None
    assert_twins_agree(a, b, mask=MASK if masked else None)


@pytest.mark.parametrize("name", ["lstm", "gru", "gru_v1"])
def test_wide_weights_are_multiplied_a_panel_group_at_a_time(name):
    """600 features and 40 units: the packed weights outgrow one cache-sized group of
    panels (gemm.h's Multiply), so each step's product runs over several groups, the last
    one short, and over 7 rows (a full register tile and one row). The kernel's gradient
    sums 600 products in another order than Keras's, hence the wider absolute tolerance."""
    x = RNG.normal(size=(7, 3, 600)).astype("float32")
    units = {"lstm": LSTMCell, "gru": GRUCell, "gru_v1": lambda n: GRUCell(n, reset_after=False)}[name]
    a, b = twins(lambda: units(40), x=x, return_sequences=True)
    assert_twins_agree(a, b, atol=1e-4, x=x, training=True)


@pytest.mark.parametrize("name", CELLS)
def test_only_training_keeps_the_gates_and_both_modes_differentiate(name):
    """training=True writes the gates out for the gradient; inference does not, and a
    gradient asked for anyway runs the loop again: the same values in both modes."""
    a, b = twins(CELLS[name][0], return_sequences=True, return_state=True)
    assert_twins_agree(a, b, mask=MASK, training=True)
    inferred, trained = (outputs_and_gradients(a, mask=MASK, training=t) for t in (False, True))
    for p, q in zip(inferred[0] + inferred[1], trained[0] + trained[1], strict=True):
        np.testing.assert_allclose(p, q, rtol=1e-6, atol=1e-6)
    for training in (False, True):
        trace = tf.function(lambda x, t=training: a(x, training=t))
        graph = trace.get_concrete_function(tf.TensorSpec(X.shape)).graph
        (op,) = [op for op in graph.get_operations() if op.type == "RnnkitRecurrence"]
        assert op.get_attr("save") is training and (op.outputs[2].shape[0] == 0) is not training


@pytest.mark.parametrize("name", ["lstm", "gru", "elman"])
def test_initial_state_and_its_gradient(name):
    a, b = twins(CELLS[name][0])
    states = [tf.constant(RNG.normal(size=(6, 7)).astype("float32")) for _ in a.cell.get_initial_state(1)]
    assert_twins_agree(a, b, initial_state=states)


def test_batch_shards_on_every_thread_and_concurrent_ops_agree():
    """A batch of 40 runs in one shard per intra-op thread (the op's helper threads); the two
    directions of a Bidirectional layer in one tf.function may run at once (one op on the
    helpers, the other on TensorFlow's pool). Both must equal Keras's loop, gradients too.
    In a process of its own with 4 intra-op threads: the suite's workers run with one."""
    script = """
import keras, numpy as np, tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(4)
from rnnkit.layers import LSTMCell, Recurrent
x = tf.constant(np.random.default_rng(1).normal(size=(40, 9, 5)).astype("float32"))
mask = tf.constant(np.arange(9)[None, :] < np.random.default_rng(2).integers(3, 10, size=(40, 1)))
fused_bi = keras.layers.Bidirectional(Recurrent(LSTMCell(16), return_sequences=True))
plain_bi = keras.layers.Bidirectional(Recurrent(LSTMCell(16), return_sequences=True, fused=False))
fused_bi(x), plain_bi(x)
plain_bi.set_weights(fused_bi.get_weights())

@tf.function
def run(layer):
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(tf.sin(layer(x, mask=mask, training=True)))
    return [loss, *tape.gradient(loss, [x, *layer.trainable_weights])]

for p, q in zip(run(fused_bi), run(plain_bi), strict=True):
    np.testing.assert_allclose(p, q, rtol=1e-5, atol=5e-5)
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-2000:]


@pytest.mark.parametrize("name", ["lstm", "gru_v1"])
def test_truncated_bptt_and_bidirectional_wrappers(name):
    a, b = twins(CELLS[name][0], return_sequences=True, bptt_steps=4)
    assert_twins_agree(a, b, mask=MASK)
    forward, backward = twins(CELLS[name][0], return_sequences=True)
    bi_a, bi_b = keras.layers.Bidirectional(forward), keras.layers.Bidirectional(backward)
    bi_a(X), bi_b(X)
    bi_b.set_weights(bi_a.get_weights())
    np.testing.assert_allclose(bi_a(X, mask=MASK), bi_b(X, mask=MASK), rtol=1e-5, atol=2e-5)


def test_input_dropout_is_applied_before_the_fused_loop():
    a, b = twins(lambda: LSTMCell(7, dropout=0.5, seed=3))  # equal seeds: equal masks
    assert a.fused_kernel(training=True) == ("lstm", 1.0)
    dropped = a(X, training=True)
    np.testing.assert_allclose(dropped, b(X, training=True), rtol=1e-5, atol=2e-5)
    assert not np.allclose(dropped, a(X, training=False))


def test_cells_outside_the_kernels_math_take_keras_loop():
    class OwnStep(LSTMCell):
        def recurrent_step(self, projected, states, training=False):
            return super().recurrent_step(projected, states, training)

    assert fused.kernel_for(LSTMCell(3, recurrent_activation="hard_sigmoid")) is None
    assert fused.kernel_for(SimpleRNNCell(3, activation="relu")) is None
    assert fused.kernel_for(OwnStep(3)) is None
    assert fused.kernel_for(LSTMCell(3, dtype="mixed_float16")) is None
    dropping = LSTMCell(3, recurrent_dropout=0.2)
    assert fused.kernel_for(dropping, training=True) is None
    assert fused.kernel_for(dropping, training=False) == ("lstm", 1.0)
    assert Recurrent(LSTMCell(3), unroll=True).fused_kernel() is None
    with fused.portable():
        assert fused.kernel_for(LSTMCell(3)) is None
    assert fused.kernel_for(LeakyRNNCell(3, leak_rate=0.25)) == ("leaky", 0.25)


def test_fused_argument_is_checked_and_saved(tmp_path):
    with pytest.raises(ValueError, match="`fused` must be True or False"):
        Recurrent(LSTMCell(3), fused="yes")
    inputs = keras.Input((9, 5))
    model = keras.Model(inputs, Recurrent(GRUCell(4), fused=False)(inputs))
    model.save(tmp_path / "m.keras")
    reloaded = keras.models.load_model(tmp_path / "m.keras")
    assert reloaded.layers[-1].fused is False
    np.testing.assert_allclose(model(X), reloaded(X), atol=1e-6)


def test_fit_trains_through_the_fused_gradient():
    inputs = keras.Input((9, 5))
    model = keras.Model(inputs, keras.layers.Dense(1)(Recurrent(LSTMCell(8))(inputs)))
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    y = X[:, :, :1].sum(axis=1)
    history = model.fit(X, y, epochs=30, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]


def test_jit_compile_falls_back_from_xla():
    inputs = keras.Input((9, 5))
    model = keras.Model(inputs, keras.layers.Dense(1)(Recurrent(LSTMCell(4))(inputs)))
    with pytest.warns(UserWarning, match="jit_compile"):
        model.compile(optimizer="adam", loss="mse", jit_compile=True)
    model.fit(X, X[:, 0, :1], epochs=1, verbose=0)


def test_exports_hold_no_fused_op(tmp_path):
    inputs = keras.Input((9, 5))
    model = keras.Model(inputs, Recurrent(LSTMCell(4))(inputs))
    model.predict(X, verbose=0)  # traced with the fused op for prediction
    model.export(str(tmp_path / "export"), verbose=False)
    assert b"RnnkitRecurrence" not in (tmp_path / "export" / "saved_model.pb").read_bytes()
    tf.saved_model.save(model, str(tmp_path / "saved"))
    assert b"RnnkitRecurrence" not in (tmp_path / "saved" / "saved_model.pb").read_bytes()
    reloaded = tf.saved_model.load(str(tmp_path / "export"))  # keep it: it owns the variables
    np.testing.assert_allclose(reloaded.serve(X), model(X), atol=1e-5)


def test_more_helper_threads_than_shards_run_each_shard_once():
    """With 4 intra-op threads, a batch of 8 runs in 2 shards and leaves 2 of the op's 3
    helper threads idle; a batch of 40 uses all 4. Alternating them many times, every
    result must equal Keras's loop: no shard skipped or run twice."""
    script = """
import numpy as np, tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(4)
from rnnkit.layers import GRUCell, Recurrent
fused, plain = Recurrent(GRUCell(8)), Recurrent(GRUCell(8), fused=False)
rng = np.random.default_rng(0)
fused(np.zeros((1, 3, 4), "float32")), plain(np.zeros((1, 3, 4), "float32"))
plain.set_weights(fused.get_weights())
step = tf.function(lambda x: fused(x), reduce_retracing=True)
for n in range(60):
    x = rng.normal(size=(8 if n % 2 else 40, 5, 4)).astype("float32")
    np.testing.assert_allclose(step(x), plain(x), rtol=1e-5, atol=1e-5)
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-2000:]


def test_the_helper_threads_end_at_exit_in_a_process_and_its_forked_child():
    """The op's helper threads are joined when the process exits; a forked child, which has
    none of them, exits without waiting for them."""
    script = """
import os, sys
import numpy as np, tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(4)
from rnnkit.layers import GRUCell, Recurrent
assert Recurrent(GRUCell(8))(np.ones((40, 5, 4), "float32")).shape == (40, 8)  # 4 shards: 3 helpers
pid = os.fork()
if pid == 0:
    sys.exit(0)  # exit handlers run in the child
_, status = os.waitpid(pid, 0)
print("child", status)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stdout.split() == ["child", "0"], result.stderr[-2000:]
