"""The PettingZoo environment: PettingZoo's own API tests on every shipped scenario, and the
properties the issue names (no reward for undelivered data, bounds, masks ⇔ feasibility,
determinism)."""

from __future__ import annotations

import copy
import functools
import pickle
import types

import numpy as np
import pytest
from pettingzoo.test import (
    api_test,
    max_cycles_test,
    parallel_api_test,
    parallel_seed_test,
    render_test,
    seed_test,
)

from sagsim import envs
from sagsim.envs.actions import IDLE, N_EXTRA
from tests.conftest import SCENARIOS

SHIPPED = sorted(p.stem for p in SCENARIOS.glob("*.yaml"))
# Shortened episodes keep the suite fast; the scale case gets fewer steps still.
SHORT_S = {"global_constellation": 1200.0}
DEFAULT_SHORT_S = 1800.0


def short(name: str) -> dict:
    return {"duration_s": SHORT_S.get(name, DEFAULT_SHORT_S)}


@functools.lru_cache(maxsize=8)
def _pickled_env(name: str) -> bytes:
    # Building the world is the slow part (orbits, visibility): build once, copy by pickle.
    return pickle.dumps(envs.parallel_env(name, **short(name)))


def fresh(name: str, **kwargs):
    if kwargs:
        return envs.parallel_env(name, **short(name), **kwargs)
    return pickle.loads(_pickled_env(name))


def random_masked(env, obs, rng):
    acts = {}
    for a in env.agents:
        ok = np.flatnonzero(obs[a]["action_mask"])
        acts[a] = int(ok[rng.integers(ok.size)])
    return acts


@pytest.mark.parametrize("name", SHIPPED)
def test_pettingzoo_api_tests(name):
    parallel_api_test(fresh(name), num_cycles=30)
    aec = functools.partial(envs.env, name, **short(name))
    api_test(aec(), num_cycles=10)
    parallel_seed_test(lambda: fresh(name), num_cycles=10)
    seed_test(aec, num_cycles=10)


@pytest.mark.parametrize("name", SHIPPED)
def test_max_cycles_and_render(name):
    mod = types.SimpleNamespace(
        parallel_env=functools.partial(envs.parallel_env, name, **short(name)),
        env=functools.partial(envs.env, name, **short(name)),
    )
    max_cycles_test(mod)
    render_test(functools.partial(envs.env, name, **short(name)))


@pytest.mark.parametrize("name", SHIPPED)
def test_pickle_round_trip_continues_identically(name):
    env = fresh(name)
    obs, _ = env.reset(seed=3)
    rng = np.random.default_rng(0)
    for _ in range(3):
        obs, *_ = env.step(random_masked(env, obs, rng))
    clone = pickle.loads(pickle.dumps(env))
    acts = random_masked(env, obs, np.random.default_rng(1))
    a = env.step(acts)
    b = clone.step(acts)
    for x, y in zip(a, b, strict=True):
        assert x.keys() == y.keys()
        for agent in x:
            if isinstance(x[agent], dict) and "observation" in x[agent]:
                np.testing.assert_array_equal(x[agent]["observation"], y[agent]["observation"])
            else:
                assert x[agent] == y[agent]


def test_same_seed_same_trajectory_and_different_seed_differs():
    def rollout(seed):
        env = fresh("minimal")
        obs, _ = env.reset(seed=seed)
        rng = np.random.default_rng(5)
        out = []
        for _ in range(40):
            obs, _rew, *_ = env.step(random_masked(env, obs, rng))
            out.append(np.concatenate([obs[a]["observation"] for a in env.possible_agents]))
        return np.array(out)

    np.testing.assert_array_equal(rollout(11), rollout(11))
    assert not np.array_equal(rollout(11), rollout(12))  # clouds differ


