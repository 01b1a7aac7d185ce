"""`SentimentPipeline` end to end on small data: fit, predict, evaluate, save/load, export."""

import json

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from rnnkit.apps.sentiment import SentimentPipeline, generate_tweets
from rnnkit.layers import LSTMCell, Recurrent

from ..data import LABELS, TEXTS
from ..helpers import serve_without_rnnkit

SMALL = {"units": 8, "embedding_dim": 8, "max_len": 12, "vocab_size": 500}


@pytest.fixture(scope="module")
def trained():
    """A pipeline trained on the generated tweets, long enough to learn them."""
    train, test = generate_tweets(3000, seed=0), generate_tweets(400, seed=1)
    pipeline = SentimentPipeline(seed=0)
    pipeline.fit(train.text, train.label, validation_data=(test.text, test.label), epochs=8, verbose=0)
    return pipeline, test


def test_order_aware_model_beats_bag_of_words(trained):
    pipeline, test = trained
    metrics = pipeline.evaluate(test.text, test.label, baseline=True)
    assert metrics["accuracy"] > 0.9
    assert metrics["accuracy"] > metrics["baseline"]["accuracy"] + 0.15  # clearly short
    assert set(metrics) == {"accuracy", "macro_f1", "macro_recall", "report", "baseline"}
    assert set(metrics["report"]) >= {"negative", "neutral", "positive", "macro avg"}


def test_predict_returns_labels_as_given(trained):
    pipeline, test = trained
    predicted = pipeline.predict(list(test.text[:5]))
    assert all(isinstance(label, str) for label in predicted)
    probabilities = pipeline.predict_proba(list(test.text[:5]))
    assert list(probabilities.columns) == ["negative", "neutral", "positive"]
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert predicted == list(probabilities.idxmax(axis=1))


def test_integer_labels_come_back_as_integers():
    pipeline = SentimentPipeline(**SMALL)
    ids = [{"negative": 0, "neutral": 1, "positive": 2}[label] for label in LABELS]
    pipeline.fit(TEXTS, ids, epochs=1, verbose=0)
    assert pipeline.labels == [0, 1, 2]
    assert all(type(label) is int for label in pipeline.predict(["so good"]))
    assert list(pipeline.predict_proba(["x"]).columns) == [0, 1, 2]


def test_empty_and_huge_texts_get_predictions(trained):
    pipeline, _ = trained
    labels = pipeline.predict(["", "good " * 200_000])  # an empty string and a 1 MB one
    assert len(labels) == 2 and all(label in pipeline.labels for label in labels)


@pytest.mark.parametrize("padding", ["pre", "post"])
@pytest.mark.parametrize("truncating", ["pre", "post"])
def test_padding_and_truncating_reach_the_model(padding, truncating):
    pipeline = SentimentPipeline(**{**SMALL, "max_len": 3}, padding=padding, truncating=truncating)
    pipeline.fit(TEXTS, LABELS, epochs=1, verbose=0)
    inputs = pipeline.preprocessor(tf.constant(["great stuff", "so good it starts at 8"]))
    ids, ngrams = inputs["token_ids"].numpy(), inputs["ngram_ids"].numpy()
    assert ids.shape == (2, 3) and ngrams.shape == (2, 3, pipeline.preprocessor.max_ngrams)
    np.testing.assert_array_equal(ngrams.max(axis=-1) > 0, ids > 0)  # n-grams where the words are
    short, long = ids
    assert (short[0] == 0) == (padding == "pre") and (short[-1] == 0) == (padding == "post")
    vocabulary = pipeline.preprocessor.get_vocabulary()
    kept = [vocabulary[i] for i in long]
    assert kept == (["so", "good", "it"] if truncating == "post" else ["starts", "at", "<number>"])


@pytest.mark.parametrize(
    "options",
    [
        {"cell": "lstm", "bidirectional": False, "layers": 2},
        {"cell": "esn", "bidirectional": True},
        {"cell": LSTMCell(8, recurrent_dropout=0.1)},
        {"cell": "leaky", "class_weight": None},
        {"cell": "lstm", "bptt_steps": 5},
    ],
    ids=["lstm-stacked", "esn-bidirectional", "cell-instance", "leaky-unweighted", "truncated-bptt"],
)
def test_architectures_train_and_use_recurrent(options, tmp_path):
    pipeline = SentimentPipeline(**{**SMALL, **options})
    history = pipeline.fit(TEXTS, LABELS, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    recurrent = [layer for layer in pipeline.model._flatten_layers() if isinstance(layer, Recurrent)]
    expected = options.get("layers", 1) * (2 if options.get("bidirectional", True) else 1)
    assert len(recurrent) == expected
    assert {layer.bptt_steps for layer in recurrent} == {options.get("bptt_steps")}
    pipeline.save(tmp_path / "saved")
    restored = SentimentPipeline.load(tmp_path / "saved")
    assert restored.get_config() == pipeline.get_config()


def test_class_weights_balance_the_labels():
    pipeline = SentimentPipeline(**SMALL)
    labels = ["positive"] * 8 + ["negative"] * 2
    pipeline.state = {"labels": ["negative", "positive"]}
    weights = pipeline.fit_options((["x"] * 10, labels))["class_weight"]
    assert weights == pytest.approx({0: 10 / (2 * 2), 1: 10 / (2 * 8)})
    assert SentimentPipeline(**SMALL, class_weight=None).fit_options((["x"], ["a"])) == {}


def test_callbacks_and_strategy_reach_fit():
    pipeline = SentimentPipeline(**SMALL)
    stop = keras.callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=10.0)
    history = pipeline.fit(
        TEXTS,
        LABELS,
        epochs=5,
        verbose=0,
        callbacks=[stop],
        strategy=tf.distribute.OneDeviceStrategy("/cpu:0"),
    )
    assert len(history.history["loss"]) < 5  # EarlyStopping ended it


