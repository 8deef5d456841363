"""The environment's agent names, as scenarios name agents too (``faults``,
``bad_sources.agents``): ``sat_<i>``, ``uav_<i>``, ``gs_<i>``, the kind then the index
within the kind (satellites, drones, ground stations, each from 0)."""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["AGENT_KINDS", "AGENT_NAME", "IMAGING_KINDS", "agent_name", "is_agent_name",
           "parse_agent_name"]  # fmt: skip

AGENT_KINDS = ("sat", "uav", "gs")  # in the environment's agent order
IMAGING_KINDS = ("sat", "uav")  # the agents that take images
# Any agent's name: a kind and an index of at most six digits (the schema's pattern).
AGENT_NAME = r"^(sat|uav|gs)_[0-9]{1,6}$"
_AGENT_NAME = re.compile(AGENT_NAME)


def agent_name(kind: str, index: int) -> str:
    """The name of agent ``index`` (from 0) of ``kind`` (:data:`AGENT_KINDS`): ``sat_3``."""
    if kind not in AGENT_KINDS:
        raise ValueError(f"agent kind must be one of {', '.join(AGENT_KINDS)}, got {kind!r}")
    return f"{kind}_{int(index)}"


def parse_agent_name(name: str, kinds: Iterable[str] = AGENT_KINDS) -> tuple[str, int]:
    """``(kind, index)`` of an agent's name (``"uav_0"``: ``("uav", 0)``); ValueError for
    anything else, or for a kind not in ``kinds``."""
    kinds = tuple(kinds)
    # fullmatch: `$` alone would also accept a trailing newline.
    match = _AGENT_NAME.fullmatch(name) if isinstance(name, str) else None
    if match is None or match[1] not in kinds:
        allowed = ", ".join(f"{k}_<i>" for k in kinds)
        raise ValueError(f"{name!r} is not an agent's name (allowed: {allowed})")
    return match[1], int(name[len(match[1]) + 1 :])


def is_agent_name(name: str, kinds: Iterable[str] = AGENT_KINDS) -> bool:
    """Whether ``name`` is the name of an agent of ``kinds`` (:func:`parse_agent_name`)."""
    try:
        parse_agent_name(name, kinds)
    except ValueError:
        return False
    return True
