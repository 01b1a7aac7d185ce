"""Distribution: `fit(strategy=...)` trains the sentiment, forecasting and language-model
pipelines under `MirroredStrategy` over two logical CPUs, and under `MultiWorkerMirroredStrategy`
with two worker processes on loopback, to the losses and metrics of single-device training with
the same seed, data and global batch.

What is compared: every epoch's training loss (and validation loss), the evaluation metrics,
predicted probabilities, and the epoch at which `EarlyStopping` stops and the weights it restores.

Tolerance: each epoch has several batches whose sizes split evenly between the two replicas, and
dropout is off. Every step then averages the loss over exactly the examples the single device
sees (each replica gets half the batch, and Keras divides each replica's mean by the number of
replicas), and the seeded shuffling is the same (rnnkit builds the model before `fit`, so Keras
draws no batch to build it). The runs differ only in the order in which float32 gradients are
summed across replicas: measured at most 2e-7 relative over ten epochs. We allow `RTOL` = 1e-4
on every epoch's loss and on the evaluation metrics, and `ATOL` = 1e-4 on predicted
probabilities; a wrong loss scaling, a worker reading the other's shard or a lost replica is off
by far more. (Batches that split unevenly, or dropout, which each replica draws for itself, make
runs differ by more, and correctly so.)

Each worker runs in its own process with `TF_CONFIG` set, on free loopback ports, under a hard
timeout; a worker still running after it is ended by its pid.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import serve_without_rnnkit

from .runs import FORECAST, LANGUAGE_MODEL, SENTIMENT

ROOT = Path(__file__).resolve().parents[2]
RTOL = ATOL = 1e-4
TIMEOUT = 300  # seconds a group of worker processes may take
SETUP = {
    "seed": 3,
    "epochs": 3,
    # several batches per epoch, each split evenly between two replicas; no dropout
    "sentiment": {**SENTIMENT, "batch_size": 8, "dropout": 0.0, "learning_rate": 1e-2},  # 24 texts: 3 x 8
    # 100 steps, the last 10 held out (validation_tail): 90 train, 76 windows, 2 x 38
    "forecast": {**FORECAST, "batch_size": 38, "dropout": 0.0, "learning_rate": 1e-2},
    "language_model": {  # 2 documents, 670 tokens: 66 windows of 10, 3 x 22
        **LANGUAGE_MODEL,
        "seq_len": 10,
        "bptt_steps": 5,
        "batch_size": 22,
        "dropout": 0.0,
        "learning_rate": 1e-2,
    },
}

TRAIN = """
import json, os, sys, warnings
mode, out, setup = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
import tensorflow as tf
if mode == "mirrored":  # two logical CPUs, set before anything initialises TensorFlow's devices
    cpu, = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    strategies = {"single": None, "mirrored": tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])}
else:  # one of the workers of TF_CONFIG
    strategies = {"multi_worker": tf.distribute.MultiWorkerMirroredStrategy()}

import keras
from rnnkit.apps.forecasting import ForecastPipeline
from rnnkit.apps.language_model import LanguageModelPipeline
from rnnkit.apps.sentiment import SentimentPipeline
from tests.data import LABELS, TEXTS
from tests.reliability.runs import DOCUMENTS, SERIES

warnings.simplefilter("ignore")  # tiny data
results = {}
for name, strategy in strategies.items():
    epochs, seed = setup["epochs"], setup["seed"]
    sentiment = SentimentPipeline(**setup["sentiment"], seed=seed)
    history = sentiment.fit(TEXTS, LABELS, validation_data=(TEXTS[:6], LABELS[:6]), epochs=epochs,
                            strategy=strategy, verbose=0).history
    scores = sentiment.evaluate(TEXTS, LABELS)
    # no epoch after the first improves by 10: stops after the second, restores the first's weights
    stopping = keras.callbacks.EarlyStopping("loss", min_delta=10, patience=1, restore_best_weights=True)
    stopped = SentimentPipeline(**setup["sentiment"], seed=seed)
    stopped_history = stopped.fit(TEXTS, LABELS, epochs=epochs, strategy=strategy, callbacks=[stopping],
                                  verbose=0)
    forecast = ForecastPipeline(**setup["forecast"], multi_step="autoregressive", quantiles=[0.1, 0.5, 0.9],
                                seed=seed)
    forecast_history = forecast.fit(SERIES.iloc[:100], epochs=epochs, strategy=strategy, verbose=0)
    lm = LanguageModelPipeline(**setup["language_model"], seed=seed)
    lm_history = lm.fit(DOCUMENTS[:2], epochs=epochs, strategy=strategy, verbose=0)
    results[name] = {
        "sentiment loss": history["loss"],
        "sentiment val_loss": history["val_loss"],
        "sentiment scores": [scores["accuracy"], scores["macro_f1"]],
        "sentiment probabilities": sentiment.predict_proba(TEXTS).to_numpy().tolist(),
        "early stopping epochs": [len(stopped_history.history["loss"])],
        "early stopping probabilities": stopped.predict_proba(TEXTS).to_numpy().tolist(),
        "forecast loss": forecast_history.history["loss"],
        # not coverage: the calibration puts an interval end exactly on a held-out value, which
        # float rounding then counts in or out
        "forecast metrics": {k: v for k, v in forecast.evaluate(SERIES.iloc[60:]).items() if k != "coverage"},
        "forecast calibration": forecast.model.get_layer("calibration").get_weights()[0].ravel().tolist(),
        "language model loss": lm_history.history["loss"],
        "language model perplexity": lm.evaluate(DOCUMENTS[2:3])["perplexity"],
    }
    if strategy is not None and mode != "mirrored":  # every worker saves; the chief alone writes there
        sentiment.save(os.path.join(os.path.dirname(out), "sentiment"))
        sentiment.export(os.path.join(os.path.dirname(out), "sentiment_export"))
