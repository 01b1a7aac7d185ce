"""The `rnnkit` command line: a thin argparse layer over the pipelines' verbs.

    rnnkit demo                                  every pipeline, end to end, on embedded data
    rnnkit sentiment train|evaluate|predict|export [--data ...] [--out RUN | --run RUN] ...
    rnnkit forecast train|backtest|predict|export [--data CSV --time-col ... --target ...] ...
    rnnkit translate train|evaluate|translate|export [--data TSV|DIR --languages en,de] ...
    rnnkit caption train|evaluate|generate|export [--data COCO.json|TOKENS --images DIR] ...
    rnnkit lm train|evaluate|generate|export [--data TEXT --level char|word --bptt-steps K] ...

Each task is a `Command` (`rnnkit.apps.command`) in the registry `COMMANDS`, and they all run
one train / evaluate / predict / export flow, which `rnnkit demo` runs too. Every `train`
checkpoints each epoch in `OUT/.backup`; after a crash or a kill, the same command with
`--resume` continues from there. Bad input ends with exit code 2 and a one-line message; a
worker lost under `--strategy multi-worker`, with exit code 1 and a one-line message.
"""

import argparse
import logging
import os
import sys

from .base import WorkerLostError
from .captioning.cli import CaptionCommand
from .forecasting.cli import ForecastCommand
from .language_model.cli import LanguageModelCommand
from .sentiment.cli import SentimentCommand
from .translation.cli import TranslationCommand

__all__ = ["COMMANDS", "build_parser", "main"]

# the registry of the five tasks, by subcommand
COMMANDS = {
    command.name: command
    for command in (
        SentimentCommand(),
        ForecastCommand(),
        TranslationCommand(),
        CaptionCommand(),
        LanguageModelCommand(),
    )
}


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
    for command in COMMANDS.values():
        command.add_arguments(commands.add_parser(command.name, help=command.help))
    return parser


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


def main(argv=None):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("tensorflow").setLevel(logging.WARNING)  # not its collectives' chatter
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit:  # --help (0), or a malformed command line (2), already printed
        return exit.code
    verbose = 0 if args.quiet else "auto"
    try:
        if args.command == "demo":
            from .demo import run_demo

            options = {name: getattr(args, name) for name in ("out", "cell", "epochs", "overwrite", "quick")}
            print(run_demo(**options, verbose=verbose))
        else:
            args.out = _run_folder(args)
            print(args.task.run(args, verbose))
    except ValueError as error:
        print(f"rnnkit: error: {error}".splitlines()[0], file=sys.stderr)
        return 2
    except WorkerLostError as error:  # --strategy multi-worker: another worker was lost
        print(f"rnnkit: error: {error}", file=sys.stderr)
        return 1
    return 0
