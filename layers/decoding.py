"""Greedy search, sampling and beam search over a step function, as TensorFlow graph code.

A decoder is given as a step function

    logits, state = step(tokens, state)

with `tokens` int32 `(B,)`, `logits` float `(B, V)` and `state` any nested structure
(`tf.nest`) of tensors whose first axis is the batch `B`, for instance a dict holding `h`
`(B, units)` and an attention memory `(B, S, D)`. The step may use Keras layers and variables.
Every search runs its steps in a `tf.while_loop` and collects them in tensors, never in a
Python loop over time, so the same call works eagerly, inside `tf.function` (the batch size
may be unknown when traced) and in an exported SavedModel.

Conventions shared by the three searches:

- `start_tokens` `(B,)` is fed as the first `tokens`; the generated tokens exclude it.
- `tokens` has `max_length` positions. A sequence of length `n` holds its tokens at
  positions `0 .. n-1`, the end token at position `n` when `n < max_length`, and
  `end_token` as padding after it. `lengths` counts the tokens before the end token, which
  is not counted; a sequence that never produced the end token has length `max_length`.
- Log-probabilities are those of the distribution decoded from: `log_softmax(logits)`
  with the end token forbidden (logit `-inf`) while fewer than `min_length` tokens have
  been generated, and for `sample` after temperature and top-k as well. For a sequence
  `y` with `m` generated tokens, the end token included when it was generated
  (`m = length + 1`, or `m = max_length` without an end token),

      log p(y) = sum_{t < m} log p(y_t | y_{<t})

  and `scores` of `greedy_search` and `sample` is `log p(y)`.
- `beam_search` ranks by the GNMT length-normalized score (Wu et al., 2016)

      score(y) = log p(y) / lp(m),    lp(m) = ((5 + m) / 6) ** length_penalty

  so `length_penalty=0` gives the plain log-probability, greedy's score.

- Repetition control, in every search (both off by default), changes the logits of a row
  before its token is chosen, using the tokens that row (or beam slot) generated so far,
  `y_{<t}`:

      repetition penalty r (Keskar et al., 2019):  z_v <- z_v / r if z_v > 0 else z_v * r,
                                                    for every token v in y_{<t}
      no-repeat n-gram size n:  z_v <- -inf  if (y_{t-n+1}, ..., y_{t-1}, v) is an n-gram of y_{<t}

  so `r = 1` and `n = 0` change nothing, and `n = 1` never repeats a token. The penalty comes
  first; the log-probabilities are those of the logits after both.

References: Wu et al., "Google's neural machine translation system: bridging the gap between
human and machine translation", arXiv:1609.08144 (2016), section 7. Keskar et al., "CTRL: a
conditional transformer language model for controllable generation", arXiv:1909.05858
(2019), section 4.1 (the repetition penalty).
"""

import numbers

import tensorflow as tf

__all__ = ["beam_search", "check_repetition", "greedy_search", "sample"]

NEG_INF = float("-inf")


