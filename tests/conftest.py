"""Shared fixtures: small scenarios, a real TLE, and the project's paths."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
import yaml
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"


def load_script(relative_path: str) -> ModuleType:
    """A script of the repository that is not a package module (a benchmark, the docs'
    MkDocs hook), loaded from ``ROOT / relative_path`` as a module of its own."""
    path = ROOT / relative_path
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# CI runs a fixed, derandomised example budget; benchmarks/ runs larger fuzz budgets.
settings.register_profile(
    "ci",
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ci")

# An ISS element set in the published two-line format (checksums valid).
ISS_TLE = (
    "ISS (ZARYA)\n"
    "1 25544U 98067A   24197.50000000  .00016717  00000-0  30270-3 0  9995\n"
    "2 25544  51.6390 182.4627 0010703 130.5360 325.0288 15.50377579463724\n"
)


@pytest.fixture
def minimal_dict() -> dict:
    """The shipped minimal scenario as a fresh, mutable dict."""
    return copy.deepcopy(yaml.safe_load((SCENARIOS / "minimal.yaml").read_text()))
