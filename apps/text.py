"""Text preprocessing shared by the text pipelines, written as TensorFlow graph code.

Everything here runs inside `tf.data` and inside an exported SavedModel, so a served model
sees its raw strings exactly as training did.
"""

import os
import string
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

__all__ = [
    "CHAR_NGRAMS",
    "PADDING",
    "NgramEmbedding",
    "TokenIds",
    "char_ngram_ids",
    "check_word_vectors",
    "normalize_tweets",
    "pad_or_truncate",
    "word_vectors",
]

PADDING = ("pre", "post")
CHAR_NGRAMS = (3, 4, 5)  # fastText's character n-gram sizes (its default is 3-6)

# Emoticons become words before punctuation is split off them.
_EMOTICONS = [
    (r"(?:[:=;]-?[)\]d]|\^_?\^|<3)", " <smile> "),
    (r"(?:[:=;]-?[(\[]|:'\()", " <sad> "),
    (r"(?:[:=;]-?[p]|xd)", " <laugh> "),
]
_EMOJI = r"[\x{1F000}-\x{1FAFF}\x{2600}-\x{27BF}\x{2B00}-\x{2BFF}]"


@keras.saving.register_keras_serializable(package="rnnkit")
def normalize_tweets(texts):
    """Lower-cased, tokenisable tweets: `(batch,)` strings in, `(batch,)` strings out.

    - URLs become `<url>`, @mentions `<user>`, numbers `<number>`;
    - a hashtag becomes `<hashtag>` and its word: `#blessed` -> `<hashtag> blessed`;
    - emoji stand alone as tokens, emoticons become `<smile>`, `<sad>`, `<laugh>`;
    - elongations are shortened to two letters (`soooo` -> `soo`, `!!!!` -> `!!`), so
      the emphasis stays visible as its own token but does not explode the vocabulary;
    - punctuation is split from words.

    Example:

    >>> normalize_tweets(tf.constant(["Soooo GOOD!!! 😊 @amy see http://t.co/x #Win :)"]))[0].numpy().decode()
    'soo good !! 😊 <user> see <url> <hashtag> win <smile>'
    """
    texts = tf.strings.lower(texts, encoding="utf-8")
    texts = tf.strings.regex_replace(texts, r"(?:https?://|www\.)\S+", " <url> ")
    texts = tf.strings.regex_replace(texts, r"@\w+", " <user> ")
    texts = tf.strings.regex_replace(texts, r"#(\w+)", r" <hashtag> \1 ")
    for pattern, token in _EMOTICONS:
        texts = tf.strings.regex_replace(texts, r"(?:^|\s)" + pattern + r"(?:\s|$)", token)
    texts = tf.strings.regex_replace(texts, _EMOJI, r" \0 ")
    for char in string.ascii_lowercase + "!?.":
        escaped = "\\" + char if char in "?." else char
        texts = tf.strings.regex_replace(texts, f"{escaped}{{3,}}", char * 2)
    texts = tf.strings.regex_replace(texts, r"\d+(?:[.,:]\d+)*", " <number> ")
    texts = tf.strings.regex_replace(texts, r"([!?.,;:()\"]+|'s\b|n't\b)", r" \1 ")
    texts = tf.strings.regex_replace(texts, r"\s+", " ")
    return tf.strings.strip(texts)


def pad_or_truncate(ids, max_len, padding="post", truncating="post"):
    """A ragged batch of token ids `(batch, None)` as a dense `(batch, max_len)` tensor.

    The lectures' pad-or-truncate: sequences longer than `max_len` lose their beginning
    (`truncating="pre"`) or their end (`"post"`); shorter ones get zeros before
    (`padding="pre"`) or after (`"post"`) them. Zero is the padding id, masked downstream
    (for a batch of token strings, the empty string).

    Example:

    >>> ids = tf.ragged.constant([[1, 2, 3, 4], [5]])
    >>> pad_or_truncate(ids, 3, padding="pre", truncating="pre").numpy().tolist()
    [[2, 3, 4], [0, 0, 5]]
    """
    ids = ids[:, -max_len:] if truncating == "pre" else ids[:, :max_len]
    dense = ids.to_tensor(shape=[None, max_len])  # post-padded: [a, b, c, 0, 0]
    if padding == "pre":
        # reverse each row's real tokens, then the whole row: [c, b, a, 0, 0] -> [0, 0, a, b, c]
        lengths = tf.cast(ids.row_lengths(), tf.int32)
        dense = tf.reverse(tf.reverse_sequence(dense, lengths, seq_axis=1, batch_axis=0), axis=[1])
    return dense


