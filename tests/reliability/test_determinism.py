"""Determinism: with `seed=` set, a second run of a pipeline in the same process gives exactly
the same training history and the same `evaluate` metrics (bit for bit: on CPU every kernel
rnnkit's models use is deterministic once the seeds of weights, dropout and shuffling are fixed).

The first run is the session's (`conftest.py`), trained whenever a test first asked for it,
after any other tests; so what a run gives depends on its seed alone, not on what ran before.
"""

import numpy as np
import pytest

from rnnkit.apps.sentiment import SentimentPipeline
from tests.data import LABELS, TEXTS

from .runs import SEED, SENTIMENT, train


@pytest.mark.parametrize("task", ["sentiment", "forecast", "translation", "caption", "language_model"])
def test_a_second_run_with_the_same_seed_is_identical(task, run_of):
    first, second = run_of(task), train(task)
    assert second.history == first.history  # every epoch's loss and metrics, exactly
    np.testing.assert_equal(second.metrics, first.metrics)  # nested dicts; NaN equals NaN


def test_another_seed_gives_another_run(forecast_run):
    """The comparison above has teeth: the seed reaches the weights and the shuffling."""
    assert train("forecast", seed=SEED + 1).history != forecast_run.history


def test_fitting_the_same_pipeline_again_repeats_the_run():
    """A refit learns its preprocessing afresh and starts from the same seeded weights."""
    pipeline = SentimentPipeline(**SENTIMENT, bidirectional=False, seed=SEED)
    first = pipeline.fit(TEXTS, LABELS, epochs=2, verbose=0).history
    second = pipeline.fit(TEXTS, LABELS, epochs=2, verbose=0).history
    assert second == first
