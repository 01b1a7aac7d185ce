"""Benchmarks, run as `python -m benchmarks.<name>`; each writes its table to `results/`."""

import os
import platform

__all__ = ["machine", "publish"]


def machine():
    """The table's `Machine:` line: architecture, cores and TensorFlow version."""
    import tensorflow as tf

    return f"Machine: {platform.machine()}, {os.cpu_count()} cores, TensorFlow {tf.__version__}, CPU only."


def publish(lines, path, write=True):
    """Prints the report `lines` and, unless `write` is off (a quick run), writes it to `path`."""
    text = "\n".join(lines)
    print(text)
    if write:
        path.write_text(text)
