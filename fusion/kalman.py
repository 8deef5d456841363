"""Per-cell Kalman filter of the fusion centre's map over the region grid.

State model: every grid cell holds a scalar that follows a random walk, x(t + Δt) =
x(t) + w, Var w = ``process_noise_per_s`` × Δt (the ground changes), capped at
``prior_variance`` (an unobserved cell is no less known than the prior). An observation
of a cell with noise variance r updates the variance as a scalar Kalman filter:
P⁺ = P r / (P + r) (inverse-variance fusion, 1/P⁺ = 1/P + 1/r).

This module holds the **variance** part that the environment's reward uses; the
perception issue extends the same class with the mean, so there is one code path.

Process noise is applied lazily: each cell stores the variance at its last update and
the time of that update, and the current variance is min(P_ref + q (t − t_ref), P_prior).
A step therefore costs nothing for cells no observation touches.

Late data: an observation taken at ``t_obs_s`` and delivered at ``t_s`` > ``t_obs_s`` is
treated as an observation of the current state whose noise includes the ground change
since it was taken, r' = r + q (t − t_obs). This is the standard conservative handling of
out-of-sequence measurements for a random walk (it ignores the correlation between that
change and the prior's own process noise, so it under-states the information slightly).

Units: variance in the map's units squared (reflectance² by default), time in s.
"""

from __future__ import annotations

import numpy as np

__all__ = ["KalmanGrid", "observation_variance"]


def observation_variance(noise_std, gsd_m, cell_m) -> np.ndarray:
    """Per-cell noise variance of one acquisition, in map units².

    A sensor pixel of side ``gsd_m`` with per-pixel noise ``noise_std`` observes a cell of
    side ``cell_m``. Finer than the cell: (cell/gsd)² independent pixels average, so the
    cell sees noise_std² (gsd/cell)². Coarser than the cell: one pixel constrains the mean
    of (gsd/cell)² cells, so each cell receives 1/(gsd/cell)² of the pixel's information,
    the same expression. Both cases give r = noise_std² (gsd/cell)²; a floor of 1e-12
    keeps a noise-free sensor finite.
    """
    ratio = np.asarray(gsd_m, float) / float(cell_m)
    return np.maximum(np.asarray(noise_std, float) ** 2 * ratio**2, 1e-12)


class KalmanGrid:
    """Variance of the fused map, per cell of an ``(n_rows, n_cols)`` grid (see module doc)."""

    def __init__(self, shape: tuple[int, int], prior_variance: float, process_noise_per_s: float):
        if prior_variance <= 0:
            raise ValueError(f"prior_variance must be > 0, got {prior_variance}")
        if process_noise_per_s < 0:
            raise ValueError(f"process_noise_per_s must be ≥ 0, got {process_noise_per_s}")
        self.shape = (int(shape[0]), int(shape[1]))
        self.prior_variance = float(prior_variance)
        self.process_noise_per_s = float(process_noise_per_s)
        self.variance_ref = np.full(self.shape, self.prior_variance)
        self.t_ref_s = np.zeros(self.shape)
        self.t_s = 0.0

    def reset(self, t_s: float = 0.0) -> None:
        """Forget everything: every cell at the prior variance at time ``t_s``."""
        self.variance_ref.fill(self.prior_variance)
        self.t_ref_s.fill(t_s)
        self.t_s = float(t_s)

    def predict(self, t_s: float) -> None:
        """Advance the map's clock to ``t_s`` (s); variances grow lazily."""
        if t_s < self.t_s:
            raise ValueError(f"time runs forward: {t_s} < {self.t_s}")
        self.t_s = float(t_s)

    def _current(self, variance_ref, t_ref_s):
        grown = variance_ref + self.process_noise_per_s * (self.t_s - t_ref_s)
        return np.minimum(grown, self.prior_variance)

    def variance(self) -> np.ndarray:
        """Current variance of every cell, ``(n_rows, n_cols)`` (a new array)."""
        return self._current(self.variance_ref, self.t_ref_s)

    def variance_at(self, rows, cols) -> np.ndarray:
        """Current variance at cells (``rows``, ``cols``: int arrays of one shape)."""
        return self._current(self.variance_ref[rows, cols], self.t_ref_s[rows, cols])

    def variance_flat(self, flat_index) -> np.ndarray:
        """Current variance at flat cell indices (row × n_cols + col): a faster take."""
        return self._current(self.variance_ref.take(flat_index), self.t_ref_s.take(flat_index))

    def variance_window(self, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
        """Current variance of rows ``r0:r1``, columns ``c0:c1`` (clipped to the grid)."""
        win = np.s_[max(r0, 0) : max(r1, 0), max(c0, 0) : max(c1, 0)]
        return self._current(self.variance_ref[win], self.t_ref_s[win])

    def update_window(
        self,
        r0: int,
        r1: int,
        c0: int,
        c1: int,
        obs_variance: float,
        t_obs_s: float,
        valid: np.ndarray | None = None,
    ) -> np.ndarray:
        """Fuse one observation of rows ``r0:r1``, cols ``c0:c1`` (clipped to the grid).

        ``obs_variance``: per-cell noise variance r (see :func:`observation_variance`);
        ``t_obs_s``: when it was taken (≤ the current time); ``valid``: optional bool mask of
        the clipped window's shape (False: not seen, e.g. under cloud). Returns the variance
        reduction of every window cell (≥ 0, 0 where not valid), same shape as the window.
        """
        if t_obs_s > self.t_s + 1e-9:
            raise ValueError(f"observation from the future: {t_obs_s} > {self.t_s}")
        rr0, rr1 = min(max(r0, 0), self.shape[0]), min(max(r1, 0), self.shape[0])
        cc0, cc1 = min(max(c0, 0), self.shape[1]), min(max(c1, 0), self.shape[1])
        win = np.s_[rr0:rr1, cc0:cc1]
        before = self._current(self.variance_ref[win], self.t_ref_s[win])
        r_eff = obs_variance + self.process_noise_per_s * max(self.t_s - t_obs_s, 0.0)
        after = before * r_eff / (before + r_eff)
        if valid is not None:
            after = np.where(valid, after, before)
        self.variance_ref[win] = after
        self.t_ref_s[win] = self.t_s
        return before - after
