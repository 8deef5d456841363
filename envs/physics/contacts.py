"""Contact windows (visibility passes above an elevation mask) of satellites over stations.

Algorithm, vectorised over satellites × stations (component-first arrays, no einsum):

1. one ``SatrecArray`` SGP4 propagation on a uniform coarse grid (step = shortest period /
   ``STEPS_PER_PERIOD``, ≤ 600 s), shared by all stations;
2. a rigorous screen drops grid intervals in which the satellite cannot reach the mask (the
   central angle to the station moves at most at the ground-track rate);
3. g(t) = sin(elevation) − sin(mask) above the *geodetic* horizon (ellipsoid normal, as
   skyfield's ``wgs84.latlon(...)`` + ``altaz()``), with dg/dt from the ECEF velocity, at the
   candidates' grid samples; in between, a quintic Hermite of the position through r, v and a
   point-mass + J2 (+ rotating-frame) acceleration at both ends (metres at P/8);
4. grazing passes whose peak falls between two below-mask samples: where dg/dt goes + → −
   the maximum is located on the interpolant (Newton, analytic d²g/dt²); peaks within
   ``PEAK_MARGIN`` of the mask are re-located on exact SGP4 states;
5. every monotone piece with a sign change holds one crossing: Newton on the interpolant
   gives a guess within a few tenths of a second, then Newton on *exact* SGP4 states (all
   roots of a satellite in one ``sgp4_array`` call) until the predicted error
   (curvature × step²) is ≤ ``tol_s``/2 — one exact evaluation per root in practice.

A pass already in progress at the start gets rise = start (``rise_clipped``); one still in
progress at the end gets set = end (``set_clipped``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sagsim.envs.physics.contact_refine import (
    cubic_peak_tau,
    newton_roots,
    peak_newton,
    polish_roots,
)
from sagsim.envs.physics.geodesy import geodetic_to_ecef, geodetic_up_ecef
from sagsim.envs.physics.orbits import (
    WGS72_J2,
    WGS72_MU_M3PS2,
    WGS72_RADIUS_M,
    Constellation,
    gmst1982_rad,
)
from sagsim.envs.physics.timebase import TimeGrid, datetime64_to_utc, to_datetime64_us

MAX_GRID_STEP_S = 600.0
STEPS_PER_PERIOD = 8
DEFAULT_TOL_S = 0.01
# |g| (sin-elevation units) below which an interpolated peak is re-checked on exact states:
# several times the interpolation error (tens of metres at P/8, ≈ 1e-4 at 1,500 km range).
PEAK_MARGIN = 0.004


def station_ecef_m(lat_deg, lon_deg, alt_m) -> np.ndarray:
    """WGS84 geodetic (deg, deg, ellipsoidal height m) to ECEF metres, shape (n_st, 3)."""
    lat, lon, alt = np.broadcast_arrays(
        np.atleast_1d(np.asarray(lat_deg, float)),
        np.atleast_1d(np.asarray(lon_deg, float)),
        np.atleast_1d(np.asarray(alt_m, float)),
    )
    return geodetic_to_ecef(lon, lat, alt)


@dataclass(frozen=True)
class ContactTable:
    """Passes as a struct of arrays, each shape (n_pass,), sorted by (station, sat, rise).

    ``rise_t_s``/``set_t_s`` are seconds since ``epoch_us`` (= start time); ``rise_clipped``
    means the pass was in progress at the start, ``set_clipped`` that it was at the end.
    """

    epoch_us: np.datetime64
    duration_s: float
    station_idx: np.ndarray
    sat_idx: np.ndarray
    rise_t_s: np.ndarray
    set_t_s: np.ndarray
    rise_clipped: np.ndarray
    set_clipped: np.ndarray

    @property
    def complete(self) -> np.ndarray:
        """Mask of passes whose rise and set both lie inside the window."""
        return ~(self.rise_clipped | self.set_clipped)

    def windows_utc(self, n_sat: int, station: int = 0) -> list[list[tuple]]:
        """Per satellite, the list of (rise_utc, set_utc) tz-aware datetimes for a station."""
        out: list[list[tuple]] = [[] for _ in range(n_sat)]
        sel = np.flatnonzero(self.station_idx == station)
        us = lambda t: self.epoch_us + np.round(t * 1e6).astype("timedelta64[us]")  # noqa: E731
        rises = datetime64_to_utc(us(self.rise_t_s[sel]))
        sets = datetime64_to_utc(us(self.set_t_s[sel]))
        for k, i in enumerate(sel):
            out[self.sat_idx[i]].append((rises[k], sets[k]))
        return out


def _dot(a, b):
    """Row-wise dot product of component-first arrays a, b (3, ...) → (...)."""
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


class _Geometry:
    """g = sin(el) − sin(mask) above the geodetic horizon and its time derivatives."""

    def __init__(self, r_sta_m, up, min_elevation_deg):
        self.r_sta = np.ascontiguousarray(r_sta_m.T)  # (3, n_st)
        self.up = np.ascontiguousarray(up.T)
        self.sin_mask = np.sin(np.radians(min_elevation_deg))

    def pairs(self, r, v, st, a=None):
        """ECEF r (m), v (m/s) [, a (m/s²)], shape (3, n), paired with station indices st (n,)
        → g, dg/dt (1/s) [, d²g/dt² (1/s²)], each shape (n,)."""
        d = r - self.r_sta[:, st]
        u = self.up[:, st]
        inv = 1.0 / np.sqrt(_dot(d, d))  # 1/|ρ|
        sin_el = _dot(d, u) * inv  # g + sin(mask) = ρ_u/|ρ|
        q1 = _dot(d, v) * inv  # d|ρ|/dt
        dg = (_dot(v, u) - sin_el * q1) * inv
        g = sin_el - self.sin_mask[st]
        if a is None:
            return g, dg
        # (g q)'' = ρ_u'' → g'' = (a·u − 2 g' q' − sin_el q'')/q, q'' = (v·v + ρ·a − q'²)/q.
        q2 = (_dot(v, v) + _dot(d, a) - q1 * q1) * inv
        return g, dg, (_dot(a, u) - 2.0 * dg * q1 - sin_el * q2) * inv


def _accel_ecef(r, v, omega_radps):
    """SGP4-consistent ECEF acceleration (m/s²) of states r (m), v (m/s), shape (3, ...):
    point mass + J2 (WGS72) plus the Coriolis and centrifugal terms of the rotating frame.
    Only feeds the interpolant (an error δa moves it by ~δa h²/100)."""
    x, y, z = r
    inv_r2 = 1.0 / _dot(r, r)
    k = -WGS72_MU_M3PS2 * inv_r2 * np.sqrt(inv_r2)
    j = 1.5 * WGS72_J2 * WGS72_RADIUS_M**2 * inv_r2
    zz = 5.0 * z * z * inv_r2
    kxy = k * (1.0 - j * (zz - 1.0))
    w2 = omega_radps * omega_radps
    return np.stack(
        [
            kxy * x + 2.0 * omega_radps * v[1] + w2 * x,
            kxy * y - 2.0 * omega_radps * v[0] + w2 * y,
            k * (1.0 - j * (zz - 3.0)) * z,
        ]
    )


class _Hermite:
    """Quintic Hermite of the ECEF position on each candidate interval [t0, t0 + h] through
    position, velocity and (modelled) acceleration at both ends: p(τ) = Σ c_j τ^j,
    τ = (t − t0)/h; coefficients shape (6, 3, n). Error ~θ⁶R/46080 for an arc θ = 2πh/P
    (~3 m at P/12), so root guesses are within a few ms of the exact crossing."""

    def __init__(self, geo, st, p0, v0, a0, p1, v1, a1, t0, h_s):
        c1, c2 = h_s * v0, (0.5 * h_s * h_s) * a0
        d = p1 - p0 - c1 - c2
        e = h_s * v1 - c1 - 2.0 * c2
        f = (h_s * h_s) * a1 - 2.0 * c2
        self.c = np.stack(
            [
                p0,
                c1,
                c2,
                10.0 * d - 4.0 * e + 0.5 * f,
                7.0 * e - 15.0 * d - f,
                6.0 * d - 3.0 * e + 0.5 * f,
            ]
        )
        self.geo, self.st, self.t0, self.h = geo, st, t0, h_s

    def subset(self, idx) -> _Hermite:
        """The interpolant restricted to candidates ``idx``."""
        sub = object.__new__(_Hermite)
        sub.c, sub.st, sub.t0 = self.c[:, :, idx], self.st[idx], self.t0[idx]
        sub.geo, sub.h = self.geo, self.h
        return sub

    def __call__(self, idx, t, accel=False):
        """g, dg/dt [, d²g/dt²] of candidates ``idx`` (n,) at times t (n,) on the interpolant;
        ``idx`` None: all candidates (no gather)."""
        if idx is None:
            idx = slice(None)
        c, h = self.c[:, :, idx], self.h
        tau = (t - self.t0[idx]) / h
        p = ((((c[5] * tau + c[4]) * tau + c[3]) * tau + c[2]) * tau + c[1]) * tau + c[0]
        v = (
            (((5.0 * c[5] * tau + 4.0 * c[4]) * tau + 3.0 * c[3]) * tau + 2.0 * c[2]) * tau + c[1]
        ) / h
        a = None
        if accel:
            a = (((20.0 * c[5] * tau + 12.0 * c[4]) * tau + 6.0 * c[3]) * tau + 2.0 * c[2]) / (
                h * h
            )
        return self.geo.pairs(p, v, self.st[idx], a)


def _candidate_intervals(r, v, r_sta, mask_deg, h_s):
    """Rigorous screen: (sat, interval, station) index arrays of grid intervals in which the
    satellite may rise above the mask; all others are certainly below it throughout.

    r, v: ECEF (3, n_sat, n_t). The central angle between sub-satellite point and station
    changes at most at the ground-track angular rate ω, so inside an interval it is
    ≥ mean(ends) − ω h/2; a pass needs it ≤ λ_max, the central angle of the mask circle at
    the satellite's top radius. Only intervals with one end on each side of λ_max + ω h/2
    need the angles themselves (arccos).
    """
    r_norm = np.sqrt(_dot(r, r))
    cx, cy = r[1] * v[2] - r[2] * v[1], r[2] * v[0] - r[0] * v[2]
    cz = r[0] * v[1] - r[1] * v[0]
    rate = np.sqrt(cx * cx + cy * cy + cz * cz) / (r_norm * r_norm)
    omega = 1.2 * np.nanmax(rate, axis=1) + 1e-5  # rad/s; margin for eccentric orbits
    r_top = 1.001 * np.nanmax(r_norm, axis=1)
    s_norm = np.linalg.norm(r_sta, axis=1)
    # Geocentric elevation differs from geodetic by the deflection (≤ 0.19°): widen it.
    el = np.radians(np.maximum(mask_deg - 0.25, -89.0))
    cos_arg = np.clip(s_norm[None, :] * np.cos(el)[None, :] / r_top[:, None], -1.0, 1.0)
    lam_max = np.arccos(cos_arg) - el[None, :] + np.radians(0.5)  # (n_sat, n_st)
    lim = np.minimum(lam_max + (0.5 * h_s * omega)[:, None], np.pi)  # on mean(ends)
    s_hat = r_sta / s_norm[:, None]
    inv = 1.0 / r_norm
    cos_ang = np.stack([(r[0] * s[0] + r[1] * s[1] + r[2] * s[2]) * inv for s in s_hat], axis=-1)
    inside = cos_ang >= np.cos(lim)[:, None, :]  # end angle ≤ lim; NaN (SGP4 failure): never
    cand = inside[:, 1:] & inside[:, :-1]
    s, i, k = np.nonzero(inside[:, 1:] ^ inside[:, :-1])
    a0 = np.arccos(np.clip(cos_ang[s, i, k], -1.0, 1.0))
    a1 = np.arccos(np.clip(cos_ang[s, i + 1, k], -1.0, 1.0))
    cand[s, i, k] = 0.5 * (a0 + a1) <= lim[s, k]
    return np.nonzero(cand)


def contact_windows_many(
    constellation: Constellation,
    lat_deg,
    lon_deg,
    alt_m,
    start_utc,
    end_utc,
    min_elevation_deg=10.0,
    *,
    step_s: float | None = None,
    tol_s: float = DEFAULT_TOL_S,
) -> ContactTable:
    """Passes of every satellite over every station (lat/lon/alt/mask arrays, shape (n_st,)).

    ``step_s`` is the SGP4 grid step (default: shortest period / 8, ≤ 600 s). Rises and sets
    are refined to ≤ ``tol_s`` seconds. Returns a :class:`ContactTable` (seconds since
    ``start_utc``).
    """
    start_us = to_datetime64_us(start_utc)[0]
    duration_s = float((to_datetime64_us(end_utc)[0] - start_us).astype(np.int64)) / 1e6
    if duration_s <= 0:
        raise ValueError("end_utc must be after start_utc")
    lat_b, lon_b, alt_b = np.broadcast_arrays(
        *(np.atleast_1d(np.asarray(a, float)) for a in (lat_deg, lon_deg, alt_m))
    )
    r_sta = station_ecef_m(lat_b, lon_b, alt_b)
    n_st, n_sat = r_sta.shape[0], constellation.n_sat
    mask_deg = np.broadcast_to(np.asarray(min_elevation_deg, float), (n_st,))
    geo = _Geometry(r_sta, geodetic_up_ecef(lat_b, lon_b), mask_deg)
    if n_sat == 0:
        none_i, none_t = np.zeros(0, dtype=np.intp), np.zeros(0)
        return ContactTable(
            start_us, duration_s, none_i, none_i, none_t, none_t, none_t > 0, none_t > 0
        )

    # 1. Exact SGP4 states on a coarse grid (a quintic Hermite fills in between).
    if step_s is None:
        step_s = min(MAX_GRID_STEP_S, constellation.period_s.min() / STEPS_PER_PERIOD)
    n_t = int(np.ceil(duration_s / step_s)) + 1
    grid = TimeGrid.from_offsets(start_us, np.linspace(0.0, duration_s, n_t))
    t, h_s = grid.t_s, grid.t_s[1] - grid.t_s[0]
    r, v = constellation.states_ecef(grid)
    r, v = np.moveaxis(r, -1, 0).copy(), np.moveaxis(v, -1, 0).copy()  # (3, n_sat, n_t)

    # 2. Screen intervals, then exact g, dg/dt at the candidates' two grid samples.
    c_sat, c_i, c_st = _candidate_intervals(r, v, r_sta, mask_deg, h_s)
    p0, v0, p1, v1 = r[:, c_sat, c_i], v[:, c_sat, c_i], r[:, c_sat, c_i + 1], v[:, c_sat, c_i + 1]
    g0, dg0 = geo.pairs(p0, v0, c_st)
    g1, dg1 = geo.pairs(p1, v1, c_st)
    t0 = t[c_i]
    omega = gmst1982_rad(grid.jd_whole[:1], grid.jd_ut1_fraction[:1])[1][0]
    acc = _accel_ecef(r, v, omega)
    a0, a1 = acc[:, c_sat, c_i], acc[:, c_sat, c_i + 1]
    interp = _Hermite(geo, c_st, p0, v0, a0, p1, v1, a1, t0, h_s)

    def exact(idx, times):
        rr, vv, _ = constellation.states_ecef_pairs(c_sat[idx], grid.at_offsets(times))
        return geo.pairs(rr.T, vv.T, c_st[idx])

    def exact_peak(idx, times):  # exact g, dg/dt; d²g/dt² from the interpolant
        return (*exact(idx, times), interp(idx, times, accel=True)[2])

    # 3. Passes hidden between two below-mask samples: a maximum inside (dg/dt + → −, at
    #    most one per interval: the closest approach). Locate it on the interpolant;
    #    near-mask peaks are re-located on exact states. Intervals whose samples straddle
    #    the mask need no split: one crossing, found by the bracketed solver.
    e = np.flatnonzero((dg0 > 0) & (dg1 < 0) & (g0 <= 0) & (g1 <= 0))
    t1e = t[c_i[e] + 1]
    x0 = t0[e] + h_s * cubic_peak_tau(g0[e], dg0[e], g1[e], dg1[e], h_s)
    interp_e = interp.subset(e)
    t_ext, g_ext, _ = peak_newton(lambda idx, x: interp_e(idx, x, True), t0[e], t1e, x0, 1.0)
    near = np.flatnonzero(np.abs(g_ext) < PEAK_MARGIN)
    if near.size:
        en = e[near]
        t_ext[near], g_ext[near], _ = peak_newton(
            lambda idx, x: exact_peak(en if idx is None else en[idx], x),
            t0[en],
            t1e[near],
            t_ext[near],
            tol_s,
        )

    # 4. Monotone pieces [lo, hi] (split at the extremum); a sign change = one crossing.
    split = np.zeros(c_i.size, bool)
    split[e] = True
    ext_t, ext_g = np.zeros(c_i.size), np.zeros(c_i.size)
    ext_t[e], ext_g[e] = t_ext, g_ext
    k = np.concatenate([np.arange(c_i.size), e])  # candidate of each piece
    lo = np.concatenate([t0, t_ext])
    hi = np.concatenate([np.where(split, ext_t, t[c_i + 1]), t1e])
    g_lo = np.concatenate([g0, g_ext])
    g_hi = np.concatenate([np.where(split, ext_g, g1), g1[e]])
    sub = np.concatenate([np.zeros(c_i.size, int), np.ones(e.size, int)])
    x = np.flatnonzero((g_lo > 0) != (g_hi > 0))
    k, lo, hi, g_lo, g_hi, sub = k[x], lo[x], hi[x], g_lo[x], g_hi[x], sub[x]
    c_rise = g_hi > 0

    # 5. Roots on the interpolant, then Newton polish on exact SGP4 states (one evaluation
    #    per root for all but a few; all roots of a satellite in one sgp4_array call).
    x0 = lo + (hi - lo) * g_lo / (g_lo - g_hi)  # false position start
    interp_k = interp.subset(k)
    guess = newton_roots(interp_k, lo, hi, g_lo, 1.0, x0=x0)
    _g, dg_a, ddg_a = interp_k(None, guess, accel=True)
    curvature = np.abs(ddg_a) / np.maximum(2.0 * np.abs(dg_a), 1e-300)
    roots = polish_roots(
        lambda idx, xx: exact(k if idx is None else k[idx], xx), guess, lo, hi, curvature, tol_s
    )

    # 6. Events (crossings + synthetic rise at start / set at end for passes in progress),
    #    ordered by grid interval and piece; they must alternate rise, set per pair.
    sat_all, st_all = np.divmod(np.arange(n_sat * n_st), n_st)
    a0 = geo.pairs(r[:, sat_all, 0], v[:, sat_all, 0], st_all)[0] > 0
    a1 = geo.pairs(r[:, sat_all, -1], v[:, sat_all, -1], st_all)[0] > 0
    s0_st, s0_sat, s1_st, s1_sat = st_all[a0], sat_all[a0], st_all[a1], sat_all[a1]
    ev_st = np.concatenate([c_st[k], s0_st, s1_st])
    ev_sat = np.concatenate([c_sat[k], s0_sat, s1_sat])
    ev_key = np.concatenate(
        [2 * c_i[k] + sub, np.full(s0_st.size, -1), np.full(s1_st.size, 2 * n_t)]
    )
    ev_t = np.concatenate([roots, np.zeros(s0_st.size), np.full(s1_st.size, duration_s)])
    ev_rise = np.concatenate([c_rise, np.ones(s0_st.size, bool), np.zeros(s1_st.size, bool)])
    ev_clip = np.concatenate([np.zeros(k.size, bool), np.ones(s0_st.size + s1_st.size, bool)])
    order = np.lexsort((ev_key, ev_sat, ev_st))
    ev_st, ev_sat, ev_t, ev_rise, ev_clip = (
        a[order] for a in (ev_st, ev_sat, ev_t, ev_rise, ev_clip)
    )
    if not (ev_rise[0::2].all() and not ev_rise[1::2].any()):
        raise RuntimeError("internal error: rise/set events do not alternate")
    return ContactTable(
        epoch_us=start_us,
        duration_s=duration_s,
        station_idx=ev_st[0::2],
        sat_idx=ev_sat[0::2],
        rise_t_s=np.clip(ev_t[0::2], 0.0, duration_s),
        set_t_s=np.clip(ev_t[1::2], 0.0, duration_s),
        rise_clipped=ev_clip[0::2],
        set_clipped=ev_clip[1::2],
    )


def contact_windows(
    constellation: Constellation,
    lat_deg: float,
    lon_deg: float,
    alt_m: float,
    start_utc,
    end_utc,
    min_elevation_deg: float = 10.0,
    **kwargs,
) -> list[list[tuple]]:
    """Contact windows of each satellite over one station, as UTC datetimes.

    Returns a list (per satellite, in constellation order) of lists of ``(rise_utc, set_utc)``
    tz-aware datetimes, sorted by rise. A pass in progress at ``start_utc`` has rise =
    start_utc; one in progress at ``end_utc`` has set = end_utc (see
    :func:`contact_windows_many` for the flags and seconds-based arrays).
    """
    table = contact_windows_many(
        constellation, lat_deg, lon_deg, alt_m, start_utc, end_utc, min_elevation_deg, **kwargs
    )
    return table.windows_utc(constellation.n_sat, station=0)
