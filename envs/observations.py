"""The observation: every agent's vector, built for all agents at once as one
``(n_agents, observation_dim(K))`` float32 array.

Every agent type has the same layout so that one shared policy can drive all of them:

``[type one-hot (3: satellite, drone, station) | own state (N_OWN) | K slots × N_SLOT]``

The columns are declared once, here, by name: :class:`Own` (the agent's own state) and
:class:`Slot` (a candidate slot: satellites and drones a task, stations a satellite), with
their meaning per agent type in ``OWN_MEANING`` and ``SLOT_MEANING`` (the documentation's
tables are rendered from them: :func:`layout_markdown`). Policies read columns by name
(``own_index(Own.SEES_THROUGH_CLOUD)``, ``slot_index(k, Slot.PRIORITY)``), never by number.
Values are clipped to ±``CLIP``; a failed agent's row is zeros.
"""

from __future__ import annotations

import numpy as np

from sagsim.envs.actions import RELAY
from sagsim.envs.platforms import AT_BASE

__all__ = ["CLIP", "N_OWN", "N_SLOT", "N_TYPES", "OWN_MEANING", "SLOT_MEANING",
           "ObservationBuilder", "Own", "Slot", "observation_dim", "own_index",
           "slot_index"]  # fmt: skip


class Columns:
    """Named column indices, as plain class attributes of int value: numpy indexes with a
    plain int at full speed, where an ``IntEnum`` member costs about 0.5 µs more per index
    (some 40 indexings a step in :meth:`ObservationBuilder.build`)."""

    @classmethod
    def names(cls) -> dict[str, int]:
        """Every column's name and index, in index order."""
        items = [(n, v) for n, v in vars(cls).items() if n.isupper() and isinstance(v, int)]
        return dict(sorted(items, key=lambda item: item[1]))


# Own.BUSY counts the steps left of an image in progress in units of this many steps.
BUSY_SCALE_STEPS = 10


class Own(Columns):
    """Own-state columns (at offset ``N_TYPES`` in the vector; meanings: ``OWN_MEANING``)."""

    EAST = 0
    NORTH = 1
    ALTITUDE = 2
    CHARGE = 3
    STORAGE = 4
    TIME = 5
    SUN_BASE_ANTENNAS = 6
    LINK = 7
    CONTACT_OR_HOME = 8
    RELAY = 9
    SEES_THROUGH_CLOUD = 10
    BUSY = 11


class Slot(Columns):
    """Columns of a candidate slot (slot k at offset ``N_TYPES + N_OWN + k N_SLOT``;
    meanings: ``SLOT_MEANING``)."""

    FILLED = 0
    EAST = 1
    NORTH = 2
    PRIORITY = 3
    VARIANCE = 4
    STALENESS = 5
    CLOUD = 6
    FEASIBLE = 7
    EVENT = 8
    PENDING = 9
    FOOTPRINT_VALUE = 10
    FOOTPRINT_CLOUD = 11


