"""Junk actions passed to ``SagEnv.step``: a valid integer action works, anything else is a
``ValueError`` with a one-line message naming the agent; never another exception type."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sagsim.envs import parallel_env

N_ACTIONS = 4 + 4  # minimal.yaml: top_k 4 + the extra actions (checked below)

actions = st.one_of(
    st.integers(-(2**70), 2**70),
    st.integers(-2, N_ACTIONS + 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [
            1.0,
            1.5,
            -0.0,
            0.0,
            7.0,
            8.0,
            math.inf,
            -math.inf,
            math.nan,
            10**400,
            True,
            False,
            None,
            "1",
            "",
            "x",
            b"1",
            [1],
            (1,),
            {},
            {1: 2},
            1 + 0j,
            Decimal("1"),
            Decimal("NaN"),
            Fraction(3, 2),
            object(),
            np.int8(3),
            np.int64(-1),
            np.uint64(2**64 - 1),
            np.float32(2.0),
            np.float64(2.5),
            np.bool_(True),
            np.array(3),
            np.array([3]),
            np.array([1, 2]),
            np.array(2.0),
            np.array("3"),
            np.array([]),
            np.datetime64("2024-01-01"),
        ]
    ),
    st.text(max_size=5),
)


@pytest.fixture(scope="module")
def env():
    env = parallel_env("minimal", max_cycles=1000)
    env.reset(seed=0)
    assert env.n_actions == N_ACTIONS
    return env


def _valid(action) -> bool:
    if isinstance(action, np.ndarray):
        if action.ndim != 0:
            return False
        action = action[()]
    if isinstance(action, (bool, np.bool_)):
        return False
    if isinstance(action, (int, np.integer)):
        return 0 <= int(action) < N_ACTIONS
    if isinstance(action, (float, np.floating)):
        return math.isfinite(action) and float(action).is_integer() and 0 <= action < N_ACTIONS
    return False


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(action=actions)
def test_any_action_works_or_is_a_one_line_value_error(env, action) -> None:
    if not env.agents:
        env.reset(seed=0)
    agent = env.agents[0]
    try:
        env.step({agent: action})
        worked = True
    except ValueError as exc:
        worked = False
        message = str(exc)
        assert "\n" not in message and len(message) < 300, message
        assert f"action for '{agent}' must be an integer in [0, {N_ACTIONS})" in message
    assert worked == _valid(action), (action, worked)


@pytest.mark.parametrize("actions", [[0, 1], None, "sat_0", 3, np.zeros(3)])
def test_actions_not_a_mapping(env, actions) -> None:
    if not env.agents:
        env.reset(seed=0)
    with pytest.raises(ValueError, match="actions must be a mapping of agent name to action"):
        env.step(actions)


@pytest.mark.parametrize(
    "agent",
    ["sat_99", "", 0, None, 10**5000, ("sat_0",), "gs_0\nx"],
    ids=lambda a: type(a).__name__,
)
def test_unknown_agents_are_one_line_value_errors(env, agent) -> None:
    if not env.agents:
        env.reset(seed=0)
    with pytest.raises(ValueError, match="not a live agent") as info:
        env.step({agent: 0})
    assert "\n" not in str(info.value)
