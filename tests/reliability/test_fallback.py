"""A compiler that fails: from `make install` to a trained pipeline, with one warning.

On a machine where the op cannot be built (no compiler, or headers that do not compile, as
TensorFlow 2.21's Eigen under g++ 12 with AVX512-FP16), nothing may stop: the Makefile's
build step says so in one warning line and exits 0, and a pipeline then trains, predicts
and exports with the plain loop, warning once, to the same results as the fused op.
The failing compiler here prints the real error that machine gave.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from rnnkit.layers import fused

from .runs import TEXTS, train

ROOT = Path(__file__).resolve().parents[2]
ERROR = (
    "PacketMathFP16.h:740:49: error: expected initializer before '<' token\n"
    "  740 | EIGEN_STRONG_INLINE Packet16h predux_half_dowto4<Packet32h>(const Packet32h& a) {"
)
COMPILER = f"""#!/bin/sh
case " $* " in *" -shared "*) echo compile >> "$(dirname "$0")/calls";; esac
case " $* " in *" -E "*) exit 0;; esac
cat >&2 <<'EOF'
{ERROR}
EOF
exit 1
"""
PIPELINE = """
import json, warnings
warnings.simplefilter("always")
from rnnkit.layers import Recurrent
from tests.reliability.runs import TEXTS, train_sentiment
run = train_sentiment()
layers = [l for l in run.pipeline.model._flatten_layers() if isinstance(l, Recurrent)]
assert layers and all(layer.fused_kernel(training=True) is None for layer in layers)
run.pipeline.export(__import__("sys").argv[1])
print(json.dumps({"history": run.history, "proba": run.pipeline.predict_proba(TEXTS).values.tolist()}))
"""


def test_a_failing_compiler_ends_in_one_warning_and_the_plain_loop(tmp_path):
    compiler = tmp_path / "bin" / "g++"
    compiler.parent.mkdir()
    compiler.write_text(COMPILER)
    compiler.chmod(0o755)
    installed = tmp_path / "installed"  # the install step's stamp, newer than setup.cfg: not redone
    installed.touch()
    env = {**os.environ, "CXX": str(compiler), "RNNKIT_CACHE": str(tmp_path / "cache")}
    env.pop("MAKEFLAGS", None)
    make = subprocess.run(
        ["make", "--no-print-directory", "install", f"BIN={Path(sys.executable).parent}",
         f"STAMP={installed}", f"OPS={tmp_path / 'ops'}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert make.returncode == 0, make.stderr[-2000:]
    said = [line for line in (make.stdout + make.stderr).splitlines() if "rnnkit" in line.lower()]
    warnings = [line for line in said if line.startswith("WARNING:")]
    assert len(warnings) == 1, said
    assert "plain TensorFlow loop" in warnings[0] and "expected initializer before '<' token" in warnings[0]

    pipeline = subprocess.run(
        [sys.executable, "-c", PIPELINE, str(tmp_path / "export")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert pipeline.returncode == 0, pipeline.stderr[-3000:]
    assert pipeline.stderr.count("fused recurrence is unavailable") == 1, pipeline.stderr[-3000:]
    assert (tmp_path / "bin" / "calls").read_text().split() == ["compile"]  # remembered: built once
    assert (tmp_path / "export" / "saved_model.pb").exists()

    if fused.available():  # the same seeded run on the fused op gives the same results
        plain = json.loads(pipeline.stdout.splitlines()[-1])
        run = train("sentiment")
        for key, values in run.history.items():
            np.testing.assert_allclose(plain["history"][key], values, rtol=1e-4, atol=1e-5, err_msg=key)
        np.testing.assert_allclose(plain["proba"], run.pipeline.predict_proba(TEXTS).values, atol=1e-4)