if json.loads(os.environ.get("TF_CONFIG", '{"task": {"index": 0}}'))["task"]["index"] == 0:  # the chief
    json.dump(results, open(out, "w"))
"""


def _train(mode, out, env=None, **kwargs):
    command = [sys.executable, "-c", TRAIN, mode, str(out), json.dumps(SETUP)]
    return subprocess.Popen(command, cwd=ROOT, env={**os.environ, **(env or {})}, **kwargs)


def assert_same_training(run, single):
    """Every epoch's loss and the evaluation metrics agree with single-device training."""
    assert set(run) == set(single)
    for name, expected in single.items():
        actual = run[name]
        if isinstance(expected, dict):  # metrics by name
            actual, expected = [actual[k] for k in expected], list(expected.values())
        tolerance = {"atol": ATOL} if name.endswith("probabilities") else {"rtol": RTOL}
        np.testing.assert_allclose(actual, expected, **tolerance, err_msg=name)
    for name in ("sentiment loss", "forecast loss", "language model loss"):  # the runs did learn
        assert single[name][-1] < single[name][0], name
    assert single["early stopping epochs"] == [2]  # stopped early, then restored the first epoch's weights
    assert not np.allclose(
        single["early stopping probabilities"], single["sentiment probabilities"], atol=1e-3
    )


