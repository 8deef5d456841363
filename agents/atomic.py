"""Crash-safe output files: write to a temporary file in the same folder, then rename over
the target (``os.replace`` is atomic), so a killed writer leaves the old file or the new
one, never half of either. Used for checkpoints, run state, metrics and benchmark results.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["recover_dir", "replace_atomic", "replace_dir_atomic", "save_model_atomic",
           "write_json_atomic"]  # fmt: skip


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


def replace_dir_atomic(path: str | os.PathLike, write: Callable[[Path], None]) -> None:
    """A folder made crash-safe: ``write(tmp_dir)`` fills a hidden temporary folder beside
    ``path``, the old folder is moved aside, the new one renamed into place, the old one
    deleted. A folder cannot be renamed over another in one step, so a crash between the
    two renames leaves the old one aside: :func:`recover_dir` puts it back."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Not mkdtemp: its 0700 mode would stick to the result; this honours the umask.
    tmp = path.parent / f".{path.name}.{os.getpid()}.{time.time_ns()}.tmp"
    tmp.mkdir()
    old = tmp.with_suffix(".old")
    try:
        write(tmp)
        if path.exists():
            os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def recover_dir(path: str | os.PathLike) -> bool:
    """After a killed :func:`replace_dir_atomic`: put back a folder it had moved aside and
    drop half-written ones. Returns whether ``path`` exists afterwards."""
    path = Path(path)
    for old in sorted(path.parent.glob(f".{path.name}.*.old")):
        if not path.exists():
            os.replace(old, path)
        shutil.rmtree(old, ignore_errors=True)
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        shutil.rmtree(tmp, ignore_errors=True)
    return path.exists()
