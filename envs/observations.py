"""Observation vectors of every agent, built together as one ``(n_agents, OBS_DIM)`` array.

Every agent type has the same layout so that one shared policy can drive all of them:

``[type one-hot (3) | own state (11) | K candidate slots × 10]``

Own state (index: satellite / drone / station):

0, 1  position in the region frame / L (L: half the region's larger side): sub-satellite
      point / drone / station (values beyond ±``CLIP`` are clipped)
2     altitude: /1,000 km / /1 km / 0
3     battery state of charge (stations: 1)
4     onboard storage used / capacity (stations: 0)
5     episode time / duration
6     sunlit fraction / landed at base / antennas / 4
7     a station in view / base or station in link range / satellites in view with data / K
8     time to next station contact / 6,000 s (≈ an orbit), capped at 1 / distance to the
      base / link range / 0
9     an ISL relay is available / a drone relay is available / 0
10    sensor kind: 1 SAR (images through cloud and at night), 0 optical (needs daylight,
      loses the pixels under cloud) / the same for the drone's sensor / 0

Candidate slot (satellite and drone: a task; station: a satellite):

0     slot filled
1, 2  relative position east, north: (task − own) / 2,000 km (satellites), / 20 km (drones);
      station: (sub-satellite point − station) / 2,000 km
3     task priority / the scenario's largest priority; station: satellite storage used
4     current variance at the fusion centre / prior variance, mean over the task's disc
      (drones: over the part of it their footprint covers); station: elevation / 90°
5     time since the task was last observed / 1 day, capped at 1 (never: 1); station:
      bits the link carries per step / bits queued, capped at 1
6     cloud over the task centre (0/1; drones fly below it); station: 0
7     the slot's action is feasible (as in the action mask)
8     the task is a dynamic event; station: 0
9     images of the task on board somewhere, not yet delivered / 4, capped at 1 (the fusion
      centre's variance does not show them yet); station: 0
"""

from __future__ import annotations

import numpy as np

from sagsim.envs.actions import RELAY
from sagsim.envs.platforms import DroneMode

AT_BASE = int(DroneMode.AT_BASE)

__all__ = ["CLIP", "N_OWN", "N_SLOT", "N_TYPES", "SENSOR_SAR", "build_observations",
           "observation_dim"]  # fmt: skip

N_TYPES = 3
N_OWN = 11
SENSOR_SAR = 10  # own-state column of the sensor kind (1: SAR, 0: optical)
N_SLOT = 10
CLIP = 10.0
SAT_SCALE_M = 2_000_000.0
UAV_SCALE_M = 20_000.0
ORBIT_S = 6_000.0
DAY_S = 86_400.0


def observation_dim(top_k: int) -> int:
    """Length of every agent's observation vector."""
    return N_TYPES + N_OWN + top_k * N_SLOT


def _static_tables(world) -> dict:
    """What the observations need that never changes in a world (built once, cached on it):
    the one-hot template, per-task slot columns that do not change, the frame."""
    cached = getattr(world, "_obs_static", None)
    if cached is not None:
        return cached
    tasks, kk = world.tasks, world.top_k
    x0, y0, x1, y1 = world.grid.bounds_m
    n_sat, n_uav = world.n_sat, world.n_uav
    centre, half = np.array([0.5 * (x0 + x1), 0.5 * (y0 + y1)]), 0.5 * max(x1 - x0, y1 - y0)
    template = np.zeros((world.n_agents, observation_dim(kk)), np.float32)
    template[np.arange(world.n_agents), np.repeat([0, 1, 2], [n_sat, n_uav,
                                                              world.n_gs])] = 1.0  # fmt: skip
    # Stations do not move: their own state is static but for the satellites in view.
    gs_own = template[n_sat + n_uav :, N_TYPES : N_TYPES + N_OWN]
    gs_own[:, 0:2] = (world.gs_xy_m - centre) / half
    gs_own[:, 3] = 1.0
    gs_own[:, 6] = np.minimum(world.stations.antennas / 4.0, 1.0)
    # Drones fly at a constant altitude and keep their sensor.
    template[n_sat : n_sat + n_uav, N_TYPES + 2] = world.drones.altitude_m / 1e3
    template[n_sat : n_sat + n_uav, N_TYPES + SENSOR_SAR] = ~world.uav_optical
    # Satellites' own-state columns that depend only on the step, for every step:
    # (n_t, n_sat, N_OWN) float32, columns 0-2, 6, 8 and 10 filled.
    g = world.geom
    sat_own = np.zeros((g.t_s.size, n_sat, N_OWN), np.float32)
    sat_own[:, :, 0:2] = (world.sat_xy_m - centre) / half
    sat_own[:, :, 2] = g.sat_altitude_m / 1e6
    sat_own[:, :, 6] = g.sat_sunlit
    sat_own[:, :, 8] = np.minimum(g.next_contact_s / ORBIT_S, 1.0)
    sat_own[:, :, SENSOR_SAR] = ~world.sat_optical
    # Slot columns per task (+ a last all-zero row for empty slots): 0 filled, 1-2 x/y
    # (own position subtracted later), 3 priority, 8 event; 4-7 and 9 are filled per step.
    table = np.zeros((tasks.n + 1, N_SLOT))
    table[:-1, 0] = 1.0
    table[:-1, 1], table[:-1, 2] = tasks.x_m, tasks.y_m
    table[:-1, 3] = tasks.priority / max(float(tasks.priority.max(initial=1.0)), 1e-9)
    table[:-1, 8] = tasks.kind != 0
    world._obs_static = {
        "template": template,
        "table": table,
        "centre": centre,
        "half": half,
        "sat_own": sat_own,
        "task_cloud_cell": world.clouds.coarse_index(tasks.row, tasks.col),
    }
    return world._obs_static


