"""`Seq2Seq`, the encoder-decoder network behind `TranslationPipeline`, and its preprocessing."""

import keras
from keras import ops

from rnnkit.layers import Recurrent, clone_cell
from rnnkit.layers.attention import AttentionCell

from ..generation import START_ID, RecurrentDecoder, target_ids
from ..subwords import WordPieceTokenizer

__all__ = ["Seq2Seq", "TranslationPreprocessor"]


@keras.saving.register_keras_serializable(package="rnnkit")
class TranslationPreprocessor(keras.layers.Layer):
    """Sentence pairs to WordPiece ids (`rnnkit.apps.subwords`), each side its own vocabulary.

        call(sources)    -> source ids `(B, S)`, zero-padded, at most `max_source_len` each
        targets(targets) -> ragged `(target_in, target_out)`: `[start] p_1..p_n`, `p_1..p_n [end]`

    Args:
        source_vocabulary, target_vocabulary: the pieces by id (`learn_wordpieces`): both
            begin with `[PAD]`, `[UNK]`, the target's then `[start]`, `[end]`. In the config.
        max_source_len, max_target_len: pieces kept per sentence (`[end]` included).
        lowercase: lower-case both sides first.
    """

    def __init__(
        self, source_vocabulary, target_vocabulary, max_source_len, max_target_len, lowercase=False, **kwargs
    ):
        super().__init__(**kwargs)
        self.config = {
            "source_vocabulary": list(source_vocabulary),
            "target_vocabulary": list(target_vocabulary),
            "max_source_len": max_source_len,
            "max_target_len": max_target_len,
            "lowercase": lowercase,
        }
        self.source = WordPieceTokenizer(source_vocabulary, lowercase=lowercase, name="source_pieces")
        self.target = WordPieceTokenizer(target_vocabulary, lowercase=lowercase, name="target_pieces")
        self.built = True  # no weights of its own

    def source_ids(self, texts):
        """Ragged source ids `(B, None)`, at most `max_source_len` each."""
        return self.source(texts)[:, : self.config["max_source_len"]]

    def call(self, texts):
        return self.source_ids(texts).to_tensor()

    def targets(self, texts):
        return target_ids(self.target, texts, self.config["max_target_len"])

    def get_config(self):
        return {**super().get_config(), **self.config}


