"""Recurrent layers on the CPU: rnnkit against PyTorch, Keras's built-ins and Keras's loop.

For each family (LSTM, GRU, Elman, leaky units) and shape it times, side by side in one
process, interleaved round by round so that a noisy neighbour slows every row alike:

- PyTorch's fused layer (`nn.LSTM`, `nn.GRU`, `nn.RNN` with tanh), the reference;
- Keras's built-in layer (`keras.layers.LSTM`, `GRU`, `SimpleRNN`);
- `keras.layers.RNN(rnnkit cell)`: our cell stepped by Keras's loop;
- `rnnkit Recurrent(cell)`: the projection hoisted out of the loop and the loop fused
  into one compiled op (`rnnkit.layers.fused`).

Training is one step of `layer -> Dense(1)` on the last output with an MSE loss and Adam
(`train_on_batch` for Keras, which costs less per batch than `fit` or `predict` on
arrays; `zero_grad`, `backward` and `step` for PyTorch; each side's batch is a tensor of
its own framework, made once); inference is the same model's
forward pass (`predict_on_batch`; PyTorch under `no_grad`). The table gives the median
over rounds, the ratio to PyTorch (above 1 is faster than PyTorch) and the share of the
machine's measured matrix-multiply roofline (a 2048 x 2048 float32 product) that
the step's matrix products reach.

A second table times what users run: `model.fit` epochs over a cached `tf.data.Dataset`
(the slowest and the median of 5 epochs of 100 batches per row, interleaved epoch by
epoch) against PyTorch's epoch over the same batches. A third follows the LSTM over
sequence lengths from 50 to 800 steps: time per step of sequence (flat when the cost grows
linearly), the roofline share, PyTorch beside us, alone in a fresh process
(`benchmarks.torch_rows`) and over 50-step chunks, and peak memory of a training step,
each measured in a fresh process.

    pip install -e '.[bench]'                       # PyTorch, for the reference rows
    python -m benchmarks.recurrent_speed            # writes benchmarks/results/recurrent_speed.md
    python -m benchmarks.recurrent_speed --quick    # a smoke run, nothing written

Both libraries use every core (`torch.set_num_threads(os.cpu_count())`, TensorFlow's
default). Without PyTorch the reference rows are left out and the ratios read "n/a".
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # the numbers are CPU numbers

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks import machine, publish  # noqa: E402
from benchmarks.timing import SETTLE, seconds_per_call, time_calls  # noqa: E402
from rnnkit.apps.base import STEPS_PER_EXECUTION  # noqa: E402
from rnnkit.layers import GRUCell, LeakyRNNCell, LSTMCell, Recurrent, SimpleRNNCell  # noqa: E402

try:
    import torch

    from benchmarks.torch_rows import TorchChunkedRow, TorchFitRow, TorchRow
except ImportError:  # the `bench` extra is not installed: no reference rows
    torch = None

RESULTS = Path(__file__).parent / "results" / "recurrent_speed.md"
SHAPES = [(64, 50, 64, 128), (32, 200, 32, 64), (128, 20, 300, 256)]  # batch, steps, features, units
LENGTHS = [50, 100, 200, 400, 800]
# model.fit epochs of 100 batches, but at the widest shape, where one batch is 6x the work: 25
FIT_BATCHES = {(128, 20, 300, 256): 25}

# family: (gates, Keras built-in or None, rnnkit cell, PyTorch module name)
FAMILIES = {
    "LSTM": (4, keras.layers.LSTM, LSTMCell, "LSTM"),
    "GRU": (3, keras.layers.GRU, GRUCell, "GRU"),
    "Elman": (1, keras.layers.SimpleRNN, SimpleRNNCell, "RNN"),
    "Leaky (a = 0.5)": (1, None, lambda units: LeakyRNNCell(units, leak_rate=0.5), "RNN"),
}
PYTORCH = "PyTorch nn.{}"
SPE_ROW = f"rnnkit Recurrent(cell), steps_per_execution={STEPS_PER_EXECUTION}"  # as the pipelines compile
IMPLEMENTATIONS = ["PyTorch", "Keras built-in", "keras.layers.RNN(rnnkit cell)", "rnnkit Recurrent(cell)"]


class KerasRow:
    """`Input -> layer -> Dense(1)`, trained with Adam on MSE."""

    def __init__(self, layer, x, y):
        inputs = keras.Input(x.shape[1:])
        self.model = keras.Model(inputs, keras.layers.Dense(1)(layer(inputs)))
        self.model.compile(optimizer="adam", loss="mse")
        # Tensors made once, as PyTorch's rows get theirs (`torch.from_numpy`): a NumPy
        # batch would be copied into a new tensor at every call, on Keras's side only.
        self.x, self.y = tf.constant(x), tf.constant(y)

    def train(self):
        self.model.train_on_batch(self.x, self.y)

    def infer(self):
        self.model.predict_on_batch(self.x)


class EpochClock(keras.callbacks.Callback):
    """The wall seconds of each `fit` epoch, from its start to its end."""

    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)


class KerasFitRow:
    """`model.fit` epochs over a cached `tf.data.Dataset` of the batches, as users train."""

    def __init__(self, layer, x, y, batch, **compile_options):
        inputs = keras.Input(x.shape[1:])
        self.model = keras.Model(inputs, keras.layers.Dense(1)(layer(inputs)))
        self.model.compile(optimizer="adam", loss="mse", **compile_options)
        self.dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch).cache()
        self.clock = EpochClock()

    def epoch(self):
        self.model.fit(self.dataset, epochs=1, verbose=0, callbacks=[self.clock], shuffle=False)
        return self.clock.seconds[-1]


def make_rows(family, x, y, units):
    gates, builtin, cell, module_name = FAMILIES[family]
    rows = {}
    if torch is not None:
        rows["PyTorch"] = TorchRow(module_name, x, y, units)
    if builtin is not None:
        rows["Keras built-in"] = KerasRow(builtin(units), x, y)
    rows["keras.layers.RNN(rnnkit cell)"] = KerasRow(keras.layers.RNN(cell(units)), x, y)
    rows["rnnkit Recurrent(cell)"] = KerasRow(Recurrent(cell(units)), x, y)
    return rows


def roofline(rounds=5, size=2048):
    """The machine's float32 matrix-multiply rate in GFLOP/s (TensorFlow, median of rounds)."""
    a = tf.random.normal((size, size))
    product = tf.function(lambda: tf.matmul(a, a))
    product().numpy()
    times = [seconds_per_call(lambda: product().numpy(), 5) for _ in range(rounds)]
    return 2 * size**3 / statistics.median(times) / 1e9


