"""`Pipeline`: the verbs every ready pipeline shares, written once.

A task subclasses `Pipeline` and declares only what differs (STYLE.md, "Pipelines"):

- its hyper-parameters, as keyword-only `__init__` arguments stored under the same names
  (`get_config` reads them back from the signature); the six every pipeline has (`cell`,
  `units`, `dropout`, `batch_size`, `learning_rate`, `seed`) go to `Pipeline.__init__`;
- `check_data(*data, argument)`: validation of raw inputs, before any training;
- `learn_preprocessing(train)`: from the training data only, `self.preprocessor` (a Keras
  layer from raw inputs to the network's: vectorisers with their vocabularies, scalers) and
  `self.state` (a JSON dict of what else was learnt: a label set, a series' columns);
- `build_model()`: a compiled `keras.Model` on model-ready inputs (the network);
- `postprocessor()`: None, or a Keras layer from the network's outputs to raw ones;
- `build_task()`, where the task is more than `Task` (the generators' `TextGenerator`);
- `make_dataset(data, training)`: a `tf.data.Dataset` of model-ready batches, through
  `self.preprocessor`;
- `serving_function()`: `(fn, input_signature)` for the export, raw in, raw out, over
  `self.task` (`serve_aliases`: the documented other names of that endpoint;
  `extra_endpoints()`: further endpoints);
- `evaluate(...)` and its task verbs (`predict`, ...), and optionally `plots(...)`.
"""

import contextlib
import hashlib
import importlib
import inspect
import json
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import keras
import pandas as pd
import tensorflow as tf
from matplotlib.figure import Figure

from rnnkit.layers import clone_cell, fused, get_cell
from rnnkit.layers._keras_compat import build_training_state, distributed_keras

from .checks import check_cell, check_dropout, check_positive, check_positive_int, check_seed
from .export import check_writable, write_atomically
from .task import Task

__all__ = ["STEPS_PER_EXECUTION", "Pipeline", "WorkerLostError", "compile_task", "is_chief"]

log = logging.getLogger(__name__)

# Batches per call of the compiled training function. Keras's Python loop costs about 3 ms a
# batch on this project's 2-core machine (0.5 ms with 32: a Dense-only model's fit, measured
# in benchmarks/README.md), time taken from small recurrent steps and, on 2 cores, a core
# taken from the fused op's second shard. Callbacks' batch hooks run every 32 batches.
STEPS_PER_EXECUTION = 32
BACKUP = ".backup"  # in a run folder: the training state `fit(backup_dir=...)` resumes from
RUN_FILES = ("pipeline", "saved_model", "metrics.json", "history.csv")  # what save_run writes, plots aside


def compile_task(model, learning_rate, **compile_options):
    """Compiles a pipeline's model: Adam at `learning_rate` with gradients clipped to norm 1,
    `STEPS_PER_EXECUTION` batches per call, and the task's loss and metrics.

    A model built in a `tf.distribute` strategy's scope runs one batch per call: Keras 3.15's
    several-batch loop fails under `MirroredStrategy` (a placeholder of its while loop is
    left unfed, `tests/reliability/test_distribution.py`).
    """
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate, clipnorm=1.0),
        steps_per_execution=1 if tf.distribute.has_strategy() else STEPS_PER_EXECUTION,
        **compile_options,
    )
    return model


