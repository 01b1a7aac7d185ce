"""Training throughput of rnnkit's cells against Keras's built-in recurrent layers.

For each family (LSTM, GRU, Elman) it times one training step (forward, backward, Adam
update) of `Input -> recurrent layer -> Dense(1)` for three implementations:

- Keras's built-in layer (`keras.layers.LSTM`, `GRU`, `SimpleRNN`), the reference;
- `keras.layers.RNN(rnnkit cell)`: our cell stepped by Keras's loop;
- `Recurrent(rnnkit cell)`: the input projection `x W + b` hoisted out of the loop.

All variants run side by side in one process, interleaved round by round so that a
noisy neighbour slows them alike; the table reports the median over rounds and the
ratio to the built-in layer. Defaults: batch 64, 50 steps, 64 features, 128 units, CPU.

    python -m benchmarks.recurrent_speed            # writes benchmarks/results/recurrent_speed.md
    python -m benchmarks.recurrent_speed --quick    # a smoke run, nothing written
"""

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # the numbers are CPU numbers

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from rnnkit.layers import GRUCell, LSTMCell, Recurrent, SimpleRNNCell  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "recurrent_speed.md"

FAMILIES = {
    "LSTM": (keras.layers.LSTM, LSTMCell),
    "GRU": (keras.layers.GRU, GRUCell),
    "Elman": (keras.layers.SimpleRNN, SimpleRNNCell),
}
IMPLEMENTATIONS = {
    "Keras built-in": lambda builtin, cell, units: builtin(units),
    "keras.layers.RNN(rnnkit cell)": lambda builtin, cell, units: keras.layers.RNN(cell(units)),
    "rnnkit Recurrent(cell)": lambda builtin, cell, units: Recurrent(cell(units)),
}


def build_model(layer, time_steps, features):
    inputs = keras.Input((time_steps, features))
    model = keras.Model(inputs, keras.layers.Dense(1)(layer(inputs)))
    model.compile(optimizer="adam", loss="mse")
    return model


def time_steps_per_second(model, x, y, steps):
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return steps / (time.perf_counter() - start)


def run(batch, time_steps, features, units, steps, rounds, warmup):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, time_steps, features)).astype("float32")
    y = rng.normal(size=(batch, 1)).astype("float32")
    models = {}
    for family, (builtin, cell) in FAMILIES.items():
        for name, make in IMPLEMENTATIONS.items():
            model = build_model(make(builtin, cell, units), time_steps, features)
            for _ in range(warmup):  # trace and compile before timing
                model.train_on_batch(x, y)
            models[family, name] = model
    rates = {key: [] for key in models}
    for _ in range(rounds):  # interleaved: every variant once per round
        for key, model in models.items():
            rates[key].append(time_steps_per_second(model, x, y, steps) * batch * time_steps)
    return {key: statistics.median(values) for key, values in rates.items()}


def table(rates, args):
    lines = [
        "# Recurrent training throughput (CPU)",
        "",
        f"batch {args.batch}, {args.time_steps} steps, {args.features} features, "
        f"{args.units} units; one `train_on_batch` (forward, backward, Adam) of "
        "`Input -> layer -> Dense(1)`; median of "
        f"{args.rounds} interleaved rounds of {args.steps} steps each.",
        "",
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}, Python "
        f"{platform.python_version()}, {os.cpu_count()} CPU cores, {platform.machine()}.",
        "",
        "| family | implementation | sample-steps/s | ratio to Keras built-in |",
        "| --- | --- | ---: | ---: |",
    ]
    for family in FAMILIES:
        reference = rates[family, "Keras built-in"]
        for name in IMPLEMENTATIONS:
            rate = rates[family, name]
            lines.append(f"| {family} | {name} | {rate:,.0f} | {rate / reference:.2f} |")
    lines += [
        "",
        "Reproduce with `python -m benchmarks.recurrent_speed` (numbers move with the machine;",
        "the ratios, measured side by side in one run, are what to compare).",
        "",
    ]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--time-steps", type=int, default=50)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10, help="training steps per round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, print only")
    args = parser.parse_args(argv)
    if args.quick:
        args.batch, args.time_steps, args.features, args.units = 4, 5, 3, 8
        args.steps, args.rounds, args.warmup = 2, 1, 1
    rates = run(args.batch, args.time_steps, args.features, args.units, args.steps, args.rounds, args.warmup)
    report = table(rates, args)
    print(report)
    if not args.quick:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(report)
    return rates


if __name__ == "__main__":
    main()
