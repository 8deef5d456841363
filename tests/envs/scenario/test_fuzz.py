"""Hostile and malformed scenarios: property-based fuzzing of the loader (mutations of every
shipped scenario: tests/envs/scenario/mutations.py), alias bombs, code-running tags, paths
out of the scenario's folder, regions too costly to grid, and the inspector CLI on nasty
files. Every input loads or raises ScenarioError, one line per problem, in bounded memory.
Speed is not asserted here (a loaded machine makes any wall-clock limit flaky):
``benchmarks/fuzz_bench.py`` runs the same mutations with a larger budget and measures the
time per input."""

from __future__ import annotations

import copy
import math
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings

import sagsim.envs.physics.region_grid as region_grid_module
from sagsim.envs import ScenarioError, load_scenario
from sagsim.envs.scenario.loader import (
    DATA_DIR_ENV,
    MAX_GRID_CELLS,
    MAX_POLYGON_MASK_TESTS,
    MAX_REGION_BOUNDARY_POINTS,
    MAX_YAML_DEPTH,
    MAX_YAML_NODES,
)
from tests.conftest import ISS_TLE, ROOT
from tests.envs.scenario.mutations import (
    BASES,
    SECRET,
    SHIPPED,
    billion_laughs,
    cases,
    prepare_folder,
    problems,
    run_case,
)

# Bounded work, not wall-clock time: the memory one input may allocate (tracemalloc).
MAX_TRACED_BYTES = 512 * 2**20


@pytest.fixture(scope="module")
def fuzz_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz")
    prepare_folder(folder)
    return folder


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
@given(case=cases(max_list=500))
def test_mutated_scenarios_load_or_fail_cleanly(fuzz_folder: Path, case) -> None:
    outcome = run_case(case, fuzz_folder)
    assert not problems(case, outcome), (case.base, case.done, outcome)
    assert outcome.peak_bytes < MAX_TRACED_BYTES, (case.base, case.done, outcome.peak_bytes)


def _refused(path_or_dict, match: str = "") -> str:
    """The one-line ScenarioError (bounded work: the fuzz test traces the memory of such
    inputs, and the CLI tests run them under address-space and CPU-time limits)."""
    with pytest.raises(ScenarioError) as info:
        load_scenario(path_or_dict)
    message = str(info.value)
    assert "\n" not in message and match in message, message
    return message


def _file(tmp_path: Path, content: str | bytes, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


MINIMAL = SHIPPED["minimal"]


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (billion_laughs(9, 9) + MINIMAL.replace("seed: 7", "seed: *lol9"),
         f"more than {MAX_YAML_NODES:,} nodes once aliases are expanded"),
        (billion_laughs(30, 2) + "description: *lol30\n", "once aliases are expanded"),
        ("a: &a\n  b: *a\n", "inside its own anchor"),
        ("name: !!python/object/apply:os.system ['echo pwned']\n", "could not determine a"),
        ("!!python/object/new:subprocess.Popen [[id]]\n", "could not determine a constructor"),
        ("name: !!python/name:os.system\n", "python/name:os.system"),
        ("x: " + "[" * 5000 + "]" * 5000 + "\n", "invalid YAML"),
        ("x: " + "{a: " * 200 + "1" + "}" * 200 + "\n", f"nested more than {MAX_YAML_DEPTH}"),
        ("".join(f"{' ' * i}k{i}:\n" for i in range(100)) + "\n", f"more than {MAX_YAML_DEPTH}"),
        ("x: [" + "0, " * (MAX_YAML_NODES + 10) + "0]\n", "document too large"),
        ("seed: " + "9" * 5000 + "\n", "invalid YAML value"),
        (b"name: caf\xe9\n", "not UTF-8 text (byte 9)"),
        ("name: x\n".encode("utf-16"), "not UTF-8"),
        ("", "file is empty"),
        ("---\n---\n", "found another document"),
        ("- a\n- b\n", "top level must be a mapping"),
        ("seed: 1\nseed: 2\n", "seed: key repeated on line 2"),
        ("? [a, b]\n: 1\n", "invalid YAML"),
        ("\x00\x01", "invalid YAML"),
    ],
    ids=["bomb-9^9", "bomb-2^30", "recursive-alias", "python-apply", "python-new",
         "python-name", "deep-flow", "deep-map", "deep-block", "too-many-nodes",
         "5000-digits", "latin-1", "utf-16", "empty", "two-documents", "list", "repeated-key",
         "unhashable-key", "control-chars"],
)  # fmt: skip
def test_nasty_files_are_refused(tmp_path: Path, content, match: str) -> None:
    _refused(_file(tmp_path, content), match)


