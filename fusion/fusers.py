"""Fusers: the fusion centre's map of the ground from the observations that reach it.

All fusers share one interface, :class:`Fuser`:

- ``reset(n_bands, shape, t_s=0.0, prior_mean=None)``: an empty map of ``n_bands`` bands
  (the scene's :data:`sagsim.fusion.sensing.scene.BANDS` order) over a ``(rows, cols)`` grid at time
  ``t_s``; ``prior_mean`` (None: 0; a scalar, ``(n_bands,)`` or ``(n_bands, rows, cols)``) is what
  an unobserved cell reads.
- ``update(observation)``: fuse one :class:`sagsim.fusion.observation.Observation`. An observation
  taken after the map's clock moves the clock forward to its ``t_s`` first; one taken
  earlier (late delivery) is fused as late data (each fuser says how).
- ``predict(t_s)``: advance the clock (time runs forward); uncertainty grows.
- ``estimate() -> (mean, variance)``: two new float64 ``(n_bands, rows, cols)`` arrays.

Implementations: :class:`LatestFuser` (persistence, the lower bound) and
:class:`KalmanFuser` here; :class:`sagsim.fusion.starfm.StarfmFuser` and
:class:`sagsim.fusion.robust.RobustFuser` and :class:`sagsim.fusion.learned.LearnedFuser`
(a trained network). :func:`make_fuser` builds one by name (:data:`FUSERS`).

Shared parameters: ``prior_variance`` (variance of an unobserved cell, map units²) and
``process_noise_per_s`` (random-walk growth of the variance, units²/s), each a scalar or one
value per band. The defaults are the scenario schema's (0.01 and 1e-7, reflectance²); for
the index bands (NDWI, burn: range 2 instead of 1) scale them by 4. A noise variance below
:data:`MIN_OBS_VARIANCE` is raised to it so that a noiseless sensor stays finite.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from sagsim.fusion.kalman import KalmanMeanGrid
from sagsim.fusion.observation import Observation

__all__ = [
    "FUSERS",
    "MIN_OBS_VARIANCE",
    "Fuser",
    "KalmanFuser",
    "LatestFuser",
    "make_fuser",
    "paint",
]

# The floor of sagsim.fusion.kalman.observation_variance: a noiseless sensor stays finite.
MIN_OBS_VARIANCE = 1e-12
# Scenario schema defaults (envs/scenario/schema/mission.py, Fusion): reflectance², reflectance²/s.
DEFAULT_PRIOR_VARIANCE = 0.01
DEFAULT_PROCESS_NOISE_PER_S = 1e-7


def paint(values: np.ndarray, factor: int) -> np.ndarray:
    """Pixels to cells: every pixel of ``values`` ``(..., h, w)`` fills its ``factor × factor``
    cells, giving ``(..., h·factor, w·factor)``."""
    f = int(factor)
    if f == 1:
        return np.asarray(values)
    return np.repeat(np.repeat(values, f, axis=-2), f, axis=-1)


def per_band(value, n_bands: int, name: str) -> np.ndarray:
    """A scalar or one value per band as a float ``(n_bands,)`` array."""
    arr = np.asarray(value, float)
    if arr.ndim == 0:
        arr = np.full(n_bands, float(arr))
    if arr.shape != (n_bands,):
        raise ValueError(f"{name}: need a scalar or {n_bands} values, got shape {arr.shape}")
    return arr


def prior_mean_array(prior_mean, n_bands: int, shape: tuple[int, int]) -> np.ndarray:
    """``prior_mean`` (None, scalar, ``(n_bands,)`` or ``(n_bands, rows, cols)``) as a new
    float64 ``(n_bands, rows, cols)`` array."""
    out = np.zeros((n_bands, *shape))
    if prior_mean is None:
        return out
    pm = np.asarray(prior_mean, float)
    if pm.ndim == 1:
        pm = pm[:, None, None]
    try:
        out[...] = pm
    except ValueError:
        raise ValueError(
            f"prior_mean: need a scalar, ({n_bands},) or {(n_bands, *shape)}, got {pm.shape}"
        ) from None
    return out


def observed_cells(observation: Observation, row: int) -> tuple[tuple, np.ndarray, np.ndarray]:
    """One band row of an observation on the cells: ``(window slice, values (H, W), ok (H, W))``
    with ``ok`` = valid and finite, painted from pixels to cells."""
    r0, r1, c0, c1 = observation.window
    values = observation.values[row]
    ok = np.asarray(observation.valid, bool) & np.isfinite(values)
    f = observation.factor
    return np.s_[r0:r1, c0:c1], paint(values, f), paint(ok, f)


class Fuser(ABC):
    """A map of ``n_bands`` bands over a ``(rows, cols)`` grid (see the module doc)."""

    name = "fuser"

    def __init__(
        self,
        prior_variance=DEFAULT_PRIOR_VARIANCE,
        process_noise_per_s=DEFAULT_PROCESS_NOISE_PER_S,
    ):
        self._prior_variance_arg = prior_variance
        self._process_noise_arg = process_noise_per_s
        self.n_bands = 0
        self.shape: tuple[int, int] = (0, 0)
        self.t_s = 0.0

    def reset(self, n_bands: int, shape: tuple[int, int], t_s: float = 0.0, prior_mean=None):
        """An empty map (see the module doc). Subclasses extend :meth:`_reset`."""
        self.n_bands = int(n_bands)
        self.shape = (int(shape[0]), int(shape[1]))
        self.t_s = float(t_s)
        self.prior_variance = per_band(self._prior_variance_arg, self.n_bands, "prior_variance")
        self.process_noise_per_s = per_band(
            self._process_noise_arg, self.n_bands, "process_noise_per_s"
        )
        if np.any(self.prior_variance <= 0) or np.any(self.process_noise_per_s < 0):
            raise ValueError("prior_variance must be > 0 and process_noise_per_s ≥ 0")
        self.prior_mean = prior_mean_array(prior_mean, self.n_bands, self.shape)
        self._reset()

    @abstractmethod
    def _reset(self) -> None:
        """Allocate the state for ``self.n_bands``, ``self.shape``, ``self.prior_mean``."""

    def predict(self, t_s: float) -> None:
        """Advance the clock to ``t_s`` (s)."""
        if t_s < self.t_s:
            raise ValueError(f"time runs forward: {t_s} < {self.t_s}")
        self.t_s = float(t_s)

    def update(self, observation: Observation) -> None:
        """Fuse one observation (see the module doc)."""
        if self.n_bands == 0:
            raise RuntimeError(f"{type(self).__name__}: call reset() before update()")
        r0, r1, c0, c1 = observation.window
        if r0 < 0 or c0 < 0 or r1 > self.shape[0] or c1 > self.shape[1]:
            raise ValueError(f"observation window {observation.window} outside {self.shape}")
        if np.any((observation.band_index < 0) | (observation.band_index >= self.n_bands)):
            raise ValueError(f"band_index {observation.band_index} outside {self.n_bands} bands")
        if observation.t_s > self.t_s:
            self.predict(observation.t_s)
        self._update(observation)

    @abstractmethod
    def _update(self, observation: Observation) -> None:
        """Fuse a checked observation with ``t_s`` ≤ the clock."""

    @abstractmethod
    def estimate(self) -> tuple[np.ndarray, np.ndarray]:
        """``(mean, variance)``, new float64 ``(n_bands, rows, cols)`` arrays."""

    def _noise(self, observation: Observation, row: int) -> float:
        return max(float(observation.noise_variance[row]), MIN_OBS_VARIANCE)


class LatestFuser(Fuser):
    """Persistence: every cell shows the most recent valid value of it (the lower bound).

    A coarse pixel paints all its cells with its value. "Most recent" is by acquisition time:
    a late observation overwrites only cells whose current value was taken earlier.

    Variance (a heuristic; this fuser has no model): the noise variance of the pixel that
    painted the cell plus the process noise since it was taken, capped at the prior
    variance; the prior variance where nothing was seen. It ignores the error of a coarse
    pixel standing for a textured block.
    """

    name = "latest"

    def _reset(self) -> None:
        shape = (self.n_bands, *self.shape)
        self.mean = self.prior_mean.copy()
        self.t_taken_s = np.full(shape, -np.inf)
        self.noise_var = np.zeros(shape)

    def _update(self, observation: Observation) -> None:
        for row, band in enumerate(observation.band_index):
            win, values, ok = observed_cells(observation, row)
            ok = ok & (self.t_taken_s[band][win] <= observation.t_s)
            self.mean[band][win] = np.where(ok, values, self.mean[band][win])
            self.t_taken_s[band][win] = np.where(ok, observation.t_s, self.t_taken_s[band][win])
            self.noise_var[band][win] = np.where(
                ok, self._noise(observation, row), self.noise_var[band][win]
            )

    def estimate(self) -> tuple[np.ndarray, np.ndarray]:
        q = self.process_noise_per_s[:, None, None]
        prior = self.prior_variance[:, None, None]
        seen = np.isfinite(self.t_taken_s)
        age = np.where(seen, self.t_s - self.t_taken_s, 0.0)
        variance = np.where(seen, np.minimum(self.noise_var + q * age, prior), prior)
        return self.mean.copy(), variance


class KalmanFuser(Fuser):
    """Per-cell, per-band Kalman filter of a random walk, resolution-aware.

    One :class:`sagsim.fusion.kalman.KalmanMeanGrid` per band: the variance bookkeeping (lazy
    process noise capped at the prior, late data as r + q·age) is :class:`KalmanGrid`'s, the
    same code path as the environment's reward. A pixel of ``factor`` 1 updates its cell
    (K = P / (P + r)); a coarse pixel observes the mean of its factor² cells and updates
    them with the exact block update (see :class:`KalmanMeanGrid`: gain (P_i / n) / S,
    cross-covariances dropped). ``r`` is the observation's per-pixel ``noise_variance``.

    The environment's reward (``World.fusion``) instead gives each cell of a coarse pixel
    r·factor² (:func:`sagsim.fusion.kalman.observation_variance`) and updates it like a fine one;
    the block update here constrains only the block mean, so its per-cell variance falls
    less.
    """

    name = "kalman"

    def _reset(self) -> None:
        self.grids = [
            KalmanMeanGrid(self.shape, pv, q)
            for pv, q in zip(self.prior_variance, self.process_noise_per_s, strict=True)
        ]
        for grid, pm in zip(self.grids, self.prior_mean, strict=True):
            grid.reset(self.t_s, pm)

    def predict(self, t_s: float) -> None:
        super().predict(t_s)
        for grid in self.grids:
            grid.predict(self.t_s)

    def _update(self, observation: Observation) -> None:
        r0, r1, c0, c1 = observation.window
        for row, band in enumerate(observation.band_index):
            grid = self.grids[band]
            noise = self._noise(observation, row)
            grid.update_blocks(
                r0, r1, c0, c1, observation.factor, observation.values[row], noise,
                observation.t_s, observation.valid,
            )  # fmt: skip

    def estimate(self) -> tuple[np.ndarray, np.ndarray]:
        mean = np.stack([g.mean for g in self.grids])
        variance = np.stack([g.variance() for g in self.grids])
        return mean, variance


# name -> "module:class", imported on first use (the learned fuser pulls in torch). A new
# fuser module also goes into the fusers' import-linter contract in pyproject.toml
# (tests/test_layers.py checks that every module named here is listed there).
FUSERS = {
    "latest": "sagsim.fusion.fusers:LatestFuser",
    "kalman": "sagsim.fusion.fusers:KalmanFuser",
    "starfm": "sagsim.fusion.starfm:StarfmFuser",
    "robust": "sagsim.fusion.robust:RobustFuser",
    "learned": "sagsim.fusion.learned:LearnedFuser",
}


def make_fuser(name: str, **kwargs) -> Fuser:
    """A new fuser by name (:data:`FUSERS`), constructed with ``kwargs``; call ``reset``."""
    import importlib

    if name not in FUSERS:
        raise ValueError(f"unknown fuser {name!r}; choose one of {', '.join(FUSERS)}")
    module, cls = FUSERS[name].split(":")
    return getattr(importlib.import_module(module), cls)(**kwargs)
