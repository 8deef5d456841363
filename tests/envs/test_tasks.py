"""Task set: order, seeded draws inside the region, event growth, sample cells, windows."""

import copy

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sagsim import envs
from sagsim.envs.scenario.loader import region_grid
from sagsim.envs.tasks import EVENT_KINDS, MAX_SAMPLES_PER_SIDE, TaskSet

N_DRAWN = 5
EVENTS = [
    {"name": "flood", "kind": "flood", "start_s": 600.0, "lat_deg": 30.62, "lon_deg": 114.31,
     "initial_radius_m": 300.0, "growth_mps": 0.5, "max_radius_m": 2000.0, "priority": 5},
    {"kind": "fire", "start_s": 0.0, "lat_deg": 30.53, "lon_deg": 114.22,
     "initial_radius_m": 100.0, "growth_mps": 2.0, "max_radius_m": 900.0},
]  # fmt: skip
POINTS = [
    {"name": "bridge", "lat_deg": 30.56, "lon_deg": 114.28, "radius_m": 500, "priority": 2},
    {"lat_deg": 30.55, "lon_deg": 114.38},  # a point: half a cell
    {"name": "corner", "lat_deg": 30.6795, "lon_deg": 114.3995, "radius_m": 3000},  # near an edge
]
# Radii are float sums of a few terms of O(1e3) m.
RADIUS_ATOL_M = 1e-9


def build(minimal_dict, *, seed=7, distribution="uniform"):
    d = minimal_dict
    d["seed"] = seed
    d["targets"] = {
        "points": POINTS,
        "random": {"count": N_DRAWN, "distribution": distribution, "clusters": 2,
                   "cluster_spread_m": 4000.0, "radius_m_min": 100, "radius_m_max": 800},
    }  # fmt: skip
    d["events"] = EVENTS
    scenario = envs.load_scenario(d)
    grid = region_grid(scenario)
    return TaskSet.from_scenario(scenario, grid), grid


@pytest.fixture
def tasks_grid(minimal_dict):
    return build(minimal_dict)


def test_order_listed_then_drawn_then_events(tasks_grid):
    tasks, _ = tasks_grid
    n_pts = len(POINTS)
    assert tasks.n == n_pts + N_DRAWN + len(EVENTS)
    assert tasks.names[:n_pts] == ["bridge", "target-1", "corner"]
    assert tasks.names[n_pts : n_pts + N_DRAWN] == [f"target-{n_pts + j}" for j in range(N_DRAWN)]
    assert tasks.names[n_pts + N_DRAWN :] == ["flood", "fire-1"]
    np.testing.assert_array_equal(tasks.kind[: n_pts + N_DRAWN], 0)
    assert [EVENT_KINDS[k] for k in tasks.kind[n_pts + N_DRAWN :]] == ["flood", "fire"]
    np.testing.assert_allclose(tasks.lat_deg[:n_pts], [p["lat_deg"] for p in POINTS])
    np.testing.assert_allclose(tasks.priority[:n_pts], [2.0, 1.0, 1.0])
    for name in ("kind", "x_m", "row", "col", "priority", "start_s", "max_radius_m", "scale_x"):
        assert getattr(tasks, name).shape == (tasks.n,)
    assert tasks.r_ecef_m.shape == tasks.up_ecef.shape == (tasks.n, 3)


def test_point_target_is_half_a_cell(tasks_grid):
    tasks, grid = tasks_grid
    np.testing.assert_allclose(tasks.radius_m(0.0)[1], 0.5 * grid.resolution_m)


@pytest.mark.parametrize("distribution", ["uniform", "clustered"])
def test_drawn_targets_reproducible_and_inside_the_region(minimal_dict, distribution):
    a, grid = build(copy.deepcopy(minimal_dict), distribution=distribution)
    b, _ = build(copy.deepcopy(minimal_dict), distribution=distribution)
    c, _ = build(copy.deepcopy(minimal_dict), seed=8, distribution=distribution)
    drawn = slice(len(POINTS), len(POINTS) + N_DRAWN)
    for name in ("lon_deg", "lat_deg", "priority", "max_radius_m"):
        np.testing.assert_array_equal(getattr(a, name)[drawn], getattr(b, name)[drawn])
    assert not np.allclose(a.lon_deg[drawn], c.lon_deg[drawn])
    # Listed targets and events do not depend on the seed.
    np.testing.assert_array_equal(a.lon_deg[: len(POINTS)], c.lon_deg[: len(POINTS)])
    for tasks in (a, c):
        row, col = grid.cell_index_lonlat(tasks.lon_deg[drawn], tasks.lat_deg[drawn])
        assert np.all(row >= 0) and np.all(col >= 0)
        assert np.all(grid.mask[row, col])
        assert np.all((tasks.max_radius_m[drawn] >= 100.0) & (tasks.max_radius_m[drawn] <= 800.0))
        assert np.all((tasks.priority[drawn] >= 1.0) & (tasks.priority[drawn] <= 3.0))


# The task set is only read, so sharing the fixture across examples is safe.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(t_s=st.floats(0.0, 20_000.0))
def test_event_radius_and_activity(tasks_grid, t_s):
    tasks, _ = tasks_grid
    radius, active = tasks.radius_m(t_s), tasks.active(t_s)
    for i, ev in enumerate(EVENTS):
        k = len(POINTS) + N_DRAWN + i
        age = t_s - ev["start_s"]
        if age < 0:
            assert radius[k] == 0.0
            assert not active[k]
        else:
            grown = ev["initial_radius_m"] + ev["growth_mps"] * age
            np.testing.assert_allclose(
                radius[k], min(grown, ev["max_radius_m"]), atol=RADIUS_ATOL_M
            )
            assert active[k]
    statics = slice(0, len(POINTS) + N_DRAWN)
    assert np.all(active[statics])
    np.testing.assert_array_equal(radius[statics], tasks.max_radius_m[statics])


