"""One run per output folder: a second ``train.py`` or ``evaluate.py`` on the same
``--out`` refuses (one line, exit status 2) instead of interleaving its writes.

The lock is ``fcntl.flock(LOCK_EX | LOCK_NB)`` on a lock file, held for the whole run.
The kernel drops it when the process ends however it ends, so a run killed with SIGKILL
never blocks its own ``--resume`` (a pid file would need a liveness guess). The holder
writes its pid into the file for the message.

* ``train.py`` writes into its folder, so the lock is ``OUT/.lock``
  (:func:`hold`).
* ``evaluate.py`` replaces its folder as a whole (:func:`sagsim.atomic.replace_dir_atomic`),
  which would swap a lock file inside it for another, so its lock is a hidden sibling,
  ``PARENT/.NAME.lock`` (``sibling=True``; :func:`run_locked`).

On release the lock file is deleted (and the folders the lock created, when still
empty), so a refused or failed run leaves nothing behind. Deleting a flock file is safe
because a taker checks, once it holds the lock, that the name still leads to the file it
locked, and starts over if not. A SIGKILLed run leaves the file; the next run just locks
it again. Processes forked while the lock is held (``multiprocessing`` pools) close their
copy of it as soon as they run, so an orphaned worker cannot keep a killed run's lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = ["LOCK_NAME", "RunLockError", "hold", "lock_path", "run_locked"]

LOCK_NAME = ".lock"
_HELD: set[int] = set()  # lock descriptors held by this process


class RunLockError(RuntimeError):
    """Another live process holds the folder's lock: the message is the one line
    ``PROG: --out OUT is in use by another run (pid N)``."""

    def __init__(self, message: str, pid: int | None):
        super().__init__(message)
        self.pid = pid


def _close_in_child() -> None:
    # Closing (not unlocking: LOCK_UN on a shared description would free the parent's
    # lock) the inherited descriptors: the lock then lives exactly as long as the parent.
    for fd in list(_HELD):
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD.clear()


os.register_at_fork(after_in_child=_close_in_child)


def lock_path(out: str | os.PathLike, sibling: bool = False) -> Path:
    """``OUT/.lock``, or ``PARENT/.NAME.lock`` for a folder replaced as a whole."""
    out = Path(out)
    return out.parent / f".{out.name}.lock" if sibling else out / LOCK_NAME


def _make_dirs(folder: Path) -> list[Path]:
    """``folder`` and missing parents created; returns the ones created, deepest first."""
    missing = []
    p = folder
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        with contextlib.suppress(FileExistsError):
            d.mkdir()
    return missing


def _holder_pid(fd: int) -> int | None:
    # The holder writes its pid just after taking the lock; a loaded machine may delay it
    # (0.2 s was not always enough), so wait up to 2 s before saying "pid unknown".
    for _ in range(200):
        with contextlib.suppress(OSError, ValueError):
            return int(os.pread(fd, 32, 0).decode().strip())
        time.sleep(0.01)
    return None


@contextlib.contextmanager
def hold(out: str | os.PathLike, prog: str, sibling: bool = False) -> Iterator[Path]:
    """Hold ``out``'s run lock for the ``with`` block (creating the folders it needs);
    raise :class:`RunLockError` at once when another process holds it. Yields the lock
    file's path."""
    path = lock_path(out, sibling)
    created: list[Path] = []
    for attempt in itertools.count():
        created += _make_dirs(path.parent)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:  # a releasing run removed the folder just now
            if attempt >= 100:  # or something odd, such as a dangling symlink
                raise
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _holder_pid(fd)
            os.close(fd)
            _remove_dirs(created)
            who = f"pid {pid}" if pid is not None else "pid unknown"
            message = f"{prog}: --out {out} is in use by another run ({who})"
            raise RunLockError(message, pid) from None
        except BaseException:
            os.close(fd)
            raise
        try:  # the file a releasing run deleted (or replaced) after we opened it: again
            now, ours = os.stat(path), os.fstat(fd)
            same = (now.st_dev, now.st_ino) == (ours.st_dev, ours.st_ino)
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
        if attempt >= 100:
            raise RuntimeError(f"{path}: cannot take the lock (it keeps being replaced)")
    _HELD.add(fd)
    owner = os.getpid()
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{owner}\n".encode(), 0)
        yield path
    finally:
        if os.getpid() == owner:  # not in a forked child unwinding its copy of the stack
            # Delete while still holding it (see the module doc), then let go.
            with contextlib.suppress(OSError):
                os.unlink(path)
            _HELD.discard(fd)
            os.close(fd)
            _remove_dirs(created)


def _remove_dirs(created: list[Path]) -> None:
    for d in created:  # deepest first; only while empty
        with contextlib.suppress(OSError):
            d.rmdir()


def run_locked(out: str | os.PathLike, prog: str, fn: Callable[..., int], *args, **kwargs) -> int:
    """For a command that replaces the folder ``out`` as a whole (``evaluate.py``): hold its
    sibling lock, put back a folder a killed :func:`sagsim.atomic.replace_dir_atomic` left
    aside (and drop its half-written temporaries), then return ``fn(*args, **kwargs)``.
    Another run holding the lock: its one line on stderr, exit status 2."""
    from sagsim.atomic import recover_dir

    lock = contextlib.ExitStack()
    try:
        lock.enter_context(hold(out, prog, sibling=True))
    except RunLockError as e:
        sys.stderr.write(f"{e}\n")
        return 2
    with lock:
        recover_dir(out)
        return fn(*args, **kwargs)
