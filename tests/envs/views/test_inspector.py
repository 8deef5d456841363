"""The scenario inspector (`python -m sagsim.envs`): its figures, its CLI and its bad-input
handling."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from sagsim.cli import run
from sagsim.envs import load_scenario
from sagsim.envs.__main__ import main
from sagsim.envs.physics.geodesy import look_angles
from sagsim.envs.platforms.assembly import build_satellites, ground_link_budget
from sagsim.envs.scenario.checks import ScenarioWarning
from sagsim.envs.views.coverage import gap_stats
from sagsim.envs.views.inspector import _downlink_volume_bits, format_report, inspect_scenario
from tests.conftest import ISS_TLE, ROOT, SCENARIOS


def _run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sagsim.envs", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def minimal_report() -> dict:
    return inspect_scenario(load_scenario(SCENARIOS / "minimal.yaml"))


def test_gap_stats_known_values() -> None:
    # Accesses at [100, 200] and [1000, 1100] and an overlapping pair merged into [3000, 3500].
    intervals = [(1000.0, 1100.0), (100.0, 200.0), (3000.0, 3400.0), (3300.0, 3500.0)]
    accesses, revisit_s, worst_gap_s = gap_stats(intervals, duration_s=5000.0)
    assert accesses == 3
    assert revisit_s == pytest.approx(((1000 - 100) + (3000 - 1000)) / 2)
    assert worst_gap_s == pytest.approx(3000.0 - 1100.0)


def test_gap_stats_without_access_is_the_whole_episode() -> None:
    assert gap_stats([], duration_s=600.0)[0] == 0
    assert gap_stats([], duration_s=600.0)[2] == 600.0


def test_report_counts_match_the_scenario(minimal_report: dict) -> None:
    scenario = load_scenario(SCENARIOS / "minimal.yaml")
    assert minimal_report["scenario"]["steps"] == scenario.n_steps
    assert [g["count"] for g in minimal_report["satellites"]] == [1]
    assert minimal_report["drones"][0]["count"] == 1
    region = minimal_report["region"]
    assert region["cells"] == region["grid_shape"][0] * region["grid_shape"][1]
    assert "+proj=aeqd" in region["projection"]


def test_station_windows_are_consistent(minimal_report: dict) -> None:
    station = minimal_report["ground_stations"][0]
    assert station["passes"] == len(station["windows"]) >= 1
    total_min = sum(w["duration_s"] for w in station["windows"]) / 60.0
    assert station["contact_min"] == pytest.approx(total_min, abs=0.1)
    # A pass gives data: the downlink volume is positive and below rate_max × contact time.
    assert 0.0 < station["downlink_gbit"] < 10.0 * station["contact_min"] * 60.0


def test_optical_revisit_only_in_daylight(minimal_report: dict) -> None:
    revisit = minimal_report["revisit"]
    assert revisit["points"] == 9
    assert revisit["optical"]["accesses_per_day"] > 0.0
    assert revisit["all"]["accesses_per_day"] >= revisit["optical"]["accesses_per_day"]


def test_text_report_mentions_every_entity(minimal_report: dict) -> None:
    text = format_report(minimal_report)
    for name in ("minimal", "eo", "uav", "wuhan_gs", "Imaging access", "Geometric revisit"):
        assert name in text


def test_mission_section_matches_the_scenario(minimal_report: dict) -> None:
    scenario = load_scenario(SCENARIOS / "minimal.yaml")
    mission = minimal_report["mission"]
    tasks = mission["tasks"]
    assert (tasks["total"], tasks["listed"], tasks["drawn"], tasks["events"]) == (7, 2, 4, 1)
    assert tasks["drawn_distribution"] == "uniform" and tasks["drawn_clusters"] is None
    assert tasks["total_priority"] == pytest.approx(
        tasks["target_priority"] + tasks["event_priority"], abs=1e-3
    )
    # Listed (2 + 1) and event (5) priorities are known; the 4 drawn ones lie in [1, 3].
    assert tasks["event_priority"] == 5.0
    assert 3.0 + 4 * 1.0 <= tasks["target_priority"] <= 3.0 + 4 * 3.0
    assert tasks["outside_region"] == []
    (event,) = mission["events"]
    assert event["name"] == "riverbank_flood" and event["kind"] == "flood"
    assert event["start_s"] == 3600.0 and event["start_utc"] == "2024-07-15T01:00:00Z"
    assert event["max_radius_km"] == 4.0 and event["initial_radius_km"] == 0.3
    assert event["max_radius_at_s"] == pytest.approx(3600.0 + (4000.0 - 300.0) / 0.2)
    assert mission["clouds"] == scenario.clouds.model_dump()
    assert mission["reward"] == scenario.reward.model_dump()
    assert mission["fusion"]["prior_variance"] == scenario.fusion.prior_variance
    assert mission["fusion"]["variance_added_per_day"] == pytest.approx(1e-7 * 86_400)
    assert mission["env"] == {
        "top_k": 4,
        "actions_per_agent": 8,
        "agents": 3,
        "max_cycles": None,
        "episode_steps": scenario.n_steps,
    }
    assert minimal_report["region"]["grid_projection"] == "aeqd"


def test_text_report_shows_the_mission(minimal_report: dict) -> None:
    text = format_report(minimal_report)
    for fragment in (
        "Mission: 7 tasks (2 listed, 4 drawn uniform, 1 event)",
        "riverbank_flood",
        "clouds: cover 0.3, correlation 5 km, decorrelation 2 h",
        "fusion: prior variance 0.01",
        "reward: 1 per priority-hour of map quality",
        "top_k 4 (8 actions), 3 agents, 720 steps per episode (duration)",
        "azimuthal equidistant at",
    ):
        assert fragment in text


def test_ease2_region_max_cycles_and_stray_tasks_are_reported(minimal_dict: dict) -> None:
    minimal_dict["region"]["projection"] = "ease2"
    minimal_dict["env"] = {"top_k": 6, "max_cycles": 100}
    minimal_dict["targets"]["points"].append({"name": "far_away", "lat_deg": 31.5,
                                              "lon_deg": 114.3})  # fmt: skip
    minimal_dict["targets"]["random"] = {"count": 9, "distribution": "clustered", "clusters": 2}
    minimal_dict["events"].append({"kind": "fire", "lat_deg": 30.6, "lon_deg": 114.3,
                                   "growth_mps": 0.0})  # fmt: skip
    with pytest.warns(ScenarioWarning) as caught:  # far_away; the flood after 100 steps
        report = inspect_scenario(load_scenario(minimal_dict))
    fields = [str(w.message).split(": ")[1] for w in caught]
    assert fields[:2] == ["targets.points[2].lat_deg/lon_deg", "events[0].start_s"]
    assert report["warnings"] == [str(w.message) for w in caught]
    region = report["region"]
    assert region["grid_projection"] == "ease2" and region["projection"] == "EPSG:6933"
    mission = report["mission"]
    assert mission["tasks"]["total"] == 3 + 9 + 2
    assert mission["tasks"]["drawn_clusters"] == 2
    assert mission["tasks"]["outside_region"] == ["far_away"]
    assert mission["events"][1]["name"] == "fire-1"
    assert mission["events"][1]["max_radius_at_s"] is None  # it never grows
    assert mission["env"]["episode_steps"] == 100 and mission["env"]["max_cycles"] == 100
    text = format_report(report)
    assert "EASE-Grid 2.0 global (EPSG:6933), max scale error" in text
    assert "outside the region (pinned to its edge): far_away" in text
    assert "9 drawn clustered in 2 clusters of 20 km" in text
    assert "100 steps per episode (max_cycles 100)" in text
    assert "(max not reached)" in text


def test_downlink_volume_matches_look_angles() -> None:
    """The volume's fast elevation test agrees with look_angles, and with 2 antennas the
    two best links at each instant are summed."""
    scenario = load_scenario(SCENARIOS / "flood_wuhan.yaml")
    sats = build_satellites(scenario)
    t_s = np.arange(0.0, scenario.duration_s + 1e-9, 60.0)
    r_ecef_m = sats.constellation.positions_ecef_m(epoch_utc=scenario.epoch_utc, t_s=t_s)
    for k, station in enumerate(scenario.ground_stations):
        _, elevation_deg, range_m = look_angles(
            station.lat_deg, station.lon_deg, station.alt_m, r_ecef_m
        )
        rate = np.zeros(range_m.shape)
        for g, group in enumerate(scenario.satellites):
            rows = sats.group_index == g
            rate[rows] = ground_link_budget(scenario, group, k).capacity_bps(range_m[rows])
        rate = np.where(elevation_deg >= station.min_elevation_deg, rate, 0.0)
        best = -np.sort(-rate, axis=0)[: station.antennas]
        expected = float(best[:, :-1].sum() * 60.0)
        got = _downlink_volume_bits(scenario, sats, k, r_ecef_m, t_s)
        assert got == pytest.approx(expected, rel=1e-12)
        assert got > 0.0


def test_cli_text_and_json() -> None:
    text = _run("scenarios/minimal.yaml")
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("Scenario minimal")
    as_json = _run("scenarios/minimal.yaml", "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["scenario"]["name"] == "minimal"


def _assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_cli_bad_scenario_is_one_line_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    text = (SCENARIOS / "minimal.yaml").read_text().replace("altitude_m: 500000", "altitude_m: -5")
    bad.write_text(text)
    _assert_one_line_error(
        _run(str(bad)), str(bad), "satellites[0].walker.altitude_m", "allowed: 160_000 <"
    )


def test_cli_resolves_shipped_names() -> None:
    result = _run("minimal", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["scenario"]["name"] == "minimal"


def test_cli_unknown_name_lists_the_shipped_ones() -> None:
    shipped = ", ".join(sorted(p.stem for p in SCENARIOS.glob("*.yaml")))
    expected = f"(shipped: {shipped}); did you mean 'flood_wuhan'?"
    _assert_one_line_error(_run("flood_wuhn"), "error: flood_wuhn: no such file or shipped "
                           f"scenario {expected}")  # fmt: skip
    result = _run("qqqq")
    _assert_one_line_error(result, "error: qqqq: no such file or shipped scenario")
    assert "did you mean" not in result.stderr


def test_cli_missing_file_and_bad_flag() -> None:
    _assert_one_line_error(_run("no/such.yaml"), "no/such.yaml: file not found")
    _assert_one_line_error(_run("scenarios/minimal.yaml", "--jsn"), "unrecognized arguments")
    _assert_one_line_error(_run(), "required: scenario")


def _mutated(minimal: dict, path: tuple, value) -> dict:
    node = minimal
    for key in path[:-1]:
        node = node[key]
    if value is _DROP:
        node.pop(path[-1])
    else:
        node[path[-1]] = value
    return minimal


_DROP = object()
_BAD_TLE = ISS_TLE.replace("9995\n", "9996\n")

# (case id, mutation of minimal.yaml or raw file text, fragments the one line must hold)
BAD_INPUTS = [
    ("unknown-key", (("duraton_s",), 60.0), ["duraton_s", "did you mean 'duration_s'"]),
    ("wrong-type", (("step_s",), "fast"), ["step_s", "valid number", "allowed: 0.01 ≤ step_s"]),
    ("negative-altitude", (("satellites", 0, "walker", "altitude_m"), -1.0),
     ["satellites[0].walker.altitude_m", "allowed: 160_000 < altitude_m"]),
    ("inclination-over-180", (("satellites", 0, "walker"),
                              {"planes": 1, "per_plane": 1, "altitude_m": 5e5,
                               "inclination_deg": 200.0}),
     ["satellites[0].walker.inclination_deg", "allowed: 0 ≤ inclination_deg ≤ 180"]),
    ("elevation-mask-90", (("ground_stations", 0, "min_elevation_deg"), 90.0),
     ["ground_stations[0].min_elevation_deg", "allowed: 0 ≤ min_elevation_deg < 90"]),
    ("latitude-over-90", (("ground_stations", 0, "lat_deg"), 95.0),
     ["ground_stations[0].lat_deg", "allowed: -90 ≤ lat_deg ≤ 90"]),
    ("missing-field", (("epoch_utc",), _DROP), ["epoch_utc", "required field is missing"]),
    ("bad-tle-checksum", (("satellites",), [{"name": "iss", "tle": _BAD_TLE,
                                             "sensor": {"gsd_nadir_m": 5, "swath_m": 1e4}}]),
     ["satellites[0].tle", "checksum"]),
    ("empty-file", "", ["file is empty"]),
    ("not-a-mapping", "- 1\n- 2\n", ["top level must be a mapping"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "change", "fragments"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS]
)
def test_every_bad_input_is_one_line_exit_2(
    tmp_path: Path, minimal_dict: dict, capsys, case, change, fragments
) -> None:
    path = tmp_path / f"{case}.yaml"
    if isinstance(change, str):
        path.write_text(change)
    else:
        path.write_text(yaml.safe_dump(_mutated(minimal_dict, *change)))
    status = run(main, [str(path)])
    captured = capsys.readouterr()
    assert status == 2
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"error: {path}: ")
    for fragment in fragments:
        assert fragment in lines[0]


def test_drones_only_scenario_is_inspected(minimal_dict: dict) -> None:
    del minimal_dict["satellites"]
    report = inspect_scenario(load_scenario(minimal_dict))
    assert report["satellites"] == [] and report["ground_stations"][0]["passes"] == 0
    assert "uav" in format_report(report)


MINIMAL_TEXT = (SCENARIOS / "minimal.yaml").read_text()


@given(
    position=st.integers(0, len(MINIMAL_TEXT)),
    cut=st.integers(0, 40),
    insert=st.one_of(
        st.text(max_size=12),
        st.sampled_from(["\n", ": ", "- ", "{", "]", "&a ", "*a", "!!float x", "1e999", "-1"]),
    ),
)
def test_mutated_yaml_text_exits_0_or_2(tmp_path_factory, position, cut, insert) -> None:
    """Cut and splice the shipped scenario's text anywhere: the CLI either inspects it or
    refuses it with exit status 2; no other exception escapes."""
    path = tmp_path_factory.mktemp("fuzz") / "s.yaml"
    path.write_text(MINIMAL_TEXT[:position] + insert + MINIMAL_TEXT[position + cut :])
    assert run(main, [str(path)]) in (0, 2)


def test_open_data_are_reported_with_their_images(minimal_dict: dict) -> None:
    """Terra MODIS over minimal's 6 h: one daylight image, coarser than 500 m off nadir."""
    minimal_dict["open_data"] = [{
        "name": "terra_modis", "latency_s": 10_800,
        "walker": {"planes": 1, "per_plane": 1, "altitude_m": 705_000,
                   "sun_synchronous": True, "raan0_deg": 272.1},
        "sensor": {"kind": "optical", "gsd_nadir_m": 500, "swath_m": 2_330_000}}]  # fmt: skip
    report = inspect_scenario(load_scenario(minimal_dict))
    (m,) = report["open_data"]
    assert (m["name"], m["count"], m["images"], m["latency_h"]) == ("terra_modis", 1, 1, 3.0)
    assert m["gsd_m_range"][0] >= 500.0
    assert "terra_modis" in format_report(report) and "1 image," in format_report(report)


