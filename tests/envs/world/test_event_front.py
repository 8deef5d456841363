"""The cells an event reaches: each once, from its start, as its disc grows; and the fusion
centre's map forgets what it knew of them."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np

from sagsim.envs.sag_env import SagEnv
from sagsim.envs.world.event_front import EventFronts


def _flood_world():
    env = SagEnv("flood_wuhan", max_cycles=5)
    env.reset(seed=0)
    return env.world


def test_an_event_reaches_every_cell_of_its_disc_once_and_nothing_before_it_starts():
    world = _flood_world()
    fronts, tasks = world.event_fronts, world.tasks
    # Any partition of time works: intervals of 10 min until every event is at its largest.
    ev = tasks.kind != 0
    grown_s = tasks.start_s[ev] + (tasks.max_radius_m - tasks.initial_radius_m)[ev] / np.maximum(
        tasks.growth_mps[ev], 1e-3
    )
    times = np.arange(0.0, grown_s.max() + 1200.0, 600.0)
    reached = [fronts.reached(a, b) for a, b in itertools.pairwise(times)]
    for k in np.flatnonzero(tasks.kind != 0):
        cells = fronts.flat[fronts.task == k]
        mine = [np.intersect1d(r, cells) for r in reached]
        first = next(i for i, r in enumerate(mine) if r.size)
        assert times[first] < tasks.start_s[k] <= times[first + 1]
        assert np.all(times[: first + 1] < tasks.start_s[k])
        # The first step holds the initial disc; later steps the rings it grows by.
        initial = fronts.dist_m[fronts.task == k] <= tasks.initial_radius_m[k]
        assert np.array_equal(np.sort(mine[first]), np.sort(cells[initial]))
        final_radius = tasks.radius_m(times[-1])[k]
        expected = np.sort(cells[fronts.dist_m[fronts.task == k] <= final_radius])
        assert np.array_equal(np.sort(np.concatenate(mine)), expected)  # each cell once


def test_the_fronts_agree_with_the_tasks_samples():
    # Every sample cell of an event's disc (TaskSet's own sampling) is one of the fronts'
    # cells of that event, at the distance TaskSet gives it (the same geodesy).
    world = _flood_world()
    fronts, tasks = world.event_fronts, world.tasks
    for k in np.flatnonzero(tasks.kind != 0):
        mine = tasks.sample_task == k
        cells, dist_m = fronts.flat[fronts.task == k], fronts.dist_m[fronts.task == k]
        where = np.searchsorted(cells, tasks.sample_flat[mine], sorter=np.argsort(cells))
        order = np.argsort(cells)
        found = cells[order][np.minimum(where, cells.size - 1)] == tasks.sample_flat[mine]
        assert found.all()
        np.testing.assert_allclose(dist_m[order][where], tasks.sample_dist_m[mine], atol=1e-6)


def test_no_events_no_cells():
    world = _flood_world()
    targets_only = dataclasses.replace(world.tasks, kind=np.zeros_like(world.tasks.kind))
    assert EventFronts(targets_only, world.grid).reached(0.0, 1e9).size == 0
    assert world.event_fronts.reached(0.0, 1e9).size > 0


def test_the_map_is_stale_where_the_flood_arrives():
    env = SagEnv("flood_wuhan")
    env.reset(seed=0)
    world = env.world
    k = world.tasks.names.index("yangtze_flood")
    # The first step whose end is at or after the start (start_s need not be a multiple).
    start_step = int(np.ceil(world.tasks.start_s[k] / world.step_s))
    centre = world.tasks.row[k] * world.grid.shape[1] + world.tasks.col[k]
    # See the flood's centre before the flood: then it is known...
    while world.k < start_step - 1:
        env.step({})
    world.fusion.update_window(world.tasks.row[k], world.tasks.row[k] + 1,
                               world.tasks.col[k], world.tasks.col[k] + 1, 1e-6,
                               world.t_s)  # fmt: skip
    assert world.fusion.variance_flat(np.array([centre]))[0] < 1e-3 * world.fusion.prior_variance
    env.step({})  # ... the flood starts in this step: the cell is at the prior again
    assert world.t_s >= world.tasks.start_s[k]
    assert world.fusion.variance_flat(np.array([centre]))[0] == world.fusion.prior_variance
