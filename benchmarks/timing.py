"""Timing helpers shared by the speed benchmarks; no framework imported here."""

import statistics
import time

__all__ = ["SETTLE", "calibrate", "seconds_per_call", "time_calls"]

SETTLE = 0.05  # seconds between timed samples: longer than any helper thread's spin


def seconds_per_call(fn, calls, settle=0.0):
    """Mean seconds per call over `calls` calls, after `settle` seconds of sleep: time for
    the helper threads of whatever ran before (PyTorch's OpenMP team, rnnkit's op) to stop
    spinning, so that no row is timed while another's threads still hold a core."""
    time.sleep(settle)
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def calibrate(fn, budget):
    """How many calls of `fn` take about `budget` seconds (at least 1)."""
    return max(1, int(budget / max(seconds_per_call(fn, 2), 1e-6)))


def time_calls(fns, rounds, budget, warmup):
    """`{name: median seconds per call}` of the callables `fns`, after `warmup` calls each
    (tracing, compiling), over `rounds` interleaved rounds of about `budget` seconds each:
    every callable once per round, so that a noisy neighbour slows them alike."""
    calls = {}
    for name, fn in fns.items():
        for _ in range(warmup):
            fn()
        calls[name] = calibrate(fn, budget)
    samples = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            samples[name].append(seconds_per_call(fn, calls[name], SETTLE))
    return {name: statistics.median(values) for name, values in samples.items()}