def char_ngram_ids(words, buckets, max_ngrams):
    """fastText's subword units: each word's character n-grams, hashed to ids in `[1, buckets]`.

    A word `w` is read as `<w>` (the brackets mark its start and end), and its n-grams of
    the sizes `CHAR_NGRAMS` (3 to 5) are hashed into `buckets` buckets: `"good"` ->
    `<go, goo, ood, od>, <goo, ...`. A misspelt or unseen word shares most of its n-grams
    with the words it resembles (`"goood"`, `"goodness"`). Each word keeps its first
    `max_ngrams` (the shorter sizes first); 0 pads, and an empty string (padding) has none.

    Args:
        words: a `(batch, max_len)` string tensor of tokens, `""` for padding.
        buckets: the number of hash buckets.
        max_ngrams: n-grams kept per word.

    Returns:
        `(batch, max_len, max_ngrams)` int64 ids.

    Example:

    >>> ids = char_ngram_ids(tf.constant([["good", ""]]), buckets=1000, max_ngrams=16)
    >>> (ids[0, 0] > 0).numpy().sum(), (ids[0, 1] > 0).numpy().sum()  # 4 + 3 + 2 n-grams of "<good>"
    (np.int64(9), np.int64(0))
    """
    marked = tf.where(words == "", words, "<" + words + ">")
    chars = tf.strings.unicode_split(marked, "UTF-8", errors="replace")  # (B, L, None)
    ngrams = tf.strings.ngrams(chars, CHAR_NGRAMS, separator="")  # (B, L, None), by size
    ids = tf.strings.to_hash_bucket_fast(ngrams, buckets) + 1  # 0 stays the padding id
    shape = tf.concat([tf.shape(words, out_type=tf.int64), [max_ngrams]], axis=0)
    return ids[:, :, :max_ngrams].to_tensor(shape=shape)


