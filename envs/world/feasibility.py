"""The step of :class:`sagsim.envs.world.world.World`: feasibility, acquisition, links, power,
fusion.

Split from :mod:`sagsim.envs.world.world` (construction and state) to keep each module readable; the
mixin's methods use the world's attributes documented there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sagsim.envs.actions import (
    DOWNLINK,
    DRONE_DISTANCE_SCALE_M,
    IDLE,
    N_EXTRA,
    RELAY,
    RETURN,
    Candidates,
    top_k,
)
from sagsim.envs.physics.links import isl_feasibility_matrix
from sagsim.envs.platforms import DroneMode
from sagsim.envs.world.datapath import Packet

AT_BASE = int(DroneMode.AT_BASE)

__all__ = ["StepOutcome", "WorldStepper"]


@dataclass
class StepOutcome:
    """What one step did, per agent ``(n_agents,)`` unless noted.

    ``information``: value delivered this step from the agent's own images (priority-
    weighted variance reduction / prior variance, latency-discounted, unweighted);
    ``energy_wh``: activity energy (satellites: imaging, transmit, slew; drones: flight);
    ``infeasible``: the chosen action was masked (it ran as IDLE); ``failed``: the agent
    failed this step; ``acquired``/``delivered``: images taken / arrived (counts);
    ``latencies_s``: delivery latency of every arrived image (list).
    """

    information: np.ndarray
    energy_wh: np.ndarray
    infeasible: np.ndarray
    failed: np.ndarray
    acquired: np.ndarray
    delivered: np.ndarray
    latencies_s: list


class WorldStepper:
    """Mixin with the step logic (see :mod:`sagsim.envs.world.world`)."""

    # -- information at the fusion centre ------------------------------------------------

    def _mean_ratio(self, weights, inv_count, none) -> np.ndarray:
        """Σ weights × current variance / Σ weights per task, over the prior variance
        (``inv_count`` = 1 / Σ weights, 0 where none; 1 where ``none``)."""
        tasks = self.tasks
        num = np.bincount(tasks.sample_task, self._sample_var * weights, minlength=tasks.n)
        return num * (inv_count / self.fusion.prior_variance) + none

    def task_variance_ratio(self) -> np.ndarray:
        """Mean current variance over each task's disc / prior variance, ``(n_task,)``
        (1 for a task not yet active)."""
        self._sample_var = self.fusion.variance_flat(self.tasks.sample_flat)  # reused this step
        return self._mean_ratio(*self.access.samples_inside(self.k))

    def uav_variance_ratio(self) -> np.ndarray:
        """``(n_uav, n_task)``: mean current variance / prior over the part of each task's
        disc that a drone's image (its footprint square on the task centre) covers; 1 where
        it covers no sample cell. Uses this step's sample variances (call after
        :meth:`task_variance_ratio`)."""
        out = np.ones((self.n_uav, self.tasks.n))
        for drones, weights, inv_count, none in self.access.drone_views(self.k):
            out[drones] = self._mean_ratio(weights, inv_count, none)
        return out

    def _fuse(self, packet: Packet) -> float:
        """Fuse one arrived packet; return its value: Σ over tasks it overlaps of priority ×
        (mean variance reduction over the task's current disc) / prior variance."""
        reduction = self.fusion.update_window(
            *packet.window, packet.obs_variance, packet.t_acq_s, packet.valid
        )
        if packet.observation is not None:
            self.perception.fuse(packet.observation)
        return self._value_of(packet.window, reduction, packet.t_acq_s)

    def _potential_weight(self, window, obs_variance: float, valid, t_acq_s: float) -> float:
        """An image's :attr:`Packet.weight`: its value on :attr:`acquired_map` (the map as
        if every image were fused when taken, so a second image of a scene still on board
        is worth little) × 2^(t_acq_s / latency half-life); see :meth:`onboard_value`."""
        self.acquired_map.predict(self.fusion.t_s)
        reduction = self.acquired_map.update_window(*window, obs_variance, self.fusion.t_s, valid)
        value = self._value_of(window, reduction, None)
        return value * 2.0 ** (t_acq_s / self.scenario.reward.latency_half_life_s)

    def _value_of(self, window, reduction: np.ndarray, t_acq_s: float | None) -> float:
        """Priority-weighted mean variance reduction over the tasks' discs of a window's
        ``reduction``; with ``t_acq_s``, also marks the tasks it saw as observed then."""
        tasks = self.tasks
        r0, r1, c0, c1 = window
        inside, inv_count, _ = self.access.samples_inside(self.k)
        hit = (tasks.sample_row >= r0) & (tasks.sample_row < r1)
        hit &= (tasks.sample_col >= c0) & (tasks.sample_col < c1)
        hit &= inside > 0
        idx = hit.nonzero()[0]
        if idx.size == 0:
            return 0.0
        rows, cols = tasks.sample_row[idx] - r0, tasks.sample_col[idx] - c0
        gained = reduction[rows, cols]
        k = tasks.sample_task[idx]
        per_task = np.bincount(k, gained, minlength=tasks.n) * inv_count
        if t_acq_s is not None:
            seen = np.unique(k[gained > 0])
            self.task_last_obs_s[seen] = np.maximum(self.task_last_obs_s[seen], t_acq_s)
        return float(per_task @ tasks.priority) / self.fusion.prior_variance

    def onboard_value(self) -> np.ndarray:
        """``(n_agents,)``: Σ over each agent's images still in the network (on board or
        being relayed, not yet at the fusion centre) of the value each had when taken ×
        0.5^(age / latency_half_life_s); 0 for stations. A potential Φ for reward shaping
        (Ng, Harada & Russell 1999: r + γ Φ(s') − Φ(s) keeps the optimal policies): it
        credits an image when it is taken rather than hours later when it arrives."""
        out = np.zeros(self.n_agents)
        decay = 0.5 ** (self.t_s / self.scenario.reward.latency_half_life_s)
        out[: self.data.weight_by_source.size] = self.data.weight_by_source * decay
        return out

    # -- feasibility -----------------------------------------------------------------------

    def _receiver_distance2_m2(self, xy: np.ndarray) -> np.ndarray:
        """``(n_uav, 1 + n_gs)`` squared slant distance (m²) from drones at ``xy`` (their
        flight altitude above each receiver) to their base (column 0) and each station; +inf
        for a station that is down."""
        rx = self.uav_receivers_xy_m  # (n_uav, 1 + n_gs, 2): base, then stations
        d2 = ((xy[:, None, :] - rx) ** 2).sum(axis=2) + self.drones.altitude_m[:, None] ** 2
        d2[:, 1:] += np.where(self.gs_alive, 0.0, np.inf)
        if self.fault_state is not None and not self.fault_state.air_up:
            d2[:] = np.inf  # a communication blackout: no drone reaches the ground
        return d2

    def _ground_link(self, xy: np.ndarray) -> np.ndarray:
        """``(n_uav,)`` bool: a drone at ``xy`` can reach its base or a live station
        (slant range ≤ ``max_range_m``)."""
        return self._receiver_distance2_m2(xy).min(axis=1) <= self.air.max_range_m**2

    def uav_ground_link(self) -> np.ndarray:
        """``(n_uav,)`` bool: each live drone can reach its base or a station now (cached
        with this step's candidates)."""
        self.candidates  # noqa: B018 (computes ``_uav_link`` with the step's candidates)
        return self._uav_link

    def _compute_candidates(self) -> Candidates:
        n_sat, n_uav, kk = self.n_sat, self.n_uav, self.top_k
        tasks, g, k = self.tasks, self.geom, self.k
        alive = ~self.failed
        mask = np.zeros((self.n_agents, kk + N_EXTRA), bool)
        index = np.full((self.n_agents, kk), -1, np.int64)
        active = tasks.active(self.t_s)
        self._ratio = self.task_variance_ratio()  # reused by the observations this step
        value = np.where(active, tasks.priority * self._ratio, -np.inf)
        queued = self.data.queued_bits > 0
        free = self.data.free_bits

        self._uav_link = np.zeros(n_uav, bool)
        # Satellites.
        s_alive = alive[:n_sat]
        can_op = self.sats.can_operate & s_alive
        off_deg, access = self.access.satellites(k)
        feas = access & (can_op & (free[:n_sat] >= self.sat_image_bits))[:, None]
        score = feas * 1e6 + value[None, :] * 1e2 - off_deg * 1e-3
        cand = top_k(score, kk)
        index[:n_sat] = cand
        rows, safe, has = np.arange(n_sat)[:, None], np.maximum(cand, 0), cand >= 0
        mask[:n_sat, :kk] = feas[rows, safe] & has
        off_cand = off_deg[rows, safe] * has
        in_contact = (g.gs_visible[k] & self.gs_alive[None, :]).any(axis=1) & s_alive
        self._sat_in_contact = in_contact  # for the observations
        s_q = queued[:n_sat]
        mask[:n_sat, kk + DOWNLINK] = can_op & s_q & in_contact
        if self.isl.enabled and n_sat > 1:
            reach = isl_feasibility_matrix(g.sat_r_ecef_m[k], self.isl.max_range_m,
                                           self.isl.grazing_altitude_m)  # fmt: skip
            np.fill_diagonal(reach, False)
            if self.fault_state is not None:  # ISL outages (sagsim.envs.world.faults)
                up = self.fault_state.isl_up
                reach &= up[:, None] & up[None, :]
            self._isl_reach = reach & (in_contact & (free[:n_sat] > 0))[None, :]
            mask[:n_sat, kk + RELAY] = can_op & s_q & self._isl_reach.any(axis=1)
        mask[:n_sat, kk + IDLE] = s_alive

        # Drones.
        if n_uav:
            sl = slice(n_sat, n_sat + n_uav)
            dr, u_alive = self.drones, alive[sl]
            pos = dr.position_xy_m
            d_task = np.hypot(*(tasks.x_m[None, :] - pos[:, 0:1], tasks.y_m[None, :] - pos[:, 1:2]))
            # Out, back to base and the reserve must fit the cruise energy in the battery.
            reach = (d_task + self.uav_task_home_m) * dr.return_wh_per_m[:, None] <= (
                dr.battery_wh[:, None]
            )
            ok = u_alive & ~dr.forced_return & (free[sl] >= self.uav_image_bits)
            feas = reach & self.access.drones(k) & ok[:, None]
            # A drone's value: what its small footprint would still add at each task.
            self._uav_ratio = self.uav_variance_ratio()
            uav_value = np.where(active, tasks.priority * self._uav_ratio, -np.inf)
            score = feas * 1e6 + uav_value * 1e2 / (1.0 + d_task / DRONE_DISTANCE_SCALE_M)
            cand = top_k(score, kk)
            index[sl] = cand
            mask[sl, :kk] = feas[np.arange(n_uav)[:, None], np.maximum(cand, 0)] & (cand >= 0)
            link = self._ground_link(pos) & u_alive
            self._uav_link = link
            u_q = queued[sl] & u_alive
            mask[sl, kk + DOWNLINK] = u_q & link
            if self.air.relay_enabled and n_uav > 1:
                d_uu = np.hypot(*(pos[:, None, :] - pos[None, :, :]).transpose(2, 0, 1))
                near = (d_uu <= self.air.max_range_m) & ~np.eye(n_uav, dtype=bool)
                if self.fault_state is not None and not self.fault_state.air_up:
                    near[:] = False  # a communication blackout
                self._uav_reach = near & (link & (free[sl] > 0))[None, :]
                mask[sl, kk + RELAY] = u_q & self._uav_reach.any(axis=1)
            mask[sl, kk + RETURN] = u_alive & (dr.mode != AT_BASE)
            mask[sl, kk + IDLE] = u_alive

        # Stations: satellites in view holding data, by queued bits.
        gsl = slice(n_sat + n_uav, self.n_agents)
        view = g.gs_visible[k].T & (s_alive & s_q)[None, :]  # (n_gs, n_sat)
        if view.any():  # otherwise every slot stays empty (-1)
            index[gsl] = cand = top_k(
                np.where(view, self.data.queued_bits[None, :n_sat], -np.inf), kk
            )
        cand = index[gsl]
        g_alive = alive[gsl] & self.gs_alive
        mask[gsl, :kk] = (cand >= 0) & g_alive[:, None]
        mask[gsl, kk + DOWNLINK] = g_alive
        mask[gsl, kk + IDLE] = alive[gsl]  # a station in an outage can only wait
        return Candidates(index=index, mask=mask, off_nadir_deg=off_cand)