@keras.saving.register_keras_serializable(package="rnnkit")
class Seq2Seq(RecurrentDecoder):
    """Encoder-decoder with optional attention (Sutskever et al. 2014; Bahdanau et al. 2015).

        encoder:  source ids -> Embedding -> Dropout -> [Bidirectional] Recurrent(cell) x layers
                  memory m_1..m_S (the last layer's outputs) and its final states
        bridge:   s_0 = tanh(W_b [final forward state ; final backward state] + b_b), per state
        decoder:  y_t = Recurrent(AttentionCell(cell) | cell)(Embedding(y_{t-1}), initial s_0)
        output:   logits_t = Dropout(y_t) W_o + b_o

    `call((source, target_in))` is teacher forcing: the decoder reads the reference shifted
    by one (`[start] w_1 .. w_n`) and is trained to emit `w_1 .. w_n [end]`. `encode` and
    `decode_step` split the same weights into the two halves a decoding loop needs; with
    attention, the decoder's state holds the last step's attention weights too.

    Args:
        source_vocab_size, target_vocab_size: vocabulary sizes, padding (id 0) included.
        cell: the template cell; every recurrent layer gets a copy of it.
        units: the decoder's state size; each encoder direction has `units` too.
        embedding_dim: width of the word vectors.
        layers: stacked encoder layers.
        bidirectional: read the source both ways.
        attention: None, `"additive"` or `"dot"`.
        dropout: dropout of the embeddings and before the output layer.
    """

    def __init__(
        self,
        source_vocab_size,
        target_vocab_size,
        cell,
        units,
        embedding_dim,
        layers=1,
        bidirectional=True,
        attention="additive",
        dropout=0.0,
        **kwargs,
    ):
        vocabularies = {"source_vocab_size": source_vocab_size, "target_vocab_size": target_vocab_size}
        sizes = {"units": units, "embedding_dim": embedding_dim, "layers": layers}
        config = {"bidirectional": bidirectional, "attention": attention, "dropout": dropout}
        super().__init__(cell, {**vocabularies, **sizes, **config}, **kwargs)
        cell = self.template
        self.source_embedding = keras.layers.Embedding(
            source_vocab_size, embedding_dim, mask_zero=True, name="source_embedding"
        )
        self.target_embedding = keras.layers.Embedding(
            target_vocab_size, embedding_dim, name="target_embedding"
        )
        self.embedding_dropout = keras.layers.Dropout(dropout)
        self.encoder = []
        for i in range(layers):
            recurrent = Recurrent(
                clone_cell(cell), return_sequences=True, return_state=True, name=f"encoder_{i}"
            )
            if bidirectional:
                recurrent = keras.layers.Bidirectional(recurrent, name=f"bidirectional_encoder_{i}")
            self.encoder.append(recurrent)
        state_size = cell.state_size if isinstance(cell.state_size, (list, tuple)) else [cell.state_size]
        self.bridges = [
            keras.layers.Dense(units, activation="tanh", name=f"bridge_{i}") for i in range(len(state_size))
        ]
        memory_dim = units * (2 if bidirectional else 1)
        decoder_cell = clone_cell(cell)
        if attention is not None:
            decoder_cell = AttentionCell(decoder_cell, memory_dim=memory_dim, score=attention)
        self.decoder_cell = decoder_cell
        self.decoder = Recurrent(decoder_cell, return_sequences=True, name="decoder")
        self.output_dropout = keras.layers.Dropout(dropout)
        self.logits = keras.layers.Dense(target_vocab_size, name="logits")

    # The two halves ------------------------------------------------------------------------

    def encode_source(self, source, training=False):
        """`(memory, memory_mask, decoder_states)` for source ids `(batch, S)`."""
        mask = ops.not_equal(source, 0)
        h = self.embedding_dropout(self.source_embedding(source), training=training)
        for layer in self.encoder:
            h, *states = layer(h, mask=mask, training=training)
        if self.config["bidirectional"]:
            half = len(states) // 2  # [forward states..., backward states...]
            states = [
                ops.concatenate([f, b], axis=-1) for f, b in zip(states[:half], states[half:], strict=True)
            ]
        states = [bridge(state) for bridge, state in zip(self.bridges, states, strict=True)]
        return h, mask, states

    def initial_decoder_state(self, memory, memory_mask, states):
        if self.config["attention"] is None:
            return states
        return self.decoder_cell.initial_state(memory, memory_mask, states)

    def encode(self, source, training=False):
        """`([start] tokens, the decoder's first state)` for source ids `(batch, S)`."""
        memory, memory_mask, states = self.encode_source(source, training=training)
        state = {"cell": self.initial_decoder_state(memory, memory_mask, states)}
        if self.config["attention"] is not None:
            state["attention"] = ops.zeros_like(memory[:, :, 0])
        return ops.full((ops.shape(source)[0],), START_ID, dtype="int32"), state

    def decode_step(self, tokens, state):
        """One decoder step at inference: `(logits (batch, V), state)`."""
        x = self.target_embedding(tokens)
        if self.config["attention"] is None:
            output, cell_state = self.decoder_cell(x, state["cell"])
            attention = {}
        else:
            output, cell_state, weights = self.decoder_cell.step(x, state["cell"])
            attention = {"attention": weights}
        cell_state = list(cell_state) if isinstance(cell_state, (list, tuple)) else [cell_state]
        return self.logits(output), {"cell": cell_state, **attention}

    # Teacher forcing -----------------------------------------------------------------------

    def call(self, inputs, training=False):
        source, target_in = inputs
        memory, memory_mask, states = self.encode_source(source, training=training)
        x = self.embedding_dropout(self.target_embedding(target_in), training=training)
        y = self.decoder(
            x,
            initial_state=self.initial_decoder_state(memory, memory_mask, states),
            mask=ops.not_equal(target_in, 0),
            training=training,
        )
        return self.logits(self.output_dropout(y, training=training))

    def example_inputs(self):
        source = ops.ones((1, 2), dtype="int32")
        return (source, source)
