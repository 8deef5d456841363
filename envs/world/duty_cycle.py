"""Imaging duty cycle: how long each satellite's payload may image in any one orbit.

A real imager is not free to image whenever it sees a target: a SAR's transmitter heats up
and drains the bus, so its operator allows only so many seconds of imaging per orbit
(NovaSAR-1: "payload duty cycle 2 min per orbit", SSTL's mission slides), and an optical
imager's data handling limits it the same way. A satellite group's
``max_imaging_s_per_orbit`` sets the budget; none means no limit.

Model (simplified, stated once): the payload's on-time of an image is its scan
(``World.sat_scan_s``: the scene's length at the ground-track speed), charged at the step
the image is chosen, and so is the scan time of what the satellite images for its
operator's other customers (:mod:`sagsim.envs.world.other_customers`); the budget holds
over a sliding window of one orbital period (the circular period at the satellite's
nominal altitude, :func:`sagsim.envs.physics.orbits.circular_period_s`, rounded up to
whole steps). An image is feasible only if the seconds charged in the window, plus its own
scan, fit the budget.

Units: s; steps are the environment's.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DutyCycle"]

# Scan seconds are sums of floats: an image whose scan fills the budget exactly still fits.
BUDGET_ATOL_S = 1e-9


class DutyCycle:
    """The payload on-time of ``n_sat`` satellites over the last orbit, step by step.

    ``budget_s`` ``(n_sat,)``: seconds of imaging allowed per orbit (``inf``: no limit);
    ``window_steps`` ``(n_sat,)`` int ≥ 1: an orbit in steps; ``n_steps``: the episode's
    length in steps. Without any finite budget it stores nothing and allows everything."""

    def __init__(self, budget_s: np.ndarray, window_steps: np.ndarray, n_steps: int) -> None:
        self.budget_s = np.asarray(budget_s, float).reshape(-1)
        self.window_steps = np.asarray(window_steps, np.int64).reshape(-1)
        if self.window_steps.shape != self.budget_s.shape or np.any(self.window_steps < 1):
            raise ValueError("window_steps: one whole number ≥ 1 per satellite")
        self.limited = np.isfinite(self.budget_s)
        self.n_steps = int(n_steps)
        # charged_s[k]: the scan seconds charged before step k (cumulative, (n_steps + 1, n)).
        self.charged_s = (np.zeros((self.n_steps + 1, self.budget_s.size))
                          if self.limited.any() else None)  # fmt: skip

    def reset(self) -> None:
        """Nothing charged: the start of an episode."""
        if self.charged_s is not None:
            self.charged_s.fill(0.0)

    def _charged_s(self, k: int, steps: np.ndarray) -> np.ndarray:
        """Seconds charged in the ``steps`` ``(n_sat,)`` steps before step ``k``."""
        n = self.budget_s.size
        if self.charged_s is None:
            return np.zeros(n)
        k = min(int(k), self.n_steps)
        start = np.maximum(k - steps, 0)
        return self.charged_s[k] - self.charged_s[start, np.arange(n)]

    def used_s(self, k: int) -> np.ndarray:
        """Seconds charged in the orbit before step ``k`` (its last ``window_steps`` steps)
        ``(n_sat,)``; 0 where unlimited."""
        return self._charged_s(k, self.window_steps)

    def allows(self, k: int, scan_s: np.ndarray) -> np.ndarray:
        """Whether an image of ``scan_s`` seconds (``(n_sat,)``) chosen at step ``k`` fits
        each satellite's budget over the orbit that ends with step ``k`` ``(n_sat,)`` bool."""
        return scan_s <= self.left_s(k) + BUDGET_ATOL_S

    def left_s(self, k: int) -> np.ndarray:
        """Scan seconds an image chosen at step ``k`` may still take ``(n_sat,)``: the budget
        less what the orbit that ends with step ``k`` has used before it (``inf``: no
        limit)."""
        if self.charged_s is None:
            return np.full(self.budget_s.size, np.inf)
        return self.budget_s - self._charged_s(k, self.window_steps - 1)

    def charge(self, k: int, scan_s: np.ndarray) -> None:
        """Charge the images chosen at step ``k``: ``scan_s`` ``(n_sat,)`` s (0: none)."""
        if self.charged_s is None or k >= self.n_steps:
            return
        self.charged_s[k + 1] = self.charged_s[k] + np.where(self.limited, scan_s, 0.0)

    def used_fraction(self, k: int) -> np.ndarray:
        """The share of each budget charged in the orbit before step ``k`` ``(n_sat,)``;
        NaN where unlimited."""
        with np.errstate(invalid="ignore"):
            return np.where(self.limited, self.used_s(k) / self.budget_s, np.nan)