def greedy_search(
    step,
    start_tokens,
    state,
    *,
    end_token,
    max_length,
    min_length=0,
    record=None,
    no_repeat_ngram_size=0,
    repetition_penalty=1.0,
):
    """Decode by taking the most probable token at every step.

        y_t = argmax_v log p(v | y_{<t})

    taking the lowest token id among equal maxima. A row that produced `end_token` stays
    finished: its later tokens are `end_token` and add nothing to its score. The loop stops
    as soon as every row has finished.

    Args:
        step: `step(tokens, state) -> (logits, state)`, see the module docstring.
        start_tokens: int `(B,)`, the first tokens fed to `step`.
        state: the initial state, a nest of tensors with first axis `B`.
        end_token: the end-of-sequence token id, a non-negative integer.
        max_length: the most tokens generated, a positive integer.
        min_length: the end token is forbidden while fewer tokens than this have been
            generated, an integer in `[0, max_length]` (default 0).
        record: optional `record(state) -> nest of tensors (B, ...)`, applied to the state
            returned by every step (e.g. attention weights kept in the state).
        no_repeat_ngram_size: `n`, an integer >= 0: no n-gram is generated twice in a row's
            output (0, the default: no limit; see the module docstring).
        repetition_penalty: `r`, a float > 0 dividing the positive logits (multiplying the
            negative ones) of the tokens already generated (default 1: none).

    Returns:
        A dict with `"tokens"` int32 `(B, max_length)`, `"lengths"` int32 `(B,)`,
        `"scores"` float32 `(B,)` and, with `record`, `"trace"`: the nest of
        `record(state)` stacked along axis 1, `(B, max_length, ...)`. Steps after the loop
        stopped are zeros in the trace; the steps of a finished row are those fed `end_token`.

    Example:

    A toy decoder that always prefers the token after the one it was fed; 0 ends.

    >>> def step(tokens, state):
    ...     logits = 5.0 * tf.one_hot((tokens + 1) % 5, 5)
    ...     return logits, state + 1
    >>> out = greedy_search(step, [2, 4], tf.zeros([2]), end_token=0, max_length=5)
    >>> out["tokens"].numpy()
    array([[3, 4, 0, 0, 0],
           [0, 0, 0, 0, 0]], dtype=int32)
    >>> out["lengths"].numpy()
    array([2, 0], dtype=int32)
    >>> np.round(out["scores"].numpy(), 4)  # 3 and 1 tokens of log(e^5 / (e^5 + 4))
    array([-0.0798, -0.0266], dtype=float32)
    """
    _check_common(end_token, max_length, min_length)
    control = _repetition_control(no_repeat_ngram_size, repetition_penalty)

    def choose(logits, t):  # the selection of beam_search, so that width 1 is exactly this
        return _top_k_indices(logits, 1)[:, 0], logits

    return _decode(step, start_tokens, state, choose, end_token, max_length, min_length, record, control)


def sample(
    step,
    start_tokens,
    state,
    *,
    end_token,
    max_length,
    min_length=0,
    temperature=1.0,
    top_k=None,
    seed=None,
    record=None,
    no_repeat_ngram_size=0,
    repetition_penalty=1.0,
):
    """Decode by drawing every token from the tempered, top-k filtered distribution.

        y_t ~ softmax(z / temperature),   z = logits with all but the `top_k` largest at -inf

    Arguments, returns and finished rows are as in `greedy_search`. The scores are the
    log-probabilities of the drawn tokens under that tempered, filtered distribution (so
    `top_k=1` gives 0), with the end token forbidden before `min_length`.

    Args:
        temperature: a float > 0 dividing the logits (default 1).
        top_k: keep only the `top_k` largest logits (ties at the k-th kept too), or None
            to keep all (default None).
        seed: an integer for reproducible draws (`tf.random.stateless_categorical` with seed
            `[seed, t]` at step `t`), or None to draw with `tf.random.categorical`.
        The other arguments (`no_repeat_ngram_size`, `repetition_penalty` too): see
            `greedy_search`; the repetition control comes before temperature and top-k.

    Returns:
        The dict of `greedy_search`.

    Example:

    >>> def step(tokens, state):  # the same distribution at every step; 0 ends
    ...     return tf.math.log(tf.fill([tf.shape(tokens)[0], 4], 0.25)), state
    >>> a = sample(step, [1, 1, 1], tf.zeros([3]), end_token=0, max_length=8, seed=7)
    >>> b = sample(step, [1, 1, 1], tf.zeros([3]), end_token=0, max_length=8, seed=7)
    >>> bool(tf.reduce_all(a["tokens"] == b["tokens"]))
    True
    >>> a["tokens"].shape
    TensorShape([3, 8])
    """
    _check_common(end_token, max_length, min_length)
    control = _repetition_control(no_repeat_ngram_size, repetition_penalty)
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) or not temperature > 0:
        raise ValueError(f"Argument `temperature` must be a float > 0. Received: temperature={temperature!r}")
    if top_k is not None and not (_is_int(top_k) and top_k > 0):
        raise ValueError(f"Argument `top_k` must be None or a positive integer. Received: top_k={top_k!r}")
    if seed is not None and not _is_int(seed):
        raise ValueError(f"Argument `seed` must be None or an integer. Received: seed={seed!r}")

    def choose(logits, t):
        logits = logits / temperature
        if top_k is not None:
            k = tf.minimum(top_k, tf.shape(logits)[-1])
            kth = tf.math.top_k(logits, k=k).values[:, -1:]  # (B, 1)
            logits = tf.where(logits < kth, NEG_INF, logits)
        if seed is None:
            draws = tf.random.categorical(logits, 1, dtype=tf.int32)
        else:
            seeds = tf.stack([tf.constant(seed, tf.int64), tf.cast(t, tf.int64)])
            draws = tf.random.stateless_categorical(logits, 1, seed=seeds, dtype=tf.int32)
        return draws[:, 0], logits

    return _decode(step, start_tokens, state, choose, end_token, max_length, min_length, record, control)