def test_save_load_round_trip(trained, tmp_path):
    pipeline, test = trained
    path = pipeline.save(tmp_path / "pipeline")
    assert sorted(p.name for p in path.iterdir()) == ["config.json", "model.keras"]
    restored = SentimentPipeline.load(path)
    texts = list(test.text[:20])
    pd.testing.assert_frame_equal(restored.predict_proba(texts), pipeline.predict_proba(texts))
    assert json.loads((path / "config.json").read_text())["config"] == pipeline.get_config()
    exported = restored.export(tmp_path / "saved_model")  # a loaded pipeline exports too
    reloaded = tf.saved_model.load(str(exported))  # keep a reference: it owns the variables
    served = reloaded.serve(tf.constant(texts))
    assert [label.decode() for label in served["label"].numpy()] == pipeline.predict(texts)


def test_save_refuses_to_overwrite(trained, tmp_path):
    pipeline, _ = trained
    path = pipeline.save(tmp_path / "pipeline")
    before = (path / "model.keras").stat().st_mtime_ns
    with pytest.raises(ValueError, match="overwrite"):
        pipeline.save(path)
    assert (path / "model.keras").stat().st_mtime_ns == before
    pipeline.save(path, overwrite=True)


def test_load_rejects_folders_without_a_pipeline(tmp_path):
    with pytest.raises(ValueError, match="`path`"):
        SentimentPipeline.load(tmp_path)


def test_save_run_writes_the_run_folder(trained, tmp_path):
    pipeline, test = trained
    metrics = pipeline.evaluate(test.text, test.label)
    out = pipeline.save_run(tmp_path / "run", metrics, test.text, test.label)
    names = {p.name for p in out.iterdir()}
    assert names == {
        "pipeline",
        "saved_model",
        "metrics.json",
        "history.csv",
        "learning_curves.png",
        "confusion_matrix.png",
    }
    assert len(pd.read_csv(out / "history.csv")) == 8
    assert json.loads((out / "metrics.json").read_text())["accuracy"] == metrics["accuracy"]


def test_export_serves_raw_strings_without_rnnkit(trained, tmp_path):
    pipeline, test = trained
    path = pipeline.export(tmp_path / "saved_model")
    texts = [*test.text[:10], "", "good " * 200_000]
    served = serve_without_rnnkit(path, "serve", [texts])
    assert served["label"] == pipeline.predict(texts)
    np.testing.assert_allclose(served["probabilities"], pipeline.predict_proba(texts).to_numpy(), atol=1e-5)


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda p: p.fit([], [], epochs=1), "texts"),
        (lambda p: p.fit(["a", None], ["x", "y"], epochs=1), "texts"),
        (lambda p: p.fit(["a", float("nan")], ["x", "y"], epochs=1), "texts"),
        (lambda p: p.fit(["a", 3], ["x", "y"], epochs=1), "texts"),
        (lambda p: p.fit("one string", ["x"], epochs=1), "texts"),
        (lambda p: p.fit(["a", "b"], ["x", "x"], epochs=1), "labels"),
        (lambda p: p.fit(["a", "b"], ["x"], epochs=1), "labels"),
        (lambda p: p.fit(["a", "b"], ["x", None], epochs=1), "labels"),
        (lambda p: p.fit(["a", "b"], ["x", "y"], epochs=0), "epochs"),
        (lambda p: p.fit(["a", "b"], ["x", "y"], epochs=1, validation_data=(["c"], ["z"])), "labels"),
        (lambda p: p.predict(["a"]), "fit"),
    ],
)
def test_bad_input_fails_before_training(call, argument):
    pipeline = SentimentPipeline(**SMALL)
    with pytest.raises(ValueError, match=argument):
        call(pipeline)
    assert pipeline.model is None


def test_unseen_labels_at_evaluate(trained):
    pipeline, _ = trained
    with pytest.raises(ValueError, match="`labels`.*never saw"):
        pipeline.evaluate(["good"], ["ecstatic"])


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"max_len": 0}, "max_len"),
        ({"max_len": -5}, "max_len"),
        ({"cell": "transformer"}, "cell"),
        ({"cell": 42}, "cell"),
        ({"padding": "middle"}, "padding"),
        ({"truncating": None}, "truncating"),
        ({"units": 0}, "units"),
        ({"dropout": 1.0}, "dropout"),
        ({"class_weight": "auto"}, "class_weight"),
        ({"bptt_steps": 0}, "bptt_steps"),
        ({"bptt_steps": 41}, "bptt_steps"),  # longer than max_len
        ({"bptt_steps": 2.5}, "bptt_steps"),
    ],
)
def test_bad_hyper_parameters(kwargs, argument):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        SentimentPipeline(**kwargs)


def test_make_dataset_gives_model_ready_batches(trained):
    pipeline, test = trained
    inputs, labels = next(iter(pipeline.make_dataset((list(test.text[:5]), list(test.label[:5])))))
    ids, ngrams = inputs["token_ids"], inputs["ngram_ids"]
    assert ids.shape == (5, pipeline.max_len) and ids.dtype == tf.int64
    assert ngrams.shape == (5, pipeline.max_len, pipeline.preprocessor.max_ngrams)
    assert ngrams.dtype == tf.int64
    assert [pipeline.labels[i] for i in labels.numpy()] == list(test.label[:5])
    unlabeled = next(iter(pipeline.make_dataset(list(test.text[:3]))))
    assert unlabeled["token_ids"].shape == (3, pipeline.max_len)
