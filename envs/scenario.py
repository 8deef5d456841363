"""Loading scenario files: YAML → validated :class:`envs.schema.Scenario`, or one clear error.

Every way a scenario can be wrong ends in :class:`ScenarioError`, whose message is one
line: ``FILE: FIELD.PATH: what is wrong (allowed: RANGE)``. Nothing else escapes
:func:`load_scenario` for bad input; command-line entry points turn it into exit status 2.
"""

from __future__ import annotations

import difflib
import math
import os
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import annotated_types
import yaml
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from envs.schema import MAX_SATELLITES, Scenario

MAX_SCENARIO_BYTES = 10 * 1024 * 1024  # a scenario is hand-written text; refuse anything huge
MAX_TLE_FILE_BYTES = 50 * 1024 * 1024
# The region's azimuthal-equidistant grid stretches distances across the radius by c/sin(c);
# 0.5 % (a region about 2,000 km across) is where a "local" grid stops being honest.
MAX_GRID_SCALE_DISTORTION = 0.005


class ScenarioError(ValueError):
    """A scenario file or dict that cannot be used; ``str()`` is a one-line message."""

    def __init__(self, source: str, path: str, message: str) -> None:
        self.source = source
        self.path = path
        self.message = message
        where = f"{source}: {path}" if path else source
        super().__init__(f"{where}: {message}")


def load_scenario(path_or_dict: str | os.PathLike | Mapping[str, Any]) -> Scenario:
    """Load and validate a scenario from a YAML file path or an already-parsed mapping.

    TLE files named in ``satellites[*].tle_file`` and ``open_data[*].tle_file`` are resolved
    relative to the YAML file (or the working directory for a dict), must stay inside that
    folder, and are read into the group's ``tle`` field; every TLE's checksums are verified.

    Raises:
        ScenarioError: for any problem, with a one-line message naming the file,
            the field path and the allowed range.
    """
    if isinstance(path_or_dict, Mapping):
        source, base_dir, data = "<scenario dict>", Path.cwd(), dict(path_or_dict)
    else:
        path = Path(path_or_dict)
        source, base_dir = str(path), path.resolve().parent
        data = _read_yaml(path)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise _from_validation_error(source, exc) from None
    _check_region_grid(scenario, source)
    return _resolve_tles(scenario, source, base_dir)


def region_grid(scenario: Scenario):
    """The scenario region's metric grid (:class:`envs.region_grid.RegionGrid`), aeqd or ease2."""
    from envs.region_grid import RegionGrid

    region = scenario.region
    if region.bbox is not None:
        b = region.bbox
        shape = (b.lon_min_deg, b.lat_min_deg, b.lon_max_deg, b.lat_max_deg)
    else:
        shape = region.polygon_lonlat_deg
    return RegionGrid(shape, region.grid_resolution_m, projection=region.projection)


def _check_region_grid(scenario: Scenario, source: str) -> None:
    shape_field = "region.bbox" if scenario.region.bbox is not None else "region.polygon_lonlat_deg"
    try:
        grid = region_grid(scenario)
    except ValueError as exc:
        field = "region.grid_resolution_m" if "grid_resolution_m" in str(exc) else shape_field
        raise ScenarioError(source, field, str(exc)) from None
    if not grid.mask.any() or grid.geodesic_area_m2 <= 0.0:
        raise ScenarioError(
            source, shape_field, "encloses no area (allowed: a region with at least one cell)"
        )
    # The limit is aeqd's: ease2 is a global equal-area grid whose linear scale error is
    # large by design (its cells are sized on the ground with RegionGrid.scale_factors).
    if grid.projection == "aeqd" and grid.max_scale_distortion > MAX_GRID_SCALE_DISTORTION:
        raise ScenarioError(
            source,
            "region",
            f"too large for a local grid: scale error {grid.max_scale_distortion:.2%} at its "
            f"edge (allowed: ≤ {MAX_GRID_SCALE_DISTORTION:.1%}, about 2,000 km across; "
            "for a continental or global region use projection: ease2 with a bbox)",
        )


