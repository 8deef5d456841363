"""Scenario loading: the shipped files load, sections given in part keep their defaults, and
bad input is one clear line per problem."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from sagsim.envs import ScenarioError, load_scenario
from sagsim.envs.physics.orbits import tle_checksum
from sagsim.envs.scenario.schema import Scenario
from tests.conftest import ISS_TLE, SCENARIOS


def _write(tmp_path: Path, data: object, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _error(tmp_path: Path, data: object) -> str:
    path = _write(tmp_path, data)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(path)), message
    return message


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_scenarios_load(path: Path) -> None:
    scenario = load_scenario(path)
    assert isinstance(scenario, Scenario)
    assert scenario.n_steps >= 1


def test_flood_wuhan_has_the_promised_fleet() -> None:
    scenario = load_scenario(SCENARIOS / "flood_wuhan.yaml")
    kinds = {}
    for group in scenario.satellites:
        kinds[group.sensor.kind] = kinds.get(group.sensor.kind, 0) + group.count
    assert kinds["optical"] >= 12 and kinds["sar"] >= 2
    assert sum(d.count for d in scenario.drones) == 4
    assert len(scenario.ground_stations) == 3


def test_loads_from_a_dict(minimal_dict: dict) -> None:
    scenario = load_scenario(minimal_dict)
    assert scenario.name == "minimal"
    assert scenario.epoch_utc.tzinfo is not None


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ScenarioError, match=r"nope\.yaml: file not found"):
        load_scenario(path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("")
    with pytest.raises(ScenarioError, match="empty"):
        load_scenario(path)


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "42\n"])
def test_top_level_not_a_mapping(tmp_path: Path, text: str) -> None:
    path = tmp_path / "list.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match="top level must be a mapping"):
        load_scenario(path)


def test_invalid_yaml_names_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\nregion: {bbox: [1, 2\n")
    with pytest.raises(ScenarioError, match=r"invalid YAML: line \d+, column \d+"):
        load_scenario(path)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(ScenarioError, match="not UTF-8"):
        load_scenario(path)


def test_unknown_key_suggests_close_match(tmp_path: Path, minimal_dict: dict) -> None:
    minimal_dict["duraton_s"] = minimal_dict.pop("duration_s")
    message = _error(tmp_path, minimal_dict)
    assert ": duraton_s: unknown field; did you mean 'duration_s'?" in message


def test_unknown_nested_key(tmp_path: Path, minimal_dict: dict) -> None:
    minimal_dict["satellites"][0]["sensor"]["gsd_nadir"] = 3.0
    message = _error(tmp_path, minimal_dict)
    assert "satellites[0].sensor.gsd_nadir: unknown field; did you mean 'gsd_nadir_m'?" in message


def test_wrong_type(tmp_path: Path, minimal_dict: dict) -> None:
    minimal_dict["satellites"][0]["sensor"]["gsd_nadir_m"] = "fine"
    message = _error(tmp_path, minimal_dict)
    assert "satellites[0].sensor.gsd_nadir_m: input should be a valid number" in message
    assert "(allowed: 0 < gsd_nadir_m ≤ 10_000)" in message


# Each out-of-range case: (where to put the value, the value, the field path, the range).
OUT_OF_RANGE = [
    (
        ("satellites", 0, "walker", "altitude_m"),
        -500.0,
        "satellites[0].walker.altitude_m",
        "160_000 < altitude_m ≤ 40_000_000",
    ),
    (("drones", 0, "altitude_m"), -10.0, "drones[0].altitude_m", "0 < altitude_m ≤ 10_000"),
    (
        ("ground_stations", 0, "min_elevation_deg"),
        90.0,
        "ground_stations[0].min_elevation_deg",
        "0 ≤ min_elevation_deg < 90",
    ),
    (("ground_stations", 0, "lat_deg"), 91.0, "ground_stations[0].lat_deg", "-90 ≤ lat_deg ≤ 90"),
    (("drones", 0, "base_lat_deg"), -90.5, "drones[0].base_lat_deg", "-90 ≤ base_lat_deg ≤ 90"),
    (("step_s",), 0.0, "step_s", "0.01 ≤ step_s ≤ 3600"),
    (
        ("targets", "points", 0, "max_gsd_m"),
        0.0,
        "targets.points[0].max_gsd_m",
        "0 < max_gsd_m ≤ 100_000",
    ),
    (
        ("satellites", 0, "sensor", "noise_std"),
        float("nan"),
        "satellites[0].sensor.noise_std",
        "0 ≤ noise_std ≤ 1",
    ),
]


@pytest.mark.parametrize(
    ("where", "value", "field", "allowed"), OUT_OF_RANGE, ids=[c[2] for c in OUT_OF_RANGE]
)
def test_out_of_range(tmp_path: Path, minimal_dict: dict, where, value, field, allowed) -> None:
    node = minimal_dict
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    message = _error(tmp_path, minimal_dict)
    assert f": {field}: " in message
    assert f"(allowed: {allowed})" in message


def test_inclination_over_180(tmp_path: Path, minimal_dict: dict) -> None:
    walker = minimal_dict["satellites"][0]["walker"]
    walker.pop("sun_synchronous")
    walker["inclination_deg"] = 181.0
    message = _error(tmp_path, minimal_dict)
    assert "satellites[0].walker.inclination_deg:" in message
    assert "(allowed: 0 ≤ inclination_deg ≤ 180)" in message


def test_cross_field_rules_name_their_section(tmp_path: Path, minimal_dict: dict) -> None:
    minimal_dict["satellites"][0]["walker"]["phasing"] = 1  # planes: 1 → phasing must be 0
    assert "satellites[0].walker: phasing must be < planes (1)" in _error(tmp_path, minimal_dict)


def test_missing_required_field_says_what_it_is(tmp_path: Path, minimal_dict: dict) -> None:
    del minimal_dict["epoch_utc"]
    assert ": epoch_utc: required field is missing (scenario start" in _error(
        tmp_path, minimal_dict
    )


def test_naive_epoch_is_utc(minimal_dict: dict) -> None:
    minimal_dict["epoch_utc"] = "2024-07-15T08:00:00+08:00"
    scenario = load_scenario(minimal_dict)
    assert scenario.epoch_utc.hour == 0 and scenario.epoch_utc.utcoffset().total_seconds() == 0


def _tle_group(**source: str) -> dict:
    return {"name": "iss", "sensor": {"gsd_nadir_m": 10.0, "swath_m": 50_000.0}, **source}


def test_inline_tle_loads(minimal_dict: dict) -> None:
    minimal_dict["satellites"] = [_tle_group(tle=ISS_TLE)]
    scenario = load_scenario(minimal_dict)
    assert "25544" in scenario.satellites[0].tle


def test_tle_file_relative_to_yaml(tmp_path: Path, minimal_dict: dict) -> None:
    (tmp_path / "tles").mkdir()
    (tmp_path / "tles" / "iss.tle").write_text(ISS_TLE)
    minimal_dict["satellites"] = [_tle_group(tle_file="tles/iss.tle")]
    scenario = load_scenario(_write(tmp_path, minimal_dict))
    assert scenario.satellites[0].tle == ISS_TLE


def test_tle_bad_checksum(tmp_path: Path, minimal_dict: dict) -> None:
    lines = ISS_TLE.splitlines()
    lines[1] = lines[1][:-1] + str((int(lines[1][-1]) + 1) % 10)
    minimal_dict["satellites"] = [_tle_group(tle="\n".join(lines))]
    message = _error(tmp_path, minimal_dict)
    assert re.search(r": satellites\[0\]\.tle: .*checksum", message), message


def test_tle_file_may_not_leave_the_scenario_folder(tmp_path: Path, minimal_dict: dict) -> None:
    (tmp_path / "secret.tle").write_text(ISS_TLE)
    inner = tmp_path / "inner"
    inner.mkdir()
    minimal_dict["satellites"] = [_tle_group(tle_file="../secret.tle")]
    path = _write(inner, minimal_dict)
    with pytest.raises(ScenarioError, match=r"tle_file: '\.\./secret\.tle' leaves the scenario"):
        load_scenario(path)


def test_two_tle_sources_refused(tmp_path: Path, minimal_dict: dict) -> None:
    minimal_dict["satellites"][0]["tle"] = ISS_TLE
    assert "give exactly one of tle, tle_file or walker" in _error(tmp_path, minimal_dict)


NUMERIC_FIELDS = [
    ("duration_s",),
    ("step_s",),
    ("region", "grid_resolution_m"),
    ("satellites", 0, "walker", "altitude_m"),
    ("satellites", 0, "sensor", "max_off_nadir_deg"),
    ("drones", 0, "cruise_speed_mps"),
    ("ground_stations", 0, "lon_deg"),
]


@given(
    field=st.sampled_from(NUMERIC_FIELDS),
    value=st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(-(10**30), 10**30),
        st.text(max_size=8),
        st.booleans(),
        st.none(),
        st.lists(st.integers(), max_size=3),
    ),
)
def test_any_value_loads_or_is_a_scenario_error(field, value) -> None:
    """A value of any type or size in a numeric field either validates or raises
    ScenarioError naming that field; never another exception."""
    data = yaml.safe_load((SCENARIOS / "minimal.yaml").read_text())
    node = data
    for key in field[:-1]:
        node = node[key]
    node[field[-1]] = value
    try:
        load_scenario(data)
    except ScenarioError as exc:
        assert "\n" not in str(exc)
        assert field[-1] in str(exc), str(exc)


def _text_error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert "\n" not in str(info.value)
    return str(info.value)


MINIMAL_TEXT = (SCENARIOS / "minimal.yaml").read_text()


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("epoch_utc: 2024-07-15T00:00:00Z", "epoch_utc: 2024-13-45T00:00:00Z",
         "invalid YAML value: month must be in 1..12"),
        ("seed: 7", "seed: " + "9" * 5000, "invalid YAML value: Exceeds the limit"),
        ("seed: 7", 'seed: !!int "abc"', "invalid YAML value: invalid literal"),
        ("seed: 7", "seed: 7\nseed: 8", "seed: key repeated on line"),
        ("step_s: 30", "step_s: true", "step_s: expected a number, got true"),
        ("epoch_utc: 2024-07-15T00:00:00Z", "epoch_utc: 9999-12-31T23:59:59Z",
         "epoch_utc: must lie within 1957-10-04 to 2056-12-31"),
        ("epoch_utc: 2024-07-15T00:00:00Z", "epoch_utc: 1900-01-01T00:00:00Z",
         "epoch_utc: must lie within"),
        ("duration_s: 21600", "duration_s: 21615",
         "step_s: duration_s must be a whole number of steps: 21615 / 30 = 720.5"),
        ("altitude_m: 500000, sun_synchronous: true", "altitude_m: 6000000, sun_synchronous: true",
         "satellites[0].walker: no sun-synchronous orbit exists at altitude_m=6e+06"),
    ],
    ids=["bad-date", "huge-int", "bad-int-tag", "duplicate-key", "bool-as-number",
         "epoch-far-future", "epoch-before-sputnik", "partial-last-step", "sso-too-high"],
)  # fmt: skip
def test_hostile_values_are_one_line(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in MINIMAL_TEXT
    assert expected in _text_error(tmp_path, MINIMAL_TEXT.replace(old, new))


def test_empty_tle_group_is_refused(minimal_dict: dict) -> None:
    minimal_dict["satellites"] = [_tle_group(tle="   \n")]
    with pytest.raises(ScenarioError, match=r"satellites\[0\]\.tle: holds no TLE set"):
        load_scenario(minimal_dict)


def test_tle_with_valid_checksums_but_garbage_fields(minimal_dict: dict) -> None:
    name, line1, line2 = ISS_TLE.splitlines()
    garbage = line2[:26] + "abcdefg" + line2[33:68]  # letters in the eccentricity field
    garbage += str(tle_checksum(garbage))
    minimal_dict["satellites"] = [_tle_group(tle="\n".join([name, line1, garbage]))]
    with pytest.raises(ScenarioError, match=r"satellites\[0\]\.tle: TLE 1: elements do not"):
        load_scenario(minimal_dict)


def test_degenerate_polygon_is_refused(minimal_dict: dict) -> None:
    minimal_dict["region"] = {"polygon_lonlat_deg": [[114.3, 30.5]] * 4}
    with pytest.raises(ScenarioError, match=r"region\.polygon_lonlat_deg: encloses no area"):
        load_scenario(minimal_dict)


def test_region_geometry_errors_name_the_shape(minimal_dict: dict) -> None:
    minimal_dict["region"]["bbox"] = {
        "lon_min_deg": -180.0, "lat_min_deg": -10.0, "lon_max_deg": 180.0, "lat_max_deg": 10.0,
    }  # fmt: skip
    minimal_dict["region"]["grid_resolution_m"] = 20_000.0
    with pytest.raises(ScenarioError, match=r": region\.bbox: "):
        load_scenario(minimal_dict)


# ---------------------------------------------------------------- open data


MODIS = {"name": "terra_modis",
         "walker": {"planes": 1, "per_plane": 1, "altitude_m": 705_000,
                    "sun_synchronous": True, "raan0_deg": 272.0},
         "sensor": {"kind": "optical", "gsd_nadir_m": 500, "swath_m": 2_330_000},
         "latency_s": 10_800}  # fmt: skip


def test_open_data_loads_and_is_not_an_agent(minimal_dict: dict) -> None:
    minimal_dict["open_data"] = [MODIS]
    scenario = load_scenario(minimal_dict)
    assert scenario.open_data[0].name == "terra_modis"
    assert scenario.open_data[0].latency_s == 10_800
    from sagsim.envs import parallel_env

    plain = parallel_env(load_scenario({k: v for k, v in minimal_dict.items()
                                        if k != "open_data"}))  # fmt: skip
    assert parallel_env(scenario).possible_agents == plain.possible_agents


def test_open_data_names_are_unique_and_tle_files_stay_inside(
    tmp_path: Path, minimal_dict: dict
) -> None:
    minimal_dict["open_data"] = [dict(MODIS, name=minimal_dict["satellites"][0]["name"])]
    assert "names must be unique" in _error(tmp_path, minimal_dict)
    (tmp_path / "secret.tle").write_text(ISS_TLE)
    inner = tmp_path / "inner"
    inner.mkdir()
    group = {k: v for k, v in MODIS.items() if k != "walker"}
    minimal_dict["open_data"] = [dict(group, tle_file="../secret.tle")]
    with pytest.raises(ScenarioError, match=r"open_data\[0\]\.tle_file: '\.\./secret\.tle' "):
        load_scenario(_write(inner, minimal_dict))
    (inner / "aqua.tle").write_text(ISS_TLE)
    minimal_dict["open_data"] = [dict(group, tle_file="aqua.tle")]
    assert load_scenario(_write(inner, minimal_dict)).open_data[0].tle == ISS_TLE


@pytest.mark.parametrize("epoch", ["0001-01-01T00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_an_epoch_outside_datetimes_range_names_the_field(epoch):
    data = yaml.safe_load((SCENARIOS / "minimal.yaml").read_text())
    data["epoch_utc"] = epoch
    with pytest.raises(ScenarioError, match=r"epoch_utc: must lie within"):
        load_scenario(data)


# ---------------------------------------------------------------- sections given in part


def test_a_partial_comms_section_keeps_the_other_defaults(minimal_dict: dict) -> None:
    plain = load_scenario(minimal_dict).comms
    minimal_dict["comms"] = {"space_to_ground": {"tx_power_w": 20},
                             "inter_satellite": {"enabled": True},
                             "air_to_ground": {"bandwidth_hz": 20e6}}  # fmt: skip
    comms = load_scenario(minimal_dict).comms
    assert comms.space_to_ground == plain.space_to_ground.model_copy(update={"tx_power_w": 20.0})
    assert comms.inter_satellite == plain.inter_satellite.model_copy(update={"enabled": True})
    assert comms.air_to_ground == plain.air_to_ground.model_copy(update={"bandwidth_hz": 20e6})
    # The omitted section's values are the shipped link classes' (X-band, Ka-band, 5.8 GHz).
    assert (plain.space_to_ground.frequency_hz, plain.space_to_ground.losses_db) == (8.2e9, 4.0)
    assert (plain.inter_satellite.frequency_hz, plain.inter_satellite.losses_db) == (26e9, 2.0)
    assert (plain.air_to_ground.frequency_hz, plain.air_to_ground.losses_db) == (5.8e9, 6.0)


def test_partial_group_sections_keep_their_own_defaults(minimal_dict: dict) -> None:
    plain = load_scenario(minimal_dict)
    minimal_dict["drones"][0]["storage"] = {"initial_fill_fraction": 0.5}
    minimal_dict["drones"][0]["radio"] = {"tx_power_w": 2.0}
    minimal_dict["satellites"][0]["power"] = {"solar_power_w": 200.0}
    minimal_dict["ground_stations"][0]["radio"] = {"antenna_gain_dbi": 50.0}
    scenario = load_scenario(minimal_dict)
    drone, sat = scenario.drones[0], scenario.satellites[0]
    # A drone's storage default (32 GB) stays when the section is given in part.
    assert drone.storage.capacity_bits == plain.drones[0].storage.capacity_bits == 2.56e11
    assert drone.storage.initial_fill_fraction == 0.5
    assert (drone.radio.tx_power_w, drone.radio.bandwidth_hz) == (2.0, None)
    assert sat.power == plain.satellites[0].power.model_copy(update={"solar_power_w": 200.0})
    assert scenario.ground_stations[0].radio.system_noise_temperature_k is None


def _defaulted_sections(model: type = Scenario, loc: tuple = ()) -> list[tuple[tuple, type]]:
    """(where in the minimal scenario, section class) for every section with a default, at
    every nesting level (in a list: its first item)."""
    from sagsim.envs.scenario.errors import inner_model

    out = []
    for name, info in model.model_fields.items():
        inner = inner_model(info.annotation)
        if inner is None:
            continue
        is_list = "list[" in repr(info.annotation)
        where = (*loc, name, 0) if is_list else (*loc, name)
        if not info.is_required() and not is_list and info.default is not None:
            out.append((where, inner))
        out += _defaulted_sections(inner, where)
    return out


def _section_fields() -> list[tuple[tuple, type, str]]:
    """(where, section class, field) for every field of those sections that is not itself
    a section or a list."""
    out = []
    for where, cls in _defaulted_sections():
        for name, info in cls.model_fields.items():
            if info.is_required():
                continue
            default = info.get_default(call_default_factory=True)
            if not isinstance(default, (BaseModel, list, dict)):
                out.append((where, cls, name))
    return out


SECTIONS = _section_fields()


@pytest.mark.parametrize(("where", "cls", "name"), SECTIONS,
                         ids=[".".join(map(str, w)) + f".{n}" for w, _, n in SECTIONS])  # fmt: skip
def test_every_section_merges_a_partial_override(minimal_dict, where, cls, name) -> None:
    """A section given with one field (at its default) equals the section left out, for
    every section with a default at every nesting level: no section has a field that is
    required only when the section is given."""
    node = minimal_dict
    for key in where[:-1]:
        if isinstance(key, str) and key not in node:
            node[key] = {}
        node = node[key]
    if isinstance(node, list):  # a list the minimal scenario leaves empty
        pytest.skip(f"no {where[-2]} in minimal")
    node.pop(where[-1], None)
    omitted = Scenario.model_validate(minimal_dict)
    default = cls.model_fields[name].get_default(call_default_factory=True)
    node[where[-1]] = {name: default}
    assert Scenario.model_validate(minimal_dict) == omitted


def test_the_sections_are_all_covered() -> None:
    covered = {".".join(str(k) for k in w if isinstance(k, str)) for w, _, _ in SECTIONS}
    assert {"comms.space_to_ground", "comms.inter_satellite", "comms.air_to_ground",
            "satellites.storage", "satellites.power", "satellites.radio", "drones.storage",
            "drones.radio", "ground_stations.radio", "targets.random", "faults.random",
            "clouds", "fusion", "reward", "env", "bad_sources"} <= covered  # fmt: skip


# ---------------------------------------------------------------- several errors


def test_several_errors_are_listed_one_line_each(tmp_path: Path, minimal_dict: dict) -> None:
    minimal_dict["step_s"] = 0.0
    minimal_dict["satellites"][0]["sensor"]["gsd_nadir_m"] = -1.0
    minimal_dict["clouds"]["cover_fraction"] = 2.0
    minimal_dict["comms"] = {"space_to_ground": {"tx_powr_w": 20}}
    path = _write(tmp_path, minimal_dict)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    error = info.value
    lines = str(error).split("\n")
    assert lines == list(error.lines) and len(lines) == len(error.errors) == 4
    assert error.unlisted == 0 and "more error" not in str(error)
    # Unknown keys first, then in the schema's order; each line a whole error.
    expected = [
        ("comms.space_to_ground.tx_powr_w", "unknown field; did you mean 'tx_power_w'?"),
        ("step_s", "(allowed: 0.01 ≤ step_s ≤ 3600)"),
        ("satellites[0].sensor.gsd_nadir_m", "(allowed: 0 < gsd_nadir_m ≤ 10_000)"),
        ("clouds.cover_fraction", "(allowed: 0 ≤ cover_fraction ≤ 1)"),
    ]
    for line, (field, what) in zip(lines, expected, strict=True):
        assert line.startswith(f"{path}: {field}: ") and what in line, line
    assert [p for p, _ in error.errors] == [f for f, _ in expected]
    assert (error.source, error.path) == (str(path), expected[0][0])


def test_many_errors_are_capped(tmp_path: Path, minimal_dict: dict) -> None:
    from sagsim.envs.scenario.errors import MAX_LISTED_ERRORS

    minimal_dict["targets"]["points"] = [{"lat_deg": 95.0, "lon_deg": 114.3}] * 30
    path = _write(tmp_path, minimal_dict)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    lines = str(info.value).split("\n")
    assert len(lines) == MAX_LISTED_ERRORS + 1
    assert all(line.startswith(f"{path}: targets.points[") for line in lines[:-1])
    assert lines[-1] == f"{path}: … and {30 - MAX_LISTED_ERRORS} more errors"
    assert info.value.unlisted == 30 - MAX_LISTED_ERRORS


def test_a_value_fitting_no_member_of_a_union_is_one_error(minimal_dict: dict) -> None:
    minimal_dict["bad_sources"] = {"params": {"bias": {"offset": [1, 2]}}}
    with pytest.raises(ScenarioError) as info:
        load_scenario(minimal_dict)
    assert str(info.value) == (
        "<scenario dict>: bad_sources.params.bias.offset: input should be a valid number or a "
        "valid string, got a list of 2"
    )


def test_a_name_error_gives_the_allowed_pattern(tmp_path: Path, minimal_dict: dict) -> None:
    minimal_dict["targets"]["points"][0]["name"] = "a b"
    message = _error(tmp_path, minimal_dict)
    assert "targets.points[0].name: string should match pattern" in message
    assert "(allowed: 1–64 characters matching ^[A-Za-z0-9_.\\-]+$)" in message


def test_scenario_error_survives_pickling(minimal_dict: dict) -> None:
    import pickle

    minimal_dict["step_s"], minimal_dict["seed"] = 0.0, -1
    with pytest.raises(ScenarioError) as info:
        load_scenario(minimal_dict)
    copy = pickle.loads(pickle.dumps(info.value))
    assert str(copy) == str(info.value) and copy.errors == info.value.errors


def test_cli_prints_each_error_as_a_whole_line(tmp_path: Path, minimal_dict: dict, capsys):
    from sagsim.cli import EXIT_BAD_INPUT, run

    minimal_dict["step_s"], minimal_dict["seed"] = 0.0, -1
    path = _write(tmp_path, minimal_dict)
    assert run(lambda argv: load_scenario(path) and 0, []) == EXIT_BAD_INPUT
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(": ")[:3] for line in lines] == [
        ["error", str(path), "step_s"],
        ["error", str(path), "seed"],
    ]


def test_the_schema_checks_bad_source_params_without_the_fusion_code() -> None:
    """bad_sources.params are checked against the schema's own table of attack defaults
    (sagsim.fusion.sensing.attacks uses it): validating a scenario loads no sagsim.fusion."""
    import subprocess
    import sys

    code = (
        "import sys, yaml\n"
        "from sagsim.envs import ScenarioError, load_scenario\n"
        "d = yaml.safe_load(open('scenarios/minimal.yaml'))\n"
        "d['bad_sources'] = {'agents': {'sat_0': 'bias'}, 'params': {'bias': {'offst': 1}}}\n"
        "try:\n"
        "    load_scenario(d)\n"
        "except ScenarioError as e:\n"
        "    assert 'params.bias.offst: unknown (allowed: offset)' in str(e), e\n"
        "else:\n"
        "    raise AssertionError('accepted')\n"
        "assert not [m for m in sys.modules if m.startswith('sagsim.fusion')]\n"
    )
    root = SCENARIOS.parent
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr
