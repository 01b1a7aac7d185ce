"""A character language model of the standard library's docstrings: held-out bits per character.

Trains `LanguageModelPipeline` as `rnnkit lm train` does with no option (the pipeline's
defaults, the command's epochs and patience: the learning rate halved after each epoch
without a lower validation loss, training stopped after `patience` of them, the best
epoch's weights kept) on the embedded corpus (`rnnkit.apps.language_model.load_default`:
the docstrings of Python's standard library, split by document into train/val/test), and
reports validation and test bits per character against two baselines counted on the same
training text and scored on the same characters: the unigram frequencies, and interpolated
Kneser-Ney n-gram models (`KneserNey`) of order 5 (`evaluate(baseline=True)`) and of the
order, among `ORDERS`, with the fewest validation bits per character.

    python -m benchmarks.language_model                 # writes benchmarks/results/language_model.md
    python -m benchmarks.language_model --configs lstm:32 gru:full --max-minutes 20
"""

import argparse
import math
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks import machine, publish  # noqa: E402
from rnnkit.apps.generation import END_ID  # noqa: E402
from rnnkit.apps.language_model import LanguageModelPipeline, load_default  # noqa: E402
from rnnkit.apps.language_model.cli import LanguageModelCommand  # noqa: E402
from rnnkit.apps.language_model.ngram import KneserNey  # noqa: E402
from rnnkit.apps.language_model.pipeline import NGRAM_ORDER  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "language_model.md"
ORDERS = (3, 4, 5, 6, 8, 10, 12, 16)  # the n-gram orders searched on validation
PROMPT = "Return a new "


class TimeLimit(keras.callbacks.Callback):
    """Stops training at the end of the first epoch that ends after `minutes` minutes."""

    def __init__(self, minutes):
        super().__init__()
        self.seconds, self.hit = 60 * minutes, False

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if time.perf_counter() - self.start > self.seconds:
            self.model.stop_training = self.hit = True


def ngram_bits(pipeline, train, splits, orders):
    """`{order: [bits per character of each split]}` of Kneser-Ney models counted on `train`;
    `splits` holds `(documents, tokens)`, the documents and the number of tokens
    `pipeline.evaluate` scored, `stream[1 : 1 + tokens]`, which each model reads after `[end]`."""
    streams = [pipeline.stream(documents) for documents, _ in splits]
    tokens = [n for _, n in splits]
    results = {}
    for order in orders:
        start = np.full(order - 1, END_ID)
        model = KneserNey(order, len(pipeline.tokens)).fit(np.concatenate([start, pipeline.stream(train)]))
        results[order] = [
            -model.log_probs(np.concatenate([start, stream[: n + 1]]))[1:].mean() / math.log(2)
            for stream, n in zip(streams, tokens, strict=True)
        ]
    return results


