"""Per-cell Kalman filter of the fusion centre's map over the region grid.

State model: every grid cell holds a scalar that follows a random walk, x(t + Δt) =
x(t) + w, Var w = ``process_noise_per_s`` × Δt (the ground changes), capped at
``prior_variance`` (an unobserved cell is no less known than the prior). An observation
of a cell with noise variance r updates the variance as a scalar Kalman filter:
P⁺ = P r / (P + r) (inverse-variance fusion, 1/P⁺ = 1/P + 1/r).

This module holds the **variance** part that the environment's reward uses;
:class:`KalmanMeanGrid` extends the same class with the mean (and the resolution-aware
update of a coarse pixel) for :class:`sagsim.fusion.fusers.KalmanFuser`, so there is one code path.

Process noise is applied lazily: each cell stores the variance at its last update and
the time of that update, and the current variance is min(P_ref + q (t − t_ref), P_prior).
A step therefore costs nothing for cells no observation touches.

Late data: an observation taken at ``t_obs_s`` and delivered at ``t_s`` > ``t_obs_s`` is
treated as an observation of the current state whose noise includes the ground change
since it was taken, r' = r + q (t − t_obs). This is the standard conservative handling of
out-of-sequence measurements for a random walk (it ignores the correlation between that
change and the prior's own process noise, so it under-states the information slightly).

A change of the ground that the random walk does not describe (an event reaching a cell:
a flood arrives, a fire burns) is told with :meth:`KalmanGrid.mark_changed`: those cells
return to the prior variance at that moment, and an observation taken before it no longer
informs them (it shows the ground as it was).

Units: variance in the map's units squared (reflectance² by default), time in s.
"""

from __future__ import annotations

import numpy as np

__all__ = ["KalmanGrid", "KalmanMeanGrid", "observation_variance"]


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
        # When each cell's ground last changed (mark_changed); -inf: never.
        self.t_changed_s = np.full(self.shape, -np.inf)
        self.t_s = 0.0

    def reset(self, t_s: float = 0.0) -> None:
        """Forget everything: every cell at the prior variance at time ``t_s``."""
        self.variance_ref.fill(self.prior_variance)
        self.t_ref_s.fill(t_s)
        self.t_changed_s.fill(-np.inf)
        self.t_s = float(t_s)

    def mark_changed(self, flat_index) -> None:
        """The ground at cells ``flat_index`` (row × n_cols + col, int array) changed now
        (see the module doc): back to the prior variance, and observations taken before now
        no longer inform them. A :class:`KalmanMeanGrid` keeps its mean there: at the prior
        variance the next observation replaces it almost entirely."""
        idx = np.asarray(flat_index, np.intp)
        self.variance_ref.flat[idx] = self.prior_variance
        self.t_ref_s.flat[idx] = self.t_s
        self.t_changed_s.flat[idx] = self.t_s

    def _still_valid(self, win, t_obs_s: float, valid):
        """``valid`` (None: all) less the cells of ``win`` whose ground changed after
        ``t_obs_s``; None when every cell is still valid."""
        stale = self.t_changed_s[win] > t_obs_s
        if not stale.any():
            return valid
        fresh = ~stale
        return fresh if valid is None else np.asarray(valid, bool) & fresh

    def predict(self, t_s: float) -> None:
        """Advance the map's clock to ``t_s`` (s); variances grow lazily."""
        if t_s < self.t_s:
            raise ValueError(f"time runs forward: {t_s} < {self.t_s}")
        self.t_s = float(t_s)

    def _late_noise(self, obs_variance, t_obs_s: float):
        """Noise variance of an observation taken at ``t_obs_s`` as seen now: r + q (t − t_obs)
        (see the module doc); ValueError for an observation from the future."""
        if t_obs_s > self.t_s + 1e-9:
            raise ValueError(f"observation from the future: {t_obs_s} > {self.t_s}")
        return obs_variance + self.process_noise_per_s * max(self.t_s - t_obs_s, 0.0)

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
        r_eff = self._late_noise(obs_variance, t_obs_s)
        rr0, rr1 = min(max(r0, 0), self.shape[0]), min(max(r1, 0), self.shape[0])
        cc0, cc1 = min(max(c0, 0), self.shape[1]), min(max(c1, 0), self.shape[1])
        win = np.s_[rr0:rr1, cc0:cc1]
        valid = self._still_valid(win, t_obs_s, valid)
        before = self._current(self.variance_ref[win], self.t_ref_s[win])
        after = before * r_eff / (before + r_eff)
        if valid is not None:
            after = np.where(valid, after, before)
        self.variance_ref[win] = after
        self.t_ref_s[win] = self.t_s
        return before - after


