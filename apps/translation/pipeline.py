"""`TranslationPipeline`: a sentence in one language, its translation out (encoder-decoder)."""

import warnings

import keras
import numpy as np
import sacrebleu
import tensorflow as tf
from matplotlib.figure import Figure

from rnnkit.layers.attention import SCORES

from ..base import Pipeline
from ..checks import (
    check_bool,
    check_cell,
    check_choice,
    check_dropout,
    check_non_negative,
    check_positive,
    check_positive_int,
    check_seed,
    check_texts,
)
from ..generation import (
    END,
    START,
    adapt_words,
    batch_by_length,
    check_decoding,
    compile_generator,
    decode,
    make_vectorizer,
    ragged_examples,
    split_punctuation,
    target_ids,
    tokens_to_text,
)
from .model import Seq2Seq

__all__ = ["TranslationPipeline", "attention_figure"]

METHODS = ("greedy", "beam")


class TranslationPipeline(Pipeline):
    """Sequence-to-sequence translation with attention inside the decoder's step.

    raw sentences -> `split_punctuation` -> `TextVectorization` (source; target with
    `[start]`/`[end]`) -> `Seq2Seq`: embedding -> (bidirectional, stacked) rnnkit encoder
    -> decoder `Recurrent(AttentionCell(cell))` trained by teacher forcing with a masked
    cross-entropy -> greedy or beam-search decoding (`rnnkit.layers.decoding`) -> text.

    Args:
        cell: `"rnn"`, `"lstm"`, `"gru"`, `"leaky"`, `"esn"`, or a cell instance (copied for
            every layer). Default `"gru"`.
        units: state size of the decoder and of each encoder direction (default 256).
        embedding_dim: width of source and target word vectors (default 128).
        layers: stacked encoder layers (default 1).
        bidirectional: read the source both ways (default True).
        attention: `"additive"` (Bahdanau), `"dot"` (Luong) or None (the final encoder
            state alone; default "additive").
        dropout: dropout of embeddings and before the output layer (default 0.2).
        source_vocab_size, target_vocab_size: most frequent tokens kept, padding and
            unknown-word tokens included (default 10000 each).
        max_source_len, max_target_len: tokens kept per sentence; longer sentences are
            truncated, with a warning (default 50 each). Translations stop after
            `max_target_len` tokens.
        lowercase: lower-case both sides before vectorising (default False: BLEU is cased).
        batch_size: training batch size (default 64).
        learning_rate: Adam's learning rate (default 2e-3).
        beam_width: beams of `translate(method="beam")` and of the exported beam endpoint
            (default 5).
        length_penalty: GNMT's alpha in `((5 + n) / 6) ** alpha` (default 0.6).
        seed: seed of weights, dropout and shuffling (default 0).

    Example:

    >>> pipeline = TranslationPipeline(units=8, embedding_dim=8)
    >>> _ = pipeline.fit(["a dog runs ."], ["un perro corre ."], epochs=1, verbose=0)
    >>> len(pipeline.translate(["a dog"], method="beam"))
    1
    """

    format_version = 1  # its preprocessing is JSON beside the network, not yet inside a task

    def __init__(
        self,
        *,
        cell="gru",
        units=256,
        embedding_dim=128,
        layers=1,
        bidirectional=True,
        attention="additive",
        dropout=0.2,
        source_vocab_size=10000,
        target_vocab_size=10000,
        max_source_len=50,
        max_target_len=50,
        lowercase=False,
        batch_size=64,
        learning_rate=2e-3,
        beam_width=5,
        length_penalty=0.6,
        seed=0,
    ):
        super().__init__()
        self.cell = check_cell(cell, units)
        self.units = check_positive_int("units", units)
        self.embedding_dim = check_positive_int("embedding_dim", embedding_dim)
        self.layers = check_positive_int("layers", layers)
        self.bidirectional = check_bool("bidirectional", bidirectional)
        self.attention = check_choice("attention", attention, [*SCORES, None])
        self.dropout = check_dropout("dropout", dropout)
        self.source_vocab_size = check_positive_int("source_vocab_size", source_vocab_size)
        self.target_vocab_size = check_positive_int("target_vocab_size", target_vocab_size)
        self.max_source_len = check_positive_int("max_source_len", max_source_len)
        self.max_target_len = check_positive_int("max_target_len", max_target_len)
        self.lowercase = check_bool("lowercase", lowercase)
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.learning_rate = check_positive("learning_rate", learning_rate)
        self.beam_width = check_positive_int("beam_width", beam_width)
        self.length_penalty = check_non_negative("length_penalty", length_penalty)
        self.seed = check_seed(seed)
        self.source_vectorizer = None
        self.target_vectorizer = None
        self.target_words = None  # the target vocabulary by id
        self._translators = {}

    # Preprocessing -------------------------------------------------------------------------

    def check_data(self, sources, targets=None, argument="data"):
        # fit takes `sources, targets`, evaluate `sources, references`
        names = {"data": ("sources", "targets"), "sources": ("sources", "references")}
        source_name, target_name = names.get(argument, (f"{argument}[0]", f"{argument}[1]"))
        sources = check_texts(sources, argument=source_name)
        if targets is None:
            return sources, None
        targets = check_texts(targets, argument=target_name)
        if len(targets) != len(sources):
            raise ValueError(
                f"Arguments `{source_name}` and `{target_name}` must have the same length: "
                f"{len(sources)} sources, {len(targets)} targets."
            )
        return sources, targets

    def _standardize(self, texts):
        texts = tf.strings.lower(texts, encoding="utf-8") if self.lowercase else texts
        return split_punctuation(texts)

    def learn_preprocessing(self, train):
        sources, targets = train
        if targets is None:
            raise ValueError("Argument `targets` is required to fit.")
        source_words = adapt_words(
            self._standardize(tf.constant(sources)), max(self.source_vocab_size - 2, 1)
        )
        if not source_words:
            raise ValueError("Argument `sources` holds no words: every source sentence is empty.")
        self._set_vocabularies(
            source_words,
            adapt_words(self._standardize(tf.constant(targets)), max(self.target_vocab_size - 4, 1)),
        )
        self._warn_truncated(sources, targets)

    def _set_vocabularies(self, source_words, target_words):
        self.source_vectorizer = make_vectorizer(source_words, "source_vectorizer")
        self.target_vectorizer = make_vectorizer(target_words, "target_vectorizer", reserved=(START, END))
        self.target_words = self.target_vectorizer.get_vocabulary()  # by id, for graph code
        self._translators = {}

    def preprocessing_state(self):
        return {
            "source_vocabulary": self.source_vectorizer.get_vocabulary(include_special_tokens=False),
            "target_vocabulary": self.target_vectorizer.get_vocabulary(include_special_tokens=False)[2:],
        }

    def restore_preprocessing(self, state):
        self._set_vocabularies(state["source_vocabulary"], state["target_vocabulary"])

    def source_ids(self, texts):
        """Raw sentences `(batch,)` to ragged source ids, at most `max_source_len` each (graph code)."""
        return tf.cast(self.source_vectorizer(self._standardize(texts))[:, : self.max_source_len], tf.int32)

    def encode_source(self, texts):
        """Raw sentences `(batch,)` to padded source ids `(batch, S)`, as graph code."""
        return self.source_ids(texts).to_tensor()

    def target_ids(self, texts):
        """Raw sentences to ragged `(target_in, target_out)`: `[start] w_1..w_n`, `w_1..w_n [end]`."""
        return target_ids(self.target_vectorizer, self._standardize(texts), self.max_target_len)

    def _warn_truncated(self, sources, targets=None):
        too_long = _count_longer(
            self.source_vectorizer(self._standardize(tf.constant(sources))), self.max_source_len
        )
        if targets is not None:
            target_ids = self.target_vectorizer(self._standardize(tf.constant(targets)))
            too_long_targets = _count_longer(target_ids, self.max_target_len - 1)
        else:
            too_long_targets = 0
        for count, side, limit in (
            (too_long, "source", "max_source_len"),
            (too_long_targets, "target", "max_target_len"),
        ):
            if count:
                warnings.warn(
                    f"{count} {side} sentence(s) are longer than `{limit}`={getattr(self, limit)} tokens "
                    "and were truncated.",
                    stacklevel=3,
                )

    def make_dataset(self, data, training=False):
        """Batches of `((source ids, target_in), target_out, weights)` (weights: 0 on padding).

        Training batches are shuffled, then grouped by target length
        (`tf.data.Dataset.bucket_by_sequence_length`), so that a batch pads little.
        """
        sources, targets = data if isinstance(data, tuple) else (check_texts(data), None)
        if targets is None:
            dataset = tf.data.Dataset.from_tensor_slices(sources).batch(self.batch_size)
            return dataset.map(self.encode_source).prefetch(tf.data.AUTOTUNE)
        dataset = tf.data.Dataset.from_tensor_slices((sources, targets))
        if training:
            dataset = dataset.shuffle(len(sources), seed=self.seed, reshuffle_each_iteration=True)

        def ids(source, target):
            return (self.source_ids(source), *self.target_ids(target))

        def model_ready(source, target_in, target_out):
            weights = tf.cast(tf.not_equal(target_out, 0), tf.float32)
            return (source, target_in), target_out, weights

        if training:
            dataset = batch_by_length(
                ragged_examples(dataset, ids),
                self.batch_size,
                self.max_target_len,
                lambda source, target_in, target_out: tf.shape(target_in)[0],
            )
        else:
            dense = lambda *ragged: tuple(r.to_tensor() for r in ragged)  # noqa: E731
            dataset = dataset.batch(self.batch_size).map(lambda s, t: dense(*ids(s, t)))
        return dataset.map(model_ready).prefetch(tf.data.AUTOTUNE)

    # Model ---------------------------------------------------------------------------------

    def build_model(self):
        keras.utils.set_random_seed(self.seed)
        model = Seq2Seq(
            source_vocab_size=self.source_vectorizer.vocabulary_size(),
            target_vocab_size=self.target_vectorizer.vocabulary_size(),
            cell=self.new_cell(),
            units=self.units,
            embedding_dim=self.embedding_dim,
            layers=self.layers,
            bidirectional=self.bidirectional,
            attention=self.attention,
            dropout=self.dropout,
            name="seq2seq",
        )
        model.build()
        compile_generator(model, self.learning_rate)
        self._translators = {}
        return model

    # Decoding ------------------------------------------------------------------------------

    def _decode(self, source, method, beam_width=None, record_attention=False):
        """Source ids `(batch, S)` to the best translation's ids, as graph code."""
        memory, memory_mask, states = self.model.encode(source)
        state = {"cell": self.model.initial_decoder_state(memory, memory_mask, states)}
        if record_attention:
            state["attention"] = tf.zeros_like(memory[:, :, 0])

        def step(tokens, state):
            logits, cell_state, weights = self.model.decode_step(tokens, state["cell"])
            new_state = {"cell": cell_state}
            if record_attention:
                new_state["attention"] = weights
            return logits, new_state

        return decode(
            step,
            state,
            tf.shape(source)[0],
            method,
            self.max_target_len,
            beam_width=beam_width or self.beam_width,
            length_penalty=self.length_penalty,
            record=(lambda s: s["attention"]) if record_attention else None,
        )

    def translate_graph(self, texts, method="greedy", beam_width=None):
        """Raw sentences `(batch,)` to translations `(batch,)`, as graph code (the export's body).

        An empty (or blank) sentence translates to the empty string.
        """
        source = self.encode_source(texts)
        result = self._decode(source, method, beam_width)
        translations = tokens_to_text(self.target_words, result["tokens"], result["lengths"])
        blank = tf.equal(tf.strings.length(tf.strings.strip(texts)), 0)
        return tf.where(blank, tf.constant(""), translations)

    def _translator(self, method, beam_width):
        key = (method, beam_width)
        if key not in self._translators:
            self._translators[key] = tf.function(
                lambda texts: self.translate_graph(texts, method, beam_width),
                input_signature=[tf.TensorSpec([None], tf.string)],
                reduce_retracing=True,
            )
        return self._translators[key]

    # Task verbs ----------------------------------------------------------------------------

    def translate(self, texts, method="greedy", beam_width=None):
        """Translations of `texts`, as strings.

        Args:
            texts: a list (or array, Series) of sentences.
            method: `"greedy"` or `"beam"`.
            beam_width: beams for `method="beam"` (default: the pipeline's `beam_width`).
        """
        self._check_fitted("translate")
        texts = check_texts(texts)
        check_decoding(method, beam_width, methods=METHODS)
        self._warn_truncated(texts)
        translate = self._translator(method, beam_width if method == "beam" else None)
        out = []
        for start in range(0, len(texts), self.batch_size):
            batch = tf.constant(texts[start : start + self.batch_size])
            out.extend(t.decode("utf-8") for t in translate(batch).numpy())
        return out

    def evaluate(self, sources, references, method="greedy", beam_width=None):
        """Corpus BLEU and chrF (sacrebleu: cased, detokenized) and masked token accuracy.

        Returns `{"bleu", "chrf", "token_accuracy", "loss", "method", "translations"}`.
        """
        self._check_fitted("evaluate")
        sources, references = self.check_data(sources, references, argument="sources")
        translations = self.translate(sources, method=method, beam_width=beam_width)
        scores = self.model.evaluate(self.make_dataset((sources, references)), verbose=0, return_dict=True)
        return {
            "bleu": sacrebleu.corpus_bleu(translations, [references]).score,
            "chrf": sacrebleu.corpus_chrf(translations, [references]).score,
            "token_accuracy": float(scores["token_accuracy"]),
            "loss": float(scores["loss"]),
            "method": method,
            "translations": translations,
        }

    def attention_map(self, text):
        """`(source tokens, output tokens, weights (output, source))` of a greedy translation."""
        self._check_fitted("attention_map")
        if self.attention is None:
            raise ValueError("attention_map() needs a pipeline trained with `attention` set.")
        check_texts([text], argument="text")
        texts = tf.constant([text])
        source = self.encode_source(texts)
        result = self._decode(source, "greedy", record_attention=True)
        length = int(result["lengths"][0]) + 1  # the end token too
        vocabulary = self.target_words
        source_vocabulary = self.source_vectorizer.get_vocabulary()
        output = [vocabulary[i] for i in result["tokens"][0, :length].numpy()]
        source_tokens = [source_vocabulary[i] for i in source[0].numpy()]
        weights = result["trace"][0, :length, : len(source_tokens)].numpy()
        return source_tokens, output, weights

    def plots(self, sources, references=None):
        figures = {}
        if self.attention is not None:
            source_tokens, output, weights = self.attention_map(sources[0])
            figures["attention_map"] = attention_figure(source_tokens, output, weights)
        return figures

    # Export --------------------------------------------------------------------------------

    def serving_function(self):
        signature = [tf.TensorSpec([None], tf.string, name="texts")]
        tracked = [self.source_vectorizer, self.target_vectorizer]
        return (lambda texts: self.translate_graph(texts, "beam")), signature, tracked

    def extra_endpoints(self):
        signature = [tf.TensorSpec([None], tf.string, name="texts")]
        return {
            "translate": (lambda texts: self.translate_graph(texts, "beam"), signature),
            "translate_beam": (lambda texts: self.translate_graph(texts, "beam"), signature),
            "translate_greedy": (lambda texts: self.translate_graph(texts, "greedy"), signature),
        }


def _count_longer(ids, limit):
    return int(tf.reduce_sum(tf.cast(ids.row_lengths() > limit, tf.int32)))


def attention_figure(source_tokens, output_tokens, weights):
    """The attention weights of one translation: output tokens (rows) by source tokens."""
    figure = Figure(figsize=(0.45 * len(source_tokens) + 2, 0.4 * len(output_tokens) + 1.5))
    ax = figure.subplots()
    ax.imshow(np.asarray(weights), cmap="viridis", aspect="auto", vmin=0.0)
    ax.set_xticks(range(len(source_tokens)), source_tokens, rotation=60, ha="right")
    ax.set_yticks(range(len(output_tokens)), output_tokens)
    ax.set_xlabel("source")
    ax.set_ylabel("translation")
    ax.set_title("attention")
    figure.tight_layout()
    return figure
