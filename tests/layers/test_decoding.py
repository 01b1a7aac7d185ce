"""Greedy search, sampling and beam search against NumPy references on fixed toy decoders.

Two decoders, each written once for TensorFlow (the step function under test) and once in
NumPy (float64, one row at a time, for the references):

- `rnn`:       h' = tanh(E[y] + h U),  logits = h' O + b
- `attention`: the same h', then weights a = softmax(M (h' Q)) over a per-row memory
               M (S, D), context c = a M, logits = h' O + c C + b; the state is the dict
               {"h", "memory", "weights"}.

The beam search is checked three ways: width 1 against `greedy_search`, a width that
never prunes against an enumeration of every sequence a row can decode (the true best
hypotheses), and a narrow width against a NumPy run of the same slot algorithm.
"""

import functools

import keras
import numpy as np
import pytest
import tensorflow as tf

from rnnkit.layers import GRUCell, decoding

V, H, S, D = 5, 8, 3, 4  # vocabulary, state units, memory slots, memory features
END = 1

# Seed and scales chosen so that the rows decode to sequences of many lengths.
BATCH = 6
START = np.array([0, 2, 3, 4, 0, 2], "int32")
_rng = np.random.default_rng(1)
EMBEDDING = _rng.normal(size=(V, H)).astype("float32")
RECURRENT = (0.6 * _rng.normal(size=(H, H))).astype("float32")
OUTPUT = (1.5 * _rng.normal(size=(H, V))).astype("float32")
H0 = _rng.normal(size=(BATCH, H)).astype("float32")
BIAS = np.where(np.arange(V) == END, 1.0, 0.0).astype("float32")
QUERY = _rng.normal(size=(H, D)).astype("float32")
CONTEXT = (1.5 * _rng.normal(size=(D, V))).astype("float32")
MEMORY = _rng.normal(size=(BATCH, S, D)).astype("float32")
# Two more rows, for which greedy ends at once.
GREEDY_START = np.concatenate([START, [2, 4]]).astype("int32")
GREEDY_H0 = np.concatenate([H0, 0.5 * H0[[0, 2]]])


# The decoders in TensorFlow.


def rnn_step(tokens, h, vocab=V):
    h = tf.tanh(tf.gather(EMBEDDING, tokens) + h @ RECURRENT)
    return h @ OUTPUT[:, :vocab] + BIAS[:vocab], h


def attention_step(tokens, state):
    h = tf.tanh(tf.gather(EMBEDDING, tokens) + state["h"] @ RECURRENT)
    weights = tf.nn.softmax(tf.einsum("bsd,bd->bs", state["memory"], h @ QUERY))  # (B, S)
    context = tf.einsum("bs,bsd->bd", weights, state["memory"])  # (B, D)
    logits = h @ OUTPUT + context @ CONTEXT + BIAS
    return logits, {"h": h, "memory": state["memory"], "weights": weights}


def attention_state(rows=slice(None)):
    return {"h": H0[rows], "memory": MEMORY[rows], "weights": np.zeros_like(MEMORY[rows, :, 0])}


# The same decoders in NumPy, one row at a time, and the references built on them.


def np_rnn_step(token, h, vocab=V):
    h = np.tanh(EMBEDDING[token] + h @ RECURRENT)
    return h @ OUTPUT[:, :vocab] + BIAS[:vocab], h


def np_attention_step(token, state):
    h = np.tanh(EMBEDDING[token] + state["h"] @ RECURRENT)
    scores = state["memory"] @ (h @ QUERY)
    weights = np.exp(scores - scores.max()) / np.exp(scores - scores.max()).sum()
    logits = h @ OUTPUT + (weights @ state["memory"]) @ CONTEXT + BIAS
    return logits, {"h": h, "memory": state["memory"], "weights": weights}


def np_control(logits, history, n=0, r=1.0):
    """The repetition penalty `r` and no-repeat n-gram size `n` over the tokens `history`."""
    logits = logits.copy()
    for v in set(history):
        logits[v] = logits[v] / r if logits[v] > 0 else logits[v] * r
    if n > 0 and len(history) >= n - 1:
        prefix = list(history[len(history) - n + 1 :]) if n > 1 else []
        for j in range(len(history) - n + 1):
            if list(history[j : j + n - 1]) == prefix:
                logits[history[j + n - 1]] = -np.inf
    return logits


