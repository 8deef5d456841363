"""The reward, in one place: what the team is paid for, what an image is worth, the
potential that shapes it, and how the team reward is shared.

Per step, the same team reward for every live agent (weights in the scenario's ``reward``
section, :class:`sagsim.envs.scenario.schema.mission.Reward`, which every function here
that needs a parameter takes whole: a new parameter is a change here and in the schema):

    r = information_weight × Q(t₁) × step_s / 3600
        − energy_cost_per_wh × Σ_agents activity energy (Wh)
        − infeasible_action_cost × (number of masked actions chosen)

- **Map quality** Q (:func:`map_quality`), at the end of the step, after the images that
  arrived are fused: Σ over the active tasks of priority × (1 − mean variance over the
  task's current disc / prior variance), the fusion centre's variance map
  (:class:`sagsim.fusion.kalman.KalmanGrid`, the same update as
  :class:`sagsim.fusion.fusers.KalmanFuser`). 0 for a map that knows nothing of a task, its
  priority for one that knows it exactly. The information part of the return is therefore
  the **time integral of the task-weighted map quality**, in priority-hours: a better
  map, sooner and for longer, earns more.
- Nothing else pays for an image: it is worth what it does to Q from its **arrival** on.
  Latency costs by itself, twice: the map improves only when the data arrive, and data
  taken Δt before they arrive count as noisier by q Δt (late data, :mod:`sagsim.fusion.kalman`).
  Change costs too: the variance regrows at ``process_noise_per_s``, and the cells an event
  reaches return to the prior (:mod:`sagsim.envs.world.event_front`), so a stale map is
  worth less and an event seen early is worth more than one seen late.
- An image's **value** (:func:`image_value`): what fusing it removed from the variance, as
  Σ over the tasks its window overlaps of priority × (mean reduction over the task's
  current disc) / prior variance: what it added to Q at once.
- **Shares** (:func:`reward_shares`): the information part is split in proportion to the
  value each agent's images have added so far (its *credit*; :func:`information_shares`),
  and each agent bears its own costs; the shares sum to the team reward.
- The **shaping potential** (:func:`onboard_value`): the images still in the network, each
  priced when taken on a map as if every image were fused at once (so a second image of a
  scene still on board is worth little), × the hours left in the episode: what they would
  add to the return if they arrived now. Φ for potential-based shaping (Ng, Harada &
  Russell 1999); holding an image costs its value × the step's hours.

What an image *would* be worth, for the satellites' candidate ranking and the
observations' ``FOOTPRINT_VALUE`` column, is the same sum over a scene not yet taken
(:func:`footprint_value`); the observations' variance columns read the same map through
:func:`mean_variance_ratio`.
"""

from __future__ import annotations

import numpy as np

from sagsim.envs.scenario.schema.mission import Reward

__all__ = [
    "SECONDS_PER_HOUR",
    "expected_reduction",
    "footprint_value",
    "image_value",
    "information_shares",
    "map_quality",
    "mean_variance_ratio",
    "onboard_value",
    "reward_shares",
    "sample_weights",
]

SECONDS_PER_HOUR = 3600.0
# 1 − variance ratio below this is rounding (a few ulps of a mean of O(1) ratios), not knowledge.
UNKNOWN_ATOL = 1e-12


def map_quality(variance_ratio: np.ndarray, priority: np.ndarray, active: np.ndarray) -> float:
    """Q: Σ over active tasks of priority × (1 − variance ratio), priority units.
    ``variance_ratio`` ``(n_task,)``: mean variance / prior over each task's current disc
    (:func:`mean_variance_ratio`); ``active`` ``(n_task,)`` bool."""
    known = 1.0 - variance_ratio
    # A task nothing has informed has a ratio of 1 up to the rounding of a mean of variances
    # capped at the prior: count it as exactly unknown.
    known[np.abs(known) < UNKNOWN_ATOL] = 0.0
    return float(np.dot(priority * active, np.maximum(known, 0.0)))


def information_shares(
    quality: float, step_s: float, credit: np.ndarray, live: np.ndarray
) -> np.ndarray:
    """``(n_agents,)``: the step's map quality × its hours (priority-hours), split among
    the ``live`` agents ``(n_agents,)`` bool in proportion to ``credit`` ``(n_agents,)``
    (the value each agent's delivered images have added so far; a failed agent's credit no
    longer earns), evenly where no live agent has credit, so that the shares always sum to
    the team's information. Credit does not decay: an image's share outlives what it added
    once the variance has regrown (a simplification of the split, not of the team reward)."""
    earned = quality * step_s / SECONDS_PER_HOUR
    weights = np.where(live, credit, 0.0)
    total = float(weights.sum())
    if total <= 0.0:
        weights, total = live.astype(float), float(live.sum())
    if total <= 0.0:
        return np.zeros_like(credit, dtype=float)
    return weights * (earned / total)


def onboard_value(weight_by_source: np.ndarray, hours_left: float, n_agents: int) -> np.ndarray:
    """``(n_agents,)``: Σ over each agent's images still in the network (on board or being
    relayed) of their value when taken × ``hours_left`` (the episode's remaining hours);
    0 for agents that take no images (stations). ``weight_by_source`` ``(n_sources,)``: the
    summed values by the agent that took them (satellites, then drones)."""
    out = np.zeros(n_agents)
    out[: weight_by_source.size] = weight_by_source * hours_left
    return out


