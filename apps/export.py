"""Writing a run's artifacts safely: nothing half-written, nothing overwritten unasked."""

import shutil
import tempfile
from pathlib import Path

__all__ = ["check_writable", "export_saved_model", "write_atomically"]


def check_writable(path, overwrite=False, argument="path"):
    """Fails before any work starts if `path` exists and `overwrite` was not asked for."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise ValueError(
            f"Argument `{argument}`: {str(path)!r} already exists. Pass overwrite=True "
            "(or --overwrite on the command line) to replace it, or choose a new path."
        )
    return path


def write_atomically(path, write, overwrite=False, argument="path"):
    """Calls `write(staging_path)`, then moves the result to `path` in one rename.

    A failed write leaves `path` as it was: absent, or what was there before.
    """
    path = check_writable(path, overwrite, argument)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        write(staging / "result")
        if path.exists():
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        (staging / "result").rename(path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path


def export_saved_model(model, path, overwrite=False):
    """`model.export(path)` through `write_atomically`."""
    return write_atomically(path, lambda staging: model.export(str(staging), verbose=False), overwrite)