def test_event_radius_milestones(tasks_grid):
    tasks, _ = tasks_grid
    k = len(POINTS) + N_DRAWN  # flood: 300 m at 600 s, +0.5 m/s, cap 2000 m at 4000 s
    assert tasks.radius_m(599.0)[k] == 0.0
    assert tasks.radius_m(600.0)[k] == 300.0
    np.testing.assert_allclose(tasks.radius_m(1600.0)[k], 800.0)
    assert tasks.radius_m(4000.0)[k] == 2000.0
    assert tasks.radius_m(1e6)[k] == 2000.0


def test_samples(tasks_grid):
    tasks, grid = tasks_grid
    per_task = np.bincount(tasks.sample_task, minlength=tasks.n)
    assert np.all(per_task >= 1)
    assert np.all(per_task <= MAX_SAMPLES_PER_SIDE**2)
    n_rows, n_cols = grid.shape
    assert np.all((tasks.sample_row >= 0) & (tasks.sample_row < n_rows))
    assert np.all((tasks.sample_col >= 0) & (tasks.sample_col < n_cols))
    assert np.all(tasks.sample_dist_m >= 0.0)
    assert np.all(tasks.sample_dist_m <= tasks.max_radius_m[tasks.sample_task])
    # Once every event has reached its largest radius, every sample is inside its disc.
    t_full = max(e["start_s"] + (e["max_radius_m"] - e["initial_radius_m"]) / e["growth_mps"]
                 for e in EVENTS)  # fmt: skip
    assert np.all(tasks.sample_inside(t_full))
    # Before the flood starts, none of its samples are.
    flood = tasks.sample_task == len(POINTS) + N_DRAWN
    assert not tasks.sample_inside(0.0)[flood].any()


@pytest.mark.parametrize("half_width_m", [0.0, 150.0, 1000.0, 5000.0, 1e6])
def test_windows_clipped_to_the_grid(tasks_grid, half_width_m):
    tasks, grid = tasks_grid
    k = np.arange(tasks.n)
    r0, r1, c0, c1 = tasks.window(k, np.full(tasks.n, half_width_m), grid)
    n_rows, n_cols = grid.shape
    assert np.all((r0 >= 0) & (r0 <= tasks.row) & (tasks.row < r1) & (r1 <= n_rows))
    assert np.all((c0 >= 0) & (c0 <= tasks.col) & (tasks.col < c1) & (c1 <= n_cols))
    if half_width_m == 0.0:  # just the centre cell
        np.testing.assert_array_equal(r1 - r0, 1)
        np.testing.assert_array_equal(c1 - c0, 1)
    if half_width_m >= 1e6:  # the whole grid
        assert np.all((r0 == 0) & (r1 == n_rows) & (c0 == 0) & (c1 == n_cols))


def test_from_events_is_the_scenarios_events_alone(minimal_dict):
    """TaskSet.from_events (the scene's tasks when given schema events) builds the events
    exactly as from_scenario does, without the targets."""
    tasks, grid = build(minimal_dict)
    scenario = envs.load_scenario(minimal_dict)
    events = TaskSet.from_events(scenario.events, grid)
    first = tasks.n - len(EVENTS)
    assert events.names == tasks.names[first:] == ["flood", "fire-1"]
    for name in ("kind", "x_m", "row", "col", "priority", "start_s", "initial_radius_m",
                 "growth_mps", "max_radius_m", "scale_x", "r_ecef_m"):  # fmt: skip
        np.testing.assert_array_equal(getattr(events, name), getattr(tasks, name)[first:])
    assert TaskSet.from_events([], grid).n == 0


def test_event_boxes_cover_each_kinds_largest_discs(tasks_grid):
    tasks, grid = tasks_grid
    for kind in ("flood", "fire"):
        area = tasks.event_boxes(kind, grid)
        (k,) = np.flatnonzero(tasks.kind == EVENT_KINDS.index(kind))
        r0, r1, c0, c1 = (int(v[0]) for v in tasks.window([k], tasks.max_radius_m[[k]], grid))
        expected = np.zeros(grid.shape, bool)
        expected[r0:r1, c0:c1] = True
        np.testing.assert_array_equal(area, expected)
    assert not tasks.event_boxes("landslide", grid).any()  # no such event


def test_event_boxes_are_clipped_at_the_grid_edge(minimal_dict):
    """An event reaching past the grid's top-left corner: its box starts at row/column 0
    (a negative start would wrap round to the far edge)."""
    minimal_dict["events"] = [{**EVENTS[0], "lat_deg": 30.679, "lon_deg": 114.201,
                               "max_radius_m": 5_000.0}]  # fmt: skip
    scenario = envs.load_scenario(minimal_dict)
    grid = region_grid(scenario)
    tasks = TaskSet.from_scenario(scenario, grid)
    area = tasks.event_boxes("flood", grid)
    rows, cols = np.nonzero(area)
    assert rows.min() == 0 and cols.min() == 0
    assert area[0, 0] and not area[-1, -1]
