"""The reward formula (sagsim.envs.reward), each term against its definition, and the
environment's reward against the formula."""

from __future__ import annotations

import numpy as np
import pytest

from sagsim.envs.reward import (
    first_view_gain,
    image_value,
    latency_discount,
    mean_variance_ratio,
    onboard_value,
    potential_weight,
    reward_shares,
)
from sagsim.envs.sag_env import SagEnv
from sagsim.envs.scenario.schema.mission import Reward

REWARD = Reward(latency_half_life_s=3600.0, information_weight=2.0, energy_cost_per_wh=0.01,
                infeasible_action_cost=0.5)  # fmt: skip


def test_latency_discount_halves_every_half_life():
    assert latency_discount(0.0, REWARD) == 1.0
    assert latency_discount(3600.0, REWARD) == pytest.approx(0.5)
    assert np.allclose(latency_discount(np.array([7200.0, 10800.0]), REWARD), [0.25, 0.125])


def test_the_potential_decays_as_the_discount():
    # An image worth 3 taken at t = 1 h, still on board at t = 3 h: worth 3 × 0.5^2 now.
    weight = potential_weight(3.0, 3600.0, REWARD)
    onboard = onboard_value(np.array([weight, 0.0]), 3 * 3600.0, REWARD, n_agents=3)
    assert onboard == pytest.approx([3.0 * latency_discount(7200.0, REWARD), 0.0, 0.0])


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
    reduction = np.zeros((2, 2))
    reduction[0, 0] = 0.004  # one of task 0's two samples, window rows 0-2, cols 0-2
    value, seen = image_value((0, 2, 0, 2), reduction, _Tasks, inside, prior_variance=0.01)
    assert value == pytest.approx(1.0 * 0.004 / 2 / 0.01)
    assert seen.tolist() == [0]
    nothing, none_seen = image_value((8, 9, 8, 9), np.ones((1, 1)), _Tasks, inside, 0.01)
    assert nothing == 0.0 and none_seen.size == 0


def test_first_view_gain_is_the_kalman_update():
    assert first_view_gain(0.01, 0.01) == pytest.approx(0.5)
    assert first_view_gain(0.01, 0.0) == 1.0


def test_the_environments_reward_is_the_formula():
    env = SagEnv("minimal", max_cycles=60)
    obs, _ = env.reset(seed=3)
    rng = np.random.default_rng(3)
    reward = env.scenario.reward
    while env.agents:
        actions = {a: int(rng.choice(np.flatnonzero(obs[a]["action_mask"]))) for a in env.agents}
        obs, rewards, _, _, infos = env.step(actions)
        for info in infos.values():
            share = reward_shares(np.array([info["information"]]), np.array([info["energy_wh"]]),
                                  np.array([info["infeasible"]]), reward)[0]  # fmt: skip
            assert info["reward_share"] == pytest.approx(share)
        team = sum(info["reward_share"] for info in infos.values())
        assert all(r == pytest.approx(team) for r in rewards.values())
