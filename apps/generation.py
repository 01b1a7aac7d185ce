"""What the pipelines that write text share (translation, captioning, the language model).

- the output vocabulary: `["", "[UNK]", "[start]", "[end]", words...]` (translation's
  WordPieces: `"[PAD]"` in place of `""`), so `[start]` and `[end]` have the same ids in
  every pipeline;
- teacher forcing: a sentence becomes `target_in = [start] w_1..w_n` and
  `target_out = w_1..w_n [end]`, trained with a cross-entropy masked to the real tokens;
- one recurrent decoder interface (`RecurrentDecoder`: encode, decode_step, teacher forcing)
  and one task over it (`TextGenerator`): `rnnkit.layers.decoding` over `decode_step`, then
  ids back to text (the postprocessor's `detokenize`: `IdsToText` for words and characters,
  `rnnkit.apps.subwords.WordPieceTokenizer` for subwords), all graph code, so a loaded
  model or an export writes sentences by itself.
"""

import keras
import tensorflow as tf

from rnnkit.layers import decoding
from rnnkit.layers.decoding import check_repetition

from .base import compile_task
from .checks import check_choice, check_positive_int
from .task import Task

__all__ = [
    "END",
    "END_ID",
    "METHODS",
    "IdsToText",
    "Perplexity",
    "RecurrentDecoder",
    "TextGenerator",
    "START",
    "START_ID",
    "adapt_words",
    "check_decoding",
    "check_repetition",
    "compile_generator",
    "detokenize",
    "make_vectorizer",
    "split_punctuation",
    "target_ids",
    "teacher_forcing_batches",
]

START, END = "[start]", "[end]"
START_ID, END_ID = 2, 3  # after padding (0) and [UNK] (1)
_NEVER_GENERATED = (0, START_ID)  # padding and [start]: no method writes them
_NEVER_SAMPLED = (0, 1, START_ID)  # nor does sampling draw [UNK]
METHODS = ("greedy", "beam", "sample")
_PUNCTUATION = r"""([.,!?;:"()\[\]])"""


@keras.saving.register_keras_serializable(package="rnnkit")
def split_punctuation(texts):
    """Whitespace-tokenisable sentences, case kept: `(batch,)` strings in and out.

    Punctuation becomes its own token and square brackets are dropped (they would
    collide with `[start]`/`[end]`/`[UNK]`).

    Example:

    >>> split_punctuation(tf.constant(['A dog, "Rex", runs [fast].']))[0].numpy().decode()
    'A dog , " Rex " , runs fast .'
    """
    texts = tf.strings.regex_replace(texts, r"[\[\]]", " ")
    texts = tf.strings.regex_replace(texts, _PUNCTUATION, r" \1 ")
    texts = tf.strings.regex_replace(texts, r"\s+", " ")
    return tf.strings.strip(texts)


def detokenize(texts):
    """Space-joined tokens back to text: no space before `. , ! ? ; : )` or after `(`.

    Example:

    >>> detokenize(tf.constant(["a dog ( Rex ) runs ."]))[0].numpy().decode()
    'a dog (Rex) runs.'
    """
    texts = tf.strings.regex_replace(texts, r" ([.,!?;:)])", r"\1")
    return tf.strings.regex_replace(texts, r"\( ", "(")


def adapt_words(texts, max_words):
    """The `max_words` most frequent whitespace tokens of standardised `texts` (a string tensor)."""
    vectorizer = keras.layers.TextVectorization(
        max_tokens=max_words + 2, standardize=None, split="whitespace"
    )
    vectorizer.adapt(texts, batch_size=1024)
    return vectorizer.get_vocabulary(include_special_tokens=False)


def make_vectorizer(words, name, reserved=()):
    """A built `TextVectorization` (ragged ids) over `[*reserved, *words]`; unknown words -> 1."""
    layer = keras.layers.TextVectorization(
        standardize=None, split="whitespace", ragged=True, vocabulary=[*reserved, *words], name=name
    )
    layer.build((None,))  # adapt() builds it; a set vocabulary does not
    return layer


