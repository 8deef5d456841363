"""Crash-safe outputs: a failed or killed writer leaves the old file or folder intact, the
bytes reach the disk before the rename, and one run at a time holds an output folder."""

import contextlib
import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from sagsim.agents.run_lock import RunLockError, hold, run_locked
from sagsim.atomic import (
    recover_dir,
    remove_stale_temporaries,
    replace_atomic,
    replace_dir_atomic,
    save_figure_atomic,
    write_json_atomic,
    write_text_atomic,
)


def test_a_writer_that_fails_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "metrics.json"
    write_json_atomic(target, {"a": 1})

    def broken(tmp):
        with open(tmp, "w") as f:
            f.write('{"a": 2, "half')
        raise OSError("disk full")

    with pytest.raises(OSError):
        replace_atomic(target, broken)
    assert json.loads(target.read_text()) == {"a": 1}
    assert os.listdir(tmp_path) == ["metrics.json"]


def test_a_folder_is_replaced_whole_and_recovered_after_a_crash(tmp_path):
    target = tmp_path / "ckpt"
    replace_dir_atomic(target, lambda d: (d / "w.txt").write_text("1"))
    replace_dir_atomic(target, lambda d: (d / "w.txt").write_text("2"))
    assert (target / "w.txt").read_text() == "2" and os.listdir(tmp_path) == ["ckpt"]

    def broken(d):
        (d / "w.txt").write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        replace_dir_atomic(target, broken)
    assert (target / "w.txt").read_text() == "2" and os.listdir(tmp_path) == ["ckpt"]
    # Killed between the two renames: the old folder is aside and nothing is in place.
    aside = tmp_path / ".ckpt.1.2.old"
    os.replace(target, aside)
    (tmp_path / ".ckpt.1.3.tmp").mkdir()
    assert recover_dir(target)
    assert (target / "w.txt").read_text() == "2" and os.listdir(tmp_path) == ["ckpt"]


# ---------------------------------------------------------------- killed writers, durability

ROOT = Path(__file__).resolve().parents[1]

# Writes a large JSON through write_json_atomic and stalls halfway, inside json.dump (a
# value's float() is called mid-stream, after ~1 MB has reached the temporary file).
STALLING_WRITER = """
import sys, time
from sagsim.atomic import write_json_atomic

class Stall:
    def __float__(self):
        print("writing", flush=True)
        time.sleep(120)
        return 0.0

write_json_atomic(sys.argv[1], {"big": list(range(200_000)), "stall": Stall()})
"""


