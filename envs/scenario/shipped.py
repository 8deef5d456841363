"""The shipped scenarios, and resolving what a user names as a scenario: a file, a shipped
scenario's name (``flood_wuhan`` → ``scenarios/flood_wuhan.yaml``), a mapping or a
:class:`Scenario`, with overrides of top-level fields."""

from __future__ import annotations

import difflib
import importlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sagsim.envs.scenario.errors import ScenarioError
from sagsim.envs.scenario.loader import load_scenario
from sagsim.envs.scenario.schema import Scenario

__all__ = ["DEFAULT_SCENARIO", "SCENARIO_DIR", "resolve_scenario", "scenario_path",
           "shipped_scenarios"]  # fmt: skip

# The repository's scenarios/ folder, installed as the data package sagsim.scenarios.
SCENARIO_DIR = Path(importlib.import_module("sagsim.scenarios").__file__).resolve().parent
DEFAULT_SCENARIO = "flood_wuhan"


def shipped_scenarios() -> list[str]:
    """The names of the scenarios shipped in ``scenarios/`` (``minimal``, ...), sorted."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))


def scenario_path(name: str | os.PathLike) -> Path:
    """The file a scenario argument names: an existing file as given, else the shipped
    scenario of that name (``flood_wuhan`` → ``scenarios/flood_wuhan.yaml``).

    Raises:
        ScenarioError: a bare name (no folder, no ``.yaml``/``.yml``) that is neither a
            file nor a shipped scenario: one line listing the shipped names, with the
            closest one when a name is close (``flood_sind`` → did you mean
            ``flood_sindh``?). A path that does not exist is left to
            :func:`sagsim.envs.scenario.loader.load_scenario` (``FILE: file not found``).
    """
    path = Path(name)
    if path.is_file():
        return path
    text = str(name)
    shipped = SCENARIO_DIR / f"{text}.yaml"
    if "/" not in text and os.sep not in text and shipped.is_file():
        return shipped
    if path.suffix.lower() in (".yaml", ".yml") or "/" in text or os.sep in text:
        return path
    names = shipped_scenarios()
    close = difflib.get_close_matches(text, names, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    raise ScenarioError(
        text, "", f"no such file or shipped scenario (shipped: {', '.join(names)}){hint}"
    )


def resolve_scenario(scenario: Any = DEFAULT_SCENARIO, **overrides: Any) -> Scenario:
    """A validated :class:`Scenario` from a path, a shipped scenario's name (``"minimal"``;
    :func:`scenario_path`), a mapping or a Scenario, with top-level fields replaced by
    ``overrides`` (a mapping value is merged into that section, e.g. ``env={"top_k": 4}``).

    Loading a file or a mapping warns about values that are legal but almost certainly
    not meant (:mod:`sagsim.envs.scenario.checks`); applying ``overrides`` does not (they are the
    calling code's, and an environment may apply them for every episode)."""
    if isinstance(scenario, (str, os.PathLike)):
        scenario = scenario_path(scenario)
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if not overrides:
        return sc
    data = sc.model_dump()
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    for group in data.get("satellites", []):
        if group.get("tle") is not None:
            group["tle_file"] = None  # already read and checked; keep it inline
    # Overrides are the calling code's choice (a test, a curriculum's short episodes):
    # the scenario was warned about when it was loaded, the overrides are not.
    return load_scenario(data, warn=False)
