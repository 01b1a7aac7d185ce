"""`Recursive`: a recursive (tree-structured) network over a sequence's leaves."""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from . import initializers as rnn_initializers
from .recurrent_cell import check_units

__all__ = ["Recursive"]


@keras.saving.register_keras_serializable(package="rnnkit")
class Recursive(keras.layers.Layer):
    """A recursive neural network: one composition applied up a binary tree (Socher 2011).

    Where a recurrent net composes its function along a chain, `T` times, a recursive
    net composes it along a tree over the `T` inputs (the leaves):

        h_i = x_i W + b                          leaf i = 0..T-1
        h_p = tanh([h_left(p) ; h_right(p)] U + c)    internal node p, children first
        y   = h_root                             the last node

    `W` is `kernel` `(features, units)`, `b` is `bias`, `U` is `recurrent_kernel`
    `(2 units, units)`, `c` is `recurrent_bias`; `tanh` is `activation`. Every internal
    node uses the same `U` and `c`, as every time step of an RNN uses the same `U`.

    The tree, per call:

    - `tree=None`: the balanced binary tree the lecture names, independent of the data.
      Level by level, neighbours are paired, (0, 1), (2, 3), ...; with an odd count the
      last node is carried up to the next level unchanged. A root is `ceil(log2 T)`
      compositions above every leaf instead of up to `T` along a chain, and each level is
      one batched matrix product. Needs a static `T`. `Recursive.balanced_tree(T)` gives
      this tree as an array for `tree=`.
    - `tree`: int `(T-1, 2)`, one tree shared by the batch, or `(batch, T-1, 2)`, a tree
      per example (a parse tree, say). Row `k` lists the (left, right) children of
      node `T + k`, as indices into the nodes `[leaf 0, ..., leaf T-1, node T, ...,
      node 2T-2]`; a child comes before its parent (index below `T + k`), so rows are in
      topological order, and the root is node `2T-2`. The nodes are computed one at a
      time, `T-1` steps of a loop that each write a buffer of all `2T-1` nodes (`O(T^2)`
      work in all; fine for sentence-sized trees).

    Masking prunes padded leaves from the tree: a node with one real child is that child,
    a node with none is padding too. With right padding the balanced tree over `T` slots
    becomes the balanced tree over the real leaves; with a given tree, a shorter example
    pads its rows with (its root, a padded leaf), which carry its root up.

    Args:
        units: dimensionality of `h`, a positive integer.
        activation: the composition's nonlinearity (default `"tanh"`).
        use_bias: whether to add `b` and `c` (default True).
        kernel_initializer: initializer of `W`, the leaf projection (default `"glorot_uniform"`).
        recurrent_initializer: initializer of `U`, the composition (default `"glorot_uniform"`).
        bias_initializer: initializer of `b` and `c` (default `"zeros"`).

    Call arguments:
        sequences: the leaves `x`, shape `(batch, T, features)`.
        tree: None or int `(T-1, 2)` / `(batch, T-1, 2)`, as above. Its indices are
            checked when it is a concrete array (eagerly), not inside a traced graph.
        mask: `(batch, T)` booleans, True at real leaves.

    Returns:
        The root `y`, shape `(batch, units)`.

    Example:

    >>> layer = Recursive(4)
    >>> layer(np.ones((2, 6, 3), "float32")).shape
    TensorShape([2, 4])
    >>> Recursive.balanced_tree(5).tolist()  # nodes 5, 6 pair leaves; 7 pairs them; 8 adds leaf 4
    [[0, 1], [2, 3], [5, 6], [7, 4]]
    >>> chain = [[0, 1], [5, 2], [6, 3], [7, 4]]  # ((((0 1) 2) 3) 4), a left-branching tree
    >>> layer(np.ones((2, 5, 3), "float32"), tree=np.array(chain)).shape
    TensorShape([2, 4])

    Reference: Socher, Lin, Ng and Manning, "Parsing natural scenes and natural language
    with recursive neural networks", ICML 2011; Goodfellow, Bengio and Courville, Deep
    Learning (2016), section 10.6.
    """

    def __init__(
        self,
        units,
        activation="tanh",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = check_units(units)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = rnn_initializers.get(kernel_initializer)
        self.recurrent_initializer = rnn_initializers.get(recurrent_initializer)
        self.bias_initializer = rnn_initializers.get(bias_initializer)
        self.supports_masking = True

    def build(self, sequences_shape):
        self.kernel = self.add_weight(
            shape=(sequences_shape[-1], self.units), name="kernel", initializer=self.kernel_initializer
        )
        self.recurrent_kernel = self.add_weight(
            shape=(2 * self.units, self.units),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
        )
        if self.use_bias:
            self.bias = self.add_weight(shape=(self.units,), name="bias", initializer=self.bias_initializer)
            self.recurrent_bias = self.add_weight(
                shape=(self.units,), name="recurrent_bias", initializer=self.bias_initializer
            )

    @staticmethod
    def balanced_tree(leaves):
        """The tree that `tree=None` uses over `leaves` leaves, as an int array `(leaves-1, 2)`."""
        if isinstance(leaves, bool) or not isinstance(leaves, int) or leaves <= 0:
            raise ValueError(f"Argument `leaves` must be a positive integer. Received: leaves={leaves!r}")
        level, rows = list(range(leaves)), []
        while len(level) > 1:
            pairs = range(0, len(level) - 1, 2)
            parents = [leaves + len(rows) + k for k in range(len(pairs))]
            rows += [(level[i], level[i + 1]) for i in pairs]
            level = parents + level[len(level) - len(level) % 2 :]  # an odd last node moves up
        return np.array(rows, dtype="int32").reshape(-1, 2)

    # The composition -------------------------------------------------------------------

    def compose(self, h_left, h_right, real_left, real_right):
        """`tanh([h_left ; h_right] U + c)` where both children are real, else the real one.

        `h_*`: `(..., units)`; `real_*`: `(...)` booleans. Returns the parent and whether
        it is real.
        """
        h_parent = ops.matmul(ops.concatenate([h_left, h_right], axis=-1), self.recurrent_kernel)
        if self.use_bias:
            h_parent = h_parent + self.recurrent_bias
        h_parent = self.activation(h_parent)
        h_parent = ops.where(
            (real_left & real_right)[..., None],
            h_parent,
            ops.where(real_left[..., None], h_left, h_right),
        )
        return h_parent, real_left | real_right

    def call(self, sequences, tree=None, mask=None):
        leaves = ops.matmul(sequences, self.kernel)  # (B, T, units)
        if self.use_bias:
            leaves = leaves + self.bias
        real = ops.ones(ops.shape(leaves)[:2], "bool") if mask is None else ops.cast(mask, "bool")  # (B, T)
        if tree is None:
            return self._balanced(leaves, real)
        return self._given(leaves, real, self._check_tree(tree, sequences.shape[1]))

    def _balanced(self, nodes, real):
        """Pairs neighbours level by level, `ceil(log2 T)` batched compositions."""
        if nodes.shape[1] is None:
            raise ValueError(
                "The balanced tree (`tree=None`) needs a static number of leaves; the input's "
                "time axis is None. Give keras.Input a fixed `shape=(steps, features)` or pass `tree=`."
            )
        while nodes.shape[1] > 1:
            if nodes.shape[1] % 2:  # pad with a node that is not real, so the last one is carried up
                nodes = ops.pad(nodes, [(0, 0), (0, 1), (0, 0)])
                real = ops.pad(real, [(0, 0), (0, 1)], constant_values=False)
            pairs = ops.reshape(nodes, (-1, nodes.shape[1] // 2, 2, self.units))  # (B, n/2, 2, units)
            real_pairs = ops.reshape(real, (-1, real.shape[1] // 2, 2))
            nodes, real = self.compose(
                pairs[:, :, 0], pairs[:, :, 1], real_pairs[:, :, 0], real_pairs[:, :, 1]
            )
        return nodes[:, 0]

    def _given(self, leaves, real, tree):
        """Computes node `T + k` from its children's rows of a node buffer, for k = 0..T-2."""
        steps = ops.shape(leaves)[1]
        if len(tree.shape) == 2:
            tree = ops.broadcast_to(tree, (ops.shape(leaves)[0], *tree.shape))
        nodes = ops.concatenate([leaves, ops.zeros_like(leaves)[:, 1:]], axis=1)  # (B, 2T-1, units)
        real = ops.concatenate([real, ops.zeros_like(real)[:, 1:]], axis=1)  # (B, 2T-1)

        def step(k, carry):
            nodes, real = carry
            children = ops.take(tree, k, axis=1)  # (B, 2)
            h = ops.take_along_axis(nodes, children[:, :, None], axis=1)  # (B, 2, units)
            is_real = ops.take_along_axis(real, children, axis=1)  # (B, 2)
            h_parent, real_parent = self.compose(h[:, 0], h[:, 1], is_real[:, 0], is_real[:, 1])
            # Write row T + k; a one-hot `where` because slice_update has no gradient in TF.
            slot = ops.arange(2 * steps - 1) == steps + k  # (2T-1,)
            nodes = ops.where(slot[None, :, None], h_parent[:, None], nodes)
            real = ops.where(slot[None, :], real_parent[:, None], real)
            return nodes, real

        nodes, _ = ops.fori_loop(0, steps - 1, step, (nodes, real))
        return nodes[:, -1]

    def _check_tree(self, tree, leaves):
        """`tree` as int32, its shape checked, and its indices where they are known."""
        values = tf.get_static_value(tree)  # None inside a traced graph, where indices are unknown
        tree = ops.convert_to_tensor(tree)
        count = None if leaves is None else leaves - 1
        if len(tree.shape) not in (2, 3) or tree.shape[-1] != 2 or tree.shape[-2] not in (None, count):
            raise ValueError(
                f"Argument `tree` must have shape (T-1, 2) or (batch, T-1, 2), here T = {leaves} leaves. "
                f"Received: tree.shape={tuple(tree.shape)}"
            )
        if not keras.backend.standardize_dtype(tree.dtype).startswith(("int", "uint")):
            raise ValueError(f"Argument `tree` must hold integer indices. Received: tree.dtype={tree.dtype}")
        if values is not None and leaves is not None and values.size:
            parents = leaves + np.arange(count)[:, None]  # (T-1, 1): row k is node T + k
            if values.min() < 0 or np.any(values >= parents):
                raise ValueError(
                    "Argument `tree`: row k lists the children of node T + k, which must be indices "
                    f"in [0, T + k), children before parents. Received: tree={values.tolist()}"
                )
        return ops.cast(tree, "int32")

    def compute_output_shape(self, sequences_shape):
        return (sequences_shape[0], self.units)

    def compute_mask(self, sequences, tree=None, mask=None):
        return None

    def get_config(self):
        config = {
            "units": self.units,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": keras.initializers.serialize(self.recurrent_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }
        base_config = super().get_config()
        return {**base_config, **config}
