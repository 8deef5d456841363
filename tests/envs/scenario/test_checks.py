"""Scenario sanity warnings (sagsim.envs.scenario.checks): each rule fires on a mutated `minimal`,
none fires on a shipped scenario, each is one line, and none repeats per environment copy."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import yaml

from sagsim.cli import one_line_warnings
from sagsim.envs import load_scenario
from sagsim.envs.physics.geodesy import geod
from sagsim.envs.sag_env import SagEnv
from sagsim.envs.scenario.checks import (
    MAX_FINDINGS_PER_LIST,
    ScenarioWarning,
    episode_steps,
    group_access_findings,
    out_and_back_radius_m,
    outside_region_m,
    station_findings,
    tle_epoch,
)
from sagsim.envs.scenario.loader import region_grid
from sagsim.envs.scenario.shipped import resolve_scenario
from sagsim.envs.views.inspector import inspect_scenario
from sagsim.envs.views.inspector_mission import imaging_access
from sagsim.envs.world.world import World
from tests.conftest import ISS_TLE, ROOT, SCENARIOS

SHIPPED = sorted(SCENARIOS.glob("*.yaml"))
# A place from which minimal's one satellite is never above 5° during its 6 h (checked by
# test_the_silent_station_really_sees_nothing).
SILENT_STATION = {"lat_deg": -60.0, "lon_deg": 20.0}


def _caught(action) -> tuple[object, list[str]]:
    """``action()``'s result and the ScenarioWarning lines it emitted (every one shown)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = action()
    return result, [str(w.message) for w in caught if w.category is ScenarioWarning]


def _load_warnings(data: dict) -> list[str]:
    return _caught(lambda: load_scenario(data))[1]


def _only(lines: list[str], *fragments: str) -> str:
    assert len(lines) == 1, lines
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert "\n" not in lines[0]
    return lines[0]


# -- shipped scenarios -----------------------------------------------------------------


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_scenarios_load_and_build_without_warnings(path: Path) -> None:
    scenario, lines = _caught(lambda: load_scenario(path))
    assert lines == []
    world = World(scenario, n_steps=episode_steps(scenario))
    assert station_findings(scenario, world.geom.gs_visible[: world.n_steps]) == []
    group_steps = imaging_access(scenario, world)["group_steps"]
    assert group_access_findings(scenario, group_steps) == []


def test_the_minimal_scenario_builds_an_env_without_warnings() -> None:
    assert _caught(lambda: SagEnv("minimal"))[1] == []


# -- the load-time rules ----------------------------------------------------------------


def test_a_drone_base_out_of_reach_of_the_region(minimal_dict: dict) -> None:
    minimal_dict["drones"][0]["base_lat_deg"] = 30.68 + 3.0  # ~330 km north of the box
    line = _only(_load_warnings(minimal_dict), "minimal: drones[0].base_lat_deg/base_lon_deg",
                 "'uav'", "km from the region", "out-and-back radius of 25.1 km")  # fmt: skip
    _, _, expected_m = geod().inv(114.30, 33.68, 114.30, 30.68)
    assert f"{expected_m / 1e3:,.0f} km from the region" in line
    assert "swapped" not in line  # swapping would not help: no hint


def test_a_drone_base_with_latitude_and_longitude_swapped_gets_the_hint() -> None:
    from sagsim.envs.scenario.checks import drone_base_findings

    sc = load_scenario(SCENARIOS / "flood_carolinas.yaml")
    d = sc.drones[0]  # Wilmington (34.271, -77.903), written the other way round
    swapped = d.model_copy(update={"base_lat_deg": d.base_lon_deg, "base_lon_deg": d.base_lat_deg})
    sc = sc.model_copy(update={"drones": [swapped]})
    (finding,) = drone_base_findings(sc, region_grid(sc))
    assert finding.rule.endswith("(latitude and longitude swapped?)"), finding


def test_a_drone_base_outside_but_within_reach_is_fine(minimal_dict: dict) -> None:
    sc = load_scenario(minimal_dict)
    minimal_dict["drones"][0]["base_lat_deg"] = 30.68 + 0.1  # 11 km out, radius 25 km
    assert out_and_back_radius_m(sc.drones[0]) > 11_200.0
    assert _load_warnings(minimal_dict) == []


