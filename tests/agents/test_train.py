"""train.py end to end: a short run and a resume write loadable checkpoints and metrics,
Ctrl-C leaves a loadable checkpoint, bad input is one line with exit status 2."""

import json
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from sb3_contrib import MaskablePPO

ROOT = Path(__file__).resolve().parents[2]
FAST = ["--n-envs", "2", "--max-cycles", "40", "--eval-seeds", "2", "--quiet",
        "--report-seeds", "0"]  # fmt: skip
SMALL_CONFIG = "n_steps: 64\nbatch_size: 128\nn_epochs: 2\nnet_arch: [32, 32]\n"


def run(*args, timeout=600):
    return subprocess.run([sys.executable, "train.py", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, check=False)  # fmt: skip


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text(SMALL_CONFIG)
    return path


def test_short_run_then_resume(tmp_path, config):
    out = tmp_path / "run"
    first = run("minimal", "--timesteps", 2000, "--eval-every", 1000, "--config", config,
                "--out", out, *FAST, "--report-seeds", 2)  # fmt: skip
    assert first.returncode == 0, first.stderr
    # The run ends with evaluate.py's report of best.zip against the baselines.
    report = json.loads((out / "report" / "metrics.json").read_text())
    assert set(report["summary"]) == {"run/best", "greedy", "contact_aware", "random", "planner"}
    assert len(report["meta"]["seeds"]) == 2 and report["meta"]["max_cycles"] == 40
    assert "Learning curves" in (out / "report" / "report.html").read_text()
    assert f"report: {(out / 'report' / 'report.html').resolve()}" in first.stdout
    assert "run/best − baseline, paired over 2 seeds: random " in first.stdout
    for name in ("last.zip", "best.zip", "state.json", "metrics.json", "config.yaml"):
        assert (out / name).is_file(), name
    steps = json.loads((out / "state.json").read_text())["num_timesteps"]
    assert steps >= 2000
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"trained_return", "greedy_return", "random_return"} <= set(metrics)
    MaskablePPO.load(out / "best.zip")
    events_before = list((out / "tb").rglob("events.*"))

    # Every evaluation reaches TensorBoard, the last one too (it was never dumped).
    curve = json.loads((out / "state.json").read_text())["curve"]
    assert tb_steps(out, "eval/team_return") == [c["num_timesteps"] for c in curve]

    # Without --out, a resume continues the checkpoint's own run folder.
    again = run("minimal", "--timesteps", steps + 1000, "--eval-every", 1000, "--config",
                config, "--resume", out / "last.zip", *FAST)  # fmt: skip
    assert again.returncode == 0, again.stderr
    resumed = json.loads((out / "state.json").read_text())["num_timesteps"]
    assert resumed >= steps + 1000
    assert MaskablePPO.load(out / "last.zip").num_timesteps == resumed
    # The logs continue in the same TensorBoard run folder.
    assert {p.parent for p in (out / "tb").rglob("events.*")} == {p.parent for p in events_before}
    curve = json.loads((out / "state.json").read_text())["curve"]
    assert tb_steps(out, "eval/team_return") == [c["num_timesteps"] for c in curve]

    # A resume keeps the run's settings (they were reset to the defaults: full-length
    # episodes against baselines of 40-step ones); flags change what they name.
    settings = yaml.safe_load((out / "config.yaml").read_text())
    third = run("minimal", "--timesteps", resumed + 500, "--resume", out / "last.zip",
                "--quiet", "--report-seeds", 0)  # fmt: skip
    assert third.returncode == 0, third.stderr
    assert f"resuming with the settings of {out / 'config.yaml'}; changed: timesteps" in (
        third.stderr
    )
    assert yaml.safe_load((out / "config.yaml").read_text()) == {
        **settings,
        "timesteps": resumed + 500,
    }


