"""The simulated world: platforms, tasks, clouds, links and the fusion centre, stepped together.

``World(scenario)`` builds everything that actions cannot change once (orbits, station
visibility and link capacity, sun at the tasks:
:class:`sagsim.envs.world.ephemeris.EpisodeGeometry`); ``reset(rng)`` restores the initial
state; ``options()`` says what the state offers each agent (candidates, mask, links in
reach: :mod:`sagsim.envs.world.feasibility`); ``step(actions)`` advances by ``step_s``:

1. infeasible chosen actions (see :mod:`sagsim.envs.actions`) become IDLE and are flagged;
2. satellites turn to their chosen task and image it when the retarget ends (at the start of
   this step or of a later one, busy until then), within their imaging seconds per orbit
   (:mod:`sagsim.envs.world.duty_cycle`); drones fly (point mass,
   :class:`sagsim.envs.platforms.DroneFleet`) and image a chosen task once it lies under
   their footprint at the end of the step (:mod:`sagsim.envs.world.imaging`);
3. relays (ISL, drone→drone), then downlinks limited by the link budget's bits per step
   and by the stations' antennas (:mod:`sagsim.envs.world.transfer`); satellites with no
   task in view image for the operator's other customers, which fills their storage
   (:mod:`sagsim.envs.world.other_customers`);
4. power (satellites: sunlight fraction at the start of the step); platforms that fail
   (a satellite battery at 0 Wh, a drone lost, a scheduled or random failure of the
   scenario's ``faults``: :mod:`sagsim.envs.world.faults`) lose their queue (counted in
   ``totals`` ``images_lost`` / ``bits_lost``) and never come back; sensor degradations
   take effect, and station, ISL and drone-link outages are looked up for the next step;
5. the cells events reached during the step changed: the fusion centre's map is stale
   there (:mod:`sagsim.envs.world.event_front`); it fuses the packets that arrived
   (:class:`sagsim.fusion.kalman.KalmanGrid`) and each image's value is credited to the
   agent that took it (:mod:`sagsim.envs.reward`); the clouds evolve.

Each stage is a function of the world and of what the earlier stages returned (the step's
options, the packets that arrived); agents are indexed satellites first, then drones, then
stations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sagsim.envs.actions import DOWNLINK, IDLE, N_EXTRA, Candidates, Extra
from sagsim.envs.physics.clouds import CloudField
from sagsim.envs.physics.orbits import circular_ground_speed_mps, circular_period_s
from sagsim.envs.physics.sensor_geometry import swath_m_from_full_fov_deg
from sagsim.envs.platforms import DroneCommand, DroneFleet, GroundStations, SatelliteFleet
from sagsim.envs.platforms.assembly import build_satellites, link_budget
from sagsim.envs.reward import (
    SECONDS_PER_HOUR,
    image_value,
    information_shares,
    map_quality,
    onboard_value,
)
from sagsim.envs.scenario.loader import region_grid
from sagsim.envs.scenario.schema import Scenario
from sagsim.envs.tasks import TaskSet
from sagsim.envs.world.datapath import DataPath, Packet
from sagsim.envs.world.duty_cycle import DutyCycle
from sagsim.envs.world.ephemeris import EpisodeGeometry
from sagsim.envs.world.event_front import EventFronts
from sagsim.envs.world.faults import FaultSchedule, FaultState
from sagsim.envs.world.feasibility import StepOptions, step_options, task_variance_ratio
from sagsim.envs.world.imaging import drones_fly_and_image, image_window, satellite_images
from sagsim.envs.world.other_customers import OtherCustomers
from sagsim.envs.world.resolution_maps import ResolutionMaps
from sagsim.envs.world.task_access import TaskAccess
from sagsim.envs.world.transfer import drone_links, satellite_links
from sagsim.sensor_kinds import SENSOR_KINDS

__all__ = ["StepOutcome", "World"]


@dataclass
class StepOutcome:
    """What one step did, per agent ``(n_agents,)`` unless noted.

    ``information``: the agent's share of the step's map quality × hours
    (:func:`sagsim.envs.reward.information_shares`, before ``information_weight``);
    ``energy_wh``: activity energy (satellites: imaging, transmit, slew; drones: flight);
    ``infeasible``: the chosen action was masked (it ran as IDLE); ``failed``: the agent
    failed this step; ``acquired``/``delivered``: images taken / arrived (counts);
    ``latencies_s``: delivery latency of every arrived image (list); ``downlinked``: the
    agent sent data to the ground this step (bool); ``imaging``: a satellite was busy with
    an image (turning, settling or scanning) in this step (bool).
    """

    information: np.ndarray
    energy_wh: np.ndarray
    infeasible: np.ndarray
    failed: np.ndarray
    acquired: np.ndarray
    delivered: np.ndarray
    latencies_s: list
    downlinked: np.ndarray
    imaging: np.ndarray


class World:
    """All of a scenario's physics, as arrays over entities (see the module docstring).

    Attributes of note: ``n_sat``, ``n_uav``, ``n_gs``, ``n_agents``; ``top_k`` (K);
    ``k`` (step index) and ``t_s``; ``tasks`` (:class:`TaskSet`); ``geom``
    (:class:`EpisodeGeometry`); ``sats`` (:class:`SatelliteFleet`), ``drones``
    (:class:`DroneFleet`), ``stations`` (:class:`GroundStations`); ``data`` (queues of
    satellites then drones); ``fusion`` (:class:`ResolutionMaps`: a Kalman variance map per
    resolution the tasks need); ``acquired_map`` (the same,
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
        # Drone command of each action index (K + 4,): GOTO for a slot; DOWNLINK and RELAY
        # transmit while hovering; RETURN and IDLE fly home and land: a survey drone with
        # nothing to do lands (no hover power) rather than wait in the air.
        self.uav_command_of_action = np.full(self.top_k + N_EXTRA, int(DroneCommand.HOVER))
        self.uav_command_of_action[: self.top_k] = int(DroneCommand.GOTO)
        self.uav_command_of_action[self.top_k + int(Extra.RETURN)] = int(DroneCommand.RETURN)
        self.uav_command_of_action[self.top_k + int(Extra.IDLE)] = int(DroneCommand.RETURN)
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
        self._base_xy_m = np.column_stack([bx, by]).reshape(-1, 2)
        base_xy_m = self._base_xy_m[self.uav_group]  # (n_uav, 2) each drone's base
        # Where a drone's data can land: its base, then every station (m, (n_uav, 1 + n_gs, 2)).
        self.uav_receivers_xy_m = np.concatenate(
            [base_xy_m[:, None, :],
             np.broadcast_to(self.gs_xy_m[None, :, :], (self.n_uav, self.n_gs, 2))], axis=1,
        )  # fmt: skip
        # Task centres (m, (n_task + 1, 2)) with a last NaN row, so that index -1 is "none".
        self.task_xy_or_nan = np.vstack(
            [np.column_stack([self.tasks.x_m, self.tasks.y_m]), [np.nan, np.nan]]
        )
        # Task → base distance of every drone (m, (n_uav, n_task)): the return leg of a
        # candidate flight, fixed for the world.
        self.uav_task_home_m = np.hypot(
            self.tasks.x_m[None, :] - base_xy_m[:, 0:1], self.tasks.y_m[None, :] - base_xy_m[:, 1:2]
        )
        self.access = TaskAccess(
            self.geom, self.tasks, self.grid, self.sat_max_off_nadir_deg, self.sat_min_sun_deg,
            self.sat_needs_daylight, self.uav_min_sun_deg, self.uav_needs_daylight,
            self.uav_side_m,
        )  # fmt: skip
        self.clouds = CloudField(
            self.grid,
            scenario.clouds.cover_fraction,
            scenario.clouds.correlation_length_m,
            scenario.clouds.decorrelation_time_s,
            scenario.step_s,
        )
        # The clouds' cells over the task samples and the task centres, for the value of an
        # image not yet taken (sagsim.envs.world.feasibility.footprint_values).
        self.sample_cloud_cell = self.clouds.coarse_index(self.tasks.sample_row,
                                                          self.tasks.sample_col)  # fmt: skip
        self.task_cloud_cell = self.clouds.coarse_index(self.tasks.row, self.tasks.col)
        # Which task samples the scene of each satellite's (drone's) image of each task
        # covers: one (n_task, n_sample) matrix per distinct swath (footprint side), and
        # each platform's.
        swaths_m, self.sat_swath_group = np.unique(self.sat_swath_m, return_inverse=True)
        self.sat_swath_group = self.sat_swath_group.reshape(-1)
        self.swath_cover = [self.tasks.cover(0.5 * w, self.grid) for w in swaths_m]
        sides_m, self.uav_side_group = np.unique(self.uav_side_m, return_inverse=True)
        self.uav_side_group = self.uav_side_group.reshape(-1)
        self.uav_side_cover = [self.tasks.cover(0.5 * w, self.grid) for w in sides_m]
        self.event_fronts = EventFronts(self.tasks, self.grid)
        maps = (self.grid.shape, scenario.fusion.prior_variance,
                scenario.fusion.process_noise_per_s, self.tasks.max_gsd_m,
                self.tasks.sample_task, self.tasks.sample_flat)  # fmt: skip
        self.fusion = ResolutionMaps(*maps)
        # The map as if every image were fused the moment it is taken: it prices an image
        # for reward shaping (World.onboard_value) without counting a scene twice.
        self.acquired_map = ResolutionMaps(*maps)
        self.perception = None
        if scenario.perception == "imagery":
            from sagsim.envs.world.perception import (
                Perception,  # the scene and fusers: only when asked
            )

            self.perception = Perception(self)
        # Imaging seconds allowed per orbit (sagsim.envs.world.duty_cycle).
        period_steps = np.ceil(circular_period_s(self.sat_nominal_alt_m) / self.step_s)
        budget_s = [scenario.satellites[i].max_imaging_s_per_orbit for i in self.sat_group_index]
        budget_s = np.array([np.inf if b is None else b for b in budget_s], float)
        window_steps = np.maximum(period_steps, 1).astype(np.int64)
        self.duty = DutyCycle(budget_s, window_steps, self.n_steps)
        self.other_customers = OtherCustomers(
            [scenario.satellites[i].other_customers_km2_per_day for i in self.sat_group_index],
            self.sat_gsd_nadir_m, self.sat_bits_per_pixel, self.sat_swath_m,
            circular_ground_speed_mps(self.sat_nominal_alt_m), self.step_s,
        )  # fmt: skip
        self.faults = FaultSchedule.from_world(self)  # None without a faults section
        self._noise_std0 = (self.sat_noise_std.copy(), self.uav_noise_std.copy())
        self.reset(np.random.default_rng(scenario.seed))

    def _sensor_arrays(self, scenario: Scenario) -> None:
        """Per-platform sensor constants, ``(n_sat,)`` / ``(n_uav,)``."""
        gi = self.sat_group_index
        sat_sensors = [scenario.satellites[i].sensor for i in gi]
        altitude0_m = self.geom.sat_altitude_m[0] if self.n_sat else np.zeros(0)
        swath = np.array(
            [
                s.swath_m if s.swath_m is not None else swath_m_from_full_fov_deg(s.fov_deg, a)
                for s, a in zip(sat_sensors, altitude0_m, strict=True)
            ]
        )
        self.sat_swath_m = swath.reshape(-1)
        self.sat_gsd_nadir_m = np.array([s.gsd_nadir_m for s in sat_sensors]).reshape(-1)
        self.sat_nominal_alt_m = np.maximum(altitude0_m, 1.0)
        # The rules of each sensor's kind (sagsim.sensor_kinds), per platform.
        sat_kinds = [SENSOR_KINDS[s.kind] for s in sat_sensors]
        self.sat_needs_daylight = np.array([k.needs_daylight for k in sat_kinds], bool)
        self.sat_cloud_blocked = np.array([k.blocked_by_cloud for k in sat_kinds], bool)
        self.sat_max_off_nadir_deg = np.array([s.max_off_nadir_deg for s in sat_sensors])
        # Scanning a scene: its length (the swath) at the ground-track speed (s).
        self.sat_scan_s = self.sat_swath_m / circular_ground_speed_mps(self.sat_nominal_alt_m)
        self.sat_min_sun_deg = np.array([s.min_sun_elevation_deg for s in sat_sensors])
        self.sat_noise_std = np.array([s.noise_std for s in sat_sensors])
        self.sat_bits_per_pixel = np.array([s.bands * s.bits_per_pixel for s in sat_sensors],
                                           float).reshape(-1)  # fmt: skip
        self.sat_image_bits = (
            self.sat_swath_m / self.sat_gsd_nadir_m
        ) ** 2 * self.sat_bits_per_pixel
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
        uav_kinds = [SENSOR_KINDS[s.kind] for s in uav_sensors]
        self.uav_needs_daylight = np.array([k.needs_daylight for k in uav_kinds], bool)
        self.uav_cloud_blocked = np.array([k.blocked_by_cloud for k in uav_kinds], bool)
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
        self.drones = DroneFleet.from_scenario(sc, self._base_xy_m)
        self.stations = GroundStations.from_scenario(sc)
        self.gs_alive = np.ones(self.n_gs, bool)
        capacity = np.concatenate([self.sats.storage_capacity_bits,
                                   self.drones.storage_capacity_bits])  # fmt: skip
        self.data = DataPath(capacity, self.tasks.n)
        # The initial fill is old data: it takes room and carries no value.
        self.data.store_other(np.concatenate([self.sats.storage_bits, self.drones.storage_bits]))
        self._sync_storage()
        self.fusion.reset(0.0)
        self.acquired_map.reset(0.0)
        if self.perception is not None:
            self.perception.reset(rng)
        self.clouds.reset(rng)
        # Attitude: the task each satellite looks at (-1: nadir), the first step at which it
        # is free again, and the image it is busy with (task, step it is taken in; -1: none).
        self.sat_look_task = np.full(self.n_sat, -1, np.int64)
        self.sat_free_k = np.zeros(self.n_sat, np.int64)
        self.sat_scheduled_task = np.full(self.n_sat, -1, np.int64)
        self.sat_scheduled_k = np.full(self.n_sat, -1, np.int64)
        self.sat_slew_left_s = np.zeros(self.n_sat)
        self.duty.reset()
        self.task_last_obs_s = np.full(self.tasks.n, -np.inf)
        # The value each agent's delivered images have added to the map: its share of the
        # information reward (sagsim.envs.reward.information_shares).
        self.credit = np.zeros(self.n_agents)
        self.failed = np.zeros(self.n_agents, bool)
        self.totals = {
            "bits_acquired": 0.0,
            "bits_delivered": 0.0,
            "images_acquired": 0,
            "images_delivered": 0,
            "latency_sum_s": 0.0,
            "energy_wh": 0.0,
            "information": 0.0,  # the return's information part: ∫ Q dt, priority-hours
            "image_value": 0.0,  # Σ delivered images' values (what each added to Q at once)
            "bits_lost": 0.0,  # queued on platforms that failed
            "images_lost": 0,
            "other_bits_acquired": 0.0,  # the operator's other customers' data (bits)
        }
        self._options: StepOptions | None = None
        self.fault_state: FaultState | None = None
        if self.faults is not None:
            self.sat_noise_std, self.uav_noise_std = (a.copy() for a in self._noise_std0)
            self.faults.reset(rng)
            self.apply_fault_state()

    def apply_fault_state(self) -> None:
        """Stations, ISLs and drone links up or down as the fault schedule has them now."""
        self.fault_state = state = self.faults.state(self.t_s)
        self.gs_alive = state.station_up
        self._options = None

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

    # -- what this step offers ---------------------------------------------------------------

    def options(self) -> StepOptions:
        """What the current state offers each agent (:func:`step_options`): computed once
        per step, the same object until the state changes (a step, a fault)."""
        if self._options is None:
            self._options = step_options(self)
        return self._options

    @property
    def candidates(self) -> Candidates:
        """This step's candidates and action mask (:meth:`options`)."""
        return self.options().candidates

    def action_mask(self) -> np.ndarray:
        """``(n_agents, K + 4)`` bool: exactly the feasible actions."""
        return self.options().candidates.mask

    def window(self, task: int, half_width_m: float) -> tuple[int, int, int, int]:
        """The grid window (r0, r1, c0, c1) of an image of half-width ``half_width_m`` (m)
        centred on task ``task`` (:func:`sagsim.envs.world.imaging.image_window`)."""
        return image_window(self, task, half_width_m)

    def onboard_value(self) -> np.ndarray:
        """``(n_agents,)``: the shaping potential, the value of each agent's images still
        in the network × the hours left (:func:`sagsim.envs.reward.onboard_value`); 0 for
        stations."""
        hours_left = max(self.n_steps * self.step_s - self.t_s, 0.0) / SECONDS_PER_HOUR
        return onboard_value(self.data.weight_by_source, hours_left, self.n_agents)

    @staticmethod
    def extra(action: Extra, top_k: int) -> int:
        """Action index of an extra action."""
        return top_k + int(action)

    # -- the step ------------------------------------------------------------------------------

    def step(self, actions: np.ndarray) -> StepOutcome:
        """Advance by one step (the module docstring's order). ``actions`` ``(n_agents,)``
        int in [0, K + 4); failed agents' entries are ignored. Returns a
        :class:`StepOutcome`."""
        if self.done:
            raise RuntimeError("the episode is over: call reset()")
        acts = np.asarray(actions, np.int64).reshape(-1)
        n_act = self.top_k + N_EXTRA
        if (
            acts.shape != (self.n_agents,)
            or acts.min(initial=0) < 0
            or acts.max(initial=0) >= n_act
        ):
            raise ValueError(f"actions must be {self.n_agents} integers in [0, {n_act})")
        options = self.options()
        alive_before = ~self.failed
        chosen_ok = options.candidates.mask.take(self._agent_row_offset + acts)
        infeasible = alive_before & ~chosen_ok
        acts = np.where(chosen_ok, acts, self.top_k + IDLE)
        values, counts = np.zeros((2, self.n_agents)), np.zeros((2, self.n_agents), np.int64)
        out = StepOutcome(
            information=values[0],
            energy_wh=values[1],
            infeasible=infeasible,
            failed=infeasible,  # replaced below
            acquired=counts[0],
            delivered=counts[1],
            latencies_s=[],
            downlinked=np.zeros(self.n_agents, bool),
            imaging=np.zeros(self.n_agents, bool),
        )
        t0_s = self.t_s
        t1_s = t0_s + self.step_s
        n_sat, n_uav = self.n_sat, self.n_uav
        sat_actions, uav_actions = acts[:n_sat], acts[n_sat : n_sat + n_uav]
        station_actions = acts[n_sat + n_uav :]

        # 1-2. Images and flight.
        imaging, slew_s = satellite_images(self, sat_actions, options, out, t0_s)
        team_scan_s = np.where(sat_actions < self.top_k, self.sat_scan_s, 0.0)
        uav_energy_wh = (
            drones_fly_and_image(self, uav_actions, options, out, t1_s) if n_uav else None
        )
        # 3. Relays and downlinks.
        arrived, transmitting = satellite_links(self, sat_actions, station_actions, options)
        if n_uav:
            arrived += drone_links(self, uav_actions, options)
        out.imaging[:n_sat] = self.sat_free_k > self.k
        self.duty.charge(self.k, team_scan_s + self._image_for_others(team_scan_s, out.imaging))
        out.downlinked[:n_sat] = transmitting & (sat_actions == self.top_k + DOWNLINK)
        out.downlinked[n_sat : n_sat + n_uav] = uav_actions == self.top_k + DOWNLINK

        # 4. Power, then failures: a satellite whose battery is empty, a lost drone, the
        # scenario's faults. Never undone.
        sunlit = self.geom.sat_sunlit[self.k] if n_sat else np.zeros(0)
        power = self.sats.advance(self.step_s, sunlit, imaging, transmitting, slew_s)
        bus_wh = self.sats.bus_load_w * self.step_s / 3600.0
        out.energy_wh[:n_sat] = np.where(alive_before[:n_sat], power.energy_used_wh - bus_wh, 0)
        if uav_energy_wh is not None:
            out.energy_wh[n_sat : n_sat + n_uav] = uav_energy_wh
        out.failed = self._failures(alive_before, t0_s, t1_s)

        # 5. The clock moves on; the fusion centre receives what arrived this step.
        self.k += 1
        if self.faults is not None:
            self._faults_after_step(t0_s, t1_s)
        self.fusion.predict(self.t_s)
        self._ground_changes(t0_s, t1_s)
        if self.perception is not None:
            self.perception.predict(self.t_s)
        self._fuse_arrivals(arrived, t1_s, out)
        self._pay_map_quality(out)
        self.totals["energy_wh"] += float(out.energy_wh.sum())
        self._sync_storage()
        self.clouds.step(self.rng)
        self._options = None
        return out

    def _image_for_others(self, team_scan_s: np.ndarray, busy: np.ndarray) -> np.ndarray:
        """Satellites alive, above their minimum charge, not ``busy`` with a team image and
        with no task in view image for other customers
        (:mod:`sagsim.envs.world.other_customers`); returns the scan seconds that took
        ``(n_sat,)``."""
        if not self.other_customers.any:
            return np.zeros(self.n_sat)
        free = ~busy[: self.n_sat] & ~self.failed[: self.n_sat] & self.sats.can_operate
        free &= ~self.access.satellites(self.k)[1].any(axis=1)
        scan_left_s = self.duty.left_s(self.k) - team_scan_s
        bits, scan_s = self.other_customers.acquire(self.data, free, scan_left_s)
        self.totals["other_bits_acquired"] += float(bits.sum())
        return scan_s

    def _ground_changes(self, t0_s: float, t1_s: float) -> None:
        """The cells events reached in (t0_s, t1_s] changed: the fusion centre's map of
        them (and the as-if-delivered map that prices images on board) is stale there. The
        ``imagery`` mode's fusers are not told: they see the change in the next image."""
        changed = self.event_fronts.reached(t0_s, t1_s)
        if changed.size:
            self.fusion.mark_changed(changed)
            self.acquired_map.predict(self.fusion.t_s)
            self.acquired_map.mark_changed(changed)

    def _failures(self, alive_before: np.ndarray, t0_s: float, t1_s: float) -> np.ndarray:
        """The agents that fail in [t0_s, t1_s) ``(n_agents,)`` bool; their queues are lost
        and they are marked failed."""
        n_sat, n_uav = self.n_sat, self.n_uav
        dead = np.zeros(self.n_agents, bool)
        dead[:n_sat] = alive_before[:n_sat] & (self.sats.battery_wh <= 0.0)
        dead[n_sat : n_sat + n_uav] = alive_before[n_sat : n_sat + n_uav] & ~self.drones.alive
        if self.faults is not None:  # scheduled and random failures (world/faults.py)
            dead |= alive_before & self.faults.failing(t0_s, t1_s)
            self.drones.alive &= ~dead[n_sat : n_sat + n_uav]
        if dead.any():
            for node in dead[: n_sat + n_uav].nonzero()[0]:
                self._lose_queue(int(node))
            self.sats.alive &= ~dead[:n_sat]
            self.failed |= dead
        return dead

    def _fuse_arrivals(self, arrived: list[Packet], t1_s: float, out: StepOutcome) -> None:
        """Fuse the packets that reached the ground by ``t1_s`` (s) into the fusion centre's
        map; add each image's value to the credit of the agent that took it."""
        for packet in arrived:
            if packet.task < 0:
                continue
            latency_s = t1_s - packet.t_acq_s
            value = self._fuse(packet)
            self.credit[packet.source] += value
            out.delivered[packet.source] += 1
            out.latencies_s.append(latency_s)
            self.totals["bits_delivered"] += packet.bits_total
            self.totals["latency_sum_s"] += latency_s
            self.totals["image_value"] += value
            self.totals["images_delivered"] += 1

    def _pay_map_quality(self, out: StepOutcome) -> None:
        """The step's information: the map quality now × the step's hours, shared by credit
        (:func:`sagsim.envs.reward.map_quality`, :func:`~sagsim.envs.reward.information_shares`)."""
        ratio = task_variance_ratio(self)
        quality = map_quality(ratio, self.tasks.priority, self.tasks.active(self.t_s))
        out.information[:] = information_shares(quality, self.step_s, self.credit, ~self.failed)
        self.totals["information"] += float(out.information.sum())

    def _fuse(self, packet: Packet) -> float:
        """Fuse one arrived packet; return its value (:func:`sagsim.envs.reward.image_value`)
        and mark the tasks it observed."""
        reduction = self.fusion.update_window(
            *packet.window, packet.obs_variance, packet.t_acq_s, packet.valid, packet.gsd_m
        )
        if packet.observation is not None:
            self.perception.fuse(packet.observation)
        value, seen = image_value(packet.window, reduction, self.tasks,
                                  self.access.samples_inside(self.k),
                                  self.fusion.prior_variance,
                                  self.fusion.sample_level)  # fmt: skip
        self.task_last_obs_s[seen] = np.maximum(self.task_last_obs_s[seen], packet.t_acq_s)
        return value

    def _lose_queue(self, node: int) -> None:
        """A failed platform's queue is lost: counted in ``totals`` (old data excluded)."""
        images = sum(1 for p in self.data.queues[node] if p.task >= 0)
        bits = sum(p.bits_left for p in self.data.queues[node] if p.task >= 0)
        self.data.drop(node)
        self.totals["images_lost"] += images
        self.totals["bits_lost"] += float(bits)

    def _faults_after_step(self, t0_s: float, t1_s: float) -> None:
        """Sensor degradations of [t0_s, t1_s) take effect; outages as they are at ``t1_s``."""
        n_sat = self.n_sat
        for _t, agent, noise_factor, stuck_fraction in self.faults.degradations_in(t0_s, t1_s):
            if self.failed[agent]:
                continue
            if agent < n_sat:
                self.sat_noise_std[agent] *= noise_factor
            else:
                self.uav_noise_std[agent - n_sat] *= noise_factor
            if self.perception is not None:
                self.perception.degrade(agent, noise_factor, stuck_fraction)
        self.apply_fault_state()
