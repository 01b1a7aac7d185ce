"""Tweet normalisation and pad-or-truncate, the graph code shared by the text pipelines."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from rnnkit.apps.text import normalize_tweets, pad_or_truncate


def normalized(text):
    return normalize_tweets(tf.constant([text]))[0].numpy().decode()


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Check https://t.co/abc and www.x.com/y", "check <url> and <url>"),
        ("@Amy_1 hi @bob", "<user> hi <user>"),
        ("#Blessed day", "<hashtag> blessed day"),
        ("sooooo goooood!!!!", "soo good !!"),
        ("LOUD Words", "loud words"),
        ("great😊😊", "great 😊 😊"),
        ("fun :) sad :( lol :p", "fun <smile> sad <sad> lol <laugh>"),
        ("it's 10:30 now", "it 's <number> now"),
        ("don't", "do n't"),
        ("", ""),
    ],
)
def test_normalize_tweets(raw, expected):
    assert normalized(raw) == expected


@pytest.mark.parametrize("padding", ["pre", "post"])
@pytest.mark.parametrize("truncating", ["pre", "post"])
def test_pad_or_truncate_matches_keras_pad_sequences(padding, truncating):
    """Keras's own `pad_sequences` is the reference for the lectures' pad-or-truncate."""
    rng = np.random.default_rng(0)
    sequences = [list(rng.integers(1, 50, size=n)) for n in (0, 1, 3, 5, 9)]
    expected = keras.utils.pad_sequences(sequences, maxlen=5, padding=padding, truncating=truncating)
    ragged = tf.ragged.constant(sequences, dtype=tf.int64)
    actual = pad_or_truncate(ragged, 5, padding=padding, truncating=truncating)
    np.testing.assert_array_equal(actual.numpy(), expected)
