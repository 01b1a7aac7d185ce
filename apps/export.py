"""Writing a run's artifacts safely: nothing half-written, nothing overwritten unasked."""

import shutil
import tempfile
from pathlib import Path

from rnnkit.layers import fused

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
    """Calls `write(staging_path)`, then moves the result (a file or a folder) to `path` by rename.

    A failed write leaves `path` as it was: absent, or what was there before. The staging
    folder is a hidden sibling, `.{name}.*`, on the same file system (so the move is a
    rename); an error removes it, and one left behind by a killed process is never read.
    Replacing an existing `path` moves the old one aside first (a rename too), so `path`
    is never half-written; only a kill between the two renames leaves it absent.
    """
    path = check_writable(path, overwrite, argument)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        write(staging / "result")
        if not (staging / "result").exists():
            raise FileNotFoundError(f"The writer of {str(path)!r} wrote nothing.")
        if path.exists():
            path.rename(staging / "replaced")  # deleted with the staging folder
        (staging / "result").rename(path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path


def export_saved_model(model, path, overwrite=False):
    """`model.export(path)` through `write_atomically`, traced with standard ops only
    (`fused.portable()`: no rnnkit op, no cuDNN), so it serves anywhere without rnnkit."""

    def write(staging):
        with fused.portable():
            model.export(str(staging), verbose=False)

    return write_atomically(path, write, overwrite)
