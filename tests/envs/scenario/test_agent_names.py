"""sagsim.envs.scenario.agent_names: the one home of ``sat_<i>``, ``uav_<i>``, ``gs_<i>``."""

import re

import pytest

from sagsim.envs.scenario.agent_names import (
    AGENT_KINDS,
    AGENT_NAME,
    IMAGING_KINDS,
    agent_name,
    is_agent_name,
    parse_agent_name,
)


@pytest.mark.parametrize("kind", AGENT_KINDS)
@pytest.mark.parametrize("index", [0, 7, 999_999])
def test_names_round_trip(kind, index):
    name = agent_name(kind, index)
    assert name == f"{kind}_{index}"
    assert re.match(AGENT_NAME, name)
    assert parse_agent_name(name) == (kind, index)


@pytest.mark.parametrize(
    "name", ["sat", "sat_", "sat_x", "sat_-1", "drone_0", "sat_0_1", "sat_1234567", "sat_1\n",
             " uav_0", "", None, 3],
)  # fmt: skip
def test_anything_else_is_refused(name):
    assert not is_agent_name(name)
    with pytest.raises(ValueError, match="not an agent's name"):
        parse_agent_name(name)


def test_kinds_can_be_restricted():
    assert is_agent_name("uav_2", IMAGING_KINDS)
    assert not is_agent_name("gs_0", IMAGING_KINDS)
    with pytest.raises(ValueError, match=r"allowed: sat_<i>, uav_<i>"):
        parse_agent_name("gs_0", IMAGING_KINDS)
    with pytest.raises(ValueError, match="agent kind"):
        agent_name("drone", 0)
