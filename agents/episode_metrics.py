"""Task metrics of one episode, tracked step by step from the world's state.

:class:`EpisodeTracker` reads, after every step, the time of the newest *delivered*
acquisition that saw each task (``World.task_last_obs_s``: set when an image that reduced
the fusion centre's variance over the task's disc arrives) and the drones' positions, and
gives at the end (:meth:`EpisodeTracker.metrics`, units in the names):

- ``task_completion``: the priority-weighted fraction of the tasks active during the episode
  that at least one delivered image saw;
- ``revisit_mean_h``, ``revisit_p95_h``: the gaps between successive delivered acquisitions
  of the same task, pooled over tasks (NaN with no revisit);
- ``aoi_mean_h``: age of information at the fusion centre, the priority-weighted mean over
  active tasks and over time of (now − the newest delivered acquisition of the task; before
  any, since the task became active or the episode began), sampled every step;
- ``detection_delay_h``: for events (floods, fires, …) that started in the episode, the mean
  time from the event's start to the arrival of the first image of it, over the events
  detected; ``events_detected``: their fraction;
- ``drone_km``: the distance the drones flew (straight segments between steps).
"""

from __future__ import annotations

import math

import numpy as np

from sagsim.envs.platforms import AT_BASE
from sagsim.envs.reward import map_quality

__all__ = ["TASK_METRICS", "USAGE_METRICS", "EpisodeTracker", "TaskPsnrTracker", "UsageTracker"]

TASK_METRICS = ("task_completion", "revisit_mean_h", "revisit_p95_h", "aoi_mean_h",
                "detection_delay_h", "events_detected", "drone_km")  # fmt: skip
HOUR_S = 3600.0


class EpisodeTracker:
    """Per-step bookkeeping of the task metrics (module doc) of the world ``world``."""

    def __init__(self, world) -> None:
        tasks = world.tasks
        self.priority = np.asarray(tasks.priority, float)
        self.start_s = np.maximum(np.asarray(tasks.start_s, float), 0.0)
        self.is_event = np.asarray(tasks.kind) != 0  # EVENT_KINDS[0] is "target"
        self.last_s = world.task_last_obs_s.copy()
        self.times_s: list[list[float]] = [[] for _ in range(tasks.n)]
        self.first_arrival_s = np.full(tasks.n, np.nan)
        self.aoi_weighted_s2 = 0.0  # Σ priority × age × dt over active tasks
        self.weight_s = 0.0  # Σ priority × dt over active tasks
        self.step_s = float(world.step_s)
        self.drone_m = 0.0
        self.prev_xy = world.drones.position_xy_m.copy() if world.n_uav else None

    def step(self, world) -> None:
        """Record the state after one step (call after every ``env.step``)."""
        t = float(world.t_s)
        last = world.task_last_obs_s
        for k in np.flatnonzero(last > self.last_s):
            self.times_s[k].append(float(last[k]))
            if np.isnan(self.first_arrival_s[k]):
                self.first_arrival_s[k] = t
        self.last_s = last.copy()
        active = self.start_s <= t
        if active.any():
            since = np.where(np.isfinite(last), last, self.start_s)
            age = np.maximum(t - since, 0.0)
            self.aoi_weighted_s2 += float(self.priority[active] @ age[active]) * self.step_s
            self.weight_s += float(self.priority[active].sum()) * self.step_s
        if self.prev_xy is not None:
            xy = world.drones.position_xy_m
            self.drone_m += float(np.hypot(*(xy - self.prev_xy).T).sum())
            self.prev_xy = xy.copy()

    def metrics(self, end_s: float) -> dict[str, float]:
        """The task metrics (module doc) of the episode that ended at ``end_s``."""
        active = self.start_s < end_s
        seen = np.array([len(ts) > 0 for ts in self.times_s])
        weight = float(self.priority[active].sum())
        gaps = np.concatenate([np.diff(np.unique(ts)) for ts in self.times_s if len(ts) > 1]
                              or [np.zeros(0)])  # fmt: skip
        events = self.is_event & active
        detected = events & np.isfinite(self.first_arrival_s)
        delay = self.first_arrival_s[detected] - self.start_s[detected]
        return {
            "task_completion": float(self.priority[active & seen].sum()) / weight
            if weight else math.nan,
            "revisit_mean_h": float(gaps.mean()) / HOUR_S if gaps.size else math.nan,
            "revisit_p95_h": float(np.percentile(gaps, 95)) / HOUR_S if gaps.size else math.nan,
            "aoi_mean_h": self.aoi_weighted_s2 / self.weight_s / HOUR_S
            if self.weight_s else math.nan,
            "detection_delay_h": float(delay.mean()) / HOUR_S if delay.size else math.nan,
            "events_detected": float(detected.sum() / events.sum()) if events.any() else math.nan,
            "drone_km": self.drone_m / 1e3,
        }  # fmt: skip


