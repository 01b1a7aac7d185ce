"""The benchmarks run (in a tiny quick mode); their numbers are measured by hand, not here."""

from benchmarks import recurrent_speed


def test_recurrent_speed_quick_run_times_every_row(capsys):
    (times,) = recurrent_speed.main(["--quick"]).values()
    expected = {
        (family, mode, name)
        for family, (_, builtin, _, _) in recurrent_speed.FAMILIES.items()
        for mode in ("train", "infer")
        for name in recurrent_speed.IMPLEMENTATIONS
        if (name != "PyTorch" or recurrent_speed.torch is not None)
        and (name != "Keras built-in" or builtin is not None)
    }
    assert set(times) == expected
    assert all(seconds > 0 for seconds in times.values())
    out = capsys.readouterr().out
    assert "vs PyTorch" in out and "LSTM training over sequence length" in out
    assert "`model.fit` epochs" in out and "| LSTM | rnnkit Recurrent(cell) |" in out.split("model.fit")[-1]


def test_forecast_real_judges_the_pipelines_defaults_on_the_monthly_series(tmp_path):
    """AirPassengers ships with statsforecast: m = 12 comes from its month-end index."""
    from benchmarks import forecast_real

    output = tmp_path / "forecast.md"
    argv = ["--datasets", "air_passengers", "--epochs", "1", "--seeds", "0", "1", "--output", str(output)]
    result = forecast_real.main(argv)["air_passengers"]
    assert result["kwargs"] == {"target": "y", "lookback": 24, "horizon": 12, "quantiles": [0.1, 0.5, 0.9]}
    assert result["pipeline"].state["season"] == 12 and result["pipeline"].cell == "gru"
    text = output.read_text()
    assert "m = 12 (from the index)" in text and "| pinball | coverage |" in text
    assert "| AutoARIMA |" in text and "MASE ratio rnnkit / best baseline (" in text
    assert "seed 0: " in text and "seed 1: " in text
