"""The language model's network and its tokenizer, as Keras layers."""

import keras
import tensorflow as tf
from keras import ops

from rnnkit.layers import Recurrent, clone_cell

from ..generation import END, END_ID, START, RecurrentDecoder, split_punctuation

__all__ = ["LEVELS", "LanguageModel", "TokenLookup", "tokenize"]

LEVELS = ("char", "word")


def tokenize(texts, level="char", lowercase=False):
    """Strings `(batch,)` to ragged tokens `(batch, None)`: characters, or words with
    punctuation split off, as graph code."""
    texts = tf.strings.lower(texts, encoding="utf-8") if lowercase else texts
    if level == "char":
        return tf.strings.unicode_split(texts, "UTF-8", errors="replace")
    return tf.strings.split(split_punctuation(texts))


@keras.saving.register_keras_serializable(package="rnnkit")
class TokenLookup(keras.layers.Layer):
    """Documents `(batch,)` to ragged token ids `(batch, None)`: `tokenize`, then look up in
    `["", "[UNK]", "[start]", "[end]", *vocabulary]` (unknown tokens: `[UNK]`, 1).

    The vocabulary is in the layer's config: JSON holds any character, where Keras's
    vocabulary asset, one token per line, cannot hold a newline token.
    """

    def __init__(self, vocabulary, level="char", lowercase=False, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary, self.level, self.lowercase = list(vocabulary), level, lowercase
        self.lookup = keras.layers.StringLookup(
            vocabulary=[START, END, *self.vocabulary], mask_token="", oov_token="[UNK]", name="lookup"
        )
        self.lookup.build((None, None))  # a set vocabulary does not build it; the export needs it built
        self.built = True  # no weights of its own

    def get_vocabulary(self):
        """The tokens by id: `""`, `[UNK]`, `[start]`, `[end]`, then `vocabulary`."""
        return self.lookup.get_vocabulary()

    def call(self, texts):
        return tf.cast(self.lookup(tokenize(texts, self.level, self.lowercase)), tf.int32)

    def get_config(self):
        config = {"vocabulary": self.vocabulary, "level": self.level, "lowercase": self.lowercase}
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="rnnkit")
class LanguageModel(RecurrentDecoder):
    """Next-token logits: ids `(B, T)` -> `Embedding` -> `Dropout` -> `Recurrent(cell,
    bptt_steps=k)` x `layers` -> `Dropout` -> `Dense` logits `(B, T, V)`.

    As a decoder, `encode` reads a prompt and `decode_step` writes one token at a time, with
    the same cells.

    Args:
        vocab_size: tokens, padding included.
        cell: the template cell; each layer gets a copy.
        layers, embedding_dim: stacked recurrent layers, width of the token vectors.
        bptt_steps: truncation length of backpropagation through time, or None.
        dropout: dropout of the token vectors and before the output layer.
    """

    def __init__(self, vocab_size, cell, layers=1, embedding_dim=64, bptt_steps=None, dropout=0.0, **kwargs):
        config = {"vocab_size": vocab_size, "layers": layers, "embedding_dim": embedding_dim}
        super().__init__(cell, {**config, "bptt_steps": bptt_steps, "dropout": dropout}, **kwargs)
        cell = self.template
        self.embedding = keras.layers.Embedding(vocab_size, embedding_dim, name="embedding")
        self.embedding_dropout = keras.layers.Dropout(dropout)
        self.recurrent = [
            Recurrent(clone_cell(cell), return_sequences=True, bptt_steps=bptt_steps, name=f"recurrent_{i}")
            for i in range(layers)
        ]
        self.output_dropout = keras.layers.Dropout(dropout)
        self.logits = keras.layers.Dense(vocab_size, name="logits")

    def call(self, ids, training=False):
        h = self.embedding_dropout(self.embedding(ids), training=training)
        for layer in self.recurrent:
            h = layer(h, training=training)
        return self.logits(self.output_dropout(h, training=training))

    def decode_step(self, tokens, state):
        h = self.embedding(tokens)
        new_state = []
        for layer, layer_state in zip(self.recurrent, state, strict=True):
            h, layer_state = layer.cell(h, layer_state, training=False)
            new_state.append(list(layer_state) if isinstance(layer_state, (list, tuple)) else [layer_state])
        return self.logits(h), new_state

    def read(self, ids):
        """Texts as ragged ids `(B, None)`, each after `[end]` (a document start), token by token.

        Returns `(last ids (B,), states after all but the last token, log-likelihoods (B,),
        token counts (B,))`: the log-likelihood sums `log p(y_t | y_<t)` over the text's tokens;
        an empty text is just the document start.
        """
        ids = tf.concat([tf.fill([ids.nrows(), 1], END_ID), ids], axis=1)
        lengths = tf.cast(ids.row_lengths(), tf.int32)
        padded = ids.to_tensor()  # (B, P), zeros after each text
        batch = tf.shape(padded)[0]
        states = [
            [tf.zeros([batch, size]) for size in tf.nest.flatten(layer.cell.state_size)]
            for layer in self.recurrent
        ]

        def body(t, states, log_likelihood):
            logits, new_states = self.decode_step(padded[:, t], states)
            inside = t + 1 < lengths  # the next token is part of the text
            log_p = tf.gather(tf.nn.log_softmax(logits), padded[:, t + 1], batch_dims=1)
            log_likelihood += tf.where(inside, log_p, 0.0)
            keep = inside[:, None]
            states = tf.nest.map_structure(lambda new, old: tf.where(keep, new, old), new_states, states)
            return t + 1, states, log_likelihood

        _, states, log_likelihood = tf.while_loop(
            lambda t, *_: t < tf.shape(padded)[1] - 1, body, (0, states, tf.zeros([batch]))
        )
        last = tf.gather(padded, lengths - 1, batch_dims=1)
        return last, states, log_likelihood, lengths - 1

    def encode(self, ids, training=False):
        """The prompt read: `(its last token, the state before it)`, where writing goes on."""
        last, states, _, _ = self.read(ids)
        return last, states

    def example_inputs(self):
        return ops.ones((1, 2), dtype="int32")