def np_log_probs(np_step, token, state, t, min_length, temperature=1.0, history=(), n=0, r=1.0):
    """log_softmax of the step's logits / temperature, the end token forbidden before min_length,
    after the repetition control of `history` (the tokens generated so far)."""
    logits, state = np_step(token, state)
    logits = np_control(logits.astype("float64"), list(history), n, r) / temperature
    if t < min_length:
        logits[END] = -np.inf
    shifted = logits - logits.max()
    return shifted - np.log(np.exp(shifted).sum()), state


def penalty(m, length_penalty):
    return ((5.0 + m) / 6.0) ** length_penalty


def padded(tokens, max_length):
    return np.array(list(tokens) + [END] * (max_length - len(tokens)), "int32")


def all_hypotheses(np_step, start, state, max_length, length_penalty, min_length=0):
    """Every sequence one row can decode as (score, tokens, length), best first."""
    found = []

    def expand(prefix, token, state, log_p):
        log_probs, state = np_log_probs(np_step, token, state, len(prefix), min_length)
        for v in range(len(log_probs)):
            total = log_p + log_probs[v]
            if v == END:
                found.append((total / penalty(len(prefix) + 1, length_penalty), prefix))
            elif len(prefix) + 1 == max_length:
                found.append((total / penalty(max_length, length_penalty), prefix + [v]))
            else:
                expand(prefix + [v], v, state, total)

    expand([], start, state, 0.0)
    found.sort(key=lambda hypothesis: -hypothesis[0])
    return [(score, padded(tokens, max_length), len(tokens)) for score, tokens in found]


def np_greedy(np_step, start, state, max_length, min_length=0, n=0, r=1.0):
    """Greedy decoding of one row: (tokens, length, score, states)."""
    tokens, score, token, states = [], 0.0, start, []
    for t in range(max_length):
        log_probs, state = np_log_probs(np_step, token, state, t, min_length, history=tokens, n=n, r=r)
        states.append(state)
        token = int(np.argmax(log_probs))
        score += log_probs[token]
        if token == END:
            break
        tokens.append(token)
    return padded(tokens, max_length), len(tokens), score, states


def np_beam(np_step, start, state, max_length, width, length_penalty, min_length=0, n=0, r=1.0):
    """The slot algorithm of `beam_search` on one row: its slots as (score, tokens, length), best first.

    Written from its description: the candidates are listed slot by slot, token by token,
    and sorted stably, so equal scores keep the lower slot, then the lower token. A finished
    slot lists only itself (its other candidates are -inf).
    """
    # A slot: [log p, tokens, ended, state, token to feed]; only slot 0 starts alive.
    slots = [[0.0 if w == 0 else -np.inf, [], False, state, start] for w in range(width)]

    def finished(slot):
        return slot[2] or slot[0] == -np.inf

    t = 0
    while t < max_length and not all(finished(slot) for slot in slots):
        candidates = []  # (normalized score, log p, slot, token, state)
        for w, (log_p, tokens, _, state, token) in enumerate(slots):
            if finished(slots[w]):
                candidates.append((log_p / penalty(len(tokens) + 1, length_penalty), log_p, w, END, state))
                continue
            log_probs, state = np_log_probs(np_step, token, state, t, min_length, history=tokens, n=n, r=r)
            for v, total in enumerate(log_p + log_probs):
                candidates.append((total / penalty(t + 1, length_penalty), total, w, v, state))
        candidates.sort(key=lambda candidate: -candidate[0])  # stable
        new_slots = []
        for _, log_p, w, v, state in candidates[:width]:
            _, tokens, ended, _, _ = slots[w]
            if finished(slots[w]) or v == END:
                new_slots.append([log_p, tokens, ended or v == END, state, END])
            else:
                new_slots.append([log_p, tokens + [v], False, state, v])
        slots, t = new_slots, t + 1
    found = [
        (log_p / penalty(len(tokens) + int(ended), length_penalty), padded(tokens, max_length), len(tokens))
        for log_p, tokens, ended, _, _ in slots
    ]
    return sorted(found, key=lambda hypothesis: -hypothesis[0])


