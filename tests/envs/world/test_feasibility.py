"""What the step's options say an image would be worth: the footprint value of a candidate is
the reward value of taking that image and having it arrive now."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from sagsim.agents.baselines import GreedyPolicy, RandomPolicy
from sagsim.envs.observations import Own, own_index
from sagsim.envs.reward import image_value
from sagsim.envs.sag_env import SagEnv
from sagsim.envs.world.feasibility import image_timing
from sagsim.envs.world.imaging import image_window
from sagsim.fusion.kalman import observation_variance

# Both sides sum the same float64 terms in a different order.
VALUE_RTOL = 1e-9


def _world_after(steps: int, scenario="minimal"):
    """``scenario``'s world after ``steps`` greedy steps, so that parts of the map are seen."""
    env = SagEnv(scenario, max_cycles=steps + 1)
    obs, _ = env.reset(seed=3)
    policy = GreedyPolicy()
    for _ in range(steps):
        obs, *_ = env.step(policy.act(obs))
    return env.world


def _value_of_imaging(world, window, obs_variance, valid=None, gsd_m=0.0) -> float:
    """The reward value of an image of ``window`` (GSD ``gsd_m``) fused now, on a copy of
    the map."""
    maps = copy.deepcopy(world.fusion)
    reduction = maps.update_window(*window, obs_variance, maps.t_s, valid, gsd_m)
    value, _ = image_value(window, reduction, world.tasks,
                           world.access.samples_inside(world.k),
                           maps.prior_variance, maps.sample_level)  # fmt: skip
    return value


@pytest.mark.parametrize("steps", [0, 300])
def test_a_satellite_candidate_is_worth_what_imaging_it_would_add(steps):
    world = _world_after(steps)
    options = world.options()
    r = float(observation_variance(world.sat_noise_std[0], world.sat_gsd_nadir_m[0],
                                   world.grid.resolution_m))  # fmt: skip
    seen = 0
    for task in range(world.tasks.n):
        window = image_window(world, task, 0.5 * world.sat_swath_m[0])
        value = options.sat_footprint_value[0, task]
        assert value == pytest.approx(_value_of_imaging(world, window, r), rel=VALUE_RTOL)
        # The part under cloud is the part an optical image loses.
        clear = ~world.clouds.cloudy_window(*window)
        kept = value * (1.0 - options.sat_footprint_cloud[0, task])
        assert kept == pytest.approx(_value_of_imaging(world, window, r, clear),
                                     rel=VALUE_RTOL, abs=1e-12)  # fmt: skip
        seen += value > 0
    assert seen >= 3  # the comparison is not between zeros


@pytest.mark.parametrize("overlap", [False, True])
def test_a_drone_candidate_is_worth_what_its_footprint_would_add(overlap, minimal_dict):
    if overlap:  # a second, small target beside the first: one footprint sees both
        first = minimal_dict["targets"]["points"][0]
        minimal_dict["targets"]["points"].append(
            {"name": "beside", "lat_deg": first["lat_deg"] + 0.0005,
             "lon_deg": first["lon_deg"], "radius_m": 150, "priority": 3}
        )  # fmt: skip
    world = _world_after(0 if overlap else 300, minimal_dict)  # overlap: on an unseen map
    options = world.options()
    r = observation_variance(world.uav_noise_std, world.uav_gsd_m, world.grid.resolution_m)
    values = []
    for d in range(world.n_uav):
        for task in range(world.tasks.n):
            window = image_window(world, task, 0.5 * world.uav_side_m[d])
            expected = _value_of_imaging(world, window, float(r[d]))
            assert options.uav_footprint_value[d, task] == pytest.approx(expected, rel=1e-9,
                                                                         abs=1e-12)  # fmt: skip
            values.append(expected)
    assert np.count_nonzero(values) >= 3
    if overlap:  # the first target's image is worth more than its own disc's part of it
        own = world.tasks.sample_task == 0
        r0, r1, c0, c1 = image_window(world, 0, 0.5 * world.uav_side_m[0])
        rows, cols = world.tasks.sample_row, world.tasks.sample_col
        under = (rows >= r0) & (rows < r1) & (cols >= c0) & (cols < c1)
        assert (under & ~own).any() and (under & own).any()


