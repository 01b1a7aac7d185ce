"""Reservoir computing done the lectures' way: a fixed reservoir, a readout in closed form.

An echo-state network (Jaeger, 2001) trains no recurrent weight. Its reservoir
(`EchoStateCell`) maps an input sequence to states `h_t`; after a washout, in which the
states forget their arbitrary start, a linear readout is fitted in closed form by ridge
regression:

    X = [h_t ; 1] for t > washout (rows),  Y = targets
    W_out = (X^T X + lambda I)^-1 X^T Y     (the bias column is not penalised)

- `reservoir_states(cell, inputs, washout)`: the states, `(batch, T - washout, units)`;
- `fit_readout(cell, inputs, targets, washout, ridge)`: a `keras.Model` (reservoir +
  `Dense` readout holding `W_out`) that predicts the target at every step, ready for
  `predict`, `.keras` files and `model.export`;
- `memory_capacity(cell, ...)`: Jaeger's short-term memory capacity
  `MC = sum_k r^2(u_{t-k}, y_k(t))`, how many past inputs linear readouts can recall from
  the state; it is at most the number of units.
"""

import keras
import numpy as np

from .recurrent import Recurrent

__all__ = ["fit_readout", "memory_capacity", "reservoir_states"]


def _check(inputs, washout):
    inputs = np.asarray(inputs, dtype="float32")
    if inputs.ndim == 2:
        inputs = inputs[None]  # one sequence
    if inputs.ndim != 3:
        raise ValueError(
            f"Argument `inputs` must be (batch, time, features) or (time, features). Received: {inputs.shape}"
        )
    if isinstance(washout, bool) or not isinstance(washout, int) or not 0 <= washout < inputs.shape[1]:
        raise ValueError(
            f"Argument `washout` must be an integer in [0, {inputs.shape[1]}) (the sequence length). "
            f"Received: washout={washout!r}"
        )
    return inputs


def reservoir_states(cell, inputs, washout=0):
    """The reservoir's states after `washout` steps: `(batch, T - washout, units)`."""
    inputs = _check(inputs, washout)
    states = Recurrent(cell, return_sequences=True)(inputs)
    return keras.ops.convert_to_numpy(states)[:, washout:]


def fit_readout(cell, inputs, targets, washout=100, ridge=1e-6):
    """A model `inputs -> reservoir -> Dense` whose readout is the ridge solution above.

    Args:
        cell: the reservoir, e.g. `EchoStateCell(300, spectral_radius=0.9, seed=0)`.
        inputs: `(batch, T, features)` or `(T, features)`.
        targets: the value to predict at every step: `(batch, T, outputs)`, `(batch, T)`,
            or for one sequence `(T, outputs)` or `(T,)`.
        washout: first steps left out of the fit.
        ridge: `lambda`, the penalty on the readout's weights (not its bias).

    Returns:
        A `keras.Model` mapping `(batch, T, features)` to `(batch, T, outputs)`.
    """
    inputs = _check(inputs, washout)
    targets = np.asarray(targets, dtype="float64")
    if targets.ndim == 1:  # (T,): one sequence, one output
        targets = targets[None, :, None]
    elif targets.ndim == 2:  # (T, outputs) for one sequence, else (batch, T)
        targets = targets[None] if inputs.shape[0] == 1 else targets[:, :, None]
    if targets.shape[:2] != inputs.shape[:2]:
        raise ValueError(
            f"Argument `targets` must have the inputs' batch and time axes {inputs.shape[:2]}. "
            f"Received shape: {targets.shape}"
        )
    if isinstance(ridge, bool) or not isinstance(ridge, (int, float)) or ridge < 0:
        raise ValueError(f"Argument `ridge` must be a float >= 0. Received: ridge={ridge!r}")
    sequence = keras.Input((None, inputs.shape[-1]))
    reservoir = Recurrent(cell, return_sequences=True, name="reservoir")
    readout = keras.layers.Dense(targets.shape[-1], name="readout")
    model = keras.Model(sequence, readout(reservoir(sequence)), name="echo_state_network")
    states = keras.ops.convert_to_numpy(reservoir(inputs))[:, washout:].reshape(-1, cell.units)
    x = np.hstack([states.astype("float64"), np.ones((len(states), 1))])
    y = targets[:, washout:].reshape(-1, targets.shape[-1])
    penalty = ridge * np.eye(x.shape[1])
    penalty[-1, -1] = 0.0  # the bias is not penalised
    w_out = np.linalg.solve(x.T @ x + penalty, x.T @ y)
    readout.set_weights([w_out[:-1].astype("float32"), w_out[-1].astype("float32")])
    return model


def memory_capacity(cell, steps=2000, max_delay=None, washout=200, ridge=1e-8, seed=0):
    """Jaeger's short-term memory capacity of a reservoir with one input.

    Drives the reservoir with i.i.d. `Uniform(-0.5, 0.5)` inputs `u_t`, fits one linear
    readout per delay k = 1..max_delay to recall `u_{t-k}`, and sums the squared
    correlations between recall and truth. Returns `(MC, r2 per delay)`.
    """
    max_delay = max_delay or 2 * cell.units
    washout = max(washout, max_delay)  # every delayed input u_{t-k} exists
    u = np.random.default_rng(seed).uniform(-0.5, 0.5, size=steps).astype("float32")
    states = reservoir_states(cell, u[None, :, None], washout)[0].astype(
        "float64"
    )  # (steps - washout, units)
    x = np.hstack([states, np.ones((len(states), 1))])
    t = np.arange(washout, steps)
    r2 = []
    for k in range(1, max_delay + 1):
        y = u[t - k]
        penalty = ridge * np.eye(x.shape[1])
        recall = x @ np.linalg.solve(x.T @ x + penalty, x.T @ y)
        r2.append(np.corrcoef(recall, y)[0, 1] ** 2)
    r2 = np.array(r2)
    return float(r2.sum()), r2