def test_the_radius_is_the_return_rule() -> None:
    """At the radius, a full battery minus the way out leaves exactly (1 + reserve) × the
    way back (the DroneFleet rule)."""
    drone = load_scenario(SCENARIOS / "minimal.yaml").drones[0]
    d_m = out_and_back_radius_m(drone)
    leg_wh = d_m / drone.cruise_speed_mps * drone.cruise_power_w / 3600.0
    assert drone.battery_capacity_wh - leg_wh == pytest.approx(
        (1 + drone.reserve_fraction) * leg_wh
    )


def test_distance_outside_the_region_is_geodesic() -> None:
    grid = region_grid(load_scenario(SCENARIOS / "minimal.yaml"))
    assert outside_region_m(grid, 114.30, 30.59) == 0.0
    # Due north and due east of the box: to the nearest edge point (within the ring's spacing).
    _, _, north_m = geod().inv(114.30, 40.58, 114.30, 30.68)
    assert outside_region_m(grid, 114.30, 40.58) == pytest.approx(north_m, abs=300.0)
    _, _, east_m = geod().inv(115.40, 30.59, 114.40, 30.59)
    assert outside_region_m(grid, 115.40, 30.59) == pytest.approx(east_m, abs=300.0)


def test_tle_epoch_is_read_from_line_1() -> None:
    line1 = ISS_TLE.splitlines()[1]
    assert tle_epoch(line1) == dt.datetime(2024, 7, 15, 12, tzinfo=dt.UTC)  # day 197.5 of 2024
    assert tle_epoch("1 00005U 58002B   00179.78495062").year == 2000
    assert tle_epoch("1 00005U 58002B   98179.78495062").year == 1998


def _with_iss(minimal: dict, epoch: str) -> dict:
    minimal["epoch_utc"] = epoch
    minimal["satellites"] = [{"name": "iss", "tle": ISS_TLE,
                              "sensor": {"gsd_nadir_m": 5, "swath_m": 1e4}}]  # fmt: skip
    return minimal


def test_a_tle_two_years_older_than_the_epoch(minimal_dict: dict) -> None:
    _only(_load_warnings(_with_iss(minimal_dict, "2026-07-15T12:00:00Z")),
          "minimal: satellites[0].tle:", "'ISS (ZARYA)' (2024-07-15) is 730 days before",
          "more than 14 days")  # fmt: skip


def test_a_tle_file_days_after_the_epoch(minimal_dict: dict, tmp_path: Path) -> None:
    (tmp_path / "iss.tle").write_text(ISS_TLE)
    data = _with_iss(minimal_dict, "2024-06-15T12:00:00Z")
    del data["satellites"][0]["tle"]
    data["satellites"][0]["tle_file"] = "iss.tle"
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    _only(_caught(lambda: load_scenario(path))[1], f"{path}: satellites[0].tle_file:",
          "30 days after the scenario epoch")  # fmt: skip


def test_a_tle_within_14_days_is_fine(minimal_dict: dict) -> None:
    assert _load_warnings(_with_iss(minimal_dict, "2024-07-28T12:00:00Z")) == []


def test_a_target_1100_km_from_the_region(minimal_dict: dict) -> None:
    minimal_dict["targets"]["points"].append(
        {"name": "far_away", "lat_deg": 40.58, "lon_deg": 114.30}
    )
    _, _, north_m = geod().inv(114.30, 40.58, 114.30, 30.68)
    _only(
        _load_warnings(minimal_dict),
        "minimal: targets.points[2].lat_deg/lon_deg",
        "'far_away'",
        f"{north_m / 1e3:,.1f} km outside the region",
        "nearest edge cell",
    )


def test_an_event_centre_outside_the_region(minimal_dict: dict) -> None:
    minimal_dict["events"][0]["lon_deg"] = 30.62  # swapped with its latitude
    minimal_dict["events"][0]["lat_deg"] = 114.31 - 90.0
    _only(_load_warnings(minimal_dict), "minimal: events[0].lat_deg/lon_deg",
          "'riverbank_flood'", "outside the region")  # fmt: skip


def test_many_targets_outside_give_a_few_lines_and_a_count(minimal_dict: dict) -> None:
    minimal_dict["targets"]["points"] = [
        {"lat_deg": -30.0, "lon_deg": float(lon)} for lon in range(-170, -70, 5)
    ]
    lines = _load_warnings(minimal_dict)
    assert len(lines) == MAX_FINDINGS_PER_LIST + 1
    assert lines[-1].endswith(f"and {20 - MAX_FINDINGS_PER_LIST} more centres outside the region")


