"""The bad-input catalogue of the Python API: for every pipeline, bad data to its verbs and bad
hyper-parameters to its constructor raise a ValueError that names the argument, before any
model is built, trained or run.

Each table row is `(on, call, argument, name)`: `call` gets a fresh pipeline (`on="new"`), the
session's trained one (`"trained"`), or the class itself (`"class"`, for hyper-parameters); the
ValueError must name `argument`.
"""

import re

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from rnnkit.apps.captioning import CaptionPipeline
from rnnkit.apps.forecasting import ForecastPipeline
from rnnkit.apps.sentiment import SentimentPipeline
from rnnkit.apps.translation import TranslationPipeline
from tests.data import LABELS, TEXTS

from .runs import CAPTION, FORECAST, PAIRS, SCENES, SENTIMENT, SERIES, TRANSLATION, frame

PIPELINES = {
    "sentiment": (SentimentPipeline, SENTIMENT),
    "forecast": (ForecastPipeline, FORECAST),
    "translation": (TranslationPipeline, TRANSLATION),
    "caption": (CaptionPipeline, CAPTION),
}
MEGABYTE = "x" * 1_000_000
SOURCES, TARGETS = list(PAIRS.source[:4]), list(PAIRS.target[:4])
IMAGES, CAPTIONS = SCENES[0][:4], SCENES[1][:4]
PNG = tf.io.encode_png(SCENES[0][0]).numpy()
DAILY = frame(np.ones((40, 2)), freq="D")
GAP = SERIES.copy()
GAP.iloc[50, 0] = np.nan
INFINITE_PIXEL = IMAGES.astype("float64")
INFINITE_PIXEL[0, 0, 0, 0] = np.inf


SENTIMENT_CASES = [
    # data to fit
    ("new", lambda p: p.fit(pd.Series([], dtype=str), []), "texts", "fit-empty"),
    ("new", lambda p: p.fit(None, LABELS), "texts", "fit-none"),
    ("new", lambda p: p.fit(pd.Series(["ok", np.nan]), ["a", "b"]), "texts", "fit-nan-text"),
    ("new", lambda p: p.fit(np.arange(3), ["a", "b", "c"]), "texts", "fit-int-texts"),
    ("new", lambda p: p.fit(np.array([["a", "b"]] * 2), ["a", "b"]), "texts", "fit-2d-texts"),
    ("new", lambda p: p.fit([b"\xff\xfe", b"ok"], ["a", "b"]), "texts", "fit-bytes"),
    ("new", lambda p: p.fit(["so good", "awful"], "pn"), "labels", "fit-labels-one-string"),
    ("new", lambda p: p.fit(["so good", "awful"], [0.5, 1.5]), "labels", "fit-float-labels"),
    ("new", lambda p: p.fit(["good", "bad"], np.array([[0], [1]])), "labels", "fit-2d-labels"),
    ("new", lambda p: p.fit(TEXTS, LABELS[:-1]), "labels", "fit-mismatched-lengths"),
    ("new", lambda p: p.fit(["a", "b"], pd.Series(["x", None])), "labels", "fit-none-label"),
    (
        "new",
        lambda p: p.fit(TEXTS, LABELS, validation_data=(["hm"], ["sarcastic"])),
        "labels",
        "fit-unknown-validation-label",
    ),
    ("new", lambda p: p.fit(TEXTS, LABELS, validation_data=["hm"]), "validation_data", "fit-val-not-a-tuple"),
    ("new", lambda p: p.fit(TEXTS, LABELS, epochs=-1), "epochs", "fit-negative-epochs"),
    # data to the trained pipeline's verbs
    (
        "trained",
        lambda p: p.evaluate(TEXTS[:2], ["positive", "sarcastic"]),
        "labels",
        "evaluate-unknown-label",
    ),
    ("trained", lambda p: p.predict([None]), "texts", "predict-none"),
    ("trained", lambda p: p.predict("one tweet"), "texts", "predict-one-string"),
    ("trained", lambda p: p.predict_proba([]), "texts", "predict-empty"),
    # hyper-parameters
    ("class", lambda cls: cls(units=-8), "units", "negative-units"),
    ("class", lambda cls: cls(cell="gru2"), "cell", "unknown-cell"),
    ("class", lambda cls: cls(cell=MEGABYTE), "cell", "megabyte-cell"),
    ("class", lambda cls: cls(vocab_size=1), "vocab_size", "vocab-size-1"),
    ("class", lambda cls: cls(embedding_dim=0), "embedding_dim", "zero-embedding"),
    ("class", lambda cls: cls(batch_size=2.5), "batch_size", "float-batch-size"),
    ("class", lambda cls: cls(learning_rate="fast"), "learning_rate", "str-learning-rate"),
    ("class", lambda cls: cls(learning_rate=float("nan")), "learning_rate", "nan-learning-rate"),
    ("class", lambda cls: cls(seed=-1), "seed", "negative-seed"),
    ("class", lambda cls: cls(bidirectional="no"), "bidirectional", "str-bidirectional"),
]

