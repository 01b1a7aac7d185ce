"""`TranslationPipeline`: a sentence in one language, its translation out (encoder-decoder)."""

import warnings

import keras
import numpy as np
import sacrebleu
import tensorflow as tf
from matplotlib.figure import Figure

from rnnkit.layers.attention import SCORES

from ..base import Pipeline
from ..checks import check_bool, check_choice, check_non_negative, check_positive_int, check_texts
from ..generation import (
    END,
    START,
    TextGenerator,
    check_decoding,
    check_repetition,
    compile_generator,
    teacher_forcing_batches,
)
from ..subwords import PADDING, UNKNOWN, WordPieceTokenizer, learn_wordpieces
from .model import Seq2Seq, TranslationPreprocessor

__all__ = ["TranslationPipeline", "attention_figure", "translation_scores"]

METHODS = ("greedy", "beam")


class TranslationPipeline(Pipeline):
    """Sequence-to-sequence translation with attention inside the decoder's step.

    raw sentences -> WordPiece subwords learnt from the training text, one vocabulary per
    side (`rnnkit.apps.subwords`; the target's with `[start]`/`[end]`) -> `Seq2Seq`:
    embedding -> (bidirectional, stacked) rnnkit encoder -> decoder
    `Recurrent(AttentionCell(cell))` trained by teacher forcing with a masked cross-entropy
    -> greedy or beam-search decoding (`rnnkit.layers.decoding`) -> pieces glued back into
    words -> text. A rare or unseen word is spelt in pieces, so it is read and written
    without `[UNK]` (only a word with a character never seen in training is `[UNK]`).
    Tokenizing and detokenizing are TensorFlow Text ops, in the `.keras` file and in the
    export: a process that loads the export runs `import tensorflow_text` first.

    Args:
        cell: `"rnn"`, `"lstm"`, `"gru"`, `"leaky"`, `"esn"`, or a cell instance (copied for
            every layer). Default `"gru"`.
        units: state size of the decoder and of each encoder direction (default 256).
        embedding_dim: width of source and target piece vectors (default 256).
        layers: stacked encoder layers (default 1).
        bidirectional: read the source both ways (default True).
        attention: `"additive"` (Bahdanau), `"dot"` (Luong) or None (the final encoder
            state alone; default "additive").
        dropout: dropout of embeddings and before the output layer (default 0.3).
        source_vocab_size, target_vocab_size: the size of each side's WordPiece vocabulary
            aimed at, special tokens included (`learn_wordpieces`: every character of
            the training text is kept, and no piece seen fewer than 3 times is added, so
            small data give smaller vocabularies; default 8000 each).
        max_source_len, max_target_len: pieces kept per sentence; longer sentences are
            truncated, with a warning (default 64 each). Translations stop after
            `max_target_len` pieces.
        lowercase: lower-case both sides before tokenizing (default False: BLEU is cased).
        batch_size: training batch size (default 64).
        learning_rate: Adam's learning rate (default 2e-3).
        beam_width: beams of `translate(method="beam")` and of the exported beam endpoint
            (default 5).
        length_penalty: GNMT's alpha in `((5 + n) / 6) ** alpha` (default 0.6).
        no_repeat_ngram_size: no n-gram of this many tokens is generated twice in one output
            (0, the default: off), in every decoding method and the export.
        repetition_penalty: divides the positive logits (multiplies the negative ones) of the
            tokens an output already holds (CTRL's penalty; 1.0, the default: off).
        seed: seed of weights, dropout and shuffling (default 0).

    Example:

    >>> pipeline = TranslationPipeline(units=8, embedding_dim=8)
    >>> _ = pipeline.fit(["a dog runs ."], ["un perro corre ."], epochs=1, verbose=0)
    >>> len(pipeline.translate(["a dog"], method="beam"))
    1
    """

    format_version = 3
    format_change = "since version 3 a translator's vocabularies are WordPiece subwords"

    def __init__(
        self,
        *,
        cell="gru",
        units=256,
        embedding_dim=256,
        layers=1,
        bidirectional=True,
        attention="additive",
        dropout=0.3,
        source_vocab_size=8000,
        target_vocab_size=8000,
        max_source_len=64,
        max_target_len=64,
        lowercase=False,
        batch_size=64,
        learning_rate=2e-3,
        beam_width=5,
        length_penalty=0.6,
        no_repeat_ngram_size=0,
        repetition_penalty=1.0,
        seed=0,
    ):
        super().__init__(cell, units, dropout, batch_size, learning_rate, seed)
        self.embedding_dim = check_positive_int("embedding_dim", embedding_dim)
        self.layers = check_positive_int("layers", layers)
        self.bidirectional = check_bool("bidirectional", bidirectional)
        self.attention = check_choice("attention", attention, [*SCORES, None])
        self.source_vocab_size = check_positive_int("source_vocab_size", source_vocab_size)
        self.target_vocab_size = check_positive_int("target_vocab_size", target_vocab_size)
        self.max_source_len = check_positive_int("max_source_len", max_source_len)
        self.max_target_len = check_positive_int("max_target_len", max_target_len)
        self.lowercase = check_bool("lowercase", lowercase)
        self.beam_width = check_positive_int("beam_width", beam_width)
        self.length_penalty = check_non_negative("length_penalty", length_penalty)
        self.no_repeat_ngram_size, self.repetition_penalty = check_repetition(
            no_repeat_ngram_size, repetition_penalty
        )

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

    def learn_preprocessing(self, train):
        sources, targets = train
        if targets is None:
            raise ValueError("Argument `targets` is required to fit.")
        self.preprocessor = TranslationPreprocessor(
            learn_wordpieces(sources, self.source_vocab_size, (PADDING, UNKNOWN), self.lowercase, "sources"),
            learn_wordpieces(
                targets, self.target_vocab_size, (PADDING, UNKNOWN, START, END), self.lowercase, "targets"
            ),
            self.max_source_len, self.max_target_len, self.lowercase, name="sentence_pieces",
        )  # fmt: skip
        self._warn_truncated(sources, targets)

    @property
    def target_words(self):
        """The target vocabulary by id: `[PAD]`, `[UNK]`, `[start]`, `[end]`, then the pieces."""
        return self.preprocessor.target.get_vocabulary()

    def _warn_truncated(self, sources, targets=None):
        # a target's [end] token counts against `max_target_len` too
        for side, texts, limit, end in (
            ("source", sources, "max_source_len", 0),
            ("target", targets, "max_target_len", 1),
        ):
            if texts is None:
                continue
            ids = getattr(self.preprocessor, side)(tf.constant(texts))
            count = int(tf.reduce_sum(tf.cast(ids.row_lengths() > getattr(self, limit) - end, tf.int32)))
            if count:
                warnings.warn(
                    f"{count} {side} sentence(s) are longer than `{limit}`={getattr(self, limit)} "
                    "subword pieces and were truncated.",
                    stacklevel=3,
                )

    def make_dataset(self, data, training=False):
        """Batches of `((source ids, target_in), target_out, weights)` (`teacher_forcing_batches`)."""
        sources, targets = data if isinstance(data, tuple) else (check_texts(data), None)
        if targets is None:
            dataset = tf.data.Dataset.from_tensor_slices(sources).batch(self.batch_size)
            return dataset.map(self.preprocessor).prefetch(tf.data.AUTOTUNE)

        def ids(source, target):
            return (self.preprocessor.source_ids(source), *self.preprocessor.targets(target))

        pairs = tf.data.Dataset.from_tensor_slices((sources, targets))
        return teacher_forcing_batches(pairs, ids, self.batch_size, self.max_target_len, training, self.seed)

    # Model ---------------------------------------------------------------------------------

    def build_model(self):
        keras.utils.set_random_seed(self.seed)
        model = Seq2Seq(
            source_vocab_size=self.preprocessor.source.vocabulary_size(),
            target_vocab_size=self.preprocessor.target.vocabulary_size(),
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
        return compile_generator(model, self.learning_rate)

    def build_task(self):
        return TextGenerator(
            self.preprocessor, self.model, WordPieceTokenizer(self.target_words, name="text"), method="beam",
            max_length=self.max_target_len, beam_width=self.beam_width, length_penalty=self.length_penalty,
            no_repeat_ngram_size=self.no_repeat_ngram_size, repetition_penalty=self.repetition_penalty,
            blank="", name="translator",
        )  # fmt: skip

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
        beam_width = beam_width if method == "beam" else None
        return self.task.generate(texts, batch_size=self.batch_size, method=method, beam_width=beam_width)

    def evaluate(self, sources, references, method="greedy", beam_width=None):
        """`translation_scores` of the translations of `sources`, masked token accuracy and loss.

        Returns `{"bleu", "bleu_lowercase", "chrf", "token_accuracy", "loss", "method",
        "translations"}`.
        """
        self._check_fitted("evaluate")
        sources, references = self.check_data(sources, references, argument="sources")
        translations = self.translate(sources, method=method, beam_width=beam_width)
        scores = self.evaluate_batches(self.make_dataset((sources, references)))
        return {
            **translation_scores(translations, references),
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
        source = self.preprocessor(texts)
        result = self.task.generate_ids(texts, method="greedy", record=lambda state: state["attention"])
        length = int(result["lengths"][0]) + 1  # the end token too
        vocabulary = self.target_words
        source_vocabulary = self.preprocessor.source.get_vocabulary()
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

    serve_aliases = ("translate", "translate_beam")

    def serving_function(self):
        return (lambda texts: self.task(texts)), [tf.TensorSpec([None], tf.string, name="texts")]

    def extra_endpoints(self):
        """`translate_greedy`; `translate` and `translate_beam` are aliases of `serve`."""
        greedy = lambda texts: self.task.generate_graph(texts, method="greedy")  # noqa: E731
        return {"translate_greedy": (greedy, [tf.TensorSpec([None], tf.string, name="texts")])}


def translation_scores(translations, references):
    """Corpus scores of detokenized `translations` against one reference each (sacreBLEU):

    - `bleu`, `chrf`: sacreBLEU's defaults, cased, on the detokenized text (its own 13a
      tokenization inside): the signature that compares across papers;
    - `bleu_lowercase`: BLEU of the lower-cased text tokenized with 13a
      (`lowercase=True, tokenize="13a"`). The Multi30k literature reports `multi-bleu.perl
      -lc` on Moses-tokenized text; 13a (mteval-v13a's tokenization) stands in for Moses's.

    Example:

    >>> scores = translation_scores(["Ein Hund läuft im Park."], ["ein Hund läuft im Park."])
    >>> round(scores["bleu_lowercase"], 1), scores["bleu"] < 100
    (100.0, True)
    """
    return {
        "bleu": sacrebleu.corpus_bleu(translations, [references]).score,
        "bleu_lowercase": sacrebleu.corpus_bleu(
            translations, [references], lowercase=True, tokenize="13a"
        ).score,
        "chrf": sacrebleu.corpus_chrf(translations, [references]).score,
    }


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
