"""The export contract, for every pipeline at once: its SavedModel, loaded in a fresh process in
which `import rnnkit` fails, answers at every signature what the pipeline answers in process
(numbers within 1e-5, text exactly); text inputs are `tf.string`; `saved_model_cli show --all`
lists every signature. The serving process imports TensorFlow and `tensorflow_text`, whose
import registers the WordPiece ops the translation export tokenizes and detokenizes with
(the other exports need TensorFlow alone).

The per-pipeline tests in `tests/apps/` check each export's own cases (unknown words, huge or
empty texts, grayscale images, error messages); this one checks the same contract for all five,
every signature (`serving_default` included), in one process.
"""

import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests.data import TEXTS

from .runs import PAIRS, SCENES, SERIES

TOLERANCE = 1e-5
TEXT_TASKS = ("sentiment", "translation", "caption", "language_model")

SERVE = """
import contextlib, io, json, sys
sys.modules["rnnkit"] = None  # `import rnnkit` fails from here on: the exports must stand alone
import tensorflow as tf
import tensorflow_text  # registers the WordPiece ops of the translation export
from tensorflow.python.tools import saved_model_cli  # what the `saved_model_cli` command runs

root = sys.argv[1]
manifest = json.load(open(root + "/manifest.json"))
report = {}
for task, dtype in manifest.items():
    folder = f"{root}/{task}"
    model = tf.saved_model.load(folder + "/export")  # keep a reference: it owns the variables
    inputs = tf.io.parse_tensor(tf.io.read_file(folder + "/inputs.pb"), tf.dtypes.as_dtype(dtype))
    report[task] = {"signatures": {}}
    for name, signature in model.signatures.items():
        (input_name, spec), = signature.structured_input_signature[1].items()
        outputs = signature(**{input_name: inputs})
        for key, value in outputs.items():
            tf.io.write_file(f"{folder}/{name}.{key}.pb", tf.io.serialize_tensor(value))
        dtypes = {key: value.dtype.name for key, value in outputs.items()}
        report[task]["signatures"][name] = {"input_dtype": spec.dtype.name, "outputs": dtypes}
    shown = io.StringIO()
    sys.argv = ["saved_model_cli", "show", "--all", "--dir", folder + "/export"]
    with contextlib.redirect_stdout(shown), contextlib.suppress(SystemExit):
        saved_model_cli.main()
    report[task]["saved_model_cli"] = shown.getvalue()
json.dump(report, open(root + "/served.json", "w"))
"""


def _inputs():
    """The raw inputs of each task's export, as the serving signatures take them."""
    images, _ = SCENES
    lookback = 12  # runs.FORECAST
    ends = (60, 90, 120)
    return {
        "sentiment": [*TEXTS[:6], "", "wörds never seen ☃"],
        "forecast": np.stack([SERIES.to_numpy("float32")[end - lookback : end] for end in ends]),
        "translation": [*PAIRS.source[:4], "", "zyzzyva qwerty ."],
        "caption": [tf.io.encode_png(image).numpy() for image in images[:3]],
        "language_model": ["Return the value.", "", "ωψ☃"],
    }


def _expected(task, pipeline, inputs):
    """`{signature: {output: value}}` from the pipeline's own verbs, in process."""
    if task == "sentiment":
        served = {
            "label": np.array(pipeline.predict(inputs)),
            "probabilities": pipeline.predict_proba(inputs),
        }
        return {"serve": served, "serving_default": served}
    if task == "forecast":
        frames = [pipeline.predict(SERIES.iloc[:end]) for end in (60, 90, 120)]
        targets, levels = pipeline.state["targets"], pipeline.quantiles
        served = {
            "forecast": np.stack([frame[targets].to_numpy() for frame in frames]),
            "quantiles": np.stack(
                [
                    np.stack([frame[[f"{t}_q{q:g}" for t in targets]].to_numpy() for q in levels], axis=-1)
                    for frame in frames
                ]
            ),
        }
        return {"serve": served, "serving_default": served}
    if task == "translation":
        greedy, beam = (pipeline.translate(inputs, method=m) for m in ("greedy", "beam"))
        names = {"serve": beam, "serving_default": beam, "translate": beam}
        names |= {"translate_beam": beam, "translate_greedy": greedy}
        return {name: {"output_0": np.array(texts)} for name, texts in names.items()}
    if task == "caption":
        greedy, beam = (pipeline.generate(inputs, method=m) for m in ("greedy", "beam"))
        names = {"serve": greedy, "serving_default": greedy, "generate": greedy, "generate_beam": beam}
        return {name: {"output_0": np.array(texts)} for name, texts in names.items()}
    sampled = None  # sampled text: its form only
    return {
        "serve": {"output_0": sampled},
        "serving_default": {"output_0": sampled},
        "generate": {"output_0": sampled},
        "log_likelihood": {"output_0": pipeline.log_likelihood(inputs)},
    }


