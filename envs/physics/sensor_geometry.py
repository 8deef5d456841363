"""Sensor geometry on the WGS84 ellipsoid: pointing, footprints, swath, GSD, misregistration.

Conventions (all re-exported by :mod:`sagsim.envs.physics.geodesy`):

- Off-nadir angle ``off_nadir_deg`` is measured from the *geodetic nadir*: the direction
  from the satellite along the ellipsoid normal through it, down to the sub-satellite
  point. (The geocentric nadir, towards Earth's centre, differs by up to ~0.19° at
  mid-latitudes; geodetic nadir is what an attitude system pointing "straight down" uses.)
- ``azimuth_deg`` is the pointing direction in the local horizontal plane at the
  satellite (the plane normal to that ellipsoid normal): 0 = north, 90 = east.
- Footprints are rays intersected with the ellipsoid itself (no sphere, no flat Earth,
  terrain height 0). Rays that miss the Earth give NaN.
- Closed forms (GSD, misregistration, swath↔FOV) use a sphere of radius R: the Gaussian
  radius of curvature at the sub-satellite latitude when ``latitude_deg`` is given (best
  local sphere: second-order agreement with the ellipsoid), else the mean Earth radius.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from sagsim.envs.physics.geodesy import (
    EARTH_MEAN_RADIUS_M,
    WGS84_A_M,
    WGS84_B_M,
    ecef_to_geodetic,
    enu_rotation,
    gaussian_radius_m,
    geodesic_distance_m,
)

__all__ = [
    "GroundSampleDistance",
    "Misregistration",
    "angle_between_deg",
    "boresight_direction",
    "footprint_centre",
    "footprint_polygon",
    "full_fov_deg_from_swath_m",
    "gsd_m",
    "heading_deg",
    "look_direction",
    "misregistration_cells",
    "misregistration_m",
    "ray_ellipsoid_intersection",
    "sample_misregistration",
    "spherical_look_geometry",
    "swath_m_from_full_fov_deg",
    "swath_width_m",
]

_SCALE = np.array([1.0 / WGS84_A_M, 1.0 / WGS84_A_M, 1.0 / WGS84_B_M])


def ray_ellipsoid_intersection(origin_ecef_m, direction) -> np.ndarray:
    """First intersection of rays with the WGS84 ellipsoid.

    Scaling coordinates by (1/a, 1/a, 1/b) turns the ellipsoid into the unit sphere and
    keeps rays straight, so ``|o + t d|² = 1`` is a quadratic in t.

    Args:
        origin_ecef_m: (..., 3) ray origins (m), outside the ellipsoid.
        direction: (..., 3) ray directions (any length); broadcasts with the origins.

    Returns:
        (..., 3) ECEF intersection points (m); NaN where the ray misses or points away.
    """
    o = np.asarray(origin_ecef_m, float)
    d = np.asarray(direction, float)
    os_, ds = o * _SCALE, d * _SCALE
    qa = np.sum(ds * ds, axis=-1)
    qb = 2.0 * np.sum(os_ * ds, axis=-1)
    qc = np.sum(os_ * os_, axis=-1) - 1.0
    disc = qb * qb - 4.0 * qa * qc
    with np.errstate(invalid="ignore", divide="ignore"):
        # Numerically stable roots (no cancellation between -b and sqrt(disc)).
        q = -0.5 * (qb + np.copysign(np.sqrt(disc), qb))
        t1, t2 = q / qa, qc / q
        t_near = np.fmin(np.where(t1 >= 0, t1, np.nan), np.where(t2 >= 0, t2, np.nan))
        t = np.where(disc >= 0, t_near, np.nan)
    return o + t[..., None] * d


def _local_frame_at(r_ecef_m):
    """ENU rotation (..., 3, 3) at the geodetic position of ECEF points."""
    lon, lat, _ = ecef_to_geodetic(r_ecef_m)
    return enu_rotation(lat, lon)


def _horizontal_unit(rot, azimuth_deg):
    az = np.radians(np.asarray(azimuth_deg, float))[..., None]
    return np.cos(az) * rot[..., 1, :] + np.sin(az) * rot[..., 0, :]


def boresight_direction(r_sat_ecef_m, off_nadir_deg, azimuth_deg) -> np.ndarray:
    """Unit pointing vectors (..., 3) in ECEF.

    ``off_nadir_deg`` from the geodetic nadir, tilted towards ``azimuth_deg`` (0 = north,
    90 = east) in the satellite's local horizontal frame. Negative off-nadir tilts the
    opposite way. Shapes broadcast (r_sat_ecef_m is (..., 3)).
    """
    rot = _local_frame_at(r_sat_ecef_m)
    eta = np.radians(np.asarray(off_nadir_deg, float))[..., None]
    return -np.cos(eta) * rot[..., 2, :] + np.sin(eta) * _horizontal_unit(rot, azimuth_deg)


def heading_deg(r_sat_ecef_m, v_sat_ecef_mps) -> np.ndarray:
    """Azimuth (deg, [0, 360)) of the ECEF velocity in the local horizontal frame.

    With ECEF (Earth-fixed) velocity this is the ground-track heading; the cross-track
    directions are ``heading ± 90``.
    """
    rot = _local_frame_at(r_sat_ecef_m)
    v = np.asarray(v_sat_ecef_mps, float)
    east = np.sum(rot[..., 0, :] * v, axis=-1)
    north = np.sum(rot[..., 1, :] * v, axis=-1)
    return np.mod(np.degrees(np.arctan2(east, north)), 360.0)


def look_direction(r_sat_ecef_m, target_ecef_m) -> np.ndarray:
    """Unit vectors ``(..., 3)`` from satellites at ``r_sat_ecef_m`` (m, ``(..., 3)``) to
    ground points ``target_ecef_m`` (m, ``(..., 3)``), broadcast against each other."""
    d = np.asarray(target_ecef_m, float) - np.asarray(r_sat_ecef_m, float)
    return d / np.linalg.norm(d, axis=-1, keepdims=True)


def angle_between_deg(u, v) -> np.ndarray:
    """Angle (deg, ``(...)``) between unit vectors ``u`` and ``v`` (``(..., 3)``, broadcast):
    how far a sensor looking along ``u`` must turn to look along ``v`` (a retarget)."""
    u, v = np.broadcast_arrays(np.asarray(u, float), np.asarray(v, float))
    # atan2(|u × v|, u · v): exact near 0° and 180°, where arccos(u · v) loses half its digits.
    sin = np.linalg.norm(np.cross(u, v), axis=-1)
    return np.degrees(np.arctan2(sin, np.einsum("...i,...i->...", u, v)))


def _lonlat_of(points_ecef_m):
    lon, lat, _ = ecef_to_geodetic(np.nan_to_num(points_ecef_m))
    miss = np.isnan(points_ecef_m[..., 0])
    return np.where(miss, np.nan, lon), np.where(miss, np.nan, lat)


def footprint_centre(r_sat_ecef_m, off_nadir_deg, azimuth_deg) -> tuple[np.ndarray, np.ndarray]:
    """(lon_deg, lat_deg) where the boresight meets the ellipsoid; NaN where it misses."""
    b = boresight_direction(r_sat_ecef_m, off_nadir_deg, azimuth_deg)
    return _lonlat_of(ray_ellipsoid_intersection(r_sat_ecef_m, b))


def footprint_polygon(
    r_sat_ecef_m,
    off_nadir_deg,
    azimuth_deg,
    half_fov_cross_deg,
    half_fov_along_deg=None,
    *,
    cross_axis_azimuth_deg=None,
    n_edge_points: int = 8,
) -> tuple[np.ndarray, np.ndarray]:
    """Field-of-view outline projected on the ellipsoid as a lon/lat ring.

    A frame (pinhole) sensor: rays ``b + p·x̂ + q·ŷ`` with ``|p| <= tan(half_fov_cross)``,
    ``|q| <= tan(half_fov_along)``, where ``b`` is the boresight, ``x̂`` the cross-track
    image axis and ``ŷ`` the along-track one. ``x̂`` lies in the vertical plane of
    ``cross_axis_azimuth_deg`` (default: ``azimuth_deg``, i.e. the sensor is rolled
    towards its target, so pass ``azimuth_deg = heading ± 90`` for a side-looking
    pointing; at nadir pass the cross-track azimuth). With ``half_fov_along_deg=None`` the
    field of view is a cone of half-angle ``half_fov_cross_deg``.

    Returns:
        (lon_deg, lat_deg), each ``(..., n_points)`` with ``n_points = 4·n_edge_points``;
        the ring is not closed (first point not repeated); NaN where a ray misses.
    """
    r = np.asarray(r_sat_ecef_m, float)
    rot = _local_frame_at(r)
    eta = np.radians(np.asarray(off_nadir_deg, float))[..., None]
    b = -np.cos(eta) * rot[..., 2, :] + np.sin(eta) * _horizontal_unit(rot, azimuth_deg)
    cross_az = azimuth_deg if cross_axis_azimuth_deg is None else cross_axis_azimuth_deg
    h = _horizontal_unit(rot, cross_az)
    x_axis = h - np.sum(h * b, axis=-1, keepdims=True) * b
    x_axis /= np.linalg.norm(x_axis, axis=-1, keepdims=True)
    y_axis = np.cross(b, x_axis)

    u = np.arange(n_edge_points) / n_edge_points
    tan_c = np.tan(np.radians(half_fov_cross_deg))
    if half_fov_along_deg is None:
        phi = 2.0 * np.pi * np.arange(4 * n_edge_points) / (4 * n_edge_points)
        p, q = tan_c * np.cos(phi), tan_c * np.sin(phi)
    else:
        tan_a = np.tan(np.radians(half_fov_along_deg))
        ones = np.ones_like(u)
        p = np.concatenate([tan_c * (2 * u - 1), tan_c * ones, tan_c * (1 - 2 * u), -tan_c * ones])
        q = np.concatenate([-tan_a * ones, tan_a * (2 * u - 1), tan_a * ones, tan_a * (1 - 2 * u)])
    rays = b[..., None, :] + p[:, None] * x_axis[..., None, :] + q[:, None] * y_axis[..., None, :]
    points = ray_ellipsoid_intersection(r[..., None, :], rays)
    return _lonlat_of(points)


def swath_width_m(r_sat_ecef_m, off_nadir_deg, half_fov_cross_deg, azimuth_deg=90.0):
    """Ground (geodesic) distance between the cross-track edges of the field of view (m).

    The edges are the rays at ``off_nadir ± half_fov_cross`` in the vertical plane of
    ``azimuth_deg`` (which should be a cross-track direction). NaN if an edge misses Earth.
    """
    eta = np.asarray(off_nadir_deg, float)
    theta = np.asarray(half_fov_cross_deg, float)
    lon1, lat1 = footprint_centre(r_sat_ecef_m, eta - theta, azimuth_deg)
    lon2, lat2 = footprint_centre(r_sat_ecef_m, eta + theta, azimuth_deg)
    ok = np.isfinite(lon1) & np.isfinite(lon2)
    dist = geodesic_distance_m(
        np.where(ok, lon1, 0.0),
        np.where(ok, lat1, 0.0),
        np.where(ok, lon2, 0.0),
        np.where(ok, lat2, 0.0),
    )
    return np.where(ok, dist, np.nan)


def spherical_look_geometry(altitude_m, off_nadir_deg, radius_m=EARTH_MEAN_RADIUS_M):
    """Closed-form look geometry on a sphere of radius R.

    With look (off-nadir) angle η from altitude h: sin(i) = (R+h)/R·sin(η) for the
    incidence angle i (ray vs local vertical at the ground point), Earth central angle
    λ = i − η, ground range R·λ, slant range D from the law of cosines.

    Returns:
        (incidence_deg, ground_range_m, slant_range_m); NaN where the ray misses.
    """
    h = np.asarray(altitude_m, float)
    eta = np.radians(np.asarray(off_nadir_deg, float))
    r = np.asarray(radius_m, float)
    sin_i = (r + h) / r * np.sin(np.abs(eta))
    with np.errstate(invalid="ignore"):
        inc = np.where(sin_i <= 1.0, np.arcsin(np.minimum(sin_i, 1.0)), np.nan)
    lam = inc - np.abs(eta)
    # Law of cosines R² + (R+h)² − 2R(R+h)cos λ, rewritten without cancellation near λ = 0.
    slant = np.sqrt(h**2 + 4.0 * r * (r + h) * np.sin(lam / 2.0) ** 2)
    return np.degrees(inc), r * lam, slant


def swath_m_from_full_fov_deg(full_fov_deg, altitude_m, radius_m=EARTH_MEAN_RADIUS_M):
    """Nadir swath (ground arc, m) of a full cross-track field of view on a sphere."""
    _, ground_m, _ = spherical_look_geometry(altitude_m, np.asarray(full_fov_deg) / 2, radius_m)
    return 2.0 * ground_m


def full_fov_deg_from_swath_m(swath_m, altitude_m, radius_m=EARTH_MEAN_RADIUS_M):
    """Full cross-track field of view (deg) whose nadir swath on a sphere is ``swath_m``."""
    lam = np.asarray(swath_m, float) / (2.0 * radius_m)
    r, h = np.asarray(radius_m, float), np.asarray(altitude_m, float)
    half = np.arctan2(r * np.sin(lam), r + h - r * np.cos(lam))
    return 2.0 * np.degrees(half)


def _radius(latitude_deg):
    return EARTH_MEAN_RADIUS_M if latitude_deg is None else gaussian_radius_m(latitude_deg)


class GroundSampleDistance(NamedTuple):
    """Along-track, cross-track and geometric-mean ground sample distance (m)."""

    along_m: np.ndarray
    cross_m: np.ndarray
    mean_m: np.ndarray


def gsd_m(gsd_nadir_m, altitude_m, off_nadir_deg, latitude_deg=None) -> GroundSampleDistance:
    """Ground sample distance off nadir on a curved Earth.

    A pixel's angular size is fixed (gsd_nadir/h), so at slant range D it spans D·(gsd/h)
    across the ray; along track that lands flat, across track it is stretched by
    1/cos(incidence): GSD_along = g·D/h, GSD_cross = g·D/(h·cos i). Sphere of the Gaussian
    radius at ``latitude_deg`` (else mean radius). Broadcasts; NaN where the ray misses.
    """
    h = np.asarray(altitude_m, float)
    inc_deg, _, slant = spherical_look_geometry(h, off_nadir_deg, _radius(latitude_deg))
    along = np.asarray(gsd_nadir_m, float) * slant / h
    cross = along / np.cos(np.radians(inc_deg))
    return GroundSampleDistance(along, cross, np.sqrt(along * cross))


class Misregistration(NamedTuple):
    """1-sigma ground misregistration (m): along track, cross track, isotropic per axis."""

    along_m: np.ndarray
    cross_m: np.ndarray
    sigma_m: np.ndarray


def misregistration_m(
    position_error_m, pointing_error_deg, altitude_m, off_nadir_deg, latitude_deg=None
) -> Misregistration:
    """1-sigma ground shift of an image from platform position and pointing knowledge errors.

    Model (independent Gaussian errors, combined as RSS per ground axis):

    - horizontal position error σ_p (1-sigma per axis, m) shifts the footprint 1:1 — a
      conservative bound: the exact factor for a fixed pointing is R/(R+h), 0.93 at 500 km,
      but attitude is usually referenced to the (equally wrong) position, giving ≈ 1:1;
    - pointing error σ_θ (1-sigma per axis) moves the ray end by D·σ_θ along track and
      D·σ_θ/cos(i) across track (same stretch as the GSD), D = slant range;
    - radial (altitude) error and terrain height are ignored.

    ``sigma_m = sqrt((along² + cross²)/2)`` is the per-axis sigma of the isotropic
    Gaussian with the same mean-square shift, the value :func:`sample_misregistration`
    takes; the radial RMS shift is ``sqrt(2)·sigma_m``.
    """
    inc_deg, _, slant = spherical_look_geometry(altitude_m, off_nadir_deg, _radius(latitude_deg))
    pos = np.asarray(position_error_m, float)
    ang_m = slant * np.radians(np.asarray(pointing_error_deg, float))
    along = np.hypot(pos, ang_m)
    cross = np.hypot(pos, ang_m / np.cos(np.radians(inc_deg)))
    return Misregistration(along, cross, np.sqrt((along**2 + cross**2) / 2.0))


def misregistration_cells(
    position_error_m,
    pointing_error_deg,
    altitude_m,
    off_nadir_deg,
    grid_resolution_m,
    latitude_deg=None,
) -> np.ndarray:
    """Isotropic 1-sigma misregistration (per axis) in grid cells of ``grid_resolution_m``."""
    sigma = misregistration_m(
        position_error_m, pointing_error_deg, altitude_m, off_nadir_deg, latitude_deg
    ).sigma_m
    return sigma / np.asarray(grid_resolution_m, float)


def sample_misregistration(
    rng: np.random.Generator, sigma_m, size=None
) -> tuple[np.ndarray, np.ndarray]:
    """Draw isotropic Gaussian ground shifts (dx_m east, dy_m north), each N(0, sigma_m²).

    ``size`` defaults to the shape of ``sigma_m``; ``sigma_m`` broadcasts against it.
    """
    sigma = np.asarray(sigma_m, float)
    shape = sigma.shape if size is None else tuple(np.atleast_1d(size))
    draws = rng.standard_normal((2, *shape)) * sigma
    return draws[0], draws[1]
