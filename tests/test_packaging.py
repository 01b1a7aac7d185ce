"""`rnnkit` installs as one namespace from the two top-level folders, editable or not."""

import configparser
import re
import subprocess
import sys
from pathlib import Path

import rnnkit.layers

ROOT = Path(__file__).parents[1]

IMPORT = """
import sys
sys.path.insert(0, sys.argv[1])
import rnnkit.apps, rnnkit.layers
from rnnkit.layers import LSTMCell
print(rnnkit.layers.__file__)
print(rnnkit.apps.__file__)
"""


def test_editable_install_maps_layers_folder():
    assert Path(rnnkit.layers.__file__).resolve() == (ROOT / "layers" / "__init__.py").resolve()


def test_normal_install_puts_only_rnnkit_in_site_packages(tmp_path):
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(site),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    installed = {p.name for p in site.iterdir() if not p.name.endswith(".dist-info")}
    assert installed - {"bin"} == {"rnnkit"}  # nothing generic such as `layers` or `apps`
    assert not (site / "rnnkit" / "__init__.py").exists()  # an implicit namespace package
    assert (site / "rnnkit" / "layers" / "_ops" / "recurrence.cc").exists()  # the fused op's source
    completed = subprocess.run(
        [sys.executable, "-c", IMPORT, str(site)],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    layers_file, apps_file = completed.stdout.split()
    assert Path(layers_file).is_relative_to(site) and Path(apps_file).is_relative_to(site)


def test_the_floor_session_pins_setup_cfgs_lowest_pandas_and_numpy():
    """`make test-floor` (run by .ci/run) tests the lowest pandas and numpy setup.cfg allows."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    requires = dict(
        line.split(">=", 1) for line in config["options"]["install_requires"].split() if ">=" in line
    )
    floors = {name: requires[name].split(",")[0] for name in ("pandas", "numpy")}
    line = next(line for line in (ROOT / "Makefile").read_text().splitlines() if line.startswith("FLOOR :="))
    pinned = dict(re.findall(r'"(\w+)==([\d.]+)\.\*"', line))
    assert pinned == floors  # e.g. pandas>=2.2 -> "pandas==2.2.*"
    assert "make test-floor" in (ROOT / ".ci" / "run").read_text()
