"""What actions cannot change about the tasks, per step: satellite off-nadir angles and
access, drone sun and activity masks, and which sample cells lie inside each task's disc
(the whole disc, and the part a drone's footprint covers).

A satellite can access a task at step k when the task is active, the satellite is above
the target's horizon and within its ``max_off_nadir_deg`` of the geodetic nadir, and (for
a sensor that needs daylight: :mod:`sagsim.sensor_kinds`) the sun at the task is at least
the sensor's ``min_sun_elevation_deg``.
A drone's static access is the activity and sun part (its reach depends on its battery).
A drone image is a square of its footprint's side on the task centre, so it covers the
task's sample cells in that window (one *view* per distinct footprint size).

All of it depends only on the step index, so a small episode computes it once for every
step and each step just indexes it; a large one (the global constellation) computes one
step at a time on demand, with the same function (:class:`_PerStep`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["PRECOMPUTE_MAX_ELEMENTS", "TaskAccess"]

# Above n_t × (elements per step) = 4 M (≈ 36 MB of float64 angles and bool masks) the
# per-step computation is used instead: a global constellation would need gigabytes.
PRECOMPUTE_MAX_ELEMENTS = 4_000_000
# Time samples per vectorised chunk while precomputing (bounds the (m, n_sat, n_task, 3)
# temporary to a few tens of MB).
_CHUNK_ELEMENTS = 1_000_000


class _PerStep:
    """``value(k)`` of a function of the step index: precomputed for every step when
    ``n_t × elements_per_step`` is small (by ``compute_all()`` if given, a sequence
    indexable by k), else computed on demand and kept for the latest k."""

    def __init__(self, compute: Callable[[int], Any], n_t: int, elements_per_step: int,
                 compute_all: Callable[[], Any] | None = None):  # fmt: skip
        self._compute, self._k, self._value = compute, -1, None
        self._all = None
        if n_t * elements_per_step <= PRECOMPUTE_MAX_ELEMENTS:
            self._all = compute_all() if compute_all else [compute(k) for k in range(n_t)]

    def __call__(self, k: int):
        if self._all is not None:
            return self._all[k]
        if self._k != k:
            self._value, self._k = self._compute(k), k
        return self._value


class TaskAccess:
    """Per-step static access (see the module docstring).

    ``satellites(k)`` → ``(off_nadir_deg (n_sat, n_task) float, ok (n_sat, n_task) bool)``;
    ``drones(k)`` → ``ok (n_uav, n_task) bool``; ``samples_inside(k)`` and
    ``drone_views(k)`` (see there). ``grid`` and ``uav_side_m`` (drone footprint sides, m)
    define the drones' views.
    """

    def __init__(self, geom, tasks, grid, sat_max_off_nadir_deg, sat_min_sun_deg,
                 sat_needs_daylight, uav_min_sun_deg, uav_needs_daylight,
                 uav_side_m):  # fmt: skip
        self.geom, self.tasks = geom, tasks
        self.sat_max_off_nadir_deg = np.asarray(sat_max_off_nadir_deg, float)
        self.sat_min_sun_deg = np.asarray(sat_min_sun_deg, float)
        self.sat_needs_daylight = np.asarray(sat_needs_daylight, bool)
        self.uav_min_sun_deg = np.asarray(uav_min_sun_deg, float)
        self.uav_needs_daylight = np.asarray(uav_needs_daylight, bool)
        self._views = self._drone_view_masks(grid, np.asarray(uav_side_m, float))
        n_t = geom.t_s.size
        n_sat, n_uav, n_task = self.sat_needs_daylight.size, self.uav_needs_daylight.size, tasks.n
        # Bound methods, not lambdas: the world (and this) must pickle.
        self.satellites = _PerStep(self._sat_step, n_t, n_sat * n_task, self._sat_all)
        self.drones = _PerStep(self._uav_step, n_t, n_uav * n_task, self._uav_all)
        n_samples = tasks.sample_task.size
        self._coverage = _PerStep(self._coverage_step, n_t,
                                  n_samples + 2 * (1 + len(self._views)) * n_task)  # fmt: skip

    def samples_inside(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Which task sample cells lie inside their task's disc at step k, ``(n_samples,)``
        float 0/1; 1 / their number per task (0 for a task without any), and whether a
        task has none, ``(n_task,)``."""
        inside, counts = self._coverage(k)
        return (inside, *counts[0])

    def drone_views(self, k: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        """Per distinct drone footprint: (drone indices, ``(n_samples,)`` float 0/1 sample
        cells inside the disc *and* the footprint at step k, 1 / their number per task,
        whether a task has none)."""
        inside, counts = self._coverage(k)
        return [(drones, inside * in_view, *c)
                for (drones, in_view), c in zip(self._views, counts[1:], strict=True)]  # fmt: skip

    def _drone_view_masks(self, grid, uav_side_m: np.ndarray) -> list:
        """[(drone indices, (n_samples,) float 0/1 sample cells in the footprint window)]."""
        tasks, views = self.tasks, []
        k = tasks.sample_task
        for side in np.unique(uav_side_m):
            r0, r1, c0, c1 = tasks.window(k, np.full(k.size, 0.5 * side), grid)
            row, col = tasks.sample_row, tasks.sample_col
            in_view = (row >= r0) & (row < r1) & (col >= c0) & (col < c1)
            views.append((np.flatnonzero(uav_side_m == side), in_view.astype(float)))
        return views

    def _coverage_step(self, k: int):
        """(inside ``(n_samples,)``, [(1 / count, none) for the disc, then each view])."""
        tasks = self.tasks
        inside = tasks.sample_inside(float(self.geom.t_s[k])).astype(float)
        counts = []
        for weights in [inside] + [inside * in_view for _, in_view in self._views]:
            n = np.bincount(tasks.sample_task, weights, minlength=tasks.n)
            counts.append((np.where(n > 0, 1.0 / np.maximum(n, 1.0), 0.0), n == 0))
        return inside, counts

    def _sat_step(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        off, ok = self._sat_steps(np.array([k]))
        return off[0], ok[0]

    def _uav_step(self, k: int) -> np.ndarray:
        return self._uav_steps(np.array([k]))[0]

    def _uav_all(self) -> np.ndarray:
        return self._uav_steps(np.arange(self.geom.t_s.size))

    def _sat_all(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Every step's (off-nadir, access), computed in time chunks (vectorised)."""
        n_t, per_step = self.geom.t_s.size, self.sat_needs_daylight.size * self.tasks.n
        step = max(1, _CHUNK_ELEMENTS // max(per_step, 1))
        out: list = []
        for a in range(0, n_t, step):
            off, ok = self._sat_steps(np.arange(a, min(a + step, n_t)))
            out.extend(zip(off, ok, strict=True))
        return out

    def _active_sun(self, ks: np.ndarray, min_sun_deg, needs_daylight) -> np.ndarray:
        """``(m, n, n_task)`` bool: the task is active and lit enough for each sensor."""
        sun = self.geom.task_sun_elevation_deg[ks]  # (m, n_task)
        lit = (sun[:, None, :] >= min_sun_deg[None, :, None]) | ~needs_daylight[None, :, None]
        active = self.tasks.start_s[None, :] <= self.geom.t_s[ks][:, None]
        return lit & active[:, None, :]

    def _sat_steps(self, ks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r = self.geom.sat_r_ecef_m[ks]  # (m, n_sat, 3)
        d = self.tasks.r_ecef_m[None, None, :, :] - r[:, :, None, :]
        dist = np.sqrt(np.einsum("msti,msti->mst", d, d))
        cos_off = np.einsum("msti,msi->mst", d, self.geom.sat_nadir[ks]) / np.maximum(dist, 1.0)
        off_deg = np.degrees(np.arccos(np.clip(cos_off, -1.0, 1.0)))
        above = np.einsum("msti,ti->mst", d, self.tasks.up_ecef) < 0.0  # above the horizon
        ok = above & (off_deg <= self.sat_max_off_nadir_deg[None, :, None])
        ok &= self._active_sun(ks, self.sat_min_sun_deg, self.sat_needs_daylight)
        return off_deg, ok

    def _uav_steps(self, ks: np.ndarray) -> np.ndarray:
        return self._active_sun(ks, self.uav_min_sun_deg, self.uav_needs_daylight)