def test_faults_are_listed():
    from sagsim.envs.scenario.loader import region_grid
    from sagsim.envs.views.inspector_mission import format_mission, mission_summary

    data = yaml.safe_load((SCENARIOS / "minimal.yaml").read_text())
    data["faults"] = {"events": [{"kind": "drone_lost", "agent": "uav_0", "t_s": 3600},
                                 {"kind": "comm_blackout", "t_s": 7200, "duration_s": 1800}],
                      "random": {"satellite_mtbf_s": 1e6}}  # fmt: skip
    sc = load_scenario(data)
    m = mission_summary(sc, region_grid(sc), 3)
    assert [f["kind"] for f in m["faults"]["events"]] == ["drone_lost", "comm_blackout"]
    text = "\n".join(format_mission(m, sc.duration_s))
    assert "faults: 2 scheduled faults" in text and "comm_blackout" in text
    assert "satellite every 277.8 h" in text
    plain = load_scenario(SCENARIOS / "minimal.yaml")
    assert "faults" not in "\n".join(format_mission(mission_summary(plain, region_grid(plain), 3),
                                                    plain.duration_s))  # fmt: skip


def _counts_from_masks(env) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Run an episode of IDLE actions; per kind (satellite sensor kind, drones), each task's
    steps in which some agent of the kind may image it (an unmasked candidate slot), and
    the steps in which one may image any task."""
    world, kk = env.world, env.world.top_k
    groups = env.scenario.satellites
    kind_of = {a: ("drones" if env.agent_type(a) == "drone" else
                   groups[world.sat_group_index[i]].sensor.kind)
               for i, a in enumerate(env.possible_agents)
               if env.agent_type(a) != "station"}  # fmt: skip
    per_task = {k: np.zeros(world.tasks.n, np.int64) for k in kind_of.values()}
    any_steps = dict.fromkeys(kind_of.values(), 0)
    obs, _ = env.reset(seed=0)
    while env.agents:
        now = {k: np.zeros(world.tasks.n, bool) for k in per_task}
        for agent, kind in kind_of.items():
            slots = np.flatnonzero(obs[agent]["action_mask"][:kk])
            now[kind][world.candidates.index[env.possible_agents.index(agent), slots]] = True
        for kind, allowed in now.items():
            per_task[kind] += allowed
            any_steps[kind] += bool(allowed.any())
        idle = {a: kk + 3 for a in env.agents}
        obs, *_ = env.step(idle)
    return per_task, any_steps


@pytest.mark.parametrize("top_k", [4, 8])
def test_imaging_figures_are_the_env_masks(minimal_dict: dict, top_k: int) -> None:
    """The inspector's imaging opportunities are the env's action masks, counted over an
    episode: per task when every accessible task fits in the candidate list (top_k 8 ≥ 7
    tasks), and the steps with any access whatever top_k (the mask keeps the feasible
    candidates first)."""
    from sagsim.envs.sag_env import SagEnv

    minimal_dict["env"]["top_k"] = top_k
    scenario = load_scenario(minimal_dict)
    imaging = inspect_scenario(scenario)["imaging"]
    per_task, any_steps = _counts_from_masks(SagEnv(scenario))
    assert set(imaging["kinds"]) == {"optical", "drones"}
    for kind, counted in per_task.items():
        figures = imaging["kinds"][kind]
        assert figures["steps_with_access"] == any_steps[kind] > 0
        assert figures["steps_with_access_fraction"] == round(any_steps[kind] / 720, 4)
        if top_k >= scenario.targets.random.count + 3:
            reported = np.array([t[kind] for t in imaging["tasks"]])
            np.testing.assert_array_equal(reported, counted)
            days = 720 * 30.0 / 86_400.0
            assert figures["opportunities_per_task_per_day"] == round(counted.mean() / days, 2)
            worst = sorted(range(counted.size), key=lambda j: counted[j])[:5]
            assert [t["opportunities"] for t in figures["worst_tasks"]] == counted[worst].tolist()


def test_imaging_passes_and_worst_tasks(minimal_report: dict) -> None:
    """The one satellite sees the 20 km box in one daylight pass of a few steps; the event
    (from 1 h) is the drone's worst-served task: 600 of 720 steps."""
    optical = minimal_report["imaging"]["kinds"]["optical"]
    days = 720 * 30.0 / 86_400.0
    assert optical["platforms"] == 1 and optical["tasks_never"] == 0
    assert optical["passes_per_task_per_day"] == pytest.approx(1 / days)
    drones = minimal_report["imaging"]["kinds"]["drones"]
    assert drones["worst_tasks"][0] == {"name": "riverbank_flood", "opportunities": 600}
    text = format_report(minimal_report)
    assert "optical     1 satellites" in text and "fewest steps: east_lake" in text
