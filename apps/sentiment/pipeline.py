"""`SentimentPipeline`: a tweet in, negative / neutral / positive out (many-to-one)."""

import logging
import numbers

import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from matplotlib.figure import Figure
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    ConfusionMatrixDisplay,
    accuracy_score,
    classification_report,
    f1_score,
    recall_score,
)
from sklearn.pipeline import make_pipeline
from sklearn.utils.class_weight import compute_class_weight

from rnnkit.layers import Recurrent

from ..base import Pipeline, compile_task
from ..checks import (
    check_bool,
    check_bptt_steps,
    check_choice,
    check_int,
    check_positive_int,
    check_texts,
)
from ..text import PADDING, NgramEmbedding, TokenIds, check_word_vectors, normalize_tweets, word_vectors

__all__ = ["MacroRecall", "SentimentPipeline"]

log = logging.getLogger(__name__)

# `embeddings` given as vectors (not a file) in a saved config: the vectors are in the weights
GIVEN_VECTORS = "<vectors given in Python>"


class SentimentPipeline(Pipeline):
    """Tweet sentiment with an rnnkit recurrent cell.

    raw tweets -> `normalize_tweets` -> `TextVectorization` -> pad or truncate to `max_len`
    -> word vectors `Embedding(mask_zero=True)` (+ the mean of the word's character n-gram
    vectors, `NgramEmbedding`) -> `SpatialDropout1D` -> `Recurrent(cell)` (x `layers`,
    optionally `Bidirectional`) -> `Dropout` -> `Dense(softmax)`.

    `fit(..., validation_data=..., patience=n)` selects the epoch on TweetEval's metric: it
    keeps the weights of the epoch with the best validation macro-recall (`MacroRecall`,
    logged as `val_macro_recall`), halving the learning rate after an epoch without a better
    one and stopping after `n` in a row (`rnnkit sentiment train`: `--patience 2`).

    Args:
        cell: `"rnn"`, `"lstm"`, `"gru"`, `"leaky"`, `"esn"`, or a cell instance (copied
            for each layer and direction). Default `"gru"`.
        units: state size of each recurrent layer (default 64).
        layers: number of stacked recurrent layers (default 1).
        bidirectional: read the tweet both ways (default True).
        embedding_dim: size of the word vectors (default 100; with `embeddings`, theirs).
        embeddings: None, or pre-trained word vectors for the vocabulary learnt from the
            training texts: the path of a GloVe / word2vec / fastText text-format file, a
            dict `{word: vector}` or a pair `(words, 2-D array)` (`rnnkit.apps.text.word_vectors`:
            a word without a vector gets a random one). They are the embedding's initial
            weights, and travel in the saved model and the export.
        freeze_embeddings: keep the pre-trained vectors fixed in training (default False:
            fine-tune them).
        ngram_buckets: hash buckets of the words' character n-grams (3 to 5 characters,
            `char_ngram_ids`), whose mean vector is added to each word's, so that unseen and
            misspelt words have a vector too; 0 turns them off (default 50000).
        vocab_size: most frequent tokens kept, padding and out-of-vocabulary included
            (default 20000).
        max_len: tokens per tweet after padding or truncation (default 40).
        padding: `"pre"` or `"post"`: where short tweets get their zeros (default "pre").
        truncating: `"pre"` or `"post"`: which end long tweets lose (default "post").
        bptt_steps: None for full backpropagation through time, or `k` in `[1, max_len]`
            for truncated BPTT in chunks of `k` tokens (`Recurrent(bptt_steps=k)`).
        dropout: dropout of word-vector channels, of the cell's inputs and before the
            classifier (default 0.2).
        class_weight: `"balanced"` to weight classes inversely to their frequency, or None.
        batch_size: training batch size (default 64).
        learning_rate: Adam's learning rate (default 2e-3).
        seed: seed of the weights, dropout and shuffling (default 0).

    Example:

    >>> pipeline = SentimentPipeline(units=8, embedding_dim=8, max_len=12)
    >>> _ = pipeline.fit(["so good", "not good", "it starts at 8"], ["positive", "negative", "neutral"],
    ...                  epochs=1, verbose=0)
    >>> pipeline.predict(["good"])[0] in {"positive", "negative", "neutral"}
    True
    """

    monitor = ("val_macro_recall", "max")  # fit(patience=) selects on TweetEval's metric

    def __init__(
        self,
        *,
        cell="gru",
        units=64,
        layers=1,
        bidirectional=True,
        embedding_dim=None,
        embeddings=None,
        freeze_embeddings=False,
        ngram_buckets=50000,
        vocab_size=20000,
        max_len=40,
        padding="pre",
        truncating="post",
        bptt_steps=None,
        dropout=0.2,
        class_weight="balanced",
        batch_size=64,
        learning_rate=2e-3,
        seed=0,
    ):
        super().__init__(cell, units, dropout, batch_size, learning_rate, seed)
        self.layers = check_positive_int("layers", layers)
        self.bidirectional = check_bool("bidirectional", bidirectional)
        if embedding_dim is not None:
            embedding_dim = check_positive_int("embedding_dim", embedding_dim)
        self.embedding_dim = embedding_dim
        self.embeddings = embeddings if embeddings == GIVEN_VECTORS else check_word_vectors(embeddings)
        self.freeze_embeddings = check_bool("freeze_embeddings", freeze_embeddings)
        self.ngram_buckets = check_int("ngram_buckets", ngram_buckets)
        self.vocab_size = check_positive_int("vocab_size", vocab_size)
        if self.vocab_size < 2:  # TextVectorization keeps padding and [UNK] at least
            raise ValueError(f"Argument `vocab_size` must be at least 2. Received: vocab_size={vocab_size!r}")
        self.max_len = check_positive_int("max_len", max_len)
        self.padding = check_choice("padding", padding, PADDING)
        self.truncating = check_choice("truncating", truncating, PADDING)
        self.bptt_steps = check_bptt_steps(bptt_steps, self.max_len, "max_len")
        self.class_weight = check_choice("class_weight", class_weight, ["balanced", None])
        self._vectors = None  # the pre-trained vectors of the vocabulary, while fitting
        self._train = None  # kept in memory (not saved) for evaluate(baseline=True)
        self._baseline = None

    def get_config(self):
        config = super().get_config()
        if isinstance(self.embeddings, dict):  # the vectors are the saved weights, not config
            config["embeddings"] = GIVEN_VECTORS
        return config

    # Preprocessing -----------------------------------------------------------------------

    @property
    def labels(self):
        """The label set, in the order of the model's outputs (None before `fit`)."""
        return None if self.state is None else self.state["labels"]

    def check_data(self, texts, labels=None, argument="data"):
        texts = check_texts(texts, argument="texts" if argument == "data" else argument)
        if labels is None:
            return texts, None
        if isinstance(labels, (str, bytes, dict)) or not hasattr(labels, "__len__"):
            raise ValueError(
                "Argument `labels` must be a list, NumPy array or pandas Series with one label per text. "
                f"Received: {type(labels).__name__}"
            )
        labels = list(labels.tolist() if isinstance(labels, (pd.Series, np.ndarray)) else labels)
        if len(labels) != len(texts):
            raise ValueError(f"Argument `labels` has {len(labels)} items for {len(texts)} texts.")
        for i, label in enumerate(labels):
            if label is None or (isinstance(label, float) and np.isnan(label)):
                raise ValueError(f"Argument `labels`: item {i} is missing (None/NaN).")
            if not isinstance(label, (str, numbers.Integral)):  # a class name or id; not a list, not 0.5
                raise ValueError(
                    f"Argument `labels`: item {i} is {type(label).__name__}; each label must be a string "
                    "or an integer."
                )
        # the label set is learnt from the training data; later data may only use it
        if self.labels is not None and argument != "data":
            unseen = sorted({str(label) for label in labels} - {str(label) for label in self.labels})
            if unseen:
                raise ValueError(
                    f"Argument `labels` holds labels that training never saw: {unseen}; known: {self.labels}."
                )
        return texts, labels

    def learn_preprocessing(self, train):
        texts, labels = train
        if labels is None:
            raise ValueError("Argument `labels` is required to fit.")
        classes = sorted(set(labels), key=str)
        if len(classes) < 2:
            raise ValueError(f"Argument `labels` holds a single class {classes}: at least two are needed.")
        if self.embeddings == GIVEN_VECTORS:
            raise ValueError(
                "Argument `embeddings`: this pipeline's vectors were given in Python and its saved "
                "config does not hold them; pass embeddings= again to train it anew."
            )
        self.state = {"labels": classes}
        self.preprocessor = TokenIds(
            self.vocab_size,
            self.max_len,
            self.padding,
            self.truncating,
            standardize=normalize_tweets,
            ngram_buckets=self.ngram_buckets,
            name="tweet_ids",
        )
        self.preprocessor.adapt(texts)
        self._vectors = None
        if self.embeddings is not None:
            vocabulary = self.preprocessor.get_vocabulary()
            self._vectors, found = word_vectors(self.embeddings, vocabulary, seed=self.seed)
            if self.embedding_dim not in (None, self._vectors.shape[1]):
                raise ValueError(
                    f"Argument `embedding_dim` is {self.embedding_dim}, but the vectors of `embeddings` "
                    f"have {self._vectors.shape[1]} numbers; leave embedding_dim out to use theirs."
                )
            log.info("Pre-trained vectors for %d of %d words of the vocabulary.", found, len(vocabulary) - 2)
        self._train, self._baseline = train, None

    def make_dataset(self, data, training=False):
        """Batches of `(token ids, label index)`, or of token ids alone without labels."""
        texts, labels = data if isinstance(data, tuple) else (check_texts(data), None)
        if labels is None:
            dataset, encode = tf.data.Dataset.from_tensor_slices(texts), self.preprocessor
        else:
            index = [self.labels.index(label) for label in labels]
            dataset = tf.data.Dataset.from_tensor_slices((texts, index))
            encode = lambda texts, y: (self.preprocessor(texts), y)  # noqa: E731
        if training:
            dataset = dataset.shuffle(len(texts), seed=self.seed, reshuffle_each_iteration=True)
        dataset = dataset.batch(self.batch_size)
        return dataset.map(encode, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)

    def fit_options(self, train):
        if self.class_weight is None:
            return {}
        _, labels = train
        index = [self.labels.index(label) for label in labels]
        weights = compute_class_weight("balanced", classes=np.arange(len(self.labels)), y=index)
        return {"class_weight": dict(enumerate(weights.tolist()))}

    # Model -------------------------------------------------------------------------------

    @property
    def vector_size(self):
        """The size of the word vectors: `embedding_dim`, else the pre-trained vectors', else 100."""
        if self.embedding_dim is not None:
            return self.embedding_dim
        return 100 if self._vectors is None else self._vectors.shape[1]

    def build_model(self):
        keras.utils.set_random_seed(self.seed)
        ids = keras.Input((self.max_len,), dtype="int64", name="token_ids")
        vocabulary = self.preprocessor.vocabulary_size()
        trainable = not self.freeze_embeddings
        words = keras.layers.Embedding(
            vocabulary, self.vector_size, mask_zero=True, trainable=trainable, name="word_vectors"
        )
        h = words(ids)
        if self._vectors is not None:
            words.set_weights([self._vectors])  # set, not an initializer: the config stays small
        inputs = ids
        if self.ngram_buckets:
            shape = (self.max_len, self.preprocessor.max_ngrams)
            ngrams = keras.Input(shape, dtype="int64", name="ngram_ids")
            subwords = NgramEmbedding(self.ngram_buckets, self.vector_size, name="ngram_vectors")(ngrams)
            h = keras.layers.Add()([h, subwords])  # v(w) + mean of w's n-gram vectors
            inputs = {"token_ids": ids, "ngram_ids": ngrams}
        h = keras.layers.SpatialDropout1D(self.dropout)(h)  # drops whole word-vector channels
        for i in range(self.layers):
            recurrent = Recurrent(
                self.new_cell(dropout=self.dropout),
                return_sequences=i < self.layers - 1,
                bptt_steps=self.bptt_steps,
            )
            h = keras.layers.Bidirectional(recurrent)(h) if self.bidirectional else recurrent(h)
        h = keras.layers.Dropout(self.dropout)(h)
        probabilities = keras.layers.Dense(len(self.labels), activation="softmax", name="sentiment")(h)
        model = keras.Model(inputs, probabilities, name="sentiment")
        return compile_task(
            model,
            self.learning_rate,
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy", MacroRecall(len(self.labels))],
        )

    # Task verbs --------------------------------------------------------------------------

    def predict_proba(self, texts):
        """A DataFrame of class probabilities, one row per text, one column per label."""
        self._check_fitted("predict_proba")
        texts = check_texts(texts)
        probabilities = self.model.predict(self.make_dataset(texts), verbose=0)
        return pd.DataFrame(probabilities, columns=self.labels)

    def predict(self, texts):
        """The most probable label of each text, as the labels were given to `fit`."""
        probabilities = self.predict_proba(texts)
        return [self.labels[i] for i in probabilities.to_numpy().argmax(axis=1)]

    def evaluate(self, texts, labels, baseline=False):
        """Accuracy, macro-F1, macro-recall (TweetEval's metric), per-class report, confusion matrix.

        With `baseline=True`, the same metrics for TF-IDF (uni- and bigrams) + logistic
        regression trained on the same training data, under `"baseline"`.
        """
        self._check_fitted("evaluate")
        texts, labels = self.check_data(texts, labels, argument="texts")
        metrics = _scores(labels, self.predict(texts), self.labels)
        if baseline:
            if self._train is None:
                raise ValueError(
                    "Argument `baseline`: the baseline trains on the training data, which a loaded "
                    "pipeline does not keep; call fit() in this session first."
                )
            if self._baseline is None:
                self._baseline = self._fit_baseline()
            metrics["baseline"] = _scores(labels, list(self._baseline.predict(texts)), self.labels)
        return metrics

    def _fit_baseline(self):
        texts, labels = self._train
        baseline = make_pipeline(
            TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True),
            LogisticRegression(max_iter=2000, class_weight=self.class_weight),
        )
        return baseline.fit(texts, _strings(labels))

    def plots(self, texts, labels):
        figure = Figure(figsize=(4.5, 4))
        ax = figure.subplots()
        y_true, y_pred, names = map(_strings, (labels, self.predict(texts), self.labels))
        ConfusionMatrixDisplay.from_predictions(y_true, y_pred, labels=names, ax=ax, colorbar=False)
        ax.set_title("confusion matrix")
        return {"confusion_matrix": figure}

    # Export ------------------------------------------------------------------------------

    def serving_function(self):
        labels = tf.constant(self.labels)

        def serve(texts):
            probabilities = self.task(texts, training=False)
            label = tf.gather(labels, tf.argmax(probabilities, axis=-1))
            return {"label": label, "probabilities": probabilities}

        return serve, [tf.TensorSpec([None], tf.string, name="texts")]


