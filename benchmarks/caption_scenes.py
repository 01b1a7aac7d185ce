"""Captions for generated scenes: exact match and BLEU of the three conditioning modes.

Trains `CaptionPipeline` (CNN encoder, GRU decoder) on the embedded generated scenes once per
conditioning mode (`init_state`, `every_step`, `both`), with early stopping on validation
loss (best weights restored) and the learning rate halved on plateaus, and reports, on
held-out generated scenes, the exact-match rate and BLEU-1..4 (sacrebleu) for greedy and
beam search, with training minutes, side by side in one run.

`--cli-defaults` instead runs `rnnkit caption train` with no option at all (the pipeline's
defaults, the command's epochs and patience, the embedded scenes) and writes its row to the
"CLI defaults" section of the same file, leaving the conditioning table as it is.

    python -m benchmarks.caption_scenes            # writes benchmarks/results/caption_scenes.md
    python -m benchmarks.caption_scenes --conditioning both --scenes 4000
    python -m benchmarks.caption_scenes --cli-defaults
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import keras  # noqa: E402
import pandas as pd  # noqa: E402

from benchmarks import machine, publish  # noqa: E402
from rnnkit.apps.captioning import CaptionPipeline, load_default  # noqa: E402
from rnnkit.apps.cli import COMMANDS, build_parser  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "caption_scenes.md"
MODES = ("init_state", "every_step", "both")
CLI_SECTION = "## CLI defaults"


def run(args):
    train, validation, test = load_default(n=args.scenes, seed=args.seed)
    rows = []
    for conditioning in args.conditioning:
        pipeline = CaptionPipeline(
            cell=args.cell, units=args.units, embedding_dim=32, conditioning=conditioning, seed=args.seed
        )
        callbacks = [
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True),
            keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1),
        ]
        start = time.perf_counter()
        history = pipeline.fit(
            *train, validation_data=validation, epochs=args.epochs, callbacks=callbacks, verbose=2
        )
        minutes = (time.perf_counter() - start) / 60
        for method in ("greedy", "beam"):
            metrics = pipeline.evaluate(*test, method=method)
            exact, epochs = 100 * metrics["exact_match"], len(history.history["loss"])
            rows.append(
                f"| {conditioning} | {method} | {exact:.1f} | {metrics['bleu_1']:.1f} | "
                f"{metrics['bleu_4']:.1f} | {minutes:.1f} | {epochs} |"
            )
    lines = [
        "# Captions for generated scenes (held-out scenes)",
        "",
        f"Command: `python -m benchmarks.caption_scenes {' '.join(sys.argv[1:])}`".rstrip(),
        machine(),
        f"Data: {len(train[0])} training, {len(validation[0])} validation, {len(test[0])} test scenes "
        f"(seed {args.seed}); {args.cell} decoder with {args.units} units, CNN encoder trained from scratch.",
        "",
        "| conditioning | decoding | exact match % | BLEU-1 | BLEU-4 | training minutes | epochs |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
        *rows,
        "",
    ]
    previous = RESULTS.read_text() if RESULTS.exists() else ""
    kept = previous[previous.index(CLI_SECTION) :].splitlines() if CLI_SECTION in previous else []
    publish([*lines, *kept], RESULTS, write=not args.quick)
    return rows


def run_cli_defaults(args):
    """`rnnkit caption train --out RUN` with nothing else, timed; its row replaces the "CLI
    defaults" section of the results file."""
    with tempfile.TemporaryDirectory() as folder:
        argv = ["caption", "train", "--out", str(Path(folder) / "run")]
        cli = build_parser().parse_args(argv)
        if args.quick:
            cli.embedded, cli.epochs, cli.units = {"n": 300}, 1, 8
        command = COMMANDS["caption"]
        splits = command.load_data(cli)
        start = time.perf_counter()
        metrics = command.train(cli, verbose=2, data=splits)
        minutes = (time.perf_counter() - start) / 60
        history = pd.read_csv(Path(cli.out) / "history.csv")
    best = int(history["val_loss"].idxmin()) + 1
    pipeline = command.make_pipeline(cli)
    config = ", ".join(f"{name}={getattr(pipeline, name)!r}" for name in ("cell", "units", "conditioning"))
    lines = [
        CLI_SECTION,
        "",
        f"Command: `rnnkit caption train --out RUN` (measured with `python -m benchmarks.caption_scenes "
        f"{' '.join(sys.argv[1:])}`)".replace(" )", ")"),
        f"{machine()} Cores shared with other jobs while it ran.",
        f"Data: the embedded scenes, `load_default()`: {len(splits[0][0])} training, "
        f"{len(splits[1][0])} validation and {len(splits[2][0])} test scenes (scored); {config}; "
        f"at most {cli.epochs} epochs, "
        f"patience {cli.patience} (best validation loss at epoch {best}, its weights kept).",
        "",
        "| configuration | decoding | exact match % | BLEU-1 | BLEU-4 | minutes (train command) | epochs |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
        f"| CLI defaults | greedy | {100 * metrics['exact_match']:.1f} | {metrics['bleu_1']:.1f} | "
        f"{metrics['bleu_4']:.1f} | {minutes:.1f} | {len(history)} |",
        "",
        "The minutes are those of the whole command after the scenes are rendered: training,",
        "scoring the test scenes, saving the run and its SavedModel.",
        "",
    ]
    previous = RESULTS.read_text() if RESULTS.exists() else ""
    table = previous[: previous.index(CLI_SECTION)] if CLI_SECTION in previous else previous
    publish([table.rstrip("\n"), "", *lines], RESULTS, write=not args.quick)
    return metrics


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conditioning", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--scenes", type=int, default=8000)
    parser.add_argument("--cell", default="gru")
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cli-defaults", action="store_true", help="time `rnnkit caption train` alone")
    parser.add_argument("--quick", action="store_true", help="a smoke run, nothing written")
    args = parser.parse_args(argv)
    if args.cli_defaults:
        return run_cli_defaults(args)
    if args.quick:
        args.scenes, args.epochs, args.units = 300, 1, 8
    return run(args)


if __name__ == "__main__":
    main()
