"""Hypothesis fuzzing of the raw-input paths: tweet normalisation, sentiment vectorisation (in
Python and in the exported graph) and forecasting windows. Nothing crashes, nothing turns NaN
silently: bad values raise a ValueError naming the argument."""

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import example, given, settings
from hypothesis import strategies as st

from rnnkit.apps.forecasting import ForecastPipeline
from rnnkit.apps.text import normalize_tweets

from .runs import frame

FEW = settings(max_examples=20, deadline=None)
MANY = settings(max_examples=40, deadline=None)  # for the cheap, model-free properties
HUGE = "good " * 200_000  # a 1 MB tweet
TWEETS = st.lists(st.text(max_size=60), min_size=1, max_size=4)  # any Unicode, emoji included
FINITE = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@pytest.fixture(scope="module")
def served(sentiment_run, tmp_path_factory):
    """The sentiment run's SavedModel, loaded (it owns its variables: keep the reference)."""
    path = sentiment_run.pipeline.export(tmp_path_factory.mktemp("fuzz") / "saved_model")
    return tf.saved_model.load(str(path))


def assert_probabilities(probabilities, rows, classes):
    probabilities = np.asarray(probabilities)
    assert probabilities.shape == (rows, classes)
    assert np.isfinite(probabilities).all() and (probabilities >= 0).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


# Tweet normalisation ------------------------------------------------------------------------


@MANY
@given(texts=TWEETS)
@example(texts=["", " ", "\U0001f60a\U0001f60a", "@a #b http://c :) 1,000.5 soooo!!!!", HUGE])
def test_normalisation_gives_utf8_tokens_for_any_text(texts):
    normalized = normalize_tweets(tf.constant(texts)).numpy()
    assert normalized.shape == (len(texts),)
    for raw in normalized:
        text = raw.decode("utf-8")  # valid UTF-8, or this raises
        assert text == text.strip(" ") and "  " not in text  # single spaces between tokens
        assert not any("A" <= char <= "Z" for char in text)  # lower-cased


# Sentiment vectorisation: Python and the exported graph ----------------------------------------


@FEW
@given(texts=TWEETS)
@example(texts=["", "\U0001f60a", "\u200b\u202e", HUGE])
def test_sentiment_gives_probabilities_for_any_text(sentiment_run, served, texts):
    pipeline = sentiment_run.pipeline
    inputs = pipeline.preprocessor(tf.constant(texts))
    ids, ngrams = inputs["token_ids"].numpy(), inputs["ngram_ids"].numpy()
    assert ids.shape == (len(texts), pipeline.max_len)
    assert ids.min() >= 0 and ids.max() < pipeline.preprocessor.vocabulary_size()
    assert ngrams.min() >= 0 and ngrams.max() <= pipeline.ngram_buckets
    python = pipeline.predict_proba(texts).to_numpy()
    assert_probabilities(python, len(texts), len(pipeline.labels))
    graph = served.serve(tf.constant(texts))
    np.testing.assert_allclose(graph["probabilities"].numpy(), python, atol=1e-5)
    labels = [pipeline.labels[i] for i in python.argmax(axis=1)]
    assert [label.decode() for label in graph["label"].numpy()] == labels


@FEW
@given(data=st.lists(st.binary(max_size=40), min_size=1, max_size=4))
@example(data=[b"\xff\xfe", b"caf\xc3", b"\xed\xa0\x80"])  # invalid, truncated, a lone surrogate
def test_exported_graph_takes_any_bytes(sentiment_run, served, data):
    graph = served.serve(tf.constant(data))
    assert_probabilities(graph["probabilities"].numpy(), len(data), len(sentiment_run.pipeline.labels))


# Forecasting windows ---------------------------------------------------------------------------


@st.composite
def windowing(draw):
    """A fresh pipeline's sizes and a random finite series at least one window long."""
    lookback, horizon = draw(st.integers(1, 6)), draw(st.integers(1, 4))
    features, targets = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    n = draw(st.integers(lookback + horizon, lookback + horizon + 20))
    values = draw(st.lists(st.lists(FINITE, min_size=features, max_size=features), min_size=n, max_size=n))
    columns = [f"c{i}" for i in range(features)]
    pipeline = ForecastPipeline(
        lookback=lookback,
        horizon=horizon,
        target=columns[: min(targets, features)],
        batch_size=draw(st.integers(1, 8)),
        scaler=draw(st.sampled_from(["standard", "minmax", "robust"])),
    )
    return pipeline, frame(values, columns=columns)


@MANY
@given(case=windowing())
def test_windows_are_every_slice_of_the_scaled_series(case):
    pipeline, data = case
    series = pipeline.check_data(data)
    pipeline.learn_preprocessing(series)  # the scaler only: no model is needed for the windows
    batches = list(pipeline.make_dataset(series))
    x = np.concatenate([x.numpy() for x, _ in batches])
    y = np.concatenate([y.numpy() for _, y in batches])
    scaling = pipeline.preprocessor  # x' = (x - mean) / sqrt(variance), per column, in float32
    mean, variance = (np.float32(v).astype("float64") for v in (scaling.input_mean, scaling.input_variance))
    scaled = (series.to_numpy().astype("float32") - mean) / np.sqrt(variance)
    lookback, horizon, n_targets = pipeline.lookback, pipeline.horizon, len(pipeline.state["targets"])
    starts = range(len(series) - lookback - horizon + 1)
    assert np.isfinite(x).all() and np.isfinite(y).all()
    close = {"rtol": 1e-5, "atol": 1e-5}  # float32 rounding of the subtraction and division
    np.testing.assert_allclose(x, np.stack([scaled[s : s + lookback] for s in starts]), **close)
    np.testing.assert_allclose(
        y, np.stack([scaled[s + lookback : s + lookback + horizon, :n_targets] for s in starts]), **close
    )


@FEW
@given(extra=st.integers(0, 30), data=st.data())
def test_forecasts_of_any_finite_history_are_finite(forecast_run, extra, data):
    pipeline = forecast_run.pipeline
    n = pipeline.lookback + pipeline.horizon + extra
    values = data.draw(st.lists(st.tuples(FINITE, FINITE), min_size=n, max_size=n))
    history = frame(values)
    forecast = pipeline.predict(history)
    assert forecast.shape == (pipeline.horizon, 1 + len(pipeline.quantiles))
    assert np.isfinite(forecast.to_numpy()).all()
    assert forecast.index[0] == history.index[-1] + history.index.freq


@FEW
@given(
    extra=st.integers(0, 10),
    bad=st.sampled_from([np.nan, np.inf, -np.inf, 1e39]),  # 1e39 is finite, but not in float32
    where=st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 1)),
)
def test_nan_inf_or_overflowing_history_is_refused(forecast_run, extra, bad, where):
    pipeline = forecast_run.pipeline
    values = frame(np.ones((pipeline.lookback + pipeline.horizon + extra, 2)))
    values.iloc[int(where[0] * len(values)), where[1]] = bad
    with pytest.raises(ValueError, match="`history`"):
        pipeline.predict(values)


def test_exported_forecast_refuses_nan(forecast_run, tmp_path):
    pipeline = forecast_run.pipeline
    served = tf.saved_model.load(str(pipeline.export(tmp_path / "saved_model")))
    window = np.ones((2, pipeline.lookback, 2), "float32")
    assert np.isfinite(served.serve(tf.constant(window))["forecast"].numpy()).all()
    window[1, 3, 0] = np.nan
    with pytest.raises(tf.errors.InvalidArgumentError, match="`history`"):
        served.serve(tf.constant(window))
