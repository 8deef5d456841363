"""sagsim: a multi-agent space–air–ground Earth-observation simulator.

Satellites on real orbits, drones and ground stations share one WGS84 world; agents learn
what to observe, when, and how to get the data to the ground; fusers turn what reaches the
fusion centre into a map of the ground truth. The parts:

- :mod:`sagsim.envs`: scenario files, physics, platforms, the world and the PettingZoo
  environment ``sag_eo_v0``;
- :mod:`sagsim.fusion`: fusers, the ground-truth scene and sensor model, map metrics;
- :mod:`sagsim.agents`: baseline policies, the planner, training, evaluation and reports.

The public API, importable from here (loaded on first use, so ``import sagsim`` is cheap):
:func:`parallel_env`, :func:`env`, :func:`raw_env`, :func:`load_scenario`,
:class:`ScenarioError`, :class:`Scenario`, :class:`Fuser` and :func:`make_fuser`.
"""

from __future__ import annotations

import importlib
from importlib import metadata
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers; at run time see __getattr__ below
    from sagsim.envs import Scenario, ScenarioError, env, load_scenario, parallel_env, raw_env
    from sagsim.fusion import Fuser, make_fuser

__all__ = ["Fuser", "Scenario", "ScenarioError", "env", "load_scenario", "make_fuser",
           "parallel_env", "raw_env"]  # fmt: skip

# Public name -> the module that defines it.
_HOMES = {
    "Fuser": "sagsim.fusion",
    "Scenario": "sagsim.envs",
    "ScenarioError": "sagsim.envs",
    "env": "sagsim.envs",
    "load_scenario": "sagsim.envs",
    "make_fuser": "sagsim.fusion",
    "parallel_env": "sagsim.envs",
    "raw_env": "sagsim.envs",
}

_PARTS = ("agents", "envs", "fusion")

try:
    __version__ = metadata.version("sagsim")
except metadata.PackageNotFoundError:  # a checkout that was never installed
    __version__ = "0+unknown"


def __getattr__(name: str) -> Any:
    if name in _PARTS:
        return importlib.import_module(f"sagsim.{name}")
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'sagsim' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # the next lookup does not come here
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES, *_PARTS])
