"""Deep and recursive nets: `DeepRecurrent` (stacked, with skips) and `Recursive` (over a tree).

References are written from the docstrings' equations in NumPy: the Elman stack with and
without skip connections, and a recursive evaluation of a nested-tuple tree, e.g.
`((0, 1), 2)` for the tree whose left child pairs leaves 0 and 1.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from rnnkit.layers import DeepRecurrent, GRUCell, LSTMCell, Recurrent, Recursive, SimpleRNNCell
from tests.helpers import assert_close, run_layer_test

B, T, F = 3, 6, 4  # batch, time, features


def _x(time=T, features=F, seed=0):
    return np.random.default_rng(seed).normal(size=(B, time, features)).astype("float32")


# DeepRecurrent ---------------------------------------------------------------------------


def elman_stack(x, weights, skip):
    """The docstring's equations for Elman cells; `weights` is [(W, U, b)] from the bottom up."""
    h_below, outputs = None, []
    for W, U, b in weights:
        inputs = x if h_below is None else (np.concatenate([x, h_below], -1) if skip else h_below)
        h = np.zeros((x.shape[0], x.shape[1], U.shape[0]))
        h_prev = np.zeros((x.shape[0], U.shape[0]))
        for t in range(x.shape[1]):
            h_prev = h[:, t] = np.tanh(inputs[:, t] @ W + h_prev @ U + b)
        outputs.append(h)
        h_below = h
    return np.concatenate(outputs, -1) if skip else h_below  # (B, T, width)


@pytest.mark.parametrize("skip", [True, False], ids=["skip", "plain"])
def test_deep_contract(skip, tmp_path):
    run_layer_test(lambda: DeepRecurrent([GRUCell(3), LSTMCell(2)], skip=skip), tmp_path)


@pytest.mark.parametrize("return_sequences", [True, False], ids=["sequences", "last"])
@pytest.mark.parametrize("skip", [True, False], ids=["skip", "plain"])
def test_deep_matches_numpy_equations(skip, return_sequences):
    cells = [SimpleRNNCell(units, bias_initializer="random_normal") for units in (5, 4, 3)]
    layer = DeepRecurrent(cells, skip=skip, return_sequences=return_sequences)
    x = _x()
    y = layer(x)
    # Layer 2 reads [x ; h^1] with skips: its kernel has F + 5 rows, else 5.
    assert cells[1].kernel.shape == ((F + 5 if skip else 5), 4)
    width = 5 + 4 + 3 if skip else 3
    assert tuple(y.shape) == ((B, T, width) if return_sequences else (B, width))
    expected = elman_stack(x, [[w.numpy() for w in cell.weights] for cell in cells], skip)
    assert_close(y, expected if return_sequences else expected[:, -1])


def test_without_skip_it_is_a_plain_stack_of_recurrent_layers():
    deep = DeepRecurrent([GRUCell(4), LSTMCell(3)], skip=False)
    stack = keras.Sequential([Recurrent(GRUCell(4), return_sequences=True), Recurrent(LSTMCell(3))])
    x = _x()
    deep(x), stack(x)
    stack.set_weights(deep.get_weights())
    assert_close(deep(x), stack(x))


def test_deep_masking_keeps_each_sequence_and_passes_the_mask_on():
    lengths = [6, 4, 2]
    layer = DeepRecurrent([GRUCell(3), SimpleRNNCell(2)], return_sequences=True)
    x = _x(time=6)
    mask = np.arange(6)[None, :] < np.array(lengths)[:, None]  # (B, T)
    inputs = keras.Input((None, F))
    model = keras.Model(inputs, layer(keras.layers.Masking(0.0)(inputs)))
    y = model(np.where(mask[:, :, None], x, 0.0))
    for row, length in enumerate(lengths):
        assert_close(y[row, :length], layer(x[row : row + 1, :length])[0])
    assert layer.compute_mask(x, mask) is mask  # the mask reaches the next layer


def test_skips_give_the_first_layer_a_direct_path_to_the_output():
    # Cut the stack: layer 2's weights on h^1 are zero. Then layer 1 reaches the output
    # only through the skip connection to it.
    x = tf.constant(_x())
    gradients = {}
    for skip in (True, False):
        cells = [SimpleRNNCell(4), SimpleRNNCell(3)]
        layer = DeepRecurrent(cells, skip=skip)
        layer(x)
        kernel = cells[1].kernel.numpy()
        kernel[-4:] = 0.0  # the rows that multiply h^1
        cells[1].kernel.assign(kernel)
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(layer(x) ** 2)
        gradients[skip] = np.linalg.norm(tape.gradient(loss, cells[0].kernel).numpy())
    assert gradients[False] == 0.0
    assert np.isfinite(gradients[True]) and gradients[True] > 1e-3


