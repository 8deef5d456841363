"""evaluate.py and sagsim.agents.comparison: the same seeds for every policy, metrics.json equal to
metrics.csv and to the episodes, one-line errors with exit 2 and nothing written."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from evaluate import main as evaluate_main
from sagsim import envs
from sagsim.agents.comparison import METRICS, episode_metrics
from tests.conftest import ROOT


def run(tmp_path, *flags):
    out = tmp_path / "report"
    rc = evaluate_main(["minimal", "--seeds", "3", "--max-cycles", "120", "--jobs", "1",
                        "--quiet", "--out", str(out), *flags])  # fmt: skip
    return rc, out


def test_policies_share_seeds_and_the_files_agree(tmp_path, capsys):
    rc, out = run(tmp_path, "--policy", "greedy", "--policy", "random")
    assert rc == 0
    data = json.loads((out / "metrics.json").read_text())
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert len(rows) == len(data["episodes"]) == 6
    assert {r["seed"] for r in rows if r["policy"] == "greedy"} == {
        r["seed"] for r in rows if r["policy"] == "random"}  # fmt: skip
    for row, ep in zip(rows, data["episodes"], strict=True):
        assert float(row["return"]) == pytest.approx(ep["return"])
    # The summary is the episodes' mean; the paired difference is against greedy (first).
    for label in ("greedy", "random"):
        returns = [e["return"] for e in data["episodes"] if e["policy"] == label]
        assert data["summary"][label]["return"]["mean"] == pytest.approx(np.mean(returns))
    diff = data["summary"]["random"]["vs_greedy"]["return"]["mean"]
    by_seed = {(e["policy"], e["seed"]): e["return"] for e in data["episodes"]}
    seeds = data["meta"]["seeds"]
    assert diff == pytest.approx(np.mean([by_seed["random", s] - by_seed["greedy", s]
                                          for s in seeds]))  # fmt: skip
    assert set(METRICS) <= set(data["summary"]["greedy"])
    # The console table: a header and a row per policy, aligned, cells two spaces apart
    # (they ran together), no fused-map column without a fuser, random's paired difference.
    lines = capsys.readouterr().out.splitlines()
    table = lines[[line.startswith("policy ") for line in lines].index(True) :][:3]
    assert table[0].split()[:2] == ["policy", "return"] and "fusion_psnr_db" not in table[0]
    assert [line.split()[0] for line in table[1:]] == ["greedy", "random"]
    assert len({len(line) for line in table}) == 1 and "]  " in table[2]
    paired = data["summary"]["random"]["vs_greedy"]["return"]
    assert table[2].endswith(f"{diff:.2f} [{paired['ci_low']:.2f}, {paired['ci_high']:.2f}]")


def test_fusers_run_in_imagery_mode(tmp_path):
    rc, out = run(tmp_path, "--policy", "greedy", "--fuser", "latest", "--fuser", "kalman")
    assert rc == 0
    data = json.loads((out / "metrics.json").read_text())
    assert set(data["summary"]) == {"greedy+latest", "greedy+kalman"}
    assert all(np.isfinite(e["fusion_psnr_db"]) for e in data["episodes"])


def test_the_planners_greedy_replay_is_recorded_per_episode(tmp_path):
    rc, out = run(tmp_path, "--policy", "greedy", "--policy", "planner")
    assert rc == 0
    data = json.loads((out / "metrics.json").read_text())
    by = {(e["policy"], e["seed"]): e for e in data["episodes"]}
    for (policy, seed), e in by.items():
        if policy == "greedy":
            assert e["planner_used_greedy"] is None
        else:  # a replay of greedy's episode scores exactly greedy's return
            assert isinstance(e["planner_used_greedy"], bool)
            if e["planner_used_greedy"]:
                assert e["return"] == by["greedy", seed]["return"]
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert {r["planner_used_greedy"] for r in rows if r["policy"] == "greedy"} == {""}


def test_episode_metrics_units():
    m = episode_metrics(2.0, {"images_acquired": 4, "images_delivered": 2,
                              "latency_sum_s": 7200.0, "bits_acquired": 3e9,
                              "bits_delivered": 1e9, "energy_wh": 500.0}, None)  # fmt: skip
    assert (m["delivered_fraction"], m["mean_latency_h"], m["gbit_acquired"]) == (0.5, 1.0, 3.0)
    assert m["energy_kwh"] == 0.5 and np.isnan(m["fusion_psnr_db"])


@pytest.fixture(scope="module")
def other_scenario_checkpoint(tmp_path_factory):
    """An (untrained) MaskablePPO for minimal with top_k 2: other observation and action
    spaces than minimal's top_k 4."""
    import yaml
    from sb3_contrib import MaskablePPO

    from sagsim.agents.sb3_vec import SagVecEnv

    data = yaml.safe_load((ROOT / "scenarios" / "minimal.yaml").read_text())
    data["env"] = {"top_k": 2}
    venv = SagVecEnv(envs.load_scenario(data), 1, max_cycles=10)
    path = tmp_path_factory.mktemp("ckpt") / "best.zip"
    MaskablePPO("MlpPolicy", venv, n_steps=16, batch_size=16, verbose=0).save(path)
    venv.close()
    return path


