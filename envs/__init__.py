"""The sagsim world: scenario files, orbits, geodesy, platforms, links (and, later, the env).

Public API (kept stable, documented in the README):

- :func:`load_scenario` and :class:`ScenarioError` — scenario files.
- :mod:`envs.orbits` — ``Constellation.from_tle``, ``Constellation.walker_delta``,
  ``positions_ecef_m``; sun direction and eclipse.
- :mod:`envs.geo` — transforms, the region grid, look angles, footprints, GSD.
- :mod:`envs.comms` — line of sight, link budgets, ``contact_windows``.
- :mod:`envs.platforms` — satellite, drone and ground-station state and dynamics.
"""

from envs.scenario import ScenarioError, load_scenario
from envs.schema import Scenario

__all__ = ["Scenario", "ScenarioError", "load_scenario"]
