"""benchmarks/learning_bench.py runs end to end (a seconds-long budget on episodes cut
short: a check that the benchmark has not drifted from train.py, not a result) and
refuses a bad config in one line."""

import json

from tests.conftest import load_script


def _bench():
    return load_script("benchmarks/learning_bench.py")


def test_learning_bench_runs_end_to_end(tmp_path):
    out = tmp_path / "lb.json"
    argv = ["--scenario", "minimal", "--minutes", "0.05", "--eval-seeds", "2", "--n-envs", "1",
            "--max-cycles", "20", "--jobs", "2", "--out", str(out)]  # fmt: skip
    assert _bench().main(argv) == 0
    data = json.loads(out.read_text())
    assert set(data["results"]) == {"maskable_ppo", "random", "greedy", "contact_aware", "planner"}
    assert all(len(r["returns"]) == 2 for r in data["results"].values())
    # The evaluation ran in 2 spawned processes: each policy's episodes in seed order, the
    # same returns as one process gives.
    bench = _bench()
    again = bench.evaluate_policies("minimal", str(tmp_path / "learning_minimal_run" / "best.zip"),
                                    data["eval_seeds"], 20, jobs=1)  # fmt: skip
    assert {n: [r["return"] for r in recs] for n, recs in again.items()} == {
        n: r["returns"] for n, r in data["results"].items()
    }
    assert set(data["results"]["greedy"]["usage"]) >= {"storage_peak", "downlink_busy"}
    assert data["agent_steps"] > 0 and data["config"]["max_cycles"] == 20
    assert data["config"]["eval_every"] == 20 * 20 * 3  # 20 episodes of 20 steps, 3 agents
    assert len(data["planner_used_greedy"]) == 2 and out.with_suffix(".png").stat().st_size > 0


def test_learning_bench_refuses_a_bad_config(tmp_path, capsys):
    config = tmp_path / "bad.yaml"
    config.write_text("learning_rate: -1\n")
    out = tmp_path / "lb.json"
    assert _bench().main(["--scenario", "minimal", "--config", str(config), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.yaml" in err[0] and "learning_rate" in err[0]
    assert not out.exists() and not (tmp_path / "learning_minimal_run").exists()
