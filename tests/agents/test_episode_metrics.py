"""EpisodeTracker on a hand-built world: every task metric against hand-computed values."""

import math
from types import SimpleNamespace

import numpy as np
import pytest

from sagsim.agents.episode_metrics import EpisodeTracker


def fake_world():
    """Two tasks: a target (priority 1, from 0 s) and an event (priority 3, from 100 s);
    steps of 100 s; one drone."""
    tasks = SimpleNamespace(priority=np.array([1.0, 3.0]), start_s=np.array([0.0, 100.0]),
                            kind=np.array([0, 1]), n=2)  # fmt: skip
    drones = SimpleNamespace(position_xy_m=np.zeros((1, 2)))
    return SimpleNamespace(tasks=tasks, task_last_obs_s=np.full(2, -np.inf), step_s=100.0,
                           t_s=0.0, n_uav=1, drones=drones)  # fmt: skip


def test_task_metrics_by_hand():
    w = fake_world()
    tr = EpisodeTracker(w)
    # Step 1 (t=100): an image of the target taken at 50 s arrives; the drone flies 3-4-5.
    w.t_s, w.task_last_obs_s = 100.0, np.array([50.0, -np.inf])
    w.drones.position_xy_m = np.array([[300.0, 400.0]])
    tr.step(w)
    # Step 2 (t=200): nothing new.
    w.t_s = 200.0
    tr.step(w)
    # Step 3 (t=300): the event (started at 100 s) seen at 250 s; the target again at 290 s.
    w.t_s, w.task_last_obs_s = 300.0, np.array([290.0, 250.0])
    tr.step(w)
    m = tr.metrics(300.0)
    assert m["task_completion"] == 1.0
    assert m["revisit_mean_h"] == pytest.approx(240.0 / 3600)  # 50 → 290 s
    assert m["revisit_p95_h"] == pytest.approx(240.0 / 3600)
    assert m["detection_delay_h"] == pytest.approx(200.0 / 3600)  # start 100 s, arrival 300 s
    assert m["events_detected"] == 1.0 and m["drone_km"] == pytest.approx(0.5)
    # AoI: t=100: target 50 s (×1), event 0 s since its start (×3); t=200: 150 and 100;
    # t=300: 10 and 50. Priority-weighted over the active tasks and the steps.
    num = (1 * 50 + 3 * 0) + (1 * 150 + 3 * 100) + (1 * 10 + 3 * 50)
    assert m["aoi_mean_h"] == pytest.approx(num / (4 + 4 + 4) / 3600)


def test_nothing_seen():
    w = fake_world()
    w.n_uav = 0
    tr = EpisodeTracker(w)
    for t in (100.0, 200.0):
        w.t_s = t
        tr.step(w)
    m = tr.metrics(200.0)
    assert m["task_completion"] == 0.0 and m["events_detected"] == 0.0
    assert math.isnan(m["revisit_mean_h"]) and math.isnan(m["detection_delay_h"])
    assert m["drone_km"] == 0.0