def _read_yaml(path: Path) -> dict[str, Any]:
    source = str(path)
    if not path.exists():
        raise ScenarioError(source, "", "file not found")
    if not path.is_file():
        raise ScenarioError(source, "", "not a regular file")
    size = path.stat().st_size
    if size > MAX_SCENARIO_BYTES:
        limit = f"allowed: ≤ {MAX_SCENARIO_BYTES:,}"
        raise ScenarioError(source, "", f"file is {size:,} bytes ({limit})")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(source, "", f"not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ScenarioError(source, "", f"cannot read: {exc.strerror}") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except _DuplicateKeyError as exc:
        raise ScenarioError(source, exc.path, str(exc)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ScenarioError(source, "", f"invalid YAML: {where}{problem}") from None
    except RecursionError:
        raise ScenarioError(source, "", "invalid YAML: nested too deeply") from None
    except (ValueError, TypeError, AttributeError, OverflowError) as exc:
        # PyYAML's constructors raise these for values that parse but cannot be built
        # (2024-13-45 as a timestamp, a 5,000-digit integer, !!int "abc").
        first = str(exc).splitlines()[0].split(";")[0] if str(exc) else type(exc).__name__
        raise ScenarioError(source, "", f"invalid YAML value: {first}") from None
    if data is None:
        raise ScenarioError(source, "", "file is empty (expected a mapping of scenario fields)")
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise ScenarioError(source, "", f"top level must be a mapping of fields, got {kind}")
    return data


class _DuplicateKeyError(yaml.YAMLError):
    def __init__(self, key: object, line: int) -> None:
        self.path = str(key)
        super().__init__(f"key repeated on line {line} (a later value would silently win)")


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader, except that a key given twice in one mapping is an error."""

    def construct_mapping(self, node, deep=False):
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                repeated = key in seen
            except TypeError:  # an unhashable key: let PyYAML report it
                break
            if repeated:
                raise _DuplicateKeyError(key, key_node.start_mark.line + 1)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


# ---------------------------------------------------------------------------
# Turning pydantic's errors into one line


def _format_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _from_validation_error(source: str, exc: ValidationError) -> ScenarioError:
    errors = exc.errors(include_url=False)
    # One error is shown, the rest counted. An unknown key goes first: a misspelt key is
    # usually also the reason a required field is "missing".
    error = min(errors, key=lambda e: e["type"] != "extra_forbidden")
    loc = tuple(p for p in error["loc"] if not _is_union_tag(p))
    path = _format_path(loc)
    message = _describe(error, loc)
    if len(errors) > 1:
        message += f" (+{len(errors) - 1} more error{'s' if len(errors) > 2 else ''})"
    return ScenarioError(source, path or "(top level)", message)


def _is_union_tag(part: int | str) -> bool:
    # pydantic inserts the member type ('float', 'list[...]', 'function-after[...]') into
    # the location of errors inside unions and validators; they are not field names.
    return isinstance(part, str) and ("[" in part or part in {"float", "int", "str", "none"})


def _describe(error: dict[str, Any], loc: tuple[int | str, ...]) -> str:
    kind = error["type"]
    got = _short_repr(error.get("input"))
    if kind == "extra_forbidden":
        parent = _model_at(loc[:-1])
        name = str(loc[-1])
        if parent is not None:
            fields = list(parent.model_fields)
            close = difflib.get_close_matches(name, fields, n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            return f"unknown field{hint} (allowed: {', '.join(fields)})"
        return "unknown field"
    if kind == "missing":
        info = _field_at(loc)
        what = f" ({info.description})" if info is not None and info.description else ""
        return f"required field is missing{what}{_allowed_suffix(loc)}"
    msg = error["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    msg = msg[0].lower() + msg[1:] if msg else msg
    if kind == "value_error" or "got" in msg:
        # Cross-field checks name the fields themselves; the input is the whole section.
        return f"{msg}{_allowed_suffix(loc)}"
    return f"{msg}, got {got}{_allowed_suffix(loc)}"


def _short_repr(value: Any, limit: int = 60) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _allowed_suffix(loc: tuple[int | str, ...]) -> str:
    info = _field_at(loc)
    if info is None:
        return ""
    allowed = _allowed_range(str(loc[-1]), info)
    return f" (allowed: {allowed})" if allowed else ""


def _allowed_range(name: str, info: FieldInfo) -> str:
    """A human range like '160000 < altitude_m ≤ 4e+07' from a field's constraints."""
    lower = upper = ""
    for meta in info.metadata:
        if isinstance(meta, annotated_types.Gt):
            lower = f"{_num(meta.gt)} < "
        elif isinstance(meta, annotated_types.Ge):
            lower = f"{_num(meta.ge)} ≤ "
        elif isinstance(meta, annotated_types.Lt):
            upper = f" < {_num(meta.lt)}"
        elif isinstance(meta, annotated_types.Le):
            upper = f" ≤ {_num(meta.le)}"
    if lower or upper:
        return f"{lower}{name}{upper}"
    literal = _literal_values(info.annotation)
    if literal:
        return ", ".join(map(str, literal))
    return ""


def _num(value: float) -> str:
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        return f"{value:_}" if abs(value) >= 10_000 else str(value)
    return f"{value:g}"


def _literal_values(annotation: Any) -> tuple[Any, ...]:
    if typing.get_origin(annotation) is typing.Literal:
        return typing.get_args(annotation)
    for arg in typing.get_args(annotation):
        values = _literal_values(arg)
        if values:
            return values
    return ()


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    """The model class inside Optional[...] / list[...] / Annotated[...], if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, list, typing.Annotated):
        for arg in typing.get_args(annotation):
            model = _inner_model(arg)
            if model is not None:
                return model
    return None


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = Scenario
    for part in loc:
        if isinstance(part, int):
            continue
        if model is None or part not in model.model_fields:
            return None
        model = _inner_model(model.model_fields[part].annotation)
    return model


def _field_at(loc: tuple[int | str, ...]) -> FieldInfo | None:
    names = [p for p in loc if isinstance(p, str)]
    if not names:
        return None
    parent = _model_at(loc[: max(i for i, p in enumerate(loc) if isinstance(p, str))])
    if parent is None:
        return None
    return parent.model_fields.get(names[-1])


# ---------------------------------------------------------------------------
# TLE files and checksums


def _resolve_tles(scenario: Scenario, source: str, base_dir: Path) -> Scenario:
    # Imported here: orbits pulls in sgp4/skyfield, which schema-only users need not pay for.
    from envs.orbits import Constellation, TLEError

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
            groups.append(group.model_copy(update={"tle": text, "tle_file": group.tle_file}))
        update[section] = groups
    if n_satellites > MAX_SATELLITES:
        raise ScenarioError(
            source, "satellites", f"{n_satellites:,} satellites (allowed: ≤ {MAX_SATELLITES:,})"
        )
    return scenario.model_copy(update=update)


def _read_tle_file(source: str, field: str, base_dir: Path, name: str) -> str:
    path = (base_dir / name).resolve()
    # A scenario may only read files in its own folder tree: a shared scenario must not be
    # able to pull arbitrary files (e.g. ~/.ssh) into a run's logs and reports.
    if not path.is_relative_to(base_dir):
        raise ScenarioError(
            source, field, f"'{name}' leaves the scenario's folder (allowed: a path inside it)"
        )
    if not path.is_file():
        raise ScenarioError(source, field, f"TLE file '{name}' not found next to the scenario")
    if path.stat().st_size > MAX_TLE_FILE_BYTES:
        raise ScenarioError(source, field, f"TLE file larger than {MAX_TLE_FILE_BYTES:,} bytes")
    try:
        return path.read_text(encoding="ascii")
    except UnicodeDecodeError:
        raise ScenarioError(source, field, f"TLE file '{name}' is not ASCII text") from None
