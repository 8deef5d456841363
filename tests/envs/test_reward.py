"""The reward formula (sagsim.envs.reward), each term against its definition, and the
environment's reward against the formula."""

from __future__ import annotations

import numpy as np
import pytest

from sagsim.envs.reward import (
    image_value,
    information_shares,
    map_quality,
    mean_variance_ratio,
    onboard_value,
    reward_shares,
)
from sagsim.envs.sag_env import SagEnv
from sagsim.envs.scenario.schema.mission import Reward

REWARD = Reward(information_weight=2.0, energy_cost_per_wh=0.01, infeasible_action_cost=0.5)


def test_map_quality_is_priority_times_what_the_map_knows_of_each_active_task():
    ratio = np.array([1.0, 0.25, 0.0, 0.0])
    priority = np.array([5.0, 2.0, 3.0, 7.0])
    active = np.array([True, True, True, False])  # an event that has not started
    assert map_quality(ratio, priority, active) == pytest.approx(0.0 + 1.5 + 3.0)


def test_information_is_quality_hours_shared_by_the_live_agents_credit():
    live = np.array([True, True, True, True])
    shares = information_shares(6.0, 1800.0, np.array([1.0, 3.0, 0.0, 0.0]), live)
    assert shares == pytest.approx([0.75, 2.25, 0.0, 0.0])  # 6 × 0.5 h, split 1 : 3
    # A failed agent's credit no longer earns: the live ones share all of it.
    live[1] = False
    shares = information_shares(6.0, 1800.0, np.array([1.0, 3.0, 0.0, 0.0]), live)
    assert shares == pytest.approx([3.0, 0.0, 0.0, 0.0])
    # No live credit: evenly, so that the shares still add up to the team's information.
    shares = information_shares(6.0, 1800.0, np.zeros(4), live)
    assert shares == pytest.approx([1.0, 0.0, 1.0, 1.0])


def test_the_potential_is_the_value_on_board_times_the_hours_left():
    onboard = onboard_value(np.array([3.0, 0.0]), hours_left=2.5, n_agents=3)
    assert onboard == pytest.approx([7.5, 0.0, 0.0])


def test_an_old_scenario_with_a_latency_half_life_is_told_what_changed():
    with pytest.raises(ValueError, match="latency_half_life_s was removed"):
        Reward(latency_half_life_s=3600.0)


def test_shares_are_each_agents_own_terms():
    info, energy, infeasible = np.array([1.0, 0.0]), np.array([10.0, 20.0]), np.array([0, 1])
    shares = reward_shares(info, energy, infeasible, REWARD)
    assert shares == pytest.approx([2.0 - 0.1, -0.2 - 0.5])


def test_mean_variance_ratio_weights_samples_and_marks_empty_tasks():
    sample_variance = np.array([0.01, 0.005, 0.02])
    sample_task = np.array([0, 0, 1])
    weights = np.array([1.0, 1.0, 0.0])  # task 1's only sample is outside its disc
    inv_count = np.array([0.5, 0.0])
    none = np.array([0.0, 1.0])
    ratio = mean_variance_ratio(sample_variance, weights, inv_count, none, sample_task, 0.01)
    assert ratio == pytest.approx([0.75, 1.0])


class _Tasks:
    """Two tasks of priority 1 and 3, with two samples each."""

    n = 2
    priority = np.array([1.0, 3.0])
    sample_row = np.array([0, 0, 5, 5])
    sample_col = np.array([0, 1, 5, 6])
    sample_task = np.array([0, 0, 1, 1])


def test_image_value_is_priority_weighted_mean_reduction_over_the_discs():
    inside = (np.ones(4), np.array([0.5, 0.5]), np.zeros(2))
    reduction = np.zeros((1, 2, 2))  # one resolution level
    reduction[0, 0, 0] = 0.004  # one of task 0's two samples, window rows 0-2, cols 0-2
    level = np.zeros(4, np.int64)
    value, seen = image_value((0, 2, 0, 2), reduction, _Tasks, inside, 0.01, level)
    assert value == pytest.approx(1.0 * 0.004 / 2 / 0.01)
    assert seen.tolist() == [0]
    nothing, none_seen = image_value((8, 9, 8, 9), np.ones((1, 1, 1)), _Tasks, inside, 0.01, level)
    assert nothing == 0.0 and none_seen.size == 0


def test_image_value_reads_each_task_on_its_resolution_level():
    # Task 1 (samples at rows/cols 5-6) needs a finer image than this one: the image
    # reduced only the coarse level (1), so it adds nothing to task 1, its level being 0.
    inside = (np.ones(4), np.array([0.5, 0.5]), np.zeros(2))
    level = np.array([1, 1, 0, 0])
    reduction = np.zeros((2, 2, 2))
    reduction[1] = 0.004  # the coarse level, everywhere in the window rows/cols 5-7
    value, seen = image_value((5, 7, 5, 7), reduction, _Tasks, inside, 0.01, level)
    assert value == 0.0 and seen.size == 0
    reduction[0] = 0.002  # a fine image reduces both levels
    value, seen = image_value((5, 7, 5, 7), reduction, _Tasks, inside, 0.01, level)
    assert value == pytest.approx(3.0 * 0.002 / 0.01) and seen.tolist() == [1]


def _quality_from_definition(world) -> float:
    """Q from its definition, not through the environment's helpers: Σ over active tasks of
    priority × (1 − mean variance over the sample cells inside the task's current disc,
    read on the task's resolution level, / prior); a task with no cell inside counts 0."""
    tasks, maps = world.tasks, world.fusion
    radius_m = tasks.radius_m(world.t_s)
    quality = 0.0
    for task in np.flatnonzero(tasks.active(world.t_s)):
        own = (tasks.sample_task == task) & (tasks.sample_dist_m <= radius_m[task])
        if not own.any():
            continue
        variance = maps.layers[maps.task_level[task]].variance()
        mean = variance[tasks.sample_row[own], tasks.sample_col[own]].mean()
        known = 1.0 - mean / maps.prior_variance
        quality += tasks.priority[task] * (known if known > 1e-12 else 0.0)
    return quality


def test_the_environments_reward_is_the_formula():
    env = SagEnv("minimal", max_cycles=400)  # long enough for images to arrive
    obs, _ = env.reset(seed=5)  # a seed on which random images arrive
    rng = np.random.default_rng(5)
    reward = env.scenario.reward
    world, integral = env.world, 0.0
    while env.agents:
        actions = {a: int(rng.choice(np.flatnonzero(obs[a]["action_mask"]))) for a in env.agents}
        obs, rewards, _, _, infos = env.step(actions)
        # The information part is the map quality at the step's end × its hours.
        quality = _quality_from_definition(world)
        integral += quality * world.step_s / 3600.0
        if world.credit.sum() > 0:
            assert sum(i["information"] for i in infos.values()) == pytest.approx(
                quality * world.step_s / 3600.0
            )
        for info in infos.values():
            share = reward_shares(np.array([info["information"]]), np.array([info["energy_wh"]]),
                                  np.array([info["infeasible"]]), reward)[0]  # fmt: skip
            assert info["reward_share"] == pytest.approx(share)
        team = sum(info["reward_share"] for info in infos.values())
        assert all(r == pytest.approx(team) for r in rewards.values())
    assert world.totals["information"] == pytest.approx(integral)
    assert integral > 0.0