def test_deep_truncated_bptt_stops_every_path_k_steps_back():
    x = tf.constant(_x())
    layer = DeepRecurrent([SimpleRNNCell(4), SimpleRNNCell(3)], bptt_steps=2)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
    per_step = np.abs(tape.gradient(y, x).numpy()).sum(axis=(0, 2))  # (T,)
    assert np.all(per_step[:-2] == 0.0) and np.all(per_step[-2:] > 0.0)


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"cells": []}, "cells"),
        ({"cells": GRUCell(3)}, "cells"),
        ({"cells": [GRUCell(3)] * 2}, "cells"),
        ({"cells": [GRUCell(3)], "skip": "input"}, "skip"),
        ({"cells": [GRUCell(3)], "bptt_steps": 0}, "bptt_steps"),
    ],
    ids=["empty", "not-a-list", "shared-instance", "skip-not-bool", "bptt_steps"],
)
def test_deep_bad_arguments(kwargs, argument):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        DeepRecurrent(**kwargs)


# Recursive -------------------------------------------------------------------------------


def halves(low, high):
    """The balanced tree over leaves low..high-1 as a nested tuple, split in the middle."""
    if high - low == 1:
        return low
    middle = (low + high) // 2
    return (halves(low, middle), halves(middle, high))


def evaluate(tree, leaves, U, c):
    """The docstring's composition, applied recursively over a nested-tuple tree."""
    if isinstance(tree, int):
        return leaves[tree]
    left, right = (evaluate(child, leaves, U, c) for child in tree)
    return np.tanh(np.concatenate([left, right]) @ U + c)


def rows(tree, leaves):
    """A nested-tuple tree as `tree=` rows: children first, node `leaves + k` in row k."""
    table = []

    def visit(node):
        if isinstance(node, int):
            return node
        left, right = visit(node[0]), visit(node[1])
        table.append((left, right))
        return leaves + len(table) - 1

    visit(tree)
    return np.array(table, "int32").reshape(-1, 2)


def nested(table, leaves):
    """`tree=` rows back to a nested tuple, read down from the root (the last node)."""

    def node(index):
        return index if index < leaves else tuple(node(int(child)) for child in table[index - leaves])

    return node(2 * leaves - 2)


def recursive_reference(layer, x, trees):
    W, b, U, c = (w.numpy() for w in (layer.kernel, layer.bias, layer.recurrent_kernel, layer.recurrent_bias))
    return np.stack([evaluate(tree, x[i] @ W + b, U, c) for i, tree in enumerate(trees)])


BALANCED = {  # the lecture's balanced tree; an odd last node moves up a level
    1: 0,
    5: (((0, 1), (2, 3)), 4),
    6: (((0, 1), (2, 3)), (4, 5)),
    8: halves(0, 8),
}


def test_recursive_contract(tmp_path):
    run_layer_test(lambda: Recursive(3), tmp_path)


@pytest.mark.parametrize("leaves", BALANCED)
def test_balanced_tree_matches_numpy_recursion(leaves):
    layer = Recursive(4, bias_initializer="random_normal")
    x = _x(time=leaves)
    y = layer(x)
    assert_close(y, recursive_reference(layer, x, [BALANCED[leaves]] * B))
    assert nested(Recursive.balanced_tree(leaves), leaves) == BALANCED[leaves]


@pytest.mark.parametrize("shared", [False, True], ids=["per-example", "shared"])
def test_given_tree_matches_numpy_recursion(shared):
    chain_left, chain_right = ((((0, 1), 2), 3), 4), (0, (1, (2, (3, 4))))
    trees = [chain_left] * B if shared else [chain_left, chain_right, ((0, (1, 2)), (3, 4))]
    layer = Recursive(4, bias_initializer="random_normal")
    x = _x(time=5)
    tree = rows(chain_left, 5) if shared else np.stack([rows(t, 5) for t in trees])
    assert_close(layer(x, tree=tree), recursive_reference(layer, x, trees))
    assert_close(tf.function(layer)(x, tree=tf.constant(tree)), recursive_reference(layer, x, trees))