def test_an_event_that_starts_after_the_episode(minimal_dict: dict) -> None:
    minimal_dict["events"][0]["start_s"] = 21_600.0  # the end; the last step is at 21,570 s
    _only(
        _load_warnings(minimal_dict),
        "minimal: events[0].start_s:",
        "'riverbank_flood' starts at 21600 s, after the episode's last step (at 21570 s",
    )
    minimal_dict["events"][0]["start_s"] = 21_570.0  # active in the last step
    assert _load_warnings(minimal_dict) == []


def test_max_cycles_makes_the_episode_shorter_for_late_events(minimal_dict: dict) -> None:
    minimal_dict["env"]["max_cycles"] = 100  # 3,000 s: the flood at 3,600 s never comes
    _only(_load_warnings(minimal_dict), "events[0].start_s", "100 steps of 30 s")


def test_a_fault_after_the_episode(minimal_dict: dict) -> None:
    minimal_dict["faults"] = {"events": [{"kind": "drone_lost", "agent": "uav_0",
                                          "t_s": 21_600.0}]}  # fmt: skip
    _only(_load_warnings(minimal_dict), "minimal: faults.events[0].t_s:", "drone_lost",
          "never happens")  # fmt: skip
    minimal_dict["faults"]["events"][0]["t_s"] = 21_570.0
    assert _load_warnings(minimal_dict) == []


def test_max_cycles_above_the_scenario_steps(minimal_dict: dict) -> None:
    minimal_dict["env"]["max_cycles"] = 1000
    _only(_load_warnings(minimal_dict), "minimal: env.max_cycles:",
          "1,000 is more than the scenario's 720 steps")  # fmt: skip
    minimal_dict["env"]["max_cycles"] = 720
    assert _load_warnings(minimal_dict) == []


def test_no_warning_when_asked_not_to(minimal_dict: dict) -> None:
    minimal_dict["env"]["max_cycles"] = 1000
    assert _caught(lambda: load_scenario(minimal_dict, warn=False))[1] == []


# -- overrides: only what they add -----------------------------------------------------


def test_overrides_are_not_warned_about(minimal_dict: dict, tmp_path: Path) -> None:
    """The file's lines when it is loaded; overrides (the calling code's, applied by an
    environment for every episode) neither repeat them nor add their own."""
    minimal_dict["drones"][0]["base_lat_deg"] = 33.68
    path = tmp_path / "far_base.yaml"
    path.write_text(yaml.safe_dump(minimal_dict))
    sc, lines = _caught(lambda: resolve_scenario(path))
    _only(lines, f"{path}: drones[0]")
    assert _caught(lambda: resolve_scenario(sc, perception="imagery"))[1] == []
    assert _caught(lambda: resolve_scenario(sc, env={"max_cycles": 5000}))[1] == []
    _only(_caught(lambda: resolve_scenario(path, env={"max_cycles": 5000}))[1],
          f"{path}: drones[0]")  # fmt: skip


# -- the episode rules: stations, satellite groups ---------------------------------------


def _silent_station(minimal: dict, name: str = "minimal") -> dict:
    # An environment says a line once per process: each test names its scenario apart.
    minimal["name"] = name
    minimal["ground_stations"][0].update(SILENT_STATION)
    return minimal


def test_the_silent_station_really_sees_nothing(minimal_dict: dict) -> None:
    world = World(load_scenario(_silent_station(minimal_dict)))
    assert not world.geom.gs_visible.any()
    assert World(load_scenario(SCENARIOS / "minimal.yaml")).geom.gs_visible.any()


def test_a_station_that_never_sees_a_satellite(minimal_dict: dict) -> None:
    sc, lines = _caught(lambda: load_scenario(_silent_station(minimal_dict, "silent_1")))
    assert lines == []  # it needs the episode's geometry: the world's
    assert _caught(lambda: SagEnv(sc, max_cycles=10))[1] == []  # cut short on purpose
    _only(_caught(lambda: SagEnv(sc))[1], "silent_1: ground_stations[0].lat_deg/lon_deg:",
          "'wuhan_gs' (-60, 20) sees no satellite above its 5° mask at any of the episode's "
          "720 steps")  # fmt: skip
    report, lines = _caught(lambda: inspect_scenario(sc, source="s.yaml"))
    _only(lines, "s.yaml: ground_stations[0]")
    assert report["warnings"] == lines


def test_env_copies_and_episodes_warn_once(minimal_dict: dict) -> None:
    """One line however many copies, episodes or reloads with overrides, even with every
    warning shown (Python's "always")."""
    sc = load_scenario(_silent_station(minimal_dict, "silent_2"))

    def copies():
        envs = [SagEnv(sc) for _ in range(3)]
        envs.append(SagEnv(sc, max_cycles=720, perception="variance_only"))
        for env in envs:
            env.reset(seed=1)

    _only(_caught(copies)[1], "silent_2: ground_stations[0]")


