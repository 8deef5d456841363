"""The action layout, the feasibility rules the mask states, and the top-K candidate ranking.

Action layout, the same for every agent (``Discrete(K + 4)``):

====================  ==========================  ==========================  ============
index                 satellite                   drone                       station
====================  ==========================  ==========================  ============
0 … K−1 (slot k)      image candidate task k      fly to / image task k       serve sat k
K + 0  DOWNLINK       downlink to a station       send to base / a station    serve (auto)
K + 1  RELAY          relay over an ISL           relay via another drone     —
K + 2  RETURN         —                           return to base, charge      —
K + 3  IDLE           idle                        hover (or stay landed)      idle
====================  ==========================  ==========================  ============

Feasibility (all evaluated on the state at the start of the step by
:func:`sagsim.envs.world.feasibility.step_options`; the mask is exactly it):

- satellite image k: alive and above its minimum charge; the task is active, within
  ``max_off_nadir_deg`` of the geodetic nadir and above the target's horizon; optical: sun
  elevation at the task ≥ the sensor's ``min_sun_elevation_deg``; the image fits the free
  storage. Clouds do not make it infeasible: optical pixels under cloud are simply lost.
- drone image k: alive, not in a forced return; the task is active; the flight there and
  on to the base, with the reserve, fits the charge; optical: sun as above; the image fits.
  Drones fly below the cloud base, so clouds never hide the ground from them.
- satellite DOWNLINK: operating, data queued, a station in view. RELAY: ISLs enabled,
  operating, data queued, a satellite in ISL reach (range, Earth clearance) that sees a
  station and has free storage.
- drone DOWNLINK: data queued, its base or a station within ``air_to_ground.max_range_m``.
  RELAY: relays enabled, data queued, another drone within range that has such a link and
  free storage. RETURN: airborne.
- station serve k: candidate k exists (a satellite in view with data); auto: always.
- IDLE: always (for a live agent).

Candidate ranking (docs/environment.md): satellites and drones rank active tasks by
feasibility first, then by value = priority × (current variance / prior variance) at the
fusion centre (drones: divided by 1 + distance / 10 km), then by off-nadir angle; stations
rank satellites in view that hold data by queued bits. Empty slots are masked.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

__all__ = ["DOWNLINK", "IDLE", "N_EXTRA", "RELAY", "RETURN", "Candidates", "Extra", "top_k"]


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


@dataclass(eq=False)
class Candidates:
    """One step's candidates. ``index`` ``(n_agents, K)``: task (satellites, drones) or
    satellite (stations) of each slot, -1 if empty; ``mask`` ``(n_agents, K + 4)`` bool;
    ``off_nadir_deg`` ``(n_sat, K)`` pointing angle of the satellites' candidates."""

    index: np.ndarray
    mask: np.ndarray
    off_nadir_deg: np.ndarray


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
