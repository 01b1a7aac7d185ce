"""`AttentionCell`: attention over an encoder's outputs inside every decoder step."""

import keras
from keras import ops

from ._keras_compat import DropoutRNNCell

__all__ = ["SCORES", "AttentionCell"]

SCORES = ("additive", "dot")


@keras.saving.register_keras_serializable(package="rnnkit")
class AttentionCell(keras.layers.Layer, DropoutRNNCell):
    """Wraps a recurrent cell so that each step attends to a memory (the encoder's outputs).

    With the memory `m_1..m_S` (the encoder's outputs, `(batch, S, memory_dim)`) and the
    wrapped cell's previous output state `q_t = h_{t-1}` as the query, one step is
    (Bahdanau, Cho and Bengio, 2015, with the context fed into the cell):

        e_{t,s} = v . tanh(q_t W_q + m_s W_k)     score="additive" (Bahdanau)
        e_{t,s} = (q_t W_q) . m_s                 score="dot" (Luong's multiplicative score)
        a_t     = softmax_s(e_t)                  over the memory positions the mask keeps
        c_t     = sum_s a_{t,s} m_s               the context vector
        h_t, state_t = cell([x_t ; c_t], state_{t-1})
        y_t     = [h_t ; c_t]                     the output, `cell.output_size + memory_dim`

    The scores and the masked softmax are Keras's own `AdditiveAttention` (`v` is its
    `scale`) and `Attention` layers; `W_q` is `query_kernel`, `W_k` is `key_kernel`.
    `m_s W_k` has no time dependence: `initial_state` computes it once per sequence.

    The memory travels with the state, so the wrapper works in `keras.layers.RNN`,
    `rnnkit.layers.Recurrent` and a decoding loop (`rnnkit.layers.decoding`) unchanged.
    Its state is `[*cell_state, keys, memory, memory_mask]`: the wrapped cell's states,
    then `(batch, S, attention_units)`, `(batch, S, memory_dim)` and `(batch, S)` (1.0
    at real positions, 0.0 at padding). Build it with `initial_state(memory, ...)` and
    pass it as `initial_state=`; do so inside a layer's or model's `call` (or eagerly),
    since it uses the cell's weights (`W_k`).

    Args:
        cell: any recurrent cell (an rnnkit cell or a Keras one) whose first state is its
            output `h`.
        memory_dim: width of the memory, e.g. `2 * units` of a bidirectional encoder.
        score: `"additive"` or `"dot"` (default "additive").
        attention_units: width of `q W_q` and `m W_k` for the additive score (default:
            the cell's `units`); the dot score projects the query to `memory_dim`.

    Example:

    >>> from rnnkit.layers import GRUCell
    >>> cell = AttentionCell(GRUCell(8), memory_dim=6)
    >>> memory = np.ones((2, 5, 6), "float32")
    >>> decoder = keras.layers.RNN(cell, return_sequences=True)
    >>> state = cell.initial_state(memory, memory_mask=np.array([[1, 1, 1, 0, 0]] * 2))
    >>> decoder(np.ones((2, 3, 4), "float32"), initial_state=state).shape
    TensorShape([2, 3, 14])
    >>> output, state, weights = cell.step(np.ones((2, 4), "float32"), state)
    >>> [round(float(w), 3) for w in weights[0]]  # nothing on the padded positions
    [0.333, 0.333, 0.333, 0.0, 0.0]
    """

    def __init__(self, cell, memory_dim, score="additive", attention_units=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(cell, dict):
            cell = keras.layers.deserialize(cell)
        if not hasattr(cell, "state_size") or not callable(cell):
            raise ValueError(
                "Argument `cell` must be a recurrent cell (a layer with `state_size`), "
                f"e.g. rnnkit.layers.LSTMCell(64). Received: {cell!r}"
            )
        if score not in SCORES:
            raise ValueError(f"Argument `score` must be one of {list(SCORES)}. Received: score={score!r}")
        self.cell = cell
        self.memory_dim = _positive("memory_dim", memory_dim)
        self.score = score
        units = cell.state_size[0] if isinstance(cell.state_size, (list, tuple)) else cell.state_size
        self.attention_units = _positive("attention_units", attention_units or units)
        self.dropout = 0.0  # the wrapped cell owns its dropout; see get_dropout_mask
        self.recurrent_dropout = 0.0
        width = self.attention_units if score == "additive" else self.memory_dim
        self.query_projection = keras.layers.Dense(width, use_bias=False, name="query_kernel")
        if score == "additive":
            self.key_projection = keras.layers.Dense(width, use_bias=False, name="key_kernel")
            self.attention = keras.layers.AdditiveAttention(use_scale=True, name="additive_score")
        else:
            self.key_projection = None
            self.attention = keras.layers.Attention(score_mode="dot", name="dot_score")

    # Sizes -------------------------------------------------------------------------------

    @property
    def cell_state_size(self):
        size = self.cell.state_size
        return list(size) if isinstance(size, (list, tuple)) else [size]

    @property
    def state_size(self):
        # The memory entries are (batch, S, width); Keras reads only their last axis.
        keys_width = self.attention_units if self.score == "additive" else self.memory_dim
        return [*self.cell_state_size, keys_width, self.memory_dim, 1]

    @property
    def output_size(self):
        cell_output = getattr(self.cell, "output_size", None) or self.cell_state_size[0]
        return cell_output + self.memory_dim

    def build(self, input_shape):
        query_dim = self.cell_state_size[0]
        self.cell.build((input_shape[0], input_shape[-1] + self.memory_dim))
        self.query_projection.build((None, query_dim))
        width = self.query_projection.units
        if self.key_projection is not None and not self.key_projection.built:  # initial_state may have
            self.key_projection.build((None, None, self.memory_dim))
        self.attention.build([(None, 1, width), (None, None, self.memory_dim), (None, None, width)])
        self.built = True

    # The memory --------------------------------------------------------------------------

    def initial_state(self, memory, memory_mask=None, cell_states=None):
        """`[*cell_states, keys, memory, memory_mask]`, the state of the first step.

        Args:
            memory: `(batch, S, memory_dim)`, e.g. an encoder's `return_sequences` output.
            memory_mask: `(batch, S)`, true (or 1) at real positions; None keeps all.
            cell_states: the wrapped cell's first states (e.g. the encoder's final states);
                zeros when None.
        """
        memory = ops.convert_to_tensor(memory, dtype=self.compute_dtype)
        if memory.shape[-1] is not None and memory.shape[-1] != self.memory_dim:
            raise ValueError(
                f"Argument `memory` must have {self.memory_dim} features (`memory_dim`). "
                f"Received shape: {tuple(memory.shape)}"
            )
        batch = ops.shape(memory)[0]
        if memory_mask is None:
            memory_mask = ops.ones(ops.shape(memory)[:2], dtype=self.compute_dtype)
        memory_mask = ops.cast(memory_mask, self.compute_dtype)
        keys = memory if self.key_projection is None else self.key_projection(memory)  # m W_k, once
        if cell_states is None:
            cell_states = [
                ops.zeros((batch, size), dtype=self.compute_dtype) for size in self.cell_state_size
            ]
        cell_states = list(cell_states) if isinstance(cell_states, (list, tuple)) else [cell_states]
        return [*cell_states, keys, memory, memory_mask]

    def get_initial_state(self, batch_size=None):
        raise ValueError(
            "An AttentionCell has no state without its memory: pass "
            "`initial_state=cell.initial_state(memory, memory_mask)` to the recurrent layer."
        )

    # The step ----------------------------------------------------------------------------

    def step(self, inputs, states, training=False):
        """One step: `(y_t, new_states, a_t)`, with the attention weights `a_t` `(batch, S)`."""
        n = len(self.cell_state_size)
        cell_states, (keys, memory, memory_mask) = list(states[:n]), states[n:]
        query = self.query_projection(cell_states[0])[:, None, :]  # (B, 1, width)
        context, weights = self.attention(
            [query, memory, keys],
            mask=[None, ops.cast(memory_mask, "bool")],
            return_attention_scores=True,
        )
        context, weights = context[:, 0, :], weights[:, 0, :]  # (B, memory_dim), (B, S)
        cell_inputs = ops.concatenate([inputs, context], axis=-1)
        kwargs = {"training": training} if _has_training_arg(self.cell) else {}
        h, new_cell_states = self.cell(cell_inputs, cell_states[0] if n == 1 else cell_states, **kwargs)
        if not isinstance(new_cell_states, (list, tuple)):
            new_cell_states = [new_cell_states]
        output = ops.concatenate([h, context], axis=-1)
        return output, [*list(new_cell_states), keys, memory, memory_mask], weights

    def call(self, inputs, states, training=False):
        output, new_states, _ = self.step(inputs, states, training=training)
        return output, new_states

    # Dropout belongs to the wrapped cell ---------------------------------------------------

    def get_dropout_mask(self, step_input):
        if isinstance(self.cell, DropoutRNNCell):
            batch = ops.shape(step_input)[0]
            context = ops.zeros((batch, self.memory_dim), dtype=step_input.dtype)
            return self.cell.get_dropout_mask(ops.concatenate([step_input, context], axis=-1))
        return None

    def get_recurrent_dropout_mask(self, step_input):
        if isinstance(self.cell, DropoutRNNCell):
            return self.cell.get_recurrent_dropout_mask(step_input)
        return None

    def reset_dropout_mask(self):
        if isinstance(self.cell, DropoutRNNCell):
            self.cell.reset_dropout_mask()

    def reset_recurrent_dropout_mask(self):
        if isinstance(self.cell, DropoutRNNCell):
            self.cell.reset_recurrent_dropout_mask()

    # Serialisation -----------------------------------------------------------------------

    def get_config(self):
        return {
            **super().get_config(),
            "cell": keras.layers.serialize(self.cell),
            "memory_dim": self.memory_dim,
            "score": self.score,
            "attention_units": self.attention_units,
        }


def _positive(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"Argument `{name}` must be a positive integer. Received: {name}={value!r}")
    return value


def _has_training_arg(cell):
    return getattr(cell, "_call_has_training_arg", False)
