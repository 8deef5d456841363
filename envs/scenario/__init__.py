"""Scenario files: the schema (:mod:`.schema`, whose field descriptions are the reference),
safe YAML loading, one-line errors, sanity warnings, the shipped scenarios and the generated
reference. :func:`load_scenario` reads and validates a file or a mapping;
:func:`resolve_scenario` also accepts a shipped scenario's name and overrides."""

from sagsim.envs.scenario.errors import ScenarioError
from sagsim.envs.scenario.loader import load_scenario
from sagsim.envs.scenario.schema import Scenario

__all__ = ["Scenario", "ScenarioError", "load_scenario"]
