"""The fused recurrence: the time loop of rnnkit's cells as one compiled TensorFlow op.

`Recurrent` splits a recurrent layer at the kernel/recurrent seam: `x_t W + b` has no
time dependence, and only `h_{t-1} U` and the gate arithmetic are sequential. On the
CPU, TensorFlow runs the loop one small op at a time, and each op costs microseconds of
dispatch that its arithmetic does not. This module runs the loop as one op,
`_ops/recurrence.cc`:

- `W` and `U` are packed once per call; each step computes `x_t W + h_{t-1} U` for the
  shard's rows as one register-blocked product that sums both terms in the same
  registers (no `(B, T, G units)` projection is written out), then the gate arithmetic
  row by row, in place;
- the batch is cut into one shard per intra-op thread, and each shard runs its whole
  time loop on its own core, so shards never wait for each other; the shards beyond the
  calling thread's run on the op's own helper threads, which spin for a few milliseconds
  between ops instead of parking as TensorFlow's pool threads do;
- the gates kept for the gradient are written only while training (`save`), time-major,
  so that a step's rows are one contiguous block;
- the gradient op runs the loop backwards and, while each step's gradients are in
  cache, adds them to the weight gradients, `dU += h_{t-1}^T dZ_t`, `dW += x_t^T dA_t`,
  `db += sum dA_t` (about 128 rows at a time, so that a register tile of `dU` or `dW`
  stays loaded over many rows); it returns `dA`, and `dX = dA W^T` is one matrix
  product here, which TensorFlow drops when nothing needs it.

The kernel covers the cells whose math it holds (`kernel_for`): `SimpleRNNCell`,
`LeakyRNNCell` and `EchoStateCell` with `tanh`; `LSTMCell` and `GRUCell` (both
`reset_after` settings) with `tanh` and `sigmoid`; float32; no recurrent dropout while
training. Anything else, and every trace inside `portable()`, takes the cells' own
`recurrent_step` through Keras's loop: the same equations (tested to 1e-5 in value and
gradient), in plain TensorFlow ops.

The op is compiled from source on first use with the C++ compiler that built the
machine's Python extensions (`CXX`, default `g++`) and TensorFlow's own flags, and cached
next to the source (or in `RNNKIT_CACHE`, default `~/.cache/rnnkit`). `make install`
builds it (`fused.build()`, which returns the library's path). Without a
compiler the layers warn once and run the plain loop.

A SavedModel that contains the op would load only where the op is registered, so
exports never contain it: Keras traces an export's functions in
`ExportArchive.write_out` (which `model.export` calls), and rnnkit runs that method
inside `portable()`; `tf.saved_model.save` traces inside TensorFlow's save context, which
`kernel_for` also honours. An export made this way serves where rnnkit is not installed.
Only a `tf.function` traced *before* the export and added without an input signature
keeps the fused op it was traced with; trace it inside `portable()`:

>>> from rnnkit.layers import fused
>>> with fused.portable():
...     pass  # serve = tf.function(model).get_concrete_function(spec)
"""

import contextlib
import functools
import hashlib
import os
import subprocess
import tempfile
import threading
import warnings
from pathlib import Path

import keras
import tensorflow as tf
from keras.src.export.saved_model_export_archive import SavedModelExportArchive
from tensorflow.python.saved_model import save_context

__all__ = ["available", "build", "kernel_for", "portable", "recurrence"]

SOURCE = Path(__file__).parent / "_ops" / "recurrence.cc"
_FLAGS = ["-O3", "-march=native", "-std=c++17", "-fPIC", "-shared", "-w", "-DNDEBUG"]
_FLAGS += ["-fvisibility=hidden", "-fvisibility-inlines-hidden"]  # direct calls inside the library
_lock = threading.Lock()
_library = {}
_local = threading.local()


def _library_name():
    """A name that changes with the source, TensorFlow and the flags: a stale build is never loaded."""
    digest = hashlib.sha256(SOURCE.read_bytes())
    digest.update(tf.__version__.encode())
    digest.update(" ".join(_FLAGS + tf.sysconfig.get_compile_flags()).encode())
    return f"recurrence_{digest.hexdigest()[:16]}.so"


def _candidates():
    yield SOURCE.parent
    yield Path(os.environ.get("RNNKIT_CACHE", Path.home() / ".cache" / "rnnkit"))


