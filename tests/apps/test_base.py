"""`Pipeline.fit`'s options that every task shares, on the smallest one (sentiment)."""

import numpy as np
import pytest

from rnnkit.apps.sentiment import SentimentPipeline, load_default

EPOCHS = 40


@pytest.fixture(scope="module")
def tweets():
    frames = load_default(train=60, validation=30, test=2, seed=1)
    return [(list(frame.text), list(frame.label)) for frame in frames]


@pytest.mark.parametrize("monitor", [("val_loss", "min"), ("val_macro_recall", "max")])
def test_patience_halves_the_rate_stops_and_keeps_the_best_epoch(tweets, monitor):
    (train, validation, _) = tweets
    pipeline = SentimentPipeline(units=8, embedding_dim=8, max_len=12, learning_rate=0.05)
    pipeline.monitor = monitor  # the base's (the loss) and sentiment's own (macro-recall)
    history = pipeline.fit(*train, validation_data=validation, epochs=EPOCHS, patience=2, verbose=0)
    name, mode = monitor
    sign = 1 if mode == "min" else -1  # scores as losses: lower is better
    scores, rates = [sign * s for s in history.history[name]], history.history["learning_rate"]
    best = int(np.argmin(scores))  # the first of equal best scores
    assert len(scores) == best + 3 < EPOCHS  # stopped 2 epochs after the best
    for epoch in range(1, len(scores) - 1):
        worse = scores[epoch] >= min(scores[:epoch])
        assert rates[epoch + 1] == pytest.approx(rates[epoch] / (2 if worse else 1))
    kept = pipeline.evaluate_batches(pipeline.make_dataset(validation))[name.removeprefix("val_")]
    assert sign * kept == pytest.approx(scores[best], rel=1e-5)  # the best epoch's weights


def test_patience_needs_validation_data_and_a_positive_count(tweets):
    (train, validation, _) = tweets
    pipeline = SentimentPipeline(units=4, embedding_dim=4)
    with pytest.raises(ValueError, match="`patience` needs `validation_data`"):
        pipeline.fit(*train, epochs=1, patience=2)
    with pytest.raises(ValueError, match="`patience`"):
        pipeline.fit(*train, validation_data=validation, epochs=1, patience=0)