@pytest.mark.parametrize(
    "flags, message",
    [(["--policy", "greedy", "--seeds", "0"], "--seeds"),
     (["--policy", "wizard"], "not a baseline"),
     (["--policy", "runs/none/best.zip"], "no such checkpoint"),
     (["--policy", "greedy", "--fuser", "magic"], "--fuser"),
     (["--policy", "greedy", "--baseline", "random"], "--baseline"),
     (["--policy", "greedy", "--policy", "greedy"], "each policy once"),
     (["--policy", "greedy", "--animate-every", "0"], "--animate-every")],
)  # fmt: skip
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, capsys, flags, message):
    with pytest.raises(SystemExit) as e:
        raise SystemExit(run(tmp_path, *flags)[0])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("evaluate.py: ") and message in err
    assert not (tmp_path / "report").exists()


def test_checkpoint_of_another_scenario_is_refused(tmp_path, capsys, other_scenario_checkpoint):
    rc, out = run(tmp_path, "--policy", str(other_scenario_checkpoint))
    err = capsys.readouterr().err
    assert rc == 2 and "another scenario" in err and err.count("\n") == 1
    assert not out.exists()


def test_cli_as_a_script_exits_2_on_an_unknown_scenario():
    proc = subprocess.run([sys.executable, str(ROOT / "evaluate.py"), "no_such_scenario",
                           "--policy", "greedy"], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)  # fmt: skip
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "no_such_scenario" in proc.stderr


