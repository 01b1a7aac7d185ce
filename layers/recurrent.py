"""`Recurrent`: `keras.layers.RNN` with the input projection taken out of the time loop."""

import keras
from keras import ops, tree

from . import fused as fused_op
from ._keras_compat import rnn

__all__ = ["Recurrent"]

_DYNAMIC = (
    "Argument `bptt_steps` needs a static sequence length; the input's time axis is None. "
    "Give keras.Input a fixed `shape=(steps, features)`."
)


@keras.saving.register_keras_serializable(package="rnnkit")
class Recurrent(keras.layers.RNN):
    """A recurrent layer that projects the whole sequence before it loops.

    For a cell with the kernel/recurrent seam (every rnnkit cell, see `RecurrentCell`):

        A = X W + b                         one matrix product, (B, T, F) @ (F, G units)
        h_t, s_t = recurrent_step(A_t, s_{t-1})    for t = 1..T, only h_{t-1} U inside

    The input projection has no time dependence, so it runs as one large matrix
    product instead of T small ones; the loop keeps only the work that must be
    sequential. With `fused=True` (the default), for every rnnkit cell whose math a fast
    kernel holds, the whole loop runs in that kernel instead (`rnnkit.layers.fused`): on
    the CPU one compiled op that computes `x_t W + h_{t-1} U` per step in one product, one
    batch shard per core (Elman, leaky and echo-state units with tanh, LSTM, GRU; timed
    against Keras's loop and PyTorch's fused layers in `benchmarks/results/recurrent_speed.md`);
    on a GPU cuDNN, for LSTM and GRU, through the backend functions Keras's own `LSTM`
    and `GRU` call. Other cells, traces inside `fused.portable()` and SavedModel saves
    (exports), and XLA compilations step `recurrent_step` in Keras's loop. The outputs
    are those of `keras.layers.RNN(cell)` (tested to 1e-5), on every path.
    A cell without the seam (a Keras cell, a list of cells) is stepped as
    `keras.layers.RNN` steps it.

    Truncated backpropagation through time: with `bptt_steps=k` the sequence is run in
    chunks of `k` steps; the state crosses from one chunk to the next with its gradient
    stopped, so the gradient of an output reaches back at most `k` steps (to the start
    of its chunk). Each sequence starts from its initial state, so the state is reset
    at sequence boundaries; the forward pass is unchanged. With `k >= T` it is full BPTT.

    Args: those of `keras.layers.RNN` (`cell`, `return_sequences`, `return_state`,
    `go_backwards`, `stateful`, `unroll`, `zero_output_for_mask`), `bptt_steps`
    (None for full BPTT, or a positive integer `k`; needs a static sequence length) and
    `fused` (default True: a fast kernel where the cell allows it and `unroll` is
    False; False always steps the cell in Keras's loop).
    Call arguments: `sequences` `(batch, time, features)`, `initial_state`, `mask`,
    `training`. Works with masking, stacking and `keras.layers.Bidirectional`.

    Example:

    >>> from rnnkit.layers import LSTMCell
    >>> layer = Recurrent(LSTMCell(8), return_sequences=True)
    >>> layer(np.ones((2, 5, 3), "float32")).shape
    TensorShape([2, 5, 8])
    """

    def __init__(self, cell, bptt_steps=None, fused=True, **kwargs):
        super().__init__(cell, **kwargs)
        if not isinstance(fused, bool):
            raise ValueError(f"Argument `fused` must be True or False. Received: fused={fused!r}")
        self.fused = fused
        if bptt_steps is not None and (
            isinstance(bptt_steps, bool) or not isinstance(bptt_steps, int) or bptt_steps <= 0
        ):
            raise ValueError(
                f"Argument `bptt_steps` must be None or a positive integer. Received: {bptt_steps!r}"
            )
        self.bptt_steps = bptt_steps

    def build(self, sequences_shape, initial_state_shape=None):
        if self.bptt_steps is not None and sequences_shape[1] is None:
            raise ValueError(_DYNAMIC)
        self._steps = sequences_shape[1]  # a dataset may later feed batches of unknown length
        super().build(sequences_shape, initial_state_shape)
        # XLA compiles neither the fused op nor cuDNN's: a model that runs either stays off
        # XLA under `jit_compile="auto"` (and Keras warns for `jit_compile=True`). Under XLA,
        # should it come to that, `fused.kernel_for` takes Keras's loop.
        self.supports_jit = self.fused_kernel() is None

    def get_config(self):
        return {**super().get_config(), "bptt_steps": self.bptt_steps, "fused": self.fused}

    def fused_kernel(self, training=False):
        """`(kind, leak_rate)` of the kernel that runs this layer's loop here (the fused op on the
        CPU, cuDNN on a GPU: `fused.kernel_for`), or None for Keras's loop."""
        if not self.fused or self.unroll or not hasattr(self.cell, "project_inputs"):
            return None  # only a cell with the seam (every rnnkit cell) has a kernel
        return fused_op.kernel_for(self.cell, training)

    def inner_loop(self, sequences, initial_state, mask, training=False):
        steps = sequences.shape[1]
        if self.bptt_steps is None or (steps is not None and steps <= self.bptt_steps):
            return self._loop(sequences, initial_state, mask, training, self.go_backwards)
        if steps is None:  # the length the layer was built for (keras.Input) is the static one
            steps = getattr(self, "_steps", None)
            if steps is None:
                raise ValueError(_DYNAMIC)
            sequences = ops.reshape(sequences, (-1, steps, sequences.shape[-1]))
            mask = None if mask is None else ops.reshape(mask, (-1, steps))
        if self.go_backwards:  # run the reversed sequence forwards, chunk by chunk
            sequences = ops.flip(sequences, axis=1)
            mask = None if mask is None else ops.flip(mask, axis=1)
        states, last, outputs = initial_state, None, []
        for start in range(0, steps, self.bptt_steps):
            chunk_mask = None if mask is None else mask[:, start : start + self.bptt_steps]
            if start > 0:
                states = tree.map_structure(ops.stop_gradient, states)  # the truncation
            chunk_last, chunk_outputs, states = self._loop(
                sequences[:, start : start + self.bptt_steps], states, chunk_mask, training, False
            )
            if last is not None and chunk_mask is not None:
                # Keras carries the last output over masked steps; a chunk starts without it.
                seen = ops.cumsum(ops.cast(chunk_mask, "int32"), axis=1) > 0
                if self.return_sequences and not self.zero_output_for_mask:
                    chunk_outputs = ops.where(
                        seen[:, :, None], chunk_outputs, ops.stop_gradient(last)[:, None, :]
                    )
                chunk_last = ops.where(seen[:, -1:], chunk_last, last)
            last = chunk_last
            outputs.append(chunk_outputs)
        return last, ops.concatenate(outputs, axis=1) if self.return_sequences else last, states

    def _loop(self, sequences, initial_state, mask, training, go_backwards):
        """The time loop over `sequences`: a fast kernel where one applies, else the backend's
        loop, over the projected sequence when the cell has the seam."""
        kernel = self.fused_kernel(training)
        if not tree.is_nested(initial_state):
            initial_state = [initial_state]
        if kernel is None:
            return self._keras_loop(sequences, initial_state, mask, training, go_backwards)
        self.supports_jit = False
        kind, leak_rate = kernel
        inputs = self.cell.drop_inputs(sequences, training=training)  # the kernels compute x_t W + b
        if kind.startswith("cudnn"):
            return fused_op.cudnn(
                self.cell, kind, inputs, initial_state, mask,
                loop=lambda: self._keras_loop(sequences, initial_state, mask, training, go_backwards),
                return_sequences=self.return_sequences, go_backwards=go_backwards,
                zero_output_for_mask=self.zero_output_for_mask,
            )  # fmt: skip
        if go_backwards:
            inputs = ops.flip(inputs, axis=1)
            mask = None if mask is None else ops.flip(mask, axis=1)
        save = training not in (None, False)  # keep the gates for the gradient only when training
        last, outputs, states = fused_op.recurrence(
            self.cell, kind, leak_rate, inputs, initial_state, mask, self.zero_output_for_mask, save=save
        )
        return last, outputs if self.return_sequences else last, states

    def _keras_loop(self, sequences, initial_state, mask, training, go_backwards):
        """The backend's time loop (`keras.layers.RNN`'s), stepping `recurrent_step` over the
        projected sequence, or the whole cell when it has no seam."""
        project_inputs = getattr(self.cell, "project_inputs", None)
        if project_inputs is None:  # no seam: step the cell as keras.layers.RNN does
            kwargs = {"training": training} if getattr(self.cell, "_call_has_training_arg", False) else {}
            projected = sequences

            def step(x_t, states):
                output, new_states = self.cell(x_t, states, **kwargs)
                return output, new_states if tree.is_nested(new_states) else [new_states]

        else:
            projected = project_inputs(sequences, training=training)  # (B, T, G units)

            def step(projected_t, states):
                output, new_states = self.cell.recurrent_step(projected_t, states, training=training)
                return output, new_states if tree.is_nested(new_states) else [new_states]

        return rnn(
            step,
            projected,
            initial_state,
            go_backwards=go_backwards,
            mask=mask,
            unroll=self.unroll,
            input_length=sequences.shape[1],
            zero_output_for_mask=self.zero_output_for_mask,
            return_all_outputs=self.return_sequences,
        )