def beam_search(
    step,
    start_tokens,
    state,
    *,
    end_token,
    max_length,
    beam_width=4,
    length_penalty=0.6,
    min_length=0,
    num_results=1,
    no_repeat_ngram_size=0,
    repetition_penalty=1.0,
):
    """Decode by keeping the `beam_width` best hypotheses of every row.

    Every row has `W = beam_width` slots, each holding a hypothesis that is alive (no end
    token yet) or finished, with its log-probability `a_w`. At the start only slot 0 is
    alive, with `a_0 = 0`; the others hold `a_w = -inf`, so the first step gives `W`
    distinct hypotheses. At step `t` (t tokens generated by the alive slots) every slot
    proposes candidates:

        alive w:     L[w, v] = a_w + log p(v | slot w)    for every token v, m = t + 1
        finished w:  L[w, end] = a_w, L[w, v] = -inf      for v != end, m frozen

    A finished slot's only candidate is itself, unchanged (same tokens, length and
    log-probability): finished hypotheses are frozen, never extended. Candidates are ranked
    by their normalized score `L[w, v] / lp(m)`, `m` counting the end token, and the `W`
    best of the `W V` candidates fill the slots of the next step (found as the best `W` of
    every slot's `min(W, V)` best, which is the same set; on equal scores the lower slot,
    then the larger logit, then the lower token id comes first). A chosen alive candidate
    whose token is `end_token` is finished. A slot holding `-inf` (a row with fewer than
    `W` hypotheses) counts as finished. The loop stops once every slot of every row is
    finished, or at `max_length`; the slots are then ranked by normalized score, an alive
    slot counting `m = max_length`.

    With `W = 1` this is `greedy_search`: the one slot takes the largest logit, so the
    tokens and lengths are greedy's and the score is greedy's divided by `lp(m)`.

    The state is kept as `(B W, ...)`, slot `w` of row `b` at row `b W + w`: the initial state
    is repeated `W` times per row, and gathered by parent slot at every step. Finished
    slots are fed `end_token`, and what the step returns for them is not used.

    Args:
        step: `step(tokens, state) -> (logits, state)`, see the module docstring.
        start_tokens: int `(B,)`, the first tokens fed to `step`.
        state: the initial state, a nest of tensors with first axis `B`.
        end_token: the end-of-sequence token id, a non-negative integer.
        max_length: the most tokens generated, a positive integer.
        beam_width: `W`, a positive integer (default 4).
        length_penalty: the exponent of `lp`, a float >= 0 (default 0.6).
        min_length: the end token is forbidden while fewer tokens than this have been
            generated, an integer in `[0, max_length]` (default 0).
        num_results: how many hypotheses to return per row, in `[1, beam_width]` (default 1).
        no_repeat_ngram_size, repetition_penalty: as in `greedy_search`, over each slot's
            own hypothesis.

    Returns:
        A dict, best hypothesis first, with `"tokens"` int32 `(B, num_results, max_length)`,
        `"lengths"` int32 `(B, num_results)` and `"scores"` float32 `(B, num_results)`, the
        normalized scores `log p(y) / lp(m)`. Should a row have fewer than `num_results`
        hypotheses (tiny vocabulary), the missing ones score `-inf`.

    Example:

    >>> def step(tokens, state):  # token 0 ends; prefers the token after the one fed
    ...     return 2.0 * tf.one_hot((tokens + 1) % 4, 4), state
    >>> out = beam_search(step, [1], tf.zeros([1]), end_token=0, max_length=4, num_results=2)
    >>> out["tokens"].numpy()
    array([[[2, 3, 0, 0],
            [0, 0, 0, 0]]], dtype=int32)
    >>> out["lengths"].numpy()
    array([[2, 0]], dtype=int32)

    Width 1 is greedy:

    >>> greedy = greedy_search(step, [1], tf.zeros([1]), end_token=0, max_length=4)
    >>> one = beam_search(step, [1], tf.zeros([1]), end_token=0, max_length=4, beam_width=1)
    >>> bool(tf.reduce_all(one["tokens"][:, 0] == greedy["tokens"]))
    True
    """
    _check_common(end_token, max_length, min_length)
    control = _repetition_control(no_repeat_ngram_size, repetition_penalty)
    if not (_is_int(beam_width) and beam_width > 0):
        raise ValueError(
            f"Argument `beam_width` must be a positive integer. Received: beam_width={beam_width!r}"
        )
    if not (_is_int(num_results) and 1 <= num_results <= beam_width):
        raise ValueError(
            f"Argument `num_results` must be an integer in [1, beam_width] = [1, {beam_width}]. "
            f"Received: num_results={num_results!r}"
        )
    if (
        isinstance(length_penalty, bool)
        or not isinstance(length_penalty, numbers.Real)
        or not length_penalty >= 0
    ):
        raise ValueError(
            f"Argument `length_penalty` must be a float >= 0. Received: length_penalty={length_penalty!r}"
        )
    width = beam_width

    def penalty(m):  # lp(m), m generated tokens counting the end token
        return ((5.0 + tf.cast(m, tf.float32)) / 6.0) ** float(length_penalty)

    # 1. Slot w of row b lives at row b W + w of the state.
    start_tokens = tf.cast(start_tokens, tf.int32)  # (B,)
    batch = tf.shape(start_tokens)[0]
    tokens = tf.repeat(start_tokens, width)  # (B W,)
    state = tf.nest.map_structure(lambda x: tf.repeat(tf.convert_to_tensor(x), width, axis=0), state)
    seqs = tf.fill([batch, width, max_length], end_token)  # (B, W, L), end_token from `lengths` on
    log_p = tf.tile(tf.constant([[0.0] + [NEG_INF] * (width - 1)]), [batch, 1])  # (B, W)
    lengths = tf.zeros([batch, width], tf.int32)  # (B, W), tokens before the end token
    finished = tf.zeros([batch, width], tf.bool)  # (B, W)

    def cond(t, tokens, state, seqs, log_p, lengths, finished):
        return (t < max_length) & ~tf.reduce_all(finished)

    def body(t, tokens, state, seqs, log_p, lengths, finished):
        logits, state = step(tokens, state)
        if control is not None:
            logits = control(logits, tf.reshape(seqs, [batch * width, max_length]), t)
        logits = _forbid_end(logits, end_token, t < min_length)  # (B W, V)
        vocab = tf.shape(logits)[-1]
        done = tf.reshape(finished, [-1, 1])  # (B W, 1)
        slot_log_p = tf.reshape(log_p, [-1, 1])  # (B W, 1)

        # 2. The candidates of every slot: an alive slot's continuations, a finished slot
        # itself as its end column.
        frozen = tf.where(tf.range(vocab) == end_token, slot_log_p, NEG_INF)  # (B W, V)
        candidates = tf.where(done, frozen, slot_log_p + tf.nn.log_softmax(logits))  # (B W, V)
        # Each slot's best k: an alive slot's by logit, greedy's choice, which orders them
        # as its candidates (the same shift for all) and keeps greedy's token on equal ones.
        k = tf.minimum(width, vocab)
        index = _top_k_indices(tf.where(done, frozen, logits), k)  # (B W, k)
        candidates = tf.gather(candidates, index, batch_dims=1)  # (B W, k)
        m = tf.where(done, tf.reshape(lengths, [-1, 1]) + 1, t + 1)  # (B W, 1)
        normalized = tf.reshape(candidates / penalty(m), [batch, width * k])

        # 3. The W best candidates of the row, by normalized score, fill its slots.
        best = _top_k_indices(normalized, width)  # (B, W), into the W k candidates
        parent = best // k
        tokens = tf.gather(tf.reshape(index, [batch, width * k]), best, batch_dims=1)  # (B, W)
        log_p = tf.gather(tf.reshape(candidates, [batch, width * k]), best, batch_dims=1)
        grows = ~tf.gather(finished, parent, batch_dims=1) & (tokens != end_token)  # (B, W)
        seqs = tf.gather(seqs, parent, batch_dims=1)
        seqs = tf.where(grows[:, :, None] & (tf.range(max_length) == t), tokens[:, :, None], seqs)
        lengths = tf.gather(lengths, parent, batch_dims=1) + tf.cast(grows, tf.int32)
        finished = ~grows | (log_p == NEG_INF)
        rows = tf.reshape(parent + width * tf.range(batch)[:, None], [-1])  # (B W,)
        state = tf.nest.map_structure(lambda x: tf.gather(x, rows), state)
        tokens = tf.reshape(tf.where(finished, end_token, tokens), [-1])
        return t + 1, tokens, state, seqs, log_p, lengths, finished

    loop = tf.while_loop(
        cond,
        body,
        (tf.constant(0), tokens, state, seqs, log_p, lengths, finished),
        maximum_iterations=max_length,
    )
    _, _, _, seqs, log_p, lengths, finished = loop

    # 4. All slots by normalized score; an alive slot ran max_length tokens, no end token.
    scores = log_p / penalty(lengths + tf.cast(finished, tf.int32))  # (B, W)
    scores, index = tf.math.top_k(scores, k=num_results)
    return {
        "tokens": tf.gather(seqs, index, batch_dims=1),
        "lengths": tf.gather(lengths, index, batch_dims=1),
        "scores": scores,
    }


