"""The built wheel installs as one name, ``sagsim``, next to a package that owns ``agents``.

openai-agents installs a top-level package ``agents``; before sagsim's packages moved under
``sagsim`` the two could not live in one environment. The test builds the wheel from a copy
of the repository, checks what it holds, installs it into a fresh virtual environment
beside openai-agents, and there, from a folder outside the repository, imports both, runs a
short episode, loads every shipped scenario and runs ``python -m sagsim.envs``.

How the fresh environment gets sagsim's dependencies: the wheel is installed with
``--no-deps`` and the environment sees the heavy dependencies (torch, scipy, ...) of the
environment running the tests through a ``.pth`` file that lists its site-packages; only
openai-agents is installed for real, from the package registry. A path that a ``.pth`` file
adds is not scanned for ``.pth`` files of its own, so the editable install of the
repository's sagsim there (a ``.pth`` that loads a finder) stays invisible, and the fresh
environment's own site-packages comes first on ``sys.path``. A full install of the wheel
with its dependencies was measured too: 1 min 51 s cold and 1 min 21 s with pip's cache on
the 2-core development machine, 1.5 GB of disk, about 40 packages fetched from the
registry, and the CPU build of torch only because that machine's pip finds a local wheel
(``torch==2.13.0`` from PyPI is the CUDA build, several GB). With dependencies shared, the
test takes about half a minute, needs the network only for openai-agents, and keeps the
packaging's failures apart from the registry's: the wheel is built and installed offline,
so any failure there fails the test; a failure to install openai-agents is outside the
project and skips the test with pip's error line. What this does not check: that the
wheel's declared dependencies are complete (the environment running the tests has the dev
extras too).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.test_packaging import PARTS

pytestmark = pytest.mark.slow

# Generous limits: pip and a cold import of torch on a loaded 2-core machine.
BUILD_TIMEOUT_S = 600
NETWORK_TIMEOUT_S = 900
RUN_TIMEOUT_S = 600

# Not copied for the build: version control, environments, caches and run outputs.
SKIP_TOP = {
    ".git",
    ".venv",
    "build",
    "dist",
    "runs",
    "reports",
    ".hypothesis",
    ".pytest_cache",
    ".ruff_cache",
}
SKIP_ANYWHERE = {"__pycache__"}

# Run by the fresh environment's Python from a folder outside the repository:
# argv[1] its site-packages, argv[2] the shipped scenario names (JSON list).
SNIPPET = """
import importlib, json, sys
from pathlib import Path

import numpy as np

site = Path(sys.argv[1]).resolve()


def installed(module):
    path = Path(module.__file__).resolve()
    assert path.is_relative_to(site), f"{module.__name__} from {path}, not from {site}"


import agents  # openai-agents' package, not sagsim's agents/

installed(agents)
assert hasattr(agents, "Agent") and hasattr(agents, "Runner"), dir(agents)

import sagsim

installed(sagsim)
for part in ("envs", "fusion", "agents", "scenarios"):
    installed(importlib.import_module(f"sagsim.{part}"))

from sagsim.envs.scenario.shipped import scenario_path, shipped_scenarios

assert shipped_scenarios() == json.loads(sys.argv[2]), shipped_scenarios()
for name in shipped_scenarios():  # flood_carolinas reads its .tle files beside the YAML
    path = scenario_path(name)
    assert path.resolve().is_relative_to(site), path
    assert sagsim.load_scenario(path).name == name

env = sagsim.parallel_env("minimal", max_cycles=5)
obs, infos = env.reset(seed=0)
rng = np.random.default_rng(0)
steps = 0
while env.agents:
    actions = {a: int(rng.choice(np.flatnonzero(obs[a]["action_mask"]))) for a in env.agents}
    obs, rewards, terminations, truncations, infos = env.step(actions)
    steps += 1
assert steps == 5, steps

from sagsim.fusion.learned import DEFAULT_CHECKPOINT