FORECAST_CASES = [
    # data to fit
    ("new", lambda p: p.fit(SERIES.iloc[:0]), "data", "fit-empty"),
    ("new", lambda p: p.fit(None), "data", "fit-none"),
    ("new", lambda p: p.fit(SERIES.to_numpy()), "data", "fit-ndarray"),
    ("new", lambda p: p.fit(GAP), "data", "fit-nan"),
    ("new", lambda p: p.fit(SERIES.assign(x=np.inf)), "data", "fit-inf"),
    ("new", lambda p: p.fit(SERIES.iloc[:10]), "data", "fit-shorter-than-a-window"),
    ("new", lambda p: p.fit(SERIES.reset_index(drop=True)), "data", "fit-no-time-index"),
    ("new", lambda p: p.fit(pd.concat([SERIES, SERIES.iloc[:1]])), "data", "fit-repeated-time"),
    ("new", lambda p: p.fit(SERIES, validation_data=(DAILY,)), "validation_data", "fit-val-freq"),
    ("new", lambda p: p.fit(SERIES, epochs=0), "epochs", "fit-zero-epochs"),
    ("new", lambda p: p.backtest(SERIES, start=20), "start", "backtest-before-a-season"),
    # columns named by hyper-parameters, checked against the data
    ("class", lambda cls: cls(**FORECAST, target="pm25").fit(SERIES), "target", "unknown-target"),
    (
        "class",
        lambda cls: cls(**FORECAST, covariates=["rain"]).fit(SERIES),
        "covariates",
        "unknown-covariate",
    ),
    (
        "class",
        lambda cls: cls(**FORECAST, covariates="y").fit(SERIES),
        "covariates",
        "covariate-is-the-target",
    ),
    ("class", lambda cls: cls(**FORECAST, target=MEGABYTE).fit(SERIES), "target", "megabyte-target"),
    (
        "class",
        lambda cls: cls(**FORECAST, target="y").fit(SERIES.assign(y="high")),
        "data",
        "str-target-column",
    ),
    (
        "class",
        lambda cls: cls(**FORECAST, time_col="when").fit(SERIES.reset_index()),
        "time_col",
        "unknown-time-col",
    ),
    # data to the trained pipeline's verbs
    ("trained", lambda p: p.predict(DAILY), "history", "predict-other-freq"),
    ("trained", lambda p: p.predict(SERIES[["y"]]), "history", "predict-missing-column"),
    ("trained", lambda p: p.backtest(SERIES, start="soon"), "start", "backtest-bad-start"),
    ("trained", lambda p: p.backtest(SERIES, start=5), "start", "backtest-early-start"),
    ("trained", lambda p: p.backtest(SERIES, stride=-1), "stride", "backtest-negative-stride"),
    ("trained", lambda p: p.evaluate(SERIES.iloc[:20]), "series", "evaluate-short"),
    # hyper-parameters
    ("class", lambda cls: cls(lookback=-1), "lookback", "negative-lookback"),
    ("class", lambda cls: cls(horizon=0), "horizon", "zero-horizon"),
    ("class", lambda cls: cls(units=-4), "units", "negative-units"),
    ("class", lambda cls: cls(cell="transformer"), "cell", "unknown-cell"),
    ("class", lambda cls: cls(quantiles=0.5), "quantiles", "scalar-quantiles"),
    ("class", lambda cls: cls(quantiles=["low", "high"]), "quantiles", "str-quantiles"),
    ("class", lambda cls: cls(dropout=1.5), "dropout", "dropout-above-1"),
    ("class", lambda cls: cls(learning_rate=0), "learning_rate", "zero-learning-rate"),
    ("class", lambda cls: cls(target=5.0), "target", "float-target"),
    ("class", lambda cls: cls(seed="0"), "seed", "str-seed"),
]

