"""`Recurrent`: `keras.layers.RNN` with the input projection taken out of the time loop."""

import keras
from keras import tree

from ._keras_compat import rnn

__all__ = ["Recurrent"]


@keras.saving.register_keras_serializable(package="rnnkit")
class Recurrent(keras.layers.RNN):
    """A recurrent layer that projects the whole sequence before it loops.

    For a cell with the kernel/recurrent seam (every rnnkit cell, see `RecurrentCell`):

        A = X W + b                         one matrix product, (B, T, F) @ (F, G units)
        h_t, s_t = recurrent_step(A_t, s_{t-1})    for t = 1..T, only h_{t-1} U inside

    The input projection has no time dependence, so it runs as one large matrix
    product instead of T small ones; the loop keeps only the work that must be
    sequential. Whether that is faster depends on the device: on a 2-core CPU the
    wider per-step reads cost more than the small products they replace
    (`benchmarks/results/recurrent_speed.md`). The outputs are those of
    `keras.layers.RNN(cell)` (tested to 1e-5).
    A cell without the seam (a Keras cell, a list of cells) is stepped as
    `keras.layers.RNN` steps it.

    Args: exactly those of `keras.layers.RNN`: `cell`, `return_sequences`,
    `return_state`, `go_backwards`, `stateful`, `unroll`, `zero_output_for_mask`.
    Call arguments: `sequences` `(batch, time, features)`, `initial_state`, `mask`,
    `training`. Works with masking, stacking and `keras.layers.Bidirectional`.

    Example:

    >>> from rnnkit.layers import LSTMCell
    >>> layer = Recurrent(LSTMCell(8), return_sequences=True)
    >>> layer(np.ones((2, 5, 3), "float32")).shape
    TensorShape([2, 5, 8])
    """

    def inner_loop(self, sequences, initial_state, mask, training=False):
        project_inputs = getattr(self.cell, "project_inputs", None)
        if project_inputs is None:
            return super().inner_loop(sequences, initial_state, mask, training=training)

        projected = project_inputs(sequences, training=training)  # (B, T, G units)

        def step(projected_t, states):
            output, new_states = self.cell.recurrent_step(projected_t, states, training=training)
            return output, new_states if tree.is_nested(new_states) else [new_states]

        if not tree.is_nested(initial_state):
            initial_state = [initial_state]
        return rnn(
            step,
            projected,
            initial_state,
            go_backwards=self.go_backwards,
            mask=mask,
            unroll=self.unroll,
            input_length=sequences.shape[1],
            zero_output_for_mask=self.zero_output_for_mask,
            return_all_outputs=self.return_sequences,
        )