@keras.saving.register_keras_serializable(package="rnnkit")
class MacroRecall(keras.metrics.Metric):
    """Macro-averaged recall, TweetEval's metric, over the batches seen:

        macro-recall = (1 / C) sum_c  N[c, c] / sum_k N[c, k]

    where `N[c, k]` counts (weighted) examples of class `c` predicted as `k`, the prediction
    being the most probable class. A class with no example counts 0 (scikit-learn's
    `recall_score(average="macro", zero_division=0)` over all `C` labels). Per-class weights
    (`class_weight`) leave it unchanged: they scale a row of `N` and its diagonal alike.

    Args:
        num_classes: `C`.

    Example:

    >>> metric = MacroRecall(3)
    >>> metric.update_state([0, 0, 1, 2], [[0.9, 0.1, 0], [0.2, 0.8, 0], [0, 1, 0], [0, 0, 1]])
    >>> round(float(metric.result()), 4)  # (1/2 + 1 + 1) / 3
    0.8333
    """

    def __init__(self, num_classes, name="macro_recall", **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_classes = num_classes
        self.confusion = self.add_variable(
            shape=(num_classes, num_classes), initializer="zeros", name="confusion", aggregation="sum"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        true = keras.ops.one_hot(keras.ops.reshape(keras.ops.cast(y_true, "int32"), (-1,)), self.num_classes)
        predicted = keras.ops.one_hot(keras.ops.argmax(y_pred, axis=-1), self.num_classes)
        predicted = keras.ops.reshape(predicted, (-1, self.num_classes))
        if sample_weight is not None:
            true = true * keras.ops.reshape(keras.ops.cast(sample_weight, true.dtype), (-1, 1))
        self.confusion.assign_add(keras.ops.matmul(keras.ops.transpose(true), predicted))  # N += T^T P

    def result(self):
        hits = keras.ops.diagonal(self.confusion)
        support = keras.ops.sum(self.confusion, axis=1)
        return keras.ops.mean(keras.ops.divide_no_nan(hits, support))

    def reset_state(self):
        self.confusion.assign(keras.ops.zeros_like(self.confusion))

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}


def _strings(values):
    """Labels as strings, the form scikit-learn compares them in (a label set may mix types)."""
    return [str(value) for value in values]


def _scores(labels, predicted, classes):
    y_true, y_pred, names = map(_strings, (labels, predicted, classes))
    return {
        "accuracy": accuracy_score(y_true, y_pred),
        "macro_f1": f1_score(y_true, y_pred, labels=names, average="macro", zero_division=0),
        "macro_recall": recall_score(y_true, y_pred, labels=names, average="macro", zero_division=0),
        "report": classification_report(y_true, y_pred, labels=names, output_dict=True, zero_division=0),
    }
