"""The README's Python examples run as a newcomer pastes them, with fewer epochs and smaller
embedded data sets (the way the notebooks' quick mode shrinks them), and do what they say."""

import re
from pathlib import Path

import numpy as np
import pytest

README = (Path(__file__).parents[1] / "README.md").read_text()
BLOCKS = re.findall(r"^```python\n(.*?)^```", README, flags=re.S | re.M)

# what quick mode changes, as in the notebooks: epochs, recurrent units, and the sizes of
# each task's embedded data
QUICK = [(r"\bepochs=\d+", "epochs=1"), (r'"epochs": \d+', '"epochs": 1'), (r"\bunits=\d+", "units=16")]
SIZES = {
    "sentiment": "train=300, validation=100, test=100",
    "translation": "n=400",
    "language_model": "max_documents=40",
    "captioning": "n=200",
}


def quick(block):
    for pattern, replacement in QUICK:
        block = re.sub(pattern, replacement, block)
    task = re.search(r"from rnnkit\.apps\.(\w+) import .*\bload_default\b", block)
    if task:
        block = block.replace("load_default()", f"load_default({SIZES[task.group(1)]})")
    return block


def test_the_readme_has_the_examples_this_test_runs():
    assert len(BLOCKS) == 8
    assert all(quick(block) != block for block in BLOCKS[2:])  # every training example is shrunk


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """Every example, in one namespace, in the README's order but for the reload (block 2),
    which reads what the sentiment example (block 3) saves."""
    import os

    folder, namespace = tmp_path_factory.mktemp("readme"), {}
    cwd = os.getcwd()
    os.chdir(folder)  # the examples write to ./runs
    try:
        for index in (0, 2, 1, 3, 4, 5, 6, 7):
            exec(compile(quick(BLOCKS[index]), f"README.md example {index + 1}", "exec"), namespace)
    finally:
        os.chdir(cwd)
    return folder, namespace


def test_every_example_runs_and_writes_what_it_says(ran):
    folder, namespace = ran
    runs = folder / "runs"
    assert (runs / "my-pipeline" / "model.keras").is_file()
    for export in ("my-saved-model", "translator", "lm", "captioner"):
        assert (runs / export / "saved_model.pb").is_file(), export
    assert namespace["model"].count_params() > 0


def test_the_reloaded_sentiment_model_gives_class_probabilities(ran):
    _, namespace = ran
    probabilities = namespace["model"].predict(["not that good tbh"], verbose=0)
    assert probabilities.shape == (1, len(namespace["model"].metadata["labels"]))
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, rtol=1e-5)