assert DEFAULT_CHECKPOINT.resolve().is_relative_to(site), DEFAULT_CHECKPOINT
sagsim.make_fuser("learned")  # loads the shipped weights
print("installed sagsim works")
"""


def _run(what: str, cmd: list, cwd: Path, env=None, timeout_s: float = RUN_TIMEOUT_S,
         check: bool = True) -> subprocess.CompletedProcess:  # fmt: skip
    """Run ``cmd``; with ``check``, fail the test naming ``what``, with the output, if it
    exits non-zero."""
    result = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=timeout_s)  # fmt: skip
    assert result.returncode == 0 or not check, (
        f"{what} failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}"
    )
    return result


def _ignore(folder: str, names: list[str]) -> set[str]:
    skip = {n for n in names if n in SKIP_ANYWHERE or n.endswith(".egg-info")}
    if Path(folder) == ROOT:
        skip |= SKIP_TOP & set(names)
    return skip


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    """The wheel built from a copy of the repository, and that copy.

    A copy, because setuptools builds in the source tree: it would write build/ and
    *.egg-info into the repository, and a stale build/lib would put deleted modules into
    the wheel."""
    pytest.importorskip("setuptools", minversion="77", reason="building needs setuptools>=77")
    base = tmp_path_factory.mktemp("wheel")
    source, out = base / "source", base / "dist"
    shutil.copytree(ROOT, source, ignore=_ignore)
    pip_wheel = ["wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", out, source]
    _run("building the wheel", [sys.executable, "-m", "pip", *pip_wheel], base, None,
         BUILD_TIMEOUT_S)  # fmt: skip
    (wheel,) = out.glob("sagsim-*.whl")
    return wheel, source


def test_wheel_holds_only_sagsim_and_its_data(built):
    wheel, source = built
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
    assert {n.split("/")[0] for n in names} == {"sagsim", dist_info}

    # Every module of the code folders, the shipped scenarios and their TLEs, the learned
    # fuser's weights, at their place under sagsim/.
    folders = {"sagsim": "sagsim", **{folder: f"sagsim/{part}" for part, folder in PARTS.items()}}
    expected = {"sagsim/py.typed"}
    for folder, installed in folders.items():
        for path in (source / folder).rglob("*.py"):
            expected.add(f"{installed}/{path.relative_to(source / folder).as_posix()}")
    data = {"scenarios": ("*.yaml", "*.tle"), "fusion/weights": ("*.pt", "*.json")}
    for folder, patterns in data.items():
        files = [p for pattern in patterns for p in (source / folder).glob(pattern)]
        assert {p.suffix for p in files} == {pattern[1:] for pattern in patterns}, folder
        expected |= {f"sagsim/{folder}/{p.name}" for p in files}
    assert sorted(expected - names) == []


def test_wheel_installs_next_to_openai_agents(built, tmp_path):
    wheel, source = built
    venv, work = tmp_path / "venv", tmp_path / "work"
    work.mkdir()
    # The fresh environment's processes see none of the test run's Python settings.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "SAGSIM_")) and k != "VIRTUAL_ENV"}  # fmt: skip
    env["PYTHONNOUSERSITE"] = "1"

    _run("creating the virtual environment",
         [sys.executable, "-m", "venv", "--without-pip", venv], work, env)  # fmt: skip
    python = venv / "bin" / "python"
    purelib = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site = Path(
        _run("finding its site-packages", [python, "-c", purelib], work, env).stdout.strip()
    )

    # The wheel alone first: pip runs on the fresh interpreter, which sees nothing else yet.
    install = ["--python", python, "install", "--no-deps", "--no-index", wheel]
    _run("installing the wheel", [sys.executable, "-m", "pip", *install], work, env)

    # Then the dependencies of the environment running the tests (pip among them).
    shared = dict.fromkeys(sysconfig.get_path(k) for k in ("purelib", "platlib"))
    (site / "sagsim_test_shared_deps.pth").write_text("".join(f"{p}\n" for p in shared))

    install = ["install", "-c", ROOT / "constraints.txt", "openai-agents"]
    result = _run("installing openai-agents", [python, "-m", "pip", *install], work, env,
                  NETWORK_TIMEOUT_S, check=False)  # fmt: skip
    if result.returncode != 0:  # the registry, not the wheel: no network, no release, ...
        lines = (result.stderr + result.stdout).strip().splitlines() or ["no output"]
        last = next((x for x in reversed(lines) if x.startswith("ERROR:")), lines[-1])
        pytest.skip(f"openai-agents could not be installed (outside the project): {last}")

    names = json.dumps(sorted(p.stem for p in (source / "scenarios").glob("*.yaml")))
    result = _run("using sagsim beside openai-agents", [python, "-c", SNIPPET, site, names],
                  work, env)  # fmt: skip
    assert "installed sagsim works" in result.stdout

    inspector = [python, "-m", "sagsim.envs", "minimal"]
    assert "Scenario minimal" in _run("the inspector", inspector, work, env).stdout
    report = json.loads(_run("the inspector's --json", [*inspector, "--json"], work, env).stdout)
    assert report["scenario"]["name"] == "minimal"
