"""`Pipeline.fit`'s options that every task shares, on the smallest one (sentiment)."""

import numpy as np
import pytest

from rnnkit.apps.sentiment import SentimentPipeline, load_default

EPOCHS = 40


@pytest.fixture(scope="module")
def tweets():
    frames = load_default(train=60, validation=30, test=2, seed=1)
    return [(list(frame.text), list(frame.label)) for frame in frames]


def test_patience_halves_the_rate_stops_and_keeps_the_best_epoch(tweets):
    (train, validation, _) = tweets
    pipeline = SentimentPipeline(units=8, embedding_dim=8, max_len=12, learning_rate=0.05)
    history = pipeline.fit(*train, validation_data=validation, epochs=EPOCHS, patience=2, verbose=0)
    losses, rates = history.history["val_loss"], history.history["learning_rate"]
    best = int(np.argmin(losses))
    assert len(losses) == best + 3 < EPOCHS  # stopped 2 epochs after the best
    for epoch in range(1, len(losses) - 1):
        worse = losses[epoch] >= min(losses[:epoch])
        assert rates[epoch + 1] == pytest.approx(rates[epoch] / (2 if worse else 1))
    kept = pipeline.evaluate_batches(pipeline.make_dataset(validation))["loss"]
    assert kept == pytest.approx(losses[best], rel=1e-5)  # the best epoch's weights


def test_patience_needs_validation_data_and_a_positive_count(tweets):
    (train, validation, _) = tweets
    pipeline = SentimentPipeline(units=4, embedding_dim=4)
    with pytest.raises(ValueError, match="`patience` needs `validation_data`"):
        pipeline.fit(*train, epochs=1, patience=2)
    with pytest.raises(ValueError, match="`patience`"):
        pipeline.fit(*train, validation_data=validation, epochs=1, patience=0)
