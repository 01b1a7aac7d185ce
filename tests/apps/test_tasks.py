"""Every task of the registry passes the same round trip (`tests.helpers.run_pipeline_test`):
fit -> evaluate -> save -> load -> export -> reload, on its own embedded data, shrunk."""

import pytest
import tensorflow as tf

from rnnkit.apps.cli import COMMANDS, build_parser
from tests.helpers import run_pipeline_test
from tests.reliability.runs import CAPTION, FORECAST, LANGUAGE_MODEL, SENTIMENT, TRANSLATION

# each task's smallest default architecture, the sizes of its embedded data, and the raw inputs
# of a deterministic endpoint of its export, from the test split
TASKS = {
    "sentiment": (SENTIMENT, {"train": 60, "validation": 20, "test": 20}, "serve", lambda t: list(t[0][:4])),
    "forecast": (
        {**FORECAST, "quantiles": [0.1, 0.5, 0.9], "multi_step": "autoregressive"},
        {"n": 400},
        "serve",
        lambda t: t[0].iloc[-12:].to_numpy("float32")[None],
    ),
    "translate": (TRANSLATION, {"n": 60}, "translate_greedy", lambda t: list(t[0][:3])),
    "caption": (CAPTION, {"n": 40}, "serve", lambda t: [tf.io.encode_png(i).numpy() for i in t[0][:2]]),
    "lm": (LANGUAGE_MODEL, {"max_documents": 12}, "log_likelihood", lambda t: [t[0][0][:60], "x"]),
}


def test_every_registered_task_is_covered():
    assert sorted(TASKS) == sorted(COMMANDS)


@pytest.mark.parametrize("name", TASKS)
def test_fit_evaluate_save_load_export_reload(name, tmp_path):
    init_kwargs, sizes, endpoint, inputs = TASKS[name]
    command = COMMANDS[name]
    args = build_parser().parse_args([name, "train"])
    args.embedded = sizes
    train, validation, test = command.load_data(args)  # the command line's data, the demo's way
    _, loaded, _ = run_pipeline_test(
        command.pipeline, init_kwargs, (train, validation, test), tmp_path, inputs(test), endpoint
    )
    assert isinstance(loaded, command.pipeline) and loaded.is_fitted
