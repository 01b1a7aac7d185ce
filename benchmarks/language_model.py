"""A character-level language model of the standard library's docstrings: held-out perplexity.

Trains `LanguageModelPipeline` on the embedded corpus (`rnnkit.apps.language_model.load_default`:
the docstrings of Python's standard library, split by document into train/val/test), once
per configuration, with early stopping on validation perplexity (best weights restored),
and reports side by side in one run the test perplexity, bits per character, the unigram
baseline's perplexity on the same tokens, training minutes and a sample.

    python -m benchmarks.language_model                 # writes benchmarks/results/language_model.md
    python -m benchmarks.language_model --configs lstm:32 gru:32 --epochs 5
"""

import argparse
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import keras  # noqa: E402

from benchmarks import machine, publish  # noqa: E402
from rnnkit.apps.language_model import LanguageModelPipeline, load_default  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "language_model.md"
CONFIGS = ("lstm:32", "lstm:full", "gru:32", "rnn:32")  # cell:bptt_steps
PROMPT = "Return a new "


def run(args):
    train, validation, test = load_default(max_documents=args.documents, seed=args.seed)
    rows, samples = [], []
    for config in args.configs:
        cell, _, steps = config.partition(":")
        bptt_steps = None if steps == "full" else int(steps)
        pipeline = LanguageModelPipeline(
            cell=cell,
            units=args.units,
            seq_len=args.seq_len,
            bptt_steps=bptt_steps,
            dropout=args.dropout,
            seed=args.seed,
        )
        callbacks = [
            keras.callbacks.EarlyStopping(
                monitor="val_perplexity", patience=3, restore_best_weights=True, mode="min"
            ),
            keras.callbacks.ReduceLROnPlateau(monitor="val_perplexity", factor=0.5, patience=1, mode="min"),
        ]
        start = time.perf_counter()
        history = pipeline.fit(
            train, validation_data=validation, epochs=args.epochs, callbacks=callbacks, verbose=2
        )
        minutes = (time.perf_counter() - start) / 60
        val, metrics = pipeline.evaluate(validation), pipeline.evaluate(test)
        epochs = len(history.history["loss"])
        rows.append(
            f"| {cell} | {steps} | {val['perplexity']:.2f} | {metrics['perplexity']:.2f} | "
            f"{metrics['bits_per_token']:.3f} | {metrics['unigram_perplexity']:.1f} | "
            f"{100 * metrics['token_accuracy']:.1f} | {minutes:.1f} | {epochs} |"
        )
        sample = pipeline.generate(PROMPT, length=160, temperature=0.6, seed=args.seed)
        samples.append(f"- {config}: `{(PROMPT + sample).replace(chr(10), ' / ')}`")
    n_chars = sum(map(len, train))
    lines = [
        "# Character language model of the standard library's docstrings (held-out documents)",
        "",
        f"Command: `python -m benchmarks.language_model {' '.join(sys.argv[1:])}`".rstrip(),
        machine(),
        f"Data: Python {platform.python_version()} docstrings, {len(train)} training documents "
        f"({n_chars} characters), {len(validation)} validation, {len(test)} test (seed {args.seed}).",
        f"Model: {args.units} units, windows of {args.seq_len} characters, dropout {args.dropout}; "
        "`bptt` is the truncation length k (`full`: the whole window).",
        "",
        "| cell | bptt | val perplexity | test perplexity | test bits/char | unigram perplexity "
        "| test accuracy % | training minutes | epochs |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *rows,
        "",
        f"Samples (temperature 0.6, prompt `{PROMPT}`):",
        "",
        *samples,
        "",
    ]
    publish(lines, RESULTS, write=not args.quick)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), help="cell:bptt_steps (or cell:full)")
    parser.add_argument("--documents", type=int, default=None, help="keep this many documents")
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a smoke run, nothing written")
    args = parser.parse_args(argv)
    if args.quick:
        args.documents, args.epochs, args.units, args.seq_len = 60, 1, 8, 32
        args.configs = ["lstm:8"]
    return run(args)


if __name__ == "__main__":
    main()