USAGE_METRICS = ("map_quality_mean", "storage_peak", "storage_full_in_view", "downlink_busy",
                 "access_used", "drone_flight_used", "duty_cycle_peak")  # fmt: skip
# A drone whose battery is within this of full is ready to fly (Wh): charging rounds.
FULL_BATTERY_ATOL_WH = 1e-6


class UsageTracker:
    """How much of each resource an episode used, and the map quality it kept, tracked step
    by step from the world's state and the step's ``infos`` (:meth:`metrics`, fractions):

    - ``map_quality_mean``: the time average of Q / Q_max, the task-weighted map quality
      (:func:`sagsim.envs.reward.map_quality`) over the most it could be (every active
      task known exactly): the return's information part, normalised;
    - ``storage_peak``: the fullest any satellite's storage was, at any step's end (other
      customers' data included: :mod:`sagsim.envs.world.other_customers`);
    - ``storage_full_in_view``: of the satellite-steps in which a task was in a satellite's
      field of regard, the share at whose end its storage had no room for another image
      (how often storage, not time, stood between the team and an image);
    - ``downlink_busy``: of the satellite-steps with a live station in view, the share in
      which the satellite downlinked (contact time used);
    - ``access_used``: of the satellite-steps in which a task was in a satellite's field of
      regard (in daylight for a sensor that needs it), the share it spent turning, settling
      or scanning for an image (imaging time used);
    - ``drone_flight_used``: of the drone-steps in daylight, the share airborne among those
      the drone was free to fly (airborne, or landed with a full battery; charging is not
      free time);
    - ``duty_cycle_peak``: the largest share of its imaging seconds per orbit that any
      satellite with a limit (``max_imaging_s_per_orbit``) had used in its last orbit, at
      any step's end (:mod:`sagsim.envs.world.duty_cycle`).

    ``agents``: the environment's agent names in index order (``possible_agents``)."""

    def __init__(self, world, agents: list[str]) -> None:
        self.index = {a: i for i, a in enumerate(agents)}
        self.n_agents = len(agents)
        self.quality_h = self.quality_max_h = 0.0
        self.storage_peak = 0.0
        self.contact = self.downlinked = 0
        self.access = self.imaging = self.full_in_view = 0
        self.drone_free = self.drone_airborne = 0
        self.duty_peak = math.nan

    def step(self, world, infos: dict) -> None:
        """Record the step that just ended (call after every ``env.step`` with its infos)."""
        k, n_sat, n_uav = world.k - 1, world.n_sat, world.n_uav
        downlinked = np.zeros(self.n_agents, bool)
        imaging = np.zeros(self.n_agents, bool)
        for agent, info in infos.items():
            downlinked[self.index[agent]] = info.get("downlinked", False)
            imaging[self.index[agent]] = info.get("imaging", False)
        alive = ~world.failed
        hours = world.step_s / HOUR_S
        ratio = world.options().task_variance_ratio
        active = world.tasks.active(world.t_s)
        self.quality_h += map_quality(ratio, world.tasks.priority, active) * hours
        self.quality_max_h += float(world.tasks.priority[active].sum()) * hours
        if n_sat:
            fill = world.data.fill_fraction()[:n_sat]
            self.storage_peak = max(self.storage_peak, float(fill.max()))
            contact = (world.geom.gs_visible[k] & world.gs_alive[None, :]).any(axis=1)
            contact &= alive[:n_sat]
            self.contact += int(contact.sum())
            self.downlinked += int((contact & downlinked[:n_sat]).sum())
            access = world.access.satellites(k)[1].any(axis=1) & alive[:n_sat]
            self.access += int(access.sum())
            self.imaging += int((access & imaging[:n_sat]).sum())
            full = world.data.free_bits[:n_sat] < world.sat_image_bits
            self.full_in_view += int((access & full).sum())
            limited = world.duty.limited & alive[:n_sat]
            if limited.any():
                used = world.duty.used_fraction(world.k)[limited].max()
                self.duty_peak = float(np.fmax(self.duty_peak, used))  # NaN: none yet
        if n_uav:
            dr = world.drones
            daylight = world.access.drones(k).any(axis=1) & alive[n_sat : n_sat + n_uav]
            airborne = dr.mode != AT_BASE
            full = dr.battery_wh >= dr.battery_capacity_wh - FULL_BATTERY_ATOL_WH
            self.drone_free += int((daylight & (airborne | full)).sum())
            self.drone_airborne += int((daylight & airborne).sum())

    def metrics(self) -> dict[str, float]:
        """The usage metrics (class docstring); NaN where a resource was never available."""

        def share(used: float, of: float) -> float:
            return used / of if of else math.nan

        return {
            "map_quality_mean": share(self.quality_h, self.quality_max_h),
            "storage_peak": self.storage_peak,
            "storage_full_in_view": share(self.full_in_view, self.access),
            "downlink_busy": share(self.downlinked, self.contact),
            "access_used": share(self.imaging, self.access),
            "drone_flight_used": share(self.drone_airborne, self.drone_free),
            "duty_cycle_peak": self.duty_peak,
        }