def matmul_flops(shape, gates, training):
    """The step's matrix-product FLOPs: x W and h U forward; twice as much again backward."""
    batch, steps, features, units = shape
    forward = 2 * batch * steps * (features + units) * gates * units
    return 3 * forward if training else forward


def run_shape(shape, rounds, budget, warmup):
    batch, steps, features, units = shape
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, steps, features)).astype("float32")
    y = rng.normal(size=(batch, 1)).astype("float32")
    keras.utils.set_random_seed(0)
    if torch is not None:
        torch.manual_seed(0)
    times = {}
    for family in FAMILIES:
        rows = make_rows(family, x, y, units)
        for mode in ("train", "infer"):
            fns = {name: getattr(row, mode) for name, row in rows.items()}
            for name, seconds in time_calls(fns, rounds, budget, warmup).items():
                times[family, mode, name] = seconds
    return times


def run_fit(shape, epochs, batches, families):
    """`model.fit` epochs against PyTorch's over the same `batches` batches: each row trains one
    epoch to warm up (tracing, the dataset's cache), then `epochs` timed epochs, interleaved
    epoch by epoch. Returns `{(family, name): [seconds per epoch]}`."""
    batch, steps, features, units = shape
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batches * batch, steps, features)).astype("float32")
    y = rng.normal(size=(batches * batch, 1)).astype("float32")
    times = {}
    for family in families:
        _, _, cell, module_name = FAMILIES[family]
        rows = {}
        if torch is not None:
            rows["PyTorch"] = TorchFitRow(module_name, x, y, units, batch)
        rows["rnnkit Recurrent(cell)"] = KerasFitRow(Recurrent(cell(units)), x, y, batch)
        rows[SPE_ROW] = KerasFitRow(
            Recurrent(cell(units)), x, y, batch, steps_per_execution=STEPS_PER_EXECUTION
        )
        for row in rows.values():
            row.epoch()
        for name in rows:
            times[family, name] = []
        for _ in range(epochs):
            for name, row in rows.items():
                time.sleep(SETTLE)
                times[family, name].append(row.epoch())
    return times