@pytest.mark.parametrize("leaves", [2, 7, 8])
def test_default_tree_is_the_explicit_balanced_tree(leaves):
    layer = Recursive(4)
    x = _x(time=leaves)
    assert_close(layer(x), layer(x, tree=Recursive.balanced_tree(leaves)))


def test_masked_leaves_are_pruned_from_the_tree():
    layer = Recursive(4, bias_initializer="random_normal")
    x = _x(time=5)
    mask = np.array([[1, 1, 1, 0, 0]] * B, bool)
    # Balanced: right padding gives the balanced tree over the real leaves.
    assert_close(layer(x, mask=mask), recursive_reference(layer, x, [((0, 1), 2)] * B))
    # Given: rows (root, padded leaf) carry the 3-leaf tree's root (node 6) up.
    tree = np.array([[0, 1], [5, 2], [6, 3], [7, 4]])
    assert_close(layer(x, tree=tree, mask=mask), recursive_reference(layer, x, [((0, 1), 2)] * B))


LEAVES = 8


def implication_trees(n, seed):
    """Random binary trees over 8 bits whose every node is `left -> right` (not l or r).

    Implication is not associative, so the label depends on the tree. Returns one-hot bits
    `(n, 8, 2)`, the trees `(n, 7, 2)` and the root's truth value, half of them true.
    """
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 2, size=(3 * n, LEAVES))  # about 3/4 are true: draw, then balance
    trees = np.zeros((3 * n, LEAVES - 1, 2), "int32")
    labels = np.zeros(3 * n, "float32")
    for e in range(3 * n):
        level, value = list(range(LEAVES)), [bool(bit) for bit in bits[e]]
        for k in range(LEAVES - 1):  # merge a random pair of neighbours into node LEAVES + k
            i = rng.integers(0, len(level) - 1)
            trees[e, k] = level[i], level[i + 1]
            value.append(not value[level[i]] or value[level[i + 1]])
            level[i : i + 2] = [LEAVES + k]
        labels[e] = value[-1]
    keep = np.concatenate([np.flatnonzero(labels == 0)[: n // 2], np.flatnonzero(labels == 1)[: n // 2]])
    return np.eye(2, dtype="float32")[bits[keep]], trees[keep], labels[keep]


def test_learns_implication_trees_given_the_right_tree():
    (x, tree, y), (x_test, tree_test, y_test) = implication_trees(2000, 0), implication_trees(1000, 1)
    assert y.mean() == y_test.mean() == 0.5  # the majority baseline is 50%
    accuracy = {}
    for name in ("given", "balanced"):
        leaves = keras.Input((LEAVES, 2))
        rows_in = keras.Input((LEAVES - 1, 2), dtype="int32")
        root = Recursive(8)(leaves, tree=rows_in if name == "given" else None)
        model = keras.Model([leaves, rows_in], keras.layers.Dense(1, activation="sigmoid")(root))
        model.compile(keras.optimizers.Adam(0.01), "binary_crossentropy", metrics=["accuracy"])
        model.fit([x, tree], y, epochs=3, batch_size=32, verbose=0)
        accuracy[name] = model.evaluate([x_test, tree_test], y_test, verbose=0)[1]
    # Measured over five seeds: 1.00 with the given trees, 0.81-0.86 over the balanced tree.
    assert accuracy["given"] >= 0.97
    assert accuracy["given"] > accuracy["balanced"] + 0.05


@pytest.mark.parametrize(
    "tree, message",
    [
        (np.zeros((3, 2), "int32"), "shape"),  # 5 leaves need 4 rows
        (np.zeros((4, 3), "int32"), "shape"),
        (np.zeros((B, 2, 4, 2), "int32"), "shape"),
        (np.zeros((4, 2), "float32"), "integer"),
        (np.array([[0, 1], [5, 2], [6, 3], [8, 4]]), "children before parents"),  # node 8 is row 3
        (np.array([[0, 1], [5, 2], [6, -1], [7, 4]]), "children before parents"),
    ],
    ids=["rows", "columns", "rank", "dtype", "child-after-parent", "negative"],
)
def test_bad_tree(tree, message):
    with pytest.raises(ValueError, match=f"Argument `tree`.*{message}"):
        Recursive(4)(_x(time=5), tree=tree)


def test_bad_units_and_dynamic_length():
    with pytest.raises(ValueError, match="`units`"):
        Recursive(0)
    layer = Recursive(4)
    traced = tf.function(layer, input_signature=[tf.TensorSpec((None, None, F))])
    with pytest.raises(ValueError, match="static number of leaves"):
        traced(_x())