# What each column holds: (satellite, drone, station). The module docstring's table and
# the documentation's are these.
OWN_MEANING: dict[int, tuple[str, str, str]] = {
    Own.EAST: ("sub-satellite point east of the region's centre / L (L: half the region's "
               "larger side; beyond ±CLIP clipped)", "position east / L", "position east / L"),
    Own.NORTH: ("sub-satellite point north / L", "position north / L", "position north / L"),
    Own.ALTITUDE: ("altitude / 1,000 km", "altitude / 1 km", "0"),
    Own.CHARGE: ("battery state of charge", "battery state of charge", "1"),
    Own.STORAGE: ("onboard storage used / capacity", "onboard storage used / capacity", "0"),
    Own.TIME: ("episode time / duration", "episode time / duration",
               "episode time / duration"),
    Own.SUN_BASE_ANTENNAS: ("sunlit fraction", "landed at its base (0/1)", "antennas / 4"),
    Own.LINK: ("a live station in view (0/1)", "base or a live station in link range (0/1)",
               "satellites in view holding data / K"),
    Own.CONTACT_OR_HOME: ("time to the next station contact / 6,000 s (≈ an orbit), "
                          "capped at 1", "distance to the base / link range", "0"),
    Own.RELAY: ("an ISL relay is available (0/1)", "a drone relay is available (0/1)", "0"),
    Own.SEES_THROUGH_CLOUD: ("the sensor images through cloud: 1 where its kind is not "
                             "blocked by cloud in sagsim.sensor_kinds (SAR), 0 where it loses "
                             "the pixels under cloud (optical)",
                             "the same for the drone's sensor", "0"),
    Own.BUSY: ("steps until the image it is turning to is taken and it is free again / "
               f"{BUSY_SCALE_STEPS}, capped at 1 (0: free; busy, only IDLE is feasible)", "0",
               "0"),
}  # fmt: skip
# (satellite and drone: a task; station: a satellite)
SLOT_MEANING: dict[int, tuple[str, str]] = {
    Slot.FILLED: ("slot filled (0/1)", "slot filled (0/1)"),
    Slot.EAST: ("task east of the agent / 2,000 km (satellites), / 20 km (drones)",
                "sub-satellite point east of the station / 2,000 km"),
    Slot.NORTH: ("task north of the agent, same scale", "sub-satellite point north, same scale"),
    Slot.PRIORITY: ("task priority / the scenario's largest priority",
                    "satellite storage used / capacity"),
    Slot.VARIANCE: ("current variance at the fusion centre / prior variance, mean over the "
                    "task's disc (drones: over the part their footprint covers)",
                    "elevation / 90°"),
    Slot.STALENESS: ("time since the task was last observed / 1 day, capped at 1 (never: 1)",
                     "bits the link carries per step / the team's bits queued (other "
                     "customers' data excluded), capped at 1; 0 without team data"),
    Slot.CLOUD: ("cloud over the task centre (0/1; drones fly below it: 0)", "0"),
    Slot.FEASIBLE: ("the slot's action is feasible (as in the action mask)",
                    "the slot's action is feasible"),
    Slot.EVENT: ("the task is a dynamic event (0/1)", "0"),
    Slot.PENDING: ("images of the task on board somewhere, not yet delivered / 4, capped at "
                   "1 (the fusion centre's variance does not show them yet)", "0"),
    Slot.FOOTPRINT_VALUE: ("what the image would add if it arrived now: its reward value "
                           "over its whole scene (every task under it, cloud ignored) / the "
                           "scenario's largest priority (sagsim.envs.reward.footprint_value)",
                           "0"),
    Slot.FOOTPRINT_CLOUD: ("the share of that value under cloud now (satellites; drones fly "
                           "below the cloud: 0)", "0"),
}  # fmt: skip

N_TYPES = 3
N_OWN = len(Own.names())
N_SLOT = len(Slot.names())
CLIP = 10.0
SAT_SCALE_M = 2_000_000.0
UAV_SCALE_M = 20_000.0
ORBIT_S = 6_000.0
DAY_S = 86_400.0


def observation_dim(top_k: int) -> int:
    """Length of every agent's observation vector."""
    return N_TYPES + N_OWN + top_k * N_SLOT


def own_index(column: int) -> int:
    """Index of an own-state column in the observation vector."""
    return N_TYPES + int(column)


def slot_index(k: int, column: int) -> int:
    """Index of column ``column`` of candidate slot ``k`` in the observation vector."""
    return N_TYPES + N_OWN + k * N_SLOT + int(column)


def layout_markdown() -> str:
    """The vector's size, then the own-state and slot columns as two Markdown tables (index,
    name, meaning per agent type), for the documentation."""
    sizes = (f"The vector: type one-hot ({N_TYPES}) · own state ({N_OWN}) · K candidate slots "
             f"× {N_SLOT}, so D = {N_TYPES + N_OWN} + {N_SLOT}K columns (K = 4: "
             f"{observation_dim(4)}).")  # fmt: skip
    lines = [sizes, "", "| vector index | column | satellite | drone | station |",
             "| --- | --- | --- | --- | --- |"]  # fmt: skip
    for name, column in Own.names().items():
        meanings = " | ".join(OWN_MEANING[column])
        lines.append(f"| {own_index(column)} | `Own.{name}` | {meanings} |")
    lines += ["", "| column in a slot | name | satellite and drone (a task) | station "
              "(a satellite) |", "| --- | --- | --- | --- |"]  # fmt: skip
    for name, column in Slot.names().items():
        lines.append(f"| {column} | `Slot.{name}` | " + " | ".join(SLOT_MEANING[column]) + " |")
    return "\n".join(lines) + "\n"


def _task_slots(table, index, feasible, own_xy, scale):
    """``(n, K, N_SLOT)`` slots of tasks ``index`` (-1: empty, the table's zero last row)."""
    s = table[index]  # -1 picks the last row: all zeros
    filled = s[:, :, Slot.FILLED : Slot.FILLED + 1]
    s[:, :, Slot.EAST : Slot.NORTH + 1] = (
        s[:, :, Slot.EAST : Slot.NORTH + 1] - own_xy[:, None, :]
    ) * (filled / scale)
    s[:, :, Slot.FEASIBLE] = feasible
    return s


