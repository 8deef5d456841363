"""train.py killed with SIGKILL at any moment leaves only loadable files and resumes from
its last checkpoint with the step count going on; a second run on the same --out is
refused while the first goes on unaffected."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from sb3_contrib import MaskablePPO

from sagsim.agents.training import reconcile_state

ROOT = Path(__file__).resolve().parents[2]
SMALL_CONFIG = "n_steps: 64\nbatch_size: 128\nn_epochs: 2\nnet_arch: [32, 32]\n"
EVERY = 400  # agent-steps between checkpoints: about one rollout (64 steps × 6 slots)
FAST = ["--eval-every", str(EVERY), "--n-envs", "2", "--max-cycles", "40", "--eval-seeds", "2",
        "--quiet", "--report-seeds", "0"]  # fmt: skip


def train_args(out, config, *extra):
    return [sys.executable, "train.py", "minimal", "--config", str(config), "--out", str(out),
            *FAST, *map(str, extra)]  # fmt: skip


def start(out, config, log, *extra):
    with log.open("w") as err:
        return subprocess.Popen(train_args(out, config, "--timesteps", 10**7, *extra),
                                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err)  # fmt: skip


def wait_for(condition, proc, what, timeout=600.0, poll=0.02):
    # The timeout only guards against a hang: a loaded machine may be many times slower.
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, f"train.py ended (status {proc.returncode}) before {what}"
        assert time.monotonic() < deadline, f"no {what} after {timeout} s"
        time.sleep(poll)


def inode(path):
    try:
        return path.stat().st_ino
    except FileNotFoundError:
        return None


def checkpoint_beyond(path, steps):
    """A condition for :func:`wait_for`: ``path`` holds a checkpoint of more than ``steps``
    agent-steps. Not just a new file: a resumed run's first save may be the catch-up
    evaluation at the same step count. Loaded only when replaced (atomically: always whole)."""
    seen = [inode(path)]

    def condition():
        now = inode(path)
        if now is None or now == seen[0]:
            return False
        seen[0] = now
        return MaskablePPO.load(path).num_timesteps > steps

    return condition


def kill(proc):
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL


def check_loadable(out) -> tuple[int, dict]:
    """Every file in ``out`` loads; returns last.zip's step count and state.json."""
    steps = {}
    for p in out.iterdir():
        if p.name.startswith("."):  # the lock, or a killed writer's temporary
            assert p.name == ".lock" or p.name.endswith(".tmp"), p.name
        elif p.suffix == ".zip":
            steps[p.name] = MaskablePPO.load(p).num_timesteps
        elif p.suffix == ".json":
            json.loads(p.read_text())
        elif p.suffix == ".yaml":
            assert yaml.safe_load(p.read_text())["n_steps"] == 64
        else:  # TensorBoard event files are append-only: nothing to replace
            assert p.name == "tb" and p.is_dir(), p.name
    state = json.loads((out / "state.json").read_text())
    # The checkpoints are written before state.json: it may lag them, never lead.
    assert 0 < state["num_timesteps"] <= steps["last.zip"]
    assert steps["best.zip"] <= steps["last.zip"]
    return steps["last.zip"], state