@pytest.fixture(scope="module")
def served(tmp_path_factory, sentiment_run, forecast_run, translation_run, caption_run, language_model_run):
    """Every export served in one fresh process: `(pipelines, inputs, report, root)`."""
    root = tmp_path_factory.mktemp("exports")
    pipelines = {
        "sentiment": sentiment_run.pipeline,
        "forecast": forecast_run.pipeline,
        "translation": translation_run.pipeline,
        "caption": caption_run.pipeline,
        "language_model": language_model_run.pipeline,
    }
    inputs, manifest = _inputs(), {}
    for task, pipeline in pipelines.items():
        pipeline.export(root / task / "export")
        tensor = tf.constant(inputs[task])
        tf.io.write_file(str(root / task / "inputs.pb"), tf.io.serialize_tensor(tensor))
        manifest[task] = tensor.dtype.name
    (root / "manifest.json").write_text(json.dumps(manifest))
    completed = subprocess.run(
        [sys.executable, "-c", SERVE, str(root)], capture_output=True, text=True, timeout=600
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return pipelines, inputs, json.loads((root / "served.json").read_text()), root


def _output(root, task, signature, key, dtype):
    value = tf.io.parse_tensor(tf.io.read_file(str(root / task / f"{signature}.{key}.pb")), dtype).numpy()
    return value.astype(str) if value.dtype == object else value  # tf.string arrives as bytes


@pytest.mark.parametrize("task", ["sentiment", "forecast", "translation", "caption", "language_model"])
def test_every_signature_serves_what_the_pipeline_computes(served, task):
    pipelines, inputs, report, root = served
    expected = _expected(task, pipelines[task], inputs[task])
    signatures = report[task]["signatures"]
    # every endpoint the pipeline declares, and Keras's serving_default
    assert set(signatures) == set(expected) == {"serving_default", *pipelines[task].endpoints()}
    for name, info in signatures.items():
        assert set(info["outputs"]) == set(expected[name]), name
        for key, want in expected[name].items():
            got = _output(root, task, name, key, tf.dtypes.as_dtype(info["outputs"][key]))
            if want is None:  # sampled text: one string per input
                assert got.shape == (len(inputs[task]),) and info["outputs"][key] == "string", name
            elif np.asarray(want).dtype.kind in "fc":
                np.testing.assert_allclose(got, want, rtol=TOLERANCE, atol=TOLERANCE, err_msg=f"{name}.{key}")
            else:
                np.testing.assert_array_equal(got, np.asarray(want).astype(str), err_msg=f"{name}.{key}")


@pytest.mark.parametrize("task", ["sentiment", "forecast", "translation", "caption", "language_model"])
def test_inputs_are_typed_and_saved_model_cli_lists_every_signature(served, task):
    _, _, report, _ = served
    signatures, shown = report[task]["signatures"], report[task]["saved_model_cli"]
    want = "string" if task in TEXT_TASKS else "float32"
    assert {info["input_dtype"] for info in signatures.values()} == {want}
    for name in signatures:
        assert f"signature_def['{name}']:" in shown
    assert {"string": "dtype: DT_STRING", "float32": "dtype: DT_FLOAT"}[want] in shown
