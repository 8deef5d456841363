"""The action layout, the feasibility rules the mask states, and the top-K candidate ranking.

Action layout, the same for every agent (``Discrete(K + 4)``):

====================  ==========================  ==========================  ============
index                 satellite                   drone                       station
====================  ==========================  ==========================  ============
0 … K−1 (slot k)      image candidate task k      fly to / image task k       serve sat k
K + 0  DOWNLINK       downlink to a station       send to base / a station    serve (auto)
K + 1  RELAY          relay over an ISL           relay via another drone     —
K + 2  RETURN         —                           return to base, charge      —
K + 3  IDLE           idle                        fly home and land (stays)   idle
====================  ==========================  ==========================  ============

Feasibility: :data:`MASK_RULES` (evaluated on the state at the start of the step by
:func:`sagsim.envs.world.feasibility.step_options`; the mask is exactly it).

Candidate ranking (docs/environment.md): satellites rank active tasks by feasibility first,
then by what an image of the task's scene would add (:func:`sagsim.envs.reward.footprint_value`,
less the share under cloud for a sensor clouds block), then by off-nadir angle; drones by
priority × (current variance / prior variance) over their footprint, divided by 1 + distance
/ 10 km; stations rank satellites in view that hold data, the team's queued bits first, then
all queued bits (other customers' data, :mod:`sagsim.envs.world.other_customers`). Empty
slots are masked.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

__all__ = ["DOWNLINK", "IDLE", "MASK_RULES", "N_EXTRA", "RELAY", "RETURN", "Candidates", "Extra",
           "ImageTiming", "mask_rules_markdown", "top_k"]  # fmt: skip


class Extra(IntEnum):
    """Actions after the K candidate slots (offset K)."""

    DOWNLINK = 0
    RELAY = 1
    RETURN = 2
    IDLE = 3


N_EXTRA = len(Extra)
# Plain ints for the step path (IntEnum arithmetic and attribute access are slow).
DOWNLINK, RELAY, RETURN, IDLE = (int(e) for e in Extra)
DRONE_DISTANCE_SCALE_M = 10_000.0

# When each action is feasible: (action, agent type, rule). The one statement of the mask's
# rules; the documentation's table is rendered from it (mask_rules_markdown).
MASK_RULES: tuple[tuple[str, str, str], ...] = (
    ("slot k (image)", "satellite",
     "alive, above its minimum charge and not busy with an image; the task is active, "
     "within max_off_nadir_deg of the geodetic nadir and above the target's horizon; a "
     "sensor that needs daylight (sagsim.sensor_kinds): the sun at the task at least "
     "min_sun_elevation_deg; the image fits the free storage; its scan fits what is left "
     "of max_imaging_s_per_orbit in the last orbit. The image is taken in the "
     "step in which the retarget (from the task it imaged last, or nadir, at "
     "slew_rate_deg_s), settle_s and the scan (its scene's length at the ground-track "
     "speed) end, busy until then, and the task must be in view then too. Clouds do not "
     "make it infeasible: the pixels under cloud of a cloud-blocked sensor are lost"),
    ("slot k (fly to, image)", "drone",
     "alive, not in a forced return; the task is active; the flight there and on to the "
     "base, with the reserve, fits the charge; daylight as above; the image fits. Drones "
     "fly below the cloud base"),
    ("slot k (serve)", "station",
     "candidate k exists (a satellite in view holding data, not busy with an image) and "
     "the station is up"),
    ("DOWNLINK", "satellite",
     "operating, not busy with an image, data queued, a station in view that is up"),
    ("DOWNLINK", "drone",
     "data queued, its base or a station that is up within air_to_ground.max_range_m, and "
     "no comm_blackout"),
    ("DOWNLINK (serve, auto)", "station", "the station is up"),
    ("RELAY", "satellite",
     "ISLs enabled, operating, not busy with an image, the team's data queued (other "
     "customers' data are not relayed), a satellite in ISL reach (range, Earth clearance; "
     "no isl_outage of either) that sees a station, is not busy and has free storage"),
    ("RELAY", "drone",
     "relays enabled, the team's data queued, another drone within range that has a ground "
     "link and free storage, and no comm_blackout"),
    ("RETURN", "drone", "airborne"),
    ("IDLE", "every type", "always, for a live agent (a station in an outage can only idle)"),
)  # fmt: skip


def mask_rules_markdown() -> str:
    """:data:`MASK_RULES` as a Markdown table, for the documentation."""
    lines = ["| action | agent | feasible when |", "| --- | --- | --- |"]
    lines += [f"| {action} | {agent} | {rule} |" for action, agent, rule in MASK_RULES]
    return "\n".join(lines) + "\n"


@dataclass(eq=False)
class ImageTiming:
    """When satellites' images started at a step would be taken (arrays of one shape, e.g.
    ``(n_sat, n_task)`` or ``(n_sat, K)``): ``delay_steps`` (int: 0, taken in this step; d,
    at the start of the d-th step from now, when the retarget and the settling end),
    ``busy_steps`` (int ≥ 1: free again after this many steps, the scan included) and
    ``slew_s`` (the retarget's slewing time, s). Computed by
    :func:`sagsim.envs.world.feasibility.image_timing`."""

    delay_steps: np.ndarray
    busy_steps: np.ndarray
    slew_s: np.ndarray


@dataclass(eq=False)
class Candidates:
    """One step's candidates. ``index`` ``(n_agents, K)``: task (satellites, drones) or
    satellite (stations) of each slot, -1 if empty; ``mask`` ``(n_agents, K + 4)`` bool;
    ``off_nadir_deg`` ``(n_sat, K)`` pointing angle of the satellites' candidates;
    ``timing`` (:class:`ImageTiming`, ``(n_sat, K)``): when each satellite slot's image
    would be taken (empty slots: now, one step, no slew)."""

    index: np.ndarray
    mask: np.ndarray
    off_nadir_deg: np.ndarray
    timing: ImageTiming


def top_k(score: np.ndarray, k: int) -> np.ndarray:
    """Per row, the column indices of the ``k`` largest scores, best first (ties: lower
    column first); -inf and NaN mean "not a candidate", and slots beyond a row's candidates
    are -1. ``score`` ``(n, m)``."""
    n, m = score.shape
    if m == 0 or n == 0:
        return np.full((n, k), -1, np.int64)
    rows = np.arange(n)[:, None]
    # Small m (the usual case: few tasks or satellites in view): one stable full sort.
    if m <= 4 * k:
        best = np.argsort(-score, axis=1, kind="stable")[:, :k]
    else:
        part = np.argpartition(-score, k - 1, axis=1)[:, :k]
        best = part[rows, np.argsort(-score[rows, part], axis=1, kind="stable")]
    best = np.where(score[rows, best] > -np.inf, best, -1)
    if m < k:
        best = np.concatenate([best, np.full((n, k - m), -1, np.int64)], axis=1)
    return best