def test_satellite_slots_are_ranked_by_what_their_scene_would_add():
    # flood_wuhan: a pass offers a satellite several feasible candidates within ~300 steps.
    env = SagEnv("flood_wuhan", max_cycles=1500)
    obs, _ = env.reset(seed=0)
    policy, world, checked = RandomPolicy(0), env.world, 0
    while env.agents and checked < 3:
        options = world.options()
        cand = options.candidates
        for s in range(world.n_sat):
            feasible = cand.mask[s, : world.top_k] & (cand.index[s] >= 0)
            tasks = cand.index[s][feasible]
            if tasks.size < 2:
                continue
            clear = 1.0 - options.sat_footprint_cloud[s, tasks] * world.sat_cloud_blocked[s]
            worth = options.sat_footprint_value[s, tasks] * clear
            assert np.all(np.diff(worth) <= 1e-12), worth
            checked += 1
        obs, *_ = env.step(policy.act(obs))
    assert checked >= 3


def _satellite_env(minimal_dict, slew_rate_deg_s, settle_s, until):
    """minimal with the satellite's agility changed, stepped (idle) until ``until(env, obs)``."""
    minimal_dict["satellites"][0].update(slew_rate_deg_s=slew_rate_deg_s, settle_s=settle_s)
    env = SagEnv(minimal_dict)
    obs, _ = env.reset(seed=0)
    idle = env.world.top_k + 3
    while env.agents and not until(env, obs):
        obs, *_ = env.step({a: idle for a in env.agents})
    assert env.agents, "the satellite's pass came"
    return env, obs


