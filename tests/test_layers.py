"""The house rules on imports: the layer contracts of pyproject.toml (import-linter), and
no module using another module's ``_private`` names."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

# The folders setuptools maps under sagsim (pyproject.toml's package-dir).
PARTS = ("envs", "fusion", "agents", "scenarios")
# Private-looking names that are public API of the standard library or numpy.
ALLOWED_PRIVATE = {"_exit", "_replace", "_asdict", "_fields", "_make", "_getframe"}


def _stage(root: Path) -> Path:
    """A copy of the package as it is installed (sagsim/ with envs/, fusion/, ... inside):
    import-linter reads packages from folders and cannot follow setuptools' mapping."""
    package = root / "sagsim"
    shutil.copytree(ROOT / "sagsim", package, ignore=shutil.ignore_patterns("__pycache__"))
    for part in PARTS:
        shutil.copytree(ROOT / part, package / part,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pt"))  # fmt: skip
    return root


@pytest.mark.slow
def test_layer_contracts_hold(tmp_path):
    staged = _stage(tmp_path)
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint_imports), str(ROOT / "pyproject.toml")], cwd=staged,
                            capture_output=True, text=True, timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


@pytest.mark.slow
def test_a_broken_layer_is_caught(tmp_path):
    # The contracts are not vacuous: physics importing the world breaks them.
    staged = _stage(tmp_path)
    orbits = staged / "sagsim/envs/physics/orbits.py"
    orbits.write_text(orbits.read_text() + "\nfrom sagsim.envs.world import world  # noqa\n")
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint_imports), str(ROOT / "pyproject.toml")], cwd=staged,
                            capture_output=True, text=True, timeout=600)  # fmt: skip
    assert result.returncode == 1
    assert "sagsim.envs.physics.orbits -> sagsim.envs.world" in result.stdout


def test_every_registered_fuser_is_under_the_fusers_contract():
    # The fusers' contract names its modules one by one (fusion/ also holds the sensing and
    # the training, which may import more): a new fuser module must join it.
    import tomllib

    from sagsim.fusion.fusers import FUSERS

    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    fusers_contract = next(c for c in contracts["contracts"]
                           if "sagsim.fusion.fusers" in c.get("source_modules", ()))  # fmt: skip
    modules = {target.split(":")[0] for target in FUSERS.values()}
    assert modules <= set(fusers_contract["source_modules"])


def _code_files() -> list[Path]:
    files = sorted((ROOT / "sagsim").glob("*.py"))
    for part in ("envs", "fusion", "agents"):
        files += sorted((ROOT / part).rglob("*.py"))
    return [*files, ROOT / "train.py", ROOT / "evaluate.py"]


def private_uses(path: Path) -> list[str]:
    """``_name`` imported from another module, or read as an attribute of anything but
    ``self``/``cls``, in the file at ``path``; one ``line: what`` each."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            names = [a.name for a in node.names]
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            found += [f"{node.lineno}: from {node.module} import {n}" for n in private]
            # A sagsim name imported under a private alias hides the same dependency.
            if (node.module or "").startswith("sagsim"):
                aliased = [a.asname for a in node.names if (a.asname or "").startswith("_")]
                found += [f"{node.lineno}: from {node.module} import ... as {n}" for n in aliased]
            module_parts = (node.module or "").split(".")
            if any(p.startswith("_") and not p.startswith("__") for p in module_parts):
                found.append(f"{node.lineno}: from {node.module} (a private module)")
        elif isinstance(node, ast.Attribute):
            name = node.attr
            if not name.startswith("_") or name.startswith("__") or name in ALLOWED_PRIVATE:
                continue
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                continue
            found.append(f"{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_private_names_across_modules():
    offences = {
        str(path.relative_to(ROOT)): uses for path in _code_files() if (uses := private_uses(path))
    }
    assert offences == {}


def test_the_private_name_check_finds_them(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("from a.b import _x\nimport os\nos._exit(0)\nworld._ratio\nself._ok\n")
    assert private_uses(probe) == ["1: from a.b import _x", "4: world._ratio"]