def rnn_rows(starts=START, h0s=H0):
    return [(int(start), h0) for start, h0 in zip(starts, h0s, strict=True)]


def assert_hypotheses(out, b, expected, atol=1e-5):
    """Row b of a beam search's result is the (score, tokens, length) list `expected`."""
    np.testing.assert_allclose(out["scores"][b], [score for score, _, _ in expected], atol=atol)
    np.testing.assert_array_equal(out["tokens"][b], [tokens for _, tokens, _ in expected])
    np.testing.assert_array_equal(out["lengths"][b], [length for _, _, length in expected])


# Greedy search.


@pytest.mark.parametrize("min_length", [0, 2])
def test_greedy_matches_numpy(min_length):
    out = decoding.greedy_search(rnn_step, START, H0, end_token=END, max_length=6, min_length=min_length)
    for b, (start, h0) in enumerate(rnn_rows()):
        tokens, length, score, _ = np_greedy(np_rnn_step, start, h0, 6, min_length)
        np.testing.assert_array_equal(out["tokens"][b], tokens)
        assert out["lengths"][b] == length >= min_length
        np.testing.assert_allclose(out["scores"][b], score, atol=1e-5)
    assert out["tokens"].dtype == tf.int32 and out["lengths"].dtype == tf.int32
    assert out["scores"].dtype == tf.float32
    assert len(set(out["lengths"].numpy())) > 1, "the toy decoder should give several lengths"


CONTROLS = [(1, 1.0), (2, 1.0), (3, 1.0), (0, 1.8), (2, 0.5)]  # (no_repeat_ngram_size, repetition_penalty)


@pytest.mark.parametrize("n, r", CONTROLS)
def test_repetition_control_matches_numpy(n, r):
    """Greedy and narrow beams with the repetition penalty and the no-repeat n-gram rule,
    against NumPy references that apply both to the logits of every step."""
    control = {"no_repeat_ngram_size": n, "repetition_penalty": r}
    out = decoding.greedy_search(rnn_step, START, H0, end_token=END, max_length=8, **control)
    beam = decoding.beam_search(
        rnn_step, START, H0, end_token=END, max_length=8, beam_width=3, num_results=3, **control
    )
    for b, (start, h0) in enumerate(rnn_rows()):
        tokens, length, score, _ = np_greedy(np_rnn_step, start, h0, 8, n=n, r=r)
        np.testing.assert_array_equal(out["tokens"][b], tokens)
        np.testing.assert_allclose(out["scores"][b], score, atol=1e-5)
        assert_hypotheses(beam, b, np_beam(np_rnn_step, start, h0, 8, 3, 0.6, n=n, r=r))
    one = decoding.beam_search(rnn_step, START, H0, end_token=END, max_length=8, beam_width=1, **control)
    np.testing.assert_array_equal(one["tokens"][:, 0], out["tokens"])  # width 1 is greedy
    argmax = decoding.sample(rnn_step, START, H0, end_token=END, max_length=8, top_k=1, seed=0, **control)
    np.testing.assert_array_equal(argmax["tokens"], out["tokens"])  # top-1 sampling is greedy


@pytest.mark.parametrize("n", [1, 2, 3])
def test_no_repeat_ngram_size_leaves_no_repeated_ngram(n):
    free = decoding.greedy_search(rnn_step, START, H0, end_token=END, max_length=12)
    out = decoding.greedy_search(rnn_step, START, H0, end_token=END, max_length=12, no_repeat_ngram_size=n)
    repeated = 0
    for tokens, length, free_tokens, free_length in zip(
        out["tokens"].numpy(),
        out["lengths"].numpy(),
        free["tokens"].numpy(),
        free["lengths"].numpy(),
        strict=True,
    ):
        grams = [tuple(tokens[i : i + n]) for i in range(length - n + 1)]
        assert len(grams) == len(set(grams))
        free_grams = [tuple(free_tokens[i : i + n]) for i in range(free_length - n + 1)]
        repeated += len(free_grams) - len(set(free_grams))
    assert repeated > 0, "without the rule the toy decoder should repeat itself"


