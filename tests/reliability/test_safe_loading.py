"""Safe loading: the `.keras` file in every saved pipeline loads with `safe_mode=True` in a fresh
process, where only importing rnnkit registers its classes, and computes what it did when saved:
from raw inputs (tweets, raw values) where the pipeline saves its task, the network with its
preprocessing. Its config holds no lambda and no pickled code: only Keras classes and rnnkit's
registered ones; vocabularies are text assets."""

import importlib
import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from tests.data import TEXTS

from .runs import DOCUMENTS, PAIRS, SCENES, SERIES

TASKS = ("sentiment", "forecast", "translation", "caption", "language_model")

LOAD = """
import importlib, json, sys
import keras, numpy as np
for folder in sys.argv[1:]:  # one pipeline after another: each needs only its own module
    # what Pipeline.load imports: the module of the saved pipeline's class, which registers its layers
    module = json.load(open(folder + "/config.json"))["class"].rpartition(".")[0]
    importlib.import_module(module)
    model = keras.saving.load_model(folder + "/model.keras", safe_mode=True)
    inputs = np.load(folder + "/inputs.npz")
    x = [inputs[f"arr_{i}"] for i in range(len(inputs.files))]
    if hasattr(model, "generate_graph"):  # a generator: greedy, the one deterministic decoding
        outputs = model.generate_graph(x[0], method="greedy")
    else:
        outputs = model(x[0] if len(x) == 1 else tuple(x), training=False)
    outputs = keras.ops.convert_to_numpy(outputs)
    np.save(folder + "/outputs.npy", outputs.astype("S") if outputs.dtype == object else outputs)
"""


def model_inputs(task, pipeline):
    """A batch of raw inputs: what a user hands the loaded model."""
    if task == "sentiment":
        return [np.array(TEXTS[:6])]
    if task == "forecast":
        values = pipeline.check_data(SERIES).to_numpy().astype("float32")
        ends = np.linspace(pipeline.lookback, len(values), 3).astype(int)
        return [np.stack([values[end - pipeline.lookback : end] for end in ends])]
    if task == "language_model":
        return [np.array([DOCUMENTS[0][:40], ""])]
    if task == "translation":
        return [np.array(list(PAIRS.source[:4]))]
    return [pipeline.check_images(SCENES[0][:4])]


def expected_outputs(pipeline, inputs):
    task = pipeline.task
    if hasattr(task, "generate_graph"):
        return task.generate_graph(inputs[0], method="greedy").numpy()
    return np.asarray(task(inputs[0], training=False))


@pytest.fixture(scope="module")
def saved(sentiment_run, forecast_run, translation_run, caption_run, language_model_run, tmp_path_factory):
    """`{task: (folder, expected outputs)}`, each loaded in one fresh process."""
    runs = (sentiment_run, forecast_run, translation_run, caption_run, language_model_run)
    runs = dict(zip(TASKS, runs, strict=True))
    root = tmp_path_factory.mktemp("safe_loading")
    folders = {}
    for task, run in runs.items():
        pipeline = run.pipeline
        folder = pipeline.save(root / task)
        inputs = model_inputs(task, pipeline)
        np.savez(folder / "inputs.npz", *inputs)
        folders[task] = folder, expected_outputs(pipeline, inputs)
    subprocess.run(
        [sys.executable, "-c", LOAD, *[str(folder) for folder, _ in folders.values()]],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return folders


@pytest.mark.parametrize("task", TASKS)
def test_model_loads_in_safe_mode_and_computes_the_same(saved, task):
    folder, expected = saved[task]
    outputs = np.load(folder / "outputs.npy", allow_pickle=False)
    if expected.dtype.kind in "SO":  # generated text
        assert outputs.astype(str).tolist() == expected.astype(str).tolist()
    else:  # a fresh process and the same weights: equal up to the float32 rounding of its thread pool
        np.testing.assert_allclose(outputs, expected, rtol=1e-6, atol=1e-6)


def objects(config):
    """Every serialized object (a dict with `class_name`) in a `.keras` config, depth first."""
    if isinstance(config, dict):
        if "class_name" in config:
            yield config
        for value in config.values():
            yield from objects(value)
    elif isinstance(config, list):
        for value in config:
            yield from objects(value)


@pytest.mark.parametrize("task", TASKS)
def test_saved_config_holds_no_code(saved, task):
    folder, _ = saved[task]
    with zipfile.ZipFile(folder / "model.keras") as archive:
        names = set(archive.namelist())
        files = {"config.json", "metadata.json", "model.weights.h5"}
        assert files <= names
        assets = names - files  # vocabularies, as text: no pickle
        assert all(name.startswith("assets/") and name.endswith(".txt") for name in assets)
        text = archive.read("config.json").decode()
    assert "lambda" not in text.lower()  # neither a Lambda layer nor a serialized `__lambda__`
    for item in objects(json.loads(text)):
        module = item.get("module") or ""
        if item["class_name"] == "function":  # a function, found by its registration (`normalize_tweets`)
            assert module == "builtins" and item["config"].startswith("rnnkit>"), item
            continue
        assert module.split(".")[0] in ("", "keras", "rnnkit"), item["class_name"]  # nothing else imported
        assert item["class_name"] not in ("__lambda__", "Lambda"), item
        if module.startswith("rnnkit"):  # found by its registration, not by importing a module path
            assert item["registered_name"] == f"rnnkit>{item['class_name']}"


@pytest.mark.parametrize(
    "header",
    [
        {"class": "os.system", "config": {}},  # would import and call any module a file names
        {"class": "rnnkit.apps.sentiment.pipeline.NoSuchPipeline", "config": {}},
        {"config": {}},
        ["not", "a", "dict"],
    ],
    ids=["foreign-module", "unknown-class", "no-class", "not-a-dict"],
)
def test_a_tampered_pipeline_folder_is_refused_before_importing(header, tmp_path, monkeypatch):
    from rnnkit.apps.base import Pipeline

    imported = []
    real_import = importlib.import_module
    monkeypatch.setattr(importlib, "import_module", lambda name: imported.append(name) or real_import(name))
    (tmp_path / "config.json").write_text(json.dumps(header))
    with pytest.raises(ValueError, match="`path`"):
        Pipeline.load(tmp_path)
    assert all(name.startswith("rnnkit.apps.") for name in imported)


def test_a_folder_of_another_format_version_is_refused_naming_it(tmp_path):
    from rnnkit.apps.sentiment import SentimentPipeline

    header = {"class": "rnnkit.apps.sentiment.pipeline.SentimentPipeline", "format_version": 1, "config": {}}
    (tmp_path / "config.json").write_text(json.dumps(header))  # what rnnkit wrote before tasks
    with pytest.raises(ValueError, match="format version 1; this version of rnnkit reads version 2"):
        SentimentPipeline.load(tmp_path)
