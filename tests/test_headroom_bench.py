"""benchmarks/headroom_bench.py's statistics on records made up by hand: the ordering, the
planner's gap in random's SDs, the seeds below greedy and those on which the planner
replayed its greedy fallback."""

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import load_script


def _bench():
    return load_script("benchmarks/headroom_bench.py")


def _records(random, greedy, planner):
    usage = {"storage_peak": 0.1, "downlink_busy": 0.2, "access_used": 0.9,
             "drone_flight_used": 0.85, "map_quality_mean": 0.5}  # fmt: skip
    out = []
    for policy, returns in (("random", random), ("greedy", greedy), ("planner", planner)):
        out += [{"policy": policy, "seed": s, "return": r, **usage} for s, r in enumerate(returns)]
    return out


def test_separation_by_hand():
    bench = _bench()
    random = np.array([10.0, 12.0, 14.0, 16.0])  # SD 2.58
    greedy = random + 5.0 + np.array([0.0, 1.0, 0.0, 1.0])
    planner = greedy + np.array([2.0, 0.0, 0.0, 0.0])  # seeds 1-3: the greedy fallback
    s = bench.separation(_records(random, greedy, planner))
    assert s["n_seeds"] == 4 and s["ordered"] is False  # planner − greedy's interval reaches 0
    assert s["random_sd"] == pytest.approx(np.std(random, ddof=1))
    gap = float(np.mean(planner - random))
    assert s["planner_minus_random_in_sd"] == pytest.approx(gap / np.std(random, ddof=1))
    assert s["planner_below_greedy_seeds"] == [] and s["planner_fallback_seeds"] == [1, 2, 3]
    assert s["planner_minus_greedy_min"] == 0.0
    assert s["binding_under_planner"] == ["access_used", "drone_flight_used"]
    assert np.isnan(s["usage"]["planner"]["duty_cycle_peak"])  # no satellite had a limit
    worse = planner.copy()
    worse[2] = greedy[2] - 1.0
    assert bench.separation(_records(random, greedy, worse))["planner_below_greedy_seeds"] == [2]
    better = greedy + 3.0  # every paired interval clear of 0
    assert bench.separation(_records(random, greedy, better))["ordered"] is True


ran_jobs: list[tuple] = []


def _fake_episode(job):
    """A stand-in for an episode: its record is made from the job, NaN included."""
    ran_jobs.append(job)
    scenario, policy, _fuser, seed, _ = job
    record = {"scenario": scenario, "policy": policy, "seed": seed, "return": seed + 0.1,
              "fusion_rmse": float("nan")}  # fmt: skip
    return _bench().job_key(job), record


def _same(a, b) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)  # NaN == NaN here


def test_resumed_run_equals_an_uninterrupted_one(tmp_path, capsys):
    """Only the episodes missing from the log run again (a line cut short by a kill runs
    again too), and the records come back in job order, equal to a fresh run's."""
    bench = _bench()
    jobs = [("minimal", p, None, seed, None) for seed in range(3) for p in ("random", "greedy")]
    log = tmp_path / "h.episodes.jsonl"
    ran_jobs.clear()
    fresh = bench.run_episodes(jobs, 1, log, resume=False, run=_fake_episode)
    assert ran_jobs == jobs and [(r["policy"], r["seed"]) for r in fresh] == [
        (j[1], j[3]) for j in jobs
    ]
    assert "6/6 minimal/greedy/none/2/full: return 2.1" in capsys.readouterr().err
    lines = log.read_text().splitlines()
    assert len(lines) == 1 + len(jobs) and "fingerprint" in json.loads(lines[0])
    log.write_text("\n".join(lines[:3]) + "\n" + lines[3][:30])  # killed while writing
    ran_jobs.clear()
    resumed = bench.run_episodes(jobs, 1, log, resume=True, run=_fake_episode)
    assert ran_jobs == jobs[2:] and _same(resumed, fresh)
    assert len(log.read_text().splitlines()) == 1 + len(jobs)
    ran_jobs.clear()
    again = bench.run_episodes(jobs, 1, log, resume=False, run=_fake_episode)
    assert ran_jobs == jobs and _same(again, fresh)  # without resume: every episode again


