"""What the sentiment pipeline reads words with: pre-trained vectors, character n-grams, and
the epoch it keeps (best validation macro-recall)."""

import numpy as np
import pytest
import tensorflow as tf
from sklearn.metrics import recall_score

from rnnkit.apps.sentiment import MacroRecall, SentimentPipeline
from rnnkit.apps.sentiment.pipeline import GIVEN_VECTORS
from rnnkit.apps.text import char_ngram_ids, word_vectors

from ..data import LABELS, TEXTS
from ..helpers import serve_without_rnnkit

SMALL = {"units": 8, "max_len": 12, "vocab_size": 500}
WORDS = sorted({word for text in TEXTS for word in text.split()})  # "8" becomes <number>


def vectors_file(path, words, size=6, header=False, seed=0):
    """A text-format vectors file (GloVe's; word2vec's with `header`), and its vectors."""
    rng = np.random.default_rng(seed)
    vectors = {word: rng.normal(size=size).round(4).astype("float32") for word in words}
    lines = [f"{len(vectors)} {size}"] if header else []
    lines += [" ".join([word, *map(str, vector)]) for word, vector in vectors.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return vectors


# Macro-recall, TweetEval's metric --------------------------------------------------------------


def test_macro_recall_is_scikit_learns_over_batches():
    rng = np.random.default_rng(0)
    metric = MacroRecall(4)
    truth, predicted = [], []
    for _ in range(3):  # accumulated over batches, weighted per class (class_weight) or not
        y = rng.integers(0, 3, size=50)  # class 3 never occurs: it counts 0, as in scikit-learn
        p = rng.dirichlet(np.ones(4), size=50)
        metric.update_state(y, p, sample_weight=np.array([0.5, 2.0, 1.0, 1.0])[y])
        truth += y.tolist()
        predicted += p.argmax(axis=1).tolist()
    expected = recall_score(truth, predicted, labels=range(4), average="macro", zero_division=0)
    np.testing.assert_allclose(float(metric.result()), expected, rtol=1e-6)
    metric.reset_state()
    assert float(metric.result()) == 0.0


def test_fit_with_patience_keeps_the_best_epoch_by_validation_macro_recall():
    assert SentimentPipeline.monitor == ("val_macro_recall", "max")
    pipeline = SentimentPipeline(**SMALL, learning_rate=0.05, seed=3)
    validation = (TEXTS[::2], LABELS[::2])
    history = pipeline.fit(TEXTS, LABELS, validation_data=validation, epochs=6, patience=5, verbose=0)
    recalls = history.history["val_macro_recall"]
    # the weights kept are those of the best epoch: scikit-learn's score of them is its score
    assert pipeline.evaluate(*validation)["macro_recall"] == pytest.approx(max(recalls), abs=1e-6)


# Character n-grams -----------------------------------------------------------------------------


def test_char_ngrams_are_shared_by_similar_words():
    ids = char_ngram_ids(tf.constant([["good", "goood", "awful", ""]]), buckets=2**20, max_ngrams=24)[0]
    grams = [set(row[row > 0].tolist()) for row in ids.numpy()]
    assert len(grams[0] & grams[1]) >= 4  # <go, goo, ood, od> ...
    assert not grams[0] & grams[2] and grams[3] == set()  # (no collision in 2^20 buckets)
    assert ids.shape == (4, 24) and ids.numpy().max() <= 2**20


def test_unseen_words_are_told_apart_only_with_ngrams():
    unseen = ["goodish", "xqzvk"]  # neither is in the vocabulary: both are [UNK]
    for buckets, differ in [(0, False), (1000, True)]:
        pipeline = SentimentPipeline(**SMALL, ngram_buckets=buckets)
        pipeline.fit(TEXTS, LABELS, epochs=1, verbose=0)
        probabilities = pipeline.predict_proba(unseen).to_numpy()
        assert (np.abs(probabilities[0] - probabilities[1]).max() > 1e-6) == differ


# Pre-trained word vectors ----------------------------------------------------------------------


@pytest.mark.parametrize("header", [False, True], ids=["glove", "word2vec"])
def test_word_vectors_read_a_text_file(tmp_path, header):
    given = vectors_file(tmp_path / "vectors.txt", ["good", "Great", "day"], header=header)
    vocabulary = ["", "[UNK]", "good", "great", "awful", "day"]
    matrix, found = word_vectors(str(tmp_path / "vectors.txt"), vocabulary, seed=0)
    assert matrix.shape == (6, 6) and matrix.dtype == np.float32 and found == 3
    np.testing.assert_array_equal(matrix[0], 0.0)  # padding
    np.testing.assert_array_equal(matrix[2], given["good"])
    np.testing.assert_array_equal(matrix[3], given["Great"])  # the lower-cased form
    np.testing.assert_array_equal(matrix[5], given["day"])
    assert np.all(matrix[4] != 0) and np.all(matrix[1] != 0)  # no vector: drawn at random


def test_pretrained_vectors_are_kept_frozen_saved_and_exported(tmp_path):
    given = vectors_file(tmp_path / "vectors.txt", WORDS)
    pipeline = SentimentPipeline(**SMALL, embeddings=tmp_path / "vectors.txt", freeze_embeddings=True)
    pipeline.fit(TEXTS, LABELS, epochs=2, verbose=0)
    vocabulary = pipeline.preprocessor.get_vocabulary()
    table = pipeline.model.get_layer("word_vectors").get_weights()[0]
    assert table.shape == (len(vocabulary), 6)  # embedding_dim: the vectors' size
    for word in ("good", "awful", "watching"):
        np.testing.assert_array_equal(table[vocabulary.index(word)], given[word])  # frozen
    assert pipeline.get_config()["embeddings"] == str(tmp_path / "vectors.txt")

    loaded = SentimentPipeline.load(pipeline.save(tmp_path / "saved"))
    np.testing.assert_array_equal(loaded.model.get_layer("word_vectors").get_weights()[0], table)
    expected = pipeline.predict_proba(["so good", "awful tv"]).to_numpy()
    np.testing.assert_allclose(loaded.predict_proba(["so good", "awful tv"]).to_numpy(), expected, atol=1e-6)
    served = serve_without_rnnkit(pipeline.export(tmp_path / "export"), "serve", [["so good", "awful tv"]])
    np.testing.assert_allclose(served["probabilities"], expected, atol=1e-5)


def test_vectors_given_as_an_array_are_fine_tuned():
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(len(WORDS), 4)).astype("float32")
    pipeline = SentimentPipeline(**SMALL, embeddings=(WORDS, vectors), learning_rate=0.05)
    pipeline.fit(TEXTS, LABELS, epochs=2, verbose=0)
    vocabulary = pipeline.preprocessor.get_vocabulary()
    table = pipeline.model.get_layer("word_vectors").get_weights()[0]
    assert not np.allclose(table[vocabulary.index("good")], vectors[WORDS.index("good")])  # trained
    config = pipeline.get_config()
    assert config["embeddings"] == GIVEN_VECTORS  # the vectors are in the weights, not the config
    with pytest.raises(ValueError, match="`embeddings`.*again"):
        SentimentPipeline.from_config(config).fit(TEXTS, LABELS, epochs=1, verbose=0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"embeddings": 3}, "`embeddings` must be None, the path"),
        ({"embeddings": (["a", "b"], np.zeros((3, 2)))}, "one row per word"),
        ({"embeddings": {"a": np.zeros(2), "b": np.zeros(3)}}, "1-D array of one size"),
        ({"embeddings": "missing.txt"}, "no file of word vectors"),
        ({"embeddings": {"good": np.zeros(4)}, "embedding_dim": 8}, "`embedding_dim` is 8"),
        ({"freeze_embeddings": "yes"}, "`freeze_embeddings`"),
        ({"ngram_buckets": -1}, "`ngram_buckets`"),
    ],
)
def test_bad_vectors_fail_before_training(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SentimentPipeline(**SMALL, **kwargs).fit(TEXTS, LABELS, epochs=1, verbose=0)


def test_a_malformed_vectors_file_is_named(tmp_path):
    path = tmp_path / "vectors.txt"
    path.write_text("good 0.1 0.2\nbad 0.3\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 2 .* has 1 numbers; the file's vectors have 2"):
        SentimentPipeline(**SMALL, embeddings=path).fit(TEXTS, LABELS, epochs=1, verbose=0)