def _status_kb(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def memory_probe(implementation, steps, shape):
    """In this fresh process: how far, in MB, building the model and three training steps
    at `steps` lift the resident set's peak above its size before the model existed."""
    batch, _, features, units = shape
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, steps, features)).astype("float32")
    y = rng.normal(size=(batch, 1)).astype("float32")
    Path("/proc/self/clear_refs").write_text("5")  # the peak (VmHWM) restarts from here (Linux)
    base = _status_kb("VmRSS")
    row = (
        TorchRow("LSTM", x, y, units)
        if implementation == "PyTorch"
        else KerasRow(Recurrent(LSTMCell(units)), x, y)
    )
    for _ in range(3):
        row.train()
    return (_status_kb("VmHWM") - base) / 1024


def measure_memory(implementation, lengths, shape):
    """`memory_probe` at each length, each in a fresh process."""
    peaks = {}
    for steps in lengths:
        command = [sys.executable, "-m", "benchmarks.recurrent_speed", "--memory", implementation]
        command += ["--lengths", str(steps), "--shape", ",".join(map(str, shape))]
        result = subprocess.run(command, capture_output=True, text=True, check=True)
        peaks[steps] = float(result.stdout.strip().splitlines()[-1])
    return peaks


def length_rows(steps, shape):
    batch, _, features, units = shape
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, steps, features)).astype("float32")
    y = rng.normal(size=(batch, 1)).astype("float32")
    rows = {"rnnkit Recurrent(cell)": KerasRow(Recurrent(LSTMCell(units)), x, y)}
    if torch is not None:
        rows["PyTorch"] = TorchRow("LSTM", x, y, units)
        rows["PyTorch, 50-step chunks"] = TorchChunkedRow("LSTM", x, y, units)
    return rows


def run_lengths(lengths, shape, rounds, budget, warmup, alone=True):
    """LSTM training time per step of sequence, rnnkit against PyTorch, over `lengths`; and
    PyTorch alone in a fresh process per length, which nothing of TensorFlow's shares."""
    times = {}
    for steps in lengths:
        fns = {name: row.train for name, row in length_rows(steps, shape).items()}
        for name, seconds in time_calls(fns, rounds, budget, warmup).items():
            times[steps, name] = seconds
        if torch is not None and alone:
            command = [sys.executable, "-m", "benchmarks.torch_rows", "--steps", str(steps)]
            command += ["--shape", ",".join(map(str, shape)), "--rounds", str(rounds)]
            command += ["--budget", str(budget)]
            result = subprocess.run(command, capture_output=True, text=True, check=True)
            times[steps, "PyTorch alone"] = float(result.stdout.strip().splitlines()[-1])
    return times


def table_head(text, numbers, trailing_text=()):
    """A Markdown table's header and alignment rows: text columns left, numbers right."""
    columns = [*text, *numbers, *trailing_text]
    aligns = ["---"] * len(text) + ["---:"] * len(numbers) + ["---"] * len(trailing_text)
    return [table_row(columns), table_row(aligns)]


def table_row(cells):
    return "| " + " | ".join(cells) + " |"


