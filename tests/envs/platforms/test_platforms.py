"""Tests for sagsim.envs.platforms: satellite power/storage, drone flight, ground-station
antennas."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sagsim.envs.platforms import (
    AT_BASE,
    DroneCommand,
    DroneFleet,
    DroneMode,
    GroundStations,
    SatelliteFleet,
    resolve_link,
)
from sagsim.envs.scenario.schema import GroundRadio, LinkParams, Radio, Scenario

SENSOR = {"kind": "optical", "gsd_nadir_m": 3.0, "swath_m": 20000}
BASE = {
    "name": "t",
    "epoch_utc": "2024-07-15T00:00:00Z",
    "duration_s": 3600,
    "step_s": 30,
    "region": {
        "bbox": {
            "lon_min_deg": 114.2,
            "lat_min_deg": 30.5,
            "lon_max_deg": 114.4,
            "lat_max_deg": 30.7,
        }
    },
    "ground_stations": [{"name": "gs", "lat_deg": 30.5, "lon_deg": 114.3}],
}
WALKER = {"planes": 1, "per_plane": 2, "altitude_m": 500_000, "inclination_deg": 97.4}
# Round numbers so the energy balances below are easy to check by hand.
POWER = {
    "battery_capacity_wh": 100.0,
    "initial_charge_fraction": 0.5,
    "min_charge_fraction": 0.2,
    "solar_power_w": 120.0,
    "bus_load_w": 20.0,
    "imaging_load_w": 40.0,
    "transmit_load_w": 30.0,
    "slew_load_w": 10.0,
}
TLE = (
    "ISS\n1 25544U 98067A   24196.50000000  .00016717  00000-0  10270-3 0  9990\n"
    "2 25544  51.6400 208.9163 0006317  69.9862  25.2906 15.50000000 10000"
)


def scenario(**sections: object) -> Scenario:
    data = copy.deepcopy(BASE)
    data.update(sections)
    return Scenario.model_validate(data)


def sat_fleet(**power: float) -> SatelliteFleet:
    group = {"name": "eo", "walker": WALKER, "sensor": SENSOR, "power": {**POWER, **power}}
    group["storage"] = {"capacity_bits": 1000.0, "initial_fill_fraction": 0.1}
    return SatelliteFleet.from_scenario(scenario(satellites=[group]))


def drone_fleet(count: int = 1, **params: float) -> DroneFleet:
    group = {
        "name": "uav",
        "count": count,
        "base_lat_deg": 30.6,
        "base_lon_deg": 114.3,
        "cruise_speed_mps": 10.0,
        "battery_capacity_wh": 100.0,
        "hover_power_w": 360.0,
        "cruise_power_w": 360.0,  # 0.1 Wh per second airborne
        "charge_power_w": 720.0,
        "reserve_fraction": 0.0,
        "sensor": SENSOR,
        **params,
    }
    return DroneFleet.from_scenario(scenario(drones=[group]), [[0.0, 0.0]])


# -- satellites: construction -----------------------------------------------------------------


def test_satellite_fleet_flattens_groups_and_resolves_radio():
    groups = [
        {"name": "a", "walker": WALKER, "sensor": SENSOR, "radio": {"tx_power_w": 20.0}},
        {"name": "b", "tle": TLE, "sensor": SENSOR, "slew_rate_deg_s": 2.0},
    ]
    sc = scenario(satellites=groups)
    fleet = SatelliteFleet.from_scenario(sc, [2, 1])
    assert fleet.names == ["a-0", "a-1", "b-0"]
    np.testing.assert_array_equal(fleet.group_index, [0, 0, 1])
    np.testing.assert_array_equal(
        fleet.tx_power_w, [20.0, 20.0, sc.comms.space_to_ground.tx_power_w]
    )
    np.testing.assert_array_equal(fleet.slew_rate_deg_s, [1.0, 1.0, 2.0])
    assert fleet.alive.all() and fleet.alive.dtype == bool
    with pytest.raises(ValueError, match="walker count"):
        SatelliteFleet.from_scenario(sc, [3, 1])
    with pytest.raises(ValueError, match="n_per_group is required"):
        SatelliteFleet.from_scenario(sc)


def test_resolve_link_overrides_only_given_fields():
    defaults = LinkParams(
        frequency_hz=8e9,
        tx_power_w=5.0,
        tx_antenna_gain_dbi=6.0,
        rx_antenna_gain_dbi=40.0,
        system_noise_temperature_k=150.0,
        bandwidth_hz=1e8,
    )
    assert resolve_link(defaults, None) is defaults
    tx = resolve_link(defaults, Radio(antenna_gain_dbi=12.0, bandwidth_hz=2e8))
    assert (tx.tx_antenna_gain_dbi, tx.bandwidth_hz, tx.tx_power_w) == (12.0, 2e8, 5.0)
    assert tx.rx_antenna_gain_dbi == 40.0
    rx = resolve_link(defaults, GroundRadio(antenna_gain_dbi=50.0))
    assert (rx.rx_antenna_gain_dbi, rx.tx_antenna_gain_dbi) == (50.0, 6.0)


# -- satellites: power --------------------------------------------------------------------------


def test_energy_balance_sunlit_eclipse_penumbra():
    fleet = sat_fleet()
    dt_s = 360.0  # 0.1 h: every watt is 0.1 Wh
    fleet.battery_wh[:] = 50.0
    out = fleet.step(dt_s, np.array([1.0, 0.0]), np.array([True, True]), np.array([False, True]))
    # sat 0: +12 solar − (20 + 40) × 0.1 = +6; sat 1: 0 − (20 + 40 + 30) × 0.1 = −9
    np.testing.assert_allclose(out.energy_used_wh, [6.0, 9.0])
    np.testing.assert_allclose(out.solar_in_wh, [12.0, 0.0])
    np.testing.assert_allclose(fleet.battery_wh, [56.0, 41.0])
    # Penumbra: half the array output; bus only, plus 36 s of slewing at 10 W = 0.1 Wh.
    out = fleet.step(dt_s, 0.5, False, False, slewing_s=np.array([36.0, 0.0]))
    np.testing.assert_allclose(out.energy_used_wh, [2.1, 2.0])
    np.testing.assert_allclose(fleet.battery_wh, [56.0 + 6.0 - 2.1, 41.0 + 6.0 - 2.0])
    np.testing.assert_array_equal(out.slewing_ok, [True, False])


def test_battery_clamps_at_capacity_and_zero():
    fleet = sat_fleet(initial_charge_fraction=0.99)
    fleet.step(3600.0, 1.0, False, False)  # +120 − 20 Wh
    np.testing.assert_array_equal(fleet.battery_wh, [100.0, 100.0])
    fleet.battery_wh[:] = 1.0
    fleet.step(3600.0, 0.0, False, False)  # −20 Wh from 1 Wh
    np.testing.assert_array_equal(fleet.battery_wh, [0.0, 0.0])


def test_requests_below_min_charge_are_refused_but_bus_load_runs():
    fleet = sat_fleet()
    fleet.battery_wh[:] = [20.0, 20.5]  # min charge is 20 Wh: sat 0 is at it, sat 1 above
    out = fleet.step(360.0, 0.0, True, True, 10.0)
    np.testing.assert_array_equal(out.imaging_ok, [False, True])
    np.testing.assert_array_equal(out.transmitting_ok, [False, True])
    np.testing.assert_array_equal(out.slewing_ok, [False, True])
    # Refused: bus only (2 Wh). Granted: (20 + 40 + 30) × 0.1 + 10 W × 10 s = 9 + 1/36 Wh.
    np.testing.assert_allclose(out.energy_used_wh, [2.0, 9.0 + 100.0 / 3600.0])
    np.testing.assert_allclose(fleet.battery_wh[0], 18.0)


def test_dead_satellite_is_inert():
    fleet = sat_fleet()
    fleet.alive[1] = False
    out = fleet.step(360.0, 1.0, True, True)
    assert out.energy_used_wh[1] == 0.0 and fleet.battery_wh[1] == 50.0
    assert not out.imaging_ok[1]
    assert not fleet.store([1.0, 1.0])[1]


# -- satellites: storage and slews ----------------------------------------------------------------


def test_storage_store_and_drain_limits():
    fleet = sat_fleet()  # 1000 bits capacity, 100 stored
    np.testing.assert_array_equal(fleet.store([900.0, 901.0]), [True, False])
    np.testing.assert_array_equal(fleet.storage_bits, [1000.0, 100.0])
    np.testing.assert_array_equal(fleet.store(0.0), [True, True])
    np.testing.assert_array_equal(fleet.drain([300.0, 250.0]), [300.0, 100.0])
    np.testing.assert_array_equal(fleet.storage_bits, [700.0, 0.0])
    with pytest.raises(ValueError):
        fleet.store([-1.0, 0.0])


def test_slew_time_is_angle_over_rate():
    fleet = sat_fleet()
    np.testing.assert_allclose(fleet.slew_time_s(np.array([30.0, -12.5])), [30.0, 12.5])


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(1.0, 7200.0),
            st.floats(0.0, 1.0),
            st.booleans(),
            st.booleans(),
            st.floats(0.0, 7200.0),
            st.floats(0.0, 500.0),
            st.floats(0.0, 500.0),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_property_battery_and_storage_stay_in_bounds(steps):
    fleet = sat_fleet()
    for dt_s, sun, imaging, tx, slew_s, store, drain in steps:
        fleet.step(dt_s, sun, imaging, tx, slew_s)
        fleet.store(store)
        fleet.drain(drain)
        assert np.all((fleet.battery_wh >= 0) & (fleet.battery_wh <= fleet.battery_capacity_wh))
        assert np.all(fleet.storage_bits >= 0)
        assert np.all(fleet.storage_bits <= fleet.storage_capacity_bits)


# -- drones ------------------------------------------------------------------------------------


def test_drone_fleet_from_scenario():
    fleet = drone_fleet(count=2)
    assert fleet.names == ["uav-0", "uav-1"]
    np.testing.assert_array_equal(fleet.position_xy_m, [[0.0, 0.0], [0.0, 0.0]])
    assert (fleet.mode == DroneMode.AT_BASE).all() and fleet.alive.all()
    np.testing.assert_array_equal(fleet.battery_wh, [100.0, 100.0])
    np.testing.assert_array_equal(fleet.altitude_m, [120.0, 120.0])
    one_group = scenario(
        drones=[{"name": "u", "base_lat_deg": 30.6, "base_lon_deg": 114.3, "sensor": SENSOR}]
    )
    with pytest.raises(ValueError, match="base_xy_m_per_group"):
        DroneFleet.from_scenario(one_group, [[0.0, 0.0], [1.0, 1.0]])


def test_drone_reaches_target_after_d_over_v_without_overshoot():
    fleet = drone_fleet()
    target = np.array([[300.0, 400.0]])  # 500 m at 10 m/s: 50 s
    out = fleet.step(30.0, target)
    np.testing.assert_allclose(fleet.position_xy_m, [[180.0, 240.0]])
    assert fleet.mode[0] == DroneMode.FLYING
    np.testing.assert_allclose(out.energy_used_wh, [3.0])
    out = fleet.step(30.0, target)  # 20 s flight, then 10 s hovering at the target
    np.testing.assert_array_equal(fleet.position_xy_m, target)
    assert fleet.mode[0] == DroneMode.HOVERING
    np.testing.assert_allclose(out.flight_time_s, [20.0])
    np.testing.assert_allclose(out.hover_time_s, [10.0])
    np.testing.assert_allclose(fleet.distance_flown_m, [500.0])
    fleet.step(30.0, target)  # already there: hover, no distance
    np.testing.assert_array_equal(fleet.position_xy_m, target)
    np.testing.assert_allclose(fleet.distance_flown_m, [500.0])
    np.testing.assert_allclose(fleet.battery_wh, [100.0 - 9.0])
    fleet.step(30.0, np.array([[300.0, 0.0]]))  # 400 m away: distance keeps accumulating
    np.testing.assert_allclose(fleet.distance_flown_m, [800.0])


def test_drone_nan_target_hovers_and_energy_queries():
    fleet = drone_fleet()
    fleet.step(10.0, np.array([[100.0, 0.0]]))
    out = fleet.step(10.0, np.array([[np.nan, np.nan]]))
    assert fleet.mode[0] == DroneMode.HOVERING
    np.testing.assert_array_equal(fleet.position_xy_m, [[100.0, 0.0]])
    np.testing.assert_allclose(out.energy_used_wh, [1.0])
    np.testing.assert_allclose(fleet.energy_to_return_wh(), [1.0])  # 10 s at 360 W
    np.testing.assert_allclose(fleet.endurance_s(), [980.0])  # 98 Wh at 360 W
    np.testing.assert_allclose(fleet.range_remaining_m(), [9800.0])


def test_flight_rates_and_at_base():
    fleet = drone_fleet(count=2, reserve_fraction=0.5)
    rates = fleet.rates  # FlightRates: what each step uses, from the fixed parameters
    np.testing.assert_array_equal(rates.rows, [0, 1])
    np.testing.assert_allclose(rates.cruise_wh_per_s, 0.1)
    np.testing.assert_allclose(rates.charge_wh_per_s, 0.2)
    np.testing.assert_allclose(rates.return_wh_per_m, 0.1 / 10.0 * 1.5)
    np.testing.assert_allclose(fleet.return_wh_per_m, rates.return_wh_per_m)
    assert type(AT_BASE) is int and AT_BASE == DroneMode.AT_BASE
    np.testing.assert_array_equal(fleet.mode, AT_BASE)


def test_return_lands_and_recharges_at_base():
    fleet = drone_fleet()
    fleet.step(20.0, np.array([[200.0, 0.0]]))  # −2 Wh
    out = fleet.step(30.0, command=np.array([DroneCommand.RETURN]))
    # 20 s home (−2 Wh), then 10 s charging at 720 W (+2 Wh)
    np.testing.assert_array_equal(fleet.position_xy_m, [[0.0, 0.0]])
    assert fleet.mode[0] == DroneMode.AT_BASE
    np.testing.assert_allclose(out.charged_wh, [2.0])
    np.testing.assert_allclose(fleet.battery_wh, [98.0])
    fleet.step(3600.0, command=np.array([DroneCommand.HOVER]))  # landed hover: charges to full
    np.testing.assert_allclose(fleet.battery_wh, [100.0])
    assert fleet.mode[0] == DroneMode.AT_BASE


def test_forced_return_when_reserve_is_hit():
    fleet = drone_fleet(reserve_fraction=0.5)
    fleet.battery_wh[:] = 20.0
    far = np.array([[10_000.0, 0.0]])
    # Outbound steps cost 1 Wh and add 1 Wh of return energy: after 8 steps B = 12 and
    # return = 8 (12 ≥ 8 × 1.5); a 9th would leave 11 < 9 × 1.5, so it is forced home.
    for k in range(9):
        out = fleet.step(10.0, far)
        assert out.forced_return[0] == (k == 8)
        # The invariant the rule protects: enough charge to get home with the reserve.
        assert fleet.battery_wh[0] >= fleet.energy_to_return_wh()[0] * 1.5 - 1e-9
    np.testing.assert_allclose(fleet.position_xy_m, [[700.0, 0.0]])
    assert fleet.mode[0] == DroneMode.RETURNING and fleet.alive[0]
    for _ in range(7):
        fleet.step(10.0, far)  # the latch ignores GOTO until landing
    np.testing.assert_array_equal(fleet.position_xy_m, [[0.0, 0.0]])
    assert fleet.mode[0] == DroneMode.AT_BASE and not fleet.forced_return[0]
    np.testing.assert_allclose(fleet.distance_flown_m, [1600.0])
    np.testing.assert_allclose(fleet.battery_wh, [20.0 - 16.0])


def test_forced_return_latches_until_landing():
    fleet = drone_fleet(reserve_fraction=0.5)
    fleet.battery_wh[:] = 12.5
    fleet.position_xy_m[:] = [[800.0, 0.0]]
    fleet.mode[:] = DroneMode.HOVERING
    out = fleet.step(10.0, np.array([[10_000.0, 0.0]]))
    assert out.forced_return[0] and fleet.mode[0] == DroneMode.RETURNING
    np.testing.assert_allclose(fleet.position_xy_m, [[700.0, 0.0]])
    fleet.step(10.0, np.array([[10_000.0, 0.0]]))  # GOTO ignored while the latch holds
    np.testing.assert_allclose(fleet.position_xy_m, [[600.0, 0.0]])
    assert fleet.forced_return[0]


def test_drone_running_dry_away_from_base_is_lost():
    fleet = drone_fleet(count=3)
    fleet.battery_wh[:] = 0.5  # 5 s of flight
    fleet.position_xy_m[:] = [[1000.0, 0.0], [0.0, 0.0], [40.0, 0.0]]
    fleet.mode[:] = DroneMode.HOVERING
    out = fleet.step(30.0, np.array([[2000.0, 0.0], [0.0, 0.0], [500.0, 0.0]]))
    # Drone 0 is forced home but falls 50 m closer. Drone 1, over its base, is forced to
    # land and charges for the whole step. Drone 2 is forced home and lands after 4 s.
    np.testing.assert_array_equal(out.lost, [True, False, False])
    np.testing.assert_array_equal(out.forced_return, [True, True, True])
    np.testing.assert_array_equal(fleet.alive, [False, True, True])
    assert fleet.n_lost == 1
    np.testing.assert_allclose(fleet.position_xy_m, [[950.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    np.testing.assert_allclose(out.energy_used_wh, [0.5, 0.0, 0.4])
    np.testing.assert_array_equal(fleet.mode[1:], [DroneMode.AT_BASE, DroneMode.AT_BASE])
    np.testing.assert_allclose(fleet.battery_wh, [0.0, 0.5 + 6.0, 0.1 + 26 * 0.2])
    # A lost drone is inert.
    out = fleet.step(30.0, command=np.array([2, 1, 1]))
    assert out.energy_used_wh[0] == 0.0
    np.testing.assert_allclose(fleet.position_xy_m[0], [950.0, 0.0])


def test_returning_drone_that_runs_dry_short_of_base_is_lost():
    fleet = drone_fleet()
    fleet.battery_wh[:] = 0.5  # 50 m of flight, base 60 m away
    fleet.position_xy_m[:] = [[0.0, 60.0]]
    fleet.mode[:] = DroneMode.HOVERING
    out = fleet.step(30.0, command=np.array([DroneCommand.RETURN]))
    assert out.lost[0] and not fleet.alive[0]
    np.testing.assert_allclose(fleet.position_xy_m, [[0.0, 10.0]])


def test_goto_needs_a_finite_target():
    fleet = drone_fleet()
    with pytest.raises(ValueError, match="GOTO"):
        fleet.step(1.0, np.array([[np.nan, 0.0]]), np.array([DroneCommand.GOTO]))


@settings(max_examples=30, deadline=None)
@given(
    start=hnp.arrays(float, (3, 2), elements=st.floats(-5000.0, 5000.0)),
    target=hnp.arrays(float, (3, 2), elements=st.floats(-5000.0, 5000.0)),
    dts=st.lists(st.floats(0.5, 120.0), min_size=1, max_size=10),
    charge=st.floats(0.0, 1.0),
)
def test_property_drone_never_moves_away_from_its_target(start, target, dts, charge):
    fleet = drone_fleet(count=3, reserve_fraction=0.15)
    fleet.position_xy_m[:] = start
    fleet.mode[:] = DroneMode.HOVERING
    fleet.battery_wh[:] = 100.0 * charge
    for dt_s in dts:
        before = np.hypot(*(target - fleet.position_xy_m).T)
        out = fleet.step(dt_s, target)
        after = np.hypot(*(target - fleet.position_xy_m).T)
        obeyed = fleet.alive & ~out.forced_return
        assert np.all(after[obeyed] <= before[obeyed] + 1e-6)
        assert np.all(fleet.battery_wh >= 0)
        assert np.all(fleet.battery_wh <= fleet.battery_capacity_wh)


# -- ground stations ------------------------------------------------------------------------------


def stations(antennas: list[int]) -> GroundStations:
    gs = [
        {"name": f"gs{i}", "lat_deg": 30.0, "lon_deg": 114.0 + i, "antennas": a}
        for i, a in enumerate(antennas)
    ]
    gs[0]["radio"] = {"antenna_gain_dbi": 50.0}
    sats = [{"name": "eo", "walker": WALKER, "sensor": SENSOR}]
    return GroundStations.from_scenario(scenario(ground_stations=gs, satellites=sats))


def test_ground_stations_from_scenario():
    gs = stations([1, 3])
    assert gs.names == ["gs0", "gs1"]
    np.testing.assert_array_equal(gs.antennas, [1, 3])
    np.testing.assert_array_equal(gs.rx_antenna_gain_dbi, [50.0, 45.0])
    np.testing.assert_array_equal(gs.system_noise_temperature_k, [150.0, 150.0])


def test_assign_antennas_respects_counts_and_priority():
    gs = stations([2, 1])
    requests = np.array([[1, 0], [1, 0], [1, 0], [0, 1], [0, 1]], dtype=bool)
    granted = gs.assign_antennas(requests, np.array([1.0, 3.0, 2.0, 0.0, 5.0]))
    expected = np.array([[0, 0], [1, 0], [1, 0], [0, 0], [0, 1]], dtype=bool)
    np.testing.assert_array_equal(granted, expected)


def test_assign_antennas_reroutes_a_bumped_satellite():
    # Sat 1 (mid priority) prefers gs0, is bumped there by sat 2 and goes to gs1, which
    # then no longer serves the low-priority sat 0.
    gs = stations([1, 1])
    requests = np.array([[0, 1], [1, 1], [1, 0]], dtype=bool)
    granted = gs.assign_antennas(requests, np.array([0.0, 1.0, 2.0]))
    np.testing.assert_array_equal(granted, [[0, 0], [0, 1], [1, 0]])


@settings(max_examples=30, deadline=None)
@given(
    requests=hnp.arrays(bool, (12, 3)),
    priority=hnp.arrays(float, 12, elements=st.floats(0.0, 10.0)),
    antennas=st.lists(st.integers(1, 3), min_size=3, max_size=3),
)
def test_property_assignment_is_feasible_and_priority_stable(requests, priority, antennas):
    gs = stations(antennas)
    granted = gs.assign_antennas(requests, priority)
    assert not np.any(granted & ~requests)
    assert np.all(granted.sum(axis=0) <= gs.antennas)
    assert np.all(granted.sum(axis=1) <= 1)
    for s in np.flatnonzero(~granted.any(axis=1)):
        for g in np.flatnonzero(requests[s]):
            served = granted[:, g]
            assert served.sum() == gs.antennas[g]  # no free antenna left at g
            assert np.all(priority[served] >= priority[s])  # all served outrank s


@given(
    st.lists(
        st.tuples(
            st.floats(1.0, 600.0),
            st.floats(0.0, 1.0),
            st.booleans(),
            st.booleans(),
            st.floats(0.0, 600.0),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_property_satellite_energy_is_conserved(steps):
    """Δbattery = solar in − energy used on every step, except where the battery clamps."""
    fleet = sat_fleet()
    for dt_s, sun, imaging, tx, slew_s in steps:
        before = fleet.battery_wh.copy()
        out = fleet.step(dt_s, sun, imaging, tx, slew_s)
        unclamped = before + out.solar_in_wh - out.energy_used_wh
        expected = np.clip(unclamped, 0.0, fleet.battery_capacity_wh)
        np.testing.assert_allclose(fleet.battery_wh, expected, rtol=0, atol=1e-9)
        assert np.all(out.energy_used_wh >= fleet.bus_load_w * dt_s / 3600.0 - 1e-12)


@given(
    targets=st.lists(
        st.tuples(st.floats(-3000.0, 3000.0), st.floats(-3000.0, 3000.0)),
        min_size=1,
        max_size=40,
    ),
    dt_s=st.floats(1.0, 60.0),
    reserve=st.floats(0.05, 0.5),
)
def test_property_obeying_the_reserve_a_drone_is_never_lost(targets, dt_s, reserve):
    """Whatever it is told, a drone that starts charged at its base and keeps the
    return-to-base reserve always gets home: none is ever lost."""
    fleet = drone_fleet(count=1, reserve_fraction=reserve)
    for x_m, y_m in targets:
        for _ in range(10):
            fleet.step(dt_s, np.array([[x_m, y_m]]))
            assert fleet.alive.all() and fleet.n_lost == 0
            assert fleet.battery_wh[0] >= 0.0
