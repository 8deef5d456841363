"""Where the ground changes: the cells an event's disc reaches in a step.

An event (a flood, a fire: a task whose ``kind`` is not a target) grows from ``start_s``
(:meth:`sagsim.envs.tasks.TaskSet.radius_m`). A cell it reaches changed: what the fusion
centre knew of it is stale (:meth:`sagsim.fusion.kalman.KalmanGrid.mark_changed`).

Simplified model: the reached cells are those of the disc (ground distance from the event's
centre, the metric of the task samples), in both perception modes, so that rewards do not
depend on the mode. The ``imagery`` mode's truth spreads along a cost distance
(:class:`sagsim.fusion.sensing.scene.Scene`), which reaches a subset of the disc; a fire's
change from burning to burnt is not a second change here.
"""

from __future__ import annotations

import numpy as np

from sagsim.envs.physics.region_grid import RegionGrid
from sagsim.envs.tasks import TaskSet

__all__ = ["EventFronts"]


class EventFronts:
    """Every event's cells (flat index on the grid) with their ground distance (m) from the
    event's centre, within its largest disc; precomputed once per world."""

    def __init__(self, tasks: TaskSet, grid: RegionGrid) -> None:
        self.tasks = tasks
        res, (n_rows, n_cols) = grid.resolution_m, grid.shape
        flat, dist, task = [], [], []
        for k in np.flatnonzero(tasks.kind != 0):  # once per world, not on the step path
            hr = int(np.ceil(tasks.max_radius_m[k] * tasks.scale_y[k] / res))
            hc = int(np.ceil(tasks.max_radius_m[k] * tasks.scale_x[k] / res))
            rows = np.arange(max(tasks.row[k] - hr, 0), min(tasks.row[k] + hr + 1, n_rows))
            cols = np.arange(max(tasks.col[k] - hc, 0), min(tasks.col[k] + hc + 1, n_cols))
            rr, cc = np.meshgrid(rows, cols, indexing="ij")
            d = np.hypot((grid.x_m[cc] - tasks.x_m[k]) / tasks.scale_x[k],
                         (grid.y_m[rr] - tasks.y_m[k]) / tasks.scale_y[k])  # fmt: skip
            d[tasks.row[k] - rows[0], tasks.col[k] - cols[0]] = 0.0  # the centre's own cell
            keep = d <= tasks.max_radius_m[k]
            flat.append((rr * n_cols + cc)[keep])
            dist.append(d[keep])
            task.append(np.full(int(keep.sum()), k, np.int64))
        self.flat = np.concatenate(flat) if flat else np.zeros(0, np.int64)
        self.dist_m = np.concatenate(dist) if dist else np.zeros(0)
        self.task = np.concatenate(task) if task else np.zeros(0, np.int64)

    def reached(self, t0_s: float, t1_s: float) -> np.ndarray:
        """Flat indices of the cells an event reached in (t0_s, t1_s] (s): inside its disc
        at ``t1_s`` and not at ``t0_s`` (an event that starts in the interval reaches its
        whole initial disc). A cell two events reach appears once per event."""
        if self.flat.size == 0:
            return self.flat
        tasks = self.tasks
        # −1 before an event exists, so that its centre (distance 0) counts when it starts.
        r0 = np.where(tasks.active(t0_s), tasks.radius_m(t0_s), -1.0)[self.task]
        r1 = np.where(tasks.active(t1_s), tasks.radius_m(t1_s), -1.0)[self.task]
        new = (self.dist_m <= r1) & (self.dist_m > r0)
        return self.flat[new]
