"""Every scenario shipped in scenarios/ loads, has tasks, builds a world and is inspected."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from envs import load_scenario
from envs.candidates import Extra
from envs.inspector import format_report, inspect_scenario
from envs.world import World
from tests.conftest import ROOT, SCENARIOS

SHIPPED = sorted(SCENARIOS.glob("*.yaml"))


def test_the_shipped_scenarios_are_found() -> None:
    names = {p.stem for p in SHIPPED}
    assert {"minimal", "flood_wuhan", "wildfire_california", "global_constellation"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_scenario_is_inspected(path: Path) -> None:
    scenario = load_scenario(path)
    report = inspect_scenario(scenario)
    # What `python -m envs FILE --json` prints: strict JSON (no NaN), the same values back.
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


def test_cli_json_on_minimal() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "envs", "scenarios/minimal.yaml", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["mission"]["tasks"]["total"] == 7
    assert report["region"]["grid_projection"] == "aeqd"
