"""`AttentionCell`: the step against NumPy, the mask, every cell, both layers, save, export."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from rnnkit import layers as rk
from rnnkit.layers.attention import AttentionCell

from ..helpers import assert_close, serve_without_rnnkit

B, S, D, F, UNITS = 3, 5, 6, 4, 7
MASK = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]], "float32")


def _memory(seed=0):
    return np.random.default_rng(seed).normal(size=(B, S, D)).astype("float32")


def _softmax(e, mask):
    e = np.where(mask > 0, e, -1e9)
    e = np.exp(e - e.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("score", ["additive", "dot"])
def test_one_step_is_the_lecture_equation(score):
    """e = v.tanh(q W_q + m W_k) or (q W_q).m; a = softmax(e); c = sum a m; h = cell([x; c])."""
    cell = AttentionCell(rk.SimpleRNNCell(UNITS), memory_dim=D, score=score)
    cell.build((None, F))
    rng = np.random.default_rng(1)
    x, h0, memory = rng.normal(size=(B, F)), rng.normal(size=(B, UNITS)), _memory()
    state = cell.initial_state(memory, MASK, [h0.astype("float32")])
    output, new_state, weights = cell.step(x.astype("float32"), state)

    w_q = cell.query_projection.kernel.numpy()
    if score == "additive":
        keys = memory @ cell.key_projection.kernel.numpy()
        v = cell.attention.scale.numpy()
        e = (v * np.tanh((h0 @ w_q)[:, None, :] + keys)).sum(-1)
    else:
        e = np.einsum("bd,bsd->bs", h0 @ w_q, memory)
    a = _softmax(e, MASK)
    context = np.einsum("bs,bsd->bd", a, memory)
    inner = cell.cell
    h = np.tanh(
        np.concatenate([x, context], -1) @ inner.kernel.numpy()
        + h0 @ inner.recurrent_kernel.numpy()
        + inner.bias.numpy()
    )
    assert_close(weights, a)
    assert_close(output, np.concatenate([h, context], -1))
    assert_close(new_state[0], h)
    assert_close(new_state[2], memory)  # the memory travels unchanged


def test_padding_gets_no_weight_and_changes_nothing():
    cell = AttentionCell(rk.GRUCell(UNITS), memory_dim=D)
    layer = keras.layers.RNN(cell, return_sequences=True)
    x = np.random.default_rng(2).normal(size=(B, 4, F)).astype("float32")
    memory = _memory()
    cell.build((None, F))
    first = layer(x, initial_state=cell.initial_state(memory, MASK))
    changed = memory.copy()
    changed[MASK == 0] = 100.0  # whatever sits under the padding
    second = layer(x, initial_state=cell.initial_state(changed, MASK))
    assert_close(first, second)
    _, _, weights = cell.step(x[:, 0], cell.initial_state(memory, MASK))
    assert np.all(weights.numpy()[MASK == 0] == 0.0)
    assert_close(weights.numpy().sum(-1), np.ones(B))


@pytest.mark.parametrize("name", sorted(rk.CELLS))
@pytest.mark.parametrize("score", ["additive", "dot"])
def test_every_cell_in_both_layers_gives_the_same_sequence(name, score):
    cell = AttentionCell(rk.get_cell(name, UNITS, seed=0), memory_dim=D, score=score)
    x = np.random.default_rng(3).normal(size=(B, 4, F)).astype("float32")
    keras_rnn = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    ours = rk.Recurrent(cell, return_sequences=True, return_state=True)
    cell.build((None, F))
    state = cell.initial_state(_memory(), MASK)
    expected, *expected_states = keras_rnn(x, initial_state=state)
    actual, *actual_states = ours(x, initial_state=state)
    assert actual.shape == (B, 4, cell.output_size)
    assert_close(actual, expected)
    assert len(actual_states) == len(cell.state_size)
    with tf.GradientTape() as tape:
        y, *_ = ours(x, initial_state=cell.initial_state(_memory(), MASK))
        loss = tf.reduce_sum(y**2)
    gradients = tape.gradient(loss, ours.trainable_weights)
    assert gradients and all(g is not None and np.isfinite(g.numpy()).all() for g in gradients)


def test_dropout_of_the_wrapped_cell_is_drawn_once_and_cleared():
    inner = rk.LSTMCell(UNITS, dropout=0.5, recurrent_dropout=0.5, seed=1)
    cell = AttentionCell(inner, memory_dim=D)
    layer = rk.Recurrent(cell, return_sequences=True)
    x = np.ones((B, 4, F), "float32")
    cell.build((None, F))
    state = cell.initial_state(_memory(), MASK)
    train = tf.function(lambda x, m: layer(x, initial_state=cell.initial_state(m, MASK), training=True))
    a, b = train(x, _memory()), train(x, _memory())  # traced graph reused: no leaked mask tensors
    assert not np.allclose(a, b)  # a fresh mask per batch
    assert inner._dropout_mask is None and inner._recurrent_dropout_mask is None
    assert_close(layer(x, initial_state=state), layer(x, initial_state=state))  # inference: no dropout


def test_gradient_reaches_the_memory():
    cell = AttentionCell(rk.GRUCell(UNITS), memory_dim=D)
    layer = keras.layers.RNN(cell)
    cell.build((None, F))
    memory = tf.constant(_memory())
    with tf.GradientTape() as tape:
        tape.watch(memory)
        y = layer(np.ones((B, 3, F), "float32"), initial_state=cell.initial_state(memory, MASK))
        total = tf.reduce_sum(y)
    gradient = tape.gradient(total, memory).numpy()
    assert np.abs(gradient[MASK == 1]).sum() > 0 and np.all(gradient[MASK == 0] == 0)


@keras.saving.register_keras_serializable(package="rnnkit_tests")
class Decoder(keras.Model):
    """A decoder over a given memory: the way `AttentionCell` is meant to be used in a model."""

    def __init__(self, score="additive", **kwargs):
        super().__init__(**kwargs)
        self.score = score
        self.cell = AttentionCell(rk.LSTMCell(UNITS), memory_dim=D, score=score)
        self.rnn = rk.Recurrent(self.cell, return_sequences=True)
        self.head = keras.layers.Dense(2)

    def call(self, inputs):
        x, memory, mask = inputs
        return self.head(self.rnn(x, initial_state=self.cell.initial_state(memory, mask)))

    def get_config(self):
        return {**super().get_config(), "score": self.score}


def _decoder_inputs():
    x = np.random.default_rng(4).normal(size=(B, 4, F)).astype("float32")
    return x, _memory(), MASK


def test_config_round_trip_and_keras_file(tmp_path):
    cell = AttentionCell(rk.GRUCell(UNITS, dropout=0.1), memory_dim=D, score="dot", attention_units=5)
    clone = AttentionCell.from_config(cell.get_config())
    assert clone.get_config() == cell.get_config()
    assert isinstance(clone.cell, rk.GRUCell) and clone.cell.dropout == 0.1
    model = Decoder()
    expected = model(_decoder_inputs())
    model.save(tmp_path / "decoder.keras")
    loaded = keras.models.load_model(tmp_path / "decoder.keras")
    assert_close(loaded(_decoder_inputs()), expected)


def test_export_serves_without_rnnkit(tmp_path):
    model = Decoder(score="dot")
    inputs = _decoder_inputs()
    expected = keras.ops.convert_to_numpy(model(inputs))
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        name="serve",
        fn=lambda x, memory, mask: model((x, memory, mask)),
        input_signature=[
            tf.TensorSpec([None, None, F], tf.float32),
            tf.TensorSpec([None, None, D], tf.float32),
            tf.TensorSpec([None, None], tf.float32),
        ],
    )
    archive.write_out(str(tmp_path / "export"), verbose=False)
    assert_close(serve_without_rnnkit(tmp_path / "export", "serve", inputs), expected)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"cell": "gru", "memory_dim": D}, "cell"),
        ({"cell": rk.GRUCell(4), "memory_dim": 0}, "memory_dim"),
        ({"cell": rk.GRUCell(4), "memory_dim": D, "score": "cosine"}, "score"),
        ({"cell": rk.GRUCell(4), "memory_dim": D, "attention_units": -1}, "attention_units"),
    ],
)
def test_bad_arguments_name_themselves(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AttentionCell(**kwargs)


def test_memory_of_the_wrong_width_and_a_missing_memory_are_explained():
    cell = AttentionCell(rk.GRUCell(4), memory_dim=D)
    with pytest.raises(ValueError, match="memory_dim"):
        cell.initial_state(np.ones((2, 3, D + 1), "float32"))
    with pytest.raises(ValueError, match="initial_state"):
        keras.layers.RNN(cell)(np.ones((2, 3, F), "float32"))
