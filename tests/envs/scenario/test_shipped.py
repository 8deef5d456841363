"""Every scenario shipped in scenarios/ loads, has tasks, builds a world and is inspected."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sgp4.conveniences import sat_epoch_datetime

from sagsim.envs import load_scenario
from sagsim.envs.actions import Extra
from sagsim.envs.physics.orbits import Constellation
from sagsim.envs.views.inspector import format_report, inspect_scenario
from sagsim.envs.world.world import World
from tests.conftest import ROOT, SCENARIOS

SHIPPED = sorted(SCENARIOS.glob("*.yaml"))

# A shipped element set may be this far from its scenario's epoch: SGP4's error grows by
# ~1-3 km a day, so beyond two weeks a satellite is tens of km (seconds of a pass) off.
MAX_TLE_EPOCH_OFFSET = dt.timedelta(days=14)
# flood_carolinas flies the real 2018 fleet: group → {name in the TLE: NORAD number}.
FLORENCE_FLEET = {
    "landsat8": {"LANDSAT 8": 39084},
    "sentinel2": {"SENTINEL-2A": 40697, "SENTINEL-2B": 42063},
    "sentinel1": {"SENTINEL-1A": 39634, "SENTINEL-1B": 41456},
}


def test_the_shipped_scenarios_are_found() -> None:
    names = {p.stem for p in SHIPPED}
    assert {"minimal", "flood_wuhan", "wildfire_california", "global_constellation",
            "flood_carolinas"} <= names  # fmt: skip


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_scenario_is_inspected(path: Path) -> None:
    scenario = load_scenario(path)
    report = inspect_scenario(scenario)
    # What `python -m sagsim.envs FILE --json` prints: strict JSON (no NaN), the same values back.
    assert json.loads(json.dumps(report, allow_nan=False)) == report
    assert report["scenario"]["name"] == scenario.name
    tasks = report["mission"]["tasks"]
    assert tasks["total"] >= 1
    assert tasks["total"] == tasks["listed"] + tasks["drawn"] + tasks["events"]
    # Listed targets and events of a shipped file lie inside its region.
    assert tasks["outside_region"] == []
    assert report["region"]["grid_projection"] == scenario.region.projection
    assert format_report(report).startswith(f"Scenario {scenario.name}")


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_scenario_builds_a_world_that_steps(path: Path) -> None:
    world = World(load_scenario(path))
    assert world.tasks.n >= 1
    assert world.n_agents == world.action_mask().shape[0]
    idle = np.full(world.n_agents, world.extra(Extra.IDLE, world.top_k))  # always feasible
    world.step(idle)
    assert world.k == 1


def test_shipped_tle_epochs_are_near_the_scenario_epoch() -> None:
    checked = []
    for path in SHIPPED:
        scenario = load_scenario(path)
        for group in [*scenario.satellites, *scenario.open_data]:
            if group.tle is None:
                continue
            for name, satrec in zip(*_names_and_satrecs(group.tle), strict=True):
                offset = sat_epoch_datetime(satrec) - scenario.epoch_utc
                assert abs(offset) <= MAX_TLE_EPOCH_OFFSET, (path.name, group.name, name, offset)
                checked.append(name)
    assert len(checked) >= 5  # at least flood_carolinas' element sets


def test_flood_carolinas_flies_the_real_2018_fleet() -> None:
    scenario = load_scenario(SCENARIOS / "flood_carolinas.yaml")
    groups = {g.name: g for g in scenario.satellites}
    assert set(groups) == set(FLORENCE_FLEET)
    for name, fleet in FLORENCE_FLEET.items():
        assert groups[name].tle_file is not None  # the shipped TLE-file example
        names, satrecs = _names_and_satrecs(groups[name].tle)
        assert dict(zip(names, [s.satnum for s in satrecs], strict=True)) == fleet
        for satrec in satrecs:
            # Element sets of 14 September 2018, 3.3-3.5 days before the scenario.
            age = scenario.epoch_utc - sat_epoch_datetime(satrec)
            assert dt.timedelta(days=3) < age < dt.timedelta(days=4)
    report = inspect_scenario(scenario)
    # That day the region is seen by optical and SAR, and every station has contacts.
    assert report["revisit"]["optical"]["accesses_per_day"] > 0
    assert report["revisit"]["sar"]["accesses_per_day"] > 0
    assert all(gs["passes"] > 0 for gs in report["ground_stations"])


def _names_and_satrecs(tle: str) -> tuple[list[str], list]:
    constellation = Constellation.from_tle(tle)
    return constellation.names, constellation.satrecs


def test_cli_json_on_minimal() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sagsim.envs", "scenarios/minimal.yaml", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["mission"]["tasks"]["total"] == 7
    assert report["region"]["grid_projection"] == "aeqd"
