"""The lectures' vanishing/exploding-gradient story, measurable on any recurrent model.

- `spectral_radius(cell)`: the largest |eigenvalue| of each gate block of `U` (the
  recurrent kernel), and `effective_spectral_radius(cell)` of a leaky cell's linearised
  update `(1 - a) I + a U`;
- `state_gradient_norms(layer, inputs)`: ||dh_T / dh_t|| for every t, how much of the
  last state's sensitivity survives back to step t (the product of Jacobians of BPTT);
- `input_gradient_norms(model, x, y)`: ||dL / dx_t|| per step, the gradient a loss sends
  to each input step;
- `gate_saturation(layer, inputs)`: the fraction of each gate's units pinned near the ends
  of their range, where the gate's derivative, and the gradient through it, is about 0;
- `GradientDiagnostics`: a `model.fit` callback that logs these after each epoch and warns
  when gradients vanish or explode; `plot_norms` draws them.

These functions run the cell step by step in eager mode: they are measurements, not part
of training.
"""

import warnings

import keras
import numpy as np
import tensorflow as tf
from keras import ops
from matplotlib.figure import Figure

__all__ = [
    "GradientDiagnostics",
    "effective_spectral_radius",
    "gate_saturation",
    "input_gradient_norms",
    "plot_norms",
    "spectral_radius",
    "state_gradient_norms",
]

GATES = {1: ["h"], 3: ["z", "r", "h"], 4: ["i", "f", "c", "o"]}
FAR = 1e4  # a pre-activation deep in the flat tails of every squashing nonlinearity
REPLICA_ROWS = 4096  # rows of the replicated batch per backward pass of state_gradient_norms


def _cell(layer_or_cell):
    cell = getattr(layer_or_cell, "cell", layer_or_cell)
    cell = getattr(cell, "forward_layer", cell)  # Bidirectional: the forward direction
    cell = getattr(cell, "cell", cell)
    if not hasattr(cell, "recurrent_kernel"):
        raise ValueError(
            "Argument `layer_or_cell` must be a built recurrent cell with a `recurrent_kernel`, or a "
            f"layer wrapping one (Recurrent, keras.layers.RNN, Bidirectional). Received: {layer_or_cell!r}"
        )
    return cell


def _radius(matrix):
    return float(np.max(np.abs(np.linalg.eigvals(matrix))))


def spectral_radius(layer_or_cell):
    """`{gate: largest |eigenvalue| of U's block}`; `{"h": rho}` for Elman, leaky and echo-state cells.

    Example:

    >>> from rnnkit.layers import LSTMCell, SpectralRadius
    >>> cell = LSTMCell(8, recurrent_initializer=SpectralRadius(1.2))
    >>> cell.build((None, 3))
    >>> {gate: round(rho, 3) for gate, rho in spectral_radius(cell).items()}
    {'i': 1.2, 'f': 1.2, 'c': 1.2, 'o': 1.2}
    """
    cell = _cell(layer_or_cell)
    kernel = keras.ops.convert_to_numpy(cell.recurrent_kernel)
    units = kernel.shape[0]
    blocks = kernel.shape[1] // units
    names = GATES.get(blocks, [str(i) for i in range(blocks)])
    return {name: _radius(kernel[:, i * units : (i + 1) * units]) for i, name in enumerate(names)}


def effective_spectral_radius(layer_or_cell):
    """The spectral radius of `(1 - a) I + a U`, the leaky update's linear part (a = leak rate).

    A leak slows forgetting: with `a < 1` the effective radius sits between 1 - a and 1
    for any `U` of radius below 1 (Jaeger et al., 2007).
    """
    cell = _cell(layer_or_cell)
    kernel = keras.ops.convert_to_numpy(cell.recurrent_kernel)
    leak = float(getattr(cell, "leak_rate", 1.0))
    return _radius((1.0 - leak) * np.eye(kernel.shape[0]) + leak * kernel)


def _states_through_time(cell, inputs, tape):
    """Steps `cell` over `inputs` (B, T, F) eagerly; returns the watched h_t of every step."""
    batch = inputs.shape[0]
    states = cell.get_initial_state(batch_size=batch)
    states = list(states) if isinstance(states, (list, tuple)) else [states]
    hidden = []
    for t in range(inputs.shape[1]):
        for state in states:
            tape.watch(state)
        hidden.append(states[0])
        _, states = cell(inputs[:, t], states)
        states = list(states) if isinstance(states, (list, tuple)) else [states]
    hidden.append(states[0])
    return hidden  # h_0 .. h_T