def test_masks_match_feasibility_by_trying_every_action():
    """Every unmasked action runs without the infeasible flag; every masked one is flagged."""
    env = fresh("minimal")
    obs, _ = env.reset(seed=0)
    rng = np.random.default_rng(2)
    n_checked = 0
    for step in range(60):
        if step % 6 == 0:
            for agent in env.agents:
                mask = obs[agent]["action_mask"]
                for action in range(env.n_actions):
                    trial = copy.deepcopy(env)
                    acts = {a: trial.n_actions - N_EXTRA + IDLE for a in trial.agents}
                    acts[agent] = action
                    _o, _r, _t, _tr, info = trial.step(acts)
                    assert info[agent]["infeasible"] == (not mask[action]), (agent, action)
                    n_checked += 1
        obs, *_ = env.step(random_masked(env, obs, rng))
    assert n_checked > 100


def test_masked_action_is_a_costed_no_op_and_bad_actions_raise():
    env = fresh("minimal")
    obs, _ = env.reset(seed=0)
    agent = next(a for a in env.agents if not obs[a]["action_mask"].all())
    masked = int(np.flatnonzero(obs[agent]["action_mask"] == 0)[0])
    _o, _rew, _t, _tr, info = env.step({agent: masked})
    assert info[agent]["infeasible"]
    cost = env.scenario.reward.infeasible_action_cost
    assert info[agent]["reward_share"] <= -cost + 1e-12
    for bad in (-1, env.n_actions, 1.5, "x", None):
        with pytest.raises(ValueError, match=f"'{agent}'"):
            env.step({agent: bad})
    with pytest.raises(ValueError, match="not a live agent"):
        env.step({"sat_99": 0})


def downlink_first(env, obs):
    """Downlink when possible, else image the first candidate, else idle."""
    k = env.n_actions - N_EXTRA
    acts = {}
    for a in env.agents:
        mask = obs[a]["action_mask"]
        acts[a] = k if mask[k] else (0 if mask[0] else k + IDLE)
    return acts


def test_no_reward_before_the_first_delivery_and_shares_sum_to_team_reward():
    # The information reward is the map's quality: nothing before any image arrives, then
    # every step (the map knows something), whether or not an image arrives in it.
    env = fresh("minimal")
    obs, _ = env.reset(seed=4)
    rng = np.random.default_rng(4)
    delivered_any = False
    while env.agents:
        policy = downlink_first(env, obs) if env.world.k % 2 else random_masked(env, obs, rng)
        obs, rew, _t, _tr, info = env.step(policy)
        delivered = sum(i.get("delivered", 0) for i in info.values())
        information = sum(i["information"] for i in info.values())
        delivered_any |= delivered > 0
        if not delivered_any:
            assert information == 0.0
        else:
            assert information > 0.0
        team = next(iter(rew.values()))
        assert all(r == team for r in rew.values())
        assert sum(i["reward_share"] for i in info.values()) == pytest.approx(team, abs=1e-9)
    assert delivered_any, "the drone images and downlinks within 30 min of minimal"


@pytest.mark.parametrize("name", ["minimal", "flood_wuhan"])
def test_battery_and_storage_stay_within_bounds(name):
    env = fresh(name)
    obs, _ = env.reset(seed=1)
    rng = np.random.default_rng(1)
    w = env.world
    while env.agents:
        obs, *_ = env.step(random_masked(env, obs, rng))
        for fleet in (w.sats, w.drones):
            assert np.all(fleet.battery_wh >= 0.0)
            assert np.all(fleet.battery_wh <= fleet.battery_capacity_wh + 1e-9)
            assert np.all(fleet.storage_bits >= 0.0)
            assert np.all(fleet.storage_bits <= fleet.storage_capacity_bits * (1 + 1e-12))
        for o in obs.values():
            assert env.observation_space("sat_0")["observation"].contains(o["observation"])


def test_state_shape_and_overrides():
    env = fresh("minimal")
    env.reset(seed=0)
    assert env.state().shape == env.state_space.shape
    env2 = envs.parallel_env("minimal", duration_s=600, env={"top_k": 2})
    assert env2.n_actions == 2 + N_EXTRA
    assert env2.max_cycles == 20
    with pytest.raises(envs.ScenarioError, match="duration_s"):
        envs.parallel_env("minimal", duration_s=-5)
