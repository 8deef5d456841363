"""Vectorised root and peak solvers for :mod:`sagsim.envs.physics.contacts` (bracketed
Newton variants)."""

from __future__ import annotations

import numpy as np

_MAX_ITER = 60


def newton_roots(f, lo, hi, f_lo, tol_s, x0=None):
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
        val, der = f(None if active.size == x.size else active, xa)
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


def cubic_peak_tau(g0, dg0, g1, dg1, h_s):
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


def peak_newton(f, lo, hi, x0, tol_s):
    """Vectorised maximum search: Newton on dg/dt, bisection where a step leaves the bracket.

    ``f(idx, t) -> (g, dg, ddg)``; [lo, hi] brackets a + → − change of dg. Returns the last
    evaluated point of each search (within tol_s of the peak), its g and its d²g/dt².
    """
    lo, hi, x = lo.copy(), hi.copy(), x0.copy()
    t_pk, g_pk, ddg_pk = np.empty_like(x), np.empty_like(x), np.empty_like(x)
    active = np.arange(x.shape[0])
    for _ in range(_MAX_ITER):
        if active.size == 0:
            break
        xa = x[active]
        g, dg, ddg = f(None if active.size == x.size else active, xa)
        t_pk[active], g_pk[active], ddg_pk[active] = xa, g, ddg
        la = np.where(dg > 0, xa, lo[active])
        ha = np.where(dg > 0, hi[active], xa)
        lo[active], hi[active] = la, ha
        with np.errstate(divide="ignore", invalid="ignore"):
            xn = xa - dg / ddg
        xn = np.where((ddg < 0) & (xn > la) & (xn < ha), xn, 0.5 * (la + ha))
        x[active] = xn
        done = (np.abs(xn - xa) <= tol_s) | (ha - la <= tol_s)
        active = active[~done]
    return t_pk, g_pk, ddg_pk


def polish_roots(f, x, lo, hi, curvature, tol_s):
    """Newton on exact states from a close guess x (n,), clipped to [lo, hi].

    ``curvature`` ≈ |g''/(2g')| (1/s) predicts the error left after a step s as
    curvature·s² (quadratic convergence); a root is done once that is ≤ tol_s/2 or the step
    ≤ tol_s/10, so one exact evaluation per root usually suffices.
    """
    x = x.copy()
    active = np.arange(x.shape[0])
    for _ in range(_MAX_ITER):
        if active.size == 0:
            break
        xa = x[active]
        val, der = f(None if active.size == x.size else active, xa)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.nan_to_num(-val / der)
        xn = np.clip(xa + step, lo[active], hi[active])
        x[active] = xn
        step = xn - xa
        done = (np.abs(step) <= 0.1 * tol_s) | (curvature[active] * step * step <= 0.5 * tol_s)
        active = active[~done]
    return x
