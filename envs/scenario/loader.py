"""Loading scenario files: YAML → validated :class:`sagsim.envs.scenario.schema.Scenario`, or one
clear error.

Every way a scenario can be wrong ends in :class:`ScenarioError`, whose message is one
line: ``FILE: FIELD.PATH: what is wrong (allowed: RANGE)``. Nothing else escapes
:func:`load_scenario` for bad input; command-line entry points turn it into exit status 2.

Scenario files are untrusted input (they are shared, downloaded, generated). The YAML is
read with a safe loader (no ``!!python/...`` tags: no code runs while loading), and every
cost of reading and validating one is bounded by the limits below, so a hostile or broken
file (a YAML "billion laughs" bomb, a huge or deeply nested document, a region whose grid
would take hours to build) is refused in well under a second, never a hang or a memory
blow-up. ``benchmarks/fuzz_bench.py`` fuzzes the loader against these guarantees.

Files a scenario names (``tle_file``) are resolved relative to the scenario file and must
stay inside its folder: a shared scenario cannot pull ``~/.ssh/id_rsa`` or ``/etc/passwd``
into a run's logs and reports. Directories listed in the environment variable
``SAGSIM_DATA_DIR`` (``os.pathsep``-separated, e.g. ``/data/tle:/srv/tle``) are allowed
too, for the user who keeps TLE archives elsewhere: that is the user's say, given outside
the scenario. A scenario given as a mapping (not a file) resolves relative paths against
the current working directory, which then plays the scenario folder's part.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from sagsim.cli import one_line
from sagsim.envs.scenario.checks import static_findings, warn_findings
from sagsim.envs.scenario.errors import ScenarioError, exc_text, from_validation_error, os_text
from sagsim.envs.scenario.safe_yaml import (
    MAX_SCENARIO_BYTES,
    MAX_YAML_DEPTH,
    MAX_YAML_NODES,
    parse_yaml,
    read_capped,
    read_yaml,
)
from sagsim.envs.scenario.schema import MAX_SATELLITES, Scenario

__all__ = ["MAX_SCENARIO_BYTES", "MAX_YAML_DEPTH", "MAX_YAML_NODES", "ScenarioError",
           "allowed_data_dirs", "load_scenario", "parse_yaml", "region_grid"]  # fmt: skip

# -- Limits on untrusted input (each one named in the error it causes; the YAML's own are
# in sagsim.envs.scenario.safe_yaml)
# ---------------------------------------------------------------- A TLE file holds at most
# MAX_SATELLITES sets: 10,000 × 3 lines × 71 bytes is 2.1 MB, so 4 MiB leaves room for comments and
# blank lines while a whole catalogue (~30 MB) is refused before 400,000 sets are parsed only to
# exceed MAX_SATELLITES.
MAX_TLE_FILE_BYTES = 4 * 1024 * 1024
# The region's azimuthal-equidistant grid stretches distances across the radius by c/sin(c);
# 0.5 % (a region about 2,000 km across) is where a "local" grid stops being honest.
MAX_GRID_SCALE_DISTORTION = 0.005
# Grid cells (rows × columns). Building an aeqd grid inverts every cell centre with pyproj
# (~1 µs a cell): 4.2 M cells take ~4 s and ~200 MB. sagsim.envs.physics.region_grid's
# 4,096-per-side cap alone allows 16.8 M cells: 18 s and 0.8 GB just to validate, and 128 MiB for
# every per-cell float64 layer of the world. The shipped scenarios use at most 0.75 M.
MAX_GRID_CELLS = 2048 * 2048
# A polygon region's boundary is densified to one point per grid cell (or per 2 km) along
# every edge, up to 2,000 points an edge: 10,000 vertices could make 20 M points (GBs).
MAX_REGION_BOUNDARY_POINTS = 1_000_000
# A polygon's cell mask is a point-in-polygon test of every cell centre against every
# boundary point (matplotlib, 1e8–4e8 tests/s): a 100 km polygon at 100 m (10^6 cells ×
# 4,000 points) would take ~15 s, a continental one hours. Beyond this, use a bbox (whose
# mask is cheap) or a coarser grid_resolution_m.
MAX_POLYGON_MASK_TESTS = 500_000_000
# Environment variable: extra directories (os.pathsep-separated) a tle_file may name.
DATA_DIR_ENV = "SAGSIM_DATA_DIR"


def load_scenario(
    path_or_dict: str | os.PathLike | Mapping[str, Any], *, warn: bool = True
) -> Scenario:
    """Load and validate a scenario from a YAML file path or an already-parsed mapping.

    TLE files named in ``satellites[*].tle_file`` and ``open_data[*].tle_file`` are resolved
    relative to the YAML file (or the working directory for a mapping), must stay inside
    that folder or a directory listed in ``SAGSIM_DATA_DIR``, and are read into the group's
    ``tle`` field; every TLE's checksums are verified. See the module docstring for the
    limits on size, nesting and region cost.

    With ``warn`` (the default), values that are legal but almost certainly not meant (a
    drone base out of reach of the region, a stale TLE, ...: :mod:`sagsim.envs.scenario.checks`)
    are each emitted as one :class:`sagsim.envs.scenario.checks.ScenarioWarning` naming the file
    (or, for a mapping, the scenario's name) and the field.

    Raises:
        ScenarioError: for any problem, with a one-line message naming the file,
            the field path and the allowed range.
    """
    if isinstance(path_or_dict, Mapping):
        source, data = "<scenario dict>", dict(path_or_dict)
        try:
            base_dir = Path.cwd()
        except OSError as exc:  # the working directory was removed
            raise ScenarioError(source, "", f"no working directory: {os_text(exc)}") from None
    elif isinstance(path_or_dict, (str, os.PathLike)):
        path = Path(path_or_dict)
        source = str(path)
        data = read_yaml(path)
        base_dir = _scenario_dir(path, source)
    else:
        kind = type(path_or_dict).__name__
        raise ScenarioError(f"<{kind}>", "", "not a scenario (allowed: a file path or a mapping)")
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(source, exc) from None
    except (ArithmeticError, TypeError, ValueError, RecursionError) as exc:
        # A validator that failed on an extreme value in a way pydantic does not wrap
        # (an epoch of 0001-01-01T00:00+01:00 cannot be converted to UTC).
        raise ScenarioError(source, "", f"invalid value: {exc_text(exc)}") from None
    grid = _check_region_grid(scenario, source)
    scenario = _resolve_tles(scenario, source, base_dir)
    if warn:
        label = scenario.name if isinstance(path_or_dict, Mapping) else source
        warn_findings(label, static_findings(scenario, grid))
    return scenario


def _scenario_dir(path: Path, source: str) -> Path:
    try:
        return path.resolve().parent
    except (OSError, RuntimeError, ValueError) as exc:  # a symlink loop, a vanished cwd
        raise ScenarioError(source, "", f"cannot resolve the path: {exc_text(exc)}") from None


def region_grid(scenario: Scenario):
    """The scenario region's metric grid
    (:class:`sagsim.envs.physics.region_grid.RegionGrid`), aeqd or ease2."""
    from sagsim.envs.physics.region_grid import RegionGrid

    region = scenario.region
    if region.bbox is not None:
        b = region.bbox
        shape = (b.lon_min_deg, b.lat_min_deg, b.lon_max_deg, b.lat_max_deg)
    else:
        shape = region.polygon_lonlat_deg
    return RegionGrid(shape, region.grid_resolution_m, projection=region.projection)


def _check_region_grid(scenario: Scenario, source: str):
    """The scenario's region grid, or a ScenarioError if it is unusable or too costly."""
    region = scenario.region
    shape_field = "region.bbox" if region.bbox is not None else "region.polygon_lonlat_deg"
    if region.projection == "aeqd":
        _check_aeqd_cost(region, source, shape_field)
    try:
        grid = region_grid(scenario)
    except ValueError as exc:
        field = "region.grid_resolution_m" if "grid_resolution_m" in str(exc) else shape_field
        raise ScenarioError(source, field, str(exc)) from None
    if grid.mask.size > MAX_GRID_CELLS:
        raise _too_many_cells(source, grid.shape, region.grid_resolution_m, estimated=False)
    if not grid.mask.any() or grid.geodesic_area_m2 <= 0.0:
        raise ScenarioError(
            source, shape_field, "encloses no area (allowed: a region with at least one cell)"
        )
    # The limit is aeqd's: ease2 is a global equal-area grid whose linear scale error is
    # large by design (its cells are sized on the ground with RegionGrid.scale_factors).
    if grid.projection == "aeqd" and grid.max_scale_distortion > MAX_GRID_SCALE_DISTORTION:
        raise _too_large_for_aeqd(source, grid.max_scale_distortion)
    return grid


def _too_large_for_aeqd(source: str, distortion: float, estimated: bool = False) -> ScenarioError:
    about = "about " if estimated else ""
    return ScenarioError(
        source,
        "region",
        f"too large for a local grid: scale error {about}{distortion:.2%} at its "
        f"edge (allowed: ≤ {MAX_GRID_SCALE_DISTORTION:.1%}, about 2,000 km across; "
        "for a continental or global region use projection: ease2 with a bbox)",
    )


def _too_many_cells(source: str, shape, resolution_m: float, estimated: bool) -> ScenarioError:
    rows, cols = (int(n) for n in shape)
    about = "about " if estimated else ""
    coarsest = resolution_m * math.sqrt(rows * cols / MAX_GRID_CELLS)
    return ScenarioError(
        source,
        "region.grid_resolution_m",
        f"{resolution_m:g} gives {about}{rows:,}×{cols:,} = {rows * cols:,} cells (allowed: "
        f"≤ {MAX_GRID_CELLS:,} cells; use grid_resolution_m ≥ {math.ceil(coarsest):,})",
    )


def _check_aeqd_cost(region, source: str, shape_field: str) -> None:
    """Refuse, before building it, an aeqd grid that would be far too large or too slow to
    build (the exact checks on the built grid follow; these estimates only keep a hostile
    region from costing minutes first)."""
    preview = _aeqd_preview(region)
    if preview is None:  # a box at a pole or around the globe: RegionGrid's checks decide
        return
    width_m, height_m, corner_m, n_boundary = preview
    if n_boundary > MAX_REGION_BOUNDARY_POINTS:
        raise ScenarioError(
            source,
            shape_field,
            f"its boundary densifies to {n_boundary:,} points at grid_resolution_m="
            f"{region.grid_resolution_m:g} (allowed: ≤ {MAX_REGION_BOUNDARY_POINTS:,}; use "
            "fewer or closer vertices or a coarser grid)",
        )
    c = corner_m / _EARTH_RADIUS_M
    distortion = c / math.sin(c) - 1.0 if 0.0 < c < math.pi else (0.0 if c == 0 else math.inf)
    # 1.5×: the estimate is within a few per cent; the exact check on the grid follows.
    if distortion > 1.5 * MAX_GRID_SCALE_DISTORTION:
        raise _too_large_for_aeqd(source, distortion, estimated=True)
    res = region.grid_resolution_m
    shape = (max(1, math.ceil(height_m / res)), max(1, math.ceil(width_m / res)))
    cells = shape[0] * shape[1]
    if cells > 1.1 * MAX_GRID_CELLS:
        raise _too_many_cells(source, shape, res, estimated=True)
    if region.polygon_lonlat_deg is not None and cells * n_boundary > MAX_POLYGON_MASK_TESTS:
        raise ScenarioError(
            source,
            shape_field,
            f"too costly to rasterise: about {cells:,} cells × {n_boundary:,} boundary points "
            f"(allowed: ≤ {MAX_POLYGON_MASK_TESTS:,} point-in-polygon tests; use a bbox, "
            "fewer vertices or a coarser grid_resolution_m)",
        )


_EARTH_RADIUS_M = 6_371_008.8
_EDGE_SPACING_M = (
    2000.0  # sagsim.envs.physics.region_grid densifies edges to min(resolution, this) ...
)
_POINTS_PER_EDGE = 2000  # ... with at most this many points an edge


def _aeqd_preview(region) -> tuple[float, float, float, int] | None:
    """An aeqd region grid's (width_m, height_m, largest corner distance_m, boundary
    points), estimated from a sparse boundary (a few hundred points) instead of the
    densified one; None for a box whose own checks come first (a pole, the whole globe)."""
    import pyproj

    from sagsim.envs.physics.geodesy import geod

    spacing_m = min(region.grid_resolution_m, _EDGE_SPACING_M)
    if region.bbox is not None:
        b = region.bbox
        lon_max = b.lon_max_deg + (360.0 if b.lon_max_deg < b.lon_min_deg else 0.0)
        span, lat_min, lat_max = lon_max - b.lon_min_deg, b.lat_min_deg, b.lat_max_deg
        if span >= 360.0 or lat_min <= -90.0 or lat_max >= 90.0:
            return None
        t = np.linspace(0.0, 1.0, 65)
        up, down = lat_min + t * (lat_max - lat_min), lat_max - t * (lat_max - lat_min)
        lon = np.concatenate(
            [b.lon_min_deg + t * span, np.full_like(t, lon_max), lon_max - t * span,
             np.full_like(t, b.lon_min_deg)]
        )  # fmt: skip
        lat = np.concatenate([np.full_like(t, lat_min), up, np.full_like(t, lat_max), down])
        centre = (b.lon_min_deg + span / 2.0, (lat_min + lat_max) / 2.0)
        n_boundary = 0
    else:
        v = np.asarray(region.polygon_lonlat_deg, float)
        if len(v) > 3 and np.allclose(v[0], v[-1]):
            v = v[:-1]
        nxt = np.roll(v, -1, axis=0)
        az, _, edge_m = geod().inv(v[:, 0], v[:, 1], nxt[:, 0], nxt[:, 1])
        per_edge = np.clip(np.ceil(np.asarray(edge_m) / spacing_m), 1, _POINTS_PER_EDGE)
        n_boundary = int(per_edge.sum())
        k = 8  # samples per edge
        f = np.arange(k) / k
        dist_m = (np.asarray(edge_m)[:, None] * f).ravel()
        lon, lat, _ = geod().fwd(
            np.repeat(v[:, 0], k), np.repeat(v[:, 1], k), np.repeat(az, k), dist_m
        )
        lon, lat = np.asarray(lon), np.asarray(lat)
        # The centre as RegionGrid takes it: the mean unit vector of the boundary points,
        # which are spread evenly along the edges (so weight each sample by its edge).
        w = np.repeat(per_edge / k, k)
        lon_r, lat_r = np.radians(lon), np.radians(lat)
        mean = [np.sum(w * np.cos(lat_r) * np.cos(lon_r)), np.sum(w * np.cos(lat_r) *
                np.sin(lon_r)), np.sum(w * np.sin(lat_r))]  # fmt: skip
        centre = (math.degrees(math.atan2(mean[1], mean[0])),
                  math.degrees(math.atan2(mean[2], math.hypot(mean[0], mean[1]))))  # fmt: skip
    lon0 = (centre[0] + 180.0) % 360.0 - 180.0
    text = f"+proj=aeqd +lat_0={centre[1]!r} +lon_0={lon0!r} +datum=WGS84 +units=m +no_defs"
    forward = pyproj.Transformer.from_crs("EPSG:4326", text, always_xy=True)
    x, y = (np.asarray(a) for a in forward.transform(lon, lat))
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        return None
    corner_m = math.hypot(max(abs(x.min()), abs(x.max())), max(abs(y.min()), abs(y.max())))
    return float(np.ptp(x)), float(np.ptp(y)), corner_m, n_boundary


# ---------------------------------------------------------------------------
# TLE files and checksums


def _resolve_tles(scenario: Scenario, source: str, base_dir: Path) -> Scenario:
    # Imported here: orbits pulls in sgp4/skyfield, which schema-only users need not pay for.
    from sagsim.envs.physics.orbits import Constellation, TLEError

    n_satellites = sum(g.count or 0 for g in scenario.satellites + scenario.open_data)
    update = {}
    for section in ("satellites", "open_data"):
        groups = []
        for i, group in enumerate(getattr(scenario, section)):
            if group.walker is not None:
                groups.append(group)
                continue
            field = f"{section}[{i}].tle"
            text = group.tle
            if group.tle_file is not None:
                field = f"{section}[{i}].tle_file"
                text = _read_tle_file(source, field, base_dir, group.tle_file)
            try:
                n_sets = Constellation.from_tle(text).n_sat
            except TLEError as exc:
                raise ScenarioError(source, field, str(exc)) from None
            if n_sets == 0:
                raise ScenarioError(source, field, "holds no TLE set (allowed: 1 or more)")
            n_satellites += n_sets
            if n_satellites > MAX_SATELLITES:  # before parsing the next group
                break
            groups.append(group.model_copy(update={"tle": text, "tle_file": group.tle_file}))
        update[section] = groups
    if n_satellites > MAX_SATELLITES:
        raise ScenarioError(
            source, "satellites", f"{n_satellites:,} satellites (allowed: ≤ {MAX_SATELLITES:,})"
        )
    return scenario.model_copy(update=update)


def allowed_data_dirs(base_dir: Path) -> list[Path]:
    """Where a scenario in ``base_dir`` may read files: that folder, and each directory
    listed in ``SAGSIM_DATA_DIR`` (``os.pathsep``-separated; entries that do not resolve
    are ignored)."""
    dirs = [base_dir]
    for entry in os.environ.get(DATA_DIR_ENV, "").split(os.pathsep):
        if entry.strip():
            try:
                dirs.append(Path(entry).expanduser().resolve())
            except (OSError, RuntimeError, ValueError):
                continue
    return dirs


def _read_tle_file(source: str, field: str, base_dir: Path, name: str) -> str:
    shown = f"'{one_line(name, 60)}'"
    try:
        path = (base_dir / name).resolve()
    except (OSError, RuntimeError, ValueError) as exc:  # a NUL byte, a symlink loop
        raise ScenarioError(
            source, field, f"{shown} is not a usable path ({exc_text(exc)})"
        ) from None
    # A scenario may only read files in its own folder tree (or SAGSIM_DATA_DIR): a shared
    # scenario must not be able to pull arbitrary files (e.g. ~/.ssh) into a run's logs and
    # reports. resolve() has followed symlinks, so a link pointing out is refused too.
    if not any(path.is_relative_to(d) for d in allowed_data_dirs(base_dir)):
        raise ScenarioError(
            source,
            field,
            f"{shown} leaves the scenario's folder (allowed: a path inside it, or in a "
            f"directory listed in {DATA_DIR_ENV})",
        )
    try:
        raw = read_capped(path, MAX_TLE_FILE_BYTES, source, field, what=f"TLE file {shown}")
    except ScenarioError as exc:
        if exc.message.endswith(" not found"):
            raise ScenarioError(
                source, field, f"TLE file {shown} not found next to the scenario"
            ) from None
        raise
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        raise ScenarioError(source, field, f"TLE file {shown} is not ASCII text") from None