def is_chief(strategy):
    """Whether this process writes what training produces: True, except on a worker of a
    multi-worker strategy that is not its chief (the `chief` task of `TF_CONFIG`, else worker 0).
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    cluster = resolver.cluster_spec().as_dict() if resolver is not None else {}
    if not cluster:
        return True
    if "chief" in cluster:
        return resolver.task_type == "chief"
    return resolver.task_type == "worker" and resolver.task_id == 0


def _multi_worker(strategy):
    return (
        isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
        and len(strategy.extended.worker_devices) < strategy.num_replicas_in_sync
    )


class Pipeline:
    """Base class of rnnkit's pipelines (see the module docstring for the contract).

    After `fit` or `load`:
        task: the `Task` that `save` writes: the network with its preprocessing, raw in.
        model: the network, on model-ready batches (`make_dataset`).
        preprocessor: the task's preprocessing layer; `state`: what else was learnt.
    """

    # The layout `save` writes. 1: the network alone in model.keras, its preprocessing as
    # JSON beside it; 2: the task (network and preprocessing) in model.keras. A task whose
    # preprocessing changed its meaning since has a later version, and says what changed.
    format_version = 2
    format_change = "since version 2 the preprocessing is inside model.keras"
    serve_aliases = ()  # documented other names of the export's `serve` endpoint
    # what `fit(patience=)` selects the epoch on: a log of `model.fit` and "min" or "max"
    monitor = ("val_loss", "min")

    def __init__(self, cell, units, dropout, batch_size, learning_rate, seed):
        """Checks and keeps the hyper-parameters every pipeline has; the rest are the task's."""
        self.cell = check_cell(cell, units)
        self.units = check_positive_int("units", units)
        self.dropout = check_dropout("dropout", dropout)
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.learning_rate = check_positive("learning_rate", learning_rate)
        self.seed = check_seed(seed)
        self.model = None
        self.task = None
        self.preprocessor = None
        self.state = None
        self.history = None
        self.strategy = None  # the tf.distribute strategy `fit` trained under, if any

    # Configuration ---------------------------------------------------------------------

    @classmethod
    def _config_names(cls):
        parameters = inspect.signature(cls.__init__).parameters.values()
        return [p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY]

    def get_config(self):
        """The hyper-parameters, exactly the keyword arguments of `__init__`."""
        config = {name: getattr(self, name) for name in self._config_names()}
        return {
            name: keras.saving.serialize_keras_object(value)
            if isinstance(value, keras.layers.Layer)
            else value
            for name, value in config.items()
        }

    @classmethod
    def from_config(cls, config):
        config = {
            name: keras.saving.deserialize_keras_object(value)
            if isinstance(value, dict) and "class_name" in value
            else value
            for name, value in config.items()
        }
        return cls(**config)

    # The task's part -------------------------------------------------------------------

    def check_data(self, *data, argument="data"):
        raise NotImplementedError

    def learn_preprocessing(self, train):
        raise NotImplementedError

    def build_model(self):
        raise NotImplementedError

    def make_dataset(self, data, training=False):
        raise NotImplementedError

    def postprocessor(self):
        return None

    def serving_function(self):
        raise NotImplementedError

    def build_task(self):
        """The `Task` of the trained network, with the preprocessing it was trained behind."""
        return Task(self.preprocessor, self.model, self.postprocessor(), metadata=self.state, name="task")

    def extra_endpoints(self):
        """`{name: (fn, input_signature)}`: endpoints the export has besides `serve`."""
        return {}

    def endpoints(self):
        """`{name: (fn, input_signature)}` of every endpoint of the export, aliases included."""
        serve = self.serving_function()
        return {"serve": serve, **dict.fromkeys(self.serve_aliases, serve), **self.extra_endpoints()}

    def new_cell(self, **kwargs):
        """A fresh cell for one recurrent layer: `get_cell(self.cell, self.units, ...)` or a copy."""
        if isinstance(self.cell, str):
            return get_cell(self.cell, self.units, seed=self.seed, **kwargs)
        return clone_cell(self.cell)

    def fit_options(self, train):
        """Extra keyword arguments of `model.fit` (e.g. `class_weight`)."""
        return {}

    def plots(self, *data):
        """`{name: matplotlib.figure.Figure}` for a run folder; none by default."""
        return {}

    # Shared verbs ----------------------------------------------------------------------

    def fit(
        self,
        *data,
        validation_data=None,
        epochs=10,
        callbacks=None,
        patience=None,
        strategy=None,
        backup_dir=None,
        verbose="auto",
    ):
        """Learns preprocessing state from `data` only, then trains with `model.fit`.

        Args:
            *data: the training data, as the task takes it (e.g. `texts, labels`).
            validation_data: a tuple in the same form, or None.
            epochs: passes over the training data.
            callbacks: Keras callbacks, e.g. `keras.callbacks.EarlyStopping`.
            patience: None (default: train every epoch at the set learning rate), or a positive
                integer `n`, which needs `validation_data`: after every epoch whose validation
                score (the task's `monitor`: the loss, or sentiment's macro-recall) is no better
                than the best so far the learning rate is halved
                (`keras.callbacks.ReduceLROnPlateau`), and after `n` such epochs in a row
                training stops and the best epoch's weights are restored
                (`keras.callbacks.EarlyStopping`). A resumed run (`backup_dir`) counts from the
                epoch it resumes at.
            strategy: a `tf.distribute.Strategy`: `MirroredStrategy` (the devices of one
                machine) or `MultiWorkerMirroredStrategy` (several machines, `TF_CONFIG`). The
                model is built in its scope; each batch of `batch_size` examples is split
                between its replicas (each worker reads its own share), and losses and
                metrics are averaged over all of them. Under a multi-worker strategy every
                worker calls `fit` (and `save`, `export`, ...) alike, but only the chief
                writes to the destinations given: the others write to temporary folders
                they remove, and print no progress.
            backup_dir: None, or a folder for crash-safe training: at the end of every epoch
                the weights, optimizer state and epoch count are saved there
                (`keras.callbacks.BackupAndRestore`, keeping the previous checkpoint too, for a
                kill in the middle of writing one). A run that was killed resumes from its last
                checkpoint when `fit` is called again with the same data, hyper-parameters and
                `backup_dir` (other ones are refused), and ends after `epochs` epochs in all,
                with the history of all of them. The folder is deleted when training ends.
                Under a multi-worker strategy it must be a folder every worker can read (a
                shared filesystem): the chief writes it, the others resume from it too.
            verbose: as in `model.fit` ("auto", 0, 1 or 2).

        Returns:
            The Keras `History`.

        Example: were this process killed in its second epoch, the same call would train
        that epoch only, from the checkpoint of the first; done, it leaves no backup behind.

        >>> import os, tempfile
        >>> from rnnkit.apps.sentiment import SentimentPipeline
        >>> backup = tempfile.mkdtemp() + "/backup"
        >>> pipeline = SentimentPipeline(units=8, embedding_dim=8, max_len=12)
        >>> history = pipeline.fit(["so good", "not good"], ["positive", "negative"], epochs=2,
        ...                        backup_dir=backup, verbose=0)
        >>> len(history.history["loss"]), os.path.exists(backup)
        (2, False)
        """
        epochs = check_positive_int("epochs", epochs)
        if patience is not None:
            check_positive_int("patience", patience)
            if validation_data is None:
                raise ValueError(
                    f"Argument `patience` needs `validation_data`: it watches {self.monitor[0]}. "
                    f"Received: patience={patience!r}, validation_data=None"
                )
        train = self.check_data(*data, argument="data")
        self.learn_preprocessing(train)
        validation = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)):
                raise ValueError(
                    "Argument `validation_data` must be a tuple in the form of the training data. "
                    f"Received: {type(validation_data).__name__}"
                )
            validation = self.check_data(*validation_data, argument="validation_data")
        self.strategy = strategy
        scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
        with scope:
            self.model = self.build_model()
            self.task = self.build_task()
            train_data = self.make_dataset(train, training=True)
            build_training_state(self.model, train_data.element_spec)  # one trace, not two
        callbacks = list(callbacks or []) + (
            [] if patience is None else _plateau_callbacks(patience, *self.monitor)
        )
        epoch_log = None
        with contextlib.ExitStack() as stack:
            if backup_dir is not None:
                backup_dir = self._check_backup(self._worker_backup(backup_dir, stack))
                epoch_log = _EpochLog(backup_dir / "history.json")
                # the log first: an epoch it holds but the checkpoint does not is trained again
                backup = keras.callbacks.BackupAndRestore(str(backup_dir), double_checkpoint=True)
                callbacks += [epoch_log, backup]
            if strategy is not None:
                stack.enter_context(distributed_keras(self.model))
            # A dataset of unknown length (e.g. bucketed by sequence length) ends each epoch by
            # running out of data; that is its normal end, not the problem Keras warns about.
            stack.enter_context(warnings.catch_warnings())
            warnings.filterwarnings("ignore", "Your input ran out of data")
            with _lost_worker(strategy):
                self.history = self.model.fit(
                    train_data,
                    validation_data=None if validation is None else self.make_dataset(validation),
                    epochs=epochs,
                    callbacks=callbacks,
                    verbose=verbose if is_chief(strategy) else 0,
                    shuffle=False,  # make_dataset shuffles the training data itself
                    **self.fit_options(train),
                )
        if epoch_log is not None:  # the epochs of the runs this one resumed, too
            self.history.history = epoch_log.history()
            self.history.epoch = list(range(len(epoch_log.epochs)))
        return self.history

    def _worker_backup(self, backup_dir, stack):
        """`backup_dir`, or on a worker other than the chief a copy of it in a temporary
        folder (removed when `stack` closes): every worker restores the same checkpoint and
        saves its own (saving may read variables with collective operations), the chief alone
        to `backup_dir`."""
        if is_chief(self.strategy):
            return backup_dir
        copy = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rnnkit-worker-"))) / "backup"
        if Path(backup_dir).is_dir():
            shutil.copytree(backup_dir, copy)
        return copy

    def _destination(self, path):
        """Where this process writes `path`: `path`, or on a worker other than the chief the
        same name in a temporary folder that the returned stack removes."""
        stack = contextlib.ExitStack()
        if not is_chief(self.strategy):
            scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="rnnkit-worker-"))
            path = Path(scratch) / Path(path).name
        return stack, Path(path)

    def _check_backup(self, backup_dir):
        """`backup_dir` as a Path; refuses a backup of other hyper-parameters or preprocessing."""
        backup_dir = Path(backup_dir)
        learnt = [self.get_config(), self.state, _preprocessing(self)]
        state = json.dumps(learnt, sort_keys=True, default=str)
        fingerprint = hashlib.sha256(state.encode()).hexdigest()
        path = backup_dir / "fingerprint.txt"
        if path.is_file() and path.read_text() != fingerprint:
            raise ValueError(
                f"Argument `backup_dir`: {str(backup_dir)!r} holds the training state of a run with other "
                "hyper-parameters or data, which this one cannot resume. Delete it (or train without "
                "--resume) to start afresh."
            )
        backup_dir.mkdir(parents=True, exist_ok=True)
        _replace_text(path, fingerprint)
        return backup_dir

    @property
    def is_fitted(self):
        """Whether the pipeline has a trained model (from `fit` or `load`)."""
        return self.model is not None

    def clone(self):
        """A new, untrained pipeline with the same hyper-parameters."""
        return type(self).from_config(self.get_config())

    def evaluate_batches(self, dataset):
        """`model.evaluate` over model-ready batches, as a dict; the metrics are built first,
        so that a loaded model traces its test step once."""
        build_training_state(self.model, dataset.element_spec)
        distributed = distributed_keras(self.model) if self.strategy else contextlib.nullcontext()
        with distributed, _lost_worker(self.strategy):
            return self.model.evaluate(dataset, verbose=0, return_dict=True)

    def _check_fitted(self, verb):
        if self.model is None:
            raise ValueError(
                f"{type(self).__name__}.{verb}() needs a trained pipeline: call fit() or load() first."
            )

    def save(self, path, overwrite=False):
        """Writes config, preprocessing state and model into one folder, atomically."""
        self._check_fitted("save")
        cls = type(self)

        def write(folder):
            folder.mkdir()
            header = {
                "class": f"{cls.__module__}.{cls.__qualname__}",
                "format_version": self.format_version,
                "config": self.get_config(),
            }
            (folder / "config.json").write_text(json.dumps(header, indent=2))
            self.task.save(folder / "model.keras")

        stack, destination = self._destination(path)
        with stack:
            write_atomically(destination, write, overwrite)
        return Path(path)

    @classmethod
    def load(cls, path):
        """The pipeline `save` wrote to `path`: same config, preprocessing and weights."""
        path = Path(path)
        if not (path / "config.json").is_file():
            raise ValueError(f"Argument `path`: {str(path)!r} holds no saved pipeline (no config.json).")
        try:
            header = json.loads((path / "config.json").read_text())
            module_name, _, class_name = header["class"].rpartition(".")
            config = header["config"]
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ValueError(f"Argument `path`: {str(path)!r} holds no readable pipeline config.") from None
        if not module_name.startswith("rnnkit.apps."):  # never import what a file names
            raise ValueError(
                f"Argument `path`: {str(path)!r} names {header['class']!r}, not an rnnkit pipeline."
            )
        saved_cls = getattr(importlib.import_module(module_name), class_name, None)
        if not (isinstance(saved_cls, type) and issubclass(saved_cls, cls)):
            raise ValueError(f"Argument `path`: {str(path)!r} holds a {class_name}, not a {cls.__name__}.")
        version = header.get("format_version")
        if version != saved_cls.format_version:
            raise ValueError(
                f"Argument `path`: {str(path)!r} holds a {class_name} saved in rnnkit's format version "
                f"{version}; this version of rnnkit reads version {saved_cls.format_version} "
                f"({saved_cls.format_change}). Train the pipeline again, or load it with the rnnkit "
                "release that saved it."
            )
        pipeline = saved_cls.from_config(config)
        task = keras.models.load_model(path / "model.keras", safe_mode=True)
        pipeline.task, pipeline.model = task, task.network
        pipeline.preprocessor, pipeline.state = task.preprocessor, task.metadata
        return pipeline

    def export(self, path, overwrite=False):
        """A TF SavedModel whose `serve` signature takes raw inputs and returns raw outputs.

        It loads with `tf.saved_model.load` in a process without rnnkit. Written to a
        temporary folder and moved into place only when complete.
        """
        self._check_fitted("export")
        fn, input_signature = self.serving_function()

        def write(folder):
            archive = keras.export.ExportArchive()
            archive.track(self.task)
            with fused.portable():  # standard ops only: no rnnkit op, no cuDNN
                serve = archive.add_endpoint(name="serve", fn=fn, input_signature=input_signature)
                serve.get_concrete_function()  # traced once, then served under each alias too
                for name in self.serve_aliases:
                    archive.add_endpoint(name=name, fn=serve)
                for name, (extra_fn, extra_signature) in self.extra_endpoints().items():
                    archive.add_endpoint(name=name, fn=extra_fn, input_signature=extra_signature)
                archive.write_out(str(folder), verbose=False)

        stack, destination = self._destination(path)
        with stack:
            write_atomically(destination, write, overwrite)
        return Path(path)

    @staticmethod
    def check_run_folder(out, overwrite=False):
        """Fails (before training) unless `out` may take a run: a new or empty folder, or one
        that holds an rnnkit run (replaced only with `overwrite`).

        A folder that holds only the `.backup` of a killed run is no run yet. A folder that
        holds other files and nothing a run writes is the user's: refused unless `overwrite`
        is given, and then the run's files are written beside theirs, which stay.
        """
        out = Path(out)
        if out.exists() and not out.is_dir():
            raise ValueError(f"Argument `out`: {str(out)!r} is a file; a run folder is a folder.")
        if out.is_dir() and not overwrite:
            names = [path.name for path in out.iterdir()]
            ours = (*RUN_FILES, BACKUP)
            if names and not any(
                name in ours or name.startswith(tuple(f".{n}." for n in ours)) for name in names
            ):
                raise ValueError(
                    f"Argument `out`: {str(out)!r} holds other files ({', '.join(sorted(names)[:3])}"
                    f"{', ...' if len(names) > 3 else ''}) and no rnnkit run. Choose a new or empty "
                    "folder, or pass overwrite=True (--overwrite on the command line) to write the "
                    "run beside them."
                )
        for name in RUN_FILES:
            check_writable(out / name, overwrite, argument="out")

    @staticmethod
    def run_backup(out, resume=False):
        """`out/.backup`, the `backup_dir` of a run folder's training (`--resume` on the command line).

        Without `resume`, a backup left by an earlier run is deleted, so training starts afresh;
        with it, training resumes from that backup, or starts afresh where there is none.
        """
        backup = Path(out) / BACKUP
        if not resume and backup.exists():
            log.info("Deleting the training state of an earlier run: %s", backup)
            shutil.rmtree(backup)
        return backup

    def save_run(self, out, metrics, *eval_data, overwrite=False):
        """One run folder: the saved pipeline, `saved_model`, `metrics.json`, `history.csv`, PNG plots.

        Every file is written atomically (`write_atomically`), and none unless all may be.
        """
        stack, destination = self._destination(out)
        with stack:
            self._write_run(destination, metrics, eval_data, overwrite)
        return Path(out)

    def _write_run(self, out, metrics, eval_data, overwrite):
        self.check_run_folder(out, overwrite)
        figures = dict(self.plots(*eval_data)) if eval_data else {}
        files = {"metrics.json": lambda path: path.write_text(json.dumps(metrics, indent=2, default=float))}
        if self.history is not None and self.history.history:
            history = pd.DataFrame(self.history.history)
            history.index.name = "epoch"
            files["history.csv"] = history.to_csv
            figures["learning_curves"] = learning_curves(history)
        for name, figure in figures.items():
            files[f"{name}.png"] = lambda path, figure=figure: figure.savefig(
                path, format="png", dpi=120, bbox_inches="tight"
            )
        for name in files:
            check_writable(out / name, overwrite, argument="out")
        self.save(out / "pipeline", overwrite=overwrite)
        self.export(out / "saved_model", overwrite=overwrite)
        for name, write in files.items():
            write_atomically(out / name, write, overwrite, argument="out")


