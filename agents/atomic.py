"""Crash-safe output files: write to a temporary file in the same folder, then rename over
the target (``os.replace`` is atomic), so a killed writer leaves the old file or the new
one, never half of either. Used for checkpoints, run state, metrics and benchmark results.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["replace_atomic", "save_model_atomic", "write_json_atomic"]


def replace_atomic(path: str | os.PathLike, write: Callable[[str], None]) -> None:
    """``write(tmp_path)`` then rename ``tmp_path`` over ``path`` (parents created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json_atomic(path: str | os.PathLike, data: dict) -> None:
    """``data`` as indented JSON (numpy scalars as floats), flushed to disk, then renamed."""

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, default=float)
            f.flush()
            os.fsync(f.fileno())

    replace_atomic(path, write)


def save_model_atomic(model, path: str | os.PathLike) -> None:
    """A stable-baselines3 ``model.save`` made atomic."""

    def write(tmp: str) -> None:
        model.save(tmp)
        # SB3 appends ".zip" to a name without it; move it back to the temp name.
        if os.path.exists(tmp + ".zip"):
            os.replace(tmp + ".zip", tmp)

    replace_atomic(path, write)
