"""The sagsim world: scenario files, physics, platforms, the world and the environment.

Where things live (each folder one responsibility; layers from the bottom, each importing
only those below it, checked by ``lint-imports``):

- :mod:`.physics`: time, orbits, geodesy, the region grid, sensor geometry, contacts, links,
  clouds (numbers in, numbers out; no scenario).
- :mod:`.scenario`: the schema, safe YAML loading, errors, sanity checks, the reference.
- :mod:`.tasks`: the scenario's targets and events on the region grid.
- :mod:`.platforms`: satellites, drones, ground stations; building them from a scenario.
- :mod:`.actions` and :mod:`.reward`: the action layout and the reward formula.
- :mod:`.world`: the world's state and its step.
- :mod:`.observations` and :mod:`.views`: what agents and people see of the world.
- :mod:`.sag_env`: the PettingZoo adapter ``sag_eo_v0``.

Public API (kept stable): :func:`load_scenario`, :class:`ScenarioError`,
:class:`Scenario`; :func:`parallel_env`, :func:`env` (AEC), :func:`raw_env`.
"""

if __name__ != "sagsim.envs":  # e.g. `import envs` from the repository's top folder
    raise ImportError(
        "this is sagsim's envs package: import it as sagsim.envs (or use sagsim.parallel_env)"
    )

from sagsim.envs.scenario.errors import ScenarioError
from sagsim.envs.scenario.loader import load_scenario
from sagsim.envs.scenario.schema import Scenario

__all__ = ["Scenario", "ScenarioError", "env", "load_scenario", "parallel_env", "raw_env"]


def parallel_env(scenario="flood_wuhan", render_mode=None, max_cycles=None, **overrides):
    """The Parallel-API environment for ``scenario`` (a path, a shipped scenario's name, a
    mapping or a :class:`Scenario`); ``overrides`` replace top-level scenario fields."""
    from sagsim.envs.sag_env import SagEnv  # imported lazily: pettingzoo/gymnasium cost ~0.3 s

    return SagEnv(scenario, render_mode=render_mode, max_cycles=max_cycles, **overrides)


def raw_env(scenario="flood_wuhan", render_mode=None, max_cycles=None, **overrides):
    """The AEC environment without PettingZoo's order-enforcing wrapper."""
    from pettingzoo.utils.conversions import parallel_to_aec_wrapper

    par = parallel_env(scenario, render_mode=render_mode, max_cycles=max_cycles, **overrides)
    return parallel_to_aec_wrapper(par)


def env(scenario="flood_wuhan", render_mode=None, max_cycles=None, **overrides):
    """The AEC environment (PettingZoo's ``parallel_to_aec`` conversion, order-enforced)."""
    from pettingzoo.utils.wrappers import OrderEnforcingWrapper

    return OrderEnforcingWrapper(raw_env(scenario, render_mode, max_cycles, **overrides))
