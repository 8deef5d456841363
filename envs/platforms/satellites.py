"""Satellite fleet state: battery energy balance, onboard storage and attitude slews.

Power model (per satellite, one step of ``dt_s`` seconds):

- energy in  = ``solar_power_w`` × ``sunlit_fraction`` × ``dt_s`` — the array output in full
  sun scaled by the fraction of the step spent sunlit (0 eclipse, 1 sun, in between for a
  penumbra or a step that crosses the terminator). Array pointing, degradation and
  temperature are ignored: ``solar_power_w`` is orbit-average-ready output in full sun.
- energy out = (``bus_load_w`` + ``imaging_load_w``·[imaging] + ``transmit_load_w``·[tx])
  × ``dt_s`` + ``slew_load_w`` × ``slewing_s``. Imaging and transmitting are requests for
  the whole step; slewing is charged for the seconds actually spent slewing.
- battery ← clip(battery + in − out, 0, capacity). The battery is an ideal store (no
  charge/discharge efficiency, no depth-of-discharge ageing); energy that would overfill
  it is shed by the array regulator, a deficit at 0 Wh is a brown-out that is not
  modelled further (the bus keeps running, the battery stays at 0).

Gating: activities (imaging, transmitting, slewing) run only on satellites that
``can_operate`` at the *start* of the step — alive and ``battery_wh`` strictly above
``min_charge_fraction`` × capacity. A refused request costs nothing; the bus load is
charged regardless. :meth:`SatelliteFleet.step` returns which requests ran
(:class:`PowerStep`) so the caller can drop the refused acquisitions and downlinks.

Units: energy Wh, power W, time s, data bits, angles deg.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from sagsim.envs.platforms.common import (
    SECONDS_PER_HOUR,
    as_vector,
    drain_bits,
    entity_names,
    store_bits,
)
from sagsim.envs.platforms.radio import link_arrays, resolve_link
from sagsim.envs.scenario.schema import Scenario

__all__ = ["PowerStep", "SatelliteFleet"]


class PowerStep(NamedTuple):
    """Outcome of one power step, all ``(n,)``.

    ``energy_used_wh``: load energy drawn (bus + granted activities), Wh.
    ``solar_in_wh``: array energy produced (before any shedding at full battery), Wh.
    ``imaging_ok`` / ``transmitting_ok`` / ``slewing_ok``: the request ran (False where it
    was not requested or was refused for low charge / a dead satellite).
    """

    energy_used_wh: np.ndarray
    solar_in_wh: np.ndarray
    imaging_ok: np.ndarray
    transmitting_ok: np.ndarray
    slewing_ok: np.ndarray


@dataclass(eq=False)
class SatelliteFleet:
    """State arrays of ``n`` satellites (groups flattened in scenario order).

    All arrays are ``(n,)`` float64 unless noted. Power: ``battery_wh``,
    ``battery_capacity_wh``, ``min_charge_fraction`` (of capacity), ``solar_power_w``,
    ``bus_load_w``, ``imaging_load_w``, ``transmit_load_w``, ``slew_load_w``. Data:
    ``storage_bits``, ``storage_capacity_bits``. Attitude: ``slew_rate_deg_s``,
    ``settle_s``.
    Downlink transmitter (resolved against ``comms.space_to_ground``): ``tx_power_w``,
    ``tx_antenna_gain_dbi``, ``frequency_hz``, ``bandwidth_hz``. ``alive`` (bool):
    a dead satellite neither draws nor harvests energy nor stores data; nothing in this
    module kills a satellite — failures are the caller's (scenario events).
    """

    names: list[str]
    group_index: np.ndarray  # (n,) int: index into scenario.satellites
    battery_wh: np.ndarray
    battery_capacity_wh: np.ndarray
    min_charge_fraction: np.ndarray
    solar_power_w: np.ndarray
    bus_load_w: np.ndarray
    imaging_load_w: np.ndarray
    transmit_load_w: np.ndarray
    slew_load_w: np.ndarray
    storage_bits: np.ndarray
    storage_capacity_bits: np.ndarray
    slew_rate_deg_s: np.ndarray
    settle_s: np.ndarray
    tx_power_w: np.ndarray
    tx_antenna_gain_dbi: np.ndarray
    frequency_hz: np.ndarray
    bandwidth_hz: np.ndarray
    alive: np.ndarray = field(default=None)  # type: ignore[assignment]  # (n,) bool

    def __post_init__(self) -> None:
        if self.alive is None:
            self.alive = np.ones(self.n, dtype=bool)

    @property
    def n(self) -> int:
        """Number of satellites."""
        return len(self.names)

    @classmethod
    def from_scenario(
        cls, scenario: Scenario, n_per_group: Sequence[int] | None = None
    ) -> SatelliteFleet:
        """Build the fleet from ``scenario.satellites``.

        ``n_per_group[i]`` is the number of satellites of group ``i`` (TLE groups are
        counted by the orbit parser). Walker groups must match ``group.count``. If
        ``n_per_group`` is None every group must be a Walker shell.
        """
        groups = scenario.satellites
        if n_per_group is None:
            if any(g.count is None for g in groups):
                raise ValueError("n_per_group is required when a satellite group uses TLEs")
            n_per_group = [g.count for g in groups]  # type: ignore[misc]
        counts = [int(c) for c in n_per_group]
        if len(counts) != len(groups):
            raise ValueError(f"n_per_group has {len(counts)} entries for {len(groups)} groups")
        for g, c in zip(groups, counts, strict=True):
            if c < 0 or (g.count is not None and c != g.count):
                raise ValueError(f"satellites[{g.name}]: count {c} != walker count {g.count}")

        def per_sat(values: list[float]) -> np.ndarray:
            return np.repeat(np.asarray(values, dtype=float), counts)

        capacity = per_sat([g.power.battery_capacity_wh for g in groups])
        storage_capacity = per_sat([g.storage.capacity_bits for g in groups])
        links = [resolve_link(scenario.comms.space_to_ground, g.radio) for g in groups]
        return cls(
            names=entity_names([g.name for g in groups], counts),
            group_index=np.repeat(np.arange(len(groups)), counts),
            battery_wh=capacity * per_sat([g.power.initial_charge_fraction for g in groups]),
            battery_capacity_wh=capacity,
            min_charge_fraction=per_sat([g.power.min_charge_fraction for g in groups]),
            solar_power_w=per_sat([g.power.solar_power_w for g in groups]),
            bus_load_w=per_sat([g.power.bus_load_w for g in groups]),
            imaging_load_w=per_sat([g.power.imaging_load_w for g in groups]),
            transmit_load_w=per_sat([g.power.transmit_load_w for g in groups]),
            slew_load_w=per_sat([g.power.slew_load_w for g in groups]),
            storage_bits=storage_capacity
            * per_sat([g.storage.initial_fill_fraction for g in groups]),
            storage_capacity_bits=storage_capacity,
            slew_rate_deg_s=per_sat([g.slew_rate_deg_s for g in groups]),
            settle_s=per_sat([g.settle_s for g in groups]),
            **link_arrays(links, counts),
        )

    # -- power ---------------------------------------------------------------------------

    @property
    def min_charge_wh(self) -> np.ndarray:
        """Charge below which only the bus load runs, Wh ``(n,)``."""
        return self.min_charge_fraction * self.battery_capacity_wh

    @property
    def can_operate(self) -> np.ndarray:
        """``(n,)`` bool: alive and battery strictly above the minimum charge."""
        return self.alive & (self.battery_wh > self.min_charge_wh)

    @property
    def charge_fraction(self) -> np.ndarray:
        """State of charge in [0, 1], ``(n,)``."""
        return self.battery_wh / self.battery_capacity_wh

    def step(
        self,
        dt_s: float,
        sunlit_fraction: np.ndarray,
        imaging: np.ndarray,
        transmitting: np.ndarray,
        slewing_s: np.ndarray | float = 0.0,
    ) -> PowerStep:
        """Advance the batteries by ``dt_s`` seconds (see the module docstring).

        ``sunlit_fraction`` ``(n,)`` in [0, 1]; ``imaging``, ``transmitting`` ``(n,)`` bool
        requests for the whole step; ``slewing_s`` ``(n,)`` seconds spent slewing this
        step, clipped to [0, dt_s]. Scalars broadcast. Returns a :class:`PowerStep`.
        """
        if not dt_s > 0:
            raise ValueError(f"dt_s must be > 0, got {dt_s}")
        n = self.n
        # np.minimum/np.maximum instead of np.clip: a third of the overhead on tiny arrays.
        sun = np.minimum(np.maximum(as_vector(sunlit_fraction, n, "sunlit_fraction"), 0.0), 1.0)
        slew_s = np.minimum(np.maximum(as_vector(slewing_s, n, "slewing_s"), 0.0), dt_s)
        return self.advance(dt_s, sun, as_vector(imaging, n, "imaging", bool),
                            as_vector(transmitting, n, "transmitting", bool), slew_s)  # fmt: skip

    def advance(self, dt_s, sunlit_fraction, imaging, transmitting, slewing_s) -> PowerStep:
        """:meth:`step` without its input checks, for callers that pass well-formed
        arrays (the environment's step): ``(n,)`` float in [0, 1], bool, bool, float in
        [0, dt_s]."""
        sun, slew_s = sunlit_fraction, slewing_s
        ok = self.can_operate  # gate on the charge at the start of the step
        imaging_ok = ok & imaging
        transmitting_ok = ok & transmitting
        slewing_ok = ok & (slew_s > 0)

        load_w = self.bus_load_w + imaging_ok * self.imaging_load_w
        load_w += transmitting_ok * self.transmit_load_w
        used_wh = (load_w * dt_s + slewing_ok * self.slew_load_w * slew_s) / SECONDS_PER_HOUR
        solar_wh = self.solar_power_w * sun * (dt_s / SECONDS_PER_HOUR)
        # A dead satellite is inert: no loads, no harvest.
        used_wh *= self.alive
        solar_wh *= self.alive
        battery = np.minimum(self.battery_wh + solar_wh - used_wh, self.battery_capacity_wh)
        self.battery_wh = np.maximum(battery, 0.0)
        return PowerStep(used_wh, solar_wh, imaging_ok, transmitting_ok, slewing_ok)

    # -- storage -------------------------------------------------------------------------

    @property
    def storage_free_bits(self) -> np.ndarray:
        """Free onboard storage, bits ``(n,)``."""
        return self.storage_capacity_bits - self.storage_bits

    def store(self, bits: np.ndarray | float) -> np.ndarray:
        """Store ``bits`` ``(n,)`` where the whole amount fits; return accepted ``(n,)`` bool."""
        return store_bits(self.storage_bits, self.storage_capacity_bits, bits, self.alive)

    def drain(self, bits: np.ndarray | float) -> np.ndarray:
        """Remove up to ``bits`` ``(n,)`` (not below 0); return the bits removed ``(n,)``."""
        return drain_bits(self.storage_bits, bits)

    # -- attitude ------------------------------------------------------------------------

    def slew_time_s(self, delta_angle_deg: np.ndarray | float) -> np.ndarray:
        """Time to slew through ``delta_angle_deg`` ``(n,)`` at the constant slew rate, s.

        Rest-to-rest at constant rate (no acceleration or settling time); the sign of the
        angle is ignored.
        """
        return np.abs(as_vector(delta_angle_deg, self.n, "delta_angle_deg")) / self.slew_rate_deg_s