def test_oversized_and_odd_paths(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with open(big, "wb") as f:  # sparse: no disk used
        f.truncate(11 * 1024 * 1024)
    _refused(big, "bytes (allowed: ≤ 10,485,760)")
    _refused(tmp_path, "not a regular file")
    _refused(tmp_path / ("x" * 300), "cannot read file")
    _refused(str(tmp_path / "a\x00b"), "cannot read file")
    os.mkfifo(tmp_path / "fifo.yaml")
    _refused(tmp_path / "fifo.yaml", "not a regular file")  # not opened: would block
    _refused(Path("/dev/zero"), "not a regular file")
    with pytest.raises(ScenarioError, match="not a scenario"):
        load_scenario(42)  # type: ignore[arg-type]


# ---------------------------------------------------------------- TLE file paths


def _tle_scenario(tle_file: str) -> dict:
    data = copy.deepcopy(BASES["minimal"])
    data["satellites"] = [{"name": "iss", "tle_file": tle_file,
                           "sensor": {"gsd_nadir_m": 10.0, "swath_m": 50_000.0}}]  # fmt: skip
    return data


@pytest.mark.parametrize(
    ("tle_file", "match"),
    [
        ("../secret.tle", "leaves the scenario's folder"),
        ("sub/../../secret.tle", "leaves the scenario's folder"),
        ("link_out.tle", "leaves the scenario's folder"),  # a symlink pointing out
        ("/etc/passwd", "leaves the scenario's folder"),
        ("/dev/zero", "leaves the scenario's folder"),
        ("loop.tle", "not a usable path"),
        ("a\x00b.tle", "not a usable path"),
        ("x" * 300, "cannot read TLE file"),
        ("fifo.tle", "is not a regular file"),
        ("big.tle", "bytes (allowed: ≤ 4,194,304)"),
        ("latin1.tle", "is not ASCII text"),
        ("sub", "is not a regular file"),
        ("missing.tle", "not found next to the scenario"),
    ],
)
def test_tle_file_paths_stay_inside_and_fail_cleanly(fuzz_folder: Path, tle_file, match):
    path = _file(fuzz_folder / "scenario", yaml.safe_dump(_tle_scenario(tle_file)), "tle.yaml")
    message = _refused(path, match)
    assert ": satellites[0].tle_file: " in message and SECRET not in message


def test_sagsim_data_dir_allows_a_folder_outside(fuzz_folder: Path, tmp_path: Path, monkeypatch):
    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / "iss.tle").write_text(ISS_TLE)
    scen = fuzz_folder / "scenario"
    path = _file(scen, yaml.safe_dump(_tle_scenario(str(archive / "iss.tle"))), "abs.yaml")
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    _refused(path, f"leaves the scenario's folder (allowed: a path inside it, or in a "
                   f"directory listed in {DATA_DIR_ENV})")  # fmt: skip
    monkeypatch.setenv(DATA_DIR_ENV, os.pathsep.join(["", "/nonexistent", str(archive)]))
    assert load_scenario(path).satellites[0].tle == ISS_TLE
    # Only that folder: the secret next to it stays out of reach.
    path = _file(scen, yaml.safe_dump(_tle_scenario(str(archive / "../../secret.tle"))), "s.yaml")
    _refused(path, "leaves the scenario's folder")