def _decode(step, start_tokens, state, choose, end_token, max_length, min_length, record, control=None):
    """The loop of `greedy_search` and `sample`; `choose(logits, t) -> (tokens, logits)`;
    `control`: None, or `_repetition_control`'s function."""
    tokens = tf.cast(start_tokens, tf.int32)  # (B,)
    batch = tf.shape(tokens)[0]
    state = tf.nest.map_structure(tf.convert_to_tensor, state)
    trace = ()
    if record is not None:
        trace = tf.nest.map_structure(_time_array, record(state))
    loop_vars = (
        tf.constant(0),
        tokens,
        state,
        tf.zeros([batch], tf.bool),  # finished
        tf.zeros([batch], tf.int32),  # lengths
        tf.zeros([batch], tf.float32),  # scores
        tf.fill([batch, max_length], end_token),  # generated tokens, end_token from `t` on
        trace,
    )

    def cond(t, tokens, state, finished, lengths, scores, generated, trace):
        return (t < max_length) & ~tf.reduce_all(finished)

    def body(t, tokens, state, finished, lengths, scores, generated, trace):
        logits, state = step(tokens, state)
        if control is not None:
            logits = control(logits, generated, t)
        logits = _forbid_end(logits, end_token, t < min_length)  # (B, V)
        chosen, logits = choose(logits, t)
        log_prob = tf.gather(tf.nn.log_softmax(logits), chosen, batch_dims=1)  # (B,)
        # A finished row only pads with end_token and adds nothing to its score.
        scores += tf.where(finished, 0.0, log_prob)
        tokens = tf.where(finished, end_token, chosen)
        ended = tokens == end_token
        lengths += tf.cast(~ended, tf.int32)
        finished |= ended
        generated = tf.where(tf.range(max_length) == t, tokens[:, None], generated)
        if record is not None:
            trace = tf.nest.map_structure(lambda array, x: array.write(t, x), trace, record(state))
        return t + 1, tokens, state, finished, lengths, scores, generated, trace

    loop = tf.while_loop(cond, body, loop_vars, maximum_iterations=max_length)
    _, _, _, _, lengths, scores, generated, trace = loop
    outputs = {
        "tokens": generated,
        "lengths": lengths,
        "scores": scores,
    }
    if record is not None:
        outputs["trace"] = tf.nest.map_structure(lambda array: _stack_padded(array, max_length, 0), trace)
    return outputs


