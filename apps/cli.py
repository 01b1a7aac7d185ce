"""The `rnnkit` command line: a thin argparse layer over the pipelines' verbs.

    rnnkit demo                                  every pipeline, end to end, on embedded data
    rnnkit sentiment train|evaluate|predict|export [--data ...] [--out RUN] ...
    rnnkit forecast train|backtest|predict|export [--data CSV --time-col ... --target ...] ...
    rnnkit translate train|evaluate|translate|export [--data TSV|DIR --languages en,de] ...
    rnnkit caption train|evaluate|generate|export [--data COCO.json|TOKENS --images DIR] ...
    rnnkit lm train|evaluate|generate|export [--data TEXT --level char|word --bptt-steps K] ...

Every pipeline's `train` checkpoints each epoch in `OUT/.backup`; after a crash or a kill,
the same command with `--resume` continues from there. Bad input ends with exit code 2 and a
one-line message.
"""

import argparse
import inspect
import logging
import os
import sys

__all__ = [
    "RECURRENT",
    "add_pipeline_arguments",
    "add_run_arguments",
    "holdout",
    "main",
    "pipeline_arguments",
]


# the recurrent part's options, which every task's `train` takes
RECURRENT = {"cell": "rnn, lstm, gru, leaky or esn", "units": None}


def add_pipeline_arguments(parser, cls, helps, types=None):
    """`--name` for each hyper-parameter `name` in `helps` (name: help text), with the type and
    default of `cls.__init__`'s signature, so that a command line builds what Python builds.

    `types` overrides a type (for a parameter whose default is None); a True/False default
    gives `--name/--no-name`.
    """
    parameters = inspect.signature(cls.__init__).parameters
    for name, help in helps.items():
        default = parameters[name].default
        flag = "--" + name.replace("_", "-")
        text = f"{help + ' ' if help else ''}(default {default})"
        if isinstance(default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, help=text)
        else:
            kind = (types or {}).get(name, str if default is None else type(default))
            parser.add_argument(flag, type=kind, default=default, help=text)


def pipeline_arguments(args, helps):
    """The hyper-parameters `add_pipeline_arguments(..., helps)` added, as keyword arguments."""
    return {name: getattr(args, name) for name in helps}