def fit_report(fit_times, args):
    """The `model.fit` table: per row the slowest and the median of the timed epochs."""
    lines = [
        f"## `model.fit` epochs ({args.fit_epochs} timed epochs per row)",
        "",
        "Each row trains `layer -> Dense(1)` with Adam on MSE for one epoch to warm up, then "
        f"{args.fit_epochs} epochs,",
        "interleaved with the other rows epoch by epoch: Keras's rows call `model.fit(dataset,",
        "epochs=1)` on a cached `tf.data.Dataset` of the batches and time the epoch from",
        "`on_epoch_begin` to `on_epoch_end`; PyTorch's row runs its training step over the same",
        "batches (tensors made once). k steps/s: thousands of sample-steps (batch x steps) a",
        "second. `vs PyTorch` divides PyTorch's median epoch by our slowest, or by our median.",
        "",
    ]
    for shape, times in fit_times.items():
        batch, steps, features, units = shape
        lines += [
            f"### batch {batch}, {steps} steps, {features} features, {units} units: "
            f"epochs of {args.fit_batches_of[shape]} batches",
            "",
            *table_head(
                ["family", "implementation"],
                ["slowest epoch ms", "median epoch ms", "k steps/s, slowest"]
                + ["slowest vs PyTorch", "median vs PyTorch"],
                ["epochs ms"],
            ),
        ]
        sample_steps = args.fit_batches_of[shape] * batch * steps
        for (family, name), seconds in times.items():
            reference = times.get((family, "PyTorch"))
            slowest, median = max(seconds), statistics.median(seconds)
            ratios = ["n/a", "n/a"]
            if reference:
                ratios = [f"{statistics.median(reference) / value:.2f}" for value in (slowest, median)]
            label = PYTORCH.format(FAMILIES[family][3]) if name == "PyTorch" else name
            epochs = " ".join(f"{value * 1e3:.0f}" for value in seconds)
            rate = f"{sample_steps / slowest / 1e3:.0f}"
            lines.append(
                table_row(
                    [family, label, f"{slowest * 1e3:.0f}", f"{median * 1e3:.0f}", rate, *ratios, epochs]
                )
            )
        lines.append("")
    return lines