def _task_slots(table, index, feasible, own_xy, scale):
    """``(n, K, N_SLOT)`` slots of tasks ``index`` (-1: empty, the table's zero last row)."""
    s = table[index]  # -1 picks the last row: all zeros
    filled = s[:, :, 0:1]
    s[:, :, 1:3] = (s[:, :, 1:3] - own_xy[:, None, :]) * (filled / scale)
    s[:, :, 7] = feasible
    return s


def build_observations(world) -> np.ndarray:
    """``(n_agents, observation_dim(K))`` float32 observations of the world's current state
    (rows of failed agents are zero)."""
    n_sat, n_uav, n_gs, kk = world.n_sat, world.n_uav, world.n_gs, world.top_k
    st = _static_tables(world)
    cand = world.candidates
    obs = st["template"].copy()
    own = obs[:, N_TYPES : N_TYPES + N_OWN]
    slots = obs[:, N_TYPES + N_OWN :].reshape(world.n_agents, kk, N_SLOT)
    g, k = world.geom, world.k
    centre, half = st["centre"], st["half"]
    t_frac = world.t_s / max(world.n_steps * world.step_s, 1e-9)
    fill = world.data.fill_fraction()
    table = st["table"].copy()
    table[:-1, 4] = world._ratio  # computed with the candidates, on this step's state
    table[:-1, 5] = np.minimum((world.t_s - world.task_last_obs_s) / DAY_S, 1.0)
    table[:-1, 6] = world.clouds.cloudy_coarse.take(st["task_cloud_cell"])
    table[:-1, 9] = np.minimum(world.data.pending / 4.0, 1.0)
    mask = cand.mask
    own[:, 5] = t_frac

    if n_sat:
        rows = slice(0, n_sat)
        xy = world.sat_xy_m[k]
        own[rows] = st["sat_own"][k]  # columns 0-2, 6, 8, 10
        own[rows, 3] = world.sats.charge_fraction
        own[rows, 4] = fill[:n_sat]
        own[rows, 5] = t_frac
        own[rows, 7] = world._sat_in_contact  # set with the candidates, this step
        own[rows, 9] = mask[rows, kk + RELAY]
        slots[rows] = _task_slots(table, cand.index[rows], mask[rows, :kk], xy, SAT_SCALE_M)
    if n_uav:
        rows = slice(n_sat, n_sat + n_uav)
        dr = world.drones
        xy = dr.position_xy_m
        own[rows, 0:2] = (xy - centre) / half  # columns 2 and 10 are in the template
        own[rows, 3] = dr.battery_wh / dr.battery_capacity_wh
        own[rows, 4] = fill[n_sat:]
        own[rows, 6] = dr.mode == AT_BASE
        own[rows, 7] = world.uav_ground_link()
        own[rows, 8] = dr.distance_to_base_m() / world.air.max_range_m
        own[rows, 9] = mask[rows, kk + RELAY]
        idx = cand.index[rows]
        uav = _task_slots(table, idx, mask[rows, :kk], xy, UAV_SCALE_M)
        uav[:, :, 6] = 0.0  # drones fly below the cloud base
        # What the drone's own footprint would still add (not the whole disc's variance).
        ratio = world._uav_ratio[np.arange(n_uav)[:, None], np.maximum(idx, 0)]
        uav[:, :, 4] = ratio * (idx >= 0)
        slots[rows] = uav
    if n_gs:
        rows = slice(n_sat + n_uav, world.n_agents)
        xy = world.gs_xy_m  # own columns 0, 1, 3, 6 are in the template
        idx = cand.index[rows]
        has = idx >= 0
        own[rows, 7] = has.sum(axis=1) / kk
        if n_sat and has.any():
            s_idx = np.where(has, idx, 0)
            gs_idx = np.arange(n_gs)[:, None]
            sat_xy = world.sat_xy_m[k][s_idx]
            s = slots[rows]
            s[:, :, 0] = has
            s[:, :, 1:3] = (sat_xy - xy[:, None, :]) / SAT_SCALE_M
            s[:, :, 3] = fill[s_idx]
            s[:, :, 4] = g.gs_elevation_deg[k][s_idx, gs_idx] / 90.0
            queued = np.maximum(world.data.queued_bits[s_idx], 1.0)
            s[:, :, 5] = np.minimum(g.gs_bits_per_step[k][s_idx, gs_idx] / queued, 1.0)
            s[:, :, 7] = mask[rows, :kk]
            slots[rows] = s * has[:, :, None]
    if world.failed.any():
        obs[world.failed] = 0.0
    return obs.clip(-CLIP, CLIP, out=obs)  # float32 throughout: values are cast on assignment
