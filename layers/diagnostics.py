"""The lectures' vanishing/exploding-gradient story, measurable on any recurrent model.

- `spectral_radius(cell)`: the largest |eigenvalue| of each gate block of `U` (the
  recurrent kernel), and `effective_spectral_radius(cell)` of a leaky cell's linearised
  update `(1 - a) I + a U`;
- `state_gradient_norms(layer, inputs)`: ||dh_T / dh_t|| for every t, how much of the
  last state's sensitivity survives back to step t (the product of Jacobians of BPTT);
- `input_gradient_norms(model, x, y)`: ||dL / dx_t|| per step, the gradient a loss sends
  to each input step;
- `GradientDiagnostics`: a `model.fit` callback that logs both after each epoch and warns
  when gradients vanish or explode; `plot_norms` draws them.

These functions run the cell step by step in eager mode: they are measurements, not part
of training.
"""

import warnings

import keras
import numpy as np
import tensorflow as tf
from matplotlib.figure import Figure

__all__ = [
    "GradientDiagnostics",
    "effective_spectral_radius",
    "input_gradient_norms",
    "plot_norms",
    "spectral_radius",
    "state_gradient_norms",
]

GATES = {1: ["h"], 3: ["z", "r", "h"], 4: ["i", "f", "c", "o"]}


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
    with tf.GradientTape(persistent=True) as tape:
        hidden = _states_through_time(cell, inputs, tape)
    last = hidden[-1]
    norms = []
    for h in hidden[:-1]:
        jacobian = tape.batch_jacobian(last, h)  # (B, units, units)
        norms.append(float(tf.reduce_mean(tf.norm(jacobian, axis=(1, 2)))) if jacobian is not None else 0.0)
    del tape
    return np.array(norms)


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


class GradientDiagnostics(keras.callbacks.Callback):
    """Logs ||dh_T/dh_0||, the spectral radius and ||dL/dx_t|| each epoch; warns on vanish/explode.

    Args:
        layer: the recurrent layer to watch (its cell must be built by the model).
        probe: inputs of that layer `(batch, T, features)`, a fixed batch to measure on.
        vanish: ratio `||dh_T/dh_0||` below which a `RuntimeWarning` says gradients vanish.
        explode: ratio above which it says they explode.

    After training, `history` holds one dict per epoch and `norms` the last
    `state_gradient_norms` curve; `logs` get `state_gradient_first` and `spectral_radius`.
    """

    def __init__(self, layer, probe, vanish=1e-4, explode=1e4):
        super().__init__()
        self.layer, self.probe = layer, probe
        self.vanish, self.explode = float(vanish), float(explode)
        self.history, self.norms = [], None

    def on_epoch_end(self, epoch, logs=None):
        self.norms = state_gradient_norms(self.layer, self.probe)
        record = {
            "epoch": epoch,
            "state_gradient_first": float(self.norms[0]),
            "spectral_radius": max(spectral_radius(self.layer).values()),
        }
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
