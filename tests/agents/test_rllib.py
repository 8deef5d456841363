"""train.py --backend rllib: a short Ray RLlib run writes a checkpoint with one module per
agent type and metrics, a resume continues the step count; evaluate.py takes the checkpoint
folder as a policy (argmax within the mask, with --jobs too); bad flags and checkpoints
are one line, exit 2, and a missing Ray says how to install it."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import evaluate
import train
from sagsim.agents.training import EVAL_SEED_BASE

ROOT = Path(__file__).resolve().parents[2]
HAS_RAY = importlib.util.find_spec("ray") is not None
needs_ray = pytest.mark.skipif(not HAS_RAY, reason="Ray is not installed: pip install '.[ray]'")
# One iteration = n_steps × n_envs × 3 agents = 300 agent-steps on `minimal`.
SMALL_CONFIG = "n_steps: 100\nbatch_size: 100\nn_epochs: 2\nnet_arch: [32, 32]\n"
NEEDS_RAY = "Ray: pip install '.[ray]'"
FAST = ["--backend", "rllib", "--num-env-runners", "0", "--n-envs", "1", "--max-cycles", "50",
        "--eval-seeds", "1", "--quiet"]  # fmt: skip


def run(*args, script="train.py", timeout=300):
    return subprocess.run([sys.executable, script, *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, check=False)  # fmt: skip


@pytest.mark.slow
@needs_ray
def test_short_run_one_module_per_type_evaluated_then_resumed(tmp_path, capsys):
    # One training run serves every check of a trained checkpoint: a shared fixture would
    # train once per pytest-xdist worker that runs one of its users.
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

    check_evaluate_takes_the_checkpoint(out, tmp_path / "reports")
    check_policy_acts_within_the_mask(ckpt)
    check_evaluate_refuses_another_scenario(ckpt, tmp_path, capsys)

    again = run("minimal", "--timesteps", 600, "--config", config, "--out", out,
                "--resume", ckpt, *FAST)  # fmt: skip
    assert again.returncode == 0, again.stderr
    resumed = json.loads((out / "metrics.json").read_text())
    assert resumed["num_timesteps"] >= 600
    assert resumed["iterations"] == metrics["iterations"] + 1


def check_evaluate_takes_the_checkpoint(run_dir: Path, reports: Path) -> None:
    """``evaluate.py --policy RUN/rllib_checkpoint --policy greedy``, with --jobs 1 and 2:
    both policies in metrics.json, the same episodes either way, and on training's held-out
    seed and episode length the return train.py's own evaluation reported."""
    ckpt = run_dir / "rllib_checkpoint"
    trained = json.loads((run_dir / "metrics.json").read_text())["trained_return"]
    name = f"{run_dir.name}/rllib_checkpoint"
    episodes = {}
    for jobs in (1, 2):
        out = reports / f"jobs_{jobs}"
        flags = ["minimal", "--policy", str(ckpt), "--policy", "greedy", "--seeds", "2",
                 "--seed-base", str(EVAL_SEED_BASE), "--max-cycles", "50", "--jobs",
                 str(jobs), "--quiet", "--out", str(out)]  # fmt: skip
        if jobs == 1:  # in this process: no second start-up
            assert evaluate.main(flags) == 0
        else:  # the command line, its two workers forked from the process that checked it
            proc = run(*flags, script="evaluate.py")
            assert proc.returncode == 0, proc.stderr
        data = json.loads((out / "metrics.json").read_text())
        assert set(data["summary"]) == {name, "greedy"}
        assert data["meta"]["policies"][name] == str(ckpt)
        assert len(data["episodes"]) == 4
        episodes[jobs] = sorted((e["policy"], e["seed"], e["return"]) for e in data["episodes"])
        first = next(e for e in data["episodes"] if e["policy"] == name)
        assert first["seed"] == EVAL_SEED_BASE
        assert first["return"] == pytest.approx(trained["mean"])
    assert episodes[1] == episodes[2]


def check_policy_acts_within_the_mask(ckpt: Path) -> None:
    """The restored policy's actions are feasible and repeat on the same observations."""
    from sagsim.agents.rllib_backend import load_policy
    from sagsim.envs.sag_env import SagEnv

    policy = load_policy(str(ckpt), name="x")
    env = SagEnv("minimal", max_cycles=20)
    obs, _ = env.reset(seed=7)
    while env.agents:
        actions = policy.act(obs)
        assert actions == policy.act(obs)  # argmax: no sampling
        assert set(actions) == set(obs)
        for agent, action in actions.items():
            assert obs[agent]["action_mask"][action], (agent, action)
        obs, *_ = env.step(actions)
        obs = {a: obs[a] for a in env.agents}
    env.close()


def check_evaluate_refuses_another_scenario(ckpt: Path, tmp_path: Path, capsys) -> None:
    """A scenario with other spaces (minimal with top_k 2): one line, exit 2, no report."""
    data = yaml.safe_load((ROOT / "scenarios" / "minimal.yaml").read_text())
    data["env"] = {"top_k": 2}
    other = tmp_path / "top_k2.yaml"
    other.write_text(yaml.safe_dump(data))
    out = tmp_path / "refused"
    capsys.readouterr()
    status, err = evaluate_err(capsys, other, ckpt, out)
    assert status == 2 and len(err.splitlines()) == 1, err
    assert err.startswith(f"evaluate.py: --policy {ckpt}: ") and "another scenario" in err, err
    assert not out.exists()


def evaluate_err(capsys, scenario, policy, out):
    """evaluate.py's exit status and stderr for one policy on ``scenario``."""
    status = evaluate.main([str(scenario), "--policy", str(policy), "--seeds", "1",
                            "--quiet", "--out", str(out)])  # fmt: skip
    return status, capsys.readouterr().err


@pytest.mark.parametrize("marker", [None, "{}"])
def test_evaluate_refuses_a_folder_that_is_no_checkpoint(tmp_path, capsys, marker):
    folder = tmp_path / "not_a_checkpoint"
    folder.mkdir()
    if marker is not None:  # says it is one, but holds no module
        if not HAS_RAY:
            pytest.skip("Ray is not installed")
        (folder / "rllib_checkpoint.json").write_text(marker)
    out = tmp_path / "report"
    status, err = evaluate_err(capsys, "minimal", folder, out)
    assert status == 2 and len(err.splitlines()) == 1, err
    assert "not an RLlib checkpoint" in err or "not a train.py --backend rllib" in err, err
    assert not out.exists()


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
    ckpt = tmp_path / "rllib_checkpoint"
    ckpt.mkdir()
    (ckpt / "rllib_checkpoint.json").write_text("{}")
    status, err = evaluate_err(capsys, "minimal", ckpt, out)
    assert status == 2
    assert err == f"evaluate.py: --policy {ckpt}: an RLlib checkpoint needs {NEEDS_RAY}\n"
    assert not out.exists()
