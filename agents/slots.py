"""One copy of ``sag_eo_v0`` seen as a fixed row of agent *slots*, for vectorised learners.

A :class:`SlotCopy` owns one :class:`sagsim.envs.sag_env.SagEnv` and presents every agent in
``possible_agents`` order as one slot: observation ``(n_agents, obs_dim)`` float32, action
mask ``(n_agents, n_actions)`` bool, reward and done ``(n_agents,)``, one info dict per slot.
The batch shape never changes, whatever happens to the agents:

- a live agent's slot carries its observation, mask and reward (the team reward, or its
  ``reward_share`` with ``reward="share"``);
- an agent that fails is *done* once (``terminal_observation`` in its info, not a
  truncation), then its slot is a dummy until the episode ends: zero observation, only
  IDLE allowed, zero reward, ``info["sag_dummy"] = True`` (the "black death" convention);
- when the episode ends (every agent truncated at ``max_cycles``), every slot not already
  done this step is done (``TimeLimit.truncated`` True for live agents, so learners
  bootstrap), the episode's figures go into every slot's ``info["sag_episode"]``, and the
  copy resets itself with the next seed from its own generator (auto-reset, as
  stable-baselines3 expects; the returned observation is the new episode's first).

Reward shaping (``shaping_gamma`` γ given): each live slot's reward gets γ Φ(s') − Φ(s),
Φ the value of the images not yet delivered × the hours left (:mod:`sagsim.agents.shaping`).
The episode figures (``info["sag_episode"]["r"]``) stay the unshaped team return.

Seeding: ``reset(seed)`` seeds the copy's generator; every later automatic reset draws its
episode seed from it, so a copy's whole sequence of episodes follows from one seed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sagsim.agents.shaping import PotentialShaping
from sagsim.envs.actions import IDLE

__all__ = ["SlotCopy"]


class SlotCopy:
    """A SagEnv as fixed slots (see the module docstring)."""

    def __init__(self, scenario: Any, reward: str = "team", max_cycles: int | None = None,
                 shaping_gamma: float | None = None, **overrides: Any):  # fmt: skip
        from sagsim.envs.sag_env import SagEnv

        if reward not in ("team", "share"):
            raise ValueError(f"reward must be 'team' or 'share', got {reward!r}")
        self.env = SagEnv(scenario, max_cycles=max_cycles, **overrides)
        self.reward = reward
        self.shaping = None
        if shaping_gamma is not None:
            self.shaping = PotentialShaping(shaping_gamma, share=reward == "share")
        self.agents = list(self.env.possible_agents)
        self.n = len(self.agents)
        self.n_actions = self.env.n_actions
        self.obs_dim = self.env.observation_space(self.agents[0])["observation"].shape[0]
        self._idle_mask = np.zeros(self.n_actions, bool)
        self._idle_mask[self.env.world.top_k + IDLE] = True
        self._rng = np.random.default_rng()
        self.masks = np.zeros((self.n, self.n_actions), bool)
        self._episode_return = 0.0
        self._episode_length = 0

    def reset(self, seed: int | None = None) -> np.ndarray:
        """Start an episode; ``seed`` (if given) also reseeds the copy's generator."""
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        episode_seed = int(self._rng.integers(2**31 - 1))
        obs, _ = self.env.reset(seed=episode_seed)
        self._episode_return, self._episode_length = 0.0, 0
        if self.shaping is not None:
            self.shaping.reset()
        return self._collect(obs)

    def _collect(self, obs: dict) -> np.ndarray:
        """Observation matrix and masks of every slot from a PettingZoo obs dict."""
        matrix = np.zeros((self.n, self.obs_dim), np.float32)
        self.masks = np.tile(self._idle_mask, (self.n, 1))
        live = set(self.env.agents)
        for i, agent in enumerate(self.agents):
            if agent in obs:
                matrix[i] = obs[agent]["observation"]
            if agent in live:  # a slot that is done or a dummy may only IDLE
                self.masks[i] = obs[agent]["action_mask"].astype(bool)
        return matrix

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
        """Step with one action per slot (dummy slots' actions are ignored); returns
        observation, reward, done ``(n,)`` and one info dict per slot."""
        env = self.env
        live_before = set(env.agents)
        acts = {a: int(actions[i]) for i, a in enumerate(self.agents) if a in live_before}
        obs, rewards, terms, truncs, infos = env.step(acts)
        matrix = self._collect(obs)
        reward = np.zeros(self.n, np.float32)
        done = np.zeros(self.n, bool)
        slot_infos: list[dict] = [{} for _ in range(self.n)]
        team = next(iter(rewards.values()), 0.0)
        self._episode_return += team
        self._episode_length += 1
        for i, a in enumerate(self.agents):
            if a not in live_before:
                slot_infos[i]["sag_dummy"] = True
                continue
            reward[i] = team if self.reward == "team" else infos[a]["reward_share"]
            slot_infos[i].update(infos[a])
            if terms[a] or truncs[a]:
                done[i] = True
                slot_infos[i]["terminal_observation"] = matrix[i].copy()
                slot_infos[i]["TimeLimit.truncated"] = bool(truncs[a] and not terms[a])
        if self.shaping is not None:
            bonus = self.shaping.bonus(infos, live_before, episode_over=not env.agents)
            for i, a in enumerate(self.agents):
                reward[i] += bonus.get(a, 0.0)
        if not env.agents:  # the episode is over: close every slot, then auto-reset
            episode = {"r": self._episode_return, "l": self._episode_length,
                       **env.world.totals}  # fmt: skip
            for i in range(self.n):
                if not done[i]:  # dummy slots of agents that failed earlier
                    done[i] = True
                    slot_infos[i]["terminal_observation"] = np.zeros(self.obs_dim, np.float32)
                    slot_infos[i]["TimeLimit.truncated"] = False
                slot_infos[i]["sag_episode"] = episode
            matrix = self.reset()
        return matrix, reward, done, slot_infos

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """``getattr(env, name)(*args, **kwargs)``, or the attribute itself."""
        attr = getattr(self.env, name)
        return attr(*args, **kwargs) if callable(attr) else attr

    def set(self, name: str, value: Any) -> None:
        """``setattr(env, name, value)``."""
        setattr(self.env, name, value)

    def close(self) -> None:
        self.env.close()