TRANSLATION_CASES = [
    # data to fit
    ("new", lambda p: p.fit(np.array([], dtype=str), []), "sources", "fit-empty"),
    ("new", lambda p: p.fit(None, TARGETS), "sources", "fit-none"),
    ("new", lambda p: p.fit(["a", "b"], pd.Series(["x", np.nan])), "targets", "fit-nan"),
    ("new", lambda p: p.fit([1, 2], ["a", "b"]), "sources", "fit-int-sources"),
    ("new", lambda p: p.fit(np.array([["a"], ["b"]]), ["a", "b"]), "sources", "fit-2d"),
    ("new", lambda p: p.fit(["a"], [b"\xff"]), "targets", "fit-bytes"),
    ("new", lambda p: p.fit(SOURCES, TARGETS[:3]), "targets", "fit-mismatched-lengths"),
    ("new", lambda p: p.fit(["", " [ ] "], ["a", "b"]), "sources", "fit-no-source-words"),
    (
        "new",
        lambda p: p.fit(SOURCES, TARGETS, validation_data=(["a"], ["b", "c"])),
        "validation_data[0]",
        "fit-val-mismatched",
    ),
    ("new", lambda p: p.fit(SOURCES, TARGETS, epochs=-2), "epochs", "fit-negative-epochs"),
    # data to the trained pipeline's verbs
    ("trained", lambda p: p.evaluate(SOURCES[:1], [None]), "references", "evaluate-none"),
    ("trained", lambda p: p.evaluate(SOURCES[:2], TARGETS[:1]), "references", "evaluate-len"),
    ("trained", lambda p: p.translate("a dog runs ."), "texts", "translate-one-string"),
    ("trained", lambda p: p.translate(SOURCES, method="sample"), "method", "translate-method"),
    (
        "trained",
        lambda p: p.translate(SOURCES, "beam", beam_width=-1),
        "beam_width",
        "translate-negative-beam-width",
    ),
    ("trained", lambda p: p.attention_map(None), "text", "attention-map-none"),
    # hyper-parameters
    ("class", lambda cls: cls(units=-4), "units", "negative-units"),
    ("class", lambda cls: cls(cell=MEGABYTE), "cell", "megabyte-cell"),
    ("class", lambda cls: cls(attention="luong"), "attention", "unknown-attention"),
    ("class", lambda cls: cls(max_source_len=0), "max_source_len", "zero-max-len"),
    ("class", lambda cls: cls(learning_rate=-1), "learning_rate", "negative-learning-rate"),
    ("class", lambda cls: cls(lowercase="yes"), "lowercase", "str-lowercase"),
    ("class", lambda cls: cls(seed=2**40), "seed", "huge-seed"),
]

