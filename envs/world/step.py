"""``World.step``: acquisitions, flight, relays, downlinks, power, failures and fusion.

A mixin of :class:`sagsim.envs.world.world.World` (see its module docstring for the step's order).
"""

from __future__ import annotations

import numpy as np

from sagsim.envs.actions import DOWNLINK, IDLE, N_EXTRA, RELAY
from sagsim.envs.physics.sensor_geometry import gsd_m
from sagsim.envs.platforms import DroneMode
from sagsim.envs.world.datapath import Packet
from sagsim.envs.world.feasibility import StepOutcome
from sagsim.fusion.kalman import observation_variance

__all__ = ["WorldDynamics"]

AT_BASE = int(DroneMode.AT_BASE)


class WorldDynamics:
    """Mixin: :meth:`step`."""

    def step(self, actions: np.ndarray) -> StepOutcome:
        """Advance by one step. ``actions`` ``(n_agents,)`` int in [0, K + 4); failed agents'
        entries are ignored. Returns a :class:`StepOutcome`."""
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
        cand, kk = self.candidates, self.top_k
        alive_before = ~self.failed
        idle = kk + IDLE
        chosen_ok = cand.mask.take(self._agent_row_offset + acts)
        infeasible = alive_before & ~chosen_ok
        acts = np.where(chosen_ok, acts, idle)
        values, counts = np.zeros((2, self.n_agents)), np.zeros((2, self.n_agents), np.int64)
        out = StepOutcome(
            information=values[0],
            energy_wh=values[1],
            infeasible=infeasible,
            failed=infeasible,  # replaced below
            acquired=counts[0],
            delivered=counts[1],
            latencies_s=[],
        )
        t0 = self.t_s
        t1 = t0 + self.step_s
        n_sat, n_uav = self.n_sat, self.n_uav
        sa, ua, ga = acts[:n_sat], acts[n_sat : n_sat + n_uav], acts[n_sat + n_uav :]

        imaging, slew_s = self._satellite_images(sa, cand, out, t0)
        uav_energy = self._drones_fly_and_image(ua, cand, out, t1) if n_uav else None
        transmitting = self._satellite_links(sa, ga, cand)
        if n_uav:
            self._drone_links(ua)

        sunlit = self.geom.sat_sunlit[self.k] if n_sat else np.zeros(0)
        power = self.sats.advance(self.step_s, sunlit, imaging, transmitting, slew_s)
        bus_wh = self.sats.bus_load_w * self.step_s / 3600.0
        out.energy_wh[:n_sat] = np.where(alive_before[:n_sat], power.energy_used_wh - bus_wh, 0)
        if uav_energy is not None:
            out.energy_wh[n_sat : n_sat + n_uav] = uav_energy

        # Failures: a satellite whose battery is empty, a lost drone. Never undone.
        dead = np.zeros(self.n_agents, bool)
        dead[:n_sat] = alive_before[:n_sat] & (self.sats.battery_wh <= 0.0)
        dead[n_sat : n_sat + n_uav] = alive_before[n_sat : n_sat + n_uav] & ~self.drones.alive
        if self.faults is not None:  # scheduled and random failures (sagsim.envs.world.faults)
            dead |= alive_before & self.faults.failing(t0, t1)
            self.drones.alive &= ~dead[n_sat : n_sat + n_uav]
        if dead.any():
            for node in dead[: n_sat + n_uav].nonzero()[0]:
                self._lose_queue(int(node))
            self.sats.alive &= ~dead[:n_sat]
            self.failed |= dead
        out.failed = dead

        # The fusion centre receives what arrived this step.
        self.k += 1
        if self.faults is not None:
            self._faults_after_step(t0, t1)
        self.fusion.predict(self.t_s)
        if self.perception is not None:
            self.perception.predict(self.t_s)
        half_life = self.scenario.reward.latency_half_life_s
        for packet in self._arrived:
            if packet.task < 0:
                continue
            latency = t1 - packet.t_acq_s
            value = self._fuse(packet) * 0.5 ** (latency / half_life)
            out.information[packet.source] += value
            out.delivered[packet.source] += 1
            out.latencies_s.append(latency)
            self.totals["bits_delivered"] += packet.bits_total
            self.totals["latency_sum_s"] += latency
            self.totals["information"] += value
            self.totals["images_delivered"] += 1
        self.totals["energy_wh"] += float(out.energy_wh.sum())
        self._arrived = []
        self._sync_storage()
        self.clouds.step(self.rng)
        self._cand = None
        return out

    def _lose_queue(self, node: int) -> None:
        """A failed platform's queue is lost: counted in ``totals`` (old data excluded)."""
        images = sum(1 for p in self.data.queues[node] if p.task >= 0)
        bits = sum(p.bits_left for p in self.data.queues[node] if p.task >= 0)
        self.data.drop(node)
        self.totals["images_lost"] += images
        self.totals["bits_lost"] += float(bits)

    def _faults_after_step(self, t0: float, t1: float) -> None:
        """Sensor degradations of [t0, t1) take effect; outages as they are at ``t1``."""
        n_sat = self.n_sat
        for _t, agent, noise_factor, stuck_fraction in self.faults.degradations_in(t0, t1):
            if self.failed[agent]:
                continue
            if agent < n_sat:
                self.sat_noise_std[agent] *= noise_factor
            else:
                self.uav_noise_std[agent - n_sat] *= noise_factor
            if self.perception is not None:
                self.perception.degrade(agent, noise_factor, stuck_fraction)
        self.apply_fault_state()

    # -- satellites --------------------------------------------------------------------------

    def _satellite_images(self, sa, cand, out, t0):
        n_sat, kk = self.n_sat, self.top_k
        imaging = sa < kk
        slew_s = np.zeros(n_sat)
        self._arrived: list[Packet] = []
        for s in imaging.nonzero()[0]:  # only the satellites imaging this step
            slot = sa[s]
            task = int(cand.index[s, slot])
            off = float(cand.off_nadir_deg[s, slot])
            slew_s[s] = min(abs(off - self.sat_pointing_deg[s]) / self.sats.slew_rate_deg_s[s],
                            self.step_s)  # fmt: skip
            self.sat_pointing_deg[s] = off
            alt = self.geom.sat_altitude_m[self.k, s]
            gsd = float(gsd_m(self.sat_gsd_nadir_m[s], alt, off).mean_m)
            valid = None
            window = self._window(task, 0.5 * self.sat_swath_m[s])
            if self.sat_optical[s]:
                valid = ~self.clouds.cloudy_window(*window)
            variance = float(observation_variance(self.sat_noise_std[s], gsd,
                                                  self.grid.resolution_m))  # fmt: skip
            bits = float(self.sat_image_bits[s])
            weight = self._potential_weight(window, variance, valid, t0)
            packet = Packet(bits, bits, int(s), task, t0, variance, window, valid, weight)
            if self.perception is not None:
                sensor = self.scenario.satellites[self.sat_group_index[s]].sensor
                packet.observation = self.perception.acquire(t0, window, sensor, alt, off, valid,
                                                             int(s))  # fmt: skip
            if self.data.push(int(s), packet):
                out.acquired[s] += 1
                self.totals["bits_acquired"] += bits
                self.totals["images_acquired"] += 1
        return imaging, slew_s

    def _window(self, task: int, half_width_m: float) -> tuple[int, int, int, int]:
        r0, r1, c0, c1 = self.tasks.window(np.array([task]), np.array([half_width_m]), self.grid)
        return int(r0[0]), int(r1[0]), int(c0[0]), int(c1[0])

    def _satellite_links(self, sa, ga, cand) -> np.ndarray:
        """ISL relays, then downlinks with station antenna assignment; returns the
        satellites that transmitted ``(n_sat,)`` bool."""
        n_sat, kk, k = self.n_sat, self.top_k, self.k
        transmitting = np.zeros(n_sat, bool)
        if n_sat == 0:
            return transmitting
        relay = (sa == kk + RELAY).nonzero()[0]
        for s in relay:
            options = self._isl_reach[s].nonzero()[0]
            if options.size == 0:
                continue
            r = self.geom.sat_r_ecef_m[k]
            j = options[np.argmax(self.data.free_bits[options])]
            dist = float(np.linalg.norm(r[s] - r[j]))
            budget = float(self.isl_budget.bits_per_step(dist, self.step_s))
            self.data.relay(int(s), int(j), budget)
            transmitting[s] = True

        want = sa == kk + DOWNLINK
        if not want.any():  # stations only serve satellites that asked to downlink
            return transmitting
        req = want[:, None] & self.geom.gs_visible[k] & self.gs_alive[None, :]
        serve = ga < kk
        auto_ok = ga != kk + IDLE
        granted = np.zeros_like(req)
        antennas = self.stations.antennas.copy()
        for g in serve.nonzero()[0]:  # explicit choices first, lower station index wins
            s = int(cand.index[self.n_sat + self.n_uav + g, ga[g]])
            if s >= 0 and req[s, g] and not granted[s].any() and antennas[g] > 0:
                granted[s, g] = True
                antennas[g] -= 1
        rest = req & ~granted.any(axis=1, keepdims=True) & auto_ok[None, :]
        if rest.any():
            saved = self.stations.antennas
            self.stations.antennas = antennas
            try:
                granted |= self.stations.assign_antennas(
                    rest, self.data.queued_bits[:n_sat], self.geom.gs_elevation_deg[k]
                )
            finally:
                self.stations.antennas = saved
        for s, g in zip(*np.nonzero(granted), strict=True):
            bits = float(self.geom.gs_bits_per_step[k, s, g])
            self._arrived += self.data.send(int(s), bits)
            transmitting[s] = True
        return transmitting

    # -- drones ------------------------------------------------------------------------------

    def _drones_fly_and_image(self, ua, cand, out, t1):
        n_sat, n_uav, kk = self.n_sat, self.n_uav, self.top_k
        dr = self.drones
        sl = slice(n_sat, n_sat + n_uav)
        goto = ua < kk
        task = np.where(goto, cand.index[sl][np.arange(n_uav), np.minimum(ua, kk - 1)], -1)
        target = self.task_xy_or_nan[task]  # task -1 (no GOTO): NaN
        command = self.uav_command_of_action[ua]
        step = dr.advance(self.step_s, target, command)
        over = np.zeros(n_uav, bool)
        if goto.any():
            d = np.hypot(*(dr.position_xy_m[goto] - target[goto]).T)
            over[goto] = d <= 0.5 * self.uav_side_m[goto]
        over &= dr.alive & (dr.mode != AT_BASE) & ~step.forced_return
        for j in over.nonzero()[0]:
            window = self._window(int(task[j]), 0.5 * self.uav_side_m[j])
            variance = float(observation_variance(self.uav_noise_std[j], self.uav_gsd_m[j],
                                                  self.grid.resolution_m))  # fmt: skip
            bits = float(self.uav_image_bits[j])
            weight = self._potential_weight(window, variance, None, t1)
            packet = Packet(bits, bits, n_sat + int(j), int(task[j]), t1, variance, window,
                            weight=weight)  # fmt: skip
            if self.perception is not None:
                group = self.scenario.drones[self.uav_group[j]]
                packet.observation = self.perception.acquire(t1, window, group.sensor,
                                                             group.altitude_m, 0.0, None,
                                                             n_sat + int(j))  # fmt: skip
            if self.data.push(n_sat + int(j), packet):
                out.acquired[n_sat + j] += 1
                self.totals["bits_acquired"] += bits
                self.totals["images_acquired"] += 1
        return step.energy_used_wh  # 0 for a drone lost before this step

    def _drone_links(self, ua):
        n_sat, kk = self.n_sat, self.top_k
        dr = self.drones
        for j in (ua == kk + RELAY).nonzero()[0]:
            options = self._uav_reach[j].nonzero()[0]
            if options.size == 0:
                continue
            m = options[np.argmin(np.hypot(*(dr.position_xy_m[options] - dr.position_xy_m[j]).T))]
            dist = float(np.hypot(*(dr.position_xy_m[m] - dr.position_xy_m[j])))
            budget = float(self.air_budgets[self.uav_group[j]].bits_per_step(
                max(dist, 1.0), self.step_s))  # fmt: skip
            self.data.relay(n_sat + int(j), n_sat + int(m), budget)
        for j in (ua == kk + DOWNLINK).nonzero()[0]:
            dist = self._nearest_receiver_m(j)
            budget = float(self.air_budgets[self.uav_group[j]].bits_per_step(dist, self.step_s))
            self._arrived += self.data.send(n_sat + int(j), budget)

    def _nearest_receiver_m(self, j: int) -> float:
        """Slant distance (m) from drone ``j`` to its base or the nearest live station."""
        d2 = self._receiver_distance2_m2(self.drones.position_xy_m)[j].min()
        return max(float(np.sqrt(d2)), 1.0)
