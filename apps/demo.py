"""`rnnkit demo`: every pipeline end to end on its embedded data.

Each part trains, evaluates, exports a SavedModel, reloads it with TensorFlow alone and
predicts with it:

1. the cells on the adding problem (below);
2. tweet sentiment on the generated tweets (`rnnkit.apps.sentiment`);
3. forecasting of a generated hourly series (`rnnkit.apps.forecasting`);
4. translation of generated sentence pairs with attention and beam search
   (`rnnkit.apps.translation`);
5. captions for generated scenes of coloured shapes (`rnnkit.apps.captioning`);
6. a character language model of the standard library's docstrings, trained with
   truncated BPTT, that writes text (`rnnkit.apps.language_model`).

The adding problem (Hochreiter and Schmidhuber, 1997), the classic test of
memory in recurrent networks: each step carries a random value and a marker; exactly two
steps are marked, and the target is the sum of their two values. A model must remember
the first marked value until it sees the second. Predicting the mean, 1.0, scores
MSE 1/6 = 0.167; a network that solves the task scores near 0.
"""

import json
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf  # the exports are reloaded with plain TensorFlow, as a server would do it

from rnnkit.layers import Recurrent, get_cell

from .base import Pipeline
from .cli import COMMANDS, build_parser
from .export import check_writable, export_saved_model

__all__ = ["PARTS", "adding_problem", "run_adding_demo", "run_demo", "run_part"]

BASELINE_MSE = 1.0 / 6.0  # variance of U(0,1) + U(0,1): the score of always predicting 1.0


