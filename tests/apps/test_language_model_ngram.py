"""The Kneser-Ney n-gram baseline of the language model, against a hand computation."""

import numpy as np
import pytest

from rnnkit.apps.language_model.ngram import KneserNey

# Order 2, V = 4, fitted on 0 1 0 1 2 1 0 2:
#   bigram counts (0 1): 2, (1 0): 2, (1 2): 1, (2 1): 1, (0 2): 1 -> n_1 = 3, n_2 = 2, D_2 = 3/7
#   continuation counts (distinct tokens before): 0: 1, 1: 2, 2: 2 -> n_1 = 1, n_2 = 2, D_1 = 1/5
#   p_1(w) = max(c(w) - 1/5, 0) / 5 + (1/5)(3/5)(1/4):   0.19, 0.39, 0.39, 0.03
#   p_2(w | 1) = max(c(1 w) - 3/7, 0) / 3 + (3/7)(2/3) p_1(w)
SEQUENCE = [0, 1, 0, 1, 2, 1, 0, 2]
UNIGRAM = np.array([0.19, 0.39, 0.39, 0.03])
AFTER_1 = np.array([(2 - 3 / 7) / 3, 0, (1 - 3 / 7) / 3, 0]) + (2 / 7) * UNIGRAM


def test_probabilities_are_the_hand_computed_ones():
    model = KneserNey(order=2, vocab_size=4).fit(SEQUENCE)
    assert model.discounts == pytest.approx([1 / 5, 3 / 7])
    np.testing.assert_allclose([model.probability([1], w) for w in range(4)], AFTER_1)
    np.testing.assert_allclose([model.probability([3], w) for w in range(4)], UNIGRAM)  # unseen context
    # p(0 | 1), p(3 | 0) (context 0 is followed by 1 twice and 2 once, as 1 by 0 twice and 2 once),
    # p(1 | 3) (an unseen context)
    expected = [AFTER_1[0], (2 / 7) * UNIGRAM[3], UNIGRAM[1]]
    np.testing.assert_allclose(np.exp(model.log_probs([1, 0, 3, 1])), expected)


def test_every_context_gives_a_distribution():
    ids = np.random.default_rng(0).integers(0, 6, size=300)
    model = KneserNey(order=3, vocab_size=7).fit(ids)  # id 6 never occurs
    for context in ([0, 1], [2, 2], [6, 6], [5]):
        total = sum(model.probability(context, w) for w in range(7))
        assert total == pytest.approx(1.0)
        assert model.probability(context, 6) > 0


def test_bad_arguments():
    with pytest.raises(ValueError, match="order"):
        KneserNey(order=0, vocab_size=3)
    with pytest.raises(ValueError, match="fit"):
        KneserNey(order=2, vocab_size=3).log_probs([0, 1])