def run(args):
    train, validation, test = load_default(max_documents=args.documents, seed=args.seed)
    command = LanguageModelCommand
    rows, samples, notes, baselines = [], [], [], None
    for config in args.configs:
        overrides = {"seed": args.seed}
        if config != "defaults":
            cell, _, steps = config.partition(":")
            overrides.update(cell=cell, bptt_steps=None if steps == "full" else int(steps))
        if args.quick:
            overrides.update(units=8, seq_len=32, bptt_steps=8)
        pipeline = LanguageModelPipeline(**overrides)
        limit = TimeLimit(args.max_minutes)
        start = time.perf_counter()
        history = pipeline.fit(
            train,
            validation_data=validation,
            epochs=args.epochs or command.epochs,
            patience=command.patience,
            callbacks=[limit],
            verbose=2,
        )
        minutes = (time.perf_counter() - start) / 60
        val, metrics = pipeline.evaluate(validation, baseline=True), pipeline.evaluate(test, baseline=True)
        losses = history.history["val_loss"]
        epochs, best = len(losses), int(np.argmin(losses)) + 1
        falling = "yes" if best == epochs else "no"
        most = args.epochs or command.epochs
        stop = "time limit" if limit.hit else ("patience" if epochs < most else "epochs")
        rows.append(
            f"| {config} | {pipeline.cell} {pipeline.units} | {val['bits_per_token']:.3f} | "
            f"{metrics['bits_per_token']:.3f} | {metrics['perplexity']:.2f} | "
            f"{100 * metrics['token_accuracy']:.1f} | {minutes:.1f} | {epochs} (best {best}, {stop}) | "
            f"{falling} |"
        )
        if baselines is None:
            splits = [(validation, val["tokens"]), (test, metrics["tokens"])]
            baselines = (val, metrics, ngram_bits(pipeline, train, splits, args.orders))
        sample = pipeline.generate(PROMPT, length=160, temperature=0.6, seed=args.seed)
        samples.append(f"- {config}: `{(PROMPT + sample).replace(chr(10), ' / ')}`")
        notes.append(f"{config}: {pipeline.get_config()}")
    val, metrics, by_order = baselines
    best_order = min(by_order, key=lambda order: by_order[order][0])
    lines = [
        "# Character language model of the standard library's docstrings (held-out documents)",
        "",
        f"Command: `python -m benchmarks.language_model {' '.join(sys.argv[1:])}`".rstrip(),
        f"{machine()} The 2 cores were shared with other jobs throughout, so minutes compare loosely.",
        f"Data: Python {platform.python_version()} docstrings, {len(train)} training documents "
        f"({sum(map(len, train))} characters), {len(validation)} validation, {len(test)} test "
        f"(seed {args.seed}); {metrics['tokens']} test and {val['tokens']} validation characters "
        "scored (each document's `[end]` counts as one).",
        f"Training: as `rnnkit lm train` with no option: at most {args.epochs or command.epochs} epochs, "
        f"patience {command.patience} on the validation loss (learning rate halved after each epoch "
        f"without improvement, the best epoch's weights kept), at most {args.max_minutes} minutes "
        "(checked after each epoch).",
        "",
        "| run | cell | val bits/char | test bits/char | test perplexity | test accuracy % "
        "| training minutes | epochs | val still falling |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
        *rows,
        "",
        "Baselines, counted on the same training text and scored on the same characters:",
        "",
        "| baseline | val bits/char | test bits/char |",
        "| --- | ---: | ---: |",
        f"| unigram (add-one) | {val['unigram_bits_per_token']:.3f} | "
        f"{metrics['unigram_bits_per_token']:.3f} |",
        f"| Kneser-Ney {NGRAM_ORDER['char']}-gram (`evaluate(baseline=True)`) | "
        f"{val['ngram_bits_per_token']:.3f} | "
        f"{metrics['ngram_bits_per_token']:.3f} |",
        f"| Kneser-Ney {best_order}-gram (fewest val bits of orders {', '.join(map(str, args.orders))}) | "
        f"{by_order[best_order][0]:.3f} | {by_order[best_order][1]:.3f} |",
        "",
        "Kneser-Ney by order (val / test bits/char): "
        + ", ".join(f"{order}: {v:.3f} / {t:.3f}" for order, (v, t) in by_order.items()),
        "",
        f"Samples (temperature 0.6, prompt `{PROMPT}`):",
        "",
        *samples,
        "",
        "Configurations: " + "; ".join(notes),
        "",
    ]
    publish(lines, RESULTS, write=not args.quick)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--configs",
        nargs="+",
        default=["defaults"],
        help="defaults, or cell:bptt_steps (cell:full) over the other defaults",
    )
    parser.add_argument("--documents", type=int, default=None, help="keep this many documents")
    parser.add_argument("--epochs", type=int, default=None, help="default: the command line's")
    parser.add_argument("--max-minutes", type=float, default=30.0, help="training time limit per run")
    parser.add_argument("--orders", type=int, nargs="+", default=list(ORDERS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a smoke run, nothing written")
    args = parser.parse_args(argv)
    if args.quick:
        args.documents, args.epochs, args.orders = 60, 2, [2, 3]
    return run(args)


if __name__ == "__main__":
    main()
