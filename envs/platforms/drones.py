"""Drone fleet state and point-mass flight dynamics in the region's local metric frame.

Frame: ``x_m`` east, ``y_m`` north of the region grid origin (the caller converts each
group's base lon/lat with the region grid; this module never touches geodesy). Flight
height is constant at ``altitude_m`` above the base.

Simplifications (stated once, relied on everywhere): no wind; instantaneous acceleration
to ``cruise_speed_mps`` and instantaneous stops; constant altitude (take-off, climb and
landing take no time and no energy); flight power independent of payload and speed
(``cruise_power_w`` while moving, ``hover_power_w`` while holding position); an ideal
battery; charging only when landed at the base, at a constant ``charge_power_w``.

One step of ``dt_s`` seconds, per drone, with a command (:class:`DroneCommand`):

- GOTO target: fly straight toward it at cruise speed, never past it; the rest of the
  step after arrival is spent hovering there.
- HOVER: hold position (hover power); a drone landed at its base stays landed and charges.
- RETURN: fly to the base; on arrival it lands and charges for the rest of the step.

Energy used = ``cruise_power_w`` × flight time + ``hover_power_w`` × hover time.

Return-to-base reserve: before a GOTO/HOVER step runs, its outcome is predicted; if the
battery at the end would be below ``energy_to_return`` (from the end position) ×
(1 + ``reserve_fraction``), the drone is forced to RETURN instead. A forced return
latches (later commands are ignored) until the drone has landed; ``forced_return`` flags
it. Landed at base, a drone charges up to capacity.

Loss: a drone whose battery runs out while airborne away from its base falls where the
energy ran out (``alive`` False, counted in ``n_lost``); one that runs out exactly over
its base lands there with 0 Wh. A lost drone is inert. The reserve rule makes loss rare:
it happens when the charge cannot even cover the straight return (a tiny initial charge,
or ``reserve_fraction`` 0 with a step that overshoots the margin).

Units: m, s, m/s, W, Wh.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import NamedTuple

import numpy as np

from sagsim.envs.platforms.common import (
    SECONDS_PER_HOUR,
    as_vector,
    drain_bits,
    entity_names,
    store_bits,
)
from sagsim.envs.platforms.drone_flight import FlightRates, Plan, plan_step, run_out
from sagsim.envs.platforms.radio import link_arrays, resolve_link
from sagsim.envs.scenario.schema import Scenario

__all__ = ["AT_BASE", "DroneCommand", "DroneFleet", "DroneMode", "DroneStep"]


class DroneMode(IntEnum):
    """Flight state codes stored in ``DroneFleet.mode``."""

    AT_BASE = 0  # landed at the base, charging when not full
    FLYING = 1  # moving toward a GOTO target
    HOVERING = 2  # airborne, holding position
    RETURNING = 3  # moving toward the base


class DroneCommand(IntEnum):
    """Per-step command codes accepted by :meth:`DroneFleet.step`."""

    GOTO = 0
    HOVER = 1
    RETURN = 2


# Plain-int copies of the enum values: enum attribute access costs ~1 µs each on the step path.
_GOTO, _HOVER, _RETURN = int(DroneCommand.GOTO), int(DroneCommand.HOVER), int(DroneCommand.RETURN)
assert (_GOTO, _HOVER, _RETURN) == (0, 1, 2), "plan_step indexes its goal choices by command"
_RETURNING = int(DroneMode.RETURNING)
# DroneMode.AT_BASE as a plain int, for the callers' per-step comparisons with ``mode``.
AT_BASE = int(DroneMode.AT_BASE)
# drone_flight.py uses the codes as plain numbers (and indexes by them): keep them in step.
assert [int(m) for m in DroneMode] == [0, 1, 2, 3]


class DroneStep(NamedTuple):
    """Outcome of one drone step, all ``(n,)``.

    ``energy_used_wh``: flight energy drawn, Wh. ``charged_wh``: energy put into the
    battery at base, Wh. ``flight_time_s`` / ``hover_time_s``: airborne seconds moving /
    holding. ``forced_return``: the reserve rule overrode the command this step (or a
    latched forced return continued). ``lost``: the drone was lost this step.
    """

    energy_used_wh: np.ndarray
    charged_wh: np.ndarray
    flight_time_s: np.ndarray
    hover_time_s: np.ndarray
    forced_return: np.ndarray
    lost: np.ndarray


@dataclass(eq=False)
class DroneFleet:
    """State arrays of ``n`` drones (groups flattened in scenario order).

    ``(n, 2)``: ``position_xy_m``, ``base_xy_m``. ``(n,)`` float: ``altitude_m`` (above the
    base), ``base_alt_m`` (above WGS84), ``cruise_speed_mps``, ``battery_wh``,
    ``battery_capacity_wh``, ``hover_power_w``, ``cruise_power_w``, ``charge_power_w``,
    ``reserve_fraction``, ``distance_flown_m``, ``storage_bits``, ``storage_capacity_bits``,
    transmitter ``tx_power_w``, ``tx_antenna_gain_dbi``, ``frequency_hz``, ``bandwidth_hz``
    (resolved against ``comms.air_to_ground``). ``mode`` ``(n,)`` int (:class:`DroneMode`),
    ``forced_return`` and ``alive`` ``(n,)`` bool. ``rates``: :class:`FlightRates` of the
    fixed parameters (set on creation).
    """

    names: list[str]
    group_index: np.ndarray
    position_xy_m: np.ndarray
    base_xy_m: np.ndarray
    altitude_m: np.ndarray
    base_alt_m: np.ndarray
    cruise_speed_mps: np.ndarray
    battery_wh: np.ndarray
    battery_capacity_wh: np.ndarray
    hover_power_w: np.ndarray
    cruise_power_w: np.ndarray
    charge_power_w: np.ndarray
    reserve_fraction: np.ndarray
    storage_bits: np.ndarray
    storage_capacity_bits: np.ndarray
    tx_power_w: np.ndarray
    tx_antenna_gain_dbi: np.ndarray
    frequency_hz: np.ndarray
    bandwidth_hz: np.ndarray
    distance_flown_m: np.ndarray = field(default=None)  # type: ignore[assignment]
    mode: np.ndarray = field(default=None)  # type: ignore[assignment]
    forced_return: np.ndarray = field(default=None)  # type: ignore[assignment]
    alive: np.ndarray = field(default=None)  # type: ignore[assignment]
    # Per-drone rates derived from the fixed parameters above, used on every step.
    rates: FlightRates = field(init=False, repr=False)

    def __post_init__(self) -> None:
        n = self.n
        if self.distance_flown_m is None:
            self.distance_flown_m = np.zeros(n)
        if self.mode is None:
            self.mode = np.full(n, AT_BASE, dtype=np.int8)
        if self.forced_return is None:
            self.forced_return = np.zeros(n, dtype=bool)
        if self.alive is None:
            self.alive = np.ones(n, dtype=bool)
        self.rates = FlightRates.of(self)

    @property
    def return_wh_per_m(self) -> np.ndarray:
        """Cruise energy per metre × (1 + reserve), Wh/m ``(n,)``: the charge a straight
        flight home needs per metre under the reserve rule."""
        return self.rates.return_wh_per_m

    @property
    def n(self) -> int:
        """Number of drones."""
        return len(self.names)

    @property
    def n_lost(self) -> int:
        """Drones lost so far."""
        return int(np.count_nonzero(~self.alive))

    @classmethod
    def from_scenario(
        cls, scenario: Scenario, base_xy_m_per_group: np.ndarray | Sequence[Sequence[float]]
    ) -> DroneFleet:
        """Build the fleet from ``scenario.drones``; every drone starts landed at its base.

        ``base_xy_m_per_group`` ``(n_groups, 2)``: each group's base in the region grid's
        local x/y metres (the caller converts ``base_lon_deg``/``base_lat_deg``).
        """
        groups = scenario.drones
        bases = np.asarray(base_xy_m_per_group, dtype=float).reshape(-1, 2)
        if bases.shape[0] != len(groups) or not np.all(np.isfinite(bases)):
            raise ValueError(f"base_xy_m_per_group must be finite, shape ({len(groups)}, 2)")
        counts = [g.count for g in groups]

        def per_drone(values: list[float]) -> np.ndarray:
            return np.repeat(np.asarray(values, dtype=float), counts)

        capacity = per_drone([g.battery_capacity_wh for g in groups])
        storage_capacity = per_drone([g.storage.capacity_bits for g in groups])
        base_xy = np.repeat(bases, counts, axis=0)
        links = [resolve_link(scenario.comms.air_to_ground, g.radio) for g in groups]
        return cls(
            names=entity_names([g.name for g in groups], counts),
            group_index=np.repeat(np.arange(len(groups)), counts),
            position_xy_m=base_xy.copy(),
            base_xy_m=base_xy,
            altitude_m=per_drone([g.altitude_m for g in groups]),
            base_alt_m=per_drone([g.base_alt_m for g in groups]),
            cruise_speed_mps=per_drone([g.cruise_speed_mps for g in groups]),
            battery_wh=capacity * per_drone([g.initial_charge_fraction for g in groups]),
            battery_capacity_wh=capacity,
            hover_power_w=per_drone([g.hover_power_w for g in groups]),
            cruise_power_w=per_drone([g.cruise_power_w for g in groups]),
            charge_power_w=per_drone([g.charge_power_w for g in groups]),
            reserve_fraction=per_drone([g.reserve_fraction for g in groups]),
            storage_bits=storage_capacity
            * per_drone([g.storage.initial_fill_fraction for g in groups]),
            storage_capacity_bits=storage_capacity,
            **link_arrays(links, counts),
        )

    # -- energy queries ------------------------------------------------------------------

    def distance_to_base_m(self, position_xy_m: np.ndarray | None = None) -> np.ndarray:
        """Straight-line horizontal distance to the base, m ``(n,)``."""
        pos = self.position_xy_m if position_xy_m is None else position_xy_m
        return np.hypot(*(self.base_xy_m - pos).T)

    def energy_to_return_wh(self, position_xy_m: np.ndarray | None = None) -> np.ndarray:
        """Energy to fly straight back to base, Wh ``(n,)``: distance / speed × cruise power.

        From the current position, or from ``position_xy_m`` ``(n, 2)`` if given.
        """
        flight_s = self.distance_to_base_m(position_xy_m) / self.cruise_speed_mps
        return flight_s * self.cruise_power_w / SECONDS_PER_HOUR

    def endurance_s(self) -> np.ndarray:
        """Hover endurance on the current charge, s ``(n,)`` (0 for a lost drone)."""
        return np.where(self.alive, self.battery_wh * SECONDS_PER_HOUR / self.hover_power_w, 0.0)

    def range_remaining_m(self) -> np.ndarray:
        """Straight cruise distance the current charge allows, m ``(n,)``.

        One-way, ignoring the return leg and the reserve (halve it and subtract the
        reserve for a round trip); 0 for a lost drone.
        """
        flight_s = self.battery_wh * SECONDS_PER_HOUR / self.cruise_power_w
        return np.where(self.alive, flight_s * self.cruise_speed_mps, 0.0)

    # -- dynamics ------------------------------------------------------------------------

    def step(
        self,
        dt_s: float,
        target_xy_m: np.ndarray | None = None,
        command: np.ndarray | None = None,
    ) -> DroneStep:
        """Advance all drones by ``dt_s`` seconds (see the module docstring).

        ``target_xy_m`` ``(n, 2)`` local metres; ``command`` ``(n,)`` int
        (:class:`DroneCommand`). Without ``command``, a finite target means GOTO and a NaN
        target means HOVER; without either, every drone hovers. A GOTO needs a finite
        target. Returns a :class:`DroneStep`; ``energy_used_wh`` is its first field.
        """
        if not dt_s > 0:
            raise ValueError(f"dt_s must be > 0, got {dt_s}")
        n = self.n
        if target_xy_m is None:
            target = np.full((n, 2), np.nan)
        else:
            target = np.array(target_xy_m, dtype=float).reshape(n, 2)
        finite = np.isfinite(target).all(axis=1)
        if command is None:
            cmd = np.where(finite, _GOTO, _HOVER)
        else:
            cmd = as_vector(command, n, "command", int)
            if ((cmd < _GOTO) | (cmd > _RETURN) | ((cmd == _GOTO) & ~finite)).any():
                if cmd.min() < _GOTO or cmd.max() > _RETURN:
                    allowed = [int(c) for c in DroneCommand]
                    raise ValueError(f"command values must be in {allowed}")
                raise ValueError("a GOTO command needs a finite target_xy_m")
        return self.advance(dt_s, target, cmd)

    def advance(self, dt_s: float, target_xy_m: np.ndarray, command: np.ndarray) -> DroneStep:
        """:meth:`step` without its input checks, for callers that pass well-formed arrays
        (the environment's step): ``target_xy_m`` ``(n, 2)`` float (finite where GOTO),
        ``command`` ``(n,)`` int codes of :class:`DroneCommand`."""
        n, target = self.n, target_xy_m
        # A latched forced return ignores the command until landing.
        cmd = np.where(self.forced_return, _RETURN, command)

        c = self.rates
        wanted = plan_step(self, dt_s, cmd, target)
        # Reserve rule: after the step, the charge must still cover the straight flight home
        # plus the reserve (see the module docstring).
        home_m = np.hypot(*(self.base_xy_m - wanted.position_xy_m).T)
        short = self.battery_wh - wanted.airborne_wh < home_m * c.return_wh_per_m
        alive = self.alive
        force = short & (cmd != _RETURN) & alive
        plan = wanted
        if force.any():  # the home plan is only needed where the reserve rule bites
            home = plan_step(self, dt_s, np.full(n, _RETURN), target)
            plan = Plan(
                *(
                    np.where(force[:, None] if w.ndim == 2 else force, h, w)
                    for w, h in zip(wanted, home, strict=True)
                )
            )

        empty = (plan.airborne_wh > self.battery_wh) & alive
        if empty.any():
            flight_s, hover_s, position, charge_s, mode, lost = run_out(self, dt_s, plan, empty)
            used_wh = flight_s * c.cruise_wh_per_s + hover_s * c.hover_wh_per_s
            live = alive & ~lost
        else:  # the usual case: the plan runs as planned, nobody is lost
            flight_s, hover_s, position = plan.flight_s, plan.hover_s, plan.position_xy_m
            charge_s, mode, lost, used_wh = plan.charge_s, plan.mode, empty, plan.airborne_wh
            live = alive

        # A lost drone is inert: nothing moves, nothing is used or charged.
        used_wh = used_wh * alive
        headroom_wh = self.battery_capacity_wh - self.battery_wh + used_wh
        charged_wh = np.minimum(charge_s * c.charge_wh_per_s, headroom_wh) * live
        battery = np.minimum(self.battery_wh - used_wh + charged_wh, self.battery_capacity_wh)
        self.battery_wh = np.maximum(battery, 0.0)
        flight_s = flight_s * alive
        self.distance_flown_m = self.distance_flown_m + self.cruise_speed_mps * flight_s
        self.position_xy_m = np.where(alive[:, None], position, self.position_xy_m)
        self.mode = np.where(alive, mode, self.mode).astype(np.int8)
        forced_now = (force | self.forced_return) & alive
        # The latch holds while the drone is still on its way home.
        self.forced_return = forced_now & (self.mode == _RETURNING)
        self.alive = live
        return DroneStep(used_wh, charged_wh, flight_s, hover_s * alive, forced_now, lost)

    # -- storage -------------------------------------------------------------------------

    def store(self, bits: np.ndarray | float) -> np.ndarray:
        """Store ``bits`` ``(n,)`` where the whole amount fits; return accepted ``(n,)`` bool."""
        return store_bits(self.storage_bits, self.storage_capacity_bits, bits, self.alive)

    def drain(self, bits: np.ndarray | float) -> np.ndarray:
        """Remove up to ``bits`` ``(n,)`` (not below 0); return the bits removed ``(n,)``."""
        return drain_bits(self.storage_bits, bits)
