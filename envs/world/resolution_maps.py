"""The fusion centre's variance map, once per resolution the tasks need.

A task may say how fine an image must be to inform it (its ``max_gsd_m``: a bridge's or a
levee's damage needs sub-metre pixels, a flood's extent does not). An image of ground
sample distance g therefore informs only the tasks whose ``max_gsd_m`` ≥ g. The map is
kept as one :class:`sagsim.fusion.kalman.KalmanGrid` per distinct requirement (a *level*,
sorted finest first, the last always "any": +inf); an image updates the levels it is
fine enough for, and each task reads its own level at its sample cells. With no
requirement in a scenario there is one level: the map of every image, as before.

Each level is the same Kalman bookkeeping (lazy process noise, late data, changed ground),
so the reward and :class:`sagsim.fusion.fusers.KalmanFuser` keep one code path.
Simplified: an image's GSD is one number (its geometric mean off nadir), and a pixel
coarser than a task needs adds nothing to it (not a little).
"""

from __future__ import annotations

import numpy as np

from sagsim.fusion.kalman import KalmanGrid

__all__ = ["ResolutionMaps"]


class ResolutionMaps:
    """One :class:`KalmanGrid` of ``shape`` per level of ``levels_m`` (module docstring).

    ``levels_m`` ``(n_level,)``: the distinct GSD requirements (m), finest first, +inf
    last; ``sample_level`` ``(n_sample,)`` int: the level each task sample is read on
    (its task's requirement); ``sample_flat`` ``(n_sample,)``: the samples' flat cell
    indices."""

    def __init__(self, shape, prior_variance: float, process_noise_per_s: float,
                 task_max_gsd_m: np.ndarray, sample_task: np.ndarray,
                 sample_flat: np.ndarray):  # fmt: skip
        finite = np.asarray(task_max_gsd_m, float)
        self.levels_m = np.append(np.unique(finite[np.isfinite(finite)]), np.inf)
        self.task_level = np.searchsorted(self.levels_m, finite)
        self.sample_level = self.task_level[np.asarray(sample_task, np.int64)]
        self.sample_flat = np.asarray(sample_flat, np.int64)
        self.layers = [KalmanGrid(shape, prior_variance, process_noise_per_s)
                       for _ in self.levels_m]  # fmt: skip
        # Each level's samples (indices into the samples), to read them with one take each.
        self._level_samples = [np.flatnonzero(self.sample_level == i)
                               for i in range(self.levels_m.size)]  # fmt: skip

    @property
    def n_level(self) -> int:
        """Number of levels."""
        return self.levels_m.size

    @property
    def prior_variance(self) -> float:
        """The prior variance (map units²)."""
        return self.layers[0].prior_variance

    @property
    def process_noise_per_s(self) -> float:
        """Variance added per second (map units² / s)."""
        return self.layers[0].process_noise_per_s

    @property
    def t_s(self) -> float:
        """The maps' clock (s)."""
        return self.layers[0].t_s

    def informs(self, gsd_m) -> np.ndarray:
        """``(..., n_level)`` bool: which levels an image of ground sample distance ``gsd_m``
        (m, any shape) informs (its GSD at most the level's requirement)."""
        return np.asarray(gsd_m, float)[..., None] <= self.levels_m

    def reset(self, t_s: float = 0.0) -> None:
        """Forget everything (:meth:`KalmanGrid.reset`), every level."""
        for layer in self.layers:
            layer.reset(t_s)

    def predict(self, t_s: float) -> None:
        """Advance every level's clock to ``t_s`` (s)."""
        for layer in self.layers:
            layer.predict(t_s)

    def mark_changed(self, flat_index) -> None:
        """The ground at cells ``flat_index`` changed now, at every level."""
        for layer in self.layers:
            layer.mark_changed(flat_index)

    def update_window(self, r0: int, r1: int, c0: int, c1: int, obs_variance: float,
                      t_obs_s: float, valid: np.ndarray | None = None,
                      gsd_m: float = 0.0) -> np.ndarray:  # fmt: skip
        """Fuse one observation of ground sample distance ``gsd_m`` (m) into the levels it
        informs (:meth:`KalmanGrid.update_window`). Returns the variance reduction
        ``(n_level, h, w)`` of the clipped window, 0 on the levels it does not inform."""
        out = None
        for i, ok in enumerate(self.informs(gsd_m).tolist()):
            if not ok:
                continue
            reduction = self.layers[i].update_window(r0, r1, c0, c1, obs_variance, t_obs_s, valid)
            if out is None:
                out = np.zeros((self.n_level, *reduction.shape))
            out[i] = reduction
        if out is None:  # informs no level: the window's shape, all zero
            shape = self.layers[-1].variance_window(r0, r1, c0, c1).shape
            out = np.zeros((self.n_level, *shape))
        return out

    def sample_variance(self) -> np.ndarray:
        """``(n_sample,)``: the current variance at each task sample, on its task's level."""
        if self.n_level == 1:
            return self.layers[0].variance_flat(self.sample_flat)
        out = np.empty(self.sample_flat.size)
        for layer, idx in zip(self.layers, self._level_samples, strict=True):
            if idx.size:
                out[idx] = layer.variance_flat(self.sample_flat[idx])
        return out

    def variance(self) -> np.ndarray:
        """``(n_rows, n_cols)``: the current variance of the map every image informs (the
        last level), for pictures of the map."""
        return self.layers[-1].variance()

    def variance_flat(self, flat_index) -> np.ndarray:
        """The current variance of the map every image informs, at flat cell indices."""
        return self.layers[-1].variance_flat(flat_index)
