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
