"""The simulated world: platforms, tasks, clouds, links and the fusion centre, stepped together.

``World(scenario)`` builds everything that actions cannot change once (orbits, station
visibility and link capacity, sun at the tasks:
:class:`sagsim.envs.world.ephemeris.EpisodeGeometry`); ``reset(rng)`` restores the initial state;
``step(actions)`` advances by ``step_s``:

1. infeasible chosen actions (see :mod:`sagsim.envs.actions`) become IDLE and are flagged;
2. satellites image their chosen task at the start of the step; drones fly (point mass,
   :class:`sagsim.envs.platforms.DroneFleet`) and image a chosen task once it lies under their
   footprint at the end of the step;
3. relays (ISL, drone→drone), then downlinks limited by the link budget's bits per step
   and by the stations' antennas (a station's chosen satellite first, then by queue size);
4. power (satellites: sunlight fraction at the start of the step); platforms that fail
   (a satellite battery at 0 Wh, a drone lost, a scheduled or random failure of the
   scenario's ``faults``: :mod:`sagsim.envs.world.faults`) lose their queue (counted in ``totals``
   ``images_lost`` / ``bits_lost``) and never come back; sensor degradations take effect,
   and station, ISL and drone-link outages are looked up for the next step;
5. the fusion centre fuses the packets that arrived (:class:`sagsim.fusion.kalman.KalmanGrid`),
   and the clouds evolve.

Agents are indexed satellites first, then drones, then stations. Acquisition geometry:
an image is a square scene centred on the task, of side the swath (satellites; scene
length = swath) or the footprint (drones: 2 h tan(fov/2)); its size in bits is
(side / GSD)² × bands × bits per pixel at the nadir GSD, its per-cell noise variance
comes from the off-nadir GSD (:func:`sagsim.fusion.kalman.observation_variance`).
"""

from __future__ import annotations

import numpy as np

from sagsim.envs.actions import N_EXTRA, Candidates, Extra
from sagsim.envs.physics.clouds import CloudField
from sagsim.envs.physics.sensor_geometry import swath_m_from_full_fov_deg
from sagsim.envs.platforms import DroneCommand, DroneFleet, GroundStations, SatelliteFleet
from sagsim.envs.platforms.assembly import build_satellites, link_budget
from sagsim.envs.scenario.loader import region_grid
from sagsim.envs.scenario.schema import Scenario
from sagsim.envs.tasks import TaskSet
from sagsim.envs.world.datapath import DataPath, Packet
from sagsim.envs.world.ephemeris import EpisodeGeometry
from sagsim.envs.world.faults import FaultSchedule, FaultState
from sagsim.envs.world.feasibility import StepOutcome, WorldStepper
from sagsim.envs.world.step import WorldDynamics
from sagsim.envs.world.task_access import TaskAccess
from sagsim.fusion.kalman import KalmanGrid

__all__ = ["StepOutcome", "World"]