def test_finished_rows_are_frozen():
    short = decoding.greedy_search(rnn_step, START, H0, end_token=END, max_length=3)
    long = decoding.greedy_search(rnn_step, START, H0, end_token=END, max_length=8)
    ended = short["lengths"].numpy() < 3
    assert ended.any()
    for b in np.flatnonzero(ended):  # nothing after the end token changes a row
        length = short["lengths"][b]
        assert long["lengths"][b] == length
        np.testing.assert_array_equal(long["tokens"][b, length:], END)
        np.testing.assert_array_equal(long["tokens"][b, :3], short["tokens"][b])
        np.testing.assert_allclose(long["scores"][b], short["scores"][b], atol=1e-6)


def test_record_traces_the_state_of_every_step():
    out = decoding.greedy_search(
        attention_step,
        START,
        attention_state(),
        end_token=END,
        max_length=6,
        record=lambda state: state["weights"],
    )
    assert out["trace"].shape == (BATCH, 6, S)
    for b in range(BATCH):
        state = {key: value[b] for key, value in attention_state().items()}
        tokens, length, score, states = np_greedy(np_attention_step, int(START[b]), state, 6)
        np.testing.assert_array_equal(out["tokens"][b], tokens)
        np.testing.assert_allclose(out["scores"][b], score, atol=1e-5)
        expected = [s["weights"] for s in states[: length + 1]]  # the steps until its end token
        np.testing.assert_allclose(out["trace"][b, : len(expected)], expected, atol=1e-5)


def counting_step(tokens, state):
    """Prefers the token after the one fed, modulo V; token 0 ends."""
    return 5.0 * tf.one_hot((tokens + 1) % V, V), state + 1.0


def test_loop_stops_when_every_row_ended():
    out = decoding.greedy_search(
        counting_step, [3, 2], tf.zeros([2]), end_token=0, max_length=10, record=lambda state: state
    )
    np.testing.assert_array_equal(out["tokens"], [[4, 0, 0, 0, 0, 0, 0, 0, 0, 0], [3, 4] + [0] * 8])
    np.testing.assert_array_equal(out["lengths"], [1, 2])
    # 3 steps ran, the state counts them; the steps never run are zeros.
    np.testing.assert_array_equal(out["trace"], [[1, 2, 3] + [0] * 7] * 2)


def test_min_length_forbids_the_end_token():
    for search, kwargs in [(decoding.greedy_search, {}), (decoding.beam_search, {"beam_width": 3})]:
        out = search(counting_step, [3, 4], tf.zeros([2]), end_token=0, max_length=6, min_length=6, **kwargs)
        assert np.all(out["tokens"].numpy() != 0) and np.all(out["lengths"].numpy() == 6)


def test_decoding_is_one_graph_loop():
    """The traced graph does not grow with max_length: no Python loop over time steps."""

    def count_ops(search, max_length):
        function = tf.function(
            lambda start, h: search(rnn_step, start, h, end_token=END, max_length=max_length),
            input_signature=[tf.TensorSpec([None], tf.int32), tf.TensorSpec([None, H])],
        )
        return len(function.get_concrete_function().graph.get_operations())

    for search in (decoding.greedy_search, decoding.sample, decoding.beam_search):
        assert count_ops(search, 3) == count_ops(search, 30)


# Beam search.


