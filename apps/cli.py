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
import logging
import os
import sys

__all__ = ["main"]


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
    demo.add_argument("--out", default=None, help="run folder (default: a new temporary folder)")
    demo.add_argument("--overwrite", action="store_true", help="replace existing results in --out")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    demo.add_argument(
        "--quick", action="store_true", help="a smoke run on small data sets (checks an install)"
    )
    demo.set_defaults(run=_demo)

    from .sentiment.cli import add_arguments

    sentiment = commands.add_parser("sentiment", help="tweet sentiment: train, evaluate, predict, export")
    add_arguments(sentiment)
    sentiment.set_defaults(run=_sentiment)

    from .forecasting.cli import add_arguments as add_forecast_arguments

    forecast = commands.add_parser(
        "forecast", help="time-series forecasting: train, backtest, predict, export"
    )
    add_forecast_arguments(forecast)
    forecast.set_defaults(run=_forecast)

    from .translation.cli import add_arguments as add_translate_arguments

    translate = commands.add_parser(
        "translate", help="encoder-decoder translation: train, evaluate, translate, export"
    )
    add_translate_arguments(translate)
    translate.set_defaults(run=_translate)

    from .captioning.cli import add_arguments as add_caption_arguments

    caption = commands.add_parser("caption", help="caption generation: train, evaluate, generate, export")
    add_caption_arguments(caption)
    caption.set_defaults(run=_caption)

    from .language_model.cli import add_arguments as add_lm_arguments

    lm = commands.add_parser(
        "lm", help="language model with truncated BPTT: train, evaluate, generate, export"
    )
    add_lm_arguments(lm)
    lm.set_defaults(run=_lm)

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
        print(args.run(args, verbose=0 if args.quiet else "auto"))
    except ValueError as error:
        print(f"rnnkit: error: {error}".splitlines()[0], file=sys.stderr)
        return 2
    return 0