CAPTION_CASES = [
    # data to fit
    ("new", lambda p: p.fit(IMAGES[:0], []), "images", "fit-empty"),
    ("new", lambda p: p.fit(None, CAPTIONS), "images", "fit-none"),
    ("new", lambda p: p.fit(INFINITE_PIXEL, CAPTIONS), "images", "fit-inf"),
    ("new", lambda p: p.fit(IMAGES.astype(complex), CAPTIONS), "images", "fit-complex"),
    ("new", lambda p: p.fit(IMAGES[..., :1], CAPTIONS), "images", "fit-one-channel"),
    ("new", lambda p: p.fit(IMAGES * 2.0, CAPTIONS), "images", "fit-pixels-above-255"),
    ("new", lambda p: p.fit([PNG, 3], CAPTIONS[:2]), "images", "fit-list-of-bytes-and-int"),
    ("new", lambda p: p.fit([b"\xff\xfe junk"], CAPTIONS[:1]), "images", "fit-undecodable"),
    ("new", lambda p: p.fit(IMAGES[:1], [b"\xff"]), "captions[0]", "fit-bytes-caption"),
    ("new", lambda p: p.fit(IMAGES, CAPTIONS[:3]), "captions", "fit-mismatched-lengths"),
    ("new", lambda p: p.fit(IMAGES[:2], {"a": 1, "b": 2}), "captions", "fit-dict-captions"),
    ("new", lambda p: p.fit(IMAGES[:1], [["a dog", None]]), "captions[0]", "fit-none-caption"),
    ("new", lambda p: p.fit(IMAGES, CAPTIONS, epochs=0), "epochs", "fit-zero-epochs"),
    # data to the trained pipeline's verbs
    ("trained", lambda p: p.generate(np.zeros((2, 16, 16, 4))), "images", "generate-rgba-array"),
    ("trained", lambda p: p.generate(IMAGES[0]), "images", "generate-one-image-unbatched"),
    (
        "trained",
        lambda p: p.generate(IMAGES, "sample", temperature=-1),
        "temperature",
        "generate-negative-temperature",
    ),
    ("trained", lambda p: p.evaluate(IMAGES[:2], ["a"]), "captions", "evaluate-mismatched"),
    # hyper-parameters
    ("class", lambda cls: cls(units=-1), "units", "negative-units"),
    ("class", lambda cls: cls(image_size=8), "image_size", "image-smaller-than-the-cnn"),
    ("class", lambda cls: cls(backbone_weights=__file__), "backbone_weights", "weights-for-cnn"),
    ("class", lambda cls: cls(conditioning=MEGABYTE), "conditioning", "megabyte-conditioning"),
    ("class", lambda cls: cls(learning_rate="1e-3"), "learning_rate", "str-learning-rate"),
    ("class", lambda cls: cls(max_len=0), "max_len", "zero-max-len"),
]


def refuse(*args, **kwargs):
    raise AssertionError("a model was built, trained or run before the bad input was refused")


@pytest.mark.parametrize(
    "pipeline, on, call, argument",
    [
        pytest.param(pipeline, on, call, argument, id=f"{pipeline}-{name}")
        for pipeline, cases in (
            ("sentiment", SENTIMENT_CASES),
            ("forecast", FORECAST_CASES),
            ("translation", TRANSLATION_CASES),
            ("caption", CAPTION_CASES),
        )
        for on, call, argument, name in cases
    ],
)
def test_bad_input_is_refused_before_training(pipeline, on, call, argument, run_of, monkeypatch):
    cls, small = PIPELINES[pipeline]
    target = {
        "new": lambda: cls(**small),
        "trained": lambda: run_of(pipeline).pipeline,
        "class": lambda: cls,
    }[on]()
    weights = [w.copy() for w in target.model.get_weights()] if on == "trained" else None
    # from here on, building, training or running a model fails the test
    monkeypatch.setattr(cls, "build_model", refuse)
    for verb in ("fit", "predict", "evaluate"):
        monkeypatch.setattr(keras.Model, verb, refuse)
    with pytest.raises(ValueError, match=re.escape(f"`{argument}`")) as error:
        call(target)
    assert len(str(error.value)) < 500  # one readable line, even for a 1 MB input
    if on == "new":
        assert target.model is None
    if weights is not None:
        for before, after in zip(weights, target.model.get_weights(), strict=True):
            np.testing.assert_array_equal(before, after)


def test_refitting_on_new_data_is_not_refused(sentiment_run, forecast_run):
    """What a first fit learnt (labels, columns, frequency) does not bind the training data of the next."""
    sentiment, forecast = sentiment_run.pipeline, forecast_run.pipeline
    texts, labels = sentiment.check_data(["great", "awful"], ["good", "bad"])
    assert labels == ["good", "bad"]  # new labels: a new label set, not unseen ones
    assert len(forecast.check_data(DAILY)) == len(DAILY)  # another frequency
    with pytest.raises(ValueError, match="`history`"):
        forecast.check_data(DAILY, argument="history")  # but not for forecasting