@keras.saving.register_keras_serializable(package="rnnkit")
class TokenIds(keras.layers.Layer):
    """Strings `(batch,)` to token ids `(batch, max_len)`, the text pipelines' preprocessing.

    `TextVectorization` (`standardize`, split on whitespace, look up: padding 0, unknown
    words 1) then `pad_or_truncate`. The vocabulary, learnt with `adapt`, is the
    vectorizer's own asset in a `.keras` file.

    With `ngram_buckets`, the output is a dict: the ids under `"token_ids"`, and under
    `"ngram_ids"` each token's hashed character n-grams, `(batch, max_len, max_ngrams)`
    (`char_ngram_ids`), so that a word outside the vocabulary still has its subwords.

    Args:
        max_tokens: most frequent tokens kept, padding and `[UNK]` included.
        max_len, padding, truncating: as in `pad_or_truncate`.
        standardize: None, or a registered function of a string tensor (`normalize_tweets`).
        ngram_buckets: 0 (no n-grams), or the number of hash buckets of the n-grams.
        max_ngrams: n-grams kept per token.
    """

    def __init__(
        self,
        max_tokens,
        max_len,
        padding="post",
        truncating="post",
        standardize=None,
        ngram_buckets=0,
        max_ngrams=24,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(standardize, dict):
            standardize = keras.saving.deserialize_keras_object(standardize)
        self.max_tokens, self.max_len = max_tokens, max_len
        self.padding, self.truncating, self.standardize = padding, truncating, standardize
        self.ngram_buckets, self.max_ngrams = ngram_buckets, max_ngrams
        # standardized here, once, for the ids and the n-grams alike (`_standardized`)
        self.vectorizer = keras.layers.TextVectorization(
            max_tokens=max_tokens, standardize=None, split="whitespace", ragged=True, name="vectorizer"
        )
        self.vectorizer.build((None,))
        self.built = True  # no weights of its own

    def adapt(self, texts):
        """Learns the vocabulary of `texts` (a list of strings)."""
        self.vectorizer.adapt(tf.data.Dataset.from_tensor_slices(texts).batch(1024).map(self._standardized))

    def vocabulary_size(self):
        return self.vectorizer.vocabulary_size()

    def get_vocabulary(self):
        return self.vectorizer.get_vocabulary()

    def _standardized(self, texts):
        return texts if self.standardize is None else self.standardize(texts)

    def call(self, texts):
        texts = self._standardized(texts)
        ids = pad_or_truncate(self.vectorizer(texts), self.max_len, self.padding, self.truncating)
        if not self.ngram_buckets:
            return ids
        # the same tokens as strings: the vectorizer splits on whitespace too
        words = pad_or_truncate(tf.strings.split(texts), self.max_len, self.padding, self.truncating)
        ngrams = char_ngram_ids(words, self.ngram_buckets, self.max_ngrams)
        return {"token_ids": ids, "ngram_ids": ngrams}

    def compute_output_shape(self, input_shape):
        ids = (input_shape[0], self.max_len)
        if not self.ngram_buckets:
            return ids
        return {"token_ids": ids, "ngram_ids": (*ids, self.max_ngrams)}

    def get_config(self):
        return {
            **super().get_config(),
            "max_tokens": self.max_tokens,
            "max_len": self.max_len,
            "padding": self.padding,
            "truncating": self.truncating,
            "standardize": keras.saving.serialize_keras_object(self.standardize),
            "ngram_buckets": self.ngram_buckets,
            "max_ngrams": self.max_ngrams,
        }


@keras.saving.register_keras_serializable(package="rnnkit")
class NgramEmbedding(keras.layers.Layer):
    """A word's vector from its character n-grams (`char_ngram_ids`), as in fastText:

        v(w) = (1 / |G(w)|) sum_{g in G(w)} z_g,    z_g = Z[g] a row of an embedding table,

    over the word's n-gram ids `G(w)` (0, padding, is left out; a padding word gets 0).

    Args:
        buckets: the n-grams' hash buckets (the table has `buckets + 1` rows, row 0 unused).
        output_dim: the size of the vectors.

    Call: `(batch, max_len, max_ngrams)` ids in, `(batch, max_len, output_dim)` vectors out.
    """

    def __init__(self, buckets, output_dim, **kwargs):
        super().__init__(**kwargs)
        self.buckets, self.output_dim = buckets, output_dim
        self.embedding = keras.layers.Embedding(buckets + 1, output_dim, name="ngram_vectors")

    def build(self, input_shape):
        self.embedding.build(input_shape)

    def call(self, ngram_ids):
        vectors = self.embedding(ngram_ids)  # (B, L, K, d)
        present = keras.ops.cast(keras.ops.expand_dims(ngram_ids > 0, -1), vectors.dtype)  # (B, L, K, 1)
        count = keras.ops.maximum(keras.ops.sum(present, axis=2), 1.0)  # (B, L, 1)
        return keras.ops.sum(vectors * present, axis=2) / count

    def compute_output_shape(self, input_shape):
        return (*input_shape[:2], self.output_dim)

    def get_config(self):
        return {**super().get_config(), "buckets": self.buckets, "output_dim": self.output_dim}


def check_word_vectors(embeddings):
    """`embeddings=` of a text pipeline: None, a vectors file's path (as a string), a dict
    `{word: vector}`, or a pair `(words, vectors)` of a word list and a 2-D array, one row per
    word (returned as a dict). Fails with a `ValueError` naming the argument."""
    if embeddings is None or isinstance(embeddings, dict):
        pairs = embeddings
    elif isinstance(embeddings, (str, os.PathLike)):
        return os.fspath(embeddings)
    elif isinstance(embeddings, (tuple, list)) and len(embeddings) == 2:
        words, vectors = embeddings
        vectors = np.asarray(vectors)
        if vectors.ndim != 2 or len(vectors) != len(words):
            raise ValueError(
                "Argument `embeddings`: a pair (words, vectors) needs a 2-D array with one row per word. "
                f"Received {len(words)} words and an array of shape {vectors.shape}."
            )
        pairs = dict(zip(words, vectors, strict=True))
    else:
        raise ValueError(
            "Argument `embeddings` must be None, the path of a GloVe / word2vec / fastText text-format "
            "vectors file, a dict {word: vector}, or a pair (words, 2-D array). "
            f"Received: {type(embeddings).__name__}"
        )
    if pairs is None:
        return None
    if not pairs:
        raise ValueError("Argument `embeddings` holds no vectors.")
    sizes = {np.shape(vector) for vector in pairs.values()}
    if len(sizes) != 1 or len(next(iter(sizes))) != 1 or not all(isinstance(w, str) for w in pairs):
        raise ValueError(
            "Argument `embeddings`: every key must be a word (a string) and every vector a 1-D array of "
            f"one size. Received vector shapes {sorted(sizes)[:3]}."
        )
    return {word: np.asarray(vector, dtype="float32") for word, vector in pairs.items()}


def word_vectors(embeddings, vocabulary, seed=0):
    """The embedding matrix of `vocabulary` from pre-trained word vectors.

    Args:
        embeddings: what `check_word_vectors` returns: a dict `{word: vector}`, or the path of
            a text-format file: GloVe's lines `word v_1 ... v_d`, or word2vec's and fastText's
            (`.vec`) the same after a header line `count d`.
        vocabulary: the tokens, in id order (padding first).
        seed: the seed of the vectors of words that have none.

    Returns:
        `(matrix, found)`: `matrix` is `(len(vocabulary), d)` float32; row `i` is the vector
        of the word `vocabulary[i]`, else of the first word that lower-cases to it; row 0
        (padding) is zeros; a word with no vector (`[UNK]` too) gets a random one, drawn with
        the found vectors' mean and standard deviation per dimension, to be learnt in
        training. `found` counts the words that had a vector.
    """
    if isinstance(embeddings, dict):
        pairs, size = embeddings.items(), len(next(iter(embeddings.values())))
    else:
        pairs, size = _read_vectors(Path(embeddings))
    wanted, exact, lowered = set(vocabulary), {}, {}
    for word, vector in pairs:
        if word in wanted:
            exact.setdefault(word, vector)
        elif word.lower() in wanted:
            lowered.setdefault(word.lower(), vector)
    rows = [exact.get(word, lowered.get(word)) for word in vocabulary]
    try:
        rows = [None if row is None else np.asarray(row, dtype="float32") for row in rows]
    except ValueError:
        raise ValueError("Argument `embeddings`: a vector holds something that is not a number.") from None
    found = [row for i, row in enumerate(rows) if row is not None and i > 0]
    rng = np.random.default_rng(seed)
    if found:
        mean, std = np.mean(found, axis=0), np.std(found, axis=0) + 1e-3
    else:
        mean, std = np.zeros(size), np.full(size, 0.05)
    matrix = np.stack([rng.normal(mean, std) if row is None else row for row in rows]).astype("float32")
    matrix[0] = 0.0  # padding, masked anyway
    return matrix, len(found)


def _read_vectors(path):
    """`(pairs, d)`: the `(word, numbers)` of a text-format vectors file, read lazily, and `d`."""
    if not path.is_file():
        raise ValueError(f"Argument `embeddings`: {str(path)!r} is no file of word vectors.")
    with open(path, encoding="utf-8", errors="replace") as lines:
        first = lines.readline().split()
    if len(first) == 2 and all(field.isdigit() for field in first):  # word2vec / fastText: count d
        size, skip = int(first[1]), 1
    elif len(first) >= 2:
        size, skip = len(first) - 1, 0
    else:
        raise ValueError(f"Argument `embeddings`: {str(path)!r} holds no vectors.")

    def pairs():
        with open(path, encoding="utf-8", errors="replace") as lines:
            for number, line in enumerate(lines, start=1):
                fields = line.rstrip().split(" ")
                if number <= skip or fields == [""]:
                    continue
                word = " ".join(fields[:-size])  # a GloVe "word" may hold spaces
                if len(fields) <= size or not word:
                    raise ValueError(
                        f"Argument `embeddings`: line {number} of {str(path)!r} has "
                        f"{len(fields) - 1} numbers; the file's vectors have {size}."
                    )
                yield word, fields[-size:]

    return pairs(), size