def test_a_dict_resolves_tle_files_against_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / "iss.tle").write_text(ISS_TLE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    assert load_scenario(_tle_scenario("iss.tle")).satellites[0].tle == ISS_TLE
    message = _refused(_tle_scenario("../iss.tle"), "leaves the scenario's folder")
    assert message.startswith("<scenario dict>: satellites[0].tle_file: ")


# ---------------------------------------------------------------- region cost


def _region(**region) -> dict:
    data = copy.deepcopy(BASES["minimal"])
    data["region"] = region
    return data


def _circle(n: int, lon: float, lat: float, radius_deg: float) -> list[list[float]]:
    return [[lon + radius_deg * math.cos(2 * math.pi * i / n),
             lat + radius_deg * math.sin(2 * math.pi * i / n)] for i in range(n)]  # fmt: skip


def test_regions_too_costly_to_grid_are_refused_before_building(monkeypatch) -> None:
    # "Before building": from the estimate, the grid is never constructed (a count of zero
    # builds, not a time limit: building these would take minutes and gigabytes).
    def no_grid(*args, **kwargs):
        raise AssertionError("the region grid was built: the estimate should refuse it")

    monkeypatch.setattr(region_grid_module, "RegionGrid", no_grid)
    # 1,500 km at 400 m: 14 M cells, within the 4,096-per-side cap (18 s and 0.8 GB to build).
    box = {"lon_min_deg": 107.0, "lat_min_deg": 24.0, "lon_max_deg": 122.0, "lat_max_deg": 37.0}
    message = _refused(_region(bbox=box, grid_resolution_m=400.0), "region.grid_resolution_m")
    assert f"(allowed: ≤ {MAX_GRID_CELLS:,} cells; use grid_resolution_m ≥ " in message
    # A polygon: point-in-polygon of every cell against every boundary point.
    triangle = [[110.0, 25.0], [118.0, 25.0], [114.0, 32.0]]
    message = _refused(_region(polygon_lonlat_deg=triangle, grid_resolution_m=1000.0),
                       "region.polygon_lonlat_deg: too costly to rasterise")  # fmt: skip
    assert f"≤ {MAX_POLYGON_MASK_TESTS:,} point-in-polygon tests" in message
    many = _circle(10_000, 114.3, 30.6, 20.0)  # ~4,400 km of edges, densified every 2 km
    _refused(_region(polygon_lonlat_deg=many, grid_resolution_m=100_000.0), "region")
    zigzag = [[114.0 + 8.0 * (i % 2), 30.0 + 0.001 * i] for i in range(10_000)]
    message = _refused(_region(polygon_lonlat_deg=zigzag, grid_resolution_m=2000.0))
    assert f"(allowed: ≤ {MAX_REGION_BOUNDARY_POINTS:,}" in message
    # Far too large for aeqd: refused from the estimate, without building 0.8 GB of grid.
    wide = {"lon_min_deg": 90.0, "lat_min_deg": 10.0, "lon_max_deg": 140.0, "lat_max_deg": 50.0}
    message = _refused(_region(bbox=wide, grid_resolution_m=1000.0), "region: too large for a")
    assert "use projection: ease2" in message


def test_largest_legal_lists_validate(tmp_path: Path) -> None:
    data = copy.deepcopy(BASES["minimal"])
    data["region"] = {"polygon_lonlat_deg": _circle(10_000, 114.3, 30.59, 0.08),
                      "grid_resolution_m": 500.0}  # fmt: skip
    data["targets"] = {"points": [{"lat_deg": 30.59 + i * 1e-6, "lon_deg": 114.3}
                                  for i in range(10_000)]}  # fmt: skip
    data["events"] = [{"kind": "flood", "lat_deg": 30.6, "lon_deg": 114.3 + i * 1e-6}
                      for i in range(1000)]  # fmt: skip
    assert len(load_scenario(data).targets.points) == 10_000
    # The same as a file (about 90,000 YAML nodes, no aliases), through the YAML limits.
    path = _file(tmp_path, yaml.safe_dump(data, sort_keys=False))
    assert len(load_scenario(path).events) == 1000


# ---------------------------------------------------------------- the inspector CLI


def _limit_memory() -> None:  # in the child: 4 GiB of address space, 60 s of CPU
    resource.setrlimit(resource.RLIMIT_AS, (4 * 2**30, 4 * 2**30))
    resource.setrlimit(resource.RLIMIT_CPU, (60, 60))


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (billion_laughs(9, 9) + "name: *lol9\n", "once aliases are expanded"),
        (b"name: caf\xe9\n", "not UTF-8"),
        ("name: !!python/object/apply:os.system ['echo pwned > PWNED']\n", "constructor"),
        ("a: " + "[" * 100 + "]" * 100 + "\n", "nested more than"),
    ],
    ids=["bomb", "latin-1", "python-tag", "deep"],
)
def test_inspector_cli_prints_one_line_and_exits_2(tmp_path: Path, content, match) -> None:
    path = _file(tmp_path, content)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "sagsim.envs", str(path)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=600, check=False,
                            preexec_fn=_limit_memory)  # fmt: skip
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and match in lines[0] and str(path) in lines[0], result.stderr
    assert result.stdout == "" and not (tmp_path / "PWNED").exists()
