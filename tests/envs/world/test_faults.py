"""Faults in the world (sagsim.envs.world.faults): every kind does what the scenario says, failed
agents terminate once and never return, lost queues are counted, links route around outages, random
faults follow the seed, and the PettingZoo API tests still pass with faults on."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test

from sagsim import envs
from sagsim.envs.actions import DOWNLINK, IDLE, N_EXTRA, RELAY
from sagsim.envs.scenario.loader import ScenarioError

SHORT = {"duration_s": 6 * 3600.0}


def make(name="minimal", events=(), random=None, **kw):
    faults = {"events": list(events)}
    if random:
        faults["random"] = random
    return envs.parallel_env(name, faults=faults, **{**SHORT, **kw})


def run_episode(env, seed=0, policy=None):
    """Random masked actions (or ``policy(env, obs)``); per step the world's masks and
    fault state before acting, and the step each agent terminated."""
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    steps, terminated = [], {}
    while env.agents:
        w = env.world
        steps.append({"k": w.k, "mask": w.action_mask().copy(), "gs_up": w.gs_alive.copy(),
                      "delivered": w.totals["images_delivered"]})  # fmt: skip
        for a in env.agents:
            assert obs[a]["action_mask"].any(), f"{a}: no legal action at step {w.k}"
        if policy is None:
            acts = {a: int(rng.choice(np.flatnonzero(obs[a]["action_mask"]))) for a in env.agents}
        else:
            acts = policy(env, obs)
        obs, _r, terms, _t, _i = env.step(acts)
        for a, done in terms.items():
            if done:
                assert a not in terminated, f"{a} terminated twice"
                terminated[a] = env.world.k - 1
    return steps, terminated


@pytest.mark.parametrize(("fault", "needle"), [
    ({"kind": "meteor", "t_s": 0}, r"faults\.events\[0\]\.kind"),
    ({"kind": "station_outage", "t_s": 0}, "needs agent"),
    ({"kind": "satellite_failure", "agent": "sat_0", "t_s": 0, "duration_s": 5}, "duration_s"),
    ({"kind": "drone_lost", "agent": "sat_0", "t_s": 0}, "'sat_0' is not allowed"),
    ({"kind": "drone_lost", "agent": "uav_0", "t_s": 0, "noise_factor": 2}, "noise_factor"),
    ({"kind": "sensor_degrade", "agent": "uav_0", "t_s": 0}, "needs noise_factor"),
    ({"kind": "isl_outage", "agent": "sat_0", "t_s": 0}, "takes agents"),
    ({"kind": "drone_lost", "agent": "uav_0", "t_s": -1}, "t_s"),
])  # fmt: skip
def test_bad_faults_are_one_line_errors(fault, needle):
    with pytest.raises(ScenarioError, match=needle) as err:
        make(events=[fault])
    assert "\n" not in str(err.value)


def test_an_agent_the_scenario_does_not_have_is_refused():
    with pytest.raises(ScenarioError, match=r"faults\.events\[0\]\.agent.*uav_0…uav_0"):
        make(events=[{"kind": "drone_lost", "agent": "uav_3", "t_s": 10}])
    with pytest.raises(ScenarioError, match="satellite_mtbf_s"):
        make(random={"satellite_mtbf_s": 1.0})


def hoard(env, obs):
    """Satellites image whenever they can and never downlink; everyone else idles."""
    kk = env.world.top_k
    acts = {}
    for a in env.agents:
        mask = obs[a]["action_mask"]
        slots = np.flatnonzero(mask[:kk])
        acts[a] = int(slots[0]) if a.startswith("sat_") and slots.size else kk + IDLE
    return acts


def test_satellite_failure_terminates_once_and_its_queue_is_lost_and_counted():
    # minimal's satellite passes at ~11,500 s; it fails at 14,000 s holding its images.
    base = make(duration_s=21600.0)
    steps, _ = run_episode(base, policy=hoard)
    held = base.world.data.queues[0]
    images_held = sum(1 for p in held if p.task >= 0)
    assert images_held >= 1  # the scenario really gives it something to lose

    env = make(events=[{"kind": "satellite_failure", "agent": "sat_0", "t_s": 14_000}],
               duration_s=21600.0)  # fmt: skip
    steps, terminated = run_episode(env, policy=hoard)
    w = env.world
    assert terminated["sat_0"] == int(14_000 // w.step_s)  # the step holding t_s
    assert "sat_0" not in env.agents and w.failed[0]
    assert w.totals["images_lost"] == images_held and w.totals["bits_lost"] > 0
    assert w.data.queued_bits[0] == 0
    after = [s for s in steps if s["k"] > terminated["sat_0"]]
    assert after and not any(s["mask"][0].any() for s in after)  # never comes back


def test_drone_lost_stops_it_and_it_never_returns():
    env = make(events=[{"kind": "drone_lost", "agent": "uav_0", "t_s": 600}])
    _, terminated = run_episode(env, seed=3)
    w = env.world
    assert terminated == {"uav_0": 20} and not w.drones.alive[0]
    where = w.drones.position_xy_m[0].copy()
    assert w.drones.n_lost == 1
    assert np.array_equal(where, w.drones.position_xy_m[0])


def test_station_outage_masks_the_station_and_downlinks_route_to_other_stations():
    outage = {"kind": "station_outage", "agent": "gs_0", "t_s": 0, "duration_s": 4 * 3600}
    env = make("flood_wuhan", events=[outage])
    steps, terminated = run_episode(env, seed=2)
    w = env.world
    kk, n = w.top_k, w.n_sat + w.n_uav
    assert not terminated.get("gs_0")  # an outage is not a failure
    down = [s for s in steps if s["k"] * w.step_s < 4 * 3600]
    up = [s for s in steps if s["k"] * w.step_s >= 4 * 3600]
    assert all(not s["gs_up"][0] for s in down) and all(s["gs_up"][0] for s in up)
    for s in down:  # the station can only wait
        assert np.flatnonzero(s["mask"][n]).tolist() == [kk + IDLE]
    assert any(s["mask"][n, kk + DOWNLINK] for s in up)
    # Deliveries went on through the other stations during the outage.
    assert down[-1]["delivered"] > 0


def test_isl_outage_masks_relays_only_in_its_window():
    window = {"kind": "isl_outage", "t_s": 0, "duration_s": 4 * 3600}
    free, _ = run_episode(make("flood_wuhan"), seed=4)
    env = make("flood_wuhan", events=[window])
    steps, _ = run_episode(env, seed=4)
    w = env.world
    relay = w.top_k + RELAY
    inside = lambda s: s["k"] * w.step_s < 4 * 3600  # noqa: E731
    assert any(s["mask"][: w.n_sat, relay].any() for s in free if inside(s))  # can fail
    assert not any(s["mask"][: w.n_sat, relay].any() for s in steps if inside(s))


def test_comm_blackout_cuts_stations_and_drone_links():
    blackout = {"kind": "comm_blackout", "t_s": 1800, "duration_s": 3600}
    env = make("flood_wuhan", events=[blackout])
    steps, _ = run_episode(env, seed=5)
    w = env.world
    kk, n_sat, n_uav = w.top_k, w.n_sat, w.n_uav
    during = [s for s in steps if 1800 <= s["k"] * w.step_s < 5400]
    assert during
    for s in during:
        assert not s["gs_up"].any()
        assert not s["mask"][n_sat : n_sat + n_uav, [kk + DOWNLINK, kk + RELAY]].any()
        assert not s["mask"][:n_sat, kk + DOWNLINK].any()
    assert any(s["gs_up"].all() for s in steps if s["k"] * w.step_s >= 5400)


def test_sensor_degrade_raises_noise_and_sticks_pixels_in_imagery():
    degrade = {"kind": "sensor_degrade", "agent": "sat_0", "t_s": 60, "noise_factor": 4,
               "stuck_fraction": 0.5}  # fmt: skip
    env = make(events=[degrade], perception="imagery")
    env.reset(seed=0)
    w = env.world
    std0 = float(w.sat_noise_std[0])
    idle = {a: w.top_k + IDLE for a in env.agents}
    env.step(idle)  # t 0–30 s
    assert w.sat_noise_std[0] == std0
    env.step(idle)  # t 30–60 s
    env.step(idle)  # t 60–90 s: the fault's step
    assert w.sat_noise_std[0] == pytest.approx(4 * std0)
    sensor = w.scenario.satellites[0].sensor
    obs = w.perception.acquire(90.0, (0, 40, 0, 40), sensor, 500e3, 0.0, None, 0)
    stuck = (obs.values[:, obs.valid] == 0.0).all(axis=0).mean()
    assert 0.35 < stuck < 0.65
    env.reset(seed=0)  # a new episode starts healthy
    assert w.sat_noise_std[0] == std0
    clean = w.perception.acquire(90.0, (0, 40, 0, 40), sensor, 500e3, 0.0, None, 0)
    assert (clean.values[:, clean.valid] == 0.0).all(axis=0).mean() < 0.01


def test_random_faults_follow_the_seed_and_leave_the_rest_of_the_world_alone():
    rates = {"satellite_mtbf_s": 20_000, "drone_mtbf_s": 5_000, "station_mtbf_s": 7_200,
             "station_mttr_s": 1_800}  # fmt: skip
    env = make("flood_wuhan", random=rates)
    plain = make("flood_wuhan")
    w = env.world
    env.reset(seed=11)
    first = w.faults.summary()
    env.reset(seed=11)
    assert w.faults.summary() == first
    env.reset(seed=12)
    assert w.faults.summary() != first
    plain.reset(seed=11)
    env.reset(seed=11)
    assert np.array_equal(plain.world.clouds.z, w.clouds.z)  # same draws elsewhere
    # Station outages do not overlap per station and lie inside the episode.
    for g in range(w.n_gs):
        rows = sorted(r for r in first["station_outages"] if r[2] == g)
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(rows))
        assert all(0 < r[0] < SHORT["duration_s"] for r in rows)
    # The mean time to failure is the rate's (exponential draws over many episodes).
    times = []
    for seed in range(60):
        env.reset(seed=seed)
        times += list(w.faults.fail_s[: w.n_sat])
    assert np.mean(times) == pytest.approx(20_000, rel=0.15)
    fixed = make("flood_wuhan", random={**rates, "redraw": "scenario"})
    fixed.reset(seed=1)
    once = fixed.world.faults.summary()
    fixed.reset(seed=2)
    assert fixed.world.faults.summary() == once


FAULTY = [
    {"kind": "satellite_failure", "agent": "sat_0", "t_s": 300},
    {"kind": "drone_lost", "agent": "uav_0", "t_s": 450},
    {"kind": "station_outage", "agent": "gs_0", "t_s": 0, "duration_s": 600},
    {"kind": "sensor_degrade", "agent": "uav_0", "t_s": 30, "noise_factor": 2},
    {"kind": "comm_blackout", "t_s": 600, "duration_s": 120},
]


@pytest.mark.parametrize("name", ["minimal", "flood_wuhan"])
def test_pettingzoo_api_tests_pass_with_faults_on(name):
    events = FAULTY + ([{"kind": "isl_outage", "t_s": 0, "duration_s": 300}]
                       if name == "flood_wuhan" else [])  # fmt: skip
    env = make(name, events=events, random={"drone_mtbf_s": 600}, duration_s=1800.0)
    parallel_api_test(env, num_cycles=40)
    _, terminated = run_episode(env, seed=1)
    assert {"sat_0", "uav_0"} <= set(terminated)
    assert env.world.failed[: env.world.n_sat + env.world.n_uav].sum() >= 2


def test_faults_off_costs_nothing_and_changes_nothing():
    env = make()
    assert env.world.faults is None and env.world.fault_state is None
    assert N_EXTRA == 4
