"""SGP4 ephemerides (TLE or Walker-delta shells), TEME→ECEF, analytic sun and eclipse.

Frames: SGP4 outputs TEME; ECEF here is the pseudo-Earth-fixed frame obtained by a rotation
about z by GMST 1982 (UT1). Polar motion is ignored (≤ ~15 m at the surface), exactly as
skyfield does when no IERS polar-motion table is loaded, so results match skyfield's ITRS.
Everything is vectorised over satellites × times: one ``SatrecArray.sgp4`` call per request.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence

import numpy as np
from sgp4.api import WGS72, Satrec, SatrecArray

from sagsim.envs.physics.geodesy import geodetic_up_ecef
from sagsim.envs.physics.timebase import DAY_S, TimeGrid, as_time_grid, to_datetime64_us

TAU = 2.0 * np.pi
J2000_JD = 2451545.0
# WGS72 constants: the gravity model TLEs (and our sgp4init shells) are fitted with.
WGS72_MU_M3PS2 = 398600.8e9
WGS72_RADIUS_M = 6378135.0
WGS72_J2 = 0.001082616
WGS84_RADIUS_M = 6378137.0
SUN_RADIUS_M = 695_700e3  # IAU 2015 nominal solar radius
AU_M = 149_597_870_700.0
TROPICAL_YEAR_S = 365.2422 * DAY_S


class TLEError(ValueError):
    """A malformed two-/three-line element set (message names the TLE and line)."""


def tle_checksum(line: str) -> int:
    """Mod-10 checksum of a TLE line's first 68 characters (digits: value, '-': 1)."""
    return sum(int(c) if c.isdigit() else (c == "-") for c in line[:68]) % 10


def _check_line(line: str, number: int, k_tle: int) -> None:
    where = f"TLE {k_tle} line {number}"
    if not line.startswith(f"{number} "):
        raise TLEError(f"{where}: must start with '{number} ', got {line[:10]!r}")
    if len(line) < 69:
        raise TLEError(f"{where}: has {len(line)} characters, expected 69")
    if not line[68].isdigit():
        raise TLEError(f"{where}: checksum character {line[68]!r} is not a digit")
    expected = tle_checksum(line)
    if int(line[68]) != expected:
        raise TLEError(f"{where}: checksum is {line[68]}, expected {expected}")


def parse_tle_sets(lines: str | Sequence[str]) -> list[tuple[str | None, str, str]]:
    """Split text into validated ``(name or None, line1, line2)`` sets (2LE or 3LE).

    Raises :class:`TLEError` on bad structure, line numbers or checksums.
    """
    if isinstance(lines, str):
        lines = [lines]
    flat = [s.rstrip() for chunk in lines for s in chunk.splitlines()]
    flat = [s for s in flat if s.strip()]
    sets, i, k = [], 0, 1
    while i < len(flat):
        name = None
        if not (flat[i].startswith("1 ") and i + 1 < len(flat) and flat[i + 1].startswith("2 ")):
            if flat[i].startswith(("1 ", "2 ")):
                raise TLEError(f"TLE {k}: line {flat[i][:1]} without its partner line")
            name = flat[i][2:].strip() if flat[i].startswith("0 ") else flat[i].strip()
            i += 1
        if i + 1 >= len(flat):
            raise TLEError(f"TLE {k}: truncated, expected line 1 and line 2 after the name")
        _check_line(flat[i], 1, k)
        _check_line(flat[i + 1], 2, k)
        if flat[i][2:7] != flat[i + 1][2:7]:
            raise TLEError(
                f"TLE {k}: catalogue numbers differ ({flat[i][2:7]!r} vs {flat[i + 1][2:7]!r})"
            )
        sets.append((name, flat[i], flat[i + 1]))
        i, k = i + 2, k + 1
    return sets


def gmst1982_rad(jd_ut1_whole: np.ndarray, jd_ut1_fraction: np.ndarray):
    """GMST 1982 angle (rad, [0, 2π)) and its rate (rad/s); inputs/outputs shape (n_t,).

    AIAA 2006-6753 Appendix C, as in skyfield's ``theta_GMST1982``.
    """
    t = (jd_ut1_whole - J2000_JD + jd_ut1_fraction) / 36525.0
    g = 67310.54841 + (8640184.812866 + (0.093104 + (-6.2e-6) * t) * t) * t
    dg = 8640184.812866 + (0.093104 * 2.0 + (-6.2e-6 * 3.0) * t) * t
    theta = (jd_ut1_whole % 1.0 + jd_ut1_fraction + g / DAY_S % 1.0) % 1.0 * TAU
    theta_dot_radps = (1.0 + dg / (DAY_S * 36525.0)) * TAU / DAY_S
    return theta, theta_dot_radps