def target_ids(vectorizer, texts, max_len):
    """Standardised sentences to ragged `(target_in, target_out)`, each at most `max_len` ids."""
    ids = tf.cast(vectorizer(texts)[:, : max_len - 1], tf.int32)
    rows = ids.nrows()
    target_in = tf.concat([tf.fill([rows, 1], START_ID), ids], axis=1)
    target_out = tf.concat([ids, tf.fill([rows, 1], END_ID)], axis=1)
    return target_in, target_out


def _ragged_examples(dataset, ragged):
    """Per-example tensors from `ragged(*batch)`, a tuple of ragged `(batch, None)` tensors
    (dense tensors, such as images, pass through).

    The function runs on chunks of 1024 elements (vectorising one text at a time is slow).
    An unbatched ragged row keeps a ragged type spec, which `padded_batch` refuses; each
    row is the dense tensor it holds, so `tf.identity` gives it its dense type back.
    """
    rows = dataset.batch(1024).map(ragged).unbatch()
    return rows.map(lambda *row: tuple(tf.identity(r) for r in row))


def teacher_forcing_batches(dataset, ids, batch_size, max_len, training=False, seed=0):
    """Batches `((inputs, target_in), target_out, weights)` of a dataset of `(input, text)`
    pairs; `ids(inputs, texts)` gives `(inputs, target_in, target_out)`, the targets ragged.
    The weights are 0 on padding, 1 on the real tokens.

    Training batches are shuffled, then grouped by target length
    (`tf.data.Dataset.bucket_by_sequence_length`), so that a batch pads little.
    """
    if training:
        dataset = dataset.shuffle(dataset.cardinality(), seed=seed, reshuffle_each_iteration=True)
        boundaries = [b for b in (8, 10, 12, 14, 16, 20, 25, 30, 40) if b < max_len]
        dataset = _ragged_examples(dataset, ids).bucket_by_sequence_length(
            lambda inputs, target_in, target_out: tf.shape(target_in)[0],
            bucket_boundaries=boundaries,
            bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
        )
    else:
        dense = lambda *rows: tuple(r.to_tensor() if isinstance(r, tf.RaggedTensor) else r for r in rows)  # noqa: E731
        dataset = dataset.batch(batch_size).map(lambda *pairs: dense(*ids(*pairs)))

    def model_ready(inputs, target_in, target_out):
        return (inputs, target_in), target_out, tf.cast(tf.not_equal(target_out, 0), tf.float32)

    return dataset.map(model_ready).prefetch(tf.data.AUTOTUNE)


@keras.saving.register_keras_serializable(package="rnnkit")
class Perplexity(keras.metrics.SparseCategoricalCrossentropy):
    """exp(mean cross-entropy) over every weighted token seen, from logits.

        perplexity = exp( sum_i w_i (-log p(y_i | y_<i)) / sum_i w_i )

    The mean runs over tokens, not batches, so batches that score few tokens count little.
    """

    def __init__(self, name="perplexity", dtype=None):
        super().__init__(name=name, dtype=dtype, from_logits=True)

    def result(self):
        return keras.ops.exp(super().result())

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


def compile_generator(model, learning_rate, metrics=()):
    """`compile_task` with cross-entropy and token accuracy (and `metrics`) weighted by the
    0/1 padding weights."""
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="mean_with_sample_weight")
    accuracy = keras.metrics.SparseCategoricalAccuracy(name="token_accuracy")
    return compile_task(model, learning_rate, loss=loss, weighted_metrics=[accuracy, *metrics])


def check_decoding(method, beam_width=None, temperature=1.0, top_k=None, methods=METHODS):
    """Validates the decoding arguments of a task verb, before any work."""
    check_choice("method", method, methods)
    if beam_width is not None:
        check_positive_int("beam_width", beam_width)
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature > 0:
        raise ValueError(f"Argument `temperature` must be a float > 0. Received: temperature={temperature!r}")
    if top_k is not None:
        check_positive_int("top_k", top_k)


