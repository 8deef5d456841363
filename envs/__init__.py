"""The sagsim world: scenario files, orbits, geodesy, platforms, links and the environment.

Public API (kept stable, documented in the README):

- :func:`load_scenario` and :class:`ScenarioError` — scenario files.
- :func:`parallel_env`, :func:`env` (AEC), :func:`raw_env` — the PettingZoo environment
  ``sag_eo_v0`` (:mod:`envs.sag_env`).
- :mod:`envs.orbits` — ``Constellation.from_tle``, ``Constellation.walker_delta``,
  ``positions_ecef_m``; sun direction and eclipse.
- :mod:`envs.geo` — transforms, the region grid, look angles, footprints, GSD.
- :mod:`envs.comms` — line of sight, link budgets, ``contact_windows``.
- :mod:`envs.platforms` — satellite, drone and ground-station state and dynamics.
"""

from envs.scenario import ScenarioError, load_scenario
from envs.schema import Scenario

__all__ = ["Scenario", "ScenarioError", "env", "load_scenario", "parallel_env", "raw_env"]


def parallel_env(scenario="flood_wuhan", render_mode=None, max_cycles=None, **overrides):
    """The Parallel-API environment for ``scenario`` (a path, a shipped scenario's name, a
    mapping or a :class:`Scenario`); ``overrides`` replace top-level scenario fields."""
    from envs.sag_env import SagEnv  # imported lazily: pettingzoo/gymnasium cost ~0.3 s

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