def test_the_retired_oracle_is_refused_with_what_replaced_it(tmp_path):
    """The CP-SAT oracle was removed in issue 16: an old command line naming it gets one line
    pointing to the planner (not "no such checkpoint"), exit status 2, nothing written."""
    out = tmp_path / "report"
    proc = subprocess.run([sys.executable, str(ROOT / "evaluate.py"), "minimal", "--policy",
                           "greedy", "--policy", "oracle", "--out", str(out)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr == ("evaluate.py: --policy 'oracle': removed in issue 16 (heuristics "
                           "beat it, so it was no upper bound); use planner, the "
                           "rolling-horizon planner with full knowledge\n")  # fmt: skip
    assert not out.exists()


def test_report_numbers_equal_metrics_json(tmp_path):
    """report.html is self-contained (every image inline), has a row per policy, and each
    table cell's mean and interval are metrics.json's (in the metric's column format)."""
    import html as html_lib
    import re

    from sagsim.agents.report import REPORT_METRICS, column_decimals, format_number

    rc, out = run(tmp_path, "--policy", "greedy", "--policy", "random")
    assert rc == 0
    page = (out / "report.html").read_text()
    data = json.loads((out / "metrics.json").read_text())
    srcs = re.findall(r'<img alt="[^"]*" src="([^"]+)"', page)
    assert len(srcs) >= 1 + 2 * 2 and all(s.startswith("data:image/png;base64,") for s in srcs)
    table = re.search(r'<table id="summary">(.*?)</table>', page, re.S).group(1)
    rows = re.findall(r'<tr class="policy"><th>([^<]+)</th>(.*?)</tr>', table, re.S)
    assert [r[0] for r in rows] == ["greedy", "random"]
    summary = data["summary"]
    shown = [m for m, *_ in REPORT_METRICS if any(summary[p][m]["n"] for p in summary)]
    for policy, cells in rows:
        tds = re.findall(r"<td>(.*?)</td>", cells, re.S)
        assert len(tds) == len(shown)
        for metric, td in zip(shown, tds, strict=True):
            text = html_lib.unescape(re.sub(r"<[^>]+>", " ", td)).split()
            s = summary[policy][metric]
            d = column_decimals([c[metric][k] for c in summary.values() if c[metric]["n"]
                                 for k in ("mean", "ci_low", "ci_high")])  # fmt: skip
            expected = ([format_number(s[k], d) for k in ("mean", "ci_low", "ci_high")]
                        if s["n"] else ["—"])  # no finite value on any seed  # fmt: skip
            got = [t.strip("[],") for t in text]
            assert got == expected, (policy, metric)


def test_a_trained_run_is_evaluated_with_its_learning_curve(tmp_path):
    """A checkpoint for minimal (untrained: only its spaces matter here) in a run folder with
    train.py's state.json: it runs, and the report draws the run's learning curve."""
    from sb3_contrib import MaskablePPO

    from sagsim.agents.sb3_vec import SagVecEnv

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    venv = SagVecEnv("minimal", 1, max_cycles=10)
    MaskablePPO("MlpPolicy", venv, n_steps=16, batch_size=16, verbose=0).save(
        run_dir / "best.zip")  # fmt: skip
    venv.close()
    curve = [{"num_timesteps": n, "n": 3, "mean": m, "ci_low": m - 1, "ci_high": m + 1}
             for n, m in ((1000, 5.0), (2000, 7.0))]  # fmt: skip
    (run_dir / "state.json").write_text(
        json.dumps({"curve": curve, "greedy_return": {"mean": 8.0}, "random_return": {"mean": 4.0}})
    )
    rc, out = run(tmp_path, "--policy", "greedy", "--policy", str(run_dir / "best.zip"))
    assert rc == 0
    data = json.loads((out / "metrics.json").read_text())
    assert set(data["summary"]) == {"greedy", "run/best"}
    assert "<h2>Learning curves</h2>" in (out / "report.html").read_text()


def test_the_timeline_shows_failures_and_outages():
    from sagsim.agents.comparison import run_job
    from sagsim.agents.report import ACTION_KINDS
    from sagsim.envs.scenario.shipped import resolve_scenario

    faults = {"events": [{"kind": "drone_lost", "agent": "uav_0", "t_s": 600},
                         {"kind": "station_outage", "agent": "gs_0", "t_s": 300,
                          "duration_s": 300}]}  # fmt: skip
    scenario = resolve_scenario("minimal", faults=faults)
    record = run_job((scenario, "greedy", None, 1, 40, True))
    kinds = np.asarray(record["_capture"]["kinds"])  # (steps, agents): sat_0, uav_0, gs_0
    failed, outage = ACTION_KINDS.index("failed"), ACTION_KINDS.index("outage")
    assert (kinds[20:, 1] == failed).all() and (kinds[:20, 1] != failed).all()
    assert (kinds[10:20, 2] == outage).all()
    assert not (kinds[:10, 2] == outage).any() and not (kinds[20:, 2] == outage).any()


def test_one_job_with_a_progress_bar_records_every_episode(tmp_path):
    # Regression: with --jobs 1 the jobs were filtered on tqdm's update() return value, so
    # a visible bar dropped about half the episodes (--quiet hid it: a disabled bar).
    out = tmp_path / "report"
    rc = evaluate_main(["minimal", "--seeds", "5", "--max-cycles", "20", "--jobs", "1",
                        "--policy", "greedy", "--policy", "random", "--out", str(out)])  # fmt: skip
    assert rc == 0
    data = json.loads((out / "metrics.json").read_text())
    got = sorted((e["policy"], e["seed"]) for e in data["episodes"])
    assert got == sorted((p, s) for p in ("greedy", "random") for s in data["meta"]["seeds"])
    assert data["summary"]["random"]["return"]["n"] == 5


def test_a_run_where_nothing_is_delivered_says_so(tmp_path, capsys):
    # 10 steps of minimal: no station contact and no drone back with an image yet, so every
    # return is energy cost only; a newcomer took the table of negative returns for a
    # broken simulator.
    rc = evaluate_main(["minimal", "--seeds", "2", "--max-cycles", "10", "--jobs", "1",
                        "--policy", "greedy", "--quiet", "--out", str(tmp_path / "r")])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 0
    assert "warning: no episode delivered an image in 10 steps" in err
    assert err.count("\n") == 1


def test_a_run_missing_an_episode_fails_and_writes_nothing(tmp_path, monkeypatch, capsys):
    import sagsim.agents.comparison

    real = sagsim.agents.comparison.run_job
    seen = []

    def flaky(job):  # the second episode's record comes back twice, another never
        record = real(job)
        seen.append(record)
        return seen[0] if len(seen) == 2 else record

    monkeypatch.setattr(sagsim.agents.comparison, "run_job", flaky)
    rc, out = run(tmp_path, "--policy", "greedy")
    assert rc == 1 and not out.exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "3 episodes recorded of 3 asked" in err[0]


def test_missing_episodes_names_the_gaps_and_repeats():
    from evaluate import missing_episodes

    rec = [{"policy": p, "fuser": "", "seed": s} for p in ("a", "b") for s in (1, 2)]
    assert missing_episodes(rec, ["a", "b"], [""], [1, 2]) == []
    assert missing_episodes(rec[:3], ["a", "b"], [""], [1, 2]) == [("b", "", 2)]
    assert missing_episodes([*rec, rec[0]], ["a", "b"], [""], [1, 2]) == [("a", "", 1)]
    assert missing_episodes(rec, ["a"], [""], [1, 2]) == [("b", "", 1), ("b", "", 2)]
