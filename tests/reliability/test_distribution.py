"""Distribution: `fit(strategy=...)` trains the sentiment and forecasting pipelines under
`MirroredStrategy` over two logical CPUs, and under `MultiWorkerMirroredStrategy` with two local
worker processes, to the metrics of single-device training with the same seed and data.

Tolerance: each epoch is one batch of the whole training set, and dropout is off. Every step then
averages the loss over exactly the examples the single device sees (each replica gets half the
batch, and Keras divides each replica's mean by the number of replicas), so the runs differ only in
the order in which float32 gradients are summed across replicas: measured at most 2e-7 relative
over ten epochs. We allow `RTOL` = 1e-4 on every epoch's loss and on the evaluation metrics, and
`ATOL` = 1e-4 on predicted probabilities; a wrong loss scaling or a lost replica is off by far more.

With several batches per epoch the runs drift apart for two reasons that are no error: under a
strategy Keras's `fit` draws one batch before training (to build the model), which moves the
seeded reshuffling on by one epoch; and each replica draws its own dropout masks.

`MultiWorkerMirroredStrategy` does not get that far: Keras 3.15's `fit` reduces that first batch
with `strategy.reduce`, which this strategy cannot do for a nested batch (keras-team/keras#20585).
Building the model beforehand and skipping that step (tried) only reaches the next failure: the
train step's `reduce_per_replica` takes the multi-worker mean of the scalar logs with `axis=0`
("Invalid reduction dimension 0 for input with 0 dimensions"). Keras 3.15.1 is the newest release.
The test (marked slow) expects the first error, and checks the metrics once Keras is fixed.
"""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from .runs import FORECAST, SENTIMENT

ROOT = Path(__file__).resolve().parents[2]
RTOL = ATOL = 1e-4
SETUP = {
    "seed": 3,
    "epochs": 10,
    # one batch per epoch (24 texts; 90 steps -> 76 windows), no dropout, a rate that moves the loss
    "sentiment": {**SENTIMENT, "batch_size": 24, "dropout": 0.0, "learning_rate": 1e-2},
    "forecast": {**FORECAST, "batch_size": 76, "dropout": 0.0, "learning_rate": 1e-2},
}
KERAS_MULTI_WORKER_BUG = "with an unsupported type (<class 'tensorflow.python.distribute.values.PerReplica'>)"

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

from rnnkit.apps.forecasting import ForecastPipeline
from rnnkit.apps.sentiment import SentimentPipeline
from tests.data import LABELS, TEXTS
from tests.reliability.runs import SERIES

warnings.simplefilter("ignore")  # tiny data
results = {}
for name, strategy in strategies.items():
    sentiment = SentimentPipeline(**setup["sentiment"], seed=setup["seed"])
    history = sentiment.fit(TEXTS, LABELS, epochs=setup["epochs"], strategy=strategy, verbose=0).history
    scores = sentiment.evaluate(TEXTS, LABELS)
    forecast = ForecastPipeline(**setup["forecast"], multi_step="autoregressive", quantiles=[0.1, 0.5, 0.9],
                                seed=setup["seed"])
    forecast_history = forecast.fit(SERIES.iloc[:90], epochs=setup["epochs"], strategy=strategy, verbose=0)
    results[name] = {
        "sentiment loss": history["loss"],
        "sentiment scores": [scores["accuracy"], scores["macro_f1"]],
        "sentiment probabilities": sentiment.predict_proba(TEXTS).to_numpy().tolist(),
        "forecast loss": forecast_history.history["loss"],
        "forecast metrics": forecast.evaluate(SERIES.iloc[60:]),
    }
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
    assert single["sentiment loss"][-1] < 0.9 * single["sentiment loss"][0]  # the runs did learn
    assert single["forecast loss"][-1] < 0.9 * single["forecast loss"][0]


@pytest.fixture(scope="module")
def single_and_mirrored(tmp_path_factory):
    out = tmp_path_factory.mktemp("mirrored") / "results.json"
    process = _train("mirrored", out, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log, _ = process.communicate(timeout=600)
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


@pytest.mark.slow  # two more processes (about 12 s), which Keras 3.15 stops at the first batch (see below)
def test_multi_worker_mirrored_strategy_with_two_workers_trains_as_one_device(single_and_mirrored, tmp_path):
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
    out, workers = tmp_path / "results.json", []
    for index in range(2):
        config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        with (tmp_path / f"worker{index}.log").open("w") as log:
            workers.append(_train("multi_worker", out, {"TF_CONFIG": config}, stdout=log, stderr=log))
    # a worker whose peer died waits for it forever: give it a little time, then end it
    deadline = time.monotonic() + 600
    while any(w.poll() is None for w in workers) and time.monotonic() < deadline:
        if any(w.poll() not in (None, 0) for w in workers):
            deadline = min(deadline, time.monotonic() + 30)
        time.sleep(0.2)
    for worker in workers:
        if worker.poll() is None:
            worker.kill()
        worker.wait()
    logs = [(tmp_path / f"worker{index}.log").read_text() for index in range(2)]
    if any(w.returncode != 0 for w in workers):
        if all(KERAS_MULTI_WORKER_BUG in log for log in logs):
            # Keras 3.15's fit reduces its first batch with `strategy.reduce("MEAN", (x, y))` to build
            # the model; MultiWorkerMirroredStrategy cannot reduce a nested structure
            # (keras-team/keras#20585). When Keras fixes it, this test checks the metrics.
            pytest.xfail("Keras 3.15 fit() under MultiWorkerMirroredStrategy: " + KERAS_MULTI_WORKER_BUG)
        pytest.fail("a worker failed:\n" + "\n".join(log[-3000:] for log in logs))
    assert_same_training(json.loads(out.read_text())["multi_worker"], single_and_mirrored["single"])
