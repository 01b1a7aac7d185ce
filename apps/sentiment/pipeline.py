"""`SentimentPipeline`: a tweet in, negative / neutral / positive out (many-to-one)."""

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
from ..checks import check_bool, check_bptt_steps, check_choice, check_positive_int, check_texts
from ..text import PADDING, TokenIds, normalize_tweets

__all__ = ["SentimentPipeline"]


class SentimentPipeline(Pipeline):
    """Tweet sentiment with an rnnkit recurrent cell.

    raw tweets -> `normalize_tweets` -> `TextVectorization` -> pad or truncate to `max_len`
    -> `Embedding(mask_zero=True)` -> `SpatialDropout1D` -> `Recurrent(cell)` (x `layers`,
    optionally `Bidirectional`) -> `Dropout` -> `Dense(softmax)`.

    Args:
        cell: `"rnn"`, `"lstm"`, `"gru"`, `"leaky"`, `"esn"`, or a cell instance (copied
            for each layer and direction). Default `"gru"`.
        units: state size of each recurrent layer (default 64).
        layers: number of stacked recurrent layers (default 1).
        bidirectional: read the tweet both ways (default True).
        embedding_dim: size of the word vectors (default 64).
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

    def __init__(
        self,
        *,
        cell="gru",
        units=64,
        layers=1,
        bidirectional=True,
        embedding_dim=64,
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
        self.embedding_dim = check_positive_int("embedding_dim", embedding_dim)
        self.vocab_size = check_positive_int("vocab_size", vocab_size)
        if self.vocab_size < 2:  # TextVectorization keeps padding and [UNK] at least
            raise ValueError(f"Argument `vocab_size` must be at least 2. Received: vocab_size={vocab_size!r}")
        self.max_len = check_positive_int("max_len", max_len)
        self.padding = check_choice("padding", padding, PADDING)
        self.truncating = check_choice("truncating", truncating, PADDING)
        self.bptt_steps = check_bptt_steps(bptt_steps, self.max_len, "max_len")
        self.class_weight = check_choice("class_weight", class_weight, ["balanced", None])
        self._train = None  # kept in memory (not saved) for evaluate(baseline=True)
        self._baseline = None

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
        self.state = {"labels": classes}
        self.preprocessor = TokenIds(
            self.vocab_size,
            self.max_len,
            self.padding,
            self.truncating,
            standardize=normalize_tweets,
            name="tweet_ids",
        )
        self.preprocessor.adapt(texts)
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

    def build_model(self):
        keras.utils.set_random_seed(self.seed)
        ids = keras.Input((self.max_len,), dtype="int64", name="token_ids")
        vocabulary = self.preprocessor.vocabulary_size()
        h = keras.layers.Embedding(vocabulary, self.embedding_dim, mask_zero=True)(ids)
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
        model = keras.Model(ids, probabilities, name="sentiment")
        return compile_task(
            model, self.learning_rate, loss="sparse_categorical_crossentropy", metrics=["accuracy"]
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
