"""What the state at the start of a step offers each agent: its feasible actions, its top-K
candidates (:mod:`sagsim.envs.actions`), and what computing them measured on the way (the
task variance ratios, contacts and links in reach), all in one :class:`StepOptions`.

:func:`step_options` reads the world and writes nothing; the world keeps the result for
the step (:meth:`sagsim.envs.world.world.World.options`), and the step, the observations
and the policies read that one object.
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
    ImageTiming,
    top_k,
)
from sagsim.envs.physics.links import isl_feasibility_matrix
from sagsim.envs.physics.sensor_geometry import angle_between_deg, gsd_m, look_direction
from sagsim.envs.platforms import AT_BASE
from sagsim.envs.reward import (
    expected_reduction,
    footprint_value,
    mean_variance_ratio,
    sample_weights,
)
from sagsim.fusion.kalman import observation_variance

__all__ = ["RETARGET_MIN_DEG", "StepOptions", "footprint_values", "ground_link", "image_timing",
           "in_view_when_taken", "level_values", "receiver_distance2_m2", "sat_informs",
           "step_options", "task_variance_ratio", "uav_footprint_values",
           "uav_variance_ratio"]  # fmt: skip

# Below this angle a satellite is still looking at the same place: tracking, no retarget (and
# no settling). Far below any GSD's angle (1 m at 500 km is 1e-4°).
RETARGET_MIN_DEG = 1e-6


@dataclass(eq=False)
class StepOptions:
    """What one step's starting state offers. ``candidates``: each agent's top-K slots,
    the action mask and the satellites' pointing angles; ``task_variance_ratio``
    ``(n_task,)``: mean variance / prior over each task's disc at the fusion centre;
    ``uav_variance_ratio`` ``(n_uav, n_task)``: the same over the part of the disc each
    drone's footprint covers; ``sat_footprint_value`` ``(n_sat, n_task)``: what each
    satellite's image of each task would be worth if it arrived now, cloud ignored, and
    ``sat_footprint_cloud`` ``(n_sat, n_task)`` the share of that value under cloud
    (:func:`footprint_values`); ``uav_footprint_value`` ``(n_uav, n_task)``: the same value
    for each drone's image; ``sat_in_contact`` ``(n_sat,)``: a live station in view;
    ``uav_ground_link`` ``(n_uav,)``: base or a live station within link range;
    ``isl_reach`` ``(n_sat, n_sat)`` and ``uav_reach`` ``(n_uav, n_uav)``: who each can
    relay to now (None when relays are off or there is no one to relay to)."""

    candidates: Candidates
    task_variance_ratio: np.ndarray
    uav_variance_ratio: np.ndarray
    sat_in_contact: np.ndarray
    uav_ground_link: np.ndarray
    sat_footprint_value: np.ndarray
    sat_footprint_cloud: np.ndarray
    uav_footprint_value: np.ndarray
    isl_reach: np.ndarray | None = None
    uav_reach: np.ndarray | None = None


def _sample_variance(world) -> np.ndarray:
    """The fusion centre's variance at every task sample cell, on its task's resolution
    level, ``(n_sample,)``."""
    return world.fusion.sample_variance()


def level_values(cover: np.ndarray, weighted: np.ndarray, sample_level: np.ndarray,
                 n_level: int) -> np.ndarray:  # fmt: skip
    """``(n_level, n_task)``: :func:`sagsim.envs.reward.footprint_value` of each task's scene
    over the samples of each resolution level alone (``weighted`` ``(n_sample,)``; their sum
    over the levels an image informs is its value)."""
    if n_level == 1:
        return footprint_value(cover, weighted)[None, :]
    by_level = weighted[:, None] * (sample_level[:, None] == np.arange(n_level))
    return footprint_value(cover, by_level).T  # one product for every level


def sat_informs(world, off_nadir_deg: np.ndarray) -> np.ndarray:
    """``(n_sat, n_task, n_level)`` bool: whether each satellite's image of each task, at its
    GSD from ``off_nadir_deg`` ``(n_sat, n_task)`` now, is fine enough for each resolution
    level (:class:`sagsim.envs.world.resolution_maps.ResolutionMaps`); False where the task
    is out of its view (NaN angle)."""
    altitude_m = world.geom.sat_altitude_m[world.k][:, None]
    with np.errstate(invalid="ignore"):
        pixel_m = gsd_m(world.sat_gsd_nadir_m[:, None], altitude_m, off_nadir_deg).mean_m
    informs = world.fusion.informs(np.where(np.isfinite(pixel_m), pixel_m, np.inf))
    return informs & np.isfinite(pixel_m)[..., None]


def task_variance_ratio(world, sample_variance: np.ndarray | None = None) -> np.ndarray:
    """Mean current variance over each task's disc / prior variance, ``(n_task,)`` (1 for a
    task not yet active). ``sample_variance``: the map at the task samples, if at hand."""
    if sample_variance is None:
        sample_variance = _sample_variance(world)
    return mean_variance_ratio(sample_variance, *world.access.samples_inside(world.k),
                               world.tasks.sample_task, world.fusion.prior_variance)  # fmt: skip


def uav_variance_ratio(world, sample_variance: np.ndarray | None = None) -> np.ndarray:
    """``(n_uav, n_task)``: mean current variance / prior over the part of each task's
    disc that a drone's image (its footprint square on the task centre) covers; 1 where
    it covers no sample cell."""
    if sample_variance is None:
        sample_variance = _sample_variance(world)
    out = np.ones((world.n_uav, world.tasks.n))
    for drones, weights, inv_count, none in world.access.drone_views(world.k):
        out[drones] = mean_variance_ratio(sample_variance, weights, inv_count, none,
                                          world.tasks.sample_task,
                                          world.fusion.prior_variance)  # fmt: skip
    return out


def _row_groups(*columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of the columns ``(n,)`` each, as ``(n_distinct, n_column)``, and
    each row's index into them ``(n,)``.

    Each column is coded on its own by a 1-D :func:`numpy.unique` and the codes combined
    into one integer, instead of ``np.unique(..., axis=0)``: that one compares the rows as
    structured arrays, which runs Python code inside numpy, and a ``KeyboardInterrupt``
    raised there by the stop-signal handler (:func:`sagsim.cli.stop_on_signals`) came out
    as a ``TypeError`` (``train.py`` stopped by SIGTERM crashed instead of saving)."""
    key = np.zeros(len(columns[0]), dtype=np.int64)
    for column in columns:
        values, code = np.unique(column, return_inverse=True)
        key = key * len(values) + code.reshape(-1)
    _, first, group = np.unique(key, return_index=True, return_inverse=True)
    return np.column_stack(columns)[first], group.reshape(-1)