def state_gradient_norms(layer_or_cell, inputs):
    """`||dh_T / dh_t||` for t = 0..T-1, the Frobenius norm averaged over the batch, shape (T,).

    `inputs` is `(batch, T, features)`, as the layer reads it (after any embedding). Entry
    t says how strongly the state at step t still moves the last state: it shrinks
    geometrically when gradients vanish and grows when they explode.
    """
    cell = _cell(layer_or_cell)
    inputs = tf.convert_to_tensor(inputs, dtype=cell.compute_dtype)
    if inputs.shape.rank != 3:
        raise ValueError(f"Argument `inputs` must be (batch, time, features). Received shape: {inputs.shape}")
    batch, steps = inputs.shape[0], inputs.shape[1]
    states = cell.get_initial_state(batch_size=1)
    units = (states[0] if isinstance(states, (list, tuple)) else states).shape[-1]
    eye = tf.eye(units, dtype=inputs.dtype)
    chunk = max(1, REPLICA_ROWS // batch)  # units per backward pass
    squares = np.zeros((steps, batch))  # ||dh_T/dh_t||^2 per sample, summed over the rows k
    # One backward pass gives rows of every Jacobian at once: the batch runs once per unit,
    # and replica j (rows j B .. j B + B - 1) sends e_k, k = first + j, back from h_T.
    for first in range(0, units, chunk):
        count = min(chunk, units - first)
        with tf.GradientTape() as tape:
            hidden = _states_through_time(cell, tf.tile(inputs, [count, 1, 1]), tape)
        seed = tf.repeat(eye[first : first + count], batch, axis=0)  # (count B, units)
        rows = tape.gradient(hidden[-1], hidden[:-1], output_gradients=seed)  # e_k dh_T/dh_t, each t
        for t, row in enumerate(rows):
            if row is not None:  # None: h_t does not reach h_T
                row = tf.reshape(row, [count, batch, units])  # [j, b] = row k of sample b's Jacobian
                squares[t] += tf.reduce_sum(tf.square(row), axis=[0, 2]).numpy()
    return np.sqrt(squares).mean(axis=1)


def input_gradient_norms(model, x, y, loss=None):
    """`||dL / dx_t||` per step t, averaged over the batch: shape (T,).

    `model` maps `x` `(batch, T, ...)` (float inputs) to predictions; `loss` defaults to
    the model's compiled loss.
    """
    x = tf.convert_to_tensor(x)
    if not x.dtype.is_floating:
        raise ValueError("Argument `x` must be float inputs (for token ids, measure after the embedding).")
    loss = loss or model.loss
    loss = keras.losses.get(loss) if isinstance(loss, str) else loss
    with tf.GradientTape() as tape:
        tape.watch(x)
        value = loss(y, model(x, training=False))
    gradient = tape.gradient(value, x)
    squares = tf.reshape(tf.square(gradient), [gradient.shape[0], gradient.shape[1], -1])
    return tf.reduce_mean(tf.sqrt(tf.reduce_sum(squares, axis=-1)), axis=0).numpy()


def _gate_ranges(cell):
    """`{gate: (low, high)}` of the gates that saturate, read off the cell's own `gate_activations`.

    With `h_{t-1} = 0` a gate sees only the pre-activation we feed it: at -/+FAR it sits at
    the ends of its nonlinearity's range. A gate whose value still moves between FAR and
    2 FAR (linear, relu) has no end there and cannot saturate.
    """
    states = cell.get_initial_state(batch_size=1)

    def at(value):
        projected = ops.full((1, cell.gates * cell.units), value, dtype=cell.compute_dtype)
        gates = cell.gate_activations(projected, states)
        return {name: ops.convert_to_numpy(gate) for name, gate in gates.items()}

    low, high, lower, higher = at(-FAR), at(FAR), at(-2 * FAR), at(2 * FAR)
    return {
        name: (float(np.min(low[name])), float(np.max(high[name])))
        for name in low
        if np.allclose(low[name], lower[name]) and np.allclose(high[name], higher[name])
    }


def _check_threshold(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 0.5:
        raise ValueError(f"Argument `{name}` must be a float in (0, 0.5). Received: {name}={value!r}")
    return float(value)


def gate_saturation(layer_or_cell, inputs, threshold=0.05, per_step=False):
    """`{gate: fraction of units saturated}` over a batch of sequences, each in [0, 1].

    A unit is saturated when its gate value lies within `threshold` of an end of the
    gate's range: a sigmoid gate below `threshold` or above `1 - threshold`, a tanh below
    `-1 + threshold` or above `1 - threshold`. There the derivative is about 0, so the
    gradient through that gate vanishes (a saturated forget gate near 1 is the LSTM
    remembering; near 0, forgetting at every step).

    Gates as in `spectral_radius`: LSTM `i, f, c, o` (`c` the candidate
    `tanh(x W_c + h U_c + b_c)`), GRU `z, r, h` (`h` the candidate), Elman, leaky and
    echo-state cells `h` (the tanh before any leak). Gates with an unbounded nonlinearity
    (linear, relu) cannot saturate and are left out.

    Args:
        layer_or_cell: a built rnnkit cell, or a layer wrapping one.
        inputs: `(batch, T, features)`, as the layer reads them (after any embedding).
        threshold: distance from an end of the range that counts as saturated, in (0, 0.5)
            (default 0.05).
        per_step: return, for every gate, the fraction at each step `t`, shape (T,),
            instead of the mean over steps (default False).

    Example:

    >>> from rnnkit.layers import LSTMCell
    >>> cell = LSTMCell(4, kernel_initializer="zeros", recurrent_initializer="zeros")
    >>> cell.build((None, 3))
    >>> gate_saturation(cell, np.ones((2, 5, 3), "float32"))  # gates at sigmoid(b) and tanh(b), b = 0 or 1
    {'i': 0.0, 'f': 0.0, 'c': 0.0, 'o': 0.0}
    """
    cell = _cell(layer_or_cell)
    if not hasattr(cell, "gate_activations"):
        raise ValueError(
            "Argument `layer_or_cell` must be an rnnkit cell (with `gate_activations`), or a layer "
            f"wrapping one. Received: {layer_or_cell!r}"
        )
    threshold = _check_threshold("threshold", threshold)
    inputs = tf.convert_to_tensor(inputs, dtype=cell.compute_dtype)
    if inputs.shape.rank != 3:
        raise ValueError(f"Argument `inputs` must be (batch, time, features). Received shape: {inputs.shape}")
    ranges = _gate_ranges(cell)
    projected = cell.project_inputs(inputs)  # (B, T, gates * units)
    states = cell.get_initial_state(batch_size=inputs.shape[0])
    fractions = {name: [] for name in ranges}
    for t in range(inputs.shape[1]):
        gates = cell.gate_activations(projected[:, t], states)  # the step's own gate values
        for name, (low, high) in ranges.items():
            value = ops.convert_to_numpy(gates[name])  # (B, units)
            fractions[name].append(float(np.mean((value < low + threshold) | (value > high - threshold))))
        _, states = cell.recurrent_step(projected[:, t], states)
    if per_step:
        return {name: np.array(values) for name, values in fractions.items()}
    return {name: float(np.mean(values)) for name, values in fractions.items()}


class GradientDiagnostics(keras.callbacks.Callback):
    """Logs ||dh_T/dh_0||, the spectral radius, gate saturation each epoch; warns on vanish/explode.

    Args:
        layer: the recurrent layer to watch (its cell must be built by the model).
        probe: inputs of that layer `(batch, T, features)`, a fixed batch to measure on.
        vanish: ratio `||dh_T/dh_0||` below which a `RuntimeWarning` says gradients vanish.
        explode: ratio above which it says they explode.
        saturation: the `threshold` of `gate_saturation` (default 0.05).

    After training, `history` holds one dict per epoch and `norms` the last
    `state_gradient_norms` curve; `logs` get `state_gradient_first`, `spectral_radius` and,
    for an rnnkit cell, `gate_saturation_<gate>` for each gate (`gate_saturation_f`, ...).
    """

    def __init__(self, layer, probe, vanish=1e-4, explode=1e4, saturation=0.05):
        super().__init__()
        self.layer, self.probe = layer, probe
        self.vanish, self.explode = float(vanish), float(explode)
        self.saturation = _check_threshold("saturation", saturation)
        self.history, self.norms = [], None

    def on_epoch_end(self, epoch, logs=None):
        self.norms = state_gradient_norms(self.layer, self.probe)
        record = {
            "epoch": epoch,
            "state_gradient_first": float(self.norms[0]),
            "spectral_radius": max(spectral_radius(self.layer).values()),
        }
        if hasattr(_cell(self.layer), "gate_activations"):  # Keras's own cells do not expose their gates
            saturation = gate_saturation(self.layer, self.probe, threshold=self.saturation)
            record.update({f"gate_saturation_{name}": value for name, value in saturation.items()})
        self.history.append(record)
        if logs is not None:
            logs.update({k: v for k, v in record.items() if k != "epoch"})
        first = record["state_gradient_first"]
        if first < self.vanish:
            warnings.warn(
                f"epoch {epoch + 1}: ||dh_T/dh_0|| = {first:.2e} < {self.vanish:g}: "
                "gradients vanish over the sequence (try a gated cell, a larger spectral radius, or shorter "
                "dependencies).",
                RuntimeWarning,
                stacklevel=2,
            )
        elif first > self.explode:
            warnings.warn(
                f"epoch {epoch + 1}: ||dh_T/dh_0|| = {first:.2e} > {self.explode:g}: "
                "gradients explode (try gradient clipping, e.g. clipnorm=1.0, or a smaller spectral radius).",
                RuntimeWarning,
                stacklevel=2,
            )


def plot_norms(curves, title="||dh_T / dh_t||", log=True):
    """One line per named curve `{name: values over t}`, on a log scale by default."""
    figure = Figure(figsize=(6, 3.5))
    ax = figure.subplots()
    for name, values in curves.items():
        ax.plot(np.arange(len(values)), values, label=name)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("t")
    ax.set_title(title)
    ax.legend()
    figure.tight_layout()
    return figure
