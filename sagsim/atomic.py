"""Crash-safe output files: write to a temporary file in the same folder, flush it to disk,
then rename it over the target (``os.replace`` is atomic) and flush the folder, so a killed
writer (or a power cut) leaves the old file or the new one, never half of either. Used for
checkpoints, run state, configs, metrics and benchmark results.

Temporaries are hidden and end in ``.tmp`` (``.NAME.PID.TOKEN.tmp``), so no glob for
``*.zip`` or ``*.json`` picks one up; a writer killed mid-write leaves its temporary
behind, and :func:`remove_stale_temporaries` (run under the run's lock, see
:mod:`sagsim.agents.run_lock`) deletes those on the next run.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import shutil
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["fsync_dir", "fsync_file", "recover_dir", "remove_stale_temporaries",
           "replace_atomic", "replace_dir_atomic", "save_figure_atomic", "save_model_atomic",
           "write_json_atomic",
           "write_text_atomic"]  # fmt: skip

TMP_SUFFIX = ".tmp"


def fsync_file(path: str | os.PathLike) -> None:
    """Flush ``path``'s data to disk (whoever wrote it, through whatever handle)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: str | os.PathLike) -> None:
    """Flush a folder's entries (a rename or a new name in it) to disk: POSIX durability of
    a rename needs this. A no-op on file systems that cannot sync a folder."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF, errno.EACCES):
            raise
    finally:
        os.close(fd)


def _temporary_name(path: Path) -> Path:
    return path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{TMP_SUFFIX}"


def replace_atomic(path: str | os.PathLike, write: Callable[[str], None]) -> None:
    """``write(tmp_path)`` then rename ``tmp_path`` over ``path`` (parents created): the
    temporary is flushed to disk before the rename and the folder after it. A writer that
    raises leaves the old file and no temporary; one killed leaves the old file and a
    stale temporary (see :func:`remove_stale_temporaries`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:  # not mkstemp: its 0600 mode would stick to the result; this honours the umask
        tmp = _temporary_name(path)
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            break
        except FileExistsError:
            continue
    tmp = str(tmp)
    try:
        write(tmp)
        # stable-baselines3 appends ".zip" to a name without a suffix; torch and others
        # write the name given. Either way the bytes go to disk before the rename.
        fsync_file(tmp)
        os.replace(tmp, path)
        fsync_dir(path.parent)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """``text`` (UTF-8) written crash-safe to ``path``."""
    replace_atomic(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def write_json_atomic(path: str | os.PathLike, data: dict) -> None:
    """``data`` as indented JSON (numpy scalars as floats), flushed to disk, then renamed."""

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, default=float)

    replace_atomic(path, write)


def save_model_atomic(model, path: str | os.PathLike) -> None:
    """A stable-baselines3 ``model.save`` made atomic."""

    def write(tmp: str) -> None:
        model.save(tmp)
        # SB3 appends ".zip" to a name without a suffix; ours has one, but be safe.
        if os.path.exists(tmp + ".zip"):
            os.replace(tmp + ".zip", tmp)

    replace_atomic(path, write)


def save_figure_atomic(fig, path: str | os.PathLike, **savefig_kwargs) -> None:
    """A matplotlib ``fig.savefig(path)`` made atomic (the format from ``path``'s suffix)."""
    fmt = Path(path).suffix.lstrip(".") or None
    replace_atomic(path, lambda tmp: fig.savefig(tmp, format=fmt, **savefig_kwargs))


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files that killed :func:`replace_atomic` writers left in
    ``folder`` (not in its subfolders; folders are :func:`recover_dir`'s). Only call it
    while no other writer can be at work in ``folder`` (holding its run lock). Returns
    what was deleted."""
    removed = []
    for p in Path(folder).glob(f".*{TMP_SUFFIX}*"):
        if (p.name.endswith(TMP_SUFFIX) or p.name.endswith(TMP_SUFFIX + ".zip")) and p.is_file():
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def _fsync_tree(root: Path) -> None:
    for folder, _, files in os.walk(root):
        for name in files:
            fsync_file(os.path.join(folder, name))
        fsync_dir(folder)


def replace_dir_atomic(path: str | os.PathLike, write: Callable[[Path], None]) -> None:
    """A folder made crash-safe: ``write(tmp_dir)`` fills a hidden temporary folder beside
    ``path``, its files are flushed to disk, the old folder is moved aside, the new one
    renamed into place, the parent flushed, the old one deleted. A folder cannot be renamed
    over another in one step, so a crash between the two renames leaves the old one
    aside: :func:`recover_dir` puts it back."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Not mkdtemp: its 0700 mode would stick to the result; this honours the umask.
    tmp = path.parent / f".{path.name}.{os.getpid()}.{time.time_ns()}.tmp"
    tmp.mkdir()
    old = tmp.with_suffix(".old")
    try:
        write(tmp)
        _fsync_tree(tmp)
        if path.exists():
            os.replace(path, old)
        os.replace(tmp, path)
        fsync_dir(path.parent)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def recover_dir(path: str | os.PathLike) -> bool:
    """After a killed :func:`replace_dir_atomic`: put back a folder it had moved aside and
    drop half-written ones. Returns whether ``path`` exists afterwards. Only call it while
    no other writer can be replacing ``path`` (holding its run lock)."""
    path = Path(path)
    for old in sorted(path.parent.glob(f".{path.name}.*.old")):
        if not path.exists():
            os.replace(old, path)
            fsync_dir(path.parent)
        shutil.rmtree(old, ignore_errors=True)
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        shutil.rmtree(tmp, ignore_errors=True)
    return path.exists()
