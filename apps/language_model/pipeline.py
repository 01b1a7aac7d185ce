"""`LanguageModelPipeline`: next-token prediction over characters or words, and sampling."""

import collections
import math
import numbers

import keras
import numpy as np
import tensorflow as tf

from ..base import Pipeline
from ..checks import check_bool, check_bptt_steps, check_choice, check_positive_int, preview
from ..generation import (
    END_ID,
    IdsToText,
    Perplexity,
    TextGenerator,
    check_decoding,
    check_repetition,
    compile_generator,
)
from .model import LEVELS, LanguageModel, TokenLookup, tokenize
from .ngram import KneserNey

__all__ = ["LEVELS", "NGRAM_ORDER", "LanguageModelPipeline"]

NGRAM_ORDER = {"char": 5, "word": 3}  # the n of evaluate(baseline=True)'s Kneser-Ney n-gram model


class LanguageModelPipeline(Pipeline):
    """A recurrent language model, trained with truncated backpropagation through time.

    documents -> tokens (characters, or words with punctuation split off) -> ids, each
    document followed by `[end]` -> one stream cut into windows of `seq_len + 1` ids ->
    `Embedding` -> `Recurrent(cell, bptt_steps=k)` (x `layers`) -> `Dense` logits for the
    next token, trained with the cross-entropy

        L = -1/N sum_t log p(y_{t+1} | y_1..y_t)

    The gradient of each window flows back at most `bptt_steps` tokens (the lectures'
    truncated BPTT); the state starts from zeros at every window. `evaluate` reports the
    perplexity `exp(L)` of held-out text; `generate` continues a prompt by sampling
    (`rnnkit.layers.decoding.sample`, temperature and top-k), stopping at `[end]`.

    Args:
        level: `"char"` or `"word"` (default "char").
        cell: `"rnn"`, `"lstm"`, `"gru"`, `"leaky"`, `"esn"`, or a cell instance (copied for
            every layer). Default `"gru"`: on the embedded docstrings it reached lower held-out
            perplexity than the LSTM in the same epochs, in 60 % of the time.
        units: state size of each recurrent layer (default 256).
        layers: stacked recurrent layers (default 1).
        embedding_dim: size of the token vectors (default 64).
        seq_len: tokens per training window (default 128).
        bptt_steps: truncation length `k` in `[1, seq_len]`, or None for full BPTT over the
            window (default 32).
        vocab_size: most frequent tokens kept, padding, `[UNK]`, `[start]` and `[end]`
            included (default 10000; characters rarely need as many).
        lowercase: lower-case the text first (default False).
        dropout: dropout of the token vectors and before the output layer (default 0.1).
        batch_size: windows per training batch (default 64).
        learning_rate: Adam's learning rate (default 5e-3; with `fit(patience=...)`, as
            `rnnkit lm train` trains, halved whenever the validation loss stops falling).
        length: tokens `generate` writes by default, and the export's `generate` writes
            (default 200).
        temperature: default sampling temperature, > 0 (default 0.8).
        top_k: default top-k filter of sampling, or None (default None).
        no_repeat_ngram_size: no n-gram of this many tokens is generated twice in one output
            (0, the default: off), in `generate` and the export.
        repetition_penalty: divides the positive logits (multiplies the negative ones) of the
            tokens an output already holds (CTRL's penalty; 1.0, the default: off).
        seed: seed of weights, dropout and shuffling (default 0).

    Example:

    >>> pipeline = LanguageModelPipeline(units=8, embedding_dim=4, seq_len=8, bptt_steps=4)
    >>> _ = pipeline.fit(["so long and thanks for all the fish"], epochs=1, verbose=0)
    >>> isinstance(pipeline.generate("so long", length=5, seed=1), str)
    True
    """

    def __init__(
        self,
        *,
        level="char",
        cell="gru",
        units=256,
        layers=1,
        embedding_dim=64,
        seq_len=128,
        bptt_steps=32,
        vocab_size=10000,
        lowercase=False,
        dropout=0.1,
        batch_size=64,
        learning_rate=5e-3,
        length=200,
        temperature=0.8,
        top_k=None,
        no_repeat_ngram_size=0,
        repetition_penalty=1.0,
        seed=0,
    ):
        super().__init__(cell, units, dropout, batch_size, learning_rate, seed)
        self.level = check_choice("level", level, LEVELS)
        self.layers = check_positive_int("layers", layers)
        self.embedding_dim = check_positive_int("embedding_dim", embedding_dim)
        self.seq_len = check_positive_int("seq_len", seq_len)
        self.bptt_steps = check_bptt_steps(bptt_steps, self.seq_len, "seq_len")
        self.vocab_size = check_positive_int("vocab_size", vocab_size)
        self.lowercase = check_bool("lowercase", lowercase)
        self.length = check_positive_int("length", length)
        check_decoding("sample", temperature=temperature, top_k=top_k)
        self.temperature, self.top_k = float(temperature), top_k
        self.no_repeat_ngram_size, self.repetition_penalty = check_repetition(
            no_repeat_ngram_size, repetition_penalty
        )
        self._train = None  # kept in memory (not saved) for evaluate(baseline=True)
        self._baseline = None

    # Preprocessing -------------------------------------------------------------------------

    def check_data(self, texts, argument="data"):
        """A document (a string) or a non-empty list of them; returns the list."""
        argument = "texts" if argument == "data" else argument
        texts = self.check_prompts(texts.tolist() if hasattr(texts, "tolist") else texts, argument)
        if not any(text.strip() for text in texts):
            raise ValueError(f"Argument `{argument}` holds no text (only empty or blank documents).")
        tokens = tokenize(tf.constant(texts), self.level, self.lowercase)
        self._check_length(len(texts) + int(tf.size(tokens.flat_values)), argument)
        return list(texts)

    def _check_length(self, tokens, argument="texts"):
        if tokens < self.seq_len + 1:
            raise ValueError(
                f"Argument `{argument}` has {tokens} tokens; at least seq_len + 1 = {self.seq_len + 1} "
                "are needed for one window."
            )

    @property
    def tokens(self):
        """The vocabulary by id: `""`, `[UNK]`, `[start]`, `[end]`, then the learnt tokens."""
        return self.preprocessor.get_vocabulary()

    def stream(self, documents):
        """Documents to one id stream `(N,)`, each document followed by `[end]` (NumPy)."""
        ids = self.preprocessor(tf.constant(documents))
        ends = tf.fill([ids.nrows(), 1], END_ID)
        return tf.concat([ids, ends], axis=1).flat_values.numpy()

    def learn_preprocessing(self, documents):
        tokens = tokenize(tf.constant(documents), self.level, self.lowercase).flat_values.numpy()
        counts = collections.Counter(token.decode("utf-8") for token in tokens)
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        vocabulary = [token for token, _ in ranked[: max(self.vocab_size - 4, 1)]]
        self.preprocessor = TokenLookup(vocabulary, self.level, self.lowercase, name="tokens")
        # the training count of every id, for the unigram baseline
        self.state = {"counts": np.bincount(self.stream(documents), minlength=len(self.tokens)).tolist()}
        self._train, self._baseline = list(documents), None

    def make_dataset(self, data, training=False):
        """Batches of `(ids, next ids, weights)`, windows of `seq_len` cut from the stream.

        Training windows follow each other (stride `seq_len`) and are shuffled. Held-out
        windows overlap by half (stride `seq_len // 2`) and score only the tokens the
        previous window did not, so every scored token has at least `seq_len // 2` tokens
        of context (except at the start); the last `< seq_len // 2` tokens may go unscored.
        """
        documents = data if isinstance(data, list) else self.check_data(data)
        stream = self.stream(documents)
        self._check_length(len(stream))
        stride = self.seq_len if training else max(self.seq_len // 2, 1)
        windows = tf.signal.frame(stream, self.seq_len + 1, stride)  # (windows, seq_len + 1)
        weights = np.ones((len(windows), self.seq_len), np.float32)
        if not training:
            weights[1:, : self.seq_len - stride] = 0.0  # scored by the previous window
        dataset = tf.data.Dataset.from_tensor_slices((windows[:, :-1], windows[:, 1:], weights))
        if training:
            dataset = dataset.shuffle(len(windows), seed=self.seed, reshuffle_each_iteration=True)
        return dataset.batch(self.batch_size).prefetch(tf.data.AUTOTUNE)

    def fit(self, texts, validation_data=None, **kwargs):
        """`Pipeline.fit` on documents; `validation_data` may be documents too (no tuple needed)."""
        if validation_data is not None and not isinstance(validation_data, tuple):
            validation_data = (validation_data,)
        return super().fit(texts, validation_data=validation_data, **kwargs)

    # Model ---------------------------------------------------------------------------------

    def build_model(self):
        keras.utils.set_random_seed(self.seed)
        model = LanguageModel(
            len(self.tokens),
            self.new_cell(),
            layers=self.layers,
            embedding_dim=self.embedding_dim,
            bptt_steps=self.bptt_steps,
            dropout=self.dropout,
            name="language_model",
        )
        model.build()
        return compile_generator(model, self.learning_rate, metrics=[Perplexity()])

    def build_task(self):
        words = IdsToText(self.tokens[2:], separator="" if self.level == "char" else " ", name="text")
        return TextGenerator(
            self.preprocessor, self.model, words, self.state, method="sample", max_length=self.length,
            temperature=self.temperature, top_k=self.top_k, no_repeat_ngram_size=self.no_repeat_ngram_size,
            repetition_penalty=self.repetition_penalty, name="generator",
        )  # fmt: skip

    # Task verbs ----------------------------------------------------------------------------

    def generate(self, prompt, length=None, temperature=None, top_k=None, seed=None):
        """Continues `prompt` (a string, or a list of strings) by sampling; returns the same form.

        Sampling stops at the end of a document (`[end]`) or after `length` tokens.
        Characters or words the training text never had are read as `[UNK]`. An empty
        prompt starts a new document.

        Args:
            prompt: a string or a list of strings.
            length: most tokens to write (default: the pipeline's `length`).
            temperature: > 0; below 1 sharpens, above 1 flattens (default: the pipeline's).
            top_k: sample only among the `top_k` most probable tokens (default: the pipeline's).
            seed: an integer for repeatable samples, or None.
        """
        self._check_fitted("generate")
        single = isinstance(prompt, str)
        prompts = self.check_prompts(prompt)
        length = self.length if length is None else check_positive_int("length", length)
        temperature = self.temperature if temperature is None else temperature
        top_k = self.top_k if top_k is None else top_k
        check_decoding("sample", temperature=temperature, top_k=top_k)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise ValueError(f"Argument `seed` must be None or an integer. Received: seed={seed!r}")
        texts = self.task.generate(
            tf.constant(prompts), seed=seed, max_length=length, temperature=float(temperature), top_k=top_k
        )
        return texts[0] if single else texts

    @staticmethod
    def check_prompts(prompt, argument="prompt"):
        """A string or a non-empty list (or tuple) of strings, as a list."""
        prompts = [prompt] if isinstance(prompt, str) else prompt
        if not isinstance(prompts, (list, tuple)) or not prompts:
            raise ValueError(
                f"Argument `{argument}` must be a string or a non-empty list of strings. "
                f"Received: {preview(prompt)}"
            )
        for i, text in enumerate(prompts):
            if not isinstance(text, str):
                raise ValueError(f"Argument `{argument}`: item {i} is {type(text).__name__}, not a string.")
        return list(prompts)

    def log_likelihood(self, texts):
        """`log p(text)` in nats for each text, read as a document start (NumPy `(n,)`)."""
        self._check_fitted("log_likelihood")
        texts = self.check_prompts(texts)
        return self._read_log_likelihood(tf.constant(texts)).numpy()

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def _read_log_likelihood(self, texts):
        return self.extra_endpoints()["log_likelihood"][0](texts)

    def evaluate(self, texts, baseline=False):
        """Perplexity of held-out documents, against a unigram model of the training text.

        Returns `{"perplexity", "cross_entropy" (nats per token), "bits_per_token",
        "token_accuracy", "tokens" (scored), "unigram_perplexity", "unigram_bits_per_token"}`.
        With `baseline=True`, also `"ngram_perplexity"` and `"ngram_bits_per_token"`: those of
        an interpolated Kneser-Ney n-gram model (`KneserNey`, n = `NGRAM_ORDER[level]`: 5 for
        characters, 3 for words) counted on the training text, scored on the same tokens,
        each read after the same text before it (the n - 1 tokens before it, `[end]` before
        the first document).
        """
        self._check_fitted("evaluate")
        documents = self.check_data(texts, argument="texts")
        dataset = self.make_dataset(documents)
        scores = self.evaluate_batches(dataset)
        targets = np.concatenate([y.numpy()[w.numpy() > 0] for _, y, w in dataset])
        unigram = np.log(np.asarray(self.state["counts"], np.float64) + 1.0)  # add-one smoothing
        unigram -= np.log(np.exp(unigram).sum())
        cross_entropy = math.log(float(scores["perplexity"]))
        metrics = {
            "perplexity": float(scores["perplexity"]),
            "cross_entropy": cross_entropy,
            "bits_per_token": cross_entropy / math.log(2.0),
            "token_accuracy": float(scores["token_accuracy"]),
            "tokens": int(targets.size),
            "unigram_perplexity": float(np.exp(-unigram[targets].mean())),
            "unigram_bits_per_token": float(-unigram[targets].mean() / math.log(2.0)),
        }
        if baseline:
            ngram = self._ngram()
            # the network scored stream[1 : 1 + tokens], in order (make_dataset)
            stream = self.stream(documents)[: targets.size + 1]
            log_p = ngram.log_probs(_after_end(stream, ngram.order))[1:]
            metrics["ngram_perplexity"] = float(np.exp(-log_p.mean()))
            metrics["ngram_bits_per_token"] = float(-log_p.mean() / math.log(2.0))
        return metrics

    def _ngram(self):
        """The Kneser-Ney n-gram baseline, counted on the training text once."""
        if self._train is None:
            raise ValueError(
                "Argument `baseline`: the n-gram baseline is counted on the training text, which a "
                "loaded pipeline does not keep; call fit() in this session first."
            )
        if self._baseline is None:
            model = KneserNey(NGRAM_ORDER[self.level], vocab_size=len(self.tokens))
            self._baseline = model.fit(_after_end(self.stream(self._train), model.order))
        return self._baseline

    # Export --------------------------------------------------------------------------------

    serve_aliases = ("generate",)

    def serving_function(self):
        return (lambda prompts: self.task(prompts)), [tf.TensorSpec([None], tf.string, name="prompts")]

    def extra_endpoints(self):
        texts = [tf.TensorSpec([None], tf.string, name="texts")]
        log_likelihood = lambda t: self.model.read(self.preprocessor(t))[2]  # noqa: E731
        return {"log_likelihood": (log_likelihood, texts)}


def _after_end(stream, order):
    """`stream` after `order - 1` `[end]` tokens: a document start, as the n-gram model reads it."""
    return np.concatenate([np.full(order - 1, END_ID), stream])