class RecurrentDecoder(keras.Model):
    """The network under every pipeline that writes text: one recurrent decoder, two halves.

        encode(inputs) -> (start tokens (B,), state)     the condition: a source sentence, an
                                                         image, a prompt read so far
        decode_step(tokens (B,), state) -> (logits (B, V), state)    one step, explicit state
        call(...)                                        teacher forcing, for training

    `TextGenerator` decodes any of them (greedy, beam search, sampling) inside TensorFlow.
    A subclass passes its template cell and its other constructor arguments (`config`) to
    `__init__`, which keeps them for `get_config`, and names in `example_inputs` a batch
    that `build` calls it on once, to create every weight.
    """

    def __init__(self, cell, config, **kwargs):
        super().__init__(**kwargs)
        self.template = keras.layers.deserialize(cell) if isinstance(cell, dict) else cell
        self.config = config

    def example_inputs(self):
        raise NotImplementedError

    def build(self, input_shape=None):
        if self.built:
            return
        self.built = True  # before the call below, which would otherwise build again
        self(self.example_inputs())

    def get_config(self):
        return {**super().get_config(), **self.config, "cell": keras.layers.serialize(self.template)}

    def encode(self, inputs, training=False):
        raise NotImplementedError

    def decode_step(self, tokens, state):
        raise NotImplementedError


@keras.saving.register_keras_serializable(package="rnnkit")
class IdsToText(keras.layers.Layer):
    """Token ids `(B, T)` with their lengths `(B,)` to strings `(B,)`, as graph code.

    Id `i` becomes `["", "[UNK]", *vocabulary][i]` (an inverted `StringLookup`; the
    vocabulary is in the config, which holds any character); words (`separator=" "`) are
    joined and detokenised, characters (`separator=""`) joined as they are.
    """

    def __init__(self, vocabulary, separator=" ", **kwargs):
        super().__init__(**kwargs)
        self.vocabulary, self.separator = list(vocabulary), separator
        self.tokens = keras.layers.StringLookup(
            vocabulary=self.vocabulary, mask_token="", oov_token="[UNK]", invert=True, name="tokens"
        )
        self.tokens.build((None, None))
        self.built = True  # no weights of its own

    def call(self, ids, lengths):
        return self.detokenize(ids, lengths)

    def detokenize(self, ids, lengths):
        """Strings `(B,)`: the first `lengths[b]` ids of row b, as text."""
        pieces = tf.RaggedTensor.from_tensor(self.tokens(ids), lengths=lengths)
        texts = tf.strings.reduce_join(pieces, axis=-1, separator=self.separator)
        return detokenize(texts) if self.separator == " " else texts

    def vocabulary_size(self):
        return self.tokens.vocabulary_size()

    def get_config(self):
        return {**super().get_config(), "vocabulary": self.vocabulary, "separator": self.separator}


