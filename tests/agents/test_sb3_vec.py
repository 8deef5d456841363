"""The SB3 VecEnv adapter: slots line up with the environment's agents, masks reach
MaskablePPO, seeding is reproducible, the batch shape survives failures and episode ends."""

import numpy as np
import pytest

from sagsim.agents.sb3_vec import SagVecEnv
from sagsim.agents.slots import SlotCopy
from sagsim.envs.actions import IDLE
from sagsim.envs.sag_env import SagEnv

SCENARIO = "minimal"
MAX_CYCLES = 12


def random_masked(masks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.array([rng.choice(np.flatnonzero(m)) for m in masks])


def rollout(venv: SagVecEnv, n_steps: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    out = [venv.reset()]
    for _ in range(n_steps):
        obs, rew, done, _infos = venv.step(random_masked(venv.action_masks(), rng))
        out += [obs, rew, done]
    return out


def test_spaces_and_slots_line_up_with_the_environment():
    env = SagEnv(SCENARIO, max_cycles=MAX_CYCLES)
    venv = SagVecEnv(SCENARIO, n_copies=2, max_cycles=MAX_CYCLES)
    n = len(env.possible_agents)
    assert venv.num_envs == 2 * n and venv.agents == env.possible_agents
    a0 = env.possible_agents[0]
    assert venv.observation_space.shape == env.observation_space(a0)["observation"].shape
    assert venv.action_space.n == env.action_space(a0).n
    venv.seed(7)
    obs = venv.reset()
    assert obs.shape == (2 * n, venv.observation_space.shape[0]) and obs.dtype == np.float32
    # Copy 0 was seeded with 7: its episode is the one a SlotCopy seeded with 7 plays.
    twin = SlotCopy(SCENARIO, max_cycles=MAX_CYCLES)
    np.testing.assert_array_equal(obs[:n], twin.reset(7))
    np.testing.assert_array_equal(venv.action_masks()[:n], twin.masks)
    # The masks are the environment's own, slot for slot.
    env_obs, _ = twin.env.reset(seed=int(np.random.default_rng(7).integers(2**31 - 1)))
    for i, a in enumerate(env.possible_agents):
        np.testing.assert_array_equal(venv.action_masks()[i], env_obs[a]["action_mask"] > 0)
    assert venv.has_attr("action_masks")
    assert len(venv.env_method("action_masks")) == venv.num_envs
    venv.close()


def test_same_seed_same_rollout_and_subprocess_matches_in_process():
    runs = []
    for subprocess in (False, False, True):
        venv = SagVecEnv(SCENARIO, n_copies=2, subprocess=subprocess, max_cycles=MAX_CYCLES)
        venv.seed(3)
        runs.append(rollout(venv, 30))
        venv.close()
    for other in runs[1:]:
        for a, b in zip(runs[0], other, strict=True):
            np.testing.assert_array_equal(a, b)


def test_episode_end_closes_every_slot_and_auto_resets():
    venv = SagVecEnv(SCENARIO, n_copies=1, max_cycles=MAX_CYCLES)
    venv.seed(1)
    venv.reset()
    rng = np.random.default_rng(0)
    for step in range(1, MAX_CYCLES + 1):
        obs, _rew, done, infos = venv.step(random_masked(venv.action_masks(), rng))
        if step < MAX_CYCLES:
            assert not done.any()
    assert done.all()
    assert all(info["TimeLimit.truncated"] for info in infos)
    assert all(info["sag_episode"]["l"] == MAX_CYCLES for info in infos)
    assert all("terminal_observation" in info for info in infos)
    # The returned observation is the next episode's first: time back to 0.
    from sagsim.envs.observations import Own, own_index

    assert np.all(obs[:, own_index(Own.TIME)] == 0.0)
    venv.close()


def test_a_failed_agent_is_done_once_then_a_dummy_with_only_idle():
    venv = SagVecEnv(SCENARIO, n_copies=1, max_cycles=MAX_CYCLES)
    venv.seed(2)
    venv.reset()
    copy = venv.copies[0]
    sat = copy.agents.index("sat_0")
    sats = copy.env.world.sats  # no sun, an almost flat battery: the bus load empties it
    sats.solar_power_w[:] = 0.0
    sats.battery_wh[:] = 1e-9
    idle = copy.env.world.top_k + IDLE
    obs, rew, done, infos = venv.step(np.full(venv.num_envs, idle))
    assert done[sat] and not infos[sat]["TimeLimit.truncated"]
    assert "terminal_observation" in infos[sat]
    for _ in range(3):
        masks = venv.action_masks()
        assert masks[sat].sum() == 1 and masks[sat][idle]
        obs, rew, done, infos = venv.step(np.full(venv.num_envs, idle))
        assert obs.shape[0] == venv.num_envs
        assert not done[sat] and rew[sat] == 0.0 and infos[sat]["sag_dummy"]
        assert np.all(obs[sat] == 0.0)
    venv.close()


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="n_copies"):
        SagVecEnv(SCENARIO, n_copies=0)
    with pytest.raises(ValueError, match="reward"):
        SlotCopy(SCENARIO, reward="selfish")


@pytest.mark.parametrize("reward", ["team", "share"])
def test_shaping_with_gamma_one_telescopes_to_the_team_return(reward):
    """With γ = 1 the shaping terms γΦ(s') − Φ(s) cancel over an episode (Φ = 0 at its
    start and end), so the shaped rewards add up to the unshaped team return; and the
    shaping really moves credit earlier (some step differs from the unshaped reward)."""
    from sagsim.agents.baselines import GreedyPolicy

    policy = GreedyPolicy()
    shaped = SlotCopy(SCENARIO, reward=reward, max_cycles=400, shaping_gamma=1.0)
    plain = SlotCopy(SCENARIO, reward=reward, max_cycles=400)
    obs, _ = shaped.reset(4), plain.reset(4)
    total, moved = 0.0, False
    while True:
        acts = np.array(
            [policy.choose(o, m, m.size - 4) for o, m in zip(obs, shaped.masks, strict=True)]
        )
        obs, r_shaped, _, infos = shaped.step(acts)
        _, r_plain, _, _ = plain.step(acts)
        total += r_shaped.sum() if reward == "share" else r_shaped[0]
        moved |= not np.allclose(r_shaped, r_plain)
        if "sag_episode" in infos[0]:
            break
    episode = infos[0]["sag_episode"]
    assert episode["images_acquired"] > 0 and moved
    assert total == pytest.approx(episode["r"], rel=1e-5)  # rewards are float32


def test_a_second_image_of_a_scene_on_board_is_worth_less():
    """The potential prices images on the as-if-delivered map: imaging the same scene twice
    before delivering is worth much less the second time; the agent's on-board value is the
    sum of its images' prices × the hours left."""
    env = SagEnv(SCENARIO, max_cycles=400)
    obs, _ = env.reset(seed=4)
    world = env.world

    def images():
        return [p for p in world.data.queues[0] if p.task >= 0]  # not the initial fill

    while env.agents and len(images()) < 2:
        mask = obs["sat_0"]["action_mask"]
        obs, _, _, _, infos = env.step({"sat_0": 0} if mask[0] else {})
    first, second = images()
    # The best candidate of the next step is centred on the same task or on one whose
    # scene overlaps the first: either way the second scene is mostly seen already.
    (a0, a1, b0, b1), (c0, c1, d0, d1) = first.window, second.window
    assert max(a0, c0) < min(a1, c1) and max(b0, d0) < min(b1, d1)
    assert second.t_acq_s > first.t_acq_s
    assert 0.0 < second.weight < 0.5 * first.weight
    hours_left = (world.n_steps * world.step_s - world.t_s) / 3600.0
    assert infos["sat_0"]["onboard_value"] == pytest.approx(
        (first.weight + second.weight) * hours_left
    )
