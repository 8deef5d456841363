"""train.py --backend rllib: a short Ray RLlib run writes a checkpoint with one module per
agent type and metrics, a resume continues the step count; bad flags are one line, exit 2,
and a missing Ray says how to install it."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

import train

ROOT = Path(__file__).resolve().parents[2]
HAS_RAY = importlib.util.find_spec("ray") is not None
needs_ray = pytest.mark.skipif(not HAS_RAY, reason="Ray is not installed: pip install '.[ray]'")
# One iteration = n_steps × n_envs × 3 agents = 300 agent-steps on `minimal`.
SMALL_CONFIG = "n_steps: 100\nbatch_size: 100\nn_epochs: 2\nnet_arch: [32, 32]\n"
FAST = ["--backend", "rllib", "--num-env-runners", "0", "--n-envs", "1", "--max-cycles", "50",
        "--eval-seeds", "1", "--quiet"]  # fmt: skip


def run(*args, timeout=300):
    return subprocess.run([sys.executable, "train.py", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, check=False)  # fmt: skip


@pytest.mark.slow
@needs_ray
def test_short_run_one_module_per_type_then_resume(tmp_path):
    config = tmp_path / "small.yaml"
    config.write_text(SMALL_CONFIG)
    out = tmp_path / "run"
    first = run("minimal", "--timesteps", 300, "--config", config, "--out", out, *FAST)
    assert first.returncode == 0, first.stderr
    ckpt = out / "rllib_checkpoint"
    assert (ckpt / "rllib_checkpoint.json").is_file()
    assert not list(out.glob(".rllib_checkpoint.*"))  # no temporary folder left behind
    modules = sorted(p.name for p in (ckpt / "learner_group/learner/rl_module").iterdir()
                     if p.is_dir())  # fmt: skip
    assert modules == ["drone", "satellite", "station"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["modules"] == modules and metrics["iterations"] >= 1
    assert metrics["num_timesteps"] >= 300
    assert {"trained_return", "greedy_return", "random_return"} <= set(metrics)
    assert json.loads((ckpt / "sagsim_state.json").read_text())["num_agent_steps"] >= 300

    again = run("minimal", "--timesteps", 600, "--config", config, "--out", out,
                "--resume", ckpt, *FAST)  # fmt: skip
    assert again.returncode == 0, again.stderr
    resumed = json.loads((out / "metrics.json").read_text())
    assert resumed["num_timesteps"] >= 600
    assert resumed["iterations"] == metrics["iterations"] + 1


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--num-env-runners", "-1"], "--num-env-runners"),
        (["--num-env-runners", "x"], "--num-env-runners"),
        (["--backend", "tf"], "--backend"),
        (["--num-env-runners", "2"], "only with --backend rllib"),
        (["--backend", "rllib", "--algo", "ppo"], "masked PPO only"),
        (["--backend", "rllib", "--resume", "no_such_dir"], "not an RLlib checkpoint"),
    ],
)
def test_bad_flags_are_one_line(tmp_path, capsys, args, needle):
    out = tmp_path / "run"
    try:
        status = train.main(["minimal", "--out", str(out), *args])
    except SystemExit as e:
        status = e.code
    err = capsys.readouterr().err
    assert status == 2
    assert len(err.strip().splitlines()) == 1 and needle in err, err
    assert not out.exists()


def test_missing_ray_is_one_line(tmp_path, capsys, monkeypatch):
    for name in [m for m in sys.modules if m == "ray" or m.startswith("ray.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    out = tmp_path / "run"
    assert train.main(["minimal", "--backend", "rllib", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == "train.py: --backend rllib needs Ray: pip install '.[ray]'\n"
    assert not out.exists()