def footprint_values(world, sample_variance: np.ndarray,
                     off_nadir_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """``(n_sat, n_task)`` twice: what each satellite's image of each task would be worth if
    it arrived now (:func:`sagsim.envs.reward.footprint_value` over its whole scene, cloud
    ignored, on the resolution levels its GSD from ``off_nadir_deg`` ``(n_sat, n_task)``
    informs: :func:`sat_informs`), and the share of that value under cloud now (the cloud
    at the task's centre where the scene holds no value).

    The noise is the sensor's at nadir (the image's own is its off-nadir GSD's: a small
    difference next to the prior variance); satellites of one swath and noise share one
    product of the swath's cover matrix per level."""
    n_task = world.tasks.n
    if world.n_sat == 0:
        return np.zeros((0, n_task)), np.zeros((0, n_task))
    weights = sample_weights(world.tasks, world.access.samples_inside(world.k),
                             world.fusion.prior_variance)  # fmt: skip
    cloudy = world.clouds.cloudy_coarse.take(world.sample_cloud_cell)
    centre_cloudy = world.clouds.cloudy_coarse.take(world.task_cloud_cell).astype(float)
    obs_variance = observation_variance(world.sat_noise_std, world.sat_gsd_nadir_m,
                                        world.grid.resolution_m)  # fmt: skip
    unique, group = _row_groups(world.sat_swath_group, obs_variance)
    maps = world.fusion
    level, n_level = maps.sample_level, maps.n_level
    value_l = np.empty((len(unique), n_level, n_task))
    under_l = np.empty((len(unique), n_level, n_task))
    by_level = level[:, None] == np.arange(n_level)  # (n_sample, n_level)
    for g, (swath_group, r) in enumerate(unique):
        cover = world.swath_cover[int(swath_group)]
        weighted = (weights * expected_reduction(sample_variance, r))[:, None] * by_level
        # Clear and clouded parts, every level, in one product with the cover matrix.
        both = footprint_value(cover, np.concatenate([weighted, weighted * cloudy[:, None]],
                                                     axis=1))  # fmt: skip
        value_l[g], under_l[g] = both[:, :n_level].T, both[:, n_level:].T
    if n_level == 1:
        value, under = value_l[group, 0], under_l[group, 0]
    else:
        informs = sat_informs(world, off_nadir_deg).transpose(0, 2, 1)  # (n_sat, n_level, n_task)
        value = (value_l[group] * informs).sum(axis=1)
        under = (under_l[group] * informs).sum(axis=1)
    cloud = np.where(value > 0, under / np.maximum(value, 1e-300), centre_cloudy[None, :])
    return value, cloud


def uav_footprint_values(world, sample_variance: np.ndarray) -> np.ndarray:
    """``(n_uav, n_task)``: what each drone's image of each task (its footprint square on
    the task's centre) would be worth if it arrived now, over its whole scene like a
    satellite's, on the resolution levels its GSD informs (drones fly below the cloud).
    Drones of one footprint, noise and GSD share one product of the footprint's cover
    matrix."""
    n_task = world.tasks.n
    if world.n_uav == 0:
        return np.zeros((0, n_task))
    weights = sample_weights(world.tasks, world.access.samples_inside(world.k),
                             world.fusion.prior_variance)  # fmt: skip
    obs_variance = observation_variance(world.uav_noise_std, world.uav_gsd_m,
                                        world.grid.resolution_m)  # fmt: skip
    unique, group = _row_groups(world.uav_side_group, obs_variance, world.uav_gsd_m)
    maps = world.fusion
    value = np.empty((len(unique), n_task))
    for g, (side_group, r, pixel_m) in enumerate(unique):
        cover = world.uav_side_cover[int(side_group)]
        weighted = weights * expected_reduction(sample_variance, r)
        # Only the samples of the levels its GSD informs count.
        value[g] = footprint_value(cover, weighted * maps.informs(pixel_m)[maps.sample_level])
    return value[group]


def image_timing(world, sats: np.ndarray, k: int) -> ImageTiming:
    """When satellites ``sats`` (int, ``(m,)``) would take an image of each task started at
    step ``k`` (:class:`ImageTiming`).

    A satellite looks at the task it imaged last (it tracks it), or at its geodetic nadir.
    The retarget turns it through the angle between that look direction and the task's
    (both from its position at step ``k``) at ``slew_rate_deg_s``; it then settles for
    ``settle_s`` and the image is taken in the step in which that ends. The scan (the
    scene's length, its swath, at the ground-track speed: ``World.sat_scan_s``) keeps it
    busy after that.

    Simplified model: rest-to-rest at a constant mean rate (agile imagers quote a retarget
    as a time for an angle), the angle from the positions at the start, the image at the
    start of the step in which the retarget ends, the scan as one pass over the scene."""
    tasks, fleet = world.tasks, world.sats
    r_sat = world.geom.sat_r_ecef_m[k, sats]  # (m, 3)
    to_task = look_direction(r_sat[:, None, :], tasks.r_ecef_m[None, :, :])  # (m, n_task, 3)
    looking = world.sat_look_task[sats]
    at_task = look_direction(r_sat, tasks.r_ecef_m[np.maximum(looking, 0)])
    now = np.where((looking >= 0)[:, None], at_task, world.geom.sat_nadir[k, sats])
    angle_deg = angle_between_deg(now[:, None, :], to_task)
    slew_s = angle_deg / fleet.slew_rate_deg_s[sats, None]
    ready_s = slew_s + fleet.settle_s[sats, None] * (angle_deg > RETARGET_MIN_DEG)
    busy_s = ready_s + world.sat_scan_s[sats, None]
    return ImageTiming(
        delay_steps=np.floor(ready_s / world.step_s + 1e-9).astype(np.int64),
        busy_steps=np.maximum(1, np.ceil(busy_s / world.step_s - 1e-9)).astype(np.int64),
        slew_s=slew_s,
    )


def in_view_when_taken(world, feasible: np.ndarray, k: int) -> tuple[np.ndarray, ImageTiming]:
    """``feasible`` ``(n_sat, n_task)`` bool (images that could start at step ``k``) less
    those whose image, taken when the retarget ends (:func:`image_timing`), would find the
    task out of view (or the episode over) then; with the timing ``(n_sat, n_task)`` (taken
    now, busy one step, no slew where no image could start)."""
    n_sat, n_task = feasible.shape
    timing = ImageTiming(np.zeros((n_sat, n_task), np.int64),
                         np.ones((n_sat, n_task), np.int64), np.zeros((n_sat, n_task)))  # fmt: skip
    rows = np.flatnonzero(feasible.any(axis=1))
    out = feasible.copy()
    if rows.size == 0:
        return out, timing
    some = image_timing(world, rows, k)
    timing.delay_steps[rows], timing.busy_steps[rows] = some.delay_steps, some.busy_steps
    timing.slew_s[rows] = some.slew_s
    taken_k = k + some.delay_steps
    ok = taken_k < world.n_steps
    for c in np.unique(taken_k[ok & feasible[rows]]).tolist():
        if c > k:
            ok &= (taken_k != c) | world.access.satellites(c)[1][rows]
    out[rows] &= ok
    return out, timing


def receiver_distance2_m2(world, xy: np.ndarray) -> np.ndarray:
    """``(n_uav, 1 + n_gs)`` squared slant distance (m²) from drones at ``xy`` (their
    flight altitude above each receiver) to their base (column 0) and each station; +inf
    for a station that is down."""
    rx = world.uav_receivers_xy_m  # (n_uav, 1 + n_gs, 2): base, then stations
    d2 = ((xy[:, None, :] - rx) ** 2).sum(axis=2) + world.drones.altitude_m[:, None] ** 2
    d2[:, 1:] += np.where(world.gs_alive, 0.0, np.inf)
    if world.fault_state is not None and not world.fault_state.air_up:
        d2[:] = np.inf  # a communication blackout: no drone reaches the ground
    return d2


def ground_link(world, xy: np.ndarray) -> np.ndarray:
    """``(n_uav,)`` bool: a drone at ``xy`` can reach its base or a live station
    (slant range ≤ ``max_range_m``)."""
    return receiver_distance2_m2(world, xy).min(axis=1) <= world.air.max_range_m**2


def step_options(world) -> StepOptions:
    """What the world's current state offers (see :class:`StepOptions`)."""
    n_sat, n_uav, kk = world.n_sat, world.n_uav, world.top_k
    tasks, g, k = world.tasks, world.geom, world.k
    alive = ~world.failed
    mask = np.zeros((world.n_agents, kk + N_EXTRA), bool)
    index = np.full((world.n_agents, kk), -1, np.int64)
    active = tasks.active(world.t_s)
    sample_variance = _sample_variance(world)
    ratio = task_variance_ratio(world, sample_variance)
    off_nadir_deg, access = world.access.satellites(k)
    fp_value, fp_cloud = footprint_values(world, sample_variance, off_nadir_deg)
    queued = world.data.queued_bits > 0
    # A relay moves only the team's images (other customers' data stay on their satellite).
    team_queued = world.data.team_bits > 0
    free_bits = world.data.free_bits

    uav_link = np.zeros(n_uav, bool)
    uav_ratio = np.ones((n_uav, tasks.n))
    uav_fp_value = np.zeros((n_uav, tasks.n))
    isl_reach = uav_reach = None
    # Satellites. One still busy with an image (retargeting, settling, scanning) can only
    # wait for it; one whose imaging seconds of this orbit are spent cannot image.
    s_alive = alive[:n_sat]
    free = world.sat_free_k <= k
    can_op = world.sats.can_operate & s_alive
    duty_ok = world.duty.allows(k, world.sat_scan_s)
    feas = access & (can_op & free & duty_ok
                     & (free_bits[:n_sat] >= world.sat_image_bits))[:, None]  # fmt: skip
    feas, timing = in_view_when_taken(world, feas, k)
    # A candidate is worth what its whole scene would add, less what clouds would hide
    # from a sensor they block.
    clear = np.where(world.sat_cloud_blocked[:, None], 1.0 - fp_cloud, 1.0)
    sat_value = np.where(active[None, :], fp_value * clear, -np.inf)
    score = feas * 1e6 + sat_value * 1e2 - off_nadir_deg * 1e-3
    cand = top_k(score, kk)
    index[:n_sat] = cand
    rows, safe, has = np.arange(n_sat)[:, None], np.maximum(cand, 0), cand >= 0
    mask[:n_sat, :kk] = feas[rows, safe] & has
    candidate_off_nadir_deg = off_nadir_deg[rows, safe] * has
    candidate_timing = ImageTiming(timing.delay_steps[rows, safe] * has,
                                   np.where(has, timing.busy_steps[rows, safe], 1),
                                   timing.slew_s[rows, safe] * has)  # fmt: skip
    in_contact = (g.gs_visible[k] & world.gs_alive[None, :]).any(axis=1) & s_alive
    s_q = queued[:n_sat] & free
    mask[:n_sat, kk + DOWNLINK] = can_op & s_q & in_contact
    if world.isl.enabled and n_sat > 1:
        reach = isl_feasibility_matrix(g.sat_r_ecef_m[k], world.isl.max_range_m,
                                       world.isl.grazing_altitude_m)  # fmt: skip
        np.fill_diagonal(reach, False)
        if world.fault_state is not None:  # ISL outages (sagsim.envs.world.faults)
            up = world.fault_state.isl_up
            reach &= up[:, None] & up[None, :]
        isl_reach = reach & (in_contact & free & (free_bits[:n_sat] > 0))[None, :]
        mask[:n_sat, kk + RELAY] = can_op & team_queued[:n_sat] & free & isl_reach.any(axis=1)
    mask[:n_sat, kk + IDLE] = s_alive

    # Drones.
    if n_uav:
        sl = slice(n_sat, n_sat + n_uav)
        dr, u_alive = world.drones, alive[sl]
        position_xy_m = dr.position_xy_m
        task_distance_m = np.hypot(
            *(
                tasks.x_m[None, :] - position_xy_m[:, 0:1],
                tasks.y_m[None, :] - position_xy_m[:, 1:2],
            )
        )
        # Out, back to base and the reserve must fit the cruise energy in the battery.
        reach = (task_distance_m + world.uav_task_home_m) * dr.return_wh_per_m[:, None] <= (
            dr.battery_wh[:, None]
        )
        ok = u_alive & ~dr.forced_return & (free_bits[sl] >= world.uav_image_bits)
        feas = reach & world.access.drones(k) & ok[:, None]
        # A drone's value: what its small footprint would still add at each task.
        uav_ratio = uav_variance_ratio(world, sample_variance)
        uav_fp_value = uav_footprint_values(world, sample_variance)
        uav_value = np.where(active, tasks.priority * uav_ratio, -np.inf)
        score = feas * 1e6 + uav_value * 1e2 / (1.0 + task_distance_m / DRONE_DISTANCE_SCALE_M)
        cand = top_k(score, kk)
        index[sl] = cand
        mask[sl, :kk] = feas[np.arange(n_uav)[:, None], np.maximum(cand, 0)] & (cand >= 0)
        link = ground_link(world, position_xy_m) & u_alive
        uav_link = link
        u_q = queued[sl] & u_alive
        mask[sl, kk + DOWNLINK] = u_q & link
        if world.air.relay_enabled and n_uav > 1:
            uav_distance_m = np.hypot(
                *(position_xy_m[:, None, :] - position_xy_m[None, :, :]).transpose(2, 0, 1)
            )
            near = (uav_distance_m <= world.air.max_range_m) & ~np.eye(n_uav, dtype=bool)
            if world.fault_state is not None and not world.fault_state.air_up:
                near[:] = False  # a communication blackout
            uav_reach = near & (link & (free_bits[sl] > 0))[None, :]
            mask[sl, kk + RELAY] = team_queued[sl] & u_alive & uav_reach.any(axis=1)
        mask[sl, kk + RETURN] = u_alive & (dr.mode != AT_BASE)
        mask[sl, kk + IDLE] = u_alive

    # Stations: satellites in view holding data, the team's queued bits first.
    gsl = slice(n_sat + n_uav, world.n_agents)
    view = g.gs_visible[k].T & (s_alive & s_q)[None, :]  # (n_gs, n_sat)
    if view.any():  # otherwise every slot stays empty (-1)
        first = world.data.downlink_priority()[None, :n_sat]
        index[gsl] = cand = top_k(np.where(view, first, -np.inf), kk)
    cand = index[gsl]
    g_alive = alive[gsl] & world.gs_alive
    mask[gsl, :kk] = (cand >= 0) & g_alive[:, None]
    mask[gsl, kk + DOWNLINK] = g_alive
    mask[gsl, kk + IDLE] = alive[gsl]  # a station in an outage can only wait
    return StepOptions(
        candidates=Candidates(
            index=index,
            mask=mask,
            off_nadir_deg=candidate_off_nadir_deg,
            timing=candidate_timing,
        ),
        task_variance_ratio=ratio,
        uav_variance_ratio=uav_ratio,
        sat_footprint_value=fp_value,
        sat_footprint_cloud=fp_cloud,
        uav_footprint_value=uav_fp_value,
        sat_in_contact=in_contact,
        uav_ground_link=uav_link,
        isl_reach=isl_reach,
        uav_reach=uav_reach,
    )
