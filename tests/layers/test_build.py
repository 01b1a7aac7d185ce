"""Building the fused op (`rnnkit.layers.fused.build`): named targets, never another CPU's build.

The op must build on every x86-64 CPU that TensorFlow's wheel runs on, not only on the
machine that runs the suite: `test_the_op_compiles_for_every_target` compiles it for a
spread of instruction-set targets (compiling needs no such CPU), so a header that breaks
under one of them fails here on any machine. Builds are cached under a name that holds the
target; a failed build is remembered, so that later processes do not compile again.
"""

import os
import subprocess
import sys

import pytest

from rnnkit.layers import fused

AVX2 = "fpu sse sse2 ssse3 sse4_1 sse4_2 cx16 lahf_lm popcnt avx avx2 bmi1 bmi2 f16c fma abm movbe xsave"
AVX512 = AVX2 + " avx512f avx512bw avx512cd avx512dq avx512vl avx512fp16 amx_tile"


@pytest.mark.parametrize(
    ("flags", "machine", "target"),
    [
        (AVX512, "x86_64", "x86-64-v4"),  # Sapphire Rapids: FP16 and AMX play no part
        (AVX512.replace("avx512vl", ""), "x86_64", "x86-64-v3"),  # one v4 feature missing
        (AVX2, "x86_64", "x86-64-v3"),  # Zen 3, Haswell
        (AVX2.replace("avx2", ""), "x86_64", "x86-64-v2"),
        ("fpu sse sse2", "x86_64", "x86-64"),
        ("", "aarch64", "generic"),  # the compiler's default for the architecture
        ("", "arm64", "generic"),
    ],
)
def test_the_target_is_the_best_level_the_cpu_runs(flags, machine, target):
    assert fused.cpu_target(flags.split(), machine) == target


def test_this_machine_has_a_named_target():
    assert fused.cpu_target() in {*fused.X86_TARGETS, "x86-64", fused.GENERIC}


def working_compiler():
    """The compiler builds would use, if it compiles a trivial program; else None."""
    compiler = fused._compiler()
    try:
        result = subprocess.run(
            [compiler, "-x", "c++", "-fsyntax-only", "-"], input="int main() { return 0; }\n",
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    return compiler if result.returncode == 0 else None


# sapphirerapids turns on AVX512-FP16, under which TensorFlow 2.21's Eigen does not compile
# with g++ 12: the build must turn it off. The others span Intel and AMD, old and new. Each
# is compiled with the build's flags to the end of semantic analysis (`-fsyntax-only`: the
# headers parsed and every template instantiated for that target, about half the time of a
# whole build); the suite builds, loads and runs this machine's target in full.
SPREAD = ["x86-64-v2", "x86-64-v3", "x86-64-v4", "skylake-avx512", "sapphirerapids", "znver3"]


@pytest.mark.skipif(working_compiler() is None, reason="no working C++ compiler: the plain loop runs")
@pytest.mark.parametrize("target", SPREAD)
def test_the_op_compiles_for_every_target(target):
    if fused.cpu_target() == fused.GENERIC:
        pytest.skip("x86-64 targets: this machine's compiler is not an x86-64 compiler")
    fused._compile(fused._compiler(), target)  # raises, naming the compiler's first error


def test_sapphire_rapids_builds_without_avx512_fp16():
    if working_compiler() is None or fused.cpu_target() == fused.GENERIC:
        pytest.skip("needs an x86-64 C++ compiler")
    assert "-mno-avx512fp16" in fused._target_flags(fused._compiler(), "sapphirerapids")
    for target in fused.X86_TARGETS:  # the levels never turn it on
        assert fused._target_flags(fused._compiler(), target) == [f"-march={target}"]
    assert fused._target_flags(fused._compiler(), fused.GENERIC) == []


@pytest.fixture
def stub_compiler(tmp_path, monkeypatch):
    """Builds into tmp_path with a stand-in for the compiler; `calls` lists the targets built."""
    calls = []

    def compile_stub(compiler, target, output):
        calls.append(target)
        if target == "broken":
            raise RuntimeError(f"{compiler} failed to build recurrence.cc for broken: error: no")
        with open(output, "w") as library:
            library.write(target)

    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path))
    monkeypatch.setattr(fused, "_compile", compile_stub)
    return calls


