"""Gradients against the lecture's math, computed in NumPy.

- Elman cell: the lecture's backpropagation through time, written out by hand
  (output o_t = h_t V + c, softmax, cross-entropy summed over time; gradients for
  V, c, W, U, b summed over time).
- LSTM and GRU: NumPy forward passes of the docstring equations, differentiated by
  central finite differences in float64.

Notation (the lecture writes the recurrent matrix as W and the input matrix as U; we
follow Keras): W = kernel (input-to-hidden), U = recurrent_kernel (hidden-to-hidden).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from rnnkit import layers as rk

B, T, F, H, K = 3, 6, 4, 5, 3  # batch, time, features, units, classes


def softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def elman_bptt(x, y, W, U, b, V, c):
    """sum_t CE(softmax(h_t V + c), y_t) and its gradients; h_t = tanh(x_t W + h_{t-1} U + b)."""
    h = np.zeros((B, T + 1, H))  # h[:, 0] = h_0 = 0
    for t in range(T):
        h[:, t + 1] = np.tanh(x[:, t] @ W + h[:, t] @ U + b)
    y_hat = softmax(h[:, 1:] @ V + c)  # (B, T, K)
    onehot = np.eye(K)[y]
    loss = -np.sum(onehot * np.log(y_hat))

    d_o = y_hat - onehot  # (grad_o L)_i = y_hat_i - 1_{i = y_t}
    grads = {"V": np.einsum("bth,btk->hk", h[:, 1:], d_o), "c": d_o.sum((0, 1))}
    grads.update(W=np.zeros_like(W), U=np.zeros_like(U), b=np.zeros_like(b))
    d_h_next = np.zeros((B, H))  # gradient arriving at h_t from step t+1
    for t in reversed(range(T)):
        d_h = d_o[:, t] @ V.T + d_h_next  # two descendants: o_t and h_{t+1}
        d_a = d_h * (1.0 - h[:, t + 1] ** 2)  # through tanh: diag(1 - h_t^2)
        grads["W"] += x[:, t].T @ d_a
        grads["U"] += h[:, t].T @ d_a
        grads["b"] += d_a.sum(0)
        d_h_next = d_a @ U.T
    return loss, grads


@pytest.mark.parametrize("wrapper", [keras.layers.RNN, rk.Recurrent], ids=["keras.RNN", "Recurrent"])
def test_elman_gradients_match_lecture_bptt(wrapper):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(B, T, F))
    y = rng.integers(0, K, size=(B, T))
    rnn = wrapper(
        rk.SimpleRNNCell(H, bias_initializer="random_normal", dtype="float64"),
        return_sequences=True,
        dtype="float64",
    )
    readout = keras.layers.Dense(K, bias_initializer="random_normal", dtype="float64")
    rnn.build(x.shape)
    readout.build((B, T, H))
    W, U, b = (w.numpy() for w in rnn.weights)
    V, c = (w.numpy() for w in readout.weights)

    with tf.GradientTape() as tape:
        logits = readout(rnn(x))
        loss = tf.reduce_sum(keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))
    actual = tape.gradient(loss, [*rnn.weights, *readout.weights])

    expected_loss, expected = elman_bptt(x, y, W, U, b, V, c)
    np.testing.assert_allclose(loss.numpy(), expected_loss, rtol=1e-10)
    for name, grad in zip("WUbVc", actual, strict=True):
        np.testing.assert_allclose(grad.numpy(), expected[name], rtol=1e-8, atol=1e-10, err_msg=name)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def lstm_forward(x, W, U, b):
    h, c = np.zeros((B, H)), np.zeros((B, H))
    outputs = []
    for t in range(T):
        z_i, z_f, z_c, z_o = np.split(x[:, t] @ W + h @ U + b, 4, axis=-1)
        i, f, o = sigmoid(z_i), sigmoid(z_f), sigmoid(z_o)
        c = f * c + i * np.tanh(z_c)
        h = o * np.tanh(c)
        outputs.append(h)
    return np.stack(outputs, 1)


def gru_forward(x, W, U, b):
    """reset_after=True: b has rows [input bias, recurrent bias]."""
    h = np.zeros((B, H))
    outputs = []
    for t in range(T):
        x_z, x_r, x_h = np.split(x[:, t] @ W + b[0], 3, axis=-1)
        h_z, h_r, h_h = np.split(h @ U + b[1], 3, axis=-1)
        z, r = sigmoid(x_z + h_z), sigmoid(x_r + h_r)
        g = np.tanh(x_h + r * h_h)
        h = z * h + (1.0 - z) * g
        outputs.append(h)
    return np.stack(outputs, 1)


def leaky_forward(x, W, U, b, a=0.3):
    h = np.zeros((B, H))
    outputs = []
    for t in range(T):
        h = (1.0 - a) * h + a * np.tanh(x[:, t] @ W + h @ U + b)
        outputs.append(h)
    return np.stack(outputs, 1)


def finite_difference(f, weights, eps=1e-6):
    grads = []
    for w in weights:
        g = np.zeros_like(w)
        for index in np.ndindex(w.shape):
            saved = w[index]
            w[index] = saved + eps
            up = f()
            w[index] = saved - eps
            down = f()
            w[index] = saved
            g[index] = (up - down) / (2 * eps)
        grads.append(g)
    return grads


FORWARDS = {
    "lstm": (
        lambda: rk.LSTMCell(H, bias_initializer="random_normal", dtype="float64"),
        lstm_forward,
    ),
    "gru": (lambda: rk.GRUCell(H, bias_initializer="random_normal", dtype="float64"), gru_forward),
    "leaky": (
        lambda: rk.LeakyRNNCell(H, leak_rate=0.3, bias_initializer="random_normal", dtype="float64"),
        leaky_forward,
    ),
}


@pytest.mark.parametrize("wrapper", [keras.layers.RNN, rk.Recurrent], ids=["keras.RNN", "Recurrent"])
@pytest.mark.parametrize("cell", FORWARDS)
def test_gated_cells_against_numpy_and_finite_differences(cell, wrapper):
    make_cell, forward = FORWARDS[cell]
    rng = np.random.default_rng(1)
    x = rng.normal(size=(B, T, F))
    target = rng.normal(size=(B, T, H))
    layer = wrapper(make_cell(), return_sequences=True, dtype="float64")
    layer.build(x.shape)
    weights = [w.numpy() for w in layer.weights]

    np.testing.assert_allclose(layer(x).numpy(), forward(x, *weights), rtol=1e-10, atol=1e-12)

    def numpy_loss():
        return 0.5 * np.sum((forward(x, *weights) - target) ** 2)

    with tf.GradientTape() as tape:
        loss = 0.5 * tf.reduce_sum((layer(x) - target) ** 2)
    actual = tape.gradient(loss, layer.weights)
    for grad, expected, weight in zip(
        actual, finite_difference(numpy_loss, weights), layer.weights, strict=True
    ):
        np.testing.assert_allclose(grad.numpy(), expected, rtol=1e-5, atol=1e-7, err_msg=weight.name)