def _plateau_callbacks(patience, monitor, mode):
    """`fit(patience=n)`'s schedule: halve the learning rate after each epoch whose `monitor`
    does not improve on the best, stop after `n` of them in a row with the best weights."""
    return [
        keras.callbacks.ReduceLROnPlateau(monitor=monitor, mode=mode, factor=0.5, patience=1, min_delta=0),
        keras.callbacks.EarlyStopping(
            monitor=monitor, mode=mode, patience=patience, restore_best_weights=True
        ),
    ]


class _EpochLog(keras.callbacks.Callback):
    """The logs of every finished epoch, kept in `path` (JSON) so a resumed run has them all."""

    def __init__(self, path):
        super().__init__()
        self.path = Path(path)
        self.epochs = json.loads(self.path.read_text()) if self.path.is_file() else []

    def on_train_begin(self, logs=None):
        self.started = False

    def on_epoch_begin(self, epoch, logs=None):
        if epoch > 0 and not self.started:
            log.info("Resuming training at epoch %d from %s", epoch + 1, self.path.parent)
        self.started = True
        del self.epochs[epoch:]  # finished after the last checkpoint: trained again

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append({name: float(value) for name, value in (logs or {}).items()})
        _replace_text(self.path, json.dumps(self.epochs))

    def history(self):
        """`History.history`: a list of values per metric."""
        names = list(self.epochs[-1]) if self.epochs else []
        return {name: [epoch.get(name) for epoch in self.epochs] for name in names}