@keras.saving.register_keras_serializable(package="rnnkit")
class TextGenerator(Task):
    """A generator's task: raw inputs -> preprocessor -> `network.encode` -> decoding with
    `network.decode_step` -> `postprocessor.detokenize` -> strings.

    `call` decodes with the task's own settings; `generate` takes others. Compiled decoding
    functions are cached here, one per setting, and only here.

    Args:
        preprocessor, network, postprocessor, metadata: as in `Task`; `network` is a
            `RecurrentDecoder`; `postprocessor` a layer with `detokenize(ids (B, T), lengths
            (B,))` -> strings `(B,)` and `vocabulary_size()` (`IdsToText`, `WordPieceTokenizer`).
        method: `"greedy"`, `"beam"` or `"sample"`.
        max_length: most tokens written.
        beam_width, length_penalty: beam search's settings.
        temperature, top_k: sampling's settings. No method writes padding or `[start]`, and
            sampling never draws `[UNK]` either.
        no_repeat_ngram_size, repetition_penalty: the repetition control of every method
            (`rnnkit.layers.decoding`; defaults 0 and 1, off).
        blank: what a blank input (an empty string) gives: None to decode it like any
            other, or the string it gives (e.g. `""` for translation).
    """

    def __init__(
        self,
        preprocessor,
        network,
        postprocessor,
        metadata=None,
        method="greedy",
        max_length=32,
        beam_width=4,
        length_penalty=0.6,
        temperature=1.0,
        top_k=None,
        no_repeat_ngram_size=0,
        repetition_penalty=1.0,
        blank=None,
        **kwargs,
    ):
        super().__init__(preprocessor, network, postprocessor, metadata, **kwargs)
        self.settings = {
            "method": method,
            "max_length": max_length,
            "beam_width": beam_width,
            "length_penalty": length_penalty,
            "temperature": temperature,
            "top_k": top_k,
            "no_repeat_ngram_size": no_repeat_ngram_size,
            "repetition_penalty": repetition_penalty,
        }
        self.blank = blank
        self._compiled = _Functions()

    def call(self, inputs, training=False):
        return self.generate_graph(inputs)

    def generate_ids(self, inputs, record=None, seed=None, **settings):
        """Decoded ids of raw inputs, as graph code: `rnnkit.layers.decoding`'s result dict
        (`tokens`, `lengths`, `scores`, and `trace` with `record(state)`)."""
        settings = {**self.settings, **{k: v for k, v in settings.items() if v is not None}}
        method = settings["method"]
        start, state = self.network.encode(self.preprocessor(inputs))
        ids = tf.range(self.postprocessor.vocabulary_size())
        never = tf.reduce_any(
            ids[:, None] == (_NEVER_SAMPLED if method == "sample" else _NEVER_GENERATED), axis=1
        )

        def step(tokens, state):
            logits, state = self.network.decode_step(tokens, state)
            return tf.where(never, float("-inf"), logits), state

        options = {
            "end_token": END_ID,
            "max_length": settings["max_length"],
            "no_repeat_ngram_size": settings["no_repeat_ngram_size"],
            "repetition_penalty": settings["repetition_penalty"],
        }
        if method == "greedy":
            return decoding.greedy_search(step, start, state, record=record, **options)
        if method == "sample":
            return decoding.sample(
                step, start, state, record=record, temperature=settings["temperature"],
                top_k=settings["top_k"], seed=seed, **options,
            )  # fmt: skip
        result = decoding.beam_search(
            step, start, state, beam_width=settings["beam_width"],
            length_penalty=settings["length_penalty"], **options,
        )  # fmt: skip
        return {name: value[:, 0] for name, value in result.items()}  # the best hypothesis

    def generate_graph(self, inputs, seed=None, **settings):
        """Raw inputs to strings `(B,)`, as graph code (an export's body)."""
        result = self.generate_ids(inputs, seed=seed, **settings)
        texts = self.postprocessor.detokenize(result["tokens"], result["lengths"])
        if self.blank is None:
            return texts
        blank = tf.equal(tf.strings.length(tf.strings.strip(inputs)), 0)
        return tf.where(blank, tf.constant(self.blank), texts)

    def generate(self, inputs, seed=None, batch_size=None, **settings):
        """Strings (`str`) for raw inputs, `batch_size` at a time (default: all at once),
        through a compiled function cached per setting and input type."""
        inputs = tf.convert_to_tensor(inputs)
        spec = tf.TensorSpec([None, *inputs.shape[1:]], inputs.dtype)  # any batch size: one trace
        key = (spec, seed, *sorted(settings.items()))
        functions = self._compiled.by_setting
        if key not in functions:
            functions[key] = tf.function(
                lambda x: self.generate_graph(x, seed=seed, **settings), input_signature=[spec]
            )
        size = batch_size or max(len(inputs), 1)
        batches = [functions[key](inputs[i : i + size]).numpy() for i in range(0, len(inputs), size)]
        return [text.decode("utf-8") for batch in batches for text in batch]

    def get_config(self):
        return {**super().get_config(), **self.settings, "blank": self.blank}


class _Functions:
    """The compiled decoding functions of a `TextGenerator`, by setting: in a plain object,
    so that neither Keras nor a SavedModel tracks them."""

    def __init__(self):
        self.by_setting = {}
