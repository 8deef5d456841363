"""The imagery perception mode: real images reach a fuser whose map is scored against the
ground truth; the RL interface and the random draws are the same as in variance_only."""

import math

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test

from sagsim.agents.baselines import GreedyPolicy
from sagsim.envs.sag_env import SagEnv
from sagsim.envs.scenario.loader import ScenarioError
from sagsim.envs.scenario.shipped import resolve_scenario

MAX_CYCLES = 400


def run(mode: str, seed: int = 5, fuser: str = "kalman"):
    env = SagEnv("minimal", perception=mode, max_cycles=MAX_CYCLES,
                 fusion={"fuser": fuser, "metrics_every_s": 1800})  # fmt: skip
    policy = GreedyPolicy()
    obs, infos = env.reset(seed=seed)
    rewards, reports, first = [], [], obs
    while env.agents:
        obs, r, _, _, infos = env.step(policy.act(obs, infos))
        rewards.append(next(iter(r.values())))
        report = next(iter(infos.values())).get("fusion")
        if report is not None:
            reports.append(report)
    return env, first, np.array(rewards), reports


def test_imagery_changes_nothing_the_agents_see():
    """Sensor noise comes from its own generator: clouds, observations and rewards match."""
    _, obs_v, rew_v, rep_v = run("variance_only")
    env, obs_i, rew_i, _ = run("imagery")
    np.testing.assert_array_equal(rew_v, rew_i)
    for a in obs_v:
        np.testing.assert_array_equal(obs_v[a]["observation"], obs_i[a]["observation"])
    assert rep_v == [] and env.world.totals["images_delivered"] > 0


def test_delivered_images_improve_the_fused_map():
    env, _, _, reports = run("imagery")
    # Every 1800 s (60 steps) a short report; the last one (episode end) is complete.
    assert len(reports) == MAX_CYCLES // 60 + 1
    assert all(math.isfinite(r["psnr_db"]) for r in reports)
    assert {"ssim", "sam_deg", "event_iou"} <= set(reports[-1])
    assert reports[-1]["t_s"] == pytest.approx(MAX_CYCLES * env.scenario.step_s)
    # The prior map (band means) against the fused map after the deliveries.
    first, last = reports[0], reports[-1]
    assert last["psnr_db"] > first["psnr_db"] + 1.0
    packets = [p for q in env.world.data.queues for p in q if p.task >= 0]
    assert all(p.observation is not None for p in packets)


@pytest.mark.parametrize("fuser", ["latest", "robust"])
def test_other_fusers_run_in_the_environment(fuser):
    _, _, _, reports = run("imagery", fuser=fuser)
    assert reports and math.isfinite(reports[-1]["psnr_db"])


def test_imagery_passes_the_pettingzoo_api_test():
    env = SagEnv("minimal", perception="imagery", max_cycles=60)
    parallel_api_test(env, num_cycles=60)


def test_bad_perception_settings_are_refused():
    with pytest.raises(ScenarioError, match="perception"):
        resolve_scenario("minimal", perception="pictures")
    with pytest.raises(ScenarioError, match="fuser"):
        resolve_scenario("minimal", fusion={"fuser": "magic"})


def test_imagery_frame_shows_truth_fused_and_error():
    env = SagEnv("minimal", perception="imagery", render_mode="rgb_array", max_cycles=20)
    env.reset(seed=1)
    frame = env.render()
    plain = SagEnv("minimal", render_mode="rgb_array", max_cycles=20)
    plain.reset(seed=1)
    assert frame.shape == plain.render().shape == (640, 640, 3)
    # The bottom row holds the three perception panels: colourful, unlike the plain frame.
    bottom = frame[-130:].astype(float)
    assert bottom.std(axis=(0, 1)).mean() > 20
    assert not np.array_equal(frame, plain.render())


