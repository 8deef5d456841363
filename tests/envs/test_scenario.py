"""Scenario loading: the shipped files load, and every kind of bad input is one clear line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from envs import ScenarioError, load_scenario
from envs.orbits import tle_checksum
from envs.schema import Scenario
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
    from envs import parallel_env

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
