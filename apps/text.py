"""Text preprocessing shared by the text pipelines, written as TensorFlow graph code.

Everything here runs inside `tf.data` and inside an exported SavedModel, so a served model
sees its raw strings exactly as training did.
"""

import string

import keras
import tensorflow as tf

__all__ = ["PADDING", "TokenIds", "normalize_tweets", "pad_or_truncate"]

PADDING = ("pre", "post")

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
    (`padding="pre"`) or after (`"post"`) them. Zero is the padding id, masked downstream.

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


@keras.saving.register_keras_serializable(package="rnnkit")
class TokenIds(keras.layers.Layer):
    """Strings `(batch,)` to token ids `(batch, max_len)`, the text pipelines' preprocessing.

    `TextVectorization` (`standardize`, split on whitespace, look up: padding 0, unknown
    words 1) then `pad_or_truncate`. The vocabulary, learnt with `adapt`, is the
    vectorizer's own asset in a `.keras` file.

    Args:
        max_tokens: most frequent tokens kept, padding and `[UNK]` included.
        max_len, padding, truncating: as in `pad_or_truncate`.
        standardize: None, or a registered function of a string tensor (`normalize_tweets`).
    """

    def __init__(self, max_tokens, max_len, padding="post", truncating="post", standardize=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(standardize, dict):
            standardize = keras.saving.deserialize_keras_object(standardize)
        self.max_tokens, self.max_len = max_tokens, max_len
        self.padding, self.truncating, self.standardize = padding, truncating, standardize
        self.vectorizer = keras.layers.TextVectorization(
            max_tokens=max_tokens, standardize=standardize, split="whitespace", ragged=True, name="vectorizer"
        )
        self.vectorizer.build((None,))
        self.built = True  # no weights of its own

    def adapt(self, texts):
        """Learns the vocabulary of `texts` (a list of strings)."""
        self.vectorizer.adapt(tf.data.Dataset.from_tensor_slices(texts).batch(1024))

    def vocabulary_size(self):
        return self.vectorizer.vocabulary_size()

    def get_vocabulary(self):
        return self.vectorizer.get_vocabulary()

    def call(self, texts):
        return pad_or_truncate(self.vectorizer(texts), self.max_len, self.padding, self.truncating)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.max_len)

    def get_config(self):
        return {
            **super().get_config(),
            "max_tokens": self.max_tokens,
            "max_len": self.max_len,
            "padding": self.padding,
            "truncating": self.truncating,
            "standardize": keras.saving.serialize_keras_object(self.standardize),
        }
