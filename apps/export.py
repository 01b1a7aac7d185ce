"""Writing a run's artifacts safely: nothing half-written, nothing overwritten unasked."""

import shutil
import tempfile
from pathlib import Path

__all__ = ["check_writable", "export_saved_model"]


def check_writable(path, overwrite=False):
    """Fails before any work starts if `path` exists and `overwrite` was not asked for."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise ValueError(
            f"Argument `path`: {str(path)!r} already exists. Pass overwrite=True "
            "(or --overwrite on the command line) to replace it, or choose a new path."
        )
    return path


def export_saved_model(model, path, overwrite=False):
    """`model.export(path)`, written to a temporary folder and moved into place when complete.

    A failed export leaves `path` as it was: absent, or the previous export.
    """
    path = check_writable(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        model.export(str(staging / "export"), verbose=False)
        if path.exists():
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        (staging / "export").rename(path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path
