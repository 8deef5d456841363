"""Adapters for comparing with skyfield, the reference the fast paths are validated against.

Used by the tests and the benchmarks only, never by the simulation itself.
"""

from __future__ import annotations

import numpy as np

__all__ = ["complete_passes"]


def complete_passes(event_t_s: np.ndarray, events: np.ndarray) -> np.ndarray:
    """Complete passes ``(n, 2)`` [rise_s, set_s] from skyfield ``find_events`` output.

    ``event_t_s`` (n_events,) are the event times in seconds (any origin); ``events`` the
    skyfield codes (0 rise, 1 culminate, 2 set). A set with no rise before it (a pass in
    progress at the start) and a trailing rise (one in progress at the end) are dropped.
    """
    passes, rise = [], None
    for t_s, event in zip(event_t_s, events, strict=True):
        if event == 0:
            rise = t_s
        elif event == 2 and rise is not None:
            passes.append((rise, t_s))
            rise = None
    return np.array(passes, dtype=float).reshape(-1, 2)