def test_episode_log_refused(tmp_path):
    """A log from other code, or one that is not an episode log, is refused."""
    bench = _bench()
    assert bench.job_key(("minimal", "greedy", None, 3, None)) == "minimal/greedy/none/3/full"
    assert (
        bench.job_key(("flood_wuhan", "random", "kalman", 0, 50))
        == "flood_wuhan/random/kalman/0/50"
    )
    fingerprint = bench.code_fingerprint()
    assert fingerprint == bench.code_fingerprint() and len(fingerprint) == 64
    log = tmp_path / "h.episodes.jsonl"
    entry = json.dumps({"key": "minimal/greedy/none/3/full", "record": {"return": 24.8}})
    log.write_text(json.dumps({"fingerprint": fingerprint}) + "\n" + entry + "\n")
    assert bench.read_episode_log(log, fingerprint) == {
        "minimal/greedy/none/3/full": {"return": 24.8}
    }
    with pytest.raises(bench.EpisodeLogError, match="other code"):
        bench.read_episode_log(log, "0" * 64)
    for text in ("[1, 2]\n", "not json\n", ""):
        log.write_text(text)
        with pytest.raises(bench.EpisodeLogError, match="not an episode-log header"):
            bench.read_episode_log(log, fingerprint)
    log.write_text(json.dumps({"fingerprint": fingerprint}) + "\nnull\n")
    with pytest.raises(bench.EpisodeLogError, match="not an episode entry"):
        bench.read_episode_log(log, fingerprint)
    log.unlink()
    log.mkdir()
    with pytest.raises(bench.EpisodeLogError, match="cannot read"):
        bench.read_episode_log(log, fingerprint)


def test_main_keeps_an_interrupted_runs_episodes(tmp_path, capsys):
    """Without --resume or --fresh a log holding episodes is refused, untouched, and so is
    a log from other code with --resume; both before any episode runs."""
    bench = _bench()
    out = tmp_path / "h.json"
    log = tmp_path / "h.episodes.jsonl"
    entry = json.dumps({"key": "minimal/greedy/none/0/full", "record": {"return": 1.0}})
    text = json.dumps({"fingerprint": bench.code_fingerprint()}) + "\n" + entry + "\n"
    log.write_text(text)
    argv = ["--scenarios", "minimal", "--seeds", "2", "--out", str(out)]
    assert bench.main(argv) == 2 and log.read_text() == text and not out.exists()
    assert "1 episodes logged by an interrupted run" in capsys.readouterr().err
    log.write_text(json.dumps({"fingerprint": "0" * 64}) + "\n" + entry + "\n")
    assert bench.main([*argv, "--resume"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "other code" in err and not out.exists()


def test_code_fingerprint_covers_what_runs(tmp_path):
    """The folders hashed are those the episode code is imported from; the hash follows
    every file in them (scenario YAML and TLE files alike), not caches."""
    import sagsim.agents.comparison

    bench = _bench()
    folders = bench.code_folders()
    assert Path(sagsim.agents.comparison.__file__).resolve().parent in [
        f.resolve() for f in folders
    ]
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios/a.yaml").write_text("name: a\n")
    before = bench.code_fingerprint([tmp_path / "scenarios"])
    (tmp_path / "scenarios/a.tle").write_text("1 25544U\n")
    after = bench.code_fingerprint([tmp_path / "scenarios"])
    assert after != before
    (tmp_path / "scenarios/__pycache__").mkdir()
    (tmp_path / "scenarios/__pycache__/a.pyc").write_bytes(b"cache")
    assert bench.code_fingerprint([tmp_path / "scenarios"]) == after


def test_map_agreement_pairs_the_psnr_of_each_step_up():
    """A pooled ρ carried by random alone: the planner's extra return is no better map."""
    bench = _bench()
    records = []
    for seed in range(4):
        for policy, ret, psnr in (("random", 10 + seed, 30.0 + seed), ("greedy", 20 + seed, 40.0),
                                  ("planner", 25 + seed, 40.0 - 0.5 * (seed % 2))):  # fmt: skip
            records.append({"policy": policy, "seed": seed, "return": float(ret),
                            "task_psnr_mean_db": psnr})  # fmt: skip
    a = bench.map_agreement(records)
    assert a["rho"] > 0.5  # pooled, random below both carries it
    assert a["paired_psnr_db"]["greedy-random"]["mean"] == pytest.approx(8.5)
    assert a["paired_psnr_db"]["planner-greedy"]["mean"] == pytest.approx(-0.25)
    assert a["paired_psnr_db"]["planner-greedy"]["ci_high"] <= 0.0
    assert a["paired_return"]["planner-greedy"]["mean"] == pytest.approx(5.0)
