"""Hand-written schedulers, the baselines a trained team must beat.

Every policy has one interface: ``act(observations, infos) -> actions``, PettingZoo dicts
keyed by agent (``observations[a]`` is ``{"observation": vector, "action_mask": mask}``,
layout in :mod:`sagsim.envs.observations`); ``reset(seed)`` before an episode. They read only
the observations, like a learned policy, so they run on any copy of the environment.

- :class:`RandomPolicy`: a uniformly random *feasible* action.
- :class:`GreedyPolicy`: the feasible action with the largest information gain now: it
  images the candidate whose whole scene would add the most (the observation's
  ``FOOTPRINT_VALUE``, × the clear share ``1 − FOOTPRINT_CLOUD`` for sensors that clouds
  block; SAR sees through cloud and drones fly below it; × ``PENDING_DISCOUNT`` per image
  of the task already on board: the fusion centre's variance does not show those yet) when
  that exceeds ``GAIN_FLOOR``, else delivers (DOWNLINK) what it holds. Imaging chances are the
  scarce resource (a pass lasts minutes), so they come before delivery. Stations serve
  their first-ranked satellite.
- :class:`ContactAwarePolicy`: plans image-then-deliver. Satellites image only what can
  reach the ground soon (a station contact within ``contact_horizon_s``, or an ISL relay),
  keep storage for the next pass, downlink in contact and relay when out of it. Drones
  deliver when linked, fly home to deliver when full or when nothing is worth imaging,
  and otherwise go to the best task (the ranking already discounts distance).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from sagsim.envs.actions import DOWNLINK, IDLE, N_EXTRA, RELAY, RETURN
from sagsim.envs.observations import N_OWN, N_SLOT, N_TYPES, ORBIT_S, Own, Slot

__all__ = ["ContactAwarePolicy", "GreedyPolicy", "PerAgentPolicy", "Policy", "RandomPolicy"]

SATELLITE, DRONE, STATION = 0, 1, 2
# An image already on its way makes another of the same task worth this much less, each.
PENDING_DISCOUNT = 0.25
# Below this gain (an image's value / the largest priority: a fully unseen task of the top
# priority is 1) an image is not worth taking: the map there is already fresh.
GAIN_FLOOR = 0.05


def _split(observation: np.ndarray, n_slots: int):
    """(type index, own state (N_OWN,), slots (K, N_SLOT)) of one observation vector."""
    kind = int(np.argmax(observation[:N_TYPES]))
    own = observation[N_TYPES : N_TYPES + N_OWN]
    slots = observation[N_TYPES + N_OWN :].reshape(n_slots, N_SLOT)
    return kind, own, slots


def _clouds_hide(kind: int, own: np.ndarray) -> bool:
    """Whether clouds hide this agent's targets: an optical satellite's. SAR sees through
    them, and drones fly below the cloud base (their slots' cloud column is 0 anyway)."""
    return kind == SATELLITE and not own[Own.SEES_THROUGH_CLOUD]


class Policy(ABC):
    """The interface (see the module docstring)."""

    name = "policy"

    def reset(self, seed: int | None = None) -> None:  # noqa: B027 (optional hook)
        """Prepare for an episode (policies with randomness reseed here; default: nothing)."""

    def bind(self, env) -> None:  # noqa: B027 (optional hook)
        """See the environment after its ``reset`` (:func:`sagsim.agents.evaluation.run_episode`
        calls it): planners with full knowledge (:class:`sagsim.agents.planner.PlannerPolicy`) read
        the world here; observation-only policies ignore it (the default)."""

    @abstractmethod
    def act(self, observations: dict, infos: dict | None = None) -> dict:
        """One action per agent in ``observations``."""


class PerAgentPolicy(Policy):
    """A policy that decides for each agent alone, from its own observation and mask."""

    def act(self, observations: dict, infos: dict | None = None) -> dict:
        out = {}
        for agent, ob in observations.items():
            mask = np.asarray(ob["action_mask"], bool)
            out[agent] = int(self.choose(ob["observation"], mask, mask.size - N_EXTRA))
        return out

    @abstractmethod
    def choose(self, observation: np.ndarray, mask: np.ndarray, k: int) -> int:
        """The action of one agent; ``k`` is the number of candidate slots."""


class RandomPolicy(PerAgentPolicy):
    """A uniformly random feasible action (IDLE when nothing is feasible)."""

    name = "random"

    def __init__(self, seed: int | None = None):
        self.rng = np.random.default_rng(seed)

    def reset(self, seed: int | None = None) -> None:
        if seed is not None:
            self.rng = np.random.default_rng(seed)

    def choose(self, observation, mask, k):
        ones = mask.nonzero()[0]
        return int(ones[self.rng.integers(ones.size)]) if ones.size else k + IDLE


def _image_gain(slots: np.ndarray, mask: np.ndarray, k: int, clouds_hide: bool) -> np.ndarray:
    """What each feasible candidate's image would add (its whole scene's value, the part
    under cloud removed where clouds hide it), discounted for images of the task already on
    board (−1 where infeasible)."""
    gain = slots[:, Slot.FOOTPRINT_VALUE] * PENDING_DISCOUNT ** (4 * slots[:, Slot.PENDING])
    if clouds_hide:
        gain = gain * (1.0 - slots[:, Slot.FOOTPRINT_CLOUD])
    return np.where(mask[:k], gain, -1.0)


class GreedyPolicy(PerAgentPolicy):
    """Image the largest priority-weighted gain when it is worth it, else deliver (the module
    docstring: imaging chances are the scarce resource, so they come first)."""

    name = "greedy"

    def choose(self, observation, mask, k):
        kind, own, slots = _split(observation, k)
        if kind == STATION:
            return 0 if mask[0] else k + DOWNLINK
        gain = _image_gain(slots, mask, k, clouds_hide=_clouds_hide(kind, own))
        best = int(np.argmax(gain))
        if gain[best] > GAIN_FLOOR:
            return best
        return k + DOWNLINK if mask[k + DOWNLINK] else k + IDLE


class ContactAwarePolicy(PerAgentPolicy):
    """Image only what can be delivered soon; deliver as early as possible (module docs).

    ``contact_horizon_s``: a satellite images only if a station comes into view within
    this time (or an ISL relay is open); ``storage_reserve``: fraction of storage a
    satellite keeps free for the next pass's best targets (it still images above
    ``reserve_priority``); ``drone_full``: storage fill at which a drone goes to deliver.
    """

    name = "contact_aware"

    def __init__(self, contact_horizon_s: float = 3_000.0, storage_reserve: float = 0.2,
                 reserve_priority: float = 0.6, drone_full: float = 0.5):  # fmt: skip
        self.contact_horizon_s = contact_horizon_s
        self.storage_reserve = storage_reserve
        self.reserve_priority = reserve_priority
        self.drone_full = drone_full

    def choose(self, observation, mask, k):
        kind, own, slots = _split(observation, k)
        if kind == STATION:
            return 0 if mask[0] else k + DOWNLINK
        if kind == SATELLITE:
            return self._satellite(own, slots, mask, k)
        return self._drone(own, slots, mask, k)

    def _satellite(self, own, slots, mask, k):
        gain = _image_gain(slots, mask, k, clouds_hide=_clouds_hide(SATELLITE, own))
        best = int(np.argmax(gain))
        soon = own[Own.CONTACT_OR_HOME] * ORBIT_S <= self.contact_horizon_s or own[Own.RELAY] > 0
        room = (
            own[Own.STORAGE] < 1.0 - self.storage_reserve
            or slots[best, Slot.PRIORITY] >= self.reserve_priority
        )
        if gain[best] > GAIN_FLOOR and soon and room:
            return best
        if mask[k + DOWNLINK]:
            return k + DOWNLINK
        if mask[k + RELAY]:
            return k + RELAY
        return k + IDLE

    def _drone(self, own, slots, mask, k):
        holding = own[Own.STORAGE] > 0
        if holding and mask[k + DOWNLINK]:
            return k + DOWNLINK
        if holding and mask[k + RELAY]:
            return k + RELAY
        gain = _image_gain(slots, mask, k, clouds_hide=False)
        best = int(np.argmax(gain))
        if own[Own.STORAGE] < self.drone_full and gain[best] > GAIN_FLOOR:
            return best
        if mask[k + RETURN] and (holding or gain[best] <= GAIN_FLOOR):
            return k + RETURN
        return k + IDLE