def mean_variance_ratio(
    sample_variance: np.ndarray,
    weights: np.ndarray,
    inv_count: np.ndarray,
    none: np.ndarray,
    sample_task: np.ndarray,
    prior_variance: float,
) -> np.ndarray:
    """``(n_task,)``: Σ weights × current variance / Σ weights over each task's samples, /
    the prior variance; 1 where the task has no weighted sample.

    ``sample_variance`` ``(n_sample,)``: the map's variance at each task sample cell;
    ``weights`` ``(n_sample,)``: each sample's weight (1 inside the task's disc or view, 0
    outside); ``inv_count`` ``(n_task,)``: 1 / Σ weights, 0 where none; ``none``
    ``(n_task,)``: 1.0 where a task has no weighted sample, else 0; ``sample_task``: the
    task of each sample (from :class:`sagsim.envs.tasks.TaskSet`)."""
    n_task = inv_count.size
    num = np.bincount(sample_task, sample_variance * weights, minlength=n_task)
    return num * (inv_count / prior_variance) + none


def image_value(
    window: tuple[int, int, int, int],
    reduction: np.ndarray,
    tasks,
    samples_inside: tuple[np.ndarray, np.ndarray, np.ndarray],
    prior_variance: float,
    sample_level: np.ndarray,
) -> tuple[float, np.ndarray]:
    """The value of an image whose fusion reduced the variance by ``reduction`` over
    ``window`` (r0, r1, c0, c1; ``reduction`` ``(n_level, r1 − r0, c1 − c0)``, one map per
    resolution level: :class:`sagsim.envs.world.resolution_maps.ResolutionMaps`): Σ over
    tasks of priority × (mean reduction over the task's disc, on the task's level) /
    ``prior_variance``; and the indices of the tasks whose disc it reduced somewhere (the
    tasks it observed).

    ``tasks``: the :class:`sagsim.envs.tasks.TaskSet`; ``samples_inside``: its
    ``samples_inside(k)`` at this step (weights, 1 / count, none); ``sample_level``
    ``(n_sample,)``: the level each sample is read on."""
    r0, r1, c0, c1 = window
    inside, inv_count, _ = samples_inside
    hit = (tasks.sample_row >= r0) & (tasks.sample_row < r1)
    hit &= (tasks.sample_col >= c0) & (tasks.sample_col < c1)
    hit &= inside > 0
    idx = hit.nonzero()[0]
    if idx.size == 0:
        return 0.0, np.zeros(0, np.int64)
    rows, cols = tasks.sample_row[idx] - r0, tasks.sample_col[idx] - c0
    gained = reduction[sample_level[idx], rows, cols]
    k = tasks.sample_task[idx]
    per_task = np.bincount(k, gained, minlength=tasks.n) * inv_count
    seen = np.unique(k[gained > 0])
    return float(per_task @ tasks.priority) / prior_variance, seen


def expected_reduction(variance, obs_variance):
    """What an observation of noise variance ``obs_variance`` would remove from cells of
    current variance ``variance`` (units², arrays broadcast): P − P r / (P + r) = P² / (P + r),
    the Kalman update of :meth:`sagsim.fusion.kalman.KalmanGrid.update_window`."""
    return variance * variance / (variance + obs_variance)


def sample_weights(tasks, samples_inside, prior_variance: float) -> np.ndarray:
    """``(n_sample,)``: each task sample's weight in an image's value, priority × (1 inside
    the task's disc, else 0) / the disc's sample count / ``prior_variance``, so that Σ
    weight × reduction over an image's samples is :func:`image_value`."""
    inside, inv_count, _ = samples_inside
    k = tasks.sample_task
    return tasks.priority[k] * inv_count[k] * inside / prior_variance


def footprint_value(cover: np.ndarray, weighted_reduction: np.ndarray) -> np.ndarray:
    """``(n_task,)``: what an image of each task would be worth if it arrived now, the
    :func:`image_value` of its whole scene (every task under it, not only the one it is
    centred on). ``cover`` ``(n_task, n_sample)``: which samples each task's scene covers
    (:meth:`sagsim.envs.tasks.TaskSet.cover`); ``weighted_reduction`` ``(n_sample,)``:
    :func:`sample_weights` × :func:`expected_reduction` (× 0 where the image would lose the
    sample, e.g. under cloud)."""
    return cover @ weighted_reduction


def reward_shares(
    information: np.ndarray, energy_wh: np.ndarray, infeasible: np.ndarray, reward: Reward
) -> np.ndarray:
    """``(n_agents,)``: each agent's share of the team reward (its own terms); the team
    reward is their sum. ``information`` ``(n_agents,)``: the agent's part of the step's
    map quality × hours (:func:`information_shares`); ``energy_wh``: its activity energy
    (Wh); ``infeasible``: it chose a masked action (bool)."""
    return (
        reward.information_weight * information
        - reward.energy_cost_per_wh * energy_wh
        - reward.infeasible_action_cost * infeasible
    )