def check_repetition(no_repeat_ngram_size, repetition_penalty):
    """`(no_repeat_ngram_size, repetition_penalty)`, checked: an integer >= 0 (0: off) and a
    float > 0 (1: off); a ValueError naming the argument otherwise."""
    n, penalty = no_repeat_ngram_size, repetition_penalty
    if not (_is_int(n) and n >= 0):
        raise ValueError(
            "Argument `no_repeat_ngram_size` must be an integer >= 0 (0: off). "
            f"Received: no_repeat_ngram_size={n!r}"
        )
    if isinstance(penalty, bool) or not isinstance(penalty, numbers.Real) or not penalty > 0:
        raise ValueError(
            "Argument `repetition_penalty` must be a float > 0 (1: off). "
            f"Received: repetition_penalty={penalty!r}"
        )
    return int(n), float(penalty)


def _repetition_control(no_repeat_ngram_size, repetition_penalty):
    """None when both are off, else `control(logits, history, t) -> logits`: the repetition
    penalty and the no-repeat n-gram rule of the module docstring, for float logits `(N, V)`
    and the generated tokens `history` int32 `(N, L)`, of which positions `< t` hold `y_{<t}`."""
    n, penalty = check_repetition(no_repeat_ngram_size, repetition_penalty)
    if n == 0 and penalty == 1:
        return None

    def control(logits, history, t):
        logits = tf.cast(logits, tf.float32)
        if penalty != 1:
            seen = tf.where(tf.range(tf.shape(history)[1])[None, :] < t + tf.zeros_like(history))  # (K, 2)
            logits = tf.where(
                _mask(logits, seen[:, 0], tf.gather_nd(history, seen)),
                tf.where(logits > 0, logits / penalty, logits * penalty),
                logits,
            )
        if n > 0:
            windows = tf.signal.frame(history, n, 1, axis=1)  # (N, J, n): window j is y_j .. y_{j+n-1}
            last = tf.shape(history)[1] - 1
            prefix = tf.gather(history, tf.clip_by_value(t - n + 1 + tf.range(n - 1), 0, last), axis=1)
            same = tf.reduce_all(windows[:, :, : n - 1] == prefix[:, None, :], axis=2)  # (N, J)
            complete = tf.range(tf.shape(windows)[1]) + n - 1 < t  # window j ended before step t
            banned = tf.where(same & complete[None, :] & (t >= n - 1))  # (K, 2): row, window
            logits = tf.where(
                _mask(logits, banned[:, 0], tf.gather_nd(windows[:, :, n - 1], banned)), NEG_INF, logits
            )
        return logits

    return control


