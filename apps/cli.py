"""The `rnnkit` command line: a thin argparse layer over the pipelines' verbs."""

import argparse
import logging
import os
import sys

__all__ = ["main"]


def _demo(args):
    from .demo import report, run_demo

    result = run_demo(
        out=args.out,
        cell=args.cell,
        epochs=args.epochs,
        samples=args.samples,
        overwrite=args.overwrite,
        verbose=0 if args.quiet else 2,
    )
    print(report(result))


def build_parser():
    parser = argparse.ArgumentParser(
        prog="rnnkit", description="Recurrent networks from the lectures, ready to train and ship."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser(
        "demo", help="train a small model on a generated task, export, reload, predict"
    )
    demo.add_argument("--cell", default="gru", help="rnn, lstm, gru, leaky or esn (default gru)")
    demo.add_argument("--epochs", type=int, default=12)
    demo.add_argument("--samples", type=int, default=4000, help="training sequences")
    demo.add_argument("--out", default=None, help="run folder (default: a new temporary folder)")
    demo.add_argument(
        "--overwrite", action="store_true", help="replace an existing export in --out"
    )
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    demo.set_defaults(run=_demo)
    return parser


def main(argv=None):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except ValueError as error:
        print(f"rnnkit: error: {error}", file=sys.stderr)
        return 2
    return 0
