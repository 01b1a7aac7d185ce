"""`Command`: one task on the command line, and the one train / evaluate / predict / export flow.

A task's command (`rnnkit.apps.<task>.cli`) declares only what differs: its pipeline class and
the hyper-parameters `train` takes, its data options and `load_data`, how a split is scored,
its predict verb and the summary it prints. `rnnkit demo` runs the same flow.
"""

import argparse
import contextlib
import inspect
import json
import os
import tempfile
from pathlib import Path

import pandas as pd

from .base import is_chief
from .checks import check_choice

__all__ = [
    "RECURRENT",
    "REPETITION",
    "STRATEGIES",
    "Command",
    "add_pipeline_arguments",
    "holdout",
    "make_strategy",
    "pipeline_arguments",
]

# the recurrent part's options, which every task's `train` takes
RECURRENT = {"cell": "rnn, lstm, gru, leaky or esn", "units": None}
# the generators' repetition control (rnnkit.layers.decoding), which their `train` takes
REPETITION = {
    "no_repeat_ngram_size": "no n-gram of this many tokens generated twice (0: off)",
    "repetition_penalty": "divides the logits of tokens already generated (1: off)",
}
STRATEGIES = ("none", "mirrored", "multi-worker")  # --strategy: the tf.distribute strategy of train


