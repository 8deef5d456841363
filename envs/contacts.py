"""Contact windows (visibility passes above an elevation mask) of satellites over stations.

Algorithm, vectorised over stations × satellites:

1. one SGP4 propagation on a coarse grid (step ≤ 60 s and ≤ shortest period / 100);
2. g(t) = sin(elevation) − sin(mask) above the *geodetic* horizon (ellipsoid normal, as
   skyfield's ``wgs84.latlon(...)`` + ``altaz()``), and its exact time derivative from the
   ECEF velocity;
3. sign changes of g bracket rises/sets; all brackets are refined together by safeguarded
   Newton iterations (bisection fallback) to ≤ ``tol_s``, re-propagating only the bracket
   times (one ``sgp4_array`` call per satellite per iteration);
4. grazing passes whose peak falls between two below-mask samples: sign changes of dg/dt
   (+ → −) locate every maximum; the maxima are refined (Illinois false position) and, where
   the refined peak is above the mask, its two crossings are refined as in 3.

A pass already in progress at the start gets rise = start (``rise_clipped``); one still in
progress at the end gets set = end (``set_clipped``). Two passes closer than one grid step
whose dip between them stays within one step are merged (does not happen for LEO masks).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from envs.orbits import Constellation, geodetic_up_ecef
from envs.timebase import TimeGrid, datetime64_to_utc, to_datetime64_us

MAX_GRID_STEP_S = 600.0
STEPS_PER_PERIOD = 12
DEFAULT_TOL_S = 0.01
# |g| (sin-elevation units) below which an interpolated peak is re-checked on exact states:
# a few times the interpolation error (~1 km / 1500 km range ≈ 7e-4 at P/12).
PEAK_MARGIN = 0.004
_MAX_ITER = 60


@lru_cache(maxsize=1)
def _geodetic_to_ecef():
    import pyproj

    return pyproj.Transformer.from_crs("EPSG:4979", "EPSG:4978", always_xy=True)


def station_ecef_m(lat_deg, lon_deg, alt_m) -> np.ndarray:
    """WGS84 geodetic (deg, deg, ellipsoidal height m) to ECEF metres, shape (n_st, 3)."""
    lat, lon, alt = np.broadcast_arrays(
        np.atleast_1d(np.asarray(lat_deg, float)),
        np.atleast_1d(np.asarray(lon_deg, float)),
        np.atleast_1d(np.asarray(alt_m, float)),
    )
    x, y, z = _geodetic_to_ecef().transform(lon, lat, alt)
    return np.stack([x, y, z], axis=-1)


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


class _Geometry:
    """g = sin(el) − sin(mask) above the geodetic horizon, and dg/dt, for paired samples."""

    def __init__(self, r_sta_m, up, min_elevation_deg):
        self.r_sta = r_sta_m
        self.up = up
        self.sin_mask = np.sin(np.radians(min_elevation_deg))

    def pairs(self, r, v, st):
        """ECEF r (m), v (m/s), shape (n, 3), paired with station indices st (n,) →
        g, dg/dt (1/s), shape (n,)."""
        d = r - self.r_sta[st]
        u = self.up[st]
        rho_u = np.einsum("ij,ij->i", d, u)
        inv = 1.0 / np.sqrt(np.einsum("ij,ij->i", d, d))
        sin_el = rho_u * inv
        v_u = np.einsum("ij,ij->i", v, u)
        rho_v = np.einsum("ij,ij->i", d, v)
        return sin_el - self.sin_mask[st], (v_u - sin_el * rho_v * inv) * inv


def _newton_roots(f, lo, hi, f_lo, tol_s, x0=None):
    """Vectorised safeguarded Newton for brackets [lo, hi] with a sign change of f.

    ``f(idx, t) -> (value, derivative)`` for the subset ``idx``; steps leaving the bracket
    fall back to bisection. Stops when the step is ≤ tol_s. Returns roots (n,).
    """
    lo, hi, f_lo = lo.copy(), hi.copy(), f_lo.copy()
    x = 0.5 * (lo + hi) if x0 is None else np.clip(x0, lo, hi)
    active = np.arange(lo.shape[0])
    for _ in range(_MAX_ITER):
        if active.size == 0:
            break
        xa, la, ha = x[active], lo[active], hi[active]
        val, der = f(active, xa)
        same = np.sign(val) == np.sign(f_lo[active])
        la, ha = np.where(same, xa, la), np.where(same, ha, xa)
        lo[active], hi[active] = la, ha
        f_lo[active] = np.where(same, val, f_lo[active])
        with np.errstate(divide="ignore", invalid="ignore"):
            xn = xa - val / der
        xn = np.where((xn >= la) & (xn <= ha), xn, 0.5 * (la + ha))  # also catches NaN
        xn = np.where(val == 0, xa, xn)
        done = (np.abs(xn - xa) <= tol_s) | (ha - la <= tol_s)
        x[active] = xn
        active = active[~done]
    return x


def _cubic_peak_tau(g0, dg0, g1, dg1, h_s):
    """τ ∈ (0, 1) of the maximum of the scalar cubic Hermite through (g0, dg0), (g1, dg1)
    with dg0 > 0 > dg1 (exactly one root of its derivative lies inside)."""
    b, c = 3.0 * (g1 - g0) - h_s * (2.0 * dg0 + dg1), 2.0 * (g0 - g1) + h_s * (dg0 + dg1)
    # G'(τ) = h dg0 + 2bτ + 3cτ²; the sign change on (0, 1) makes bisection-free roots safe.
    qa, qb, qc = 3.0 * c, 2.0 * b, h_s * dg0
    disc = np.sqrt(np.maximum(qb * qb - 4.0 * qa * qc, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        q = -0.5 * (qb + np.copysign(disc, qb))
        r1, r2 = q / qa, qc / q
    ok1 = (r1 > 0) & (r1 < 1)
    tau = np.where(ok1, r1, r2)
    return np.where(np.isfinite(tau) & (tau > 0) & (tau < 1), tau, 0.5)


def _peak_newton(f, lo, hi, x0, tol_s, delta_s=0.5):
    """Vectorised maximum search: Newton on dg/dt with a central-difference g''.

    ``f(idx, t) -> (g, dg)``; [lo, hi] brackets a + → − change of dg. Steps leaving the
    bracket bisect. Returns (t_peak, g_peak), shape (n,).
    """
    lo, hi, x = lo.copy(), hi.copy(), x0.copy()
    g_peak = np.empty_like(x)
    active = np.arange(x.shape[0])
    for _ in range(_MAX_ITER):
        if active.size == 0:
            break
        xa, m = x[active], active.size
        g, dg = f(np.concatenate([active, active]), np.concatenate([xa - delta_s, xa + delta_s]))
        g_mid, dg_mid, ddg = 0.5 * (g[:m] + g[m:]), 0.5 * (dg[:m] + dg[m:]), (dg[m:] - dg[:m])
        g_peak[active] = g_mid
        la = np.where(dg_mid > 0, xa, lo[active])
        ha = np.where(dg_mid > 0, hi[active], xa)
        lo[active], hi[active] = la, ha
        with np.errstate(divide="ignore", invalid="ignore"):
            xn = xa - dg_mid * (2.0 * delta_s) / ddg
        xn = np.where((ddg < 0) & (xn > la) & (xn < ha), xn, 0.5 * (la + ha))
        x[active] = xn
        done = (np.abs(xn - xa) <= tol_s) | (ha - la <= tol_s)
        active = active[~done]
    return x, g_peak


def _polish_roots(f, x, lo, hi, curvature, tol_s):
    """Newton on exact states from a close guess x (n,), clipped to [lo, hi].

    ``curvature`` ≈ |g''/(2g')| (1/s) predicts the error left after a step s as
    curvature·s² (quadratic convergence); a root is done once that is ≤ tol_s/2 or the step
    ≤ tol_s/10,
    so one exact propagation usually suffices.
    """
    x = x.copy()
    active = np.arange(x.shape[0])
    for _ in range(_MAX_ITER):
        if active.size == 0:
            break
        xa = x[active]
        val, der = f(active, xa)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.nan_to_num(-val / der)
        xn = np.clip(xa + step, lo[active], hi[active])
        x[active] = xn
        step = xn - xa
        done = (np.abs(step) <= 0.1 * tol_s) | (curvature[active] * step * step <= 0.5 * tol_s)
        active = active[~done]
    return x


def _candidate_intervals(r, v, r_sta, mask_deg, h_s):
    """Rigorous screen: (sat, interval, station) index arrays of grid intervals in which the
    satellite may rise above the mask; all others are certainly below it throughout.

    The central angle between sub-satellite point and station changes at most at the
    ground-track angular rate ω, so inside an interval it is ≥ mean(ends) − ω h/2; a pass
    needs it ≤ λ_max, the central angle of the mask circle at the satellite's top radius.
    """
    r_norm = np.sqrt(np.einsum("stk,stk->st", r, r))
    rate = np.sqrt(np.einsum("stk,stk->st", c := np.cross(r, v), c)) / r_norm**2
    omega = 1.2 * np.nanmax(rate, axis=1) + 1e-5  # rad/s; margin for eccentric orbits
    r_top = 1.001 * np.nanmax(r_norm, axis=1)
    s_norm = np.linalg.norm(r_sta, axis=1)
    # Geocentric elevation differs from geodetic by the deflection (≤ 0.19°): widen it.
    el = np.radians(np.maximum(mask_deg - 0.25, -89.0))
    cos_arg = np.clip(s_norm[None, :] * np.cos(el)[None, :] / r_top[:, None], -1.0, 1.0)
    lam_max = np.arccos(cos_arg) - el[None, :] + np.radians(0.5)  # (n_sat, n_st)
    s_hat = r_sta / s_norm[:, None]
    inv = 1.0 / r_norm
    ang = np.stack(
        [
            np.arccos(
                np.clip((r[..., 0] * s[0] + r[..., 1] * s[1] + r[..., 2] * s[2]) * inv, -1.0, 1.0)
            )
            for s in s_hat
        ],
        axis=-1,
    )  # (n_sat, n_t, n_st); NaN (SGP4 failure) is never a candidate
    lower = 0.5 * (ang[:, 1:] + ang[:, :-1]) - (0.5 * h_s * omega)[:, None, None]
    return np.nonzero(lower <= lam_max[:, None, :])


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

    ``step_s`` is the SGP4 grid step (default: shortest period / 12, ≤ 600 s). Rises and sets
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
    n_st = r_sta.shape[0]
    mask_deg = np.broadcast_to(np.asarray(min_elevation_deg, float), (n_st,))
    geo = _Geometry(r_sta, geodetic_up_ecef(lat_b, lon_b), mask_deg)

    # 1. Exact SGP4 states on a coarse grid (cubic Hermite fills in between: ~1 km at P/12).
    if step_s is None:
        step_s = min(MAX_GRID_STEP_S, constellation.period_s.min() / STEPS_PER_PERIOD)
    n_t = int(np.ceil(duration_s / step_s)) + 1
    grid = TimeGrid.from_offsets(start_us, np.linspace(0.0, duration_s, n_t))
    t, h_s = grid.t_s, grid.t_s[1] - grid.t_s[0]
    r, v = constellation.states_ecef(grid)

    def exact(st, sat, times):
        rr, vv, _ = constellation.states_ecef_pairs(sat, grid.at_offsets(times))
        return geo.pairs(rr, vv, st)

    # 2. Screen intervals, then exact g, dg/dt at the candidates' two grid samples.
    c_sat, c_i, c_st = _candidate_intervals(r, v, r_sta, mask_deg, h_s)
    p0, v0, p1, v1 = r[c_sat, c_i], v[c_sat, c_i], r[c_sat, c_i + 1], v[c_sat, c_i + 1]
    g0, dg0 = geo.pairs(p0, v0, c_st)
    g1, dg1 = geo.pairs(p1, v1, c_st)
    t0 = t[c_i]

    # Hermite cubic as a polynomial in τ = (t − t0)/h: p = a0 + a1 τ + a2 τ² + a3 τ³.
    dp, hv0, hv1 = p1 - p0, h_s * v0, h_s * v1
    a2 = 3.0 * dp - 2.0 * hv0 - hv1
    a3 = hv0 + hv1 - 2.0 * dp
    coef = np.stack([p0, hv0, a2, a3, v0, 2.0 * a2 / h_s, 3.0 * a3 / h_s], axis=1)  # (n, 7, 3)

    def interp(idx, x):
        c = coef[idx]
        tau = ((x - t0[idx]) / h_s)[:, None]
        p = ((c[:, 3] * tau + c[:, 2]) * tau + c[:, 1]) * tau + c[:, 0]
        vv = (c[:, 6] * tau + c[:, 5]) * tau + c[:, 4]
        return geo.pairs(p, vv, c_st[idx])

    # 3. Passes hidden between two below-mask samples: a maximum inside (dg/dt + → −, at
    #    most one per interval: the closest approach). Locate it on the interpolant;
    #    near-mask peaks are re-located on exact states. Intervals whose samples straddle
    #    the mask need no split: one crossing, found by the bracketed solver.
    e = np.flatnonzero((dg0 > 0) & (dg1 < 0) & (g0 <= 0) & (g1 <= 0))
    t1e = t[c_i[e] + 1]
    x0 = t0[e] + h_s * _cubic_peak_tau(g0[e], dg0[e], g1[e], dg1[e], h_s)
    t_ext, g_ext = _peak_newton(lambda idx, x: interp(e[idx], x), t0[e], t1e, x0, 1.0)
    near = np.flatnonzero(np.abs(g_ext) < PEAK_MARGIN)
    if near.size:
        en = e[near]
        t_ext[near], g_ext[near] = _peak_newton(
            lambda idx, x: exact(c_st[en[idx]], c_sat[en[idx]], x),
            t0[en], t1e[near], t_ext[near], tol_s,
        )  # fmt: skip

    # 4. Monotone pieces [lo, hi] (split at the extremum); a sign change = one crossing.
    split = np.zeros(c_i.size, bool)
    split[e] = True
    ext_t, ext_g = np.zeros(c_i.size), np.zeros(c_i.size)
    ext_t[e], ext_g[e] = t_ext, g_ext
    k = np.concatenate([np.arange(c_i.size), e])  # candidate of each piece
    lo = np.concatenate([t0, t_ext])
    hi = np.concatenate([np.where(split, ext_t, t[c_i + 1]), t[c_i[e] + 1]])
    g_lo = np.concatenate([g0, g_ext])
    g_hi = np.concatenate([np.where(split, ext_g, g1), g1[e]])
    sub = np.concatenate([np.zeros(c_i.size, int), np.ones(e.size, int)])
    x = np.flatnonzero((g_lo > 0) != (g_hi > 0))
    k, lo, hi, g_lo, g_hi, sub = k[x], lo[x], hi[x], g_lo[x], g_hi[x], sub[x]
    c_rise = g_hi > 0

    # 5. Roots on the interpolant, then Newton polish on exact SGP4 states.
    x0 = lo + (hi - lo) * g_lo / (g_lo - g_hi)  # false position start
    guess = _newton_roots(lambda idx, xx: interp(k[idx], xx), lo, hi, g_lo, 0.3, x0=x0)
    _g_a, dg_a = interp(k, guess - 1.0)
    _g_b, dg_b = interp(k, guess + 1.0)
    curvature = np.abs((dg_b - dg_a) / 2.0) / np.maximum(np.abs(dg_a + dg_b), 1e-300)
    roots = _polish_roots(
        lambda idx, xx: exact(c_st[k[idx]], c_sat[k[idx]], xx), guess, lo, hi, curvature, tol_s
    )

    # 6. Events (crossings + synthetic rise at start / set at end for passes in progress),
    #    ordered by grid interval and piece; they must alternate rise, set per pair.
    st_all, sat_all = np.meshgrid(np.arange(n_st), np.arange(constellation.n_sat))
    st_all, sat_all = st_all.ravel(), sat_all.ravel()
    a0 = geo.pairs(r[sat_all, 0], v[sat_all, 0], st_all)[0] > 0
    a1 = geo.pairs(r[sat_all, -1], v[sat_all, -1], st_all)[0] > 0
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
