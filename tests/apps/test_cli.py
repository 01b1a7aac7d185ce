"""The command line builds what Python builds: options generated from the pipelines' signatures."""

import pytest

from rnnkit.apps.captioning import CaptionPipeline
from rnnkit.apps.cli import COMMANDS, build_parser
from rnnkit.apps.forecasting import ForecastPipeline
from rnnkit.apps.language_model import LanguageModelPipeline
from rnnkit.apps.sentiment import SentimentPipeline
from rnnkit.apps.translation import TranslationPipeline

TASKS = {
    "sentiment": SentimentPipeline,
    "forecast": ForecastPipeline,
    "translate": TranslationPipeline,
    "caption": CaptionPipeline,
    "lm": LanguageModelPipeline,
}


def test_the_registry_holds_the_five_tasks():
    assert {name: command.pipeline for name, command in COMMANDS.items()} == TASKS


@pytest.mark.parametrize("task", TASKS)
def test_train_without_options_builds_the_python_defaults(task):
    """`rnnkit translate train` once built 128 units where `TranslationPipeline()` builds 256."""
    built = COMMANDS[task].make_pipeline(build_parser().parse_args([task, "train"]))
    assert built.get_config() == TASKS[task]().get_config()


@pytest.mark.parametrize("task", TASKS)
def test_each_generated_option_reaches_the_pipeline_with_its_type(task):
    command, defaults = COMMANDS[task], TASKS[task]().get_config()
    for name in command.hyper_parameters:
        flag = "--" + name.replace("_", "-")
        value = {int: "17", float: "0.5"}.get(type(defaults[name]))
        if value is None:
            continue  # a string or None default: passed through as text, checked by the pipeline
        built = command.make_pipeline(build_parser().parse_args([task, "train", flag, value]))
        assert getattr(built, name) == type(defaults[name])(value), flag


def test_run_reads_a_run_and_out_is_its_deprecated_alias(tmp_path, capsys):
    from rnnkit.apps.cli import main

    run = tmp_path / "run"
    pipeline = SentimentPipeline(units=4, embedding_dim=4, max_len=8)
    pipeline.fit(["so good", "not good", "good", "bad"], ["positive", "negative"] * 2, epochs=1, verbose=0)
    pipeline.save(run / "pipeline")
    assert main(["sentiment", "predict", "--run", str(run), "--text", "good"]) == 0
    assert capsys.readouterr().err == ""
    assert main(["sentiment", "predict", "--out", str(run), "--text", "good"]) == 0
    out, err = capsys.readouterr()
    assert "\tgood" in out and "--out to read a run is deprecated; use --run" in err
    assert main(["sentiment", "train", "--run", str(run)]) == 2  # train writes with --out
    assert "`--run`" in capsys.readouterr().err


def test_holdout_is_stratified_where_the_classes_allow():
    from rnnkit.apps.command import holdout

    labels = ["a"] * 5 + ["b"] * 5
    kept, held = holdout(10, 0.2, labels=labels)
    assert sorted(labels[i] for i in held) == ["a", "b"] and len(kept) == 8
    kept, held = holdout(10, 0.2, labels=["a"] * 9 + ["b"])  # "b" has one example: not stratified
    assert len(held) == 2 and sorted([*kept, *held]) == list(range(10))
    assert len(holdout(10, 0.0)[1]) == 0
    with pytest.raises(ValueError, match="`--val-split`"):
        holdout(10, 1.0)


def test_patience_defaults_per_task_and_a_negative_one_is_refused(tmp_path, capsys):
    from rnnkit.apps.cli import main

    patience = {task: build_parser().parse_args([task, "train"]).patience for task in TASKS}
    assert patience == {"sentiment": 2, "forecast": 10, "translate": 0, "caption": 3, "lm": 3}
    assert main(["sentiment", "train", "--patience", "-1", "--out", str(tmp_path / "run")]) == 2
    assert "`--patience`" in capsys.readouterr().err