def build():
    """Compiles the op if no current build exists; returns the library's path.

    Raises `RuntimeError` with the compiler's message when it cannot be built.
    """
    name = _library_name()
    for folder in _candidates():
        if (folder / name).exists():
            return folder / name
    compiler = os.environ.get("CXX", "g++")
    errors = []
    for folder in _candidates():
        try:
            folder.mkdir(parents=True, exist_ok=True)
            handle, staging = tempfile.mkstemp(suffix=".so", dir=folder)
            os.close(handle)
        except OSError as error:
            errors.append(f"{folder}: {error}")
            continue
        command = [compiler, *_FLAGS, str(SOURCE), "-o", staging]
        command += tf.sysconfig.get_compile_flags() + tf.sysconfig.get_link_flags()
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as error:
            os.unlink(staging)
            raise RuntimeError(f"cannot run the C++ compiler {compiler!r}: {error}") from error
        if result.returncode != 0:
            os.unlink(staging)
            raise RuntimeError(f"{compiler} failed to build {SOURCE.name}:\n{result.stderr[-2000:]}")
        os.replace(staging, folder / name)  # atomic: a concurrent build never loads half a file
        for stale in folder.glob("recurrence_*.so"):  # builds of other sources or TensorFlows
            if stale.name != name:
                stale.unlink(missing_ok=True)
        return folder / name
    raise RuntimeError("no writable folder for the compiled op: " + "; ".join(errors))


def _load():
    """The op module, built and loaded once per process; None (with one warning) if it cannot be."""
    with _lock:
        if "ops" not in _library:
            try:
                _library["ops"] = tf.load_op_library(str(build()))
            except (RuntimeError, tf.errors.NotFoundError, OSError) as error:
                warnings.warn(
                    f"rnnkit's fused recurrence is unavailable, so recurrent layers run the plain "
                    f"TensorFlow loop (same results, slower on the CPU). Reason: {error}",
                    RuntimeWarning,
                    stacklevel=3,
                )
                _library["ops"] = None
    return _library["ops"]


def available():
    """Whether the fused op can run here: it is built, and TensorFlow sees no GPU."""
    return not tf.config.list_logical_devices("GPU") and _load() is not None


@contextlib.contextmanager
def portable():
    """Inside, `Recurrent` traces Keras's loop of plain TensorFlow ops instead of the fused op.

    Keras's export tracing (`ExportArchive.write_out`, under `model.export` and rnnkit's
    pipelines) already runs inside it; use it around any other tracing meant for a
    SavedModel that must load where rnnkit is not installed.
    """
    previous = getattr(_local, "portable", False)
    _local.portable = True
    try:
        yield
    finally:
        _local.portable = previous


def kernel_for(cell, training=False):
    """`(kind, leak_rate)` of the fused kernel that computes `cell`'s step, or None.

    None when the op is unavailable, inside `portable()`, or when the cell's math is
    not the kernel's: another activation, a subclass that overrides the step, a dtype
    other than float32, or recurrent dropout while training.
    """
    from .gru_cell import GRUCell
    from .leaky_rnn_cell import LeakyRNNCell
    from .lstm_cell import LSTMCell
    from .simple_rnn_cell import SimpleRNNCell

    if getattr(_local, "portable", False) or save_context.in_save_context():
        return None
    if cell.compute_dtype != "float32":
        return None
    if training and cell.recurrent_dropout > 0:
        return None
    tanh, sigmoid = keras.activations.tanh, keras.activations.sigmoid
    cls = type(cell)
    kind = None
    if isinstance(cell, LSTMCell) and cell.activation is tanh and cell.recurrent_activation is sigmoid:
        kind, leak, base = "lstm", 1.0, LSTMCell
    elif isinstance(cell, GRUCell) and cell.activation is tanh and cell.recurrent_activation is sigmoid:
        kind, leak, base = ("gru" if cell.reset_after else "gru_v1"), 1.0, GRUCell
    elif isinstance(cell, LeakyRNNCell) and cell.activation is tanh:
        kind, leak, base = "leaky", cell.leak_rate, LeakyRNNCell
    elif isinstance(cell, SimpleRNNCell) and cell.activation is tanh:
        kind, leak, base = "leaky", 1.0, SimpleRNNCell
    if kind is None:
        return None
    for method in ("recurrent_step", "gate_activations", "project_inputs"):
        if getattr(cls, method) is not getattr(base, method):
            return None  # a subclass with its own step: its math, not the kernel's
    return (kind, leak) if available() else None


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
    input_bias = tf.convert_to_tensor(cell.input_bias) if cell.use_bias else tf.zeros((0,))
    if kind == "gru":
        recurrent_bias = cell.bias[1] if cell.use_bias else tf.zeros((3 * units,))
    else:
        recurrent_bias = tf.zeros((0,))
    mask_values = tf.zeros((0,)) if mask is None else tf.cast(mask, "float32")
    outputs, cells, _ = ops.rnnkit_recurrence(
        tf.convert_to_tensor(inputs),
        tf.convert_to_tensor(cell.kernel),
        input_bias,
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


def _trace_exports_portably(archive_class):
    """Runs `archive_class.write_out`, where Keras traces an export's functions, in `portable()`."""
    write_out = archive_class.write_out
    if getattr(write_out, "rnnkit_portable", False):
        return

    @functools.wraps(write_out)
    def portable_write_out(self, *args, **kwargs):
        with portable():
            return write_out(self, *args, **kwargs)

    portable_write_out.rnnkit_portable = True
    archive_class.write_out = portable_write_out


_trace_exports_portably(SavedModelExportArchive)  # what model.export and keras.export.ExportArchive run
