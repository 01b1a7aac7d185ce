"""`rnnkit demo` end to end, and the adding problem it trains on."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rnnkit.apps.cli import main
from rnnkit.apps.demo import BASELINE_MSE, adding_problem, run_adding_demo


def test_adding_problem_targets_are_the_marked_sums():
    x, y = adding_problem(500, 12, seed=3)
    assert x.shape == (500, 12, 2) and y.shape == (500, 1)
    assert np.all(x[..., 1].sum(axis=1) == 2)
    first = x[:, :6, 1].argmax(axis=1)  # one mark in each half
    second = 6 + x[:, 6:, 1].argmax(axis=1)
    rows = np.arange(500)
    np.testing.assert_allclose(y[:, 0], x[rows, first, 0] + x[rows, second, 0], rtol=1e-6)


def test_baseline_is_the_variance_of_the_target():
    _, y = adding_problem(20000, 10, seed=1)
    assert abs(np.mean((y - 1.0) ** 2) - BASELINE_MSE) < 0.01


def test_demo_learns_exports_and_reloads(tmp_path):
    result = run_adding_demo(out=tmp_path, samples=2000, epochs=6, verbose=0)
    assert result["test_mse"] < BASELINE_MSE / 10  # learned to remember, not the mean
    assert result["max_export_difference"] < 1e-5  # the SavedModel serves the same model
    assert (tmp_path / "saved_model" / "saved_model.pb").exists()
    assert json.loads((tmp_path / "metrics.json").read_text())["test_mse"] == result["test_mse"]


def test_cli_demo_runs_every_pipeline_and_refuses_to_overwrite(tmp_path, capsys):
    args = ["demo", "--cell", "esn", "--epochs", "1", "--out", str(tmp_path), "--quiet", "--quick"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "adding problem, esn cell: test MSE" in out and "tweet sentiment, esn cell" in out
    assert "forecasting, esn cell" in out and (tmp_path / "forecast" / "saved_model").exists()
    assert "translation, esn cell" in out and (tmp_path / "translation" / "saved_model").exists()
    assert "captioning, esn cell" in out and (tmp_path / "captioning" / "captions.png").exists()
    assert "language model, esn cell" in out and (tmp_path / "language_model" / "saved_model").exists()
    exported = tmp_path / "adding" / "saved_model" / "saved_model.pb"
    assert exported.exists() and (tmp_path / "sentiment" / "saved_model" / "saved_model.pb").exists()
    stamp = exported.stat().st_mtime_ns
    assert main(args) == 2
    assert "overwrite" in capsys.readouterr().err
    assert exported.stat().st_mtime_ns == stamp  # nothing was touched


def test_cli_rejects_unknown_cell(tmp_path, capsys):
    assert main(["demo", "--cell", "transformer", "--out", str(tmp_path), "--quiet"]) == 2
    assert "`cell`" in capsys.readouterr().err


SCRIPT = str(Path(sys.executable).parent / "rnnkit")  # the console script beside this Python


@pytest.mark.parametrize(
    "command", [[SCRIPT], [sys.executable, "-m", "rnnkit.apps"]], ids=["script", "module"]
)
def test_entry_points_show_help(command):
    completed = subprocess.run([*command, "--help"], capture_output=True, text=True, timeout=120, check=True)
    assert "demo" in completed.stdout
