"""`DeepRecurrent`: stacked recurrent layers with skip connections from the input and to the output."""

import keras
from keras import ops

from .recurrent import Recurrent

__all__ = ["DeepRecurrent"]


@keras.saving.register_keras_serializable(package="rnnkit")
class DeepRecurrent(keras.layers.Layer):
    """A deep RNN: `L` recurrent layers stacked in depth, with skip connections.

    With `skip=True` (the lecture's figure, after Graves 2013, Fig. 1) the input reaches
    every layer and every layer reaches the output:

        h^1_t = cell_1(x_t, h^1_{t-1})
        h^l_t = cell_l([x_t ; h^{l-1}_t], h^l_{t-1})     l = 2..L
        y_t   = [h^1_t ; h^2_t ; ... ; h^L_t]

    With `skip=False` it is the plain stack: layer `l` reads `h^{l-1}_t` alone and
    `y_t = h^L_t`. With the skips every layer is one connection from the input and one
    from the output, however deep the stack, so the gradient reaches a lower layer
    without passing through the layers above it: the lecture's remedy for deep RNNs
    being harder to optimise (Pascanu et al. 2014).

    Each layer is a `Recurrent` over its cell, so the input projection of every layer
    runs as one matrix product before its time loop.

    Args:
        cells: a non-empty list of recurrent cells, one per layer from the bottom up
            (e.g. `[get_cell("gru", 32) for _ in range(3)]`); each must be a distinct
            instance (`clone_cell` makes copies).
        skip: whether to add the skip connections (default True).
        return_sequences: whether to return `y_t` for every step or `y_T` only
            (default False).
        bptt_steps: truncated backpropagation through time in chunks of this many
            steps, applied to every layer (see `Recurrent`; default None, full BPTT).

    Call arguments:
        sequences: `x`, shape `(batch, time, features)`.
        mask: `(batch, time)` booleans, passed to every layer; masked steps leave the
            states unchanged.
        training: whether the cells apply dropout.

    Returns:
        `(batch, width)`, or `(batch, time, width)` with `return_sequences`, where
        `width` is the sum of the cells' output sizes with `skip=True` and the last
        cell's output size without.

    Example:

    >>> from rnnkit.layers import get_cell
    >>> deep = DeepRecurrent([get_cell("gru", 8), get_cell("gru", 4)])
    >>> deep(np.ones((2, 5, 3), "float32")).shape
    TensorShape([2, 12])

    Reference: Graves, "Generating sequences with recurrent neural networks",
    arXiv:1308.0850 (2013); Pascanu, Gulcehre, Cho and Bengio, "How to construct deep
    recurrent neural networks", ICLR 2014.
    """

    def __init__(self, cells, skip=True, return_sequences=False, bptt_steps=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(cells, (list, tuple)) or not cells:
            raise ValueError(
                f"Argument `cells` must be a non-empty list of recurrent cells. Received: cells={cells!r}"
            )
        cells = [keras.saving.deserialize_keras_object(c) if isinstance(c, dict) else c for c in cells]
        if len({id(cell) for cell in cells}) < len(cells):
            raise ValueError(
                "Argument `cells` holds the same cell instance twice; each layer needs its own "
                "cell (make copies with `rnnkit.layers.clone_cell`)."
            )
        if not isinstance(skip, bool):
            raise ValueError(f"Argument `skip` must be True or False. Received: skip={skip!r}")
        # Every layer returns its whole sequence: the next layer and the output read it.
        self.recurrent_layers = [
            Recurrent(cell, return_sequences=True, bptt_steps=bptt_steps, name=f"recurrent_{index}")
            for index, cell in enumerate(cells)
        ]
        self.skip = skip
        self.return_sequences = bool(return_sequences)
        self.bptt_steps = bptt_steps
        self.supports_masking = True

    def build(self, sequences_shape):
        for layer, (input_shape, _) in zip(self.recurrent_layers, self._shapes(sequences_shape), strict=True):
            layer.build(input_shape)

    def _shapes(self, sequences_shape):
        """Each layer's input shape `(B, T, width)` and output width, from the bottom up."""
        batch, steps, features = sequences_shape
        shapes, below = [], None  # below: the output width of the layer below
        for layer in self.recurrent_layers:
            width = features if below is None else (features + below if self.skip else below)
            below = layer.compute_output_shape((batch, steps, width))[-1]
            shapes.append(((batch, steps, width), below))
        return shapes

    def call(self, sequences, mask=None, training=False):
        outputs = []
        h = None  # h^{l-1}, (B, T, units of the layer below)
        for layer in self.recurrent_layers:
            inputs = (
                sequences if h is None else (ops.concatenate([sequences, h], axis=-1) if self.skip else h)
            )
            h = layer(inputs, mask=mask, training=training)
            outputs.append(h)
        y = ops.concatenate(outputs, axis=-1) if self.skip else h  # (B, T, width)
        # A masked step repeats the output before it, so step T holds each sequence's last output.
        return y if self.return_sequences else y[:, -1]

    def compute_output_shape(self, sequences_shape):
        batch, steps, _ = sequences_shape
        widths = [width for _, width in self._shapes(sequences_shape)]
        width = sum(widths) if self.skip else widths[-1]
        return (batch, steps, width) if self.return_sequences else (batch, width)

    def compute_mask(self, sequences, mask=None):
        return mask if self.return_sequences else None

    def get_config(self):
        config = {
            "cells": [keras.saving.serialize_keras_object(layer.cell) for layer in self.recurrent_layers],
            "skip": self.skip,
            "return_sequences": self.return_sequences,
            "bptt_steps": self.bptt_steps,
        }
        base_config = super().get_config()
        return {**base_config, **config}