def test_sigkill_at_any_moment_then_resume_and_one_run_per_out(tmp_path):
    config = tmp_path / "small.yaml"
    config.write_text(SMALL_CONFIG)
    out = tmp_path / "run"
    last = out / "last.zip"

    # 1. A fresh run; once it holds --out, a second run there is refused.
    first = start(out, config, tmp_path / "first.log")
    try:
        wait_for((out / ".lock").exists, first, "lock")
        other = subprocess.Popen(train_args(out, config), cwd=ROOT, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
        wait_for(last.exists, first, "first checkpoint")
        _, err = other.communicate(timeout=600)
        assert other.returncode == 2
        assert err == f"train.py: --out {out} is in use by another run (pid {first.pid})\n"
        assert first.poll() is None  # unaffected: it goes on checkpointing
        before = inode(last)
        wait_for(lambda: inode(last) != before, first, "checkpoint after the refusals")
        # Killed mid-write if we catch it: as soon as a temporary appears.
        deadline = time.monotonic() + 10
        while not list(out.glob(".*.tmp")) and time.monotonic() < deadline:
            time.sleep(0.002)
        kill(first)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    steps1, _ = check_loadable(out)

    # 2. Resumed (the killed run's lock is gone with it), killed again between checkpoints.
    second = start(out, config, tmp_path / "second.log", "--resume", last)
    try:
        # Its first save may redo the killed run's lost evaluation at the same step count;
        # wait for one that went on (a new file alone raced with a loaded machine).
        wait_for(checkpoint_beyond(last, steps1), second, "checkpoint of the resumed run")
        time.sleep(0.4)
        kill(second)
    finally:
        if second.poll() is None:
            second.kill()
            second.wait()
    steps2, state = check_loadable(out)
    assert steps2 > steps1  # it went on from the checkpoint

    # As if killed between last.zip and state.json: the last evaluation is lost.
    state["curve"] = [c for c in state["curve"] if c["num_timesteps"] < steps2]
    state["num_timesteps"] = state["curve"][-1]["num_timesteps"]
    (out / "state.json").write_text(json.dumps(state))

    # 3. Resumed to the end: the step count goes on, the lost evaluation is redone.
    target = steps2 + 2 * EVERY
    done = subprocess.run(train_args(out, config, "--timesteps", target, "--resume", last),
                          cwd=ROOT, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr
    steps3, state = check_loadable(out)
    assert steps3 >= target and state["num_timesteps"] == steps3
    curve = [c["num_timesteps"] for c in state["curve"]]
    assert steps2 in curve and curve == sorted(curve) and curve[-1] == steps3
    assert json.loads((out / "metrics.json").read_text())["num_timesteps"] == steps3
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []  # no
    # stale temporaries (deleted by the resumed run) and no lock file after a clean end

    # 4. Nothing left to train: the checkpoint is evaluated and the metrics written.
    import train

    (out / "metrics.json").unlink()
    assert train.main(train_args(out, config, "--timesteps", target, "--resume", last)[2:]) == 0
    assert json.loads((out / "metrics.json").read_text())["num_timesteps"] == steps3


@pytest.mark.parametrize(
    ("recorded", "checkpoint", "lost", "curve"),
    [
        (800, 800, False, [400, 800]),  # in step
        (400, 800, True, [400]),  # killed between last.zip and state.json
        (800, 400, False, [400]),  # resumed from an earlier checkpoint (best.zip)
    ],
)
def test_the_checkpoint_is_trusted_over_state_json(recorded, checkpoint, lost, curve):
    points = (400, 800)[: recorded // 400]
    state = {"num_timesteps": recorded, "curve": [{"num_timesteps": s} for s in points]}
    assert reconcile_state(state, checkpoint) is lost
    assert state["num_timesteps"] == checkpoint
    assert [c["num_timesteps"] for c in state["curve"]] == curve
    assert reconcile_state({}, 800) is False  # no run record: nothing to redo


@pytest.mark.parametrize("extra", [[], ["--resume", "last.zip"], ["--backend", "rllib"]])
def test_a_busy_out_is_refused_before_anything_else_is_checked(tmp_path, capsys, extra):
    import train
    from sagsim.agents.run_lock import hold

    out = tmp_path / "run"
    extra = [str(out / x) if x.endswith(".zip") else x for x in extra]
    with hold(out, "train.py"):
        (out / "last.zip").write_bytes(b"")  # a plain run here would be "already holds a run"
        assert train.main(["minimal", "--out", str(out), *extra]) == 2
        assert sorted(p.name for p in out.iterdir()) == [".lock", "last.zip"]
    err = capsys.readouterr().err
    assert err == f"train.py: --out {out} is in use by another run (pid {os.getpid()})\n"