@pytest.mark.parametrize("min_length", [0, 2])
@pytest.mark.parametrize("length_penalty", [0.0, 0.6, 2.0])
def test_width_one_is_greedy(length_penalty, min_length):
    kwargs = dict(end_token=END, max_length=6, min_length=min_length)
    greedy = decoding.greedy_search(rnn_step, GREEDY_START, GREEDY_H0, **kwargs)
    beam = decoding.beam_search(
        rnn_step, GREEDY_START, GREEDY_H0, beam_width=1, length_penalty=length_penalty, **kwargs
    )
    lengths = greedy["lengths"].numpy()
    np.testing.assert_array_equal(beam["tokens"][:, 0], greedy["tokens"])
    np.testing.assert_array_equal(beam["lengths"][:, 0], lengths)
    m = np.where(lengths < 6, lengths + 1, 6)  # the end token counts
    np.testing.assert_allclose(beam["scores"][:, 0], greedy["scores"] / penalty(m, length_penalty), atol=1e-5)
    if length_penalty == 0.0:
        np.testing.assert_array_equal(beam["scores"][:, 0], greedy["scores"])
    assert len(set(lengths)) > 2
    if min_length == 0:
        assert np.any(lengths == 0), "greedy should end at once on some rows"


# A vocabulary of 4, the end token included, and 3 steps: 1 + 3 + 9 + 27 = 40 sequences.
rnn_step_4 = functools.partial(rnn_step, vocab=4)
np_rnn_step_4 = functools.partial(np_rnn_step, vocab=4)
START_4 = START % 4


@pytest.mark.parametrize("min_length", [0, 2])
@pytest.mark.parametrize("length_penalty", [0.0, 0.6, 2.0])
def test_wide_beam_finds_the_best_hypotheses(length_penalty, min_length):
    """A width of at least the number of sequences prunes none: the top 3 are the true best."""
    width = 64
    out = decoding.beam_search(
        rnn_step_4,
        START_4,
        H0,
        end_token=END,
        max_length=3,
        beam_width=width,
        length_penalty=length_penalty,
        min_length=min_length,
        num_results=3,
    )
    assert out["tokens"].shape == (BATCH, 3, 3)
    for b, (start, h0) in enumerate(rnn_rows(START_4)):
        everything = all_hypotheses(np_rnn_step_4, start, h0, 3, length_penalty, min_length)
        assert len(everything) <= width
        assert_hypotheses(out, b, everything[:3])
    assert len(set(out["lengths"].numpy().ravel())) > 1


@pytest.mark.parametrize(
    "decoder, length_penalty, min_length",
    [("rnn", 0.0, 0), ("rnn", 0.6, 0), ("rnn", 2.0, 0), ("rnn", 0.6, 2), ("attention", 0.6, 0)],
)
def test_narrow_beam_matches_numpy(decoder, length_penalty, min_length):
    step, np_step, state = {
        "rnn": (rnn_step, np_rnn_step, H0),
        "attention": (attention_step, np_attention_step, attention_state()),
    }[decoder]
    out = decoding.beam_search(
        step,
        START,
        state,
        end_token=END,
        max_length=6,
        beam_width=3,
        length_penalty=length_penalty,
        min_length=min_length,
        num_results=3,
    )
    for b in range(BATCH):
        row = tf.nest.map_structure(lambda x, b=b: x[b], state)
        assert_hypotheses(out, b, np_beam(np_step, int(START[b]), row, 6, 3, length_penalty, min_length))


@pytest.mark.parametrize("length_penalty", [0.0, 2.0])
@pytest.mark.parametrize("fed_2, steps", [([0.5, 0.001, 0.499], 2), ([0.001, 0.001, 0.998], 8)])
def test_finished_slots_are_frozen_and_the_loop_stops_when_all_are(fed_2, steps, length_penalty):
    """Width 2 on a toy decoder fed 1 first; token 0 ends.

    Step 0 gives [end] (0.6) and [2] (0.399). If, fed 2, the decoder ends with 0.5, then
    [2, end] beats [2, 2] at step 1: both slots are finished and the loop stops after 2
    steps. If it goes on with 0.998, [2, 2, ...] stays alive until max_length. All the while
    [end] is frozen, although fed the end token the decoder would go on with 2.
    """
    probs = np.array([[0.001, 0.001, 0.998], [0.6, 0.001, 0.399], fed_2], "float32")
    calls = []

    def step(tokens, state):
        calls.append(tokens)  # eager: one Python call per step
        return tf.math.log(tf.gather(probs, tokens)), state

    out = decoding.beam_search(
        step,
        [1],
        tf.zeros([1]),
        end_token=0,
        max_length=8,
        beam_width=2,
        length_penalty=length_penalty,
        num_results=2,
    )
    assert len(calls) == steps
    ended = (np.log(0.6) / penalty(1, length_penalty), [0] * 8, 0)
    if steps == 2:
        other = (np.log(0.399 * 0.5) / penalty(2, length_penalty), [2] + [0] * 7, 1)
    else:
        other = ((np.log(0.399) + 7 * np.log(0.998)) / penalty(8, length_penalty), [2] * 8, 8)
    expected = sorted([ended, other], key=lambda hypothesis: -hypothesis[0])
    assert_hypotheses(out, 0, expected, atol=1e-6)
    assert (expected[0] is ended) == (steps == 2 or length_penalty == 0.0)


