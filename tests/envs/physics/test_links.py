"""sagsim.envs.physics.links: path loss, link budget, capacity, latency, line of sight,
horizons, ISLs."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sagsim.envs.physics import geodesy, links

# Hand-computed dB values below are quoted to 1e-4 dB.
DB_TOLERANCE = 1e-4
# Capacities follow from those dB values; 1e-6 relative covers their rounding.
CAPACITY_RTOL = 1e-6

# A LEO X-band downlink used for the hand computation.
X_BAND = links.LinkBudget(
    tx_power_w=10.0,
    tx_antenna_gain_dbi=10.0,
    rx_antenna_gain_dbi=40.0,
    frequency_hz=8.2e9,
    bandwidth_hz=100e6,
    system_noise_temperature_k=500.0,
    losses_db=3.0,
    shannon_efficiency=0.7,
)


def test_free_space_path_loss_known_value():
    # 20·log10(4π · 1000 m · 2.4e9 Hz / 299792458 m/s) = 20·log10(100600.561) = 100.0520 dB
    assert links.free_space_path_loss_db(1000.0, 2.4e9) == pytest.approx(100.0520, abs=DB_TOLERANCE)
    # +6.0206 dB per doubling of distance or frequency, broadcasting over both.
    loss = links.free_space_path_loss_db(np.array([[1000.0], [2000.0]]), np.array([2.4e9, 4.8e9]))
    assert loss.shape == (2, 2)
    assert loss[1, 1] - loss[0, 0] == pytest.approx(40 * math.log10(2), abs=1e-12)


def test_link_budget_by_hand():
    # EIRP = 10·log10(10 W) + 10 dBi                                   =   20.0000 dBW
    # FSPL = 20·log10(4π · 1.5e6 m · 8.2e9 Hz / c)                     =  174.2459 dB
    # N    = 10·log10(1.380649e-23 J/K · 500 K · 1e8 Hz)               = −121.6095 dBW
    # SNR  = 20 + 40 − 174.2459 − 3 − (−121.6095)                      =    4.3636 dB
    # C    = 0.7 · 1e8 Hz · log2(1 + 10^(0.43636)) = 0.7e8 · log2(3.73123) = 132.9756 Mbit/s
    assert X_BAND.eirp_dbw == pytest.approx(20.0, abs=DB_TOLERANCE)
    assert X_BAND.noise_power_dbw == pytest.approx(-121.6095, abs=DB_TOLERANCE)
    assert X_BAND.snr_db(1.5e6) == pytest.approx(4.3636, abs=DB_TOLERANCE)
    assert X_BAND.capacity_bps(1.5e6) == pytest.approx(132.9756e6, rel=CAPACITY_RTOL)
    assert X_BAND.bits_per_step(1.5e6, 10.0) == pytest.approx(1329.756e6, rel=CAPACITY_RTOL)


def test_shannon_capacity_properties():
    distance = np.array([500e3, 1000e3, 2000e3, 3000e3])
    capacity = X_BAND.capacity_bps(distance)
    assert capacity.shape == (4,)
    assert np.all(np.diff(capacity) < 0)  # farther is slower
    # At SNR = 0 dB capacity is exactly efficiency · B (log2(2) = 1): solve for that range.
    snr_at_1m = X_BAND.snr_db(1.0)
    d0 = 10 ** (snr_at_1m / 20)  # SNR falls 20 dB per decade of distance
    assert X_BAND.snr_db(d0) == pytest.approx(0.0, abs=1e-9)
    assert X_BAND.capacity_bps(d0) == pytest.approx(0.7 * 100e6, rel=1e-9)


def test_link_budget_validates():
    with pytest.raises(ValueError, match="bandwidth_hz"):
        links.LinkBudget(1.0, 0.0, 0.0, 2.4e9, 0.0, 290.0)
    with pytest.raises(ValueError, match="shannon_efficiency"):
        links.LinkBudget(1.0, 0.0, 0.0, 2.4e9, 1e6, 290.0, shannon_efficiency=1.5)


def test_latency():
    # 1e6 m / 299792458 m/s = 3.33564 ms
    assert links.propagation_latency_s(1.0e6) == pytest.approx(3.33564095e-3, rel=1e-8)


def _equatorial(altitude_m, lon_deg):
    return geodesy.geodetic_to_ecef(lon_deg, 0.0, altitude_m)


def test_occlusion_basic():
    a = _equatorial(500e3, 0.0)
    assert not links.line_of_sight(a, _equatorial(500e3, 180.0))  # opposite sides
    assert links.line_of_sight(a, _equatorial(500e3, 1.0))  # nearby, above the surface
    north = geodesy.geodetic_to_ecef(0.0, 90.0, 500e3)
    south = geodesy.geodetic_to_ecef(0.0, -90.0, 500e3)
    assert not links.line_of_sight(north, south)
    # A ground point sees a satellite straight above it (an endpoint on the surface).
    assert links.line_of_sight(
        geodesy.geodetic_to_ecef(10.0, 45.0, 0.0), geodesy.geodetic_to_ecef(10.0, 45.0, 5e5)
    )


def test_grazing_altitude_exact_in_equatorial_plane():
    # In the equatorial plane the inflated ellipsoid is a circle of radius a + g, and two
    # satellites at radius r separated by central angle 2φ have closest approach r·cos φ.
    r = geodesy.WGS84_A_M + 1000e3
    half_angle_deg = np.linspace(1.0, 40.0, 200)
    a = _equatorial(1000e3, -half_angle_deg)
    b = _equatorial(1000e3, half_angle_deg)
    closest = r * np.cos(np.radians(half_angle_deg))
    for grazing in (0.0, 80e3, 300e3):
        expected = closest >= geodesy.WGS84_A_M + grazing
        np.testing.assert_array_equal(links.line_of_sight(a, b, grazing), expected)


@settings(max_examples=80, deadline=None)
@given(
    st.floats(-180, 180), st.floats(-90, 90), st.floats(0.0, 3e6),
    st.floats(-180, 180), st.floats(-90, 90), st.floats(0.0, 3e6),
    st.floats(0.0, 200e3),
)  # fmt: skip
def test_line_of_sight_symmetric(lon1, lat1, alt1, lon2, lat2, alt2, grazing):
    a = geodesy.geodetic_to_ecef(lon1, lat1, alt1)
    b = geodesy.geodetic_to_ecef(lon2, lat2, alt2)
    assert links.line_of_sight(a, b, grazing) == links.line_of_sight(b, a, grazing)


def test_radio_horizon_and_air_ground():
    # sqrt(2 · 4/3 · 6371008.8 m · 100 m) = 41218.1 m: a drone at 100 m to a ground antenna.
    assert links.radio_horizon_m(100.0, 0.0) == pytest.approx(41218.147, abs=1e-3)
    # ... plus sqrt(2 · 4/3 · R · 1.5 m) for a 1.5 m mast: 46266.3 m.
    assert links.radio_horizon_m(100.0, 1.5) == pytest.approx(46266.319, abs=1e-3)
    ok = links.air_ground_link_ok(
        np.array([10e3, 45e3, 47e3, 30e3]), 100.0, 1.5, [50e3, 50e3, 50e3, 20e3]
    )
    np.testing.assert_array_equal(ok, [True, True, False, False])


def test_isl_matrix():
    rng = np.random.default_rng(3)
    lon, lat = rng.uniform(-180, 180, 40), rng.uniform(-90, 90, 40)
    r = geodesy.geodetic_to_ecef(lon, lat, rng.uniform(400e3, 1200e3, 40))
    feasible = links.isl_feasibility_matrix(r, max_range_m=5000e3, grazing_altitude_m=80e3)
    assert feasible.shape == (40, 40) and feasible.dtype == bool
    np.testing.assert_array_equal(feasible, feasible.T)
    assert not feasible.diagonal().any()
    assert feasible.any() and not feasible.all()
    i, j = 3, 17
    assert feasible[i, j] == links.isl_feasible(r[i], r[j], 5000e3, 80e3)
    assert not links.isl_feasible(r[i], r[j], 0.0, 0.0)  # out of range


def test_ground_station_visible():
    np.testing.assert_array_equal(
        links.ground_station_visible([-1.0, 5.0, 10.0], 5.0), [False, True, True]
    )
