"""The installed distribution: one top-level name, ``sagsim``, whose packages are exactly
the repository's code folders (pyproject.toml lists them: setuptools maps the fixed
top-level folders ``envs/``, ``fusion/``, ``agents/`` and ``scenarios/`` under ``sagsim``)."""

from __future__ import annotations

import subprocess
import sys
import tomllib

import pytest

import sagsim
from tests.conftest import ROOT

PARTS = {"agents": "agents", "envs": "envs", "fusion": "fusion", "scenarios": "scenarios"}


def _configured() -> tuple[set[str], dict[str, str]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    return set(config["packages"]), config["package-dir"]


def test_packages_are_the_code_folders():
    packages, package_dir = _configured()
    assert package_dir == {"sagsim": "sagsim", **{f"sagsim.{k}": v for k, v in PARTS.items()}}
    found = {"sagsim"}
    for part, folder in PARTS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join(("sagsim", part, *relative)))
    found.add("sagsim.fusion.weights")  # data only: the shipped learned-fuser weights
    assert packages == found


def test_public_api_from_the_top():
    assert sagsim.parallel_env is sagsim.envs.parallel_env
    assert sagsim.load_scenario is sagsim.envs.load_scenario
    assert sagsim.ScenarioError is sagsim.envs.ScenarioError
    assert sagsim.make_fuser is sagsim.fusion.make_fuser
    assert set(sagsim.__all__) <= set(dir(sagsim))
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        sagsim.nothing  # noqa: B018


@pytest.mark.parametrize("name", ["envs", "fusion", "agents"])
def test_the_folders_are_not_top_level_packages(name):
    # From the repository's top folder `import envs` would find the folder itself: it
    # refuses with one line instead of loading a second copy of sagsim's modules.
    result = subprocess.run([sys.executable, "-c", f"import {name}"], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)  # fmt: skip
    assert result.returncode == 1
    assert f"import it as sagsim.{name}" in result.stderr.strip().splitlines()[-1]