def report(shape_times, rooflines, length_times, memory, args):
    peak = statistics.median(rooflines)
    lines = [
        "# Recurrent layers on the CPU: rnnkit, PyTorch and Keras",
        "",
        machine(),
        f"PyTorch {torch.__version__ if torch else 'not installed'}, "
        f"{torch.get_num_threads() if torch else '-'} threads; Keras {keras.__version__}.",
        f"Matrix-multiply roofline (2048 x 2048 float32, TensorFlow): {peak:.0f} GFLOP/s "
        f"(at the start and end of the run: {', '.join(f'{r:.0f}' for r in rooflines)}).",
        "",
        "One training step: forward, backward and Adam on `layer -> Dense(1)` of the last output",
        "(`train_on_batch`); inference: the forward pass (`predict_on_batch`). Median of "
        f"{args.rounds} interleaved rounds of about {args.budget:.2f} s each. `vs PyTorch` is PyTorch's time",
        "over ours (above 1: faster than PyTorch); `roofline` is the share of the roofline that the",
        "step's matrix products reach (x W and h U forward, three times that when training).",
        "",
    ]
    for shape, times in shape_times.items():
        batch, steps, features, units = shape
        lines += [
            f"## batch {batch}, {steps} steps, {features} features, {units} units",
            "",
            *table_head(
                ["family", "implementation"],
                ["train ms", "vs PyTorch", "roofline", "infer ms", "vs PyTorch", "roofline"],
            ),
        ]
        for family, (gates, *_rest, module_name) in FAMILIES.items():
            for name in IMPLEMENTATIONS:
                if (family, "train", name) not in times:
                    continue
                cells = []
                for mode in ("train", "infer"):
                    seconds = times[family, mode, name]
                    reference = times.get((family, mode, "PyTorch"))
                    ratio = f"{reference / seconds:.2f}" if reference else "n/a"
                    share = matmul_flops(shape, gates, mode == "train") / seconds / 1e9 / peak
                    cells += [f"{seconds * 1e3:.2f}", ratio, f"{share:.0%}"]
                label = PYTORCH.format(module_name) if name == "PyTorch" else name
                lines.append(table_row([family, label, *cells]))
        lines.append("")
    lines += fit_report(args.fit_times, args)
    batch, _, features, units = args.length_shape
    lines += [
        f"## LSTM training over sequence length (batch {batch}, {features} features, {units} units)",
        "",
        "Time per step of sequence stays flat when the cost grows linearly with the length. Three",
        "PyTorch references, because PyTorch's own time per step can grow with the length on some",
        "CPUs: `nn.LSTM` beside our rows in this process; alone, in a fresh process per length that",
        "loads no TensorFlow (`python -m benchmarks.torch_rows`); and called on 50-step chunks with",
        "the state carried between them (the same function and gradient). `vs` divides each by",
        "ours. `roofline`: the share of the matrix-multiply roofline our step reaches, an anchor",
        "that needs no other library. Peak MB: how far building the model and three training",
        "steps lift the peak resident set above the process's size before the model existed (a",
        "fresh process per length and implementation).",
        "",
        *table_head(
            [],
            ["steps", "rnnkit ms", "rnnkit us/step", "roofline", "PyTorch ms", "alone ms"]
            + ["chunks ms", "vs PyTorch", "vs alone", "vs chunks", "rnnkit peak MB", "PyTorch peak MB"],
        ),
    ]
    peak = statistics.median(rooflines)
    references = ["PyTorch", "PyTorch alone", "PyTorch, 50-step chunks"]
    for steps in args.lengths:
        ours = length_times[steps, "rnnkit Recurrent(cell)"]
        share = matmul_flops((batch, steps, features, units), 4, True) / ours / 1e9 / peak
        row = [str(steps), f"{ours * 1e3:.2f}", f"{ours / steps * 1e6:.1f}", f"{share:.0%}"]
        theirs = [length_times.get((steps, name)) for name in references]
        row += [f"{t * 1e3:.2f}" if t else "-" for t in theirs]
        row += [f"{t / ours:.2f}" if t else "-" for t in theirs]
        row += [f"{memory.get('rnnkit', {}).get(steps, float('nan')):.0f}"]
        row += [f"{memory.get('PyTorch', {}).get(steps, float('nan')):.0f}"]
        lines.append(table_row(row))
    lines += [
        "",
        "Reproduce with `python -m benchmarks.recurrent_speed` after `pip install -e '.[bench]'`",
        "(numbers move with the machine; the ratios, measured side by side in one run, are what",
        "to compare).",
        "",
    ]
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--budget", type=float, default=0.3, help="seconds per timed sample")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, print only")
    parser.add_argument("--memory", help=argparse.SUPPRESS)  # internal: the fresh-process probe
    parser.add_argument("--lengths", default=",".join(map(str, LENGTHS)))
    parser.add_argument("--shape", default="64,50,64,128", help="batch,steps,features,units")
    parser.add_argument("--fit-epochs", type=int, default=5, help="timed model.fit epochs per row")
    parser.add_argument("--fit-batches", type=int, default=100, help="batches per model.fit epoch")
    parser.add_argument("--only-fit", action="store_true", help="the model.fit table alone, printed")
    args = parser.parse_args(argv)
    args.lengths = [int(v) for v in args.lengths.split(",")]
    args.length_shape = tuple(int(v) for v in args.shape.split(","))
    if torch is not None:
        torch.set_num_threads(os.cpu_count())
    if args.memory:
        print(memory_probe(args.memory, args.lengths[0], args.length_shape))
        return None
    shapes = SHAPES
    if args.quick:
        shapes, args.lengths, args.length_shape = [(4, 5, 3, 8)], [5, 10], (4, 5, 3, 8)
        args.rounds, args.budget, args.warmup = 1, 0.01, 1
        args.fit_epochs, args.fit_batches = 2, 3
    args.fit_batches_of = {
        shape: args.fit_batches if args.quick else FIT_BATCHES.get(shape, args.fit_batches)
        for shape in shapes
    }
    families = ["LSTM"] if args.quick else list(FAMILIES)
    args.fit_times = {
        shape: run_fit(shape, args.fit_epochs, args.fit_batches_of[shape], families) for shape in shapes
    }
    if args.only_fit:
        publish(fit_report(args.fit_times, args), RESULTS, write=False)
        return args.fit_times
    rooflines = [roofline(rounds=1 if args.quick else 5, size=256 if args.quick else 2048)]
    shape_times = {shape: run_shape(shape, args.rounds, args.budget, args.warmup) for shape in shapes}
    length_times = run_lengths(
        args.lengths, args.length_shape, args.rounds, args.budget, args.warmup, alone=not args.quick
    )
    memory = {}
    if not args.quick:
        memory["rnnkit"] = measure_memory("rnnkit", args.lengths, args.length_shape)
        if torch is not None:
            memory["PyTorch"] = measure_memory("PyTorch", args.lengths, args.length_shape)
    rooflines.append(roofline(rounds=1 if args.quick else 5, size=256 if args.quick else 2048))
    publish(report(shape_times, rooflines, length_times, memory, args), RESULTS, write=not args.quick)
    return shape_times


if __name__ == "__main__":
    main()
