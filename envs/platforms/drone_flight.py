"""One drone step's flight plan and battery run-out, for :class:`DroneFleet` (split from
:mod:`sagsim.envs.platforms.drones`, whose module docstring states the model: straight flight at
cruise speed, hover after arrival, RETURN lands and charges). Units: m, s, Wh.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from sagsim.envs.platforms.common import SECONDS_PER_HOUR

__all__ = ["FlightRates", "Plan", "plan_step", "run_out"]

# Command and mode codes (DroneCommand / DroneMode in drones.py, which checks they agree).
_GOTO, _HOVER, _RETURN = 0, 1, 2
_AT_BASE, _FLYING, _HOVERING, _RETURNING = 0, 1, 2, 3
# Positions closer than this are "there" (absorbs float residue from x + v·t·dir).
ARRIVAL_TOLERANCE_M = 1e-6

# Mode after a plan, indexed by 2 × grounded + arrived.
PLAN_MODE = np.array([_FLYING, _HOVERING, _RETURNING, _AT_BASE], np.int8)


class FlightRates(NamedTuple):
    """Per-drone rates derived from a fleet's fixed parameters, used on every step; each
    ``(n,)``."""

    rows: np.ndarray  # 0 … n−1, the row index of each drone
    cruise_wh_per_s: np.ndarray  # cruise power (Wh/s)
    hover_wh_per_s: np.ndarray  # hover power (Wh/s)
    charge_wh_per_s: np.ndarray  # charge power (Wh/s)
    return_wh_per_m: np.ndarray  # cruise energy per metre × (1 + reserve) (Wh/m)

    @classmethod
    def of(cls, fleet) -> FlightRates:
        """The rates of ``fleet`` (a :class:`DroneFleet`)."""
        return cls(
            rows=np.arange(fleet.n),
            cruise_wh_per_s=fleet.cruise_power_w / SECONDS_PER_HOUR,
            hover_wh_per_s=fleet.hover_power_w / SECONDS_PER_HOUR,
            charge_wh_per_s=fleet.charge_power_w / SECONDS_PER_HOUR,
            return_wh_per_m=fleet.cruise_power_w
            / (SECONDS_PER_HOUR * fleet.cruise_speed_mps)
            * (1.0 + fleet.reserve_fraction),
        )


class Plan(NamedTuple):
    """A candidate outcome of one step (before the reserve check and loss)."""

    goal_xy_m: np.ndarray  # (n, 2) where the drone is heading
    flight_s: np.ndarray
    hover_s: np.ndarray
    charge_s: np.ndarray
    airborne_wh: np.ndarray  # cruise + hover energy
    arrived: np.ndarray
    position_xy_m: np.ndarray  # (n, 2) end position if the battery suffices
    mode: np.ndarray


def plan_step(fleet, dt_s: float, command: np.ndarray, target_xy_m: np.ndarray) -> Plan:
    """Outcome of executing ``command`` ``(n,)`` for ``dt_s`` s with unlimited battery."""
    c, pos = fleet.rates, fleet.position_xy_m
    # GOTO: the target; HOVER holds the current position (a landed drone stays landed);
    # RETURN: the base. Command codes 0, 1, 2 index the stacked choices.
    goal = np.stack([target_xy_m, pos, fleet.base_xy_m])[command, c.rows]
    delta = goal - pos
    need_s = np.hypot(delta[:, 0], delta[:, 1]) / fleet.cruise_speed_mps
    arrived = need_s <= dt_s
    flight_s = np.minimum(need_s, dt_s)
    # Snap to the goal on arrival so float residue can never overshoot it; otherwise
    # cover the fraction dt / need of the way (need > dt > 0 there: no 0/0).
    moved = pos + delta * (dt_s / np.maximum(need_s, dt_s))[:, None]
    position = np.where(arrived[:, None], goal, moved)
    # Rest of the step after arrival: RETURN lands and charges; a landed HOVER charges;
    # otherwise the drone hovers where it is.
    grounded = (command == _RETURN) | ((command == _HOVER) & (fleet.mode == _AT_BASE))
    rest_s = dt_s - flight_s
    hover_s = rest_s * ~grounded
    charge_s = rest_s - hover_s
    airborne_wh = flight_s * c.cruise_wh_per_s + hover_s * c.hover_wh_per_s
    mode = PLAN_MODE[2 * grounded + arrived]
    return Plan(goal, flight_s, hover_s, charge_s, airborne_wh, arrived, position, mode)


def run_out(fleet, dt_s: float, plan: Plan, empty: np.ndarray):
    """Where the battery runs out (``empty`` drones): scale the step back to the moment
    the battery emptied (any hover comes after the flight), then see where that is:
    over the base the drone lands with 0 Wh, anywhere else it falls. Returns flight_s,
    hover_s, position_xy_m, charge_s, mode, lost."""
    energy_j = fleet.battery_wh * SECONDS_PER_HOUR
    flight_s = np.where(
        empty, np.minimum(plan.flight_s, energy_j / fleet.cruise_power_w), plan.flight_s
    )
    hover_left_j = np.maximum(energy_j - fleet.cruise_power_w * flight_s, 0.0)
    hover_s = np.where(
        empty, np.minimum(plan.hover_s, hover_left_j / fleet.hover_power_w), plan.hover_s
    )
    delta = plan.goal_xy_m - fleet.position_xy_m
    dist = np.hypot(delta[:, 0], delta[:, 1])
    with np.errstate(invalid="ignore", divide="ignore"):
        partial = fleet.position_xy_m + delta * (fleet.cruise_speed_mps * flight_s / dist)[:, None]
    cut_short = empty & (flight_s < plan.flight_s)
    position = np.where(cut_short[:, None], partial, plan.position_xy_m)
    over_base = np.hypot(*(position - fleet.base_xy_m).T) <= ARRIVAL_TOLERANCE_M
    landed_empty = empty & over_base
    charge_s = np.where(landed_empty, dt_s - flight_s - hover_s, plan.charge_s)
    mode = np.where(landed_empty, _AT_BASE, plan.mode)
    return flight_s, hover_s, position, charge_s, mode, empty & ~over_base