class WorkerLostError(RuntimeError):
    """A worker of a multi-worker cluster stopped answering during training or evaluation."""


@contextlib.contextmanager
def _lost_worker(strategy):
    """Under a multi-worker strategy, a collective operation that fails because a worker
    stopped answering ends this one with one clear error instead of TensorFlow's."""
    if not _multi_worker(strategy):
        yield
        return
    try:
        yield
    except (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.AbortedError) as error:
        lines = [line.strip() for line in str(error.message).splitlines()]
        lost = sorted({line for line in lines if line.startswith("/job:")})
        raise WorkerLostError(
            f"A worker of the MultiWorkerMirroredStrategy cluster stopped answering "
            f"({', '.join(lost) or type(error).__name__}), so training cannot go on. Start every "
            "worker again; with backup_dir (--resume on the command line) training resumes from "
            "the last finished epoch."
        ) from error


def _preprocessing(pipeline):
    """What the preprocessing learnt (for the backup's fingerprint): its serialized config (a
    scaler's statistics, vocabularies set by hand) and every adapted vocabulary."""
    if pipeline.preprocessor is None:
        return None
    layers = pipeline.preprocessor._flatten_layers()
    vocabularies = [layer.get_vocabulary() for layer in layers if hasattr(layer, "get_vocabulary")]
    return [keras.saving.serialize_keras_object(pipeline.preprocessor), vocabularies]


def _replace_text(path, text):
    """Writes a small file by rename: a kill leaves the old content or the new, never half."""
    staging = path.with_name(f".{path.name}.tmp")
    staging.write_text(text)
    os.replace(staging, path)


def learning_curves(history):
    """Loss and metrics per epoch, training against validation."""
    names = [c for c in history.columns if not c.startswith("val_")]
    figure = Figure(figsize=(4.5 * len(names), 3.5))  # no pyplot: no global state, no display
    axes = figure.subplots(1, len(names), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        ax.plot(history.index + 1, history[name], label="train")
        if f"val_{name}" in history:
            ax.plot(history.index + 1, history[f"val_{name}"], label="validation")
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.legend()
    figure.tight_layout()
    return figure
