"""benchmarks/headroom_bench.py's statistics on records made up by hand: the ordering, the
planner's gap in random's SDs, the seeds below greedy and those on which the planner
replayed its greedy fallback."""

import importlib.util

import numpy as np
import pytest

from tests.conftest import ROOT


def _bench():
    path = ROOT / "benchmarks/headroom_bench.py"
    spec = importlib.util.spec_from_file_location("headroom_bench", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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


def test_episode_log_resume(tmp_path):
    """The log a resumed run reads: records by job key, a last line cut short by a kill
    skipped, and a log from other code refused."""
    import json

    bench = _bench()
    job = ("minimal", "greedy", None, 3, None)
    assert bench.job_key(job) == "minimal/greedy/none/3"
    assert (
        bench.job_key(("flood_wuhan", "random", "kalman", 0, None)) == "flood_wuhan/random/kalman/0"
    )
    fingerprint = bench.code_fingerprint()
    assert fingerprint == bench.code_fingerprint() and len(fingerprint) == 64
    log = tmp_path / "h.episodes.jsonl"
    record = {"policy": "greedy", "seed": 3, "return": 24.8, "fusion_rmse": float("nan")}
    good = json.dumps({"key": bench.job_key(job), "record": record})
    log.write_text(json.dumps({"fingerprint": fingerprint}) + "\n" + good + "\n" + good[:40])
    done = bench.read_episode_log(log, fingerprint)
    assert (
        list(done) == ["minimal/greedy/none/3"] and done["minimal/greedy/none/3"]["return"] == 24.8
    )
    with pytest.raises(ValueError, match="other code"):
        bench.read_episode_log(log, "0" * 64)


def test_code_fingerprint_follows_the_scenarios(tmp_path):
    bench = _bench()
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios/a.yaml").write_text("name: a\n")
    before = bench.code_fingerprint(tmp_path)
    (tmp_path / "scenarios/a.yaml").write_text("name: b\n")
    after = bench.code_fingerprint(tmp_path)
    assert after != before
    (tmp_path / "scenarios/notes.txt").write_text("not code")
    assert bench.code_fingerprint(tmp_path) == after