@pytest.fixture(scope="module")
def single_and_mirrored(tmp_path_factory):
    out = tmp_path_factory.mktemp("mirrored") / "results.json"
    process = _train("mirrored", out, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log, _ = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, log[-3000:]
    return json.loads(out.read_text())


def test_mirrored_strategy_on_two_cpus_trains_as_one_device(single_and_mirrored):
    assert_same_training(single_and_mirrored["mirrored"], single_and_mirrored["single"])


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def start_workers(command, folder, count=2):
    """`count` processes of `command`, one per worker of a loopback cluster: `TF_CONFIG` set
    per process, logs in `folder/worker{i}.log`, temporary files in `folder/tmp{i}`."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(count)]}
    workers = []
    for index in range(count):
        config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        (folder / f"tmp{index}").mkdir()
        env = {**os.environ, "TF_CONFIG": config, "TMPDIR": str(folder / f"tmp{index}")}
        env["TF_NUM_INTRAOP_THREADS"] = "1"  # the workers share this machine's cores
        with (folder / f"worker{index}.log").open("w") as log:
            workers.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log))
    return workers


def wait_for(workers, folder, timeout=TIMEOUT):
    """Waits for every worker, ends by pid any still running after `timeout` seconds; returns
    `(return codes, logs)`."""
    deadline = time.monotonic() + timeout
    while any(w.poll() is None for w in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    for worker in workers:
        if worker.poll() is None:
            os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
    logs = [(folder / f"worker{index}.log").read_text() for index in range(len(workers))]
    return [w.returncode for w in workers], logs


def test_two_workers_train_as_one_device_and_only_the_chief_writes(single_and_mirrored, tmp_path):
    out = tmp_path / "results.json"
    workers = start_workers(
        [sys.executable, "-c", TRAIN, "multi_worker", str(out), json.dumps(SETUP)], tmp_path
    )
    codes, logs = wait_for(workers, tmp_path)
    assert codes == [0, 0], "\n".join(log[-3000:] for log in logs)
    assert_same_training(json.loads(out.read_text())["multi_worker"], single_and_mirrored["single"])
    # the chief's pipeline and export, once; the other worker's temporary folders are gone
    assert {p.name for p in tmp_path.iterdir()} == {
        "results.json",
        "sentiment",
        "sentiment_export",
        "worker0.log",
        "worker1.log",
        "tmp0",
        "tmp1",
    }
    assert list((tmp_path / "tmp1").iterdir()) == []


LONG_TRAINING = """
import sys, time, tensorflow as tf
strategy = tf.distribute.MultiWorkerMirroredStrategy()
import keras
from rnnkit.apps.sentiment import SentimentPipeline
from tests.data import LABELS, TEXTS

class Progress(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        print("finished epoch", epoch + 1, flush=True)
        time.sleep(0.2)  # time to be killed in the middle

pipeline = SentimentPipeline(units=4, embedding_dim=4, max_len=8, vocab_size=100, batch_size=8, seed=0)
history = pipeline.fit(TEXTS, LABELS, epochs=16, strategy=strategy, backup_dir=sys.argv[1],
                       callbacks=[Progress()], verbose=0)
print("history of", len(history.history["loss"]), "epochs", flush=True)
"""


def test_a_killed_worker_ends_the_other_with_a_clear_error_and_both_resume(tmp_path):
    backup, first, second = tmp_path / "backup", tmp_path / "first", tmp_path / "second"
    first.mkdir()
    workers = start_workers([sys.executable, "-c", LONG_TRAINING, str(backup)], first)
    deadline = time.monotonic() + TIMEOUT
    while "finished epoch 3" not in (first / "worker1.log").read_text():
        assert time.monotonic() < deadline and all(w.poll() is None for w in workers)
        time.sleep(0.1)
    os.kill(workers[1].pid, signal.SIGKILL)
    killed = time.monotonic()
    codes, logs = wait_for(workers, first, timeout=120)
    waited = time.monotonic() - killed
    assert codes[0] not in (0, -signal.SIGKILL), logs[0][-3000:]  # it ended by itself, with an error
    assert "WorkerLostError: A worker of the MultiWorkerMirroredStrategy cluster stopped answering" in logs[0]
    assert waited < 120
    finished = len(json.loads((backup / "history.json").read_text()))  # checkpointed epochs
    assert 3 <= finished < 16

    second.mkdir()  # both workers again: they resume from the chief's last checkpoint
    codes, logs = wait_for(start_workers([sys.executable, "-c", LONG_TRAINING, str(backup)], second), second)
    assert codes == [0, 0], "\n".join(log[-3000:] for log in logs)
    for log in logs:
        assert log.count("finished epoch") == 16 - finished and f"finished epoch {finished + 1}\n" in log
    assert "history of 16 epochs" in logs[0]
    assert not backup.exists() and list((second / "tmp1").iterdir()) == []


def test_cli_trains_sentiment_on_two_workers_and_the_chief_exports(tmp_path):
    run = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "rnnkit.apps",
        "sentiment",
        "train",
        "--strategy",
        "multi-worker",
        "--out",
        str(run),
        "--epochs",
        "2",
        "--units",
        "8",
        "--max-len",
        "12",
    ]
    codes, logs = wait_for(start_workers(command, tmp_path), tmp_path)
    assert codes == [0, 0], "\n".join(log[-3000:] for log in logs)
    assert "macro_recall" in logs[0] and "macro_recall" in logs[1]
    assert "Epoch 2/2" in logs[0] and "Epoch 1/2" not in logs[1]  # progress on the chief only
    assert {p.name for p in run.iterdir()} >= {"pipeline", "saved_model", "metrics.json", "history.csv"}
    assert not (run / ".backup").exists() and list((tmp_path / "tmp1").iterdir()) == []
    served = serve_without_rnnkit(run / "saved_model", "serve", [["so good", "awful"]])
    np.testing.assert_allclose(np.sum(served["probabilities"], axis=1), 1.0, rtol=1e-5)
    assert len(served["label"]) == 2


def test_multi_worker_without_tf_config_is_refused(tmp_path, monkeypatch, capsys):
    from rnnkit.apps.cli import main

    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert main(["sentiment", "train", "--strategy", "multi-worker", "--out", str(tmp_path / "run")]) == 2
    assert "TF_CONFIG" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_the_command_line_reports_a_lost_worker_in_one_line_with_exit_1(monkeypatch, capsys, tmp_path):
    from rnnkit.apps.base import WorkerLostError
    from rnnkit.apps.cli import COMMANDS, main

    def lost(args, verbose):
        raise WorkerLostError("A worker of the MultiWorkerMirroredStrategy cluster stopped answering (...)")

    monkeypatch.setattr(COMMANDS["sentiment"], "run", lost)
    assert main(["sentiment", "train", "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert (
        err.startswith("rnnkit: error: A worker of the MultiWorkerMirroredStrategy") and err.count("\n") == 1
    )
