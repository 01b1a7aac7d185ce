"""Crash safety: a killed training resumes where it was (`fit(backup_dir=)`, `train --resume`)
and still trains every epoch once; a save or export that dies leaves nothing half-written at its
destination; nothing already there is overwritten without `overwrite=True` / `--overwrite`.
"""

import json
import logging
import math
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import pandas as pd
import pytest
import tensorflow as tf

from rnnkit.apps.base import Pipeline
from rnnkit.apps.cli import main
from rnnkit.apps.export import write_atomically
from rnnkit.apps.sentiment import SentimentPipeline
from tests.data import LABELS, TEXTS

TINY = {"units": 4, "embedding_dim": 4, "max_len": 12, "batch_size": 8}
STEPS = math.ceil(len(TEXTS) / TINY["batch_size"])  # batches per epoch
RESUMING = re.compile(r"Resuming training at epoch (\d+)")


class Crashed(Exception):
    pass


class Crash(keras.callbacks.Callback):
    """Ends training at the start of epoch `at` (0-based), as a crash would."""

    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            raise Crashed(f"crash in epoch {epoch + 1}")


def crashed_fit(backup, epochs, at):
    """Training stopped by a crash at the start of epoch `at` (0-based)."""
    with pytest.raises(Crashed):
        SentimentPipeline(**TINY).fit(
            TEXTS, LABELS, epochs=epochs, backup_dir=backup, callbacks=[Crash(at)], verbose=0
        )


def files_of(folder):
    """`{relative path: bytes}` of every file under `folder`, hidden ones included."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def resumed_at(caplog):
    """The 1-based epoch a run said it resumed at, or None."""
    found = [int(m.group(1)) for r in caplog.records if (m := RESUMING.search(r.getMessage()))]
    return found[-1] if found else None


# Training killed, then resumed --------------------------------------------------------------


def test_fit_resumes_from_the_last_finished_epoch(tmp_path, caplog):
    backup = tmp_path / "backup"
    crashed_fit(backup, epochs=5, at=3)
    assert backup.is_dir()  # epochs 1-3 are checkpointed
    with pytest.raises(ValueError, match="`backup_dir`.*other hyper-parameters"):
        SentimentPipeline(**{**TINY, "units": 5}).fit(TEXTS, LABELS, epochs=5, backup_dir=backup, verbose=0)

    pipeline = SentimentPipeline(**TINY)
    with caplog.at_level(logging.INFO, logger="rnnkit.apps.base"):
        history = pipeline.fit(TEXTS, LABELS, epochs=5, backup_dir=backup, verbose=0)
    assert resumed_at(caplog) == 4
    assert int(pipeline.model.optimizer.iterations) == 5 * STEPS  # epochs 4 and 5 only, on 3 restored
    assert len(history.history["loss"]) == 5 and history.epoch == [0, 1, 2, 3, 4]  # the first run's too
    assert not backup.exists()  # deleted once training ended


def test_run_backup_is_cleared_unless_resuming(tmp_path):
    stale = tmp_path / ".backup"
    stale.mkdir()
    assert Pipeline.run_backup(tmp_path, resume=True) == stale and stale.exists()
    assert Pipeline.run_backup(tmp_path) == stale and not stale.exists()
    Pipeline.check_run_folder(tmp_path)  # a killed run's folder holds no run yet


EPOCHS = 30  # about 0.1 s each after the first: the process is still training when it is killed


@pytest.fixture
def tweets_csv(tmp_path):
    path = tmp_path / "tweets.csv"
    pd.DataFrame({"text": TEXTS * 4, "label": LABELS * 4}).to_csv(path, index=False)
    return path


def test_killed_cli_training_resumes_with_resume(tweets_csv, tmp_path, caplog, capsys):
    out = tmp_path / "run"
    argv = ["sentiment", "train", "--data", str(tweets_csv), "--out", str(out), "--quiet"]
    argv += ["--units", "4", "--max-len", "12", "--val-split", "0", "--epochs", str(EPOCHS)]
    # 1. Train in a process of its own; SIGKILL it in the middle of its 3rd epoch.
    log = tmp_path / "killed.log"
    with log.open("w") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "rnnkit.apps", *argv], stdout=stderr, stderr=stderr)
    history = out / ".backup" / "history.json"  # written at the end of each epoch, before its checkpoint
    logged, deadline = {}, time.monotonic() + 300  # epochs logged -> when first seen
    while len(logged) < 2:
        assert process.poll() is None, f"training ended before it was killed:\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, "no epoch finished in 300 s"
        if history.is_file():
            logged.setdefault(len(json.loads(history.read_text())), time.monotonic())
        time.sleep(0.01)
    time.sleep((max(logged.values()) - min(logged.values())) / 2)  # half an epoch
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=60) == -signal.SIGKILL
    assert [p.name for p in out.iterdir()] == [".backup"]  # no run yet: no pipeline, no export

    # 2. The same command with --resume goes on from the last checkpoint, to EPOCHS in all.
    with caplog.at_level(logging.INFO, logger="rnnkit.apps.base"):
        assert main([*argv, "--resume"]) == 0
    assert 2 <= resumed_at(caplog) < EPOCHS  # after at least one finished epoch, before the end
    steps = math.ceil(4 * len(TEXTS) / 64)  # the command line's default batch_size is 64
    trained = SentimentPipeline.load(out / "pipeline")
    assert int(trained.model.optimizer.iterations) == EPOCHS * steps  # every epoch once, none twice
    assert len(pd.read_csv(out / "history.csv")) == EPOCHS
    assert not (out / ".backup").exists()

    # 3. A finished run is not trained over, with --resume or without.
    before = files_of(out)
    capsys.readouterr()
    for extra in ([], ["--resume"]):
        assert main([*argv, *extra]) == 2
        assert "--overwrite" in capsys.readouterr().err
    assert files_of(out) == before


# Saves and exports that die --------------------------------------------------------------

KILLED_WRITE = """
import os, signal, sys
from pathlib import Path
from rnnkit.apps.export import write_atomically