def test_an_image_is_taken_when_the_retarget_and_settling_end_and_the_scan_keeps_it_busy(
    minimal_dict,
):
    # From nadir the retarget is the task's off-nadir angle (the access table's, tested
    # against skyfield); the image is taken in the step in which retarget + settle end, and
    # the satellite is busy until the scan ends too.
    def in_view(env, obs):
        return env.world.access.satellites(env.world.k)[1][0].any()

    env, _ = _satellite_env(minimal_dict, 0.5, 10.0, in_view)
    world, k = env.world, env.world.k
    off_nadir_deg, access = world.access.satellites(k)
    timing = image_timing(world, np.array([0]), k)
    seen = np.flatnonzero(access[0])
    assert seen.size
    expected_slew = off_nadir_deg[0, seen] / 0.5
    np.testing.assert_allclose(timing.slew_s[0, seen], expected_slew, rtol=1e-6)
    ready_s = expected_slew + 10.0
    assert timing.delay_steps[0, seen].tolist() == (ready_s // world.step_s).astype(int).tolist()
    busy = np.ceil((ready_s + world.sat_scan_s[0]) / world.step_s).astype(int)
    assert timing.busy_steps[0, seen].tolist() == busy.tolist()
    assert (timing.delay_steps[0, seen] > 0).any()  # the slow satellite needs more than a step


def test_a_satellite_is_busy_until_its_image_is_taken_then_tracks_it(minimal_dict):
    def delayed_image_offered(env, obs):
        cand = env.world.options().candidates
        return (cand.mask[0, : env.world.top_k] & (cand.timing.delay_steps[0] > 0)).any()

    # 1°/s and 20 s of settling: beyond ~10° off nadir the image is taken a step later.
    env, obs = _satellite_env(minimal_dict, 1.0, 20.0, delayed_image_offered)
    world, kk = env.world, env.world.top_k
    cand = world.options().candidates
    slots = np.flatnonzero(cand.mask[0, :kk] & (cand.timing.delay_steps[0] > 0))
    slot = int(slots[0])
    task, delay = int(cand.index[0, slot]), int(cand.timing.delay_steps[0, slot])
    busy = int(cand.timing.busy_steps[0, slot])
    assert busy > delay
    acquired0, k0 = world.totals["images_acquired"], world.k
    obs, *_ = env.step({"sat_0": slot})
    for _ in range(delay - 1):  # turning: only IDLE, nothing taken yet
        assert obs["sat_0"]["action_mask"].tolist() == [False] * (kk + 3) + [True]
        assert obs["sat_0"]["observation"][own_index(Own.BUSY)] > 0
        assert world.totals["images_acquired"] == acquired0
        obs, *_ = env.step({"sat_0": kk + 3})
    obs, *_ = env.step({"sat_0": kk + 3})  # the step in which the retarget ends: taken
    assert world.totals["images_acquired"] == acquired0 + 1
    packet = world.data.queues[0][-1]
    assert packet.task == task and packet.t_acq_s == (k0 + delay) * world.step_s
    while world.k < k0 + busy:  # scanning: still busy
        assert obs["sat_0"]["action_mask"].tolist() == [False] * (kk + 3) + [True]
        obs, *_ = env.step({"sat_0": kk + 3})
    assert obs["sat_0"]["observation"][own_index(Own.BUSY)] == 0.0
    assert world.sat_look_task[0] == task  # it tracks what it imaged: no retarget to it again
    again = image_timing(world, np.array([0]), world.k)
    assert again.slew_s[0, task] == 0.0 and again.delay_steps[0, task] == 0


def test_a_target_that_needs_finer_pixels_than_a_satellite_has_is_worth_nothing_to_it(
    minimal_dict,
):
    # The bridge needs 0.5 m pixels: minimal's satellite (3 m at nadir) adds nothing to it,
    # its drone does; fusing says so, and the candidates' values are what fusing adds.
    minimal_dict["targets"]["points"][0]["max_gsd_m"] = 0.5
    world = _world_after(300, minimal_dict)
    options = world.options()
    bridge = world.tasks.sample_task == 0
    assert world.fusion.n_level == 2 and (world.fusion.sample_level[bridge] == 0).all()
    assert (world.fusion.sample_level[~bridge] == 1).all()
    r_sat = float(observation_variance(world.sat_noise_std[0], world.sat_gsd_nadir_m[0],
                                       world.grid.resolution_m))  # fmt: skip
    sat_gsd_m = float(world.sat_gsd_nadir_m[0])
    window = image_window(world, 0, 0.5 * world.sat_swath_m[0])
    maps = copy.deepcopy(world.fusion)
    before = maps.sample_variance()
    maps.update_window(*window, r_sat, maps.t_s, None, sat_gsd_m)
    after_sat = maps.sample_variance()
    np.testing.assert_array_equal(after_sat[bridge], before[bridge])  # not informed
    assert (after_sat[~bridge] < before[~bridge]).any()  # the rest of the scene is
    maps.update_window(*window, r_sat, maps.t_s, None, 0.1)
    assert (maps.sample_variance()[bridge] < before[bridge]).all()
    # The satellite's candidate value of the bridge's scene counts none of the bridge.
    assert options.sat_footprint_value[0, 0] == pytest.approx(
        _value_of_imaging(world, window, r_sat, gsd_m=sat_gsd_m), rel=VALUE_RTOL, abs=1e-12
    )
    # A drone's image of the bridge is worth what fusing it adds, the bridge included.
    r_uav = float(observation_variance(world.uav_noise_std[0], world.uav_gsd_m[0],
                                       world.grid.resolution_m))  # fmt: skip
    uav_window = image_window(world, 0, 0.5 * world.uav_side_m[0])
    expected = _value_of_imaging(world, uav_window, r_uav, gsd_m=float(world.uav_gsd_m[0]))
    assert options.uav_footprint_value[0, 0] == pytest.approx(expected, rel=1e-9, abs=1e-12)
    # ... more than the same image would be worth if it were too coarse for the bridge.
    assert expected > _value_of_imaging(world, uav_window, r_uav, gsd_m=sat_gsd_m)