# Terra and Aqua MODIS over minimal (6 h from 00:00 UTC): passes at about 04:00 and 05:10.
OPEN_DATA = [{"name": name, "latency_s": 600,
              "walker": {"planes": 1, "per_plane": 1, "altitude_m": 705_000,
                         "sun_synchronous": True, "raan0_deg": raan},
              "sensor": {"kind": "optical", "gsd_nadir_m": 500, "swath_m": 2_330_000}}
             for name, raan in (("terra_modis", 272.1), ("aqua_modis", 137.1))]  # fmt: skip


def test_open_data_reach_the_fused_map_and_not_the_reward():
    def episode(mode, open_data):
        env = SagEnv("minimal", perception=mode, open_data=open_data,
                     fusion={"metrics_every_s": 3600})  # fmt: skip
        env.reset(seed=3)
        idle = env.scenario.env.top_k + 3
        rewards, reports = [], []
        while env.agents:
            _, r, _, _, infos = env.step({a: idle for a in env.agents})
            rewards.append(sum(r.values()))
            reports.append(next(iter(infos.values())).get("fusion"))
        return env, np.array(rewards), [r for r in reports if r]

    env, rew_open, reports = episode("imagery", OPEN_DATA)
    _, rew_plain, _ = episode("variance_only", [])
    np.testing.assert_array_equal(rew_open, rew_plain)
    plan = env.world.perception._open_plan
    assert len(plan) == 2 and all(spec.gsd_m > 500 for _, _, _, spec, _ in plan)
    assert env.world.perception.open_data_fused == 2  # both arrive within the episode
    # Idle agents: only MODIS improves the map (flat prior → coarse block means).
    assert reports[-1]["psnr_db"] > reports[0]["psnr_db"] + 1.0


def test_bad_sources_poison_the_fused_map_not_the_reward():
    def last_report(bad):
        env = SagEnv("minimal", perception="imagery", max_cycles=MAX_CYCLES, bad_sources=bad)
        policy = GreedyPolicy()
        obs, infos = env.reset(seed=5)
        rewards, report = [], None
        while env.agents:
            obs, r, _, _, infos = env.step(policy.act(obs, infos))
            rewards.append(sum(r.values()))
            report = next(iter(infos.values())).get("fusion") or report
        return env, np.array(rewards), report

    clean_env, clean_rewards, clean = last_report({})
    env, rewards, poisoned = last_report({"fraction": 1.0, "kind": "bias",
                                          "params": {"bias": {"offset": 0.2}}})  # fmt: skip
    assert env.world.perception.bad_sources == {0: "bias", 1: "bias"}  # the satellite, the drone
    assert clean_env.world.perception.bad_sources == {}
    np.testing.assert_array_equal(rewards, clean_rewards)
    assert poisoned["psnr_db"] < clean["psnr_db"] - 3.0
    named, _, _ = last_report({"agents": {"uav_0": "stuck"}})
    assert named.world.perception.bad_sources == {1: "stuck"}


@pytest.mark.parametrize(
    "bad, message",
    [({"kind": "lie"}, "bad_sources.kind"),
     ({"fraction": 1.5}, "bad_sources.fraction"),
     ({"agents": {"gs_0": "bias"}}, "not an imaging agent"),
     ({"agents": {"sat_7": "bias"}}, "no agent 'sat_7'"),
     ({"fraction": 0.5, "agents": {"sat_0": "bias"}}, "not both"),
     ({"params": {"bias": {"offest": 0.1}}}, "params.bias.offest: unknown")],
)  # fmt: skip
def test_bad_sources_input_is_refused_in_one_line(bad, message):
    with pytest.raises(ScenarioError, match=message) as e:
        SagEnv("minimal", perception="imagery", bad_sources=bad)
    assert "\n" not in str(e.value)


def test_bad_source_kinds_match_fusion_attacks():
    import typing

    from sagsim.envs.scenario.schema.mission import BadSourceKind
    from sagsim.fusion.sensing.attacks import KINDS

    assert set(typing.get_args(BadSourceKind)) == set(KINDS)
