"""sagsim.envs.physics.sensor_geometry: ray/ellipsoid footprints, swath, GSD,
misregistration."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sagsim.envs.physics import geodesy, sensor_geometry
from sagsim.envs.physics.sensor_geometry import gsd_m, misregistration_m, spherical_look_geometry

# Ellipsoid vs the sphere of the Gaussian radius at the sub-satellite latitude: the
# ellipsoid's curvature in the look azimuth differs from sqrt(M·N) by < e²/2 ≈ 0.34 %, and
# ground range depends on R only through the curvature correction, so the difference is
# ~2e-5 at 20° half-angle (measured) and far less below.
SPHERE_VS_ELLIPSOID_RTOL = 5e-5
# A flat Earth under-estimates the nadir swath by the curvature term ≈ h·tan²θ/R-ish:
# 3.1e-4 at 5° from 500 km (measured), so flat is only good to a few 1e-4 for narrow sensors.
FLAT_EARTH_RTOL = 5e-4
# Numerical derivative of the ray/ellipsoid geometry vs the spherical GSD closed form at
# 30° off nadir: the same sphere-vs-ellipsoid effect, larger because cos(i) amplifies it.
GSD_VS_ELLIPSOID_RTOL = 3e-3
# Directions built at the satellite's geodetic position recovered from ECEF: PROJ's inverse
# is good to ~1 cm at 500 km, i.e. ~2e-10 rad in the local frame.
DIRECTION_TOLERANCE = 1e-9
# The ray intersection lands on the ellipsoid to float64 rounding of ~1e7 m coordinates.
ON_ELLIPSOID_TOLERANCE_M = 1e-6
# sample_misregistration's sample std over 20 000 draws: 5 standard errors of sigma/sqrt(2n).
N_DRAWS = 20_000
SAMPLE_STD_RTOL = 5 / math.sqrt(2 * N_DRAWS)

ALTITUDE_M = 500e3


def _sat(lon=114.3, lat=30.5, alt=ALTITUDE_M):
    return geodesy.geodetic_to_ecef(lon, lat, alt)


def _closed_form_ground_range_m(altitude_m, look_deg, radius_m):
    """The textbook spherical form: sin(η)(R+h)/R = cos(ε), λ = 90° − η − ε, ground = R·λ."""
    eta = math.radians(look_deg)
    eps = math.acos(math.sin(eta) * (radius_m + altitude_m) / radius_m)
    return radius_m * (math.pi / 2 - eta - eps), eps


def test_ray_misses_and_points_away_give_nan():
    r = _sat()
    up = geodesy.enu_rotation(30.5, 114.3)[2]
    assert np.isnan(sensor_geometry.ray_ellipsoid_intersection(r, up)).all()  # away from Earth
    east = geodesy.enu_rotation(30.5, 114.3)[0]
    assert np.isnan(sensor_geometry.ray_ellipsoid_intersection(r, east)).all()  # horizontal: misses
    lon, lat = sensor_geometry.footprint_centre(
        r, 80.0, 90.0
    )  # beyond the horizon (~68° at 500 km)
    assert np.isnan(lon) and np.isnan(lat)
    assert np.isnan(sensor_geometry.swath_width_m(r, 70.0, 5.0))


def test_nadir_ray_hits_sub_satellite_point():
    r = _sat()
    point = sensor_geometry.ray_ellipsoid_intersection(
        r, sensor_geometry.boresight_direction(r, 0.0, 0.0)
    )
    lon, lat, alt = geodesy.ecef_to_geodetic(point)
    assert (lon, lat) == (pytest.approx(114.3, abs=1e-9), pytest.approx(30.5, abs=1e-9))
    assert alt == pytest.approx(0.0, abs=ON_ELLIPSOID_TOLERANCE_M)
    assert np.linalg.norm(point - r) == pytest.approx(ALTITUDE_M, abs=1e-6)


def test_boresight_angles_and_azimuth():
    r = _sat()
    rot = geodesy.enu_rotation(30.5, 114.3)
    b = sensor_geometry.boresight_direction(r, [0.0, 30.0, 30.0], [0.0, 0.0, 90.0])
    np.testing.assert_allclose(np.linalg.norm(b, axis=-1), 1.0)
    # Geodetic, not geocentric, nadir (they differ by ~0.17° here).
    np.testing.assert_allclose(b[0], -rot[2], atol=DIRECTION_TOLERANCE)
    off_nadir = np.degrees(np.arccos(np.clip(-b @ rot[2], -1, 1)))
    np.testing.assert_allclose(off_nadir, [0.0, 30.0, 30.0], atol=1e-6)
    assert b[1] @ rot[1] > 0 and abs(b[1] @ rot[0]) < DIRECTION_TOLERANCE  # tilted north
    assert b[2] @ rot[0] > 0 and abs(b[2] @ rot[1]) < DIRECTION_TOLERANCE  # tilted east
    geocentric_nadir = -r / np.linalg.norm(r)
    assert np.degrees(np.arccos(geocentric_nadir @ b[0])) > 0.1


def test_heading():
    r = geodesy.geodetic_to_ecef(0.0, 0.0, ALTITUDE_M)
    assert sensor_geometry.heading_deg(r, [0.0, 0.0, 7000.0]) == pytest.approx(0.0)
    assert sensor_geometry.heading_deg(r, [0.0, 7000.0, 0.0]) == pytest.approx(90.0)
    assert sensor_geometry.heading_deg(r, [0.0, -1.0, -1.0]) == pytest.approx(225.0)


@pytest.mark.parametrize("lat", [0.0, 30.5, 60.0, 89.0])
@pytest.mark.parametrize("half_fov_deg", [1.0, 5.0, 20.0])
def test_nadir_swath_vs_closed_forms(lat, half_fov_deg):
    swath = sensor_geometry.swath_width_m(_sat(lat=lat), 0.0, half_fov_deg, azimuth_deg=90.0)
    radius = geodesy.gaussian_radius_m(lat)
    ground, _ = _closed_form_ground_range_m(ALTITUDE_M, half_fov_deg, radius)
    assert swath == pytest.approx(2 * ground, rel=SPHERE_VS_ELLIPSOID_RTOL)
    flat = 2 * ALTITUDE_M * math.tan(math.radians(half_fov_deg))
    assert swath > flat  # curvature always widens the swath
    if half_fov_deg <= 5.0:
        assert swath == pytest.approx(flat, rel=FLAT_EARTH_RTOL)
    # The FOV↔swath helpers agree with the same sphere and invert each other.
    assert sensor_geometry.swath_m_from_full_fov_deg(
        2 * half_fov_deg, ALTITUDE_M, radius
    ) == pytest.approx(2 * ground, rel=1e-12)
    assert sensor_geometry.full_fov_deg_from_swath_m(
        2 * ground, ALTITUDE_M, radius
    ) == pytest.approx(2 * half_fov_deg, rel=1e-12)


def test_thirty_degrees_off_nadir_centre_and_gsd():
    lat, lon, eta = 30.5, 114.3, 30.0
    r = _sat(lon, lat)
    radius = float(geodesy.gaussian_radius_m(lat))
    ground, eps = _closed_form_ground_range_m(ALTITUDE_M, eta, radius)
    c_lon, c_lat = sensor_geometry.footprint_centre(r, eta, 90.0)
    measured = geodesy.geodesic_distance_m(lon, lat, c_lon, c_lat)
    assert measured == pytest.approx(ground, rel=SPHERE_VS_ELLIPSOID_RTOL)

    incidence_deg, ground_sph, slant = spherical_look_geometry(ALTITUDE_M, eta, radius)
    assert incidence_deg == pytest.approx(90.0 - math.degrees(eps), abs=1e-9)
    assert ground_sph == pytest.approx(ground, rel=1e-12)
    # Law of sines in the Earth-centre/satellite/ground-point triangle.
    lam = ground / radius
    assert slant == pytest.approx(radius * math.sin(lam) / math.sin(math.radians(eta)), rel=1e-9)

    g = sensor_geometry.gsd_m(1.0, ALTITUDE_M, eta, latitude_deg=lat)
    assert g.along_m == pytest.approx(slant / ALTITUDE_M, rel=1e-12)
    assert g.cross_m == pytest.approx(
        slant / (ALTITUDE_M * math.cos(math.radians(90 - math.degrees(eps))))
    )
    assert g.mean_m == pytest.approx(math.sqrt(g.along_m * g.cross_m))
    assert g.cross_m > g.along_m > 1.0

    # The same GSD from the true ellipsoid geometry: ground distance per unit look angle
    # (numerical derivative) times the pixel's angular size gsd_nadir / h.
    d_deg = 1e-3
    lon1, lat1 = sensor_geometry.footprint_centre(r, eta - d_deg, 90.0)
    lon2, lat2 = sensor_geometry.footprint_centre(r, eta + d_deg, 90.0)
    cross = geodesy.geodesic_distance_m(lon1, lat1, lon2, lat2) / math.radians(2 * d_deg)
    assert cross / ALTITUDE_M == pytest.approx(g.cross_m, rel=GSD_VS_ELLIPSOID_RTOL)
    ring_lon, ring_lat = sensor_geometry.footprint_polygon(
        r, eta, 90.0, d_deg, d_deg, n_edge_points=2
    )
    # Points 1 and 5 are the along-track edge midpoints (q = ∓tan d) of the rectangle.
    along = geodesy.geodesic_distance_m(ring_lon[1], ring_lat[1], ring_lon[5], ring_lat[5])
    along /= math.radians(2 * d_deg)
    assert along / ALTITUDE_M == pytest.approx(g.along_m, rel=GSD_VS_ELLIPSOID_RTOL)


def test_gsd_nadir_and_misses():
    g = sensor_geometry.gsd_m(0.5, ALTITUDE_M, np.array([0.0, 80.0]))
    assert g.along_m[0] == pytest.approx(0.5) and g.cross_m[0] == pytest.approx(0.5)
    assert np.isnan(g.cross_m[1])


def test_footprint_polygon_shapes_and_cone():
    r = np.stack([_sat(), _sat(lon=-179.99, lat=-5.0)])
    lon, lat = sensor_geometry.footprint_polygon(r, 0.0, 90.0, 2.0, 1.0, n_edge_points=4)
    assert lon.shape == lat.shape == (2, 16)
    assert np.all(np.isfinite(lon)) and np.all((lon >= -180) & (lon <= 180))
    # Cross-edge midpoints (points 6 and 14: p = ±tan θ, q = 0) are the swath edges.
    edge = geodesy.geodesic_distance_m(lon[:, 6], lat[:, 6], lon[:, 14], lat[:, 14])
    np.testing.assert_allclose(edge, sensor_geometry.swath_width_m(r, 0.0, 2.0, 90.0), rtol=1e-9)

    c_lon, c_lat = sensor_geometry.footprint_polygon(_sat(), 0.0, 0.0, 3.0, n_edge_points=8)
    assert c_lon.shape == (32,)
    radius = geodesy.gaussian_radius_m(30.5)
    ground, _ = _closed_form_ground_range_m(ALTITUDE_M, 3.0, radius)
    dist = geodesy.geodesic_distance_m(114.3, 30.5, c_lon, c_lat)
    np.testing.assert_allclose(dist, ground, rtol=SPHERE_VS_ELLIPSOID_RTOL)


def test_misregistration_model():
    # Position error only: a 1:1 ground shift on both axes.
    m = sensor_geometry.misregistration_m(10.0, 0.0, ALTITUDE_M, 30.0)
    assert (m.along_m, m.cross_m, m.sigma_m) == (pytest.approx(10.0),) * 3
    # Pointing error only at nadir: h·σ on both axes (10 µrad at 500 km = 5 m).
    m = sensor_geometry.misregistration_m(0.0, math.degrees(1e-5), ALTITUDE_M, 0.0)
    assert m.along_m == pytest.approx(5.0) and m.cross_m == pytest.approx(5.0)
    # Off nadir the cross-track term is stretched by 1/cos(incidence), like the GSD.
    m = sensor_geometry.misregistration_m(3.0, 0.001, ALTITUDE_M, 30.0, latitude_deg=30.0)
    g = sensor_geometry.gsd_m(1.0, ALTITUDE_M, 30.0, latitude_deg=30.0)
    ang = math.radians(0.001) * ALTITUDE_M
    assert m.along_m == pytest.approx(math.hypot(3.0, ang * g.along_m))
    assert m.cross_m == pytest.approx(math.hypot(3.0, ang * g.cross_m))
    cells = sensor_geometry.misregistration_cells(
        3.0, 0.001, ALTITUDE_M, 30.0, 10.0, latitude_deg=30.0
    )
    assert cells == pytest.approx(m.sigma_m / 10.0)


def test_sample_misregistration():
    rng = np.random.default_rng(42)
    dx, dy = sensor_geometry.sample_misregistration(rng, 7.0, N_DRAWS)
    assert dx.shape == dy.shape == (N_DRAWS,)
    assert np.std(dx) == pytest.approx(7.0, rel=SAMPLE_STD_RTOL)
    assert np.std(dy) == pytest.approx(7.0, rel=SAMPLE_STD_RTOL)
    assert abs(np.corrcoef(dx, dy)[0, 1]) < 5 / math.sqrt(N_DRAWS)
    dx, dy = sensor_geometry.sample_misregistration(
        np.random.default_rng(0), np.array([1.0, 0.0, 2.0])
    )
    assert dx.shape == (3,) and dx[1] == 0.0 and dy[1] == 0.0
    # The same seed gives the same draws.
    again = sensor_geometry.sample_misregistration(
        np.random.default_rng(0), np.array([1.0, 0.0, 2.0])
    )
    np.testing.assert_array_equal(again[0], dx)


@given(
    altitude_m=st.floats(300e3, 1500e3),
    off_nadir_deg=st.floats(0.0, 50.0),
    extra_deg=st.floats(0.1, 10.0),
    latitude_deg=st.floats(-89.0, 89.0),
)
def test_gsd_and_misregistration_grow_with_off_nadir(
    altitude_m, off_nadir_deg, extra_deg, latitude_deg
) -> None:
    """Looking further off nadir never sharpens the image nor shrinks the georeferencing error;
    across-track GSD is never finer than along-track, which is never finer than at nadir."""
    near = gsd_m(3.0, altitude_m, off_nadir_deg, latitude_deg)
    far = gsd_m(3.0, altitude_m, off_nadir_deg + extra_deg, latitude_deg)
    assert 3.0 - 1e-9 <= near.along_m <= near.cross_m + 1e-9
    assert far.along_m >= near.along_m and far.cross_m >= near.cross_m
    err_near = misregistration_m(5.0, 0.01, altitude_m, off_nadir_deg, latitude_deg)
    err_far = misregistration_m(5.0, 0.01, altitude_m, off_nadir_deg + extra_deg, latitude_deg)
    assert err_far.sigma_m >= err_near.sigma_m > 0.0


@given(
    st.floats(0.0, 50.0),
    st.floats(0.0, 360.0),
    st.floats(-80.0, 80.0),
    st.floats(-180.0, 180.0),
)
def test_a_look_at_a_boresight_footprint_is_the_boresight(off_nadir, azimuth, lat, lon):
    # The look direction to where a boresight meets the ground is that boresight, and the
    # retarget from nadir to it is its off-nadir angle.
    r_sat = geodesy.geodetic_to_ecef(lon, lat, 600e3).reshape(3)
    boresight = sensor_geometry.boresight_direction(r_sat, off_nadir, azimuth).reshape(3)
    ground = sensor_geometry.ray_ellipsoid_intersection(r_sat, boresight).reshape(3)
    look = sensor_geometry.look_direction(r_sat, ground)
    assert np.allclose(look, boresight, atol=DIRECTION_TOLERANCE)
    nadir = sensor_geometry.boresight_direction(r_sat, 0.0, 0.0).reshape(3)
    assert sensor_geometry.angle_between_deg(nadir, look) == pytest.approx(off_nadir, abs=1e-6)


def test_angle_between_broadcasts_and_stays_finite_at_the_ends():
    u = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    v = np.array([[[1.0, 0.0, 0.0]], [[-1.0, 0.0, 0.0]]])  # (2, 1, 3) against (2, 3)
    angles = sensor_geometry.angle_between_deg(u, v)
    assert angles.shape == (2, 2)
    assert angles.tolist() == [[0.0, 90.0], [180.0, 90.0]]
