"""sagsim.envs.physics.geodesy against pyproj references, known values and skyfield look
angles."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from skyfield.api import EarthSatellite, load, wgs84
from skyfield.framelib import itrs

from sagsim.envs.physics import geodesy

# Acceptance criterion for look angles vs skyfield (they agree to ~1e-12 deg in practice).
LOOK_ANGLE_TOLERANCE_DEG = 1e-6
# Slant range vs skyfield: float64 on ~1e7 m coordinates gives ~1e-8 m; a few mm is the spec.
SLANT_RANGE_TOLERANCE_M = 3e-3
# geodetic→ECEF→geodetic→ECEF near the surface (|h| <= 10 km): PROJ's inverse is good to ~1 µm.
ROUND_TRIP_TOLERANCE_M = 1e-5
# ... and up to 2000 km: PROJ's closed-form (Bowring) inverse loses accuracy with height,
# measured max ≈ 3 cm at 2000 km (≈ 1 cm at 1000 km); irrelevant for orbits, stated in geo.
ROUND_TRIP_ORBIT_TOLERANCE_M = 0.05
# numpy ENU rotation vs PROJ topocentric: both exact, differences are float64 rounding on 1e7 m.
ENU_TOLERANCE_M = 1e-6
# WGS84 defined values are exact; PROJ reproduces them to rounding.
KNOWN_POINT_TOLERANCE_M = 1e-6

# ISS (ZARYA) TLE from the skyfield documentation ("Earth Satellites" page, epoch 2014-01-20).
ISS_TLE = (
    "1 25544U 98067A   14020.93268519  .00009878  00000-0  18200-3 0  5082",
    "2 25544  51.6498 109.4756 0003572  55.9686 274.8005 15.49815350868473",
)

lon_st = st.floats(-180.0, 180.0)
lat_st = st.floats(-90.0, 90.0)
alt_st = st.floats(-1_000.0, 2_000_000.0)


def test_known_points_geodetic_to_ecef():
    points = geodesy.geodetic_to_ecef([0.0, 90.0, 0.0, 0.0], [0.0, 0.0, 90.0, -90.0], 0.0)
    expected = [
        [6378137.0, 0.0, 0.0],
        [0.0, 6378137.0, 0.0],
        [0.0, 0.0, 6356752.314245],  # b = a(1 − f), NIMA TR8350.2
        [0.0, 0.0, -6356752.314245],
    ]
    np.testing.assert_allclose(points, expected, atol=KNOWN_POINT_TOLERANCE_M)
    np.testing.assert_allclose(geodesy.WGS84_B_M, 6356752.314245, atol=1e-6)


def test_ecef_to_geodetic_known_point_and_shapes():
    lon, lat, alt = geodesy.ecef_to_geodetic(np.array([[6378137.0 + 1000.0, 0.0, 0.0]]))
    assert lon.shape == lat.shape == alt.shape == (1,)
    np.testing.assert_allclose([lon[0], lat[0], alt[0]], [0.0, 0.0, 1000.0], atol=1e-9)
    grid = geodesy.geodetic_to_ecef(np.zeros((2, 3)), np.zeros((2, 3)), 0.0)
    assert grid.shape == (2, 3, 3)
    assert geodesy.ecef_to_geodetic(grid)[0].shape == (2, 3)


@settings(max_examples=60, deadline=None)
@given(lon=lon_st, lat=lat_st, alt=st.floats(-1_000.0, 10_000.0))
def test_geodetic_ecef_round_trip_near_surface(lon, lat, alt):
    r = geodesy.geodetic_to_ecef(lon, lat, alt)
    # Compare in ECEF: longitude is undefined at the poles and ±180 is one meridian.
    r_back = geodesy.geodetic_to_ecef(*geodesy.ecef_to_geodetic(r))
    np.testing.assert_allclose(r_back, r, atol=ROUND_TRIP_TOLERANCE_M)
    _, _, alt_back = geodesy.ecef_to_geodetic(r)
    assert alt_back == pytest.approx(alt, abs=ROUND_TRIP_TOLERANCE_M)


@settings(max_examples=60, deadline=None)
@given(lon=lon_st, lat=lat_st, alt=alt_st)
def test_geodetic_ecef_round_trip_to_orbit_heights(lon, lat, alt):
    r = geodesy.geodetic_to_ecef(lon, lat, alt)
    r_back = geodesy.geodetic_to_ecef(*geodesy.ecef_to_geodetic(r))
    np.testing.assert_allclose(r_back, r, atol=ROUND_TRIP_ORBIT_TOLERANCE_M)


@settings(max_examples=60, deadline=None)
@given(lon0=lon_st, lat0=lat_st, alt0=alt_st, lon=lon_st, lat=lat_st, alt=alt_st)
def test_ecef_enu_round_trip(lon0, lat0, alt0, lon, lat, alt):
    r = geodesy.geodetic_to_ecef(lon, lat, alt)
    enu = geodesy.ecef_to_enu(r, lat0, lon0, alt0)
    np.testing.assert_allclose(geodesy.enu_to_ecef(enu, lat0, lon0, alt0), r, atol=ENU_TOLERANCE_M)
    # A rotation preserves the distance to the origin.
    r0 = geodesy.geodetic_to_ecef(lon0, lat0, alt0)
    assert np.linalg.norm(enu) == pytest.approx(np.linalg.norm(r - r0), abs=ENU_TOLERANCE_M)


@pytest.mark.parametrize(
    ("lat0", "lon0", "alt0"),
    [(30.5, 114.3, 25.0), (0.0, 0.0, 0.0), (89.999, 179.9, 100.0), (-67.6, -68.1, 3000.0)],
)
def test_enu_matches_pyproj_topocentric(lat0, lon0, alt0):
    rng = np.random.default_rng(1)
    lon = lon0 + rng.uniform(-15.0, 15.0, 200)
    lat = np.clip(lat0 + rng.uniform(-15.0, 15.0, 200), -90.0, 90.0)
    alt = rng.uniform(-100.0, 1.0e6, 200)
    enu = geodesy.ecef_to_enu(geodesy.geodetic_to_ecef(lon, lat, alt), lat0, lon0, alt0)
    ref = np.stack(geodesy.topocentric_transformer(lat0, lon0, alt0).transform(lon, lat, alt), -1)
    np.testing.assert_allclose(enu, ref, atol=ENU_TOLERANCE_M)


def test_enu_rotation_is_orthonormal_and_broadcasts():
    rot = geodesy.enu_rotation(np.linspace(-90, 90, 7)[:, None], np.linspace(-180, 180, 5)[None, :])
    assert rot.shape == (7, 5, 3, 3)
    eye = np.broadcast_to(np.eye(3), rot.shape)
    np.testing.assert_allclose(rot @ np.swapaxes(rot, -1, -2), eye, atol=1e-15)
    np.testing.assert_allclose(np.linalg.det(rot), 1.0, atol=1e-15)  # right-handed


def test_geodesic_distance_known_values():
    # GeographicLib documentation (Python package, "Examples"): Wellington, NZ (41.32S, 174.81E)
    # → Salamanca, Spain (40.96N, 5.50W) on WGS84: s12 = 19959679.267353 m.
    d = geodesy.geodesic_distance_m(174.81, -41.32, -5.50, 40.96)
    assert d == pytest.approx(19959679.267353, abs=1e-3)
    # GeographicLib docs (GeodSolve): JFK (40.6N, 73.8W) → LHR (51.6N, 0.5W) = 5551759.400319 m.
    d = geodesy.geodesic_distance_m([-73.8, -0.5], [40.6, 51.6], [-0.5, -73.8], [51.6, 40.6])
    np.testing.assert_allclose(d, 5551759.400319, atol=1e-3)


def test_geodesic_distance_quarter_meridian():
    # Equator → pole along a meridian: WGS84 quarter meridian 10001965.729 m (Karney 2013).
    assert geodesy.geodesic_distance_m(0.0, 0.0, 0.0, 90.0) == pytest.approx(10001965.729, abs=1e-3)


@pytest.fixture(scope="module")
def iss_track():
    ts = load.timescale(builtin=True)
    sat = EarthSatellite(*ISS_TLE, "ISS (ZARYA)", ts)
    t = ts.utc(2014, 1, 21, np.linspace(0.0, 24.0, 100))
    return sat, t, sat.at(t).frame_xyz(itrs).m.T


@pytest.mark.parametrize(
    ("lat", "lon", "alt"),
    [
        (30.5, 114.3, 30.0),  # Wuhan
        (0.0, 0.0, 0.0),  # equator
        (78.23, 15.41, 500.0),  # Svalbard, high latitude
        (-10.0, 179.95, 100.0),  # next to the antimeridian
        (5.0, -179.99, 0.0),
        (89.9, -120.0, 0.0),  # near the pole
    ],
)
def test_look_angles_match_skyfield(iss_track, lat, lon, alt):
    # skyfield's altaz() of (satellite − station) is topocentric in ITRS about the WGS84
    # normal; with the builtin timescale polar motion is zero, so it equals our ITRS ENU.
    sat, t, r_ecef_m = iss_track
    elevation, azimuth, distance = (sat - wgs84.latlon(lat, lon, elevation_m=alt)).at(t).altaz()
    az, el, rng = geodesy.look_angles(lat, lon, alt, r_ecef_m)
    daz = (az - azimuth.degrees + 180.0) % 360.0 - 180.0
    np.testing.assert_allclose(daz, 0.0, atol=LOOK_ANGLE_TOLERANCE_DEG)
    np.testing.assert_allclose(el, elevation.degrees, atol=LOOK_ANGLE_TOLERANCE_DEG)
    np.testing.assert_allclose(rng, distance.m, atol=SLANT_RANGE_TOLERANCE_M)


def test_look_angles_known_geometry():
    # Straight up from (lat 45, lon 10, 0 m): the target 1000 km along the ellipsoid normal.
    target = geodesy.geodetic_to_ecef(10.0, 45.0, 1.0e6)
    _, el, rng = geodesy.look_angles(45.0, 10.0, 0.0, target)
    assert el == pytest.approx(90.0, abs=1e-9)
    assert rng == pytest.approx(1.0e6, abs=1e-6)
    # Due east at the equator along the horizon: azimuth 90, elevation ~0 (slightly below).
    az, el, _ = geodesy.look_angles(0.0, 0.0, 0.0, np.array([6378137.0, 1000.0, 0.0]))
    assert az == pytest.approx(90.0, abs=1e-12)
    assert el == pytest.approx(0.0, abs=1e-12)


def test_look_angles_broadcast_observers_against_targets(iss_track):
    _, _, r_ecef_m = iss_track
    lat = np.array([30.5, 0.0, -45.0])
    lon = np.array([114.3, 179.9, -60.0])
    az, el, rng = geodesy.look_angles(lat[:, None], lon[:, None], 0.0, r_ecef_m[None, :, :])
    assert az.shape == el.shape == rng.shape == (3, len(r_ecef_m))
    r_obs = geodesy.geodetic_to_ecef(lon, lat, 0.0)
    rot = geodesy.enu_rotation(lat, lon)
    fast = geodesy.look_angles_from_ecef(r_obs[:, None, :], rot[:, None], r_ecef_m[None])
    for i in range(3):  # the vectorised result equals per-observer calls
        single = geodesy.look_angles(lat[i], lon[i], 0.0, r_ecef_m)
        for full, fast_part, one in zip((az, el, rng), fast, single, strict=True):
            np.testing.assert_allclose(full[i], one, rtol=0, atol=1e-9)
            np.testing.assert_allclose(fast_part[i], one, rtol=0, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(lon=lon_st, lat=lat_st, alt=alt_st, tlon=lon_st, tlat=lat_st, talt=alt_st)
def test_look_angle_ranges(lon, lat, alt, tlon, tlat, talt):
    az, el, rng = geodesy.look_angles(lat, lon, alt, geodesy.geodetic_to_ecef(tlon, tlat, talt))
    assert 0.0 <= az < 360.0
    assert -90.0 <= el <= 90.0
    assert rng >= 0.0


def test_gaussian_radius_bounds():
    # sqrt(M·N) grows from b at the equator to a²/b at the poles.
    r = geodesy.gaussian_radius_m(np.array([0.0, 45.0, 90.0]))
    assert r[0] == pytest.approx(geodesy.WGS84_B_M, rel=1e-12)  # sqrt(M·N) = b at the equator
    assert r[2] == pytest.approx(geodesy.WGS84_A_M**2 / geodesy.WGS84_B_M, rel=1e-12)
    assert np.all(np.diff(r) > 0)