def test_slots_without_a_hypothesis_count_as_finished():
    """A row with fewer hypotheses than slots: the empty slots neither hold the loop nor win.

    Token 0 ends. Fed 1 first, the decoder gives 2 (0.6) or 0 (0.4); fed 2 it ends: the
    only hypotheses are [2, end] and [end], and 2 steps decide them. The other slots are
    filled with -inf candidates, also from the alive slot [2].
    """
    probs = np.array([[1.0, 0.0, 0.0], [0.4, 0.0, 0.6], [1.0, 0.0, 0.0]], "float32")
    calls = []

    def step(tokens, state):
        calls.append(tokens)
        return tf.math.log(tf.gather(probs, tokens)), state

    out = decoding.beam_search(
        step, [1], tf.zeros([1]), end_token=0, max_length=6, beam_width=4, length_penalty=0.0, num_results=4
    )
    assert len(calls) == 2
    np.testing.assert_allclose(out["scores"], [[np.log(0.6), np.log(0.4), -np.inf, -np.inf]], atol=1e-6)
    np.testing.assert_array_equal(out["tokens"][0, :2], [[2] + [0] * 5, [0] * 6])
    np.testing.assert_array_equal(out["lengths"][0, :2], [1, 0])


def test_narrow_beam_scores_at_least_greedy():
    # Not a theorem for a width above 1 (greedy's path can be pruned), but it holds here.
    start = np.tile(START, 3)
    h0 = np.concatenate([H0, -H0, 0.5 * H0])
    greedy = decoding.greedy_search(rnn_step, start, h0, end_token=END, max_length=6)
    beam = decoding.beam_search(
        rnn_step, start, h0, end_token=END, max_length=6, beam_width=3, length_penalty=0.0
    )
    assert np.all(beam["scores"][:, 0] >= greedy["scores"] - 1e-6)
    assert np.any(beam["scores"][:, 0] > greedy["scores"] + 1e-3)


def test_memory_state_is_tiled_and_reordered_per_row():
    kwargs = dict(end_token=END, max_length=5, beam_width=3, num_results=2)
    batch = decoding.beam_search(attention_step, START, attention_state(), **kwargs)
    for b in range(BATCH):
        row = slice(b, b + 1)
        alone = decoding.beam_search(attention_step, START[row], attention_state(row), **kwargs)
        np.testing.assert_array_equal(batch["tokens"][b], alone["tokens"][0])
        np.testing.assert_array_equal(batch["lengths"][b], alone["lengths"][0])
        np.testing.assert_allclose(batch["scores"][b], alone["scores"][0], atol=1e-5)
    # The memory matters: without it the rows decode to other sequences.
    no_memory = {**attention_state(), "memory": np.zeros_like(MEMORY)}
    assert not np.array_equal(
        decoding.beam_search(attention_step, START, no_memory, **kwargs)["tokens"], batch["tokens"]
    )


# Sampling.


def test_sample_is_reproducible_with_a_seed():
    kwargs = dict(end_token=END, max_length=6, temperature=1.5)
    first = decoding.sample(rnn_step, np.tile(START, 4), np.tile(H0, (4, 1)), seed=11, **kwargs)
    again = decoding.sample(rnn_step, np.tile(START, 4), np.tile(H0, (4, 1)), seed=11, **kwargs)
    other = decoding.sample(rnn_step, np.tile(START, 4), np.tile(H0, (4, 1)), seed=12, **kwargs)
    np.testing.assert_array_equal(first["tokens"], again["tokens"])
    np.testing.assert_array_equal(first["scores"], again["scores"])
    assert not np.array_equal(first["tokens"], other["tokens"])