def tb_steps(out: Path, tag: str) -> list[int]:
    """The steps of every value of ``tag`` in the run's TensorBoard logs, in order."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    steps = []
    for folder in sorted({p.parent for p in (out / "tb").rglob("events.*")}):
        acc = EventAccumulator(str(folder))
        acc.Reload()
        if tag in acc.Tags()["scalars"]:
            steps += [e.step for e in acc.Scalars(tag)]
    return sorted(steps)


# Each phase made long (many seeds of whole episodes) so that the signal lands inside it.
PHASES = {
    "baseline evaluation": ["--timesteps", "10000000", "--eval-every", "100000000",
                            "--eval-seeds", "500", "--report-seeds", "0"],
    "learning": ["--timesteps", "10000000", "--eval-every", "100000000", "--eval-seeds", "2",
                 "--report-seeds", "0"],
    # The periodic evaluations take half as long as the baseline evaluation before them.
    "evaluation at": ["--timesteps", "10000000", "--eval-every", "500", "--eval-seeds", "10",
                      "--report-seeds", "0"],
    "final report": ["--timesteps", "500", "--eval-every", "100000000", "--eval-seeds", "2",
                     "--report-seeds", "500"],
}  # fmt: skip


@pytest.mark.parametrize(
    ("phase", "stop"),
    [("baseline evaluation", signal.SIGINT), ("learning", signal.SIGINT),
     ("learning", signal.SIGTERM), ("evaluation at", signal.SIGTERM),
     ("final report", signal.SIGINT)],
)  # fmt: skip
def test_sigint_or_sigterm_stops_every_phase_within_seconds(tmp_path, config, phase, stop):
    """SIGINT and SIGTERM stop a run in each phase, saving what there is: ``last.zip`` and
    ``state.json`` in agreement (exit 130, 143). Started with SIGINT ignored, as a
    background job of a non-interactive shell (a CI job) is: Python then left it ignored
    and the run never stopped (the CI hang)."""
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "train.py", "minimal", "--config", str(config), "--out", str(out),
         "--max-cycles", "720", "--n-envs", "2", "--quiet", *PHASES[phase]],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )  # fmt: skip
    lines: queue.Queue = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(x) for x in proc.stderr], daemon=True)
    reader.start()
    err = []
    while not any(x.startswith(f"train.py: {phase}") for x in err):
        err.append(lines.get(timeout=600))  # the phase is announced when it starts
    time.sleep(0.5)
    proc.send_signal(stop)
    try:
        proc.wait(timeout=120)  # only a guard against the hang: it stops in seconds
    finally:
        proc.kill()
    reader.join(timeout=600)  # the rest of stderr: the reader ends when the process closes it
    while not lines.empty():
        err.append(lines.get())
    err = "".join(err)
    assert proc.returncode == 128 + stop, err
    assert "Traceback" not in err, err
    assert f"stopped by {signal.Signals(stop).name} during {phase}" in err, err
    if phase == "final report":  # training is complete; the report is whole or absent
        assert (out / "best.zip").is_file() and (out / "metrics.json").is_file()
        assert not (out / "report").exists()
        return
    model = MaskablePPO.load(out / "last.zip")
    assert json.loads((out / "state.json").read_text())["num_timesteps"] == model.num_timesteps
    if phase != "baseline evaluation":
        assert model.num_timesteps > 0


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["no_such_scenario"], "no_such_scenario"),
        (["minimal", "--n-envs", "0"], "n_envs"),
        (["minimal", "--algo", "dqn"], "--algo"),
        (["minimal", "--timesteps", "many"], "--timesteps"),
        (["minimal", "--resume", "nowhere/last.zip"], "--resume"),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path, args, needle):
    result = run(*args, "--out", tmp_path / "run")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], result.stderr
    assert not (tmp_path / "run").exists()  # nothing half-written


def test_bad_config_key_and_existing_run_are_refused(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("learning_rat: 0.1\n")
    result = run("minimal", "--config", bad, "--out", tmp_path / "run")
    assert result.returncode == 2 and "learning_rat" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    result = run("minimal", "--report-seeds", "-1", "--out", tmp_path / "run")
    assert result.returncode == 2 and "--report-seeds" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    out = tmp_path / "taken"
    out.mkdir()
    (out / "last.zip").write_bytes(b"")
    result = run("minimal", "--out", out)
    assert result.returncode == 2 and "already holds a run" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["last.zip"]


def test_time_limit_stops_learning_cleanly(tmp_path, config):
    out = tmp_path / "run"
    # No wall-clock assertion (a loaded machine would make it flaky): stopping is shown by the
    # step count below, far short of --timesteps; run()'s timeout only guards against a hang.
    result = run("minimal", "--timesteps", 10**9, "--time-limit-s", 3, "--eval-every", 10**9,
                 "--config", config, "--out", out, *FAST)  # fmt: skip
    assert result.returncode == 0, result.stderr
    steps = json.loads((out / "state.json").read_text())["num_timesteps"]
    assert 0 < steps < 10**9
    assert json.loads((out / "metrics.json").read_text())["num_timesteps"] == steps


def _episodes(returns: dict[str, list[float]]) -> list[dict]:
    return [{"policy": name, "fuser": "", "seed": seed, "return": r}
            for name, values in returns.items() for seed, r in enumerate(values)]  # fmt: skip


@pytest.mark.parametrize(
    ("trained", "place"),
    [([1.0, 2.0, 1.5, 1.2], "below random"),
     ([10.5, 11.5, 9.5, 10.2], "not distinguishable from random"),
     ([15.0, 16.0, 15.5, 15.2], "above random, not above greedy"),
     ([25.0, 26.0, 25.5, 25.2], "above greedy"),
     ([45.0, 46.0, 45.5, 45.2], "above the planner")],
)  # fmt: skip
def test_the_report_verdict_places_the_trained_policy(trained, place):
    from train import verdict

    episodes = _episodes({"run/best": trained, "random": [10.0, 11.0, 10.0, 10.5],
                          "greedy": [20.0, 21.0, 20.0, 20.5],
                          "planner": [40.0, 41.0, 40.0, 40.5]})  # fmt: skip
    line = verdict(episodes, "run/best")
    assert line.endswith(f": {place}") and "\n" not in line
    assert line.startswith("run/best − baseline, paired over 4 seeds: random ")