class World(WorldDynamics, WorldStepper):
    """All of a scenario's physics, as arrays over entities (see the module docstring).

    Attributes of note: ``n_sat``, ``n_uav``, ``n_gs``, ``n_agents``; ``top_k`` (K);
    ``k`` (step index) and ``t_s``; ``tasks`` (:class:`TaskSet`); ``geom``
    (:class:`EpisodeGeometry`); ``sats`` (:class:`SatelliteFleet`), ``drones``
    (:class:`DroneFleet`), ``stations`` (:class:`GroundStations`); ``data`` (queues of
    satellites then drones); ``fusion`` (:class:`KalmanGrid`); ``acquired_map`` (the same,
    as if every image were fused when taken: prices images for reward shaping); ``clouds``.
    """

    def __init__(self, scenario: Scenario, n_steps: int | None = None):
        self.scenario = scenario
        self.n_steps = scenario.n_steps if n_steps is None else int(n_steps)
        self.step_s = scenario.step_s
        self.top_k = scenario.env.top_k
        self.grid = region_grid(scenario)
        self.tasks = TaskSet.from_scenario(scenario, self.grid)
        # The constellation (sgp4 Satrec objects, which do not pickle) is only needed here:
        # everything the episode uses from it is precomputed in ``geom``.
        sat_set = build_satellites(scenario)
        groups = scenario.satellites
        self.geom = EpisodeGeometry.compute(scenario, sat_set, self.tasks, self.n_steps)
        self.n_sat = sat_set.constellation.n_sat
        self.sat_group_index = sat_set.group_index
        self.sat_counts = sat_set.counts(len(groups))
        sx, sy = self.grid.to_grid(self.geom.sat_lon_deg, self.geom.sat_lat_deg)
        self.sat_xy_m = np.stack([sx, sy], axis=-1)  # (n_t, n_sat, 2) sub-satellite points
        self.n_uav = sum(d.count for d in scenario.drones)
        self.n_gs = len(scenario.ground_stations)
        self.n_agents = self.n_sat + self.n_uav + self.n_gs
        # Flat index of each agent's row in an (n_agents, K + 4) action table.
        self._agent_row_offset = np.arange(self.n_agents) * (self.top_k + N_EXTRA)
        # Drone command of each action index (K + 4,): GOTO for a slot, RETURN, else HOVER
        # (DOWNLINK and RELAY transmit while hovering).
        self.uav_command_of_action = np.full(self.top_k + N_EXTRA, int(DroneCommand.HOVER))
        self.uav_command_of_action[: self.top_k] = int(DroneCommand.GOTO)
        self.uav_command_of_action[self.top_k + int(Extra.RETURN)] = int(DroneCommand.RETURN)
        self._sensor_arrays(scenario)
        self.isl = scenario.comms.inter_satellite
        self.isl_budget = link_budget(self.isl, scenario.comms.shannon_efficiency)
        air = scenario.comms.air_to_ground
        self.air = air
        self.air_budgets = [
            link_budget(air, scenario.comms.shannon_efficiency, d.radio) for d in scenario.drones
        ]
        self.uav_group = np.repeat(np.arange(len(scenario.drones)), [d.count for d in
                                                                     scenario.drones])  # fmt: skip
        gs = scenario.ground_stations
        gs_x, gs_y = self.grid.to_grid([g.lon_deg for g in gs], [g.lat_deg for g in gs])
        self.gs_xy_m = np.column_stack([gs_x, gs_y])
        self.gs_alt_m = np.array([g.alt_m for g in gs])
        bx, by = self.grid.to_grid(
            [d.base_lon_deg for d in scenario.drones], [d.base_lat_deg for d in scenario.drones]
        )
        self._base_xy = np.column_stack([bx, by]).reshape(-1, 2)
        base_xy = self._base_xy[self.uav_group]  # (n_uav, 2) each drone's base
        # Where a drone's data can land: its base, then every station (m, (n_uav, 1 + n_gs, 2)).
        self.uav_receivers_xy_m = np.concatenate(
            [base_xy[:, None, :],
             np.broadcast_to(self.gs_xy_m[None, :, :], (self.n_uav, self.n_gs, 2))], axis=1,
        )  # fmt: skip
        # Task centres (m, (n_task + 1, 2)) with a last NaN row, so that index -1 is "none".
        self.task_xy_or_nan = np.vstack(
            [np.column_stack([self.tasks.x_m, self.tasks.y_m]), [np.nan, np.nan]]
        )
        # Task → base distance of every drone (m, (n_uav, n_task)): the return leg of a
        # candidate flight, fixed for the world.
        self.uav_task_home_m = np.hypot(
            self.tasks.x_m[None, :] - base_xy[:, 0:1], self.tasks.y_m[None, :] - base_xy[:, 1:2]
        )
        self.access = TaskAccess(
            self.geom, self.tasks, self.grid, self.sat_max_off_nadir_deg, self.sat_min_sun_deg,
            self.sat_optical, self.uav_min_sun_deg, self.uav_optical, self.uav_side_m,
        )  # fmt: skip
        self.clouds = CloudField(
            self.grid,
            scenario.clouds.cover_fraction,
            scenario.clouds.correlation_length_m,
            scenario.clouds.decorrelation_time_s,
            scenario.step_s,
        )
        self.fusion = KalmanGrid(
            self.grid.shape, scenario.fusion.prior_variance, scenario.fusion.process_noise_per_s
        )
        # The map as if every image were fused the moment it is taken: it prices an image
        # for reward shaping (World.onboard_value) without counting a scene twice.
        self.acquired_map = KalmanGrid(
            self.grid.shape, scenario.fusion.prior_variance, scenario.fusion.process_noise_per_s
        )
        self.perception = None
        if scenario.perception == "imagery":
            from sagsim.envs.world.perception import (
                Perception,  # the scene and fusers: only when asked
            )

            self.perception = Perception(self)
        self.faults = FaultSchedule.from_world(self)  # None without a faults section
        self._noise_std0 = (self.sat_noise_std.copy(), self.uav_noise_std.copy())
        self.reset(np.random.default_rng(scenario.seed))

    def _sensor_arrays(self, scenario: Scenario) -> None:
        """Per-platform sensor constants, ``(n_sat,)`` / ``(n_uav,)``."""
        gi = self.sat_group_index
        sat_sensors = [scenario.satellites[i].sensor for i in gi]
        alt0 = self.geom.sat_altitude_m[0] if self.n_sat else np.zeros(0)
        swath = np.array(
            [
                s.swath_m if s.swath_m is not None else swath_m_from_full_fov_deg(s.fov_deg, a)
                for s, a in zip(sat_sensors, alt0, strict=True)
            ]
        )
        self.sat_swath_m = swath.reshape(-1)
        self.sat_gsd_nadir_m = np.array([s.gsd_nadir_m for s in sat_sensors]).reshape(-1)
        self.sat_nominal_alt_m = np.maximum(alt0, 1.0)
        self.sat_optical = np.array([s.kind == "optical" for s in sat_sensors], bool)
        self.sat_max_off_nadir_deg = np.array([s.max_off_nadir_deg for s in sat_sensors])
        self.sat_min_sun_deg = np.array([s.min_sun_elevation_deg for s in sat_sensors])
        self.sat_noise_std = np.array([s.noise_std for s in sat_sensors])
        self.sat_image_bits = (
            (self.sat_swath_m / self.sat_gsd_nadir_m) ** 2
            * np.array([s.bands * s.bits_per_pixel for s in sat_sensors])
        ).reshape(-1)
        uav_sensors = [d.sensor for d in scenario.drones for _ in range(d.count)]
        uav_alt = np.array([d.altitude_m for d in scenario.drones for _ in range(d.count)])
        side = np.array(
            [
                s.swath_m if s.swath_m is not None else 2 * a * np.tan(np.radians(s.fov_deg / 2))
                for s, a in zip(uav_sensors, uav_alt, strict=True)
            ]
        )
        self.uav_side_m = side.reshape(-1)
        self.uav_gsd_m = np.array([s.gsd_nadir_m for s in uav_sensors]).reshape(-1)
        self.uav_optical = np.array([s.kind == "optical" for s in uav_sensors], bool)
        self.uav_min_sun_deg = np.array([s.min_sun_elevation_deg for s in uav_sensors])
        self.uav_noise_std = np.array([s.noise_std for s in uav_sensors])
        self.uav_image_bits = (
            (self.uav_side_m / self.uav_gsd_m) ** 2
            * np.array([s.bands * s.bits_per_pixel for s in uav_sensors])
        ).reshape(-1)

    # -- episode state -------------------------------------------------------------------

    def reset(self, rng: np.random.Generator) -> None:
        """Initial state of an episode; all randomness from ``rng``."""
        sc = self.scenario
        self.rng = rng
        self.k = 0
        self.sats = SatelliteFleet.from_scenario(sc, self.sat_counts)
        self.drones = DroneFleet.from_scenario(sc, self._base_xy)
        self.stations = GroundStations.from_scenario(sc)
        self.gs_alive = np.ones(self.n_gs, bool)
        capacity = np.concatenate([self.sats.storage_capacity_bits,
                                   self.drones.storage_capacity_bits])  # fmt: skip
        self.data = DataPath(capacity, self.tasks.n)
        initial = np.concatenate([self.sats.storage_bits, self.drones.storage_bits])
        for node in np.flatnonzero(initial > 0):  # old data: takes room, carries no value
            self.data.push(node, Packet(initial[node], initial[node], -1, -1, 0.0, 1.0,
                                        (0, 0, 0, 0)))  # fmt: skip
        self._sync_storage()
        self.fusion.reset(0.0)
        self.acquired_map.reset(0.0)
        if self.perception is not None:
            self.perception.reset(rng)
        self.clouds.reset(rng)
        self.sat_pointing_deg = np.zeros(self.n_sat)
        self.task_last_obs_s = np.full(self.tasks.n, -np.inf)
        self.failed = np.zeros(self.n_agents, bool)
        self.totals = {
            "bits_acquired": 0.0,
            "bits_delivered": 0.0,
            "images_acquired": 0,
            "images_delivered": 0,
            "latency_sum_s": 0.0,
            "energy_wh": 0.0,
            "information": 0.0,
            "bits_lost": 0.0,  # queued on platforms that failed
            "images_lost": 0,
        }
        self._cand: Candidates | None = None
        self.fault_state: FaultState | None = None
        if self.faults is not None:
            self.sat_noise_std, self.uav_noise_std = (a.copy() for a in self._noise_std0)
            self.faults.reset(rng)
            self.apply_fault_state()

    def apply_fault_state(self) -> None:
        """Stations, ISLs and drone links up or down as the fault schedule has them now."""
        self.fault_state = state = self.faults.state(self.t_s)
        self.gs_alive = state.station_up
        self._cand = None

    @property
    def t_s(self) -> float:
        """Current time, s since the scenario epoch."""
        return self.k * self.step_s

    @property
    def done(self) -> bool:
        """The episode has reached its last step."""
        return self.k >= self.n_steps

    @property
    def alive(self) -> np.ndarray:
        """``(n_agents,)`` bool: the agent has not failed."""
        return ~self.failed

    def _sync_storage(self) -> None:
        self.sats.storage_bits = self.data.queued_bits[: self.n_sat].copy()
        self.drones.storage_bits = self.data.queued_bits[self.n_sat :].copy()

    # -- candidates and masks --------------------------------------------------------------

    @property
    def candidates(self) -> Candidates:
        """This step's candidates and action mask (computed once per step)."""
        if self._cand is None:
            self._cand = self._compute_candidates()
        return self._cand

    def action_mask(self) -> np.ndarray:
        """``(n_agents, K + 4)`` bool: exactly the feasible actions."""
        return self.candidates.mask

    @staticmethod
    def extra(action: Extra, top_k: int) -> int:
        """Action index of an extra action."""
        return top_k + int(action)