class Command:
    """`rnnkit NAME train|EVALUATE|PREDICT|export`, over one pipeline class.

    A subclass sets the class attributes and overrides `add_data_arguments`, `load_data`,
    `predict` and, where they differ from the defaults, `make_pipeline`, `score`, `summary`.
    A split is the tuple of a pipeline's data arguments, e.g. `(texts, labels)`.
    """

    name = ""  # the subcommand
    help = ""
    pipeline = None  # the Pipeline subclass
    hyper_parameters = RECURRENT  # name -> help; types and defaults are `pipeline`'s
    types = {}  # a type for a hyper-parameter whose default is None
    evaluate_verb, predict_verb = "evaluate", "predict"
    epochs = 10
    patience = 0  # --patience: fit's `patience` when there is a validation split (0: none)
    val_split = (0.1, "fraction held out when --data has no validation split")
    metrics = ()  # the numbers `summary` shows
    outputs = None  # the metrics' key of per-example outputs (translations), kept out of metrics.json
    folder = ""  # the default run folder

    def add_arguments(self, parser):
        parser.add_argument("verb", choices=["train", self.evaluate_verb, self.predict_verb, "export"])
        self.add_data_arguments(parser)
        add_pipeline_arguments(parser, self.pipeline, self.hyper_parameters, self.types)
        parser.add_argument("--epochs", type=int, default=self.epochs, help="the most epochs to train")
        parser.add_argument(
            "--patience",
            type=int,
            default=self.patience,
            help=f"with a validation split: halve the learning rate after each epoch without a better "
            f"{self.pipeline.monitor[0]}, stop after this many in a row, keep the best epoch (0: off; "
            f"default {self.patience})",
        )
        parser.add_argument("--val-split", type=float, default=self.val_split[0], help=self.val_split[1])
        default = self.folder
        parser.add_argument("--out", help=f"train: the run folder to write (default {default})")
        parser.add_argument(
            "--run", help=f"the run folder to read (default {default}); --out is its deprecated alias here"
        )
        parser.add_argument(
            "--overwrite", action="store_true", help="replace what the run folder already holds"
        )
        parser.add_argument("--quiet", action="store_true", help="no progress bars")
        parser.add_argument(
            "--strategy",
            choices=STRATEGIES,
            default="none",
            help="train: none (one device), mirrored (this machine's devices) or multi-worker "
            "(the machines of TF_CONFIG; run the same command on each, the chief writes the run)",
        )
        parser.add_argument(
            "--resume",
            action="store_true",
            help="train: continue a killed run from its last finished epoch (kept in OUT/.backup); "
            "without it, training starts afresh",
        )
        # `embedded`: the sizes of the embedded data, `load_default`'s arguments (the demo's quick runs)
        parser.set_defaults(default_run=default, task=self, embedded={})

    def add_data_arguments(self, parser):
        """`--data` and the task's other options of its data and inputs."""

    def check_arguments(self, args):
        """Fails on a bad option before any data is read or any training."""

    def make_pipeline(self, args):
        """The untrained pipeline of a `train` command line."""
        return self.pipeline(**pipeline_arguments(args, self.hyper_parameters))

    def load_data(self, args, held_out=True):
        """`(train, validation, test)` splits of `--data` (or the embedded data); any may be None.
        `held_out=False` (evaluate, predict): a `--data` file is one split, nothing held out."""
        raise NotImplementedError

    def score(self, pipeline, split, args):
        """`(metrics, plotted)`: the pipeline's metrics on a split, and the data its plots take."""
        return pipeline.evaluate(*split), split

    def summary(self, metrics):
        """The numbers of `metrics` named in `self.metrics` (those it has), one a line."""
        shown = {name: metrics[name] for name in self.metrics if name in metrics}
        return pd.Series(shown).round(4).to_string()

    def predict(self, pipeline, args):
        """The predict verb's output, as text."""
        raise NotImplementedError

    def texts(self, args, what):
        """The predict verb's texts: the `--text` options, else the first column of `--data`."""
        texts = args.text
        if not texts and args.data:
            split = self.load_data(args, held_out=False)[0]
            texts = None if split is None else list(split[0])
        if not texts:
            raise ValueError(f"Arguments `--text` or `--data`: give the {what}.")
        return texts

    # The flow, written once ---------------------------------------------------------------

    def run(self, args, verbose):
        """Runs one command line's verb; returns what it prints."""
        out = Path(args.out)
        if args.verb == "train":
            metrics = self.train(args, verbose)
            return f"{self.summary(metrics)}\nrun folder: {out}"
        self.check_arguments(args)
        pipeline = self.pipeline.load(out / "pipeline")
        if args.verb == self.evaluate_verb:
            split = _last(self.load_data(args, held_out=False))
            if split is None:
                raise ValueError(f"Argument `--data`: {args.data!r} holds no split to evaluate.")
            return f"{self.summary(self.score(pipeline, split, args)[0])}\nrun folder: {out}"
        if args.verb == self.predict_verb:
            return self.predict(pipeline, args)
        return f"SavedModel: {pipeline.export(out / 'saved_model', overwrite=args.overwrite)}"

    def fit_patience(self, args, validation):
        """`fit`'s `patience`: `--patience` where there is a validation split (0: None)."""
        return (args.patience or None) if validation is not None else None

    def train(self, args, verbose, data=None):
        """Trains on the train split (validated on the validation split), scores the test split
        (else validation, else train) and writes the run folder `args.out`; returns the metrics.
        `data`: the splits of `load_data(args)`, where the caller has read them (the demo serves
        from them)."""
        out = Path(args.out)
        strategy = make_strategy(getattr(args, "strategy", "none"))  # before any TensorFlow work
        chief = is_chief(strategy)
        self.check_arguments(args)
        if args.patience < 0:
            raise ValueError(f"Argument `--patience` must be 0 (off) or more. Received: {args.patience}")
        pipeline = self.make_pipeline(args)
        if chief:  # the other workers of a cluster write nothing there
            pipeline.check_run_folder(out, args.overwrite)  # fail before reading or training
        train, validation, test = data or self.load_data(args)
        if train is None:
            raise ValueError(f"Argument `--data`: {args.data!r} has no training split.")
        with contextlib.ExitStack() as stack:
            if chief or args.resume:
                backup = pipeline.run_backup(out, args.resume)
            else:  # not the chief's backup, which the chief is deleting: a fresh start
                backup = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "backup"
            pipeline.fit(
                *train,
                validation_data=validation,
                epochs=args.epochs,
                patience=self.fit_patience(args, validation),
                verbose=verbose,
                strategy=strategy,
                backup_dir=backup,
            )
        metrics, plotted = self.score(pipeline, _last((train, validation, test)), args)
        numbers = {name: value for name, value in metrics.items() if name != self.outputs}
        pipeline.save_run(out, numbers, *plotted, overwrite=args.overwrite)
        return metrics


def make_strategy(name):
    """The `tf.distribute` strategy of `--strategy NAME` (None for "none").

    "multi-worker" reads the cluster and this worker's task from `TF_CONFIG`, and must be
    created before TensorFlow runs anything else in the process.
    """
    if check_choice("strategy", name, STRATEGIES) == "none":
        return None
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    try:
        config = json.loads(os.environ["TF_CONFIG"])
        config["cluster"], config["task"]["type"], config["task"]["index"]
    except (KeyError, TypeError, ValueError):
        raise ValueError(
            "Argument `--strategy`: multi-worker needs TF_CONFIG in the environment, a JSON of the "
            'cluster and this worker\'s task, e.g. {"cluster": {"worker": ["host1:12345", '
            '"host2:12345"]}, "task": {"type": "worker", "index": 0}} (see the README).'
        ) from None
    return tf.distribute.MultiWorkerMirroredStrategy()


def _last(splits):
    """The test split, else validation, else train."""
    return next((split for split in reversed(splits) if split is not None), None)


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
