"""Moving data: relays (inter-satellite links, drone to drone), then downlinks limited by the
link budget's bits per step and by the stations' antennas (a station's chosen satellite
first, then the team's queued bits, then all queued bits:
:meth:`sagsim.envs.world.datapath.DataPath.downlink_priority`). What reaches the ground is
returned, packet by packet, for the fusion centre.
"""

from __future__ import annotations

import numpy as np

from sagsim.envs.actions import DOWNLINK, IDLE, RELAY
from sagsim.envs.world.datapath import Packet
from sagsim.envs.world.feasibility import StepOptions, receiver_distance2_m2

__all__ = ["drone_links", "satellite_links"]

# A drone link's distance floor (m): the link budget's path loss diverges at 0 m.
MIN_LINK_DISTANCE_M = 1.0


def satellite_links(
    world, sat_actions: np.ndarray, station_actions: np.ndarray, options: StepOptions
) -> tuple[list[Packet], np.ndarray]:
    """ISL relays, then downlinks with the stations' antenna assignment. Returns the
    packets whose last bit reached a station and which satellites transmitted
    ``(n_sat,)`` bool."""
    n_sat, kk, k = world.n_sat, world.top_k, world.k
    transmitting = np.zeros(n_sat, bool)
    arrived: list[Packet] = []
    if n_sat == 0:
        return arrived, transmitting
    for s in (sat_actions == kk + RELAY).nonzero()[0]:
        reachable = options.isl_reach[s].nonzero()[0]
        if reachable.size == 0:
            continue
        r_ecef_m = world.geom.sat_r_ecef_m[k]
        j = reachable[np.argmax(world.data.free_bits[reachable])]
        distance_m = float(np.linalg.norm(r_ecef_m[s] - r_ecef_m[j]))
        budget_bits = float(world.isl_budget.bits_per_step(distance_m, world.step_s))
        world.data.relay(int(s), int(j), budget_bits)
        transmitting[s] = True

    want = sat_actions == kk + DOWNLINK
    if not want.any():  # stations only serve satellites that asked to downlink
        return arrived, transmitting
    requests = want[:, None] & world.geom.gs_visible[k] & world.gs_alive[None, :]
    serve = station_actions < kk
    auto_ok = station_actions != kk + IDLE
    granted = np.zeros_like(requests)
    antennas = world.stations.antennas.copy()
    station_index = options.candidates.index[world.n_sat + world.n_uav :]
    for g in serve.nonzero()[0]:  # explicit choices first, lower station index wins
        s = int(station_index[g, station_actions[g]])
        if s >= 0 and requests[s, g] and not granted[s].any() and antennas[g] > 0:
            granted[s, g] = True
            antennas[g] -= 1
    rest = requests & ~granted.any(axis=1, keepdims=True) & auto_ok[None, :]
    if rest.any():
        granted |= world.stations.assign_antennas(
            rest, world.data.downlink_priority()[:n_sat], world.geom.gs_elevation_deg[k],
            antennas=antennas,
        )  # fmt: skip
    for s, g in zip(*np.nonzero(granted), strict=True):
        bits = float(world.geom.gs_bits_per_step[k, s, g])
        arrived += world.data.send(int(s), bits)
        transmitting[s] = True
    return arrived, transmitting


def drone_links(world, uav_actions: np.ndarray, options: StepOptions) -> list[Packet]:
    """Drone relays (to the nearest drone in reach), then downlinks to the base or the
    nearest live station. Returns the packets whose last bit reached the ground."""
    n_sat, kk = world.n_sat, world.top_k
    dr = world.drones
    arrived: list[Packet] = []
    for j in (uav_actions == kk + RELAY).nonzero()[0]:
        reachable = options.uav_reach[j].nonzero()[0]
        if reachable.size == 0:
            continue
        offsets_m = dr.position_xy_m[reachable] - dr.position_xy_m[j]
        m = reachable[np.argmin(np.hypot(*offsets_m.T))]
        distance_m = float(np.hypot(*(dr.position_xy_m[m] - dr.position_xy_m[j])))
        budget_bits = float(world.air_budgets[world.uav_group[j]].bits_per_step(
            max(distance_m, MIN_LINK_DISTANCE_M), world.step_s))  # fmt: skip
        world.data.relay(n_sat + int(j), n_sat + int(m), budget_bits)
    for j in (uav_actions == kk + DOWNLINK).nonzero()[0]:
        distance_m = _nearest_receiver_m(world, j)
        budget = world.air_budgets[world.uav_group[j]]
        budget_bits = float(budget.bits_per_step(distance_m, world.step_s))
        arrived += world.data.send(n_sat + int(j), budget_bits)
    return arrived


def _nearest_receiver_m(world, j: int) -> float:
    """Slant distance (m) from drone ``j`` to its base or the nearest live station."""
    d2 = receiver_distance2_m2(world, world.drones.position_xy_m)[j].min()
    return max(float(np.sqrt(d2)), MIN_LINK_DISTANCE_M)