def test_a_build_is_cached_per_target_and_never_loads_another_cpus(stub_compiler, tmp_path):
    v3, v4 = fused.build("x86-64-v3"), fused.build("x86-64-v4")
    assert v3 != v4 and {v3.read_text(), v4.read_text()} == {"x86-64-v3", "x86-64-v4"}
    assert "x86-64-v3" in v3.name and "x86-64-v4" in v4.name
    assert fused.build("x86-64-v3") == v3 and stub_compiler == ["x86-64-v3", "x86-64-v4"]  # cached
    stale = tmp_path / "recurrence_x86-64-v3_0123456789abcdef.so"  # this target, older sources
    stale.write_text("old")
    v3.unlink()
    fused.build("x86-64-v3")
    assert not stale.exists() and v4.exists()  # another CPU's build in a shared home stays


def test_a_failed_build_is_remembered_per_compiler(stub_compiler, tmp_path, monkeypatch):
    monkeypatch.setenv("CXX", "g++-12")
    for _ in range(2):
        with pytest.raises(RuntimeError, match="g\\+\\+-12 failed to build recurrence.cc for broken"):
            fused.build("broken")
    assert stub_compiler == ["broken"]  # the second call read the record: no compile
    with pytest.raises(RuntimeError):
        fused.build("broken", retry=True)
    monkeypatch.setenv("CXX", "clang++")  # another compiler tries again
    with pytest.raises(RuntimeError, match="clang"):
        fused.build("broken")
    assert stub_compiler == ["broken"] * 3
    assert not list(tmp_path.glob("*.so")) and not list(tmp_path.glob("tmp*"))  # nothing half-written


def test_prebuild_reports_a_failure_as_one_warning_line(stub_compiler, monkeypatch):
    monkeypatch.setattr(fused, "cpu_target", lambda: "broken")
    report = fused.prebuild()
    assert report.startswith("WARNING: rnnkit's fused recurrence is unavailable") and "\n" not in report
    assert "plain TensorFlow loop" in report and "error: no" in report
    monkeypatch.setattr(fused, "cpu_target", lambda: "x86-64-v3")
    assert fused.prebuild().startswith("rnnkit: built the fused recurrence for x86-64-v3")


def test_build_reports_the_compilers_first_error(tmp_path, monkeypatch):
    if working_compiler() is None:
        pytest.skip("no working C++ compiler")
    source = tmp_path / "recurrence.cc"
    source.write_text("this is not C++\n")
    for header in fused.HEADERS:
        (tmp_path / header).write_text("")
    monkeypatch.setattr(fused, "SOURCE", source)
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path / "cache"))
    with pytest.raises(RuntimeError, match="failed to build recurrence.cc for .*error"):
        fused.build(retry=True)
    assert [p.suffix for p in (tmp_path / "cache").iterdir()] == [".failed"]  # no half-written library


def test_without_a_compiler_the_layers_warn_once_and_run_keras_loop(tmp_path):
    script = """
import warnings
import numpy as np
from rnnkit.layers import LSTMCell, Recurrent
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    layer = Recurrent(LSTMCell(3))
    out = layer(np.ones((2, 4, 5), "float32"))
    layer(np.ones((2, 4, 5), "float32"))
assert layer.fused_kernel() is None and out.shape == (2, 3)
messages = [str(w.message) for w in caught if "fused recurrence is unavailable" in str(w.message)]
assert len(messages) == 1 and "no-such-compiler" in messages[0], messages
print("ok")
"""
    env = {**os.environ, "CXX": "no-such-compiler", "RNNKIT_CACHE": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-2000:]