def add_run_arguments(parser, default):
    """`--out` (where `train` writes its run), `--run` (the run the other verbs read),
    `--overwrite` and `--quiet`. `main` resolves both into `args.out`."""
    parser.add_argument("--out", help=f"train: the run folder to write (default {default})")
    parser.add_argument(
        "--run", help=f"the run folder to read (default {default}); --out is its deprecated alias here"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace what the run folder already holds")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(default_run=default)


def _run_folder(args):
    """The folder a command writes (`train`: --out) or reads (the other verbs: --run, or the
    deprecated --out, with a warning)."""
    if args.verb == "train":
        if args.run is not None:
            raise ValueError("Argument `--run`: train writes a new run; name its folder with --out.")
        return args.out or args.default_run
    if args.run is None and args.out is not None:
        print("rnnkit: warning: --out to read a run is deprecated; use --run", file=sys.stderr)
        return args.out
    return args.run or args.default_run


def holdout(n, fraction, seed=0, labels=None):
    """Positions `(kept, held)` of `n` examples, `fraction` of them held out for validation:
    scikit-learn's `train_test_split`, stratified by `labels` where every class can be split.
    `held` is empty when `fraction` is 0 or there is one example.

    >>> [p.tolist() for p in holdout(6, 0.5, labels=["a", "a", "a", "b", "b", "b"])]
    [[2, 3, 5], [0, 1, 4]]
    """
    import numpy as np
    from sklearn.model_selection import train_test_split

    if not 0 <= fraction < 1:
        raise ValueError(f"Argument `--val-split` must be in [0, 1). Received: {fraction}")
    positions = np.arange(n)
    if fraction == 0 or n < 2:
        return positions, positions[:0]
    try:
        kept, held = train_test_split(positions, test_size=fraction, random_state=seed, stratify=labels)
    except ValueError:  # a class too small to stratify, or fewer held examples than classes
        kept, held = train_test_split(positions, test_size=fraction, random_state=seed)
    return np.sort(kept), np.sort(held)


def _demo(args, verbose):
    from .demo import run_demo

    return run_demo(
        out=args.out,
        cell=args.cell,
        epochs=args.epochs,
        overwrite=args.overwrite,
        verbose=verbose,
        quick=args.quick,
    )


def _sentiment(args, verbose):
    from .sentiment.cli import run

    return run(args, verbose)


def _forecast(args, verbose):
    from .forecasting.cli import run

    return run(args, verbose)


def _translate(args, verbose):
    from .translation.cli import run

    return run(args, verbose)


def _caption(args, verbose):
    from .captioning.cli import run

    return run(args, verbose)


def _lm(args, verbose):
    from .language_model.cli import run

    return run(args, verbose)


class _Parser(argparse.ArgumentParser):
    """argparse with the command line's one-line errors (exit code 2), for its subcommands too."""

    def error(self, message):
        self.exit(2, f"rnnkit: error: {message} (see `{self.prog} --help`)\n")


def build_parser():
    parser = _Parser(
        prog="rnnkit", description="Recurrent networks from the lectures, ready to train and ship."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser(
        "demo", help="every pipeline end to end on embedded data: train, export, reload, predict"
    )
    demo.add_argument("--cell", default="gru", help="rnn, lstm, gru, leaky or esn (default gru)")
    demo.add_argument("--epochs", type=int, default=None, help="training epochs (default: each demo's own)")
    demo.add_argument("--out", default="runs/demo", help="the folder of the runs (default runs/demo)")
    demo.add_argument("--overwrite", action="store_true", help="replace existing results in --out")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    demo.add_argument(
        "--quick", action="store_true", help="a smoke run on small data sets (checks an install)"
    )
    demo.set_defaults(handler=_demo)

    from .sentiment.cli import add_arguments

    sentiment = commands.add_parser("sentiment", help="tweet sentiment: train, evaluate, predict, export")
    add_arguments(sentiment)
    sentiment.set_defaults(handler=_sentiment)

    from .forecasting.cli import add_arguments as add_forecast_arguments

    forecast = commands.add_parser(
        "forecast", help="time-series forecasting: train, backtest, predict, export"
    )
    add_forecast_arguments(forecast)
    forecast.set_defaults(handler=_forecast)

    from .translation.cli import add_arguments as add_translate_arguments

    translate = commands.add_parser(
        "translate", help="encoder-decoder translation: train, evaluate, translate, export"
    )
    add_translate_arguments(translate)
    translate.set_defaults(handler=_translate)

    from .captioning.cli import add_arguments as add_caption_arguments

    caption = commands.add_parser("caption", help="caption generation: train, evaluate, generate, export")
    add_caption_arguments(caption)
    caption.set_defaults(handler=_caption)

    from .language_model.cli import add_arguments as add_lm_arguments

    lm = commands.add_parser(
        "lm", help="language model with truncated BPTT: train, evaluate, generate, export"
    )
    add_lm_arguments(lm)
    lm.set_defaults(handler=_lm)

    for pipeline in (sentiment, forecast, translate, caption, lm):
        pipeline.add_argument(
            "--resume",
            action="store_true",
            help="train: continue a killed run from its last finished epoch (kept in OUT/.backup); "
            "without it, training starts afresh",
        )
    return parser


def main(argv=None):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit:  # --help (0), or a malformed command line (2), already printed
        return exit.code
    try:
        if hasattr(args, "default_run"):
            args.out = _run_folder(args)
        print(args.handler(args, verbose=0 if args.quiet else "auto"))
    except ValueError as error:
        print(f"rnnkit: error: {error}".splitlines()[0], file=sys.stderr)
        return 2
    return 0