@pytest.mark.parametrize("temperature, top_k", [(1.0, None), (0.7, 3)])
def test_sample_scores_the_tempered_filtered_distribution(temperature, top_k):
    out = decoding.sample(
        rnn_step, START, H0, end_token=END, max_length=6, temperature=temperature, top_k=top_k, seed=3
    )
    for b, (token, h) in enumerate(rnn_rows()):
        expected = 0.0
        for t, drawn in enumerate(out["tokens"][b].numpy()[: out["lengths"][b] + 1]):
            log_probs, h = np_log_probs(np_rnn_step, token, h, t, 0, temperature)
            if top_k is not None:  # renormalize over the top_k
                kept = np.sort(log_probs)[-top_k:]
                assert log_probs[drawn] >= kept[0]
                log_probs = log_probs - np.log(np.exp(kept).sum())
            expected += log_probs[drawn]
            token = drawn
        np.testing.assert_allclose(out["scores"][b], expected, atol=1e-5)


def test_sample_draws_from_the_top_k():
    rows = 4000
    out = decoding.sample(
        rnn_step,
        np.full(rows, START[0]),
        np.tile(H0[:1], (rows, 1)),
        end_token=END,
        max_length=1,
        top_k=2,
        seed=5,
    )
    log_probs, _ = np_log_probs(np_rnn_step, int(START[0]), H0[0], 0, 0)
    top = np.argsort(log_probs)[-2:]
    expected = np.zeros(V)
    expected[top] = np.exp(log_probs[top]) / np.exp(log_probs[top]).sum()
    frequencies = np.bincount(out["tokens"].numpy()[:, 0], minlength=V) / rows
    np.testing.assert_allclose(frequencies, expected, atol=0.03)


@pytest.mark.parametrize("kwargs", [{"top_k": 1, "seed": 0}, {"temperature": 1e-4}])
def test_sample_without_randomness_is_greedy(kwargs):
    greedy = decoding.greedy_search(rnn_step, START, H0, end_token=END, max_length=6, min_length=1)
    out = decoding.sample(rnn_step, START, H0, end_token=END, max_length=6, min_length=1, **kwargs)
    np.testing.assert_array_equal(out["tokens"], greedy["tokens"])
    np.testing.assert_array_equal(out["lengths"], greedy["lengths"])


# Graph mode and export.


class Decoder(tf.Module):
    """The attention decoder with its weights as variables, and one endpoint per search."""

    signature = [
        tf.TensorSpec([None], tf.int32),
        tf.TensorSpec([None, H], tf.float32),
        tf.TensorSpec([None, S, D], tf.float32),
    ]

    def __init__(self):
        super().__init__()
        self.embedding = tf.Variable(EMBEDDING)
        self.recurrent = tf.Variable(RECURRENT)
        self.output = tf.Variable(OUTPUT)

    def step(self, tokens, state):
        h = tf.tanh(tf.gather(self.embedding, tokens) + state["h"] @ self.recurrent)
        weights = tf.nn.softmax(tf.einsum("bsd,bd->bs", state["memory"], h @ QUERY))
        context = tf.einsum("bs,bsd->bd", weights, state["memory"])
        logits = h @ self.output + context @ CONTEXT + BIAS
        return logits, {"h": h, "memory": state["memory"], "weights": weights}

    @tf.function(input_signature=signature)
    def greedy(self, start, h, memory):
        state = {"h": h, "memory": memory, "weights": tf.zeros_like(memory[:, :, 0])}
        return decoding.greedy_search(
            self.step, start, state, end_token=END, max_length=6, record=lambda s: s["weights"]
        )

    @tf.function(input_signature=signature)
    def sample(self, start, h, memory):
        state = {"h": h, "memory": memory, "weights": tf.zeros_like(memory[:, :, 0])}
        return decoding.sample(self.step, start, state, end_token=END, max_length=6, top_k=3, seed=1)

    @tf.function(input_signature=signature)
    def beam(self, start, h, memory):
        state = {"h": h, "memory": memory, "weights": tf.zeros_like(memory[:, :, 0])}
        return decoding.beam_search(self.step, start, state, end_token=END, max_length=6, num_results=2)


