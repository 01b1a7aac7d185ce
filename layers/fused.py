"""The fast path: the time loop of rnnkit's cells as one compiled op (CPU) or cuDNN (GPU).

`Recurrent` splits a recurrent layer at the kernel/recurrent seam: `x_t W + b` has no
time dependence, and only `h_{t-1} U` and the gate arithmetic are sequential. TensorFlow
runs Keras's loop one small op at a time, and each op costs microseconds of dispatch that
its arithmetic does not. `kernel_for(cell)` picks what runs the loop instead:

- **CPU: the fused op** (`_ops/recurrence.cc`), for `SimpleRNNCell`, `LeakyRNNCell` and
  `EchoStateCell` with `tanh`, `LSTMCell` and `GRUCell` (both `reset_after` settings) with
  `tanh` and `sigmoid`; float32; no recurrent dropout while training.
  - `W` and `U` are packed once per call; each step computes `x_t W + h_{t-1} U` for the
    shard's rows as one register-blocked product (`_ops/gemm.h`) that sums both terms in
    the same registers, then the gate arithmetic row by row, in place;
  - the batch is cut into one shard per intra-op thread, and each shard runs its whole
    time loop on its own core; the shards beyond the calling thread's run on the op's own
    helper threads (`_ops/crew.h`), which spin for a few milliseconds between ops instead
    of parking as TensorFlow's pool threads do;
  - the gates kept for the gradient are written only while training, time-major;
  - the gradient op runs the loop backwards and, while each step's gradients are in
    cache, adds them to the weight gradients `dU`, `dW`, `db` itself; it returns `dA`, and
    `dX = dA W^T` is one matrix product here, which TensorFlow drops when nothing needs it.
- **GPU: cuDNN**, for `LSTMCell` and `GRUCell` (`reset_after=True`) with `tanh` and
  `sigmoid`, a bias, and no recurrent dropout while training: through the TensorFlow
  backend's `lstm`/`gru`, the functions `keras.layers.LSTM`/`GRU` call, with the same
  arguments. A mask that is not right-padded (or a row with no step at all) takes the plain
  loop at run time, where Keras's own layers would fail. Elman, leaky and echo-state cells
  run the plain loop on a GPU.

Anything else takes the cells' own `recurrent_step` through Keras's loop: the same
equations (tested to 1e-5 in value and gradient), in plain TensorFlow ops. So does every
trace inside `portable()`, inside `tf.saved_model.save` and under XLA (`jit_compile`),
which can compile neither the op nor cuDNN's.

**Building the op.** It is compiled from source on first use, or by `make install`
(`prebuild()`), with the C++ compiler that `CXX` names (default `g++`) and TensorFlow's
own flags, for a named instruction-set target, never `-march=native`: on x86-64 the best
of `x86-64-v4` (AVX-512), `x86-64-v3` (AVX2, FMA) and `x86-64-v2` that the CPU runs, read
from its feature flags at load time (`cpu_target()`); elsewhere (aarch64, ...) the
compiler's default for that architecture. The library's name holds the target and a hash
of the sources, TensorFlow and the flags, so a home folder shared by machines with
different CPUs never loads another CPU's build. Builds live in `RNNKIT_CACHE` (default
`~/.cache/rnnkit`, else next to the source). A build that cannot be made (no compiler, a
failing one, headers that do not compile) is never an error: the layers warn once per
process, naming the reason, and run the plain loop; the failure is remembered next to
where the build would be, so later processes do not compile again with the same compiler
(`prebuild()` always tries again).

**Exports stay portable.** A SavedModel holding the op would load only where the op is
registered, and one holding `CudnnRNNV3` only on a GPU (keras-team/keras#18504), so
exports and `.keras` files never contain either: rnnkit's pipelines export inside
`portable()`, and `model.export` and `tf.saved_model.save` trace what they save inside
TensorFlow's save context, which `kernel_for` honours too (`_keras_compat.in_save_context`).
For any other tracing meant for a SavedModel, use `portable()`:

>>> from rnnkit.layers import fused
>>> with fused.portable():
...     pass  # serve = tf.function(model).get_concrete_function(spec)
"""

import contextlib
import hashlib
import os
import platform
import subprocess
import tempfile
import threading
import warnings
from pathlib import Path

import keras
import tensorflow as tf

from . import _keras_compat as compat

__all__ = [
    "available",
    "build",
    "cpu_target",
    "cudnn",
    "kernel_for",
    "portable",
    "prebuild",
    "recurrence",
]