def adding_problem(samples, steps, seed=0):
    """`(x, y)`: `x` of shape `(samples, steps, 2)` (value, marker), `y` of shape `(samples, 1)`.

    Example:

    >>> x, y = adding_problem(2, 10, seed=0)
    >>> x.shape, y.shape, x[..., 1].sum(axis=1).tolist()
    ((2, 10, 2), (2, 1), [2.0, 2.0])
    """
    rng = np.random.default_rng(seed)
    values = rng.uniform(0.0, 1.0, size=(samples, steps))
    markers = np.zeros((samples, steps))
    first = rng.integers(0, steps // 2, size=samples)  # one mark in each half
    second = rng.integers(steps // 2, steps, size=samples)
    markers[np.arange(samples), first] = 1.0
    markers[np.arange(samples), second] = 1.0
    x = np.stack([values, markers], axis=-1).astype("float32")
    y = (values * markers).sum(axis=1, keepdims=True).astype("float32")
    return x, y


def build_model(cell="gru", units=32, steps=None):
    inputs = keras.Input((steps, 2), name="sequence")
    hidden = Recurrent(get_cell(cell, units), name="recurrent")(inputs)
    outputs = keras.layers.Dense(1, name="sum")(hidden)
    model = keras.Model(inputs, outputs, name=f"adding_{cell}")
    model.compile(optimizer=keras.optimizers.Adam(1e-2, clipnorm=1.0), loss="mse")
    return model


def run_adding_demo(
    out="runs/demo/adding",
    cell="gru",
    units=32,
    steps=20,
    samples=4000,
    epochs=12,
    overwrite=False,
    verbose=1,
    seed=0,
):
    """Trains, evaluates, exports, reloads and predicts; returns a dict of what it measured."""
    out = Path(out)
    export_path = check_writable(out / "saved_model", overwrite, argument="out")  # before training
    keras.utils.set_random_seed(seed)

    # 1. Data: train, validation and test draws of the adding problem.
    x_train, y_train = adding_problem(samples, steps, seed=seed)
    x_val, y_val = adding_problem(samples // 4, steps, seed=seed + 1)
    x_test, y_test = adding_problem(samples // 4, steps, seed=seed + 2)

    # 2. Train with model.fit.
    model = build_model(cell, units, steps)
    model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=epochs, batch_size=64, verbose=verbose)
    test_mse = float(model.evaluate(x_test, y_test, verbose=0))

    # 3. Export as a SavedModel, reload with TensorFlow alone, predict.
    export_saved_model(model, export_path, overwrite=overwrite)
    reloaded = tf.saved_model.load(str(export_path))
    served = reloaded.serve(tf.constant(x_test[:5])).numpy()
    direct = keras.ops.convert_to_numpy(model(x_test[:5]))

    result = {
        "cell": cell,
        "test_mse": test_mse,
        "baseline_mse": BASELINE_MSE,
        "export_path": str(export_path),
        "targets": y_test[:5, 0].tolist(),
        "predictions": served[:, 0].tolist(),
        "max_export_difference": float(np.abs(served - direct).max()),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(result, indent=2))
    return result


def report(result):
    """The demo's result as lines of text."""
    lines = [
        f"adding problem, {result['cell']} cell: test MSE {result['test_mse']:.4f} "
        f"(predicting the mean: {result['baseline_mse']:.4f})",
        f"SavedModel: {result['export_path']} (reloaded with tf.saved_model.load; "
        f"max difference to the Keras model {result['max_export_difference']:.2e})",
        "target  prediction",
    ]
    lines += [f"{t:6.3f}  {p:6.3f}" for t, p in zip(result["targets"], result["predictions"], strict=True)]
    return "\n".join(lines)


# Each pipeline's part: its title, the options of its `train` command line (the defaults
# otherwise), and the sizes of its embedded data (`load_default`'s arguments), full and quick.
PARTS = {
    "sentiment": ("tweet sentiment", [], {}, {"train": 600}),
    "forecast": (
        "forecasting",
        ["--lookback", "48", "--horizon", "12", "--quantiles", "0.1", "0.5", "0.9"],
        {},
        {},
    ),
    "translate": (
        "translation",
        ["--units", "128", "--embedding-dim", "64", "--method", "beam", "--epochs", "12"],
        {},
        {"n": 600},
    ),
    "caption": ("captioning", ["--units", "128", "--embedding-dim", "32"], {"n": 3000}, {"n": 400}),
    "lm": (
        "language model",
        ["--units", "128", "--seq-len", "96", "--bptt-steps", "32", "--length", "120", "--epochs", "8"],
        {"max_documents": 400},
        {"max_documents": 60},
    ),
}


def run_part(name, out, cell="gru", epochs=None, overwrite=False, verbose=1, quick=False):
    """One pipeline's part of the demo: the `rnnkit NAME train` flow on its embedded data, then
    its SavedModel reloaded with TensorFlow alone and served; returns the report's lines."""
    title, options, sizes, quick_sizes = PARTS[name]
    argv = [name, "train", "--out", str(out), "--cell", cell, *options]
    argv += ["--overwrite"] * overwrite + (["--epochs", str(epochs)] if epochs is not None else [])
    argv += ["--units", "16"] * quick  # quick: a smaller network too, as the notebooks' quick mode
    args = build_parser().parse_args(argv)
    args.embedded = quick_sizes if quick else sizes
    command = COMMANDS[name]
    splits = command.load_data(args)
    metrics = command.train(args, verbose, data=splits)
    served = SERVED[name](tf.saved_model.load(str(out / "saved_model")), splits)
    return [
        f"{title}, {cell} cell:",
        command.summary(metrics),
        f"run folder: {out}",
        "served by the reloaded SavedModel:",
        *served,
    ]


DEMO_TWEETS = [
    "the movie was not that good",
    "everyone said the pizza was awful , but honestly it was great 😍",
    "is the new album good or bad ?",
    "@amy this phone was soooo lame #fail",
]
DEMO_SENTENCES = [
    "the small red dog near the old house sees two cats .",
    "three happy birds eat a green apple .",
]
LM_PROMPTS = ["Return the ", "This module provides "]


def _texts(tensor):
    return [value.decode() for value in tensor.numpy()]


def _served_tweets(reloaded, splits):
    labels = _texts(reloaded.serve(tf.constant(DEMO_TWEETS))["label"])
    return [f"  {label:9s} {text}" for label, text in zip(labels, DEMO_TWEETS, strict=True)]


def _served_forecast(reloaded, splits):
    window = splits[2][0].iloc[-48:].to_numpy(dtype="float32")[None]
    served = reloaded.serve(tf.constant(window))["forecast"].numpy()[0, :3, 0]
    return [f"  the next 3 hours: {np.round(served, 2).tolist()}"]


def _served_translations(reloaded, splits):
    served = _texts(reloaded.translate(tf.constant(DEMO_SENTENCES)))
    return [f"  {s}\n  -> {t}" for s, t in zip(DEMO_SENTENCES, served, strict=True)]


def _served_captions(reloaded, splits):
    images, references = splits[2][0][:3], splits[2][1][:3]
    png = [tf.io.encode_png(image).numpy() for image in images]  # what a client would send
    served = _texts(reloaded.generate(tf.constant(png)))
    return [f"  {c}   (truth: {r})  [from PNG bytes]" for c, r in zip(served, references, strict=True)]


def _served_text(reloaded, splits):
    served = _texts(reloaded.generate(tf.constant(LM_PROMPTS)))
    return [f"  {(p + t)!r}" for p, t in zip(LM_PROMPTS, served, strict=True)]


SERVED = {
    "sentiment": _served_tweets,
    "forecast": _served_forecast,
    "translate": _served_translations,
    "caption": _served_captions,
    "lm": _served_text,
}
FOLDERS = {name: Path(command.folder).name for name, command in COMMANDS.items()}  # sentiment, ...


def run_demo(out="runs/demo", cell="gru", epochs=None, overwrite=False, verbose=1, quick=False):
    """Runs every demo into one folder (default `./runs/demo`) and returns their report as text.

    With `overwrite=True` (`make demo`) it replaces the runs a demo wrote there before: only
    the files a run writes, never other files in those folders.

    With `quick=True` each part trains a network of 16 units on a small data set (`PARTS`): a
    smoke run that checks an installation end to end in a fraction of the time, with
    untrained-looking results.
    """
    out = Path(out)
    check_writable(out / "adding" / "saved_model", overwrite, argument="out")  # all before any training
    for folder in FOLDERS.values():
        Pipeline.check_run_folder(out / folder, overwrite)
    parts = {"overwrite": overwrite, "verbose": verbose, "cell": cell}
    adding = {"samples": 600} if quick else {}
    if epochs is not None:
        adding["epochs"] = epochs
    reports = [report(run_adding_demo(out / "adding", **parts, **adding))]
    for name, folder in FOLDERS.items():
        reports.append("\n".join(run_part(name, out / folder, epochs=epochs, quick=quick, **parts)))
    return "\n\n".join(reports)
