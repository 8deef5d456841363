"""Potential-based reward shaping for the learners (one code path for SB3 and RLlib).

Φ is the value of the images an agent took that have not reached the fusion centre yet, × the
hours left in the episode (what they would add to the return if they arrived now)
(the environment's ``infos[a]["onboard_value"]``,
:meth:`sagsim.envs.world.world.World.onboard_value`): each agent's own Φ for per-agent rewards
(``share``), the team's sum for the team reward. Each live agent's reward gets γ Φ(s') − Φ(s), with
Φ = 0 at an episode's start and end (what is still on board when the episode ends is worth nothing).
This is the shaping of Ng, Harada & Russell (1999), which keeps the optimal policies of the
discounted task; it credits an image when it is taken (its value × the hours left) rather than
from its arrival on, which a discount of 0.99 per 30 s step barely sees (0.99^120 ≈ 0.3 after
one hour). With
γ = 1 the terms cancel over an episode: the shaped rewards add up to the true return.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["PotentialShaping"]


class PotentialShaping:
    """γ Φ(s') − Φ(s) per agent; ``share``: per-agent potentials, else the team's."""

    def __init__(self, gamma: float, share: bool):
        if not 0.0 < gamma <= 1.0:
            raise ValueError(f"shaping gamma must be in (0, 1], got {gamma!r}")
        self.gamma, self.share = float(gamma), bool(share)
        self._last: dict[str, float] = {}

    def reset(self) -> None:
        """A new episode: nothing on board."""
        self._last = {}

    def bonus(self, infos: dict, live: Iterable[str], episode_over: bool) -> dict[str, float]:
        """The shaping term of each agent in ``live`` (the agents that acted this step),
        from this step's ``infos``; ``episode_over``: Φ(s') = 0."""
        live = list(live)
        now = {a: 0.0 if episode_over else infos[a]["onboard_value"] for a in live}
        before = self._last
        if self.share:
            out = {a: self.gamma * now[a] - before.get(a, 0.0) for a in live}
        else:
            team = self.gamma * sum(now.values()) - sum(before.values())
            out = dict.fromkeys(live, team)
        self._last = now
        return out
