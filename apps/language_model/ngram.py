"""`KneserNey`: an interpolated Kneser-Ney n-gram model of token ids, the language model's
baseline beyond unigram frequencies."""

import collections
import math

import numpy as np

from ..checks import check_positive_int

__all__ = ["KneserNey"]


class KneserNey:
    """Interpolated Kneser-Ney smoothing of n-grams of token ids (Chen and Goodman, 1999).

    For a context `h` of `k - 1` tokens and a token `w`, with `h'` the context without its
    first token, `c_k` the counts of order `k` and `V` the vocabulary size:

        p_k(w | h) = max(c_k(h w) - D_k, 0) / c_k(h .)  +  D_k N_k(h .) / c_k(h .) * p_{k-1}(w | h')
        p_0(w)     = 1 / V

    where `c_k(h .) = sum_w c_k(h w)` and `N_k(h .)` is the number of distinct `w` with
    `c_k(h w) > 0`; a context never seen (`c_k(h .) = 0`) backs off whole: `p_k(w | h) =
    p_{k-1}(w | h')`. At the highest order `c_k` counts occurrences; below it, `c_k(g)`
    counts the distinct tokens seen before the k-gram `g` (continuation counts), so a token
    that follows only one context is not made likely in others. The discount of each order is
    Ney's estimate `D_k = n_1 / (n_1 + 2 n_2)` from the numbers of k-grams counted once and
    twice (0.5 where there are none).

    Args:
        order: `n`, the longest n-gram (5 reads the 4 tokens before each one).
        vocab_size: `V`, the number of token ids the uniform floor spreads over.

    Example:

    >>> model = KneserNey(order=2, vocab_size=3).fit([0, 1, 0, 1, 0, 2])
    >>> np.round(np.exp(model.log_probs([0, 1, 2])), 4)  # p(1 | 0), p(2 | 1)
    array([0.6444, 0.0333])

    Reference: S. F. Chen and J. Goodman, "An empirical study of smoothing techniques for
    language modeling", Computer Speech & Language 13(4), 1999 (interpolated Kneser-Ney, 2.7).
    """

    def __init__(self, order, vocab_size):
        self.order = check_positive_int("order", order)
        self.vocab_size = check_positive_int("vocab_size", vocab_size)
        self.counts = None  # counts[k - 1]: {k-gram tuple: count}, raw at the top, continuation below
        self.contexts = None  # contexts[k - 1]: {(k-1)-gram: (c_k(h .), N_k(h .))}
        self.discounts = None

    def fit(self, ids):
        """Counts the n-grams of a sequence of ids (every n-gram that fits inside it); returns self.

        The counts are Python dicts of tuples, so memory grows with the number of distinct
        n-grams: a baseline for modest corpora (the embedded docstrings, 0.45 million
        characters, give 165 thousand distinct n-grams of orders 1 to 5, about 40 MB).
        """
        ids = [int(i) for i in ids]
        n = self.order
        top = collections.Counter(tuple(ids[i : i + n]) for i in range(len(ids) - n + 1))
        counts = [top]
        for _ in range(n - 1):  # continuation counts: distinct tokens before each lower k-gram
            counts.insert(0, collections.Counter(gram[1:] for gram in counts[0]))
        self.counts, self.contexts, self.discounts = counts, [], []
        for grams in counts:
            totals, types = collections.Counter(), collections.Counter()
            for gram, count in grams.items():
                totals[gram[:-1]] += count
                types[gram[:-1]] += 1
            self.contexts.append({h: (totals[h], types[h]) for h in totals})
            once = sum(1 for count in grams.values() if count == 1)
            twice = sum(1 for count in grams.values() if count == 2)
            self.discounts.append(once / (once + 2 * twice) if once else 0.5)
        return self

    def probability(self, context, token):
        """`p_n(token | context)`, with the last `order - 1` tokens of `context` (a tuple)."""
        p = 1.0 / self.vocab_size
        context = tuple(context)[-(self.order - 1) :] if self.order > 1 else ()
        for k in range(1, self.order + 1):  # from unigrams up to the full context
            h = context[len(context) - (k - 1) :] if k > 1 else ()
            if len(h) < k - 1:
                break  # the context is shorter than this order: the lower order is the answer
            total, types = self.contexts[k - 1].get(h, (0, 0))
            if total:
                discount = self.discounts[k - 1]
                count = self.counts[k - 1].get((*h, token), 0)
                p = max(count - discount, 0.0) / total + discount * types / total * p
        return p

    def log_probs(self, ids):
        """`log p(ids[t] | ids[t - n + 1 .. t - 1])` in nats for `t = n - 1 .. len(ids) - 1`:
        every token after the first `order - 1`, which are its context (NumPy `(len - n + 1,)`)."""
        if self.counts is None:
            raise ValueError("KneserNey.log_probs() needs a fitted model: call fit() first.")
        ids = [int(i) for i in ids]
        n = self.order
        return np.array(
            [math.log(self.probability(ids[t - n + 1 : t], ids[t])) for t in range(n - 1, len(ids))]
        )