def _teme_km_to_ecef_m(r_km, v_kmps, theta, theta_dot):
    """Rotate TEME (km, km/s; (..., n_t, 3)) to ECEF (m, m/s) in place-ish; θ shape (n_t,)."""
    c, s = np.cos(theta) * 1e3, np.sin(theta) * 1e3  # fold km→m into the rotation
    x, y = r_km[..., 0], r_km[..., 1]
    r = np.empty_like(r_km)
    np.multiply(c, x, out=r[..., 0])
    r[..., 0] += s * y
    np.multiply(c, y, out=r[..., 1])
    r[..., 1] -= s * x
    np.multiply(r_km[..., 2], 1e3, out=r[..., 2])
    if v_kmps is None:
        return r, None
    vx, vy = v_kmps[..., 0], v_kmps[..., 1]
    v = np.empty_like(v_kmps)
    # ω × r term of the rotating frame: v_ecef = R v_teme − ω ẑ × r_ecef.
    np.multiply(c, vx, out=v[..., 0])
    v[..., 0] += s * vy
    v[..., 0] += theta_dot * r[..., 1]
    np.multiply(c, vy, out=v[..., 1])
    v[..., 1] -= s * vx
    v[..., 1] -= theta_dot * r[..., 0]
    np.multiply(v_kmps[..., 2], 1e3, out=v[..., 2])
    return r, v


