"""Taking images: satellites turn to their chosen task and image it at the start of the step
in which the retarget, the settling and the scan end (this step, or a later one: busy until
then; :func:`sagsim.envs.world.feasibility.image_timing`); drones fly and image a chosen
task once it lies under their footprint at the end of the step.

Acquisition geometry: an image is a square scene centred on the task, of side the swath
(satellites) or the footprint (drones: 2 h tan(fov/2)); its size in bits is
(side / GSD)² × bands × bits per pixel at the nadir GSD, its per-cell noise variance comes
from the off-nadir GSD (:func:`sagsim.fusion.kalman.observation_variance`). Each image
becomes a :class:`sagsim.envs.world.datapath.Packet` on its platform's queue, priced for the
shaping potential when taken (:func:`sagsim.envs.reward.onboard_value`).
"""

from __future__ import annotations

import numpy as np

from sagsim.envs.physics.sensor_geometry import gsd_m
from sagsim.envs.platforms import AT_BASE
from sagsim.envs.reward import image_value
from sagsim.envs.world.datapath import Packet
from sagsim.envs.world.feasibility import StepOptions
from sagsim.fusion.kalman import observation_variance

__all__ = ["drones_fly_and_image", "image_window", "satellite_images"]


def image_window(world, task: int, half_width_m: float) -> tuple[int, int, int, int]:
    """The grid window (r0, r1, c0, c1) of an image of half-width ``half_width_m`` (m)
    centred on task ``task``, clipped to the grid."""
    r0, r1, c0, c1 = world.tasks.window(np.array([task]), np.array([half_width_m]), world.grid)
    return int(r0[0]), int(r1[0]), int(c0[0]), int(c1[0])


def _acquisition_weight(world, window, obs_variance: float, valid, pixel_m: float) -> float:
    """An image's :attr:`Packet.weight`: its value on ``world.acquired_map`` (the map as if
    every image were fused when taken, updated here), which prices it in the shaping
    potential (:func:`sagsim.envs.reward.onboard_value`). ``pixel_m``: its GSD (m)."""
    maps = world.acquired_map
    maps.predict(world.fusion.t_s)
    reduction = maps.update_window(*window, obs_variance, world.fusion.t_s, valid, pixel_m)
    value, _ = image_value(window, reduction, world.tasks, world.access.samples_inside(world.k),
                           world.fusion.prior_variance, maps.sample_level)  # fmt: skip
    return value


def _store(world, node: int, packet: Packet, out) -> None:
    """Queue ``packet`` on ``node``; count it as acquired if it fits."""
    if world.data.push(node, packet):
        out.acquired[node] += 1
        world.totals["bits_acquired"] += packet.bits_total
        world.totals["images_acquired"] += 1


