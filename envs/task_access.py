"""What actions cannot change about the tasks, per step: satellite off-nadir angles and
access, drone sun and activity masks, and which sample cells lie inside each task's disc.

A satellite can access a task at step k when the task is active, the satellite is above
the target's horizon and within its ``max_off_nadir_deg`` of the geodetic nadir, and (for
an optical sensor) the sun at the task is at least the sensor's ``min_sun_elevation_deg``.
A drone's static access is the activity and sun part (its reach depends on its battery).

All of it depends only on the step index, so a small episode computes it once for every
step (vectorised over time) and each step just indexes it; a large one (the global
constellation) computes one step at a time on demand, with the same function.
"""

from __future__ import annotations

import numpy as np

__all__ = ["PRECOMPUTE_MAX_ELEMENTS", "TaskAccess"]

# Above n_t × n_sat × n_task = 4 M (≈ 36 MB of float64 angles and bool masks) the per-step
# computation is used instead: a global constellation would need gigabytes.
PRECOMPUTE_MAX_ELEMENTS = 4_000_000
# Time samples per vectorised chunk while precomputing (bounds the (m, n_sat, n_task, 3)
# temporary to a few tens of MB).
_CHUNK_ELEMENTS = 1_000_000


class TaskAccess:
    """Per-step static access (see the module docstring).

    ``satellites(k)`` → ``(off_nadir_deg (n_sat, n_task) float, ok (n_sat, n_task) bool)``;
    ``drones(k)`` → ``ok (n_uav, n_task) bool``; ``samples_inside(k)`` (see there).
    """

    def __init__(self, geom, tasks, sat_max_off_nadir_deg, sat_min_sun_deg, sat_optical,
                 uav_min_sun_deg, uav_optical):  # fmt: skip
        self.geom, self.tasks = geom, tasks
        self.sat_max_off_nadir_deg = np.asarray(sat_max_off_nadir_deg, float)
        self.sat_min_sun_deg = np.asarray(sat_min_sun_deg, float)
        self.sat_optical = np.asarray(sat_optical, bool)
        self.uav_min_sun_deg = np.asarray(uav_min_sun_deg, float)
        self.uav_optical = np.asarray(uav_optical, bool)
        n_t = geom.t_s.size
        n_sat, n_uav, n_task = self.sat_optical.size, self.uav_optical.size, tasks.n
        self._sat_all = self._uav_all = None
        self._k_sat = self._k_uav = -1
        if n_t * n_sat * n_task <= PRECOMPUTE_MAX_ELEMENTS:
            step = max(1, _CHUNK_ELEMENTS // max(n_sat * n_task, 1))
            parts = [self._sat_steps(np.arange(a, min(a + step, n_t)))
                     for a in range(0, n_t, step)]  # fmt: skip
            self._sat_all = (
                np.concatenate([p[0] for p in parts]),
                np.concatenate([p[1] for p in parts]),
            )
        if n_t * n_uav * n_task <= PRECOMPUTE_MAX_ELEMENTS:
            self._uav_all = self._uav_steps(np.arange(n_t))
        self._inside_all = None
        self._k_inside = -1
        if n_t * tasks.sample_task.size <= PRECOMPUTE_MAX_ELEMENTS:
            self._inside_all = [self._inside_step(k) for k in range(n_t)]

    def satellites(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Off-nadir angle (deg) and static access of every task from every satellite."""
        if self._sat_all is not None:
            return self._sat_all[0][k], self._sat_all[1][k]
        if self._k_sat != k:
            off, ok = self._sat_steps(np.array([k]))
            self._sat_k, self._k_sat = (off[0], ok[0]), k
        return self._sat_k

    def drones(self, k: int) -> np.ndarray:
        """Static access (task active, sun) of every task for every drone."""
        if self._uav_all is not None:
            return self._uav_all[k]
        if self._k_uav != k:
            self._uav_k, self._k_uav = self._uav_steps(np.array([k]))[0], k
        return self._uav_k

    def samples_inside(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Which task sample cells lie inside their task's disc at step k, ``(n_samples,)``
        float 0/1; 1 / their number per task (0 for a task without any), and whether a
        task has none, ``(n_task,)``."""
        if self._inside_all is not None:
            return self._inside_all[k]
        if self._k_inside != k:
            self._inside_k, self._k_inside = self._inside_step(k), k
        return self._inside_k

    def _inside_step(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        tasks = self.tasks
        inside = tasks.sample_inside(float(self.geom.t_s[k])).astype(float)
        count = np.bincount(tasks.sample_task, inside, minlength=tasks.n)
        return inside, np.where(count > 0, 1.0 / np.maximum(count, 1.0), 0.0), count == 0

    def _active_sun(self, ks: np.ndarray, min_sun_deg, optical) -> np.ndarray:
        """``(m, n, n_task)`` bool: the task is active and lit enough for each sensor."""
        sun = self.geom.task_sun_elevation_deg[ks]  # (m, n_task)
        lit = (sun[:, None, :] >= min_sun_deg[None, :, None]) | ~optical[None, :, None]
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
        ok &= self._active_sun(ks, self.sat_min_sun_deg, self.sat_optical)
        return off_deg, ok

    def _uav_steps(self, ks: np.ndarray) -> np.ndarray:
        return self._active_sun(ks, self.uav_min_sun_deg, self.uav_optical)