class KalmanMeanGrid(KalmanGrid):
    """:class:`KalmanGrid` that also carries the **mean** of every cell (one band of a map).

    The variance bookkeeping (lazy process noise, the prior cap, late data r + q·age) is the
    parent's. :meth:`update_window` of the parent still updates the variance only; the mean
    moves with :meth:`update_blocks`, which fuses one band of an observation whose pixels are
    ``factor × factor`` blocks of cells:

    - ``factor`` 1: the scalar Kalman update per cell, K = P / (P + r), with the variance
      computed by the parent's :meth:`KalmanGrid.update_window` (bit-identical to it).
    - ``factor`` f > 1: a pixel observes the **mean** of its n = f² cells, y = (1/n) Σ x_i + v,
      Var v = r (the pixel's own noise, not scaled by n). The exact scalar-measurement update
      with H = (1/n, …, 1/n) and the diagonal prior covariance is: innovation ν = y − mean of
      the cells' means, S = Σ_j P_j / n² + r, gain K_i = (P_i / n) / S, x_i += K_i ν, and the
      posterior diagonal P_i − (P_i / n)² / S. The update creates cross-covariances between the
      cells of a block; they are **dropped** (only the diagonal is kept), so later updates
      treat the cells as independent again. With equal P_i every cell moves by the same amount:
      the block mean is pulled towards y and the within-block pattern is kept.
    """

    def __init__(
        self,
        shape: tuple[int, int],
        prior_variance: float,
        process_noise_per_s: float,
        prior_mean=0.0,
    ):
        super().__init__(shape, prior_variance, process_noise_per_s)
        self.mean = np.zeros(self.shape)
        self.mean[...] = prior_mean

    def reset(self, t_s: float = 0.0, prior_mean=None) -> None:
        """Every cell back to the prior variance at ``t_s``; the mean to ``prior_mean``
        (scalar or ``(n_rows, n_cols)``) if given, else to 0."""
        super().reset(t_s)
        self.mean[...] = 0.0 if prior_mean is None else prior_mean

    def update_blocks(
        self,
        r0: int,
        r1: int,
        c0: int,
        c1: int,
        factor: int,
        values: np.ndarray,
        obs_variance: float,
        t_obs_s: float,
        valid: np.ndarray | None = None,
    ) -> np.ndarray:
        """Fuse one band of an observation of rows ``r0:r1``, cols ``c0:c1`` (inside the grid).

        ``values`` ``(h, w)`` = the window in pixels of ``factor`` cells; ``obs_variance`` the
        per-pixel noise variance r (> 0); ``t_obs_s`` when it was taken; ``valid`` optional
        bool ``(h, w)``. Returns the variance reduction of every window cell ``(r1 − r0,
        c1 − c0)`` (0 where not valid). See the class doc for the update.
        """
        f = int(factor)
        h, w = np.shape(values)
        if min(r0, c0) < 0 or r1 > self.shape[0] or c1 > self.shape[1]:
            raise ValueError(f"update_blocks: window {(r0, r1, c0, c1)} is outside the grid")
        if f < 1 or (r1 - r0, c1 - c0) != (h * f, w * f):
            raise ValueError(f"update_blocks: window is not {h}×{w} pixels of {f} cells")
        ok = np.isfinite(values)
        if valid is not None:
            ok &= np.asarray(valid, bool)
        r_eff = self._late_noise(obs_variance, t_obs_s)
        win = np.s_[r0:r1, c0:c1]
        # A pixel over any cell whose ground changed after it was taken shows the old ground.
        stale = self.t_changed_s[win] > t_obs_s
        if stale.any():
            ok &= ~stale.reshape(h, f, w, f).any(axis=(1, 3))
        before = self._current(self.variance_ref[win], self.t_ref_s[win])
        mean = self.mean[win]
        if f == 1:
            gain = before / (before + r_eff)
            mean += np.where(ok, gain * (np.where(ok, values, 0.0) - mean), 0.0)
            return self.update_window(r0, r1, c0, c1, obs_variance, t_obs_s, ok)
        n = f * f
        p = before.reshape(h, f, w, f)
        m = mean.reshape(h, f, w, f)
        s = p.sum(axis=(1, 3)) / n**2 + r_eff
        innovation = np.where(ok, values, 0.0) - m.mean(axis=(1, 3))
        gain = (p / n) / s[:, None, :, None]
        ok4 = ok[:, None, :, None]
        self.mean[win] = (m + np.where(ok4, gain * innovation[:, None, :, None], 0.0)).reshape(
            before.shape
        )
        after = np.where(ok4, p - gain * (p / n), p).reshape(before.shape)
        self.variance_ref[win] = after
        self.t_ref_s[win] = self.t_s
        return before - after

    def assign(self, mask: np.ndarray, mean: np.ndarray, variance: np.ndarray) -> None:
        """Overwrite the cells where ``mask`` ``(n_rows, n_cols)`` is True with ``mean`` and
        ``variance`` (arrays over those cells, or scalars) as of now (used to repair the map
        when a source turns out to be untrustworthy)."""
        self.mean[mask] = mean
        self.variance_ref[mask] = np.minimum(variance, self.prior_variance)
        self.t_ref_s[mask] = self.t_s
