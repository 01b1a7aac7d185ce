"""The benchmarks run (in a tiny quick mode); their numbers are measured by hand, not here."""

from benchmarks import recurrent_speed


def test_recurrent_speed_quick_run_measures_every_row(capsys):
    rates = recurrent_speed.main(["--quick"])
    assert set(rates) == {
        (family, name) for family in recurrent_speed.FAMILIES for name in recurrent_speed.IMPLEMENTATIONS
    }
    assert all(rate > 0 for rate in rates.values())
    assert "ratio to Keras built-in" in capsys.readouterr().out