def satellite_images(
    world, sat_actions: np.ndarray, options: StepOptions, out, t0_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """The satellites whose action is a candidate slot turn to that task and are busy for
    its ``busy_steps`` (:class:`sagsim.envs.actions.ImageTiming`); those whose retarget ends
    in this step image it at ``t0_s`` (s), the others at the start of the step in which it
    ends; images chosen earlier whose retarget ends in this step are taken now. Returns
    which satellites imaged ``(n_sat,)`` bool and their slewing times this step ``(n_sat,)``
    s; counts go to ``out`` (:class:`sagsim.envs.world.world.StepOutcome`)."""
    n_sat, kk, k = world.n_sat, world.top_k, world.k
    cand = options.candidates
    imaging = np.zeros(n_sat, bool)
    due = np.flatnonzero((world.sat_scheduled_k == k) & ~world.failed[:n_sat])
    for s in due.tolist():  # chosen earlier: the retarget ends in this step
        task = int(world.sat_scheduled_task[s])
        world.sat_scheduled_task[s] = world.sat_scheduled_k[s] = -1
        off_nadir_deg = float(world.access.satellites(k)[0][s, task])
        imaging[s] = _satellite_image(world, s, task, off_nadir_deg, out, t0_s)
    for s in np.flatnonzero(sat_actions < kk).tolist():  # chosen now
        slot = int(sat_actions[s])
        task, delay = int(cand.index[s, slot]), int(cand.timing.delay_steps[s, slot])
        world.sat_look_task[s] = task
        world.sat_slew_left_s[s] = cand.timing.slew_s[s, slot]
        world.sat_free_k[s] = k + int(cand.timing.busy_steps[s, slot])
        if delay > 0:
            world.sat_scheduled_task[s], world.sat_scheduled_k[s] = task, k + delay
            continue
        off_nadir_deg = float(cand.off_nadir_deg[s, slot])
        imaging[s] = _satellite_image(world, s, task, off_nadir_deg, out, t0_s)
    slew_s = np.minimum(world.sat_slew_left_s, world.step_s)
    world.sat_slew_left_s -= slew_s
    return imaging, slew_s


def _satellite_image(world, s: int, task: int, off_nadir_deg: float, out, t0_s: float) -> bool:
    """Satellite ``s`` images task ``task`` at ``t0_s`` (s) from ``off_nadir_deg``: a packet on
    its queue (False if it does not fit the free storage, and nothing is stored)."""
    altitude_m = world.geom.sat_altitude_m[world.k, s]
    pixel_m = float(gsd_m(world.sat_gsd_nadir_m[s], altitude_m, off_nadir_deg).mean_m)
    valid = None
    window = image_window(world, task, 0.5 * world.sat_swath_m[s])
    if world.sat_cloud_blocked[s]:
        valid = ~world.clouds.cloudy_window(*window)
    obs_variance = float(observation_variance(world.sat_noise_std[s], pixel_m,
                                              world.grid.resolution_m))  # fmt: skip
    bits = float(world.sat_image_bits[s])
    if bits > world.data.free_bits[s]:  # relays filled it while it was turning
        return False
    packet = Packet(
        bits_total=bits,
        bits_left=bits,
        source=int(s),
        task=task,
        t_acq_s=t0_s,
        obs_variance=obs_variance,
        window=window,
        valid=valid,
        weight=_acquisition_weight(world, window, obs_variance, valid, pixel_m),
        gsd_m=pixel_m,
    )
    if world.perception is not None:
        sensor = world.scenario.satellites[world.sat_group_index[s]].sensor
        packet.observation = world.perception.acquire(
            t0_s, window, sensor, altitude_m, off_nadir_deg, valid, int(s)
        )
    _store(world, int(s), packet, out)
    return True


def drones_fly_and_image(
    world, uav_actions: np.ndarray, options: StepOptions, out, t1_s: float
) -> np.ndarray:
    """The drones fly one step (to their chosen task, home, or hover) and image a chosen
    task that lies under their footprint at ``t1_s`` (s), the end of the step. Returns the
    flight energy ``(n_uav,)`` Wh (0 for a drone lost before this step)."""
    n_sat, n_uav, kk = world.n_sat, world.n_uav, world.top_k
    dr = world.drones
    sl = slice(n_sat, n_sat + n_uav)
    goto = uav_actions < kk
    index = options.candidates.index[sl]
    task = np.where(goto, index[np.arange(n_uav), np.minimum(uav_actions, kk - 1)], -1)
    target_xy_m = world.task_xy_or_nan[task]  # task -1 (no GOTO): NaN
    command = world.uav_command_of_action[uav_actions]
    flight = dr.advance(world.step_s, target_xy_m, command)
    over = np.zeros(n_uav, bool)
    if goto.any():
        distance_m = np.hypot(*(dr.position_xy_m[goto] - target_xy_m[goto]).T)
        over[goto] = distance_m <= 0.5 * world.uav_side_m[goto]
    over &= dr.alive & (dr.mode != AT_BASE) & ~flight.forced_return
    for j in over.nonzero()[0]:
        window = image_window(world, int(task[j]), 0.5 * world.uav_side_m[j])
        obs_variance = float(observation_variance(world.uav_noise_std[j], world.uav_gsd_m[j],
                                                  world.grid.resolution_m))  # fmt: skip
        bits = float(world.uav_image_bits[j])
        packet = Packet(
            bits_total=bits,
            bits_left=bits,
            source=n_sat + int(j),
            task=int(task[j]),
            t_acq_s=t1_s,
            obs_variance=obs_variance,
            window=window,
            weight=_acquisition_weight(
                world, window, obs_variance, None, float(world.uav_gsd_m[j])
            ),
            gsd_m=float(world.uav_gsd_m[j]),
        )
        if world.perception is not None:
            group = world.scenario.drones[world.uav_group[j]]
            packet.observation = world.perception.acquire(
                t1_s, window, group.sensor, group.altitude_m, 0.0, None, n_sat + int(j)
            )
        _store(world, n_sat + int(j), packet, out)
    return flight.energy_used_wh
