"""The CP-SAT oracle: it only plays feasible actions (a masked planned action is a counted
fallback), it is reproducible, it refuses scenarios too large for it, and it is at least
as good as greedy on the small scenario (short episodes keep the tests fast)."""

import numpy as np
import pytest

from sagsim.agents.baselines import GreedyPolicy
from sagsim.agents.evaluation import evaluate
from sagsim.agents.oracle import GOTO, HOME, MAX_DECISION_VARIABLES, SEND, OraclePolicy
from sagsim.envs.actions import DOWNLINK, RETURN
from sagsim.envs.sag_env import SagEnv

CYCLES = 200  # the event (step 120) and a drone sortie or two; the satellite pass is later


def _bound(seed, max_cycles=CYCLES, **kwargs):
    env = SagEnv("minimal", max_cycles=max_cycles)
    policy = OraclePolicy(**kwargs)
    policy.reset(seed)
    obs, _ = env.reset(seed=seed)
    policy.bind(env)
    return env, policy, obs


def _available(env, i, intent, mask):
    """Whether the planned intent has an unmasked action (the test's own reading)."""
    kind, task = intent
    kk = env.world.top_k
    if kind == GOTO:
        return bool((mask[:kk] & (env.world.candidates.index[i] == task)).any())
    if kind == HOME:
        return bool(mask[kk + RETURN]) or env.world.drones.mode[i - env.world.n_sat] == 0
    return bool(mask[kk + DOWNLINK]) if kind == SEND else True


def _run(env, policy, obs, sabotage=None):
    """Play the episode; return (team return, planned intents that were masked)."""
    total, masked = 0.0, 0
    while env.agents:
        k = env.world.k
        if sabotage is not None:
            sabotage(env, policy.plan[k])
        actions = policy.act(obs)
        for agent, a in actions.items():
            i = env.possible_agents.index(agent)
            mask = np.asarray(obs[agent]["action_mask"], bool)
            assert mask[a], (k, agent, a)
            masked += not _available(env, i, policy.plan[k][i], mask)
        obs, rewards, _, _, infos = env.step(actions)
        assert not any(info["infeasible"] for info in infos.values())
        total += next(iter(rewards.values()))
    return total, masked


def test_plan_is_feasible_and_fallbacks_are_counted():
    env, policy, obs = _bound(0)
    drone = env.world.n_sat
    assert any(step[drone][0] == GOTO for step in policy.plan)  # the drone does fly
    total, masked = _run(env, policy, obs)
    assert masked == policy.fallbacks
    assert policy.fallbacks <= 5
    assert total == pytest.approx(policy.planned_return)  # the replay on a copy is faithful


def test_masked_plan_steps_fall_back_to_feasible_actions():
    env, policy, obs = _bound(0)
    n_task, drone = env.world.tasks.n, env.world.n_sat

    def sabotage(env, step):  # every 10th step, GOTO a task that is not a candidate now
        if env.world.k % 10 == 0:
            offered = set(env.world.candidates.index[drone].tolist())
            step[drone] = (GOTO, min(set(range(n_task)) - offered))

    _, masked = _run(env, policy, obs, sabotage)
    assert masked >= CYCLES // 10
    assert policy.fallbacks == masked


def test_same_seed_same_plan():
    _, a, _ = _bound(3, max_cycles=150)
    _, b, _ = _bound(3, max_cycles=150)
    assert a.plan == b.plan
    assert a.planned_return == b.planned_return


def test_refuses_a_scenario_too_large():
    env = SagEnv("flood_wuhan", max_cycles=30)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="MAX_DECISION_VARIABLES"):
        OraclePolicy().bind(env)
    assert MAX_DECISION_VARIABLES > 0


def test_act_needs_bind():
    with pytest.raises(RuntimeError, match="bind"):
        OraclePolicy().act({})


@pytest.mark.parametrize("seed", [100, 101])
def test_at_least_as_good_as_greedy_on_minimal(seed):
    # Since the return became the time integral of map quality (issue 16), the oracle's
    # first-view surrogate is beaten by ContactAwarePolicy on these seeds (3.07 vs 3.31): it
    # is no upper bound, and issue 16's planner replaces it as the upper reference.
    oracle = evaluate(OraclePolicy(), "minimal", [seed], max_cycles=CYCLES)[0].return_
    for heuristic in (GreedyPolicy(),):
        other = evaluate(heuristic, "minimal", [seed], max_cycles=CYCLES)[0].return_
        assert oracle >= other, (heuristic.name, oracle, other)