TASK_PSNR_EVERY_S = 3600.0  # how often the task-weighted PSNR is sampled (s): hourly
# The map error is floored here before the PSNR's log (reflectance²): 60 dB, far below
# any sensor's noise, so a task that happens to be matched exactly stays finite.
MSE_FLOOR = 1e-6


class TaskPsnrTracker:
    """In ``imagery`` mode: the task-weighted, time-averaged PSNR of the fused map
    (``task_psnr_mean_db``): every ``every_s`` (s) of episode time, the mean squared error of
    the fused mean against the ground truth over each active task's sample cells (its
    current disc) and reflectance bands, as PSNR (peak 1: reflectance), weighted by
    priority; then averaged over the samples. The map quality a user of the map sees,
    beside the return (which measures it through the variance). NaN in ``abstract`` mode."""

    def __init__(self, world, every_s: float = TASK_PSNR_EVERY_S) -> None:
        self.every_steps = max(1, round(every_s / world.step_s))
        self.samples: list[float] = []

    def step(self, world) -> None:
        """Sample the PSNR when it is due (call after every ``env.step``)."""
        if world.perception is None or world.k % self.every_steps:
            return
        from sagsim.fusion.sensing.scene import N_REFLECTANCE  # imagery mode only

        tasks = world.tasks
        truth, mean = world.perception.images(world.t_s)
        rows, cols = tasks.sample_row, tasks.sample_col
        error2 = (truth[:N_REFLECTANCE, rows, cols] - mean[:N_REFLECTANCE, rows, cols]) ** 2
        inside, inv_count, none = world.access.samples_inside(world.k)
        mse = np.bincount(tasks.sample_task, error2.mean(axis=0) * inside,
                          minlength=tasks.n) * inv_count  # fmt: skip
        ok = tasks.active(world.t_s) & (none == 0)
        if not ok.any():
            return
        psnr_db = 10.0 * np.log10(1.0 / np.maximum(mse[ok], MSE_FLOOR))
        weight = tasks.priority[ok]
        self.samples.append(float(psnr_db @ weight / weight.sum()))

    def metrics(self) -> dict[str, float]:
        """``{"task_psnr_mean_db": …}`` (NaN when never sampled)."""
        return {"task_psnr_mean_db": float(np.mean(self.samples)) if self.samples else math.nan}