class ObservationBuilder:
    """Builds the observations of one world. What never changes in it (the one-hot
    template, the satellites' step-dependent own state for every step, the tasks' static
    slot columns, the region frame) is tabulated once, at construction."""

    def __init__(self, world) -> None:
        tasks, kk = world.tasks, world.top_k
        x0, y0, x1, y1 = world.grid.bounds_m
        n_sat, n_uav, n_gs = world.n_sat, world.n_uav, world.n_gs
        self.centre = np.array([0.5 * (x0 + x1), 0.5 * (y0 + y1)])
        self.half_m = 0.5 * max(x1 - x0, y1 - y0)
        centre, half = self.centre, self.half_m
        template = np.zeros((world.n_agents, observation_dim(kk)), np.float32)
        template[np.arange(world.n_agents), np.repeat([0, 1, 2], [n_sat, n_uav, n_gs])] = 1.0
        # Stations do not move: their own state is static but for the satellites in view.
        gs_own = template[n_sat + n_uav :, N_TYPES : N_TYPES + N_OWN]
        gs_own[:, Own.EAST : Own.NORTH + 1] = (world.gs_xy_m - centre) / half
        gs_own[:, Own.CHARGE] = 1.0
        gs_own[:, Own.SUN_BASE_ANTENNAS] = np.minimum(world.stations.antennas / 4.0, 1.0)
        # Drones fly at a constant altitude and keep their sensor.
        template[n_sat : n_sat + n_uav, own_index(Own.ALTITUDE)] = world.drones.altitude_m / 1e3
        template[
            n_sat : n_sat + n_uav, own_index(Own.SEES_THROUGH_CLOUD)
        ] = ~world.uav_cloud_blocked
        self.template = template
        # Satellites' own-state columns that depend only on the step, for every step:
        # (n_t, n_sat, N_OWN) float32 (position, altitude, sunlit, next contact, sensor).
        g = world.geom
        sat_own = np.zeros((g.t_s.size, n_sat, N_OWN), np.float32)
        sat_own[:, :, Own.EAST : Own.NORTH + 1] = (world.sat_xy_m - centre) / half
        sat_own[:, :, Own.ALTITUDE] = g.sat_altitude_m / 1e6
        sat_own[:, :, Own.SUN_BASE_ANTENNAS] = g.sat_sunlit
        sat_own[:, :, Own.CONTACT_OR_HOME] = np.minimum(g.next_contact_s / ORBIT_S, 1.0)
        sat_own[:, :, Own.SEES_THROUGH_CLOUD] = ~world.sat_cloud_blocked
        self.sat_own = sat_own
        # Slot columns per task (+ a last all-zero row for empty slots): filled, position
        # (own position subtracted later), priority, event; the others are filled per step.
        table = np.zeros((tasks.n + 1, N_SLOT))
        table[:-1, Slot.FILLED] = 1.0
        table[:-1, Slot.EAST], table[:-1, Slot.NORTH] = tasks.x_m, tasks.y_m
        self.largest_priority = max(float(tasks.priority.max(initial=1.0)), 1e-9)
        table[:-1, Slot.PRIORITY] = tasks.priority / self.largest_priority
        table[:-1, Slot.EVENT] = tasks.kind != 0
        self.task_table = table
        self.task_cloud_cell = world.clouds.coarse_index(tasks.row, tasks.col)

    def build(self, world, options) -> np.ndarray:
        """``(n_agents, observation_dim(K))`` float32 observations of the world's current
        state, given what the state offers (``options``: :meth:`World.options`)."""
        n_sat, n_uav, n_gs, kk = world.n_sat, world.n_uav, world.n_gs, world.top_k
        cand = options.candidates
        obs = self.template.copy()
        own = obs[:, N_TYPES : N_TYPES + N_OWN]
        slots = obs[:, N_TYPES + N_OWN :].reshape(world.n_agents, kk, N_SLOT)
        g, k = world.geom, world.k
        centre, half = self.centre, self.half_m
        t_frac = world.t_s / max(world.n_steps * world.step_s, 1e-9)
        fill = world.data.fill_fraction()
        table = self.task_table.copy()
        table[:-1, Slot.VARIANCE] = options.task_variance_ratio
        table[:-1, Slot.STALENESS] = np.minimum((world.t_s - world.task_last_obs_s) / DAY_S, 1.0)
        table[:-1, Slot.CLOUD] = world.clouds.cloudy_coarse.take(self.task_cloud_cell)
        table[:-1, Slot.PENDING] = np.minimum(world.data.pending / 4.0, 1.0)
        mask = cand.mask
        own[:, Own.TIME] = t_frac

        if n_sat:
            rows = slice(0, n_sat)
            xy = world.sat_xy_m[k]
            own[rows] = self.sat_own[k]  # position, altitude, sunlit, next contact, sensor
            own[rows, Own.CHARGE] = world.sats.charge_fraction
            own[rows, Own.STORAGE] = fill[:n_sat]
            own[rows, Own.TIME] = t_frac
            own[rows, Own.LINK] = options.sat_in_contact
            own[rows, Own.RELAY] = mask[rows, kk + RELAY]
            own[rows, Own.BUSY] = np.minimum((world.sat_free_k - k) / BUSY_SCALE_STEPS, 1.0)
            idx = cand.index[rows]
            sat = _task_slots(table, idx, mask[rows, :kk], xy, SAT_SCALE_M)
            pick = np.arange(n_sat)[:, None], np.maximum(idx, 0)
            sat[:, :, Slot.FOOTPRINT_VALUE] = (
                options.sat_footprint_value[pick] * (idx >= 0) / self.largest_priority
            )
            sat[:, :, Slot.FOOTPRINT_CLOUD] = options.sat_footprint_cloud[pick] * (idx >= 0)
            slots[rows] = sat
        if n_uav:
            rows = slice(n_sat, n_sat + n_uav)
            dr = world.drones
            xy = dr.position_xy_m
            own[rows, Own.EAST : Own.NORTH + 1] = (xy - centre) / half  # altitude, sensor:
            own[rows, Own.CHARGE] = dr.battery_wh / dr.battery_capacity_wh  # in the template
            own[rows, Own.STORAGE] = fill[n_sat:]
            own[rows, Own.SUN_BASE_ANTENNAS] = dr.mode == AT_BASE
            own[rows, Own.LINK] = options.uav_ground_link
            own[rows, Own.CONTACT_OR_HOME] = dr.distance_to_base_m() / world.air.max_range_m
            own[rows, Own.RELAY] = mask[rows, kk + RELAY]
            idx = cand.index[rows]
            uav = _task_slots(table, idx, mask[rows, :kk], xy, UAV_SCALE_M)
            uav[:, :, Slot.CLOUD] = 0.0  # drones fly below the cloud base
            # What the drone's own footprint would still add (not the whole disc's variance).
            ratio = options.uav_variance_ratio[np.arange(n_uav)[:, None], np.maximum(idx, 0)]
            uav[:, :, Slot.VARIANCE] = ratio * (idx >= 0)
            value = options.uav_footprint_value[np.arange(n_uav)[:, None], np.maximum(idx, 0)]
            uav[:, :, Slot.FOOTPRINT_VALUE] = value * (idx >= 0) / self.largest_priority
            slots[rows] = uav
        if n_gs:
            rows = slice(n_sat + n_uav, world.n_agents)
            xy = world.gs_xy_m  # position, charge, antennas: in the template
            idx = cand.index[rows]
            has = idx >= 0
            own[rows, Own.LINK] = has.sum(axis=1) / kk
            if n_sat and has.any():
                s_idx = np.where(has, idx, 0)
                gs_idx = np.arange(n_gs)[:, None]
                sat_xy = world.sat_xy_m[k][s_idx]
                s = slots[rows]
                s[:, :, Slot.FILLED] = has
                s[:, :, Slot.EAST : Slot.NORTH + 1] = (sat_xy - xy[:, None, :]) / SAT_SCALE_M
                s[:, :, Slot.PRIORITY] = fill[s_idx]
                s[:, :, Slot.VARIANCE] = g.gs_elevation_deg[k][s_idx, gs_idx] / 90.0
                team_bits = world.data.team_bits[s_idx]
                s[:, :, Slot.STALENESS] = np.where(
                    team_bits > 0,
                    np.minimum(
                        g.gs_bits_per_step[k][s_idx, gs_idx] / np.maximum(team_bits, 1.0), 1.0
                    ),
                    0.0,
                )
                s[:, :, Slot.FEASIBLE] = mask[rows, :kk]
                slots[rows] = s * has[:, :, None]
        if world.failed.any():
            obs[world.failed] = 0.0
        return obs.clip(-CLIP, CLIP, out=obs)  # float32 throughout: values are cast on assignment


if __name__ == "__main__":  # python -m sagsim.envs.observations: the tables of the docs
    print(layout_markdown(), end="")