SOURCE = Path(__file__).parent / "_ops" / "recurrence.cc"
HEADERS = ("gemm.h", "crew.h")  # beside SOURCE, part of the build's hash
_FLAGS = ["-O3", "-std=c++17", "-fPIC", "-shared", "-w", "-DNDEBUG"]
_FLAGS += ["-fvisibility=hidden", "-fvisibility-inlines-hidden"]  # direct calls inside the library

# The x86-64 microarchitecture levels (the psABI's), best first, with the CPU feature
# flags (as Linux's /proc/cpuinfo names them) that each needs on top of the next one.
X86_TARGETS = {
    "x86-64-v4": {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"},
    "x86-64-v3": {"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"},
    "x86-64-v2": {"cx16", "lahf_lm", "popcnt", "sse4_1", "sse4_2", "ssse3"},
}
GENERIC = "generic"  # not x86-64: the compiler's default for the architecture
# Extensions that a target may enable but TensorFlow's headers do not compile with: the
# Eigen that TensorFlow 2.21 bundles fails in PacketMathFP16.h under g++ 12 when
# AVX512-FP16 is on (as -march=native turns it on, on Sapphire Rapids).
_BROKEN_EXTENSIONS = {"__AVX512FP16__": "-mno-avx512fp16"}

_UNAVAILABLE = (
    "rnnkit's fused recurrence is unavailable, so recurrent layers run the plain TensorFlow "
    "loop (same results, slower on the CPU). Reason: {}"
)
_lock = threading.Lock()
_library = {}
_local = threading.local()


# Building -----------------------------------------------------------------------------


def cpu_target(flags=None, machine=None):
    """The instruction-set target this machine's build is compiled for.

    On x86-64 the best level in `X86_TARGETS` whose features the CPU has (`flags`, default
    the `flags` line of `/proc/cpuinfo`; `x86-64-v2` when it cannot be read); elsewhere
    `"generic"`.
    """
    machine = (machine or platform.machine()).lower()
    if machine not in ("x86_64", "amd64"):
        return GENERIC
    if flags is None:
        try:
            text = Path("/proc/cpuinfo").read_text()
        except OSError:
            return "x86-64-v2"
        line = next((line for line in text.splitlines() if line.startswith("flags")), "")
        flags = line.partition(":")[2].split()
    flags, levels = set(flags), list(X86_TARGETS)
    for index, name in enumerate(levels):
        if set().union(*(X86_TARGETS[level] for level in levels[index:])) <= flags:
            return name
    return "x86-64"


def _compiler():
    return os.environ.get("CXX") or "g++"


def _target_flags(compiler, target):
    """`-march=target`, less the extensions TensorFlow's headers cannot take; none for generic."""
    if target == GENERIC:
        return []
    flags = [f"-march={target}"]
    try:  # the macros the target defines say which extensions it turns on
        probe = subprocess.run(
            [compiler, *flags, "-dM", "-E", "-x", "c++", os.devnull],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return flags  # the build itself reports the compiler
    return flags + [off for macro, off in _BROKEN_EXTENSIONS.items() if f"#define {macro} " in probe.stdout]


def _library_name(target):
    """`recurrence_<target>_<hash>.so`, the hash of the sources, TensorFlow and the flags."""
    digest = hashlib.sha256(SOURCE.read_bytes())
    for header in HEADERS:
        digest.update((SOURCE.parent / header).read_bytes())
    digest.update(tf.__version__.encode())
    digest.update(" ".join(_FLAGS + tf.sysconfig.get_compile_flags()).encode())
    return f"recurrence_{target}_{digest.hexdigest()[:16]}.so"


def _folders():
    """Where builds live: `RNNKIT_CACHE` alone when set, else `~/.cache/rnnkit`, then the source's folder."""
    if os.environ.get("RNNKIT_CACHE"):
        return [Path(os.environ["RNNKIT_CACHE"])]
    return [Path.home() / ".cache" / "rnnkit", SOURCE.parent]


def _summary(error_text):
    """The line of a compiler's output that says what failed (its first error), shortened."""
    lines = [line.strip() for line in str(error_text).splitlines() if line.strip()]
    line = next((line for line in lines if "error" in line.lower()), lines[-1] if lines else "")
    return line if len(line) <= 300 else line[:297] + "..."


def build(target=None, retry=False):
    """Compiles the op for `target` (default `cpu_target()`) unless a build exists; returns its path.

    Raises `RuntimeError` naming the compiler's first error when it cannot be built. A
    failure is remembered (`<library>.failed`, with the compiler), and a later call with the
    same compiler raises it again without compiling, unless `retry`.
    """
    target = target or cpu_target()
    name = _library_name(target)
    folders = _folders()
    for folder in folders:
        if (folder / name).exists():
            return folder / name
    compiler = _compiler()
    errors = []
    for folder in folders:
        failed = folder / (name[: -len(".so")] + ".failed")
        if not retry and failed.exists():
            recorded_compiler, _, recorded = failed.read_text().partition("\n")
            if recorded_compiler == compiler:
                raise RuntimeError(recorded)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            handle, staging = tempfile.mkstemp(suffix=".so", dir=folder)
            os.close(handle)
        except OSError as error:
            errors.append(f"{folder}: {error}")
            continue
        try:
            _compile(compiler, target, staging)
        except RuntimeError as error:
            os.unlink(staging)
            with contextlib.suppress(OSError):
                failed.write_text(f"{compiler}\n{error}")
            raise
        os.replace(staging, folder / name)  # atomic: a concurrent build never loads half a file
        failed.unlink(missing_ok=True)
        for stale in folder.glob(f"recurrence_{target}_*"):  # this target's builds of other sources
            if stale.name != name:
                stale.unlink(missing_ok=True)
        return folder / name
    raise RuntimeError("no writable folder for the compiled op: " + "; ".join(errors))


def _compile(compiler, target, output=None):
    """Runs the compiler for `target`, writing the library to `output` (None: only checks that
    the source compiles, `-fsyntax-only`); `RuntimeError` naming its first error if it fails."""
    command = [compiler, *_FLAGS, *_target_flags(compiler, target), str(SOURCE)]
    command += ["-fsyntax-only"] if output is None else ["-o", str(output)]
    command += tf.sysconfig.get_compile_flags() + tf.sysconfig.get_link_flags()
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise RuntimeError(f"cannot run the C++ compiler {compiler!r}: {error}") from error
    if result.returncode != 0:
        reason = _summary(result.stderr or result.stdout)
        raise RuntimeError(f"{compiler} failed to build {SOURCE.name} for {target}: {reason}")


def prebuild():
    """Builds the op now (as `make install` does) and returns a one-line report of what happened.

    Never raises for a failed build: the report is then the warning the layers give.
    """
    target = cpu_target()
    try:
        return f"rnnkit: built the fused recurrence for {target}: {build(target, retry=True)}"
    except RuntimeError as error:
        return "WARNING: " + _UNAVAILABLE.format(error)


def _load():
    """The op module, built and loaded once per process; None (with one warning) if it cannot be."""
    with _lock:
        if "ops" not in _library:
            try:
                _library["ops"] = tf.load_op_library(str(build()))
            except (RuntimeError, tf.errors.NotFoundError, OSError) as error:
                warnings.warn(_UNAVAILABLE.format(error), RuntimeWarning, stacklevel=4)
                _library["ops"] = None
    return _library["ops"]


def _gpu():
    """Whether TensorFlow places ops on a GPU here."""
    return bool(tf.config.list_logical_devices("GPU"))


def available():
    """Whether the fused op can run here: it is built, and TensorFlow sees no GPU."""
    return not _gpu() and _load() is not None


# Choosing the kernel --------------------------------------------------------------------


@contextlib.contextmanager
def portable():
    """Inside, `Recurrent` traces Keras's loop of plain TensorFlow ops (no fused op, no cuDNN).

    rnnkit's pipelines export inside it (`model.export` and `tf.saved_model.save` save
    traces made in TensorFlow's save context, which has the same effect); use it around any
    other tracing meant for a SavedModel that must load where rnnkit is not installed, or
    on a CPU.
    """
    previous = getattr(_local, "portable", False)
    _local.portable = True
    try:
        yield
    finally:
        _local.portable = previous


def _step_is_the_cells(cell, base):
    """Whether `cell` computes `base`'s step: a subclass with its own step has its own math."""
    methods = ("recurrent_step", "gate_activations", "project_inputs")
    return all(getattr(type(cell), method) is getattr(base, method) for method in methods)


def kernel_for(cell, training=False):
    """`(kind, leak_rate)` of the kernel that runs `cell`'s loop here, or None for Keras's loop.

    On the CPU `kind` is the fused op's cell, `"leaky"`, `"lstm"`, `"gru"` or `"gru_v1"`; on a
    GPU `"cudnn_lstm"` or `"cudnn_gru"`. None inside `portable()`, a SavedModel save or an
    XLA compilation, when the op is unavailable, or when the cell's math is not the
    kernel's: another activation, a subclass that overrides the step, another dtype, or
    recurrent dropout while training.
    """
    from .gru_cell import GRUCell
    from .leaky_rnn_cell import LeakyRNNCell
    from .lstm_cell import LSTMCell
    from .simple_rnn_cell import SimpleRNNCell

    if getattr(_local, "portable", False) or compat.in_save_context() or compat.in_xla_context():
        return None
    if training and cell.recurrent_dropout > 0:
        return None
    tanh, sigmoid = keras.activations.tanh, keras.activations.sigmoid
    gated = getattr(cell, "recurrent_activation", None) is sigmoid and cell.activation is tanh
    if _gpu():  # cuDNN's rules, as keras.layers.LSTM/GRU apply them, and its dtypes
        if not gated or not cell.use_bias or cell.compute_dtype not in ("float16", "float32", "float64"):
            return None
        if isinstance(cell, LSTMCell) and _step_is_the_cells(cell, LSTMCell):
            return "cudnn_lstm", 1.0
        if isinstance(cell, GRUCell) and cell.reset_after and _step_is_the_cells(cell, GRUCell):
            return "cudnn_gru", 1.0
        return None
    if cell.compute_dtype != "float32":
        return None
    kind = None
    if isinstance(cell, LSTMCell) and gated:
        kind, leak, base = "lstm", 1.0, LSTMCell
    elif isinstance(cell, GRUCell) and gated:
        kind, leak, base = ("gru" if cell.reset_after else "gru_v1"), 1.0, GRUCell
    elif isinstance(cell, LeakyRNNCell) and cell.activation is tanh:
        kind, leak, base = "leaky", cell.leak_rate, LeakyRNNCell
    elif isinstance(cell, SimpleRNNCell) and cell.activation is tanh:
        kind, leak, base = "leaky", 1.0, SimpleRNNCell
    if kind is None or not _step_is_the_cells(cell, base):
        return None
    return (kind, leak) if _load() is not None else None


# The CPU op ------------------------------------------------------------------------------


def recurrence(
    cell, kind, leak_rate, inputs, initial_state, mask=None, zero_output_for_mask=False, save=True
):
    """Runs the fused loop over `inputs` `(B, T, F)` (input dropout already applied).

    Returns `(last_output, outputs, states)` as Keras's backend `rnn` does, with
    `outputs` the whole sequence `(B, T, units)`. A step whose `mask` is False keeps the
    state and repeats the previous output (zeros with `zero_output_for_mask`). With
    `save=False` (inference) the gates are not kept for the gradient, which then runs the
    loop again.
    """
    ops = _load()
    units = cell.units
    h0 = tf.convert_to_tensor(initial_state[0])
    c0 = tf.convert_to_tensor(initial_state[1]) if kind == "lstm" else tf.zeros((0, 0))
    bias = tf.convert_to_tensor(cell.input_bias) if cell.use_bias else tf.zeros((0,))
    if kind == "gru":
        recurrent_bias = cell.bias[1] if cell.use_bias else tf.zeros((3 * units,))
    else:
        recurrent_bias = tf.zeros((0,))
    mask_values = tf.zeros((0,)) if mask is None else tf.cast(mask, "float32")
    outputs, cells, _ = ops.rnnkit_recurrence(
        tf.convert_to_tensor(inputs),
        tf.convert_to_tensor(cell.kernel),
        bias,
        tf.convert_to_tensor(cell.recurrent_kernel),
        tf.convert_to_tensor(recurrent_bias),
        h0,
        c0,
        mask_values,
        cell=kind,
        leak_rate=leak_rate,
        save=save,
    )
    states = [outputs[:, -1], cells[-1]] if kind == "lstm" else [outputs[:, -1]]  # cells: (T, B, units)
    if mask is not None and zero_output_for_mask:
        outputs = tf.where(tf.cast(mask, "bool")[:, :, None], outputs, 0.0)
    return outputs[:, -1], outputs, states


def _recurrence_gradient(op, d_outputs, d_cells, d_saved):
    """dX, dW, db, dU, db', dh0, dc0: the backward loop sums the weight gradients; dX = dA W^T."""
    kind = op.get_attr("cell").decode()
    inputs, kernel, bias, recurrent_kernel, recurrent_bias, h0, c0, mask = op.inputs
    outputs, cells, saved = op.outputs
    if not op.get_attr("save"):  # run without the gates (inference), and differentiated after all
        outputs, cells, saved = _load().rnnkit_recurrence(
            *op.inputs, cell=kind, leak_rate=op.get_attr("leak_rate"), save=True
        )  # fmt: skip
    if d_outputs is None:
        d_outputs = tf.zeros_like(outputs)
    if d_cells is None:
        d_cells = tf.zeros((0,))
    grads = _load().rnnkit_recurrence_grad(
        inputs, recurrent_kernel, h0, c0, mask, outputs, cells, saved, d_outputs, d_cells,
        cell=kind, leak_rate=op.get_attr("leak_rate"),
    )  # fmt: skip
    d_projected, d_kernel, d_recurrent_kernel, d_bias, d_recurrent_bias, d_h0, d_c0 = grads
    # x_t W + b: dX = dA W^T, with dA time-major (T, B, G units)
    shape = tf.shape(inputs)
    d_inputs = tf.matmul(tf.reshape(d_projected, (-1, tf.shape(kernel)[1])), kernel, transpose_b=True)
    d_inputs = tf.transpose(tf.reshape(d_inputs, (shape[1], shape[0], shape[2])), (1, 0, 2))
    d_bias = d_bias if bias.shape[0] != 0 else tf.zeros_like(bias)
    d_recurrent_bias = d_recurrent_bias if kind == "gru" else tf.zeros_like(recurrent_bias)
    d_c0 = d_c0 if kind == "lstm" else tf.zeros_like(c0)
    return d_inputs, d_kernel, d_bias, d_recurrent_kernel, d_recurrent_bias, d_h0, d_c0, None


tf.RegisterGradient("RnnkitRecurrence")(_recurrence_gradient)


# cuDNN (GPU) ----------------------------------------------------------------------------


def _right_padded(mask):
    """Whether every row of `mask` (B, T) is some True steps, then only False ones, and none is empty."""
    mask = tf.cast(mask, "bool")
    lengths = tf.reduce_sum(tf.cast(mask, "int32"), axis=1)
    padded = tf.sequence_mask(lengths, maxlen=tf.shape(mask)[1])
    return tf.logical_and(tf.reduce_all(tf.equal(mask, padded)), tf.reduce_all(lengths > 0))


def cudnn(cell, kind, inputs, initial_state, mask, loop, return_sequences=False, go_backwards=False,
          zero_output_for_mask=False):  # fmt: skip
    """Runs the loop through the backend's `lstm`/`gru` (cuDNN), as `keras.layers.LSTM`/`GRU` call it.

    `inputs` `(B, T, F)` has its input dropout applied; `loop()` runs Keras's loop instead
    and is taken when the backend declines (`NotImplementedError`) and, at run time, when
    `mask` is not right-padded. Returns `(last_output, outputs, states)` as `loop` does: a
    masked step repeats the previous output (zeros with `zero_output_for_mask`), where cuDNN
    writes zeros.
    """
    activations = {"activation": cell.activation, "recurrent_activation": cell.recurrent_activation}
    options = {"return_sequences": return_sequences, "go_backwards": go_backwards, "unroll": False}

    def run():
        weights = {"kernel": cell.kernel, "recurrent_kernel": cell.recurrent_kernel, "bias": cell.bias}
        if kind == "cudnn_lstm":
            h0, c0 = initial_state
            last, outputs, states = compat.backend_lstm(
                inputs, h0, c0, mask, **weights, **activations, **options
            )  # fmt: skip
        else:
            last, outputs, states = compat.backend_gru(
                inputs, initial_state[0], mask, **weights, **activations, **options, reset_after=True
            )  # fmt: skip
        if mask is not None and return_sequences and not zero_output_for_mask and not go_backwards:
            # right padding: Keras's loop repeats the last output over the padded steps
            outputs = tf.where(tf.cast(mask, "bool")[:, :, None], outputs, last[:, None, :])
        return last, outputs, list(states)

    def fallback():
        last, outputs, states = loop()
        return last, outputs, list(states)

    try:
        if mask is None:
            return run()
        return tf.cond(_right_padded(mask), run, fallback)
    except NotImplementedError:  # the backend declined: no GPU after all, or no cuDNN op
        return fallback()
