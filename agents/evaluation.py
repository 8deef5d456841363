"""Run policies on fixed seeds and summarise: the team return and the scenario's task
figures per episode, and their mean with a 95 % confidence interval over seeds.

``ModelPolicy`` wraps a trained stable-baselines3 / sb3-contrib model in the baselines'
interface (one shared policy: every agent's observation row is one batch entry; masks are
passed to ``MaskablePPO``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from sagsim.agents.baselines import Policy

__all__ = ["EpisodeResult", "ModelPolicy", "evaluate", "run_episode", "summarise"]

CONFIDENCE = 0.95


@dataclass
class EpisodeResult:
    """One episode: ``seed``, team ``return_`` (Σ team reward), ``length`` (steps) and
    the world's ``totals`` (bits/images acquired and delivered, latency, energy, …)."""

    seed: int
    return_: float
    length: int
    totals: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "return": self.return_, "length": self.length, **self.totals}


class ModelPolicy(Policy):
    """A trained SB3 model as a :class:`Policy` (deterministic actions by default)."""

    name = "model"

    def __init__(self, model, deterministic: bool = True, name: str | None = None):
        self.model, self.deterministic = model, deterministic
        self.masked = hasattr(model, "policy") and "Maskable" in type(model.policy).__name__
        if name:
            self.name = name

    def act(self, observations: dict, infos: dict | None = None) -> dict:
        agents = list(observations)
        obs = np.stack([observations[a]["observation"] for a in agents])
        masks = np.stack([np.asarray(observations[a]["action_mask"], bool) for a in agents])
        kwargs = {"action_masks": masks} if self.masked else {}
        actions, _ = self.model.predict(obs, deterministic=self.deterministic, **kwargs)
        return {a: int(x) for a, x in zip(agents, actions, strict=True)}


def run_episode(env, policy: Policy, seed: int, on_step=None) -> EpisodeResult:
    """One episode of ``env`` (a SagEnv) under ``policy`` from ``reset(seed)``; the policy
    is shown the freshly reset env (``policy.bind(env)``) before its first action.
    ``on_step(env, actions, infos)``, if given, is called after every step."""
    policy.reset(seed)
    obs, infos = env.reset(seed=seed)
    policy.bind(env)
    total, length = 0.0, 0
    while env.agents:
        actions = policy.act(obs, infos)
        obs, rewards, _terms, _truncs, infos = env.step(actions)
        total += next(iter(rewards.values()), 0.0)
        length += 1
        if on_step is not None:
            on_step(env, actions, infos)
        if len(obs) != len(env.agents):  # agents that just ended get a last observation:
            obs = {a: obs[a] for a in env.agents}  # no action for them (PettingZoo's rule)
            infos = {a: infos[a] for a in env.agents}
    return EpisodeResult(seed, total, length, dict(env.world.totals))


def evaluate(policy: Policy, scenario: Any, seeds, max_cycles: int | None = None,
             on_episode: Callable[[EpisodeResult], None] | None = None,
             **overrides: Any) -> list[EpisodeResult]:  # fmt: skip
    """Episodes of ``policy`` on ``scenario``, one per seed (same seeds, same episodes);
    ``on_episode(result)``, if given, after each (a progress bar)."""
    from sagsim.envs.sag_env import SagEnv

    env = SagEnv(scenario, max_cycles=max_cycles, **overrides)
    results = []
    try:
        for s in seeds:
            results.append(run_episode(env, policy, int(s)))
            if on_episode is not None:
                on_episode(results[-1])
        return results
    finally:
        env.close()


def summarise(values) -> dict[str, float]:
    """Mean and Student-t 95 % confidence interval of per-seed values (n, mean, lo, hi)."""
    x = np.asarray(values, float)
    n = x.size
    if n == 0:
        return {"n": 0, "mean": math.nan, "ci_low": math.nan, "ci_high": math.nan}
    mean = float(x.mean())
    if n == 1:
        return {"n": 1, "mean": mean, "ci_low": mean, "ci_high": mean}
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))
    return {"n": n, "mean": mean, "ci_low": mean - half, "ci_high": mean + half}
