"""WordPiece subword units: a vocabulary learnt from training text, applied as graph code.

    tokenize:    text -> `split_punctuation` [-> lower case] -> words (split on whitespace)
                 -> WordPiece, greedy longest match first (e.g. `Zebras` -> `Ze ##bra ##s`)
                 -> ids
    detokenize:  ids -> pieces -> words (a `##` piece is glued to the one before it)
                 -> words joined by spaces -> `detokenize` (no space before `. , ! ? ; : )`)

The vocabulary holds every character of the training words, alone and as `##c`, so every
word spelt with characters seen in training has pieces: a rare or unseen word becomes
several pieces, never `[UNK]`. Only a word holding a character never seen in training
becomes `[UNK]` (WordPiece gives a word it cannot spell that token as a whole).

The vocabulary is learnt by TensorFlow Text's WordPiece learner
(`tensorflow_text.tools.wordpiece_vocab.wordpiece_tokenizer_learner_lib.learn`, the one under
`bert_vocab_from_dataset`; it needs no Apache Beam) from the counts of our own words rather
than BERT's (`split_punctuation` keeps `woman's` and `T-shirt` one word each, so their
pieces glue back exactly), and applied by `tensorflow_text.FastWordpieceTokenizer`, which
detokenizes too. Both directions are TensorFlow Text ops: a process that loads an export
runs `import tensorflow_text` first, which registers them (rnnkit is not needed).
"""

import collections

import keras
import tensorflow as tf
import tensorflow_text
from tensorflow_text.tools.wordpiece_vocab import wordpiece_tokenizer_learner_lib

from .generation import detokenize, split_punctuation

__all__ = ["PADDING", "SUFFIX", "UNKNOWN", "WordPieceTokenizer", "learn_wordpieces", "standardize"]

# Ids 0 and 1. Brackets never survive `split_punctuation`, so no text holds either.
PADDING, UNKNOWN = "[PAD]", "[UNK]"
SUFFIX = "##"  # marks a piece that continues a word
# Counts below this never make a piece of their own (the learner's `lower_thresh`): a piece
# seen once or twice is noise, and its embedding would barely train.
MIN_COUNT = 3


def standardize(texts, lowercase=False):
    """Sentences `(batch,)` as whitespace-separated words: [lower-cased,] punctuation split off."""
    texts = tf.strings.lower(texts, encoding="utf-8") if lowercase else texts
    return split_punctuation(texts)


def learn_wordpieces(texts, vocab_size, reserved, lowercase=False, argument="texts"):
    """A WordPiece vocabulary of about `vocab_size` pieces (`reserved` first) for `texts`.

    Args:
        texts: the training sentences (a list of strings).
        vocab_size: the size aimed at, `reserved` included: the learner searches the count
            threshold whose vocabulary comes within 5% below it. Every character of the
            training words is kept (alone and with `##`) whatever the size, and no piece
            seen fewer than `MIN_COUNT` times is added, so small data give fewer pieces.
        reserved: tokens that take the first ids (padding, `[UNK]`, ...).
        lowercase: standardize lower-cased, as `WordPieceTokenizer(lowercase=True)` reads.
        argument: the name of `texts` in the error raised when they hold no word.

    Returns:
        The vocabulary, a list of strings: `reserved`, the characters, then the longer
        pieces, most frequent first.
    """
    words = tf.strings.split(standardize(tf.constant(texts), lowercase)).flat_values.numpy()
    counts = collections.Counter(word.decode("utf-8") for word in words)
    if not counts:
        raise ValueError(f"Argument `{argument}` holds no words: every sentence is empty.")
    return wordpiece_tokenizer_learner_lib.learn(
        counts, vocab_size, list(reserved), lower_thresh=MIN_COUNT, joiner=SUFFIX
    )


@keras.saving.register_keras_serializable(package="rnnkit")
class WordPieceTokenizer(keras.layers.Layer):
    """Sentences to WordPiece ids and back, as graph code (see the module docstring).

        call(texts (B,))             -> ragged ids (B, None), int32
        detokenize(ids, lengths)     -> strings (B,): the first `lengths[b]` ids of row b

    Args:
        vocabulary: the pieces by id (`learn_wordpieces`), `[PAD]` first; in the config.
        unknown_token: the piece of a word that cannot be spelt (default `"[UNK]"`; it must
            be in `vocabulary`).
        lowercase: lower-case sentences before splitting them (default False).

    Example:

    >>> tokenizer = WordPieceTokenizer(["[PAD]", "[UNK]", "a", "d", "o", "g", "##a", "##d",
    ...                                 "##o", "##g", "dog", "##s", "."])
    >>> ids = tokenizer(tf.constant(["a dogs."]))
    >>> [tokenizer.get_vocabulary()[i] for i in ids[0].numpy()]
    ['a', 'dog', '##s', '.']
    >>> tokenizer.detokenize(ids.to_tensor(), ids.row_lengths())[0].numpy().decode()
    'a dogs.'
    """

    def __init__(self, vocabulary, unknown_token=UNKNOWN, lowercase=False, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary, self.unknown_token, self.lowercase = list(vocabulary), unknown_token, lowercase
        if unknown_token not in self.vocabulary:
            raise ValueError(
                f"Argument `unknown_token`: {unknown_token!r} is not in `vocabulary` "
                f"({len(self.vocabulary)} pieces)."
            )
        self.wordpiece = tensorflow_text.FastWordpieceTokenizer(
            self.vocabulary,
            suffix_indicator=SUFFIX,
            unknown_token=unknown_token,
            no_pretokenization=True,  # words come split by `standardize`
            support_detokenization=True,
            token_out_type=tf.int32,
        )
        self.built = True  # no weights of its own

    def call(self, texts):
        words = tf.strings.split(standardize(texts, self.lowercase))  # (B, words)
        return self.wordpiece.tokenize(words).merge_dims(1, 2)  # (B, words, pieces) -> (B, pieces)

    def detokenize(self, ids, lengths):
        pieces = tf.RaggedTensor.from_tensor(tf.cast(ids, tf.int32), lengths=lengths)
        return detokenize(self.wordpiece.detokenize(pieces))

    def vocabulary_size(self):
        return len(self.vocabulary)

    def get_vocabulary(self):
        return list(self.vocabulary)

    def get_config(self):
        config = {
            "vocabulary": self.vocabulary,
            "unknown_token": self.unknown_token,
            "lowercase": self.lowercase,
        }
        return {**super().get_config(), **config}
