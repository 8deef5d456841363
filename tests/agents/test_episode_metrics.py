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


def _usage(policy_of, cycles=400, **env_kwargs):
    """Usage metrics of a minimal episode under ``policy_of(env)`` (actions per step)."""
    from sagsim.agents.episode_metrics import UsageTracker
    from sagsim.envs.sag_env import SagEnv

    env = SagEnv("minimal", max_cycles=cycles, **env_kwargs)
    obs, _ = env.reset(seed=5)
    tracker = UsageTracker(env.world, env.possible_agents)
    information = 0.0
    while env.agents:
        obs, _, _, _, infos = env.step(policy_of(env, obs))
        obs = {a: obs[a] for a in env.agents}
        tracker.step(env.world, infos)
        information = env.world.totals["information"]
    return tracker.metrics(), information, env


def test_usage_of_a_team_that_does_nothing_is_zero():
    from sagsim.envs.actions import IDLE

    m, information, _ = _usage(lambda env, obs: {a: env.world.top_k + IDLE for a in obs})
    assert information == 0.0 and m["map_quality_mean"] == 0.0
    assert m["downlink_busy"] == 0.0 and m["access_used"] == 0.0
    assert m["drone_flight_used"] == 0.0 and m["storage_peak"] == 0.0
    assert m["storage_full_in_view"] == 0.0


def test_a_recorder_full_of_other_customers_data_blocks_the_pass():
    from sagsim.envs.actions import IDLE
    from sagsim.envs.scenario.shipped import resolve_scenario

    groups = [g.model_dump() for g in resolve_scenario("minimal").satellites]
    groups[0]["other_customers_km2_per_day"] = 4_000_000.0  # full within 110 steps
    m, *_ = _usage(lambda env, obs: {a: env.world.top_k + IDLE for a in obs},
                   cycles=None, satellites=groups)  # fmt: skip
    assert m["storage_peak"] == pytest.approx(1.0)
    # Every step with a task in view (minimal's one pass) ended with no room for an image.
    assert m["storage_full_in_view"] == 1.0 and m["access_used"] == 0.0


def test_usage_of_greedy_is_a_fraction_and_the_quality_is_the_returns():
    from sagsim.agents.baselines import GreedyPolicy

    greedy = GreedyPolicy()
    m, information, env = _usage(lambda env, obs: greedy.act(obs))
    for key in ("map_quality_mean", "storage_peak", "downlink_busy", "access_used",
                "drone_flight_used"):  # fmt: skip
        assert 0.0 <= m[key] <= 1.0, key
    assert m["access_used"] > 0 and m["drone_flight_used"] > 0 and m["storage_peak"] > 0
    # The mean quality is the return's information over what knowing every task would earn.
    w = env.world
    most = sum(float(w.tasks.priority[w.tasks.active((k + 1) * w.step_s)].sum())
               for k in range(w.n_steps)) * w.step_s / 3600.0  # fmt: skip
    assert m["map_quality_mean"] == pytest.approx(information / most)


def _task_psnr(perception, policy_of, cycles=600):
    from sagsim.agents.episode_metrics import TaskPsnrTracker
    from sagsim.envs.sag_env import SagEnv

    kwargs = {"perception": "imagery", "fusion": {"fuser": "kalman"}} if perception else {}
    env = SagEnv("minimal", max_cycles=cycles, **kwargs)
    obs, _ = env.reset(seed=5)
    tracker = TaskPsnrTracker(env.world, every_s=600.0)
    while env.agents:
        obs, *_ = env.step(policy_of(env, obs))
        obs = {a: obs[a] for a in env.agents}
        tracker.step(env.world)
    return tracker


def test_task_psnr_is_nan_without_imagery_and_rewards_a_better_map():
    from sagsim.agents.baselines import GreedyPolicy
    from sagsim.envs.actions import IDLE

    def idle(env, obs):
        return {a: env.world.top_k + IDLE for a in obs}

    greedy = GreedyPolicy()
    assert math.isnan(_task_psnr(False, idle, cycles=50).metrics()["task_psnr_mean_db"])
    nothing = _task_psnr(True, idle)
    seen = _task_psnr(True, lambda env, obs: greedy.act(obs))
    assert len(seen.samples) == len(nothing.samples) > 0
    assert seen.metrics()["task_psnr_mean_db"] > nothing.metrics()["task_psnr_mean_db"]