def write(folder):
    folder.mkdir()
    (folder / "half.bin").write_bytes(b"x" * 1000)
    os.kill(os.getpid(), signal.SIGKILL)  # killed in the middle of writing

write_atomically(Path(sys.argv[1]), write, overwrite=True)
"""


@pytest.mark.parametrize("existing", [False, True], ids=["new", "replacing"])
def test_a_process_killed_while_writing_leaves_the_destination_as_it_was(tmp_path, existing):
    destination = tmp_path / "saved_model"
    if existing:
        destination.mkdir()
        (destination / "saved_model.pb").write_bytes(b"the old export")
    before = files_of(tmp_path)
    completed = subprocess.run([sys.executable, "-c", KILLED_WRITE, str(destination)], timeout=120)
    assert completed.returncode == -signal.SIGKILL
    assert {k: v for k, v in files_of(tmp_path).items() if not k.startswith(".")} == before
    # what the killed process left is a hidden staging folder beside it, which nothing reads:
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert len(leftovers) == 1 and leftovers[0].startswith(".saved_model.")
    Pipeline.check_run_folder(tmp_path / "elsewhere")
    write_atomically(destination, lambda folder: folder.mkdir(), overwrite=True)  # the next write
    assert destination.is_dir() and not any(destination.iterdir())


@pytest.mark.parametrize("verb", ["save", "export"])
@pytest.mark.parametrize("existing", [False, True], ids=["new", "replacing"])
def test_a_failed_save_or_export_leaves_nothing_behind(sentiment_run, tmp_path, monkeypatch, verb, existing):
    pipeline = sentiment_run.pipeline
    destination = tmp_path / verb
    if existing:
        getattr(pipeline, verb)(destination)
    before = files_of(tmp_path)

    def fail_half_way(*args, **kwargs):
        raise OSError("disk full")

    if verb == "save":  # after config.json is written
        monkeypatch.setattr(pipeline.task, "save", fail_half_way)
    else:  # in the middle of writing the SavedModel
        monkeypatch.setattr(tf.saved_model, "save", _half_written)
    with pytest.raises(OSError, match="disk full"):
        getattr(pipeline, verb)(destination, overwrite=True)
    assert files_of(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ([verb] if existing else [])  # no staging left


def _half_written(trackable, path, **kwargs):
    Path(path).mkdir()
    (Path(path) / "saved_model.pb").write_bytes(b"half")
    raise OSError("disk full")


# Nothing overwritten unasked ---------------------------------------------------------------


def test_overwrite_refusals_leave_every_file_as_it_was(sentiment_run, tweets_csv, tmp_path, capsys):
    pipeline = sentiment_run.pipeline
    out = tmp_path / "run"
    pipeline.save_run(out, {"accuracy": 0.5}, TEXTS[:6], LABELS[:6])
    before = files_of(out)
    refusals = {
        "save": lambda: pipeline.save(out / "pipeline"),
        "export": lambda: pipeline.export(out / "saved_model"),
        "save_run": lambda: pipeline.save_run(out, {"accuracy": 1.0}, TEXTS[:6], LABELS[:6]),
        "save_run into a folder with only metrics.json": lambda: pipeline.save_run(
            tmp_path / "partial", {"accuracy": 1.0}
        ),
    }
    (tmp_path / "partial").mkdir()
    (tmp_path / "partial" / "metrics.json").write_text("{}")
    for name, refused in refusals.items():
        with pytest.raises(ValueError, match="overwrite"):
            refused()
        assert files_of(out) == before, name
    assert [p.name for p in (tmp_path / "partial").iterdir()] == ["metrics.json"]

    capsys.readouterr()
    argv = ["sentiment", "train", "--data", str(tweets_csv), "--out", str(out), "--quiet", "--units", "4"]
    assert main(argv) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(["sentiment", "export", "--out", str(out)]) == 2
    assert files_of(out) == before