def test_a_writer_killed_mid_write_leaves_the_old_file(tmp_path):
    target = tmp_path / "metrics.json"
    write_json_atomic(target, {"old": True})
    proc = subprocess.Popen([sys.executable, "-c", STALLING_WRITER, str(target)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert proc.stdout.readline() == "writing\n"
        (tmp,) = [p for p in tmp_path.iterdir() if p.name != "metrics.json"]
        assert tmp.name.startswith(".metrics.json.") and tmp.name.endswith(".tmp")
        assert tmp.stat().st_size > 100_000  # really halfway through
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert json.loads(target.read_text()) == {"old": True}
    # The stale temporary is hidden and not *.json; the next run deletes it.
    assert [p.name for p in tmp_path.glob("*.json")] == ["metrics.json"]
    assert remove_stale_temporaries(tmp_path) == [tmp]
    assert os.listdir(tmp_path) == ["metrics.json"]


def test_the_file_then_the_folder_reach_the_disk_around_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", "dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"))
        real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", Path(dst).name))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    write_json_atomic(tmp_path / "state.json", {"a": 1})
    assert events == [("fsync", "file"), ("replace", "state.json"), ("fsync", "dir")]
    events.clear()
    replace_dir_atomic(tmp_path / "report", lambda d: (d / "m.json").write_text("{}"))
    assert events == [("fsync", "file"), ("fsync", "dir"), ("replace", "report"),
                      ("fsync", "dir")]  # fmt: skip


def test_files_honour_the_umask_and_figures_keep_their_format(tmp_path):
    old = os.umask(0o027)
    try:
        write_text_atomic(tmp_path / "config.yaml", "a: 1\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "config.yaml").stat().st_mode) == 0o640
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(1, 1))
    save_figure_atomic(fig, tmp_path / "curve.png")
    save_figure_atomic(fig, tmp_path / "curve.svg")
    plt.close(fig)
    assert (tmp_path / "curve.png").read_bytes().startswith(b"\x89PNG")
    assert b"<svg" in (tmp_path / "curve.svg").read_bytes()[:500]
    assert sorted(os.listdir(tmp_path)) == ["config.yaml", "curve.png", "curve.svg"]


# ---------------------------------------------------------------- one run per output folder


def test_a_second_holder_is_refused_with_the_pid_and_nothing_is_left(tmp_path):
    out = tmp_path / "runs" / "a"
    with hold(out, "train.py") as lock:
        assert lock == out / ".lock" and lock.read_text() == f"{os.getpid()}\n"
        with pytest.raises(RunLockError) as e, hold(out, "train.py"):
            pass
        assert str(e.value) == f"train.py: --out {out} is in use by another run (pid {os.getpid()})"
        assert e.value.pid == os.getpid()
        assert lock.exists()  # the refused taker did not disturb it
    assert not (tmp_path / "runs").exists()  # the folders it created, empty: removed
    out.mkdir(parents=True)
    with hold(out, "train.py"):
        (out / "last.zip").write_bytes(b"")
    assert os.listdir(out) == ["last.zip"]
    with hold(out, "train.py"):  # free again
        pass


# Takes the lock, forks a worker (as evaluate.py's pool does) and sleeps. The pid is
# printed once the worker runs its target, so its at-fork hook (which drops its copy of
# the lock) has run: before that the child briefly shares the parent's descriptor.
HOLDER_WITH_A_FORKED_WORKER = """
import multiprocessing, sys, time
from sagsim.agents.run_lock import hold

def work(started):
    started.set()
    time.sleep(120)

with hold(sys.argv[1], "train.py"):
    ctx = multiprocessing.get_context("fork")
    started = ctx.Event()
    worker = ctx.Process(target=work, args=(started,))
    worker.start()
    started.wait(600)  # a guard against a hang only
    print(worker.pid, flush=True)
    time.sleep(120)
"""


def test_a_killed_holder_frees_the_lock_even_with_an_orphaned_worker(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-c", HOLDER_WITH_A_FORKED_WORKER, str(out)],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)  # fmt: skip
    worker = None
    try:
        worker = int(proc.stdout.readline())
        with pytest.raises(RunLockError, match=f"pid {proc.pid}"), hold(out, "train.py"):
            pass
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        os.kill(worker, 0)  # the worker lives on, orphaned
        assert (out / ".lock").exists()  # a killed run leaves the file, not the lock
        with hold(out, "train.py"):
            pass
    finally:
        proc.kill()
        proc.wait(timeout=30)
        if worker is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker, signal.SIGKILL)


def test_run_locked_refuses_a_busy_folder_and_recovers_a_killed_replacement(tmp_path, capsys):
    out = tmp_path / "report"
    replace_dir_atomic(out, lambda d: (d / "metrics.json").write_text("{}"))
    os.replace(out, tmp_path / ".report.1.2.old")  # killed between replace_dir's renames

    def body(x):
        assert (out / "metrics.json").is_file()  # put back before the command runs
        with pytest.raises(RunLockError), hold(out, "evaluate.py", sibling=True):
            pass
        return x

    assert run_locked(out, "evaluate.py", body, 7) == 7
    assert os.listdir(tmp_path) == ["report"]
    with hold(out, "evaluate.py", sibling=True) as lock:
        assert lock == tmp_path / ".report.lock"
        assert run_locked(out, "evaluate.py", body, 7) == 2
    err = capsys.readouterr().err
    assert err == f"evaluate.py: --out {out} is in use by another run (pid {os.getpid()})\n"
