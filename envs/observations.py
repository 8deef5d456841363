"""Observation vectors of every agent, built together as one ``(n_agents, OBS_DIM)`` array.

Every agent type has the same layout so that one shared policy can drive all of them:

``[type one-hot (3) | own state (10) | K candidate slots × 9]``

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

Candidate slot (satellite and drone: a task; station: a satellite):

0     slot filled
1, 2  relative position east, north: (task − own) / 2,000 km (satellites), / 20 km (drones);
      station: (sub-satellite point − station) / 2,000 km
3     task priority / the scenario's largest priority; station: satellite storage used
4     current variance at the fusion centre / prior variance; station: elevation / 90°
5     time since the task was last observed / 1 day, capped at 1 (never: 1); station:
      bits the link carries per step / bits queued, capped at 1
6     cloud over the task centre (0/1; drones fly below it); station: 0
7     the slot's action is feasible (as in the action mask)
8     the task is a dynamic event; station: 0
"""

from __future__ import annotations

import numpy as np

from envs.candidates import RELAY
from envs.platforms import DroneMode

AT_BASE = int(DroneMode.AT_BASE)

__all__ = ["CLIP", "N_OWN", "N_SLOT", "N_TYPES", "build_observations", "observation_dim"]

N_TYPES = 3
N_OWN = 10
N_SLOT = 9
CLIP = 10.0
SAT_SCALE_M = 2_000_000.0
UAV_SCALE_M = 20_000.0
ORBIT_S = 6_000.0
DAY_S = 86_400.0


def observation_dim(top_k: int) -> int:
    """Length of every agent's observation vector."""
    return N_TYPES + N_OWN + top_k * N_SLOT


def build_observations(world) -> np.ndarray:
    """``(n_agents, observation_dim(K))`` float32 observations of the world's current state
    (rows of failed agents are zero)."""
    n_sat, n_uav, n_gs, kk = world.n_sat, world.n_uav, world.n_gs, world.top_k
    cand = world.candidates
    obs = np.zeros((world.n_agents, observation_dim(kk)))
    own = obs[:, N_TYPES : N_TYPES + N_OWN]
    slots = obs[:, N_TYPES + N_OWN :].reshape(world.n_agents, kk, N_SLOT)
    obs[:n_sat, 0] = 1.0
    obs[n_sat : n_sat + n_uav, 1] = 1.0
    obs[n_sat + n_uav :, 2] = 1.0
    g, k, tasks = world.geom, world.k, world.tasks
    x0, y0, x1, y1 = world.grid.bounds_m
    cx, cy, half = 0.5 * (x0 + x1), 0.5 * (y0 + y1), 0.5 * max(x1 - x0, y1 - y0)
    t_frac = world.t_s / max(world.n_steps * world.step_s, 1e-9)
    fill = world.data.fill_fraction()
    ratio = world._ratio  # computed with the candidates, on this step's state
    age = np.minimum((world.t_s - world.task_last_obs_s) / DAY_S, 1.0)
    cloud = world.clouds.cloudy_at_cells(tasks.row, tasks.col).astype(float)
    prio = tasks.priority / max(float(tasks.priority.max(initial=1.0)), 1e-9)
    event = (tasks.kind != 0).astype(float)
    mask = cand.mask

    def task_slots(rows, own_xy, scale, cloud_seen):
        idx = cand.index[rows]
        has = idx >= 0
        t = np.where(has, idx, 0)
        s = slots[rows]
        s[:, :, 0] = has
        s[:, :, 1] = (tasks.x_m[t] - own_xy[:, 0:1]) / scale
        s[:, :, 2] = (tasks.y_m[t] - own_xy[:, 1:2]) / scale
        s[:, :, 3] = prio[t]
        s[:, :, 4] = ratio[t]
        s[:, :, 5] = age[t]
        s[:, :, 6] = cloud[t] * cloud_seen
        s[:, :, 7] = mask[rows, :kk]
        s[:, :, 8] = event[t]
        slots[rows] = np.where(has[:, :, None], s, 0.0)

    if n_sat:
        rows = slice(0, n_sat)
        xy = world.sat_xy_m[k]
        own[rows, 0] = (xy[:, 0] - cx) / half
        own[rows, 1] = (xy[:, 1] - cy) / half
        own[rows, 2] = g.sat_altitude_m[k] / 1e6
        own[rows, 3] = world.sats.charge_fraction
        own[rows, 4] = fill[:n_sat]
        own[rows, 5] = t_frac
        own[rows, 6] = g.sat_sunlit[k]
        own[rows, 7] = (g.gs_visible[k] & world.gs_alive[None, :]).any(axis=1)
        own[rows, 8] = np.minimum(g.next_contact_s[k] / ORBIT_S, 1.0)
        own[rows, 9] = mask[rows, kk + RELAY]
        task_slots(rows, xy, SAT_SCALE_M, 1.0)
    if n_uav:
        rows = slice(n_sat, n_sat + n_uav)
        dr = world.drones
        xy = dr.position_xy_m
        own[rows, 0] = (xy[:, 0] - cx) / half
        own[rows, 1] = (xy[:, 1] - cy) / half
        own[rows, 2] = dr.altitude_m / 1e3
        own[rows, 3] = dr.battery_wh / dr.battery_capacity_wh
        own[rows, 4] = fill[n_sat:]
        own[rows, 5] = t_frac
        own[rows, 6] = dr.mode == AT_BASE
        own[rows, 7] = world.uav_ground_link()
        own[rows, 8] = dr.distance_to_base_m() / world.air.max_range_m
        own[rows, 9] = mask[rows, kk + RELAY]
        task_slots(rows, xy, UAV_SCALE_M, 0.0)
    if n_gs:
        rows = slice(n_sat + n_uav, world.n_agents)
        xy = world.gs_xy_m
        own[rows, 0] = (xy[:, 0] - cx) / half
        own[rows, 1] = (xy[:, 1] - cy) / half
        own[rows, 3] = 1.0
        own[rows, 5] = t_frac
        own[rows, 6] = np.minimum(world.stations.antennas / 4.0, 1.0)
        idx = cand.index[rows]
        own[rows, 7] = (idx >= 0).sum(axis=1) / kk
        has = idx >= 0
        s_idx = np.where(has, idx, 0)
        gs_idx = np.arange(n_gs)[:, None]
        s = slots[rows]
        if n_sat:
            sat_xy = world.sat_xy_m[k][s_idx]
            s[:, :, 0] = has
            s[:, :, 1] = (sat_xy[..., 0] - xy[:, 0:1]) / SAT_SCALE_M
            s[:, :, 2] = (sat_xy[..., 1] - xy[:, 1:2]) / SAT_SCALE_M
            s[:, :, 3] = fill[s_idx]
            s[:, :, 4] = g.gs_elevation_deg[k][s_idx, gs_idx] / 90.0
            queued = np.maximum(world.data.queued_bits[s_idx], 1.0)
            s[:, :, 5] = np.minimum(g.gs_bits_per_step[k][s_idx, gs_idx] / queued, 1.0)
            s[:, :, 7] = mask[rows, :kk]
            slots[rows] = np.where(has[:, :, None], s, 0.0)
    obs[world.failed] = 0.0
    return np.clip(obs, -CLIP, CLIP).astype(np.float32)