class Constellation:
    """A set of SGP4 satellites propagated together (``sgp4.api.SatrecArray``).

    Attributes: ``satrecs`` (list of ``Satrec``), ``names`` (list of str), ``n_sat``.
    """

    def __init__(self, satrecs: Sequence[Satrec], names: Sequence[str] | None = None):
        self.satrecs = list(satrecs)
        self.names = list(names) if names is not None else [str(s.satnum) for s in satrecs]
        if len(self.names) != len(self.satrecs):
            raise ValueError("names and satrecs differ in length")
        self._array = SatrecArray(self.satrecs)

    def __len__(self) -> int:
        return len(self.satrecs)

    @property
    def n_sat(self) -> int:
        return len(self.satrecs)

    @property
    def period_s(self) -> np.ndarray:
        """Anomalistic periods from the (Kozai) mean motion, seconds, shape (n_sat,)."""
        return np.array([TAU / s.no_kozai * 60.0 for s in self.satrecs])

    @classmethod
    def from_tle(cls, lines: str | Sequence[str]) -> Constellation:
        """Build from 2-line or 3-line TLE text (a string or list of strings).

        Checksums and line numbers are validated (:class:`TLEError`). Unnamed sets are named
        by catalogue number.
        """
        sets = parse_tle_sets(lines)
        satrecs = [Satrec.twoline2rv(l1, l2, WGS72) for _, l1, l2 in sets]
        for k, satrec in enumerate(satrecs, start=1):
            # Valid checksums do not make valid elements: letters in a numeric field or a
            # zero mean motion parse silently and only fail (or give NaN) when propagated.
            error, r_km, _ = satrec.sgp4(satrec.jdsatepoch, satrec.jdsatepochF)
            if satrec.error or error or not satrec.no_kozai > 0 or not np.all(np.isfinite(r_km)):
                raise TLEError(f"TLE {k}: elements do not propagate (SGP4 error {error}); "
                               "check the numeric fields")  # fmt: skip
        names = [n if n else l1[2:7].strip() for n, l1, _ in sets]
        return cls(satrecs, names)

    @classmethod
    def walker_delta(
        cls,
        total: int | None = None,
        planes: int = 1,
        phasing: int = 0,
        altitude_m: float = 550e3,
        inclination_deg: float = 53.0,
        raan0_deg: float = 0.0,
        raan_spread_deg: float = 360.0,
        epoch_utc: _dt.datetime | np.datetime64 | None = None,
        sun_synchronous: bool = False,
        per_plane: int | None = None,
        first_satnum: int = 1,
        name_prefix: str = "WALKER",
    ) -> Constellation:
        """Walker-delta i:t/p/f shell of circular orbits built with ``Satrec.sgp4init``.

        Give ``total`` (t) or ``per_plane`` (t/p). Plane j has RAAN raan0 + spread·j/p
        (``raan_spread_deg`` 360°: delta, 180°: star); satellite k in it has mean anomaly
        360 k/(t/p) + 360 f j/t (argument of perigee 0, ecc 1e-7).
        The Kozai mean motion is Kepler's n = sqrt(μ/a³) with a = R_eq + altitude_m (WGS72),
        so ``altitude_m`` is above the *equatorial* radius: the geodetic altitude over an orbit
        averages ≈ 10 km more than requested (the Earth is 21 km flatter at the poles, and
        SGP4 treats n as a Kozai mean element), e.g. 502–528 km for a 500 km SSO request.
        ``sun_synchronous`` replaces the inclination by the J2 sun-synchronous one for this
        altitude. Names: ``{prefix}-P{j}-S{k}`` (1-based).
        """
        if per_plane is None:
            if total is None or total % planes:
                raise ValueError("total must be a multiple of planes (or give per_plane)")
            per_plane = total // planes
        total = per_plane * planes
        if epoch_utc is None:
            epoch_utc = _dt.datetime(2024, 1, 1, tzinfo=_dt.UTC)
        us = to_datetime64_us(epoch_utc)[0].astype(np.int64)
        epoch_days_1950 = us / 86_400e6 + 2440587.5 - 2433281.5  # sgp4init's epoch origin
        a_m = WGS72_RADIUS_M + altitude_m
        n_radpmin = np.sqrt(WGS72_MU_M3PS2 / a_m**3) * 60.0
        inc = sun_synchronous_inclination_deg(altitude_m) if sun_synchronous else inclination_deg
        satrecs, names = [], []
        for j in range(planes):
            raan = np.radians((raan0_deg + raan_spread_deg * j / planes) % 360.0)
            for k in range(per_plane):
                m = np.radians((360.0 * k / per_plane + 360.0 * phasing * j / total) % 360.0)
                s = Satrec()
                s.sgp4init(
                    WGS72, "i", first_satnum + len(satrecs), epoch_days_1950, 0.0, 0.0, 0.0,
                    1e-7, 0.0, np.radians(inc), m, n_radpmin, raan,
                )  # fmt: skip
                satrecs.append(s)
                names.append(f"{name_prefix}-P{j + 1}-S{k + 1}")
        return cls(satrecs, names)

    # --- propagation --------------------------------------------------------------------
    def states_teme(self, times_utc=None, *, epoch_utc=None, t_s=None):
        """SGP4 in TEME: ``(error (n_sat, n_t) int, r_teme_km, v_teme_kmps (n_sat, n_t, 3))``.

        Samples with a nonzero SGP4 error code are set to NaN.
        """
        g = as_time_grid(times_utc, epoch_utc=epoch_utc, t_s=t_s)
        e, r, v = self._array.sgp4(g.jd_whole, g.jd_utc_fraction)
        bad = e != 0
        if bad.any():
            r[bad] = np.nan
            v[bad] = np.nan
        return e, r, v

    def states_ecef(self, times_utc=None, *, epoch_utc=None, t_s=None, return_error=False):
        """ECEF ``(r_ecef_m, v_ecef_mps)``, each (n_sat, n_t, 3), from one SGP4 call.

        Velocity is in the rotating frame (includes −ω×r). With ``return_error`` a third item,
        the SGP4 error codes (n_sat, n_t) (nonzero samples are NaN), is returned.
        """
        g = as_time_grid(times_utc, epoch_utc=epoch_utc, t_s=t_s)
        e, r, v = self.states_teme(g)
        theta, theta_dot = gmst1982_rad(g.jd_whole, g.jd_ut1_fraction)
        r_m, v_mps = _teme_km_to_ecef_m(r, v, theta, theta_dot)
        return (r_m, v_mps, e) if return_error else (r_m, v_mps)

    def positions_ecef_m(self, times_utc=None, *, epoch_utc=None, t_s=None) -> np.ndarray:
        """ECEF positions in metres, shape (n_sat, n_t, 3); NaN where SGP4 failed."""
        g = as_time_grid(times_utc, epoch_utc=epoch_utc, t_s=t_s)
        _e, r, _ = self.states_teme(g)
        theta, _ = gmst1982_rad(g.jd_whole, g.jd_ut1_fraction)
        return _teme_km_to_ecef_m(r, None, theta, None)[0]

    def velocities_ecef_mps(self, times_utc=None, *, epoch_utc=None, t_s=None) -> np.ndarray:
        """ECEF velocities in m/s (rotating frame), shape (n_sat, n_t, 3)."""
        return self.states_ecef(times_utc, epoch_utc=epoch_utc, t_s=t_s)[1]

    def states_ecef_pairs(self, sat_idx: np.ndarray, grid: TimeGrid):
        """ECEF states of satellite ``sat_idx[i]`` at time ``grid[i]``; shapes (n,), (n, 3).

        For root refinement where each sample has its own satellite: one vectorised
        ``sgp4_array`` call per distinct satellite (not per sample).
        Returns ``(r_ecef_m, v_ecef_mps, error)``.
        """
        sat_idx = np.asarray(sat_idx)
        n = sat_idx.shape[0]
        order = np.argsort(sat_idx, kind="stable")
        uniq, starts = np.unique(sat_idx[order], return_index=True)
        bounds = np.append(starts, n)
        jd, fr = grid.jd_whole[order], grid.jd_utc_fraction[order]
        r_s, v_s = np.empty((n, 3)), np.empty((n, 3))
        e_s = np.empty(n, dtype=np.int32)
        for u, a, b in zip(uniq.tolist(), bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            e_s[a:b], r_s[a:b], v_s[a:b] = self.satrecs[u].sgp4_array(jd[a:b], fr[a:b])
        r, v, e = np.empty_like(r_s), np.empty_like(v_s), np.empty_like(e_s)
        r[order], v[order], e[order] = r_s, v_s, e_s
        r[e != 0] = np.nan
        v[e != 0] = np.nan
        theta, theta_dot = gmst1982_rad(grid.jd_whole, grid.jd_ut1_fraction)
        r_m, v_mps = _teme_km_to_ecef_m(r, v, theta, theta_dot)
        return r_m, v_mps, e


def circular_period_s(altitude_m):
    """Period (s) of a circular orbit ``altitude_m`` (m, above the WGS72 equatorial radius,
    as :meth:`Constellation.walker_delta` takes it): Kepler's 2π √(a³ / μ).

    Simplified model: a point-mass Earth. With J2 the node-to-node (draconic) period that
    sgp4 propagates differs from it by 0.06 % at 535 and 705 km (sun-synchronous, measured
    against skyfield in the tests)."""
    a_m = WGS72_RADIUS_M + np.asarray(altitude_m, float)
    return 2.0 * np.pi * np.sqrt(a_m**3 / WGS72_MU_M3PS2)


def circular_ground_speed_mps(altitude_m):
    """Speed (m/s) of the sub-satellite point of a circular orbit ``altitude_m`` (m, above the
    WGS72 equatorial radius, as :meth:`Constellation.walker_delta` takes it): the orbital
    speed √(μ / a) scaled to the ground by R / a.

    Simplified model: a spherical, non-rotating Earth. The Earth turns under the track at up
    to 465 m/s × cos(latitude); for a retrograde sun-synchronous orbit (i ≈ 97.5°) its
    along-track part, 465 × |cos i| ≈ 60 m/s at the equator, makes the true ground speed
    faster: over an orbit, 0.7–0.9 % for 500–700 km (measured against skyfield's ground
    track in the tests).
    """
    a_m = WGS72_RADIUS_M + np.asarray(altitude_m, float)
    return np.sqrt(WGS72_MU_M3PS2 / a_m) * WGS72_RADIUS_M / a_m


def sun_synchronous_inclination_deg(altitude_m: float, eccentricity: float = 0.0) -> float:
    """Inclination (deg) whose J2 nodal regression is +360°/tropical year at this altitude."""
    a = WGS72_RADIUS_M + altitude_m
    n = np.sqrt(WGS72_MU_M3PS2 / a**3)
    raan_rate = TAU / TROPICAL_YEAR_S
    cos_i = (
        -raan_rate
        * 2.0
        * a**2
        * (1 - eccentricity**2) ** 2
        / (3.0 * n * WGS72_J2 * WGS72_RADIUS_M**2)
    )
    if abs(cos_i) > 1:
        raise ValueError(f"no sun-synchronous orbit at altitude {altitude_m} m")
    return float(np.degrees(np.arccos(cos_i)))


def mean_sun_right_ascension_deg(times_utc=None, *, epoch_utc=None, t_s=None) -> np.ndarray:
    """Right ascension of the mean sun (degrees, [0, 360)), shape (n_t,).

    The mean sun moves uniformly along the equator and defines mean solar time: by the
    definition of UT, GMST = α_mean + 15°/h × (UT1 − 12 h), so α_mean = GMST 1982 minus the
    UT1 hour angle. It differs from the true sun's right ascension by the equation of time
    (up to 16 min, 4°). Frame: mean equator and equinox of date, the axes of TEME and of
    ``Constellation.walker_delta``'s ``raan0_deg`` (to ~arcsec).
    """
    g = as_time_grid(times_utc, epoch_utc=epoch_utc, t_s=t_s)
    theta, _ = gmst1982_rad(g.jd_whole, g.jd_ut1_fraction)
    ut1_day_fraction = (g.jd_ut1_fraction + 0.5) % 1.0  # Julian days start at noon
    return np.degrees(theta - TAU * (ut1_day_fraction - 0.5)) % 360.0


def raan_for_ltan_deg(epoch_utc, ltan_h: float) -> float:
    """RAAN (degrees, [0, 360)) that puts a sun-synchronous plane's ascending node at local
    mean solar time ``ltan_h`` (hours, 0 ≤ ltan_h < 24) at ``epoch_utc``.

    RAAN = α_mean_sun(epoch) + 15°/h × (LTAN − 12 h) (:func:`mean_sun_right_ascension_deg`);
    a sun-synchronous plane keeps that local time as both advance ~0.9856°/day. Pass it as a
    Walker shell's ``raan0_deg`` with the same epoch. For a descending-node time (LTDN) use
    LTAN = LTDN + 12 h, e.g. 22.5 for a 10:30 descending node; dawn-dusk orbits are 6 or 18.
    """
    if not 0.0 <= ltan_h < 24.0:
        raise ValueError(f"ltan_h must be in [0, 24) hours, got {ltan_h}")
    alpha_deg = float(mean_sun_right_ascension_deg([epoch_utc])[0])
    raan_deg = (alpha_deg + 15.0 * (ltan_h - 12.0)) % 360.0
    return raan_deg if raan_deg < 360.0 else 0.0  # -1e-15 % 360 rounds up to 360.0


# --- sun ------------------------------------------------------------------------------
def _sun_mean_of_date(jd_whole, jd_fraction):
    """Astronomical Almanac low-precision sun (≈0.01°, 1950–2050): unit vector in the mean
    equator/equinox of date (TEME axes to ~arcsec), shape (n_t, 3), and distance in m."""
    n = (jd_whole - J2000_JD) + jd_fraction
    mean_lon = np.radians((280.460 + 0.9856474 * n) % 360.0)
    g = np.radians((357.528 + 0.9856003 * n) % 360.0)
    lam = mean_lon + np.radians(1.915) * np.sin(g) + np.radians(0.020) * np.sin(2 * g)
    eps = np.radians(23.439 - 4.0e-7 * n)
    dist_m = (1.00014 - 0.01671 * np.cos(g) - 0.00014 * np.cos(2 * g)) * AU_M
    u = np.stack([np.cos(lam), np.cos(eps) * np.sin(lam), np.sin(eps) * np.sin(lam)], axis=-1)
    return u, dist_m


def sun_direction_ecef(times_utc=None, *, epoch_utc=None, t_s=None):
    """Unit sun direction in ECEF, shape (n_t, 3), and Earth–Sun distance in m, shape (n_t,).

    Almanac formula in the mean-of-date frame, rotated by GMST 1982 (UT1) like the satellites
    (the equation of the equinoxes, ≤ 1.2 s of time, is ignored).
    """
    g = as_time_grid(times_utc, epoch_utc=epoch_utc, t_s=t_s)
    u, dist_m = _sun_mean_of_date(g.jd_whole, g.jd_ut1_fraction)
    theta, _ = gmst1982_rad(g.jd_whole, g.jd_ut1_fraction)
    c, s = np.cos(theta), np.sin(theta)
    out = np.stack([c * u[:, 0] + s * u[:, 1], c * u[:, 1] - s * u[:, 0], u[:, 2]], axis=-1)
    return out, dist_m


def sun_position_ecef_m(times_utc=None, *, epoch_utc=None, t_s=None) -> np.ndarray:
    """Sun position in ECEF metres, shape (n_t, 3)."""
    u, d = sun_direction_ecef(times_utc, epoch_utc=epoch_utc, t_s=t_s)
    return u * d[:, None]


def _shadow_angles(r_ecef_m, sun_r_ecef_m):
    """Apparent radii of Sun (a) and Earth (b) and their separation (c), radians, seen
    from r; inputs broadcast (..., 3)."""
    r = np.asarray(r_ecef_m, dtype=np.float64)
    to_sun = np.asarray(sun_r_ecef_m, dtype=np.float64) - r
    d_sun = np.linalg.norm(to_sun, axis=-1)
    d_earth = np.linalg.norm(r, axis=-1)
    a = np.arcsin(np.minimum(SUN_RADIUS_M / d_sun, 1.0))
    b = np.arcsin(np.minimum(WGS84_RADIUS_M / d_earth, 1.0))
    cross = np.linalg.norm(np.cross(to_sun, -r), axis=-1)
    c = np.arctan2(cross, np.sum(to_sun * -r, axis=-1))
    return a, b, c


def eclipse_state(r_ecef_m, sun_r_ecef_m) -> np.ndarray:
    """Conical shadow: 0 sunlit, 1 penumbra (or annular), 2 umbra; int8, broadcast shape.

    ``r_ecef_m`` (..., 3) satellite positions; ``sun_r_ecef_m`` (..., 3) Sun position
    (e.g. (n_t, 3) against (n_sat, n_t, 3)). Earth is a sphere of the WGS84 equatorial radius.
    """
    a, b, c = _shadow_angles(r_ecef_m, sun_r_ecef_m)
    state = np.ones(np.broadcast(a, c).shape, dtype=np.int8)
    state[c >= a + b] = 0
    state[c <= b - a] = 2
    return state


def sunlit_fraction(r_ecef_m, sun_r_ecef_m) -> np.ndarray:
    """Fraction (0..1) of the solar disc's area visible from r, broadcast shape (...).

    Area of the lens between the two apparent discs treated as planar circles (good to
    ~0.1 % in LEO, where the Earth's limb curvature across the 0.5° solar disc is tiny).
    """
    a, b, c = _shadow_angles(r_ecef_m, sun_r_ecef_m)
    c = np.maximum(c, 1e-12)
    with np.errstate(invalid="ignore"):
        ca = np.clip((c * c + a * a - b * b) / (2 * c * a), -1.0, 1.0)
        cb = np.clip((c * c + b * b - a * a) / (2 * c * b), -1.0, 1.0)
        k = (-c + a + b) * (c + a - b) * (c - a + b) * (c + a + b)
        lens = a * a * np.arccos(ca) + b * b * np.arccos(cb) - 0.5 * np.sqrt(np.maximum(k, 0.0))
    overlap = np.where(
        c >= a + b, 0.0, np.where(c <= np.abs(b - a), np.pi * np.minimum(a, b) ** 2, lens)
    )
    return np.clip(1.0 - overlap / (np.pi * a * a), 0.0, 1.0)


def sun_elevation_deg(lat_deg, lon_deg, times_utc=None, *, epoch_utc=None, t_s=None):
    """Sun elevation above the geodetic horizon at ground points, degrees, shape (n_pts, n_t).

    Parallax (≤ 0.0025°) is ignored and no refraction is applied. Positive = ground sunlit.
    """
    u, _ = sun_direction_ecef(times_utc, epoch_utc=epoch_utc, t_s=t_s)
    up = geodetic_up_ecef(np.atleast_1d(lat_deg), np.atleast_1d(lon_deg))
    return np.degrees(np.arcsin(np.clip(up @ u.T, -1.0, 1.0)))