def test_a_satellite_group_that_can_image_nothing(minimal_dict: dict) -> None:
    minimal_dict["satellites"][0]["sensor"]["min_sun_elevation_deg"] = 89.0  # never so high
    report, lines = _caught(lambda: inspect_scenario(load_scenario(minimal_dict)))
    _only(lines, "minimal: satellites[0]:", "no satellite of 'eo' (optical) can image any task")
    assert report["imaging"]["kinds"]["optical"]["steps_with_access"] == 0


# -- the command line ------------------------------------------------------------------


def test_the_cli_prints_each_warning_as_one_line(minimal_dict: dict, tmp_path: Path) -> None:
    minimal_dict["drones"][0]["base_lat_deg"] = 33.68
    minimal_dict["events"][0]["start_s"] = 30_000.0
    _silent_station(minimal_dict)
    path = tmp_path / "odd.yaml"
    path.write_text(yaml.safe_dump(minimal_dict))
    result = subprocess.run([sys.executable, "-m", "sagsim.envs", str(path)], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 3, result.stderr
    assert all(line.startswith(f"warning: {path}: ") for line in lines)
    assert [line.split(": ")[2].split(".")[0] for line in lines] == [
        "drones[0]", "events[0]", "ground_stations[0]"]  # fmt: skip
    assert result.stdout.startswith("Scenario minimal")
    assert "Warnings (3, also on stderr):" in result.stdout


def test_the_one_line_format(monkeypatch) -> None:
    monkeypatch.setattr(warnings, "formatwarning", warnings.formatwarning)
    one_line_warnings()
    one_line_warnings()  # idempotent: not wrapped twice
    text = warnings.formatwarning("s.yaml: env.max_cycles: too\nmany", ScenarioWarning,
                                  "x.py", 3)  # fmt: skip
    assert text == "warning: s.yaml: env.max_cycles: too many\n"
    other = warnings.formatwarning("old", DeprecationWarning, "x.py", 3, "")
    assert other.startswith("x.py:3: DeprecationWarning: old")


def test_warning_lines_stay_on_one_line(minimal_dict: dict, tmp_path: Path) -> None:
    """A file name with a newline (legal on POSIX) does not split the line."""
    minimal_dict["env"]["max_cycles"] = 1000
    path = tmp_path / "two\nlines.yaml"
    path.write_text(yaml.safe_dump(minimal_dict))
    line = _only(_caught(lambda: load_scenario(path))[1], "two lines.yaml: env.max_cycles")
    assert line.isprintable()


def test_vec_env_worker_processes_do_not_repeat_it(minimal_dict: dict, tmp_path: Path) -> None:
    """SagVecEnv with one worker process per copy: the station line once (the parent's)."""
    path = tmp_path / "silent.yaml"
    path.write_text(yaml.safe_dump(_silent_station(minimal_dict, "silent_3")))
    script = (
        "from sagsim.cli import one_line_warnings\n"
        "from sagsim.agents.sb3_vec import SagVecEnv\n"
        "one_line_warnings()\n"
        f"env = SagVecEnv({str(path)!r}, n_copies=1, subprocess=True)\n"
        "env.reset()\n"
        "env.close()\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                            text=True, timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "warning" in line.lower()]
    assert lines == [line for line in lines if line.startswith("warning: silent_3: ")]
    assert len(lines) == 1, result.stderr


def test_a_max_cycles_cut_with_nothing_to_image_warns_once() -> None:
    """A --max-cycles that keeps only the night (every policy scores the same nothing) is
    said in train.py and evaluate.py; a short episode with something to image is not."""
    from sagsim.envs.scenario.shipped import resolve_scenario
    from sagsim.envs.views.inspector import warn_cut_episode

    no_drones = resolve_scenario("minimal", drones=[])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_cut_episode(no_drones, 20, "minimal")
        warn_cut_episode(no_drones, None, "minimal")  # the whole episode: the inspector's
        warn_cut_episode(resolve_scenario("minimal"), 20, "minimal")  # drones can image
    messages = [str(w.message) for w in caught if issubclass(w.category, ScenarioWarning)]
    assert len(messages) == 1, messages
    assert messages[0].startswith("minimal with --max-cycles 20: env.max_cycles: ")
    assert "no satellite or drone can image any task" in messages[0]