def test_graph_and_saved_model_match_eager(tmp_path):
    state = attention_state()
    eager = {
        "greedy": decoding.greedy_search(
            attention_step, START, state, end_token=END, max_length=6, record=lambda s: s["weights"]
        ),
        "sample": decoding.sample(attention_step, START, state, end_token=END, max_length=6, top_k=3, seed=1),
        "beam": decoding.beam_search(
            attention_step, START, state, end_token=END, max_length=6, num_results=2
        ),
    }
    decoder = Decoder()
    tf.saved_model.save(decoder, str(tmp_path / "decoder"))
    reloaded = tf.saved_model.load(str(tmp_path / "decoder"))  # keep a reference: it owns the variables
    for source in (decoder, reloaded):
        for name, expected in eager.items():
            for rows in (slice(None), slice(0, 2)):  # two batch sizes through one signature
                out = getattr(source, name)(START[rows], state["h"][rows], state["memory"][rows])
                assert sorted(out) == sorted(expected)
                for key in expected:
                    np.testing.assert_allclose(out[key], expected[key][rows], atol=1e-5, err_msg=key)


def test_step_with_keras_layers_in_a_tf_function():
    embedding, cell, dense = keras.layers.Embedding(V, 6), GRUCell(H), keras.layers.Dense(V)

    def step(tokens, h):
        h, _ = cell(embedding(tokens), [h])
        return dense(h), h

    step(tf.constant(START), H0)  # builds the layers
    searches = {
        "greedy": lambda start, h: decoding.greedy_search(step, start, h, end_token=END, max_length=5),
        "beam": lambda start, h: decoding.beam_search(step, start, h, end_token=END, max_length=5),
    }
    signature = [tf.TensorSpec([None], tf.int32), tf.TensorSpec([None, H])]
    for search in searches.values():
        graph = tf.function(search, input_signature=signature)
        eager, traced = search(START, H0), graph(START, H0)
        for key in eager:
            np.testing.assert_allclose(traced[key], eager[key], atol=1e-5)


# Invalid arguments.

RNN = dict(step=rnn_step, start_tokens=START, state=H0, end_token=END, max_length=4)


@pytest.mark.parametrize(
    "search, kwargs, argument",
    [
        (decoding.greedy_search, {"max_length": 0}, "max_length"),
        (decoding.greedy_search, {"max_length": 2.5}, "max_length"),
        (decoding.greedy_search, {"end_token": -1}, "end_token"),
        (decoding.greedy_search, {"min_length": 5}, "min_length"),
        (decoding.greedy_search, {"min_length": -1}, "min_length"),
        (decoding.sample, {"temperature": 0.0}, "temperature"),
        (decoding.sample, {"temperature": True}, "temperature"),
        (decoding.sample, {"top_k": 0}, "top_k"),
        (decoding.sample, {"seed": 1.5}, "seed"),
        (decoding.beam_search, {"beam_width": 0}, "beam_width"),
        (decoding.beam_search, {"beam_width": 2, "num_results": 3}, "num_results"),
        (decoding.beam_search, {"num_results": 0}, "num_results"),
        (decoding.beam_search, {"length_penalty": -0.1}, "length_penalty"),
        (decoding.beam_search, {"max_length": None}, "max_length"),
        (decoding.greedy_search, {"no_repeat_ngram_size": -1}, "no_repeat_ngram_size"),
        (decoding.sample, {"no_repeat_ngram_size": 2.0}, "no_repeat_ngram_size"),
        (decoding.beam_search, {"repetition_penalty": 0.0}, "repetition_penalty"),
        (decoding.greedy_search, {"repetition_penalty": True}, "repetition_penalty"),
    ],
)
def test_invalid_arguments(search, kwargs, argument):
    with pytest.raises(ValueError, match=f"Argument `{argument}` must be .* Received: {argument}="):
        search(**{**RNN, **kwargs})
