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

from rnnkit.layers import Recurrent, get_cell

from .base import Pipeline
from .export import check_writable, export_saved_model

__all__ = [
    "adding_problem",
    "run_adding_demo",
    "run_caption_demo",
    "run_demo",
    "run_forecast_demo",
    "run_language_model_demo",
    "run_sentiment_demo",
    "run_translation_demo",
]

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
    import tensorflow as tf  # the reload below is plain TensorFlow, as a server would do it

    out = Path(out)
    export_path = check_writable(out / "saved_model", overwrite, argument="out")  # before training
    keras.utils.set_random_seed(seed)

    # 1. Data: train, validation and test draws of the adding problem.
    x_train, y_train = adding_problem(samples, steps, seed=seed)
    x_val, y_val = adding_problem(samples // 4, steps, seed=seed + 1)
    x_test, y_test = adding_problem(samples // 4, steps, seed=seed + 2)

    # 2. Train with model.fit.
    model = build_model(cell, units, steps)
    model.fit(
        x_train,
        y_train,
        validation_data=(x_val, y_val),
        epochs=epochs,
        batch_size=64,
        verbose=verbose,
    )
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


DEMO_TWEETS = [
    "the movie was not that good",
    "everyone said the pizza was awful , but honestly it was great 😍",
    "is the new album good or bad ?",
    "@amy this phone was soooo lame #fail",
]


def run_sentiment_demo(out, cell="gru", epochs=8, overwrite=False, verbose=1, train=3000, seed=0):
    """The sentiment pipeline on the generated tweets: train, evaluate, export, reload, predict."""
    import tensorflow as tf

    from .sentiment import SentimentPipeline, load_default

    out = Path(out)
    SentimentPipeline.check_run_folder(out, overwrite)  # before training
    train_set, validation, test = load_default(train=train, seed=seed)
    pipeline = SentimentPipeline(cell=cell, seed=seed)
    pipeline.fit(
        train_set.text,
        train_set.label,
        validation_data=(validation.text, validation.label),
        epochs=epochs,
        verbose=verbose,
    )
    metrics = pipeline.evaluate(test.text, test.label, baseline=True)
    pipeline.save_run(out, metrics, test.text, test.label, overwrite=overwrite)
    reloaded = tf.saved_model.load(str(out / "saved_model"))
    served = reloaded.serve(tf.constant(DEMO_TWEETS))
    labels = [label.decode() for label in served["label"].numpy()]
    return {
        "cell": cell,
        "metrics": metrics,
        "out": str(out),
        "tweets": DEMO_TWEETS,
        "served_labels": labels,
        "python_labels": pipeline.predict(DEMO_TWEETS),
    }


def sentiment_report(result):
    metrics = result["metrics"]
    lines = [
        f"tweet sentiment, {result['cell']} cell, generated test tweets: "
        f"accuracy {metrics['accuracy']:.3f}, macro-recall {metrics['macro_recall']:.3f} "
        f"(TF-IDF + logistic regression: {metrics['baseline']['accuracy']:.3f}, "
        f"{metrics['baseline']['macro_recall']:.3f})",
        f"run folder: {result['out']} (pipeline, saved_model, metrics.json, history.csv, PNG plots)",
        "served by the reloaded SavedModel:",
    ]
    lines += [
        f"  {label:9s} {text}" for label, text in zip(result["served_labels"], result["tweets"], strict=True)
    ]
    return "\n".join(lines)


def run_forecast_demo(out, cell="gru", epochs=10, overwrite=False, verbose=1, seed=0):
    """The forecasting pipeline on the generated series: train, backtest, export, reload, predict."""
    import tensorflow as tf

    from .forecasting import ForecastPipeline, generate_series

    out = Path(out)
    ForecastPipeline.check_run_folder(out, overwrite)  # before training
    series = generate_series(seed=seed)
    split = int(0.8 * len(series))
    pipeline = ForecastPipeline(cell=cell, lookback=48, horizon=12, quantiles=[0.1, 0.5, 0.9], seed=seed)
    pipeline.fit(
        series.iloc[:split], validation_data=(series.iloc[split - 48 :],), epochs=epochs, verbose=verbose
    )
    table = pipeline.backtest(series, start=split)
    metrics = table.drop(columns=["fold", "origin"]).groupby("model").mean()
    pipeline.save_run(out, metrics.to_dict(orient="index"), series, table, overwrite=overwrite)
    reloaded = tf.saved_model.load(str(out / "saved_model"))
    window = series.iloc[-48:].to_numpy(dtype="float32")[None]
    served = reloaded.serve(tf.constant(window))["forecast"].numpy()[0, :, 0]
    return {
        "cell": cell,
        "metrics": metrics,
        "out": str(out),
        "served": served,
        "python": pipeline.predict(series)["load"].to_numpy(),
    }


def forecast_report(result):
    means = result["metrics"][["mae", "mase", "coverage"]].sort_values("mase").round(3)
    served, python = result["served"], result["python"]
    return "\n".join(
        [
            f"forecasting, {result['cell']} cell, hourly load, 12 steps ahead, rolling-origin backtest:",
            means.to_string(),
            f"run folder: {result['out']}",
            f"the reloaded SavedModel's next 3 hours: {np.round(served[:3], 2).tolist()} "
            f"(in Python: {np.round(python[:3], 2).tolist()})",
        ]
    )


DEMO_SENTENCES = [
    "the small red dog near the old house sees two cats .",
    "three happy birds eat a green apple .",
]


def run_translation_demo(out, cell="gru", epochs=12, overwrite=False, verbose=1, pairs=4000, seed=0):
    """The translation pipeline on generated pairs: train, evaluate, export, reload, translate."""
    import tensorflow as tf

    from .translation import TranslationPipeline, load_default

    out = Path(out)
    TranslationPipeline.check_run_folder(out, overwrite)  # before training
    train, validation, test = load_default(n=pairs, seed=seed)
    pipeline = TranslationPipeline(cell=cell, units=128, embedding_dim=64, seed=seed)
    pipeline.fit(
        train.source,
        train.target,
        validation_data=(validation.source, validation.target),
        epochs=epochs,
        verbose=verbose,
    )
    metrics = {
        method: pipeline.evaluate(test.source, test.target, method=method) for method in ("greedy", "beam")
    }
    numbers = {
        method: {name: value for name, value in m.items() if name != "translations"}
        for method, m in metrics.items()
    }
    pipeline.save_run(out, numbers, list(test.source), overwrite=overwrite)
    reloaded = tf.saved_model.load(str(out / "saved_model"))
    served = [t.decode() for t in reloaded.translate(tf.constant(DEMO_SENTENCES)).numpy()]
    return {
        "cell": cell,
        "metrics": numbers,
        "out": str(out),
        "sentences": DEMO_SENTENCES,
        "served": served,
        "python": pipeline.translate(DEMO_SENTENCES, method="beam"),
    }


def translation_report(result):
    greedy, beam = result["metrics"]["greedy"], result["metrics"]["beam"]
    lines = [
        f"translation, {result['cell']} cell with additive attention, generated held-out pairs: "
        f"BLEU greedy {greedy['bleu']:.1f}, beam {beam['bleu']:.1f}; chrF {greedy['chrf']:.1f}; "
        f"token accuracy {greedy['token_accuracy']:.3f}",
        f"run folder: {result['out']} (pipeline, saved_model, metrics.json, history.csv, attention_map.png)",
        "translated by the reloaded SavedModel (beam search):",
    ]
    lines += [f"  {s}\n  -> {t}" for s, t in zip(result["sentences"], result["served"], strict=True)]
    return "\n".join(lines)


def run_caption_demo(out, cell="gru", epochs=20, overwrite=False, verbose=1, scenes=3000, seed=0):
    """The captioning pipeline on generated scenes: train, evaluate, export, reload, caption PNG bytes."""
    import tensorflow as tf

    from .captioning import CaptionPipeline, load_default

    out = Path(out)
    CaptionPipeline.check_run_folder(out, overwrite)  # before training
    train, validation, test = load_default(n=scenes, seed=seed)
    pipeline = CaptionPipeline(cell=cell, units=128, embedding_dim=32, seed=seed)
    pipeline.fit(*train, validation_data=validation, epochs=epochs, verbose=verbose)
    metrics = pipeline.evaluate(*test)
    numbers = {name: value for name, value in metrics.items() if name != "captions"}
    pipeline.save_run(out, numbers, *test, overwrite=overwrite)
    reloaded = tf.saved_model.load(str(out / "saved_model"))
    png = [tf.io.encode_png(image).numpy() for image in test[0][:3]]  # what a client would send
    served = [c.decode() for c in reloaded.generate(tf.constant(png)).numpy()]
    return {"cell": cell, "metrics": numbers, "out": str(out), "served": served, "references": test[1][:3]}


def caption_report(result):
    m = result["metrics"]
    lines = [
        f"captioning, {result['cell']} cell, generated scenes: exact match {m['exact_match']:.3f}, "
        f"BLEU-4 {m['bleu_4']:.1f}",
        f"run folder: {result['out']} (pipeline, saved_model, metrics.json, history.csv, captions.png)",
        "captions of PNG bytes by the reloaded SavedModel:",
    ]
    lines += [f"  {c}   (truth: {r})" for c, r in zip(result["served"], result["references"], strict=True)]
    return "\n".join(lines)


LM_PROMPTS = ["Return the ", "This module provides "]


def run_language_model_demo(out, cell="lstm", epochs=8, overwrite=False, verbose=1, documents=400, seed=0):
    """The language model on standard-library docstrings: train, evaluate, export, reload, write."""
    import tensorflow as tf

    from .language_model import LanguageModelPipeline, load_default

    out = Path(out)
    LanguageModelPipeline.check_run_folder(out, overwrite)  # before training
    train, validation, test = load_default(max_documents=documents, seed=seed)
    pipeline = LanguageModelPipeline(cell=cell, units=128, seq_len=96, bptt_steps=32, length=120, seed=seed)
    pipeline.fit(train, validation_data=validation, epochs=epochs, verbose=verbose)
    metrics = pipeline.evaluate(test)
    pipeline.save_run(out, metrics, overwrite=overwrite)
    reloaded = tf.saved_model.load(str(out / "saved_model"))
    served = [t.decode() for t in reloaded.generate(tf.constant(LM_PROMPTS)).numpy()]
    return {"cell": cell, "metrics": metrics, "out": str(out), "prompts": LM_PROMPTS, "served": served}


def language_model_report(result):
    m = result["metrics"]
    lines = [
        f"language model, {result['cell']} cell, truncated BPTT (k=32), held-out docstrings: "
        f"perplexity {m['perplexity']:.2f} per character ({m['bits_per_token']:.2f} bits), "
        f"unigram baseline {m['unigram_perplexity']:.2f}",
        f"run folder: {result['out']} (pipeline, saved_model, metrics.json, history.csv)",
        "written by the reloaded SavedModel (temperature 0.8):",
    ]
    lines += [f"  {(p + t)!r}" for p, t in zip(result["prompts"], result["served"], strict=True)]
    return "\n".join(lines)


QUICK_SIZES = {
    "adding": {"samples": 600},
    "sentiment": {"train": 600},
    "translation": {"pairs": 600},
    "captioning": {"scenes": 400},
    "language_model": {"documents": 60},
}


def run_demo(out="runs/demo", cell="gru", epochs=None, overwrite=False, verbose=1, quick=False):
    """Runs every demo into one folder (default `./runs/demo`) and returns their report as text.

    With `overwrite=True` (`make demo`) it replaces the runs a demo wrote there before: only
    the files a run writes, never other files in those folders.

    With `quick=True` each part trains on a small data set (`QUICK_SIZES`): a smoke run that
    checks an installation end to end in a fraction of the time, with untrained-looking results.
    """
    out = Path(out)
    check_writable(out / "adding" / "saved_model", overwrite, argument="out")  # all before any training
    for part in ("sentiment", "forecast", "translation", "captioning", "language_model"):
        Pipeline.check_run_folder(out / part, overwrite)
    epochs = {} if epochs is None else {"epochs": epochs}
    parts = {"overwrite": overwrite, "verbose": verbose, "cell": cell, **epochs}
    sizes = QUICK_SIZES if quick else {}
    adding = run_adding_demo(out / "adding", **parts, **sizes.get("adding", {}))
    sentiment = run_sentiment_demo(out / "sentiment", **parts, **sizes.get("sentiment", {}))
    forecast = run_forecast_demo(out / "forecast", **parts)
    translation = run_translation_demo(out / "translation", **parts, **sizes.get("translation", {}))
    captioning = run_caption_demo(out / "captioning", **parts, **sizes.get("captioning", {}))
    language_model = run_language_model_demo(
        out / "language_model", **parts, **sizes.get("language_model", {})
    )
    reports = [
        report(adding),
        sentiment_report(sentiment),
        forecast_report(forecast),
        translation_report(translation),
        caption_report(captioning),
        language_model_report(language_model),
    ]
    return "\n\n".join(reports)