def _mask(logits, rows, tokens):
    """A bool mask shaped like `logits` `(N, V)`, True at every `(rows[k], tokens[k])`."""
    pairs = tf.stack([tf.cast(rows, tf.int64), tf.cast(tokens, tf.int64)], axis=1)
    hits = tf.scatter_nd(pairs, tf.ones([tf.shape(pairs)[0]], tf.int32), tf.shape(logits, tf.int64))
    return hits > 0


def _forbid_end(logits, end_token, forbid):
    """Float32 logits `(N, V)`, with the end token's at -inf where the scalar `forbid` holds."""
    logits = tf.cast(logits, tf.float32)
    is_end = tf.range(tf.shape(logits)[-1]) == end_token  # (V,)
    return tf.where(forbid & is_end, NEG_INF, logits)


def _top_k_indices(x, k):
    """The indices of the `k` largest of every row of `x` `(N, M)`, the lower index first on ties."""
    return tf.math.top_k(x, k=k).indices


def _time_array(x):
    """A growing `TensorArray` of steps shaped like `x` `(B, ...)`, any batch size."""
    element_shape = tf.TensorShape([None]).concatenate(x.shape[1:])
    return tf.TensorArray(x.dtype, size=0, dynamic_size=True, element_shape=element_shape)


def _stack_padded(array, max_length, value):
    """Steps `(t, B, ...)` -> `(B, max_length, ...)`, the steps from `t` on filled with `value`."""
    x = array.stack()  # (t, B, ...)
    rank = x.shape.rank
    x = tf.pad(x, [[0, max_length - tf.shape(x)[0]]] + [[0, 0]] * (rank - 1), constant_values=value)
    x = tf.transpose(x, [1, 0] + list(range(2, rank)))
    x.set_shape([None, max_length] + [None] * (rank - 2))
    return x


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_common(end_token, max_length, min_length):
    if not (_is_int(end_token) and end_token >= 0):
        raise ValueError(
            f"Argument `end_token` must be a non-negative integer. Received: end_token={end_token!r}"
        )
    if not (_is_int(max_length) and max_length > 0):
        raise ValueError(
            f"Argument `max_length` must be a positive integer. Received: max_length={max_length!r}"
        )
    if not (_is_int(min_length) and 0 <= min_length <= max_length):
        raise ValueError(
            f"Argument `min_length` must be an integer in [0, max_length] = [0, {max_length}]. "
            f"Received: min_length={min_length!r}"
        )
