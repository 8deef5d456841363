"""The scenario's ``faults`` section: what breaks in the world, when, and at what rates.

Scheduled faults (``events``), each with a ``kind``:

- ``satellite_failure`` / ``drone_lost``: ``agent`` stops for good at ``t_s``;
- ``station_outage``: station ``agent`` is down from ``t_s`` for ``duration_s``;
- ``isl_outage``: the inter-satellite links of ``agents`` (satellites; empty: all) are down
  from ``t_s`` for ``duration_s``;
- ``sensor_degrade``: from ``t_s`` on, ``agent``'s images carry ``noise_factor`` × its
  sensor's noise and (``perception: imagery``) a ``stuck_fraction`` of stuck pixels;
- ``comm_blackout``: a region-wide loss of ground communication from ``t_s`` for
  ``duration_s``: every station of ``agents`` (empty: all) is down, and no drone can reach
  the ground or another drone.

Random faults (``random``) are drawn from mean times between failures with the episode's
seed (``redraw: episode``) or once from the scenario's ``seed`` (``redraw: scenario``).
Agent names are the environment's (``sat_<i>``, ``uav_<i>``, ``gs_<i>``:
:mod:`sagsim.envs.scenario.agent_names`); they are checked
against the scenario's counts when the world is built (:mod:`sagsim.envs.world.faults`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field, model_validator

from sagsim.envs.scenario.agent_names import AGENT_NAME, is_agent_name
from sagsim.envs.scenario.schema.base import Section, unit

__all__ = ["FAULT_KINDS", "FAULT_RULES", "Fault", "FaultRule", "Faults", "RandomFaults"]


@dataclass(frozen=True)
class FaultRule:
    """What a fault kind names and takes: the agent prefixes its ``agent``/``agents`` may
    name, whether it names one ``agent`` (else a list ``agents``), whether it lasts
    ``duration_s`` (a window), and whether it takes ``noise_factor``/``stuck_fraction``."""

    agent_prefixes: tuple[str, ...]
    one_agent: bool
    window: bool
    degrades: bool = False


# Every fault kind, once: a new kind is a row here and its effect in
# sagsim.envs.world.faults (which refuses a kind it does not know).
FAULT_RULES: dict[str, FaultRule] = {
    "satellite_failure": FaultRule(("sat",), one_agent=True, window=False),
    "drone_lost": FaultRule(("uav",), one_agent=True, window=False),
    "station_outage": FaultRule(("gs",), one_agent=True, window=True),
    "isl_outage": FaultRule(("sat",), one_agent=False, window=True),
    "sensor_degrade": FaultRule(("sat", "uav"), one_agent=True, window=False, degrades=True),
    "comm_blackout": FaultRule(("gs",), one_agent=False, window=True),
}
FaultKind = Literal[tuple(FAULT_RULES)]  # type: ignore[valid-type]
FAULT_KINDS: tuple[str, ...] = tuple(FAULT_RULES)
WINDOW_KINDS = tuple(kind for kind, rule in FAULT_RULES.items() if rule.window)
MAX_FAULT_TIME_S = 30 * 86_400.0  # the longest episode a scenario allows
MAX_FAULT_EVENTS = 10_000
# Below a minute a "mean time between failures" is a broken platform, not a fault model;
# it also caps the number of drawn outages per station and episode.
MIN_MTBF_S = 60.0


class Fault(Section):
    """One scheduled fault (see the module doc for what each kind does)."""

    kind: FaultKind = Field(description="what breaks")
    t_s: float = Field(
        ge=0.0,
        le=MAX_FAULT_TIME_S,
        description="when it starts, s after the epoch",
        json_schema_extra=unit("s"),
    )
    duration_s: float | None = Field(
        None, gt=0.0, le=MAX_FAULT_TIME_S, json_schema_extra=unit("s"),
        description="outage length (station_outage, isl_outage, comm_blackout; none: to the end)",
    )  # fmt: skip
    agent: str | None = Field(
        None, pattern=AGENT_NAME,
        description="the platform (satellite_failure, drone_lost, station_outage, sensor_degrade)",
    )  # fmt: skip
    agents: list[str] = Field(
        default_factory=list, max_length=10_000,
        description="isl_outage: its satellites; comm_blackout: its stations (empty: all)",
    )  # fmt: skip
    noise_factor: float = Field(
        1.0,
        ge=1.0,
        le=1000.0,
        description="sensor_degrade: × the sensor's noise std",
        json_schema_extra=unit("1"),
    )
    stuck_fraction: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="sensor_degrade: share of stuck pixels (imagery mode)",
        json_schema_extra=unit("1"),
    )

    @model_validator(mode="after")
    def _fields_of_kind(self) -> Fault:
        rule = FAULT_RULES[self.kind]
        one = rule.one_agent
        if one and self.agent is None:
            raise ValueError(f"{self.kind} needs agent")
        if not one and self.agent is not None:
            raise ValueError(f"{self.kind} takes agents (a list), not agent")
        if one and self.agents:
            raise ValueError(f"{self.kind} takes agent, not agents")
        if self.duration_s is not None and self.kind not in WINDOW_KINDS:
            raise ValueError(f"duration_s: only for {', '.join(WINDOW_KINDS)}")
        degrade = self.noise_factor != 1.0 or self.stuck_fraction != 0.0
        if rule.degrades and not degrade:
            raise ValueError(f"{self.kind} needs noise_factor > 1 or stuck_fraction > 0")
        if not rule.degrades and degrade:
            only = ", ".join(k for k, r in FAULT_RULES.items() if r.degrades)
            raise ValueError(f"noise_factor and stuck_fraction: only for {only}")
        allowed = rule.agent_prefixes
        for name in [self.agent] if one else self.agents:
            if not is_agent_name(name, allowed):
                raise ValueError(f"{self.kind}: {name!r} is not allowed (allowed: "
                                 f"{', '.join(p + '_<i>' for p in allowed)})")  # fmt: skip
        return self


class RandomFaults(Section):
    """Faults drawn from rates: each satellite and drone fails once after an exponential time
    of mean ``*_mtbf_s``; each station goes down after an exponential up-time of mean
    ``station_mtbf_s`` and comes back after one of mean ``station_mttr_s``, repeatedly."""

    satellite_mtbf_s: float | None = Field(
        None,
        ge=MIN_MTBF_S,
        le=1e12,
        description="satellites' mean time to failure (none: never)",
        json_schema_extra=unit("s"),
    )
    drone_mtbf_s: float | None = Field(
        None,
        ge=MIN_MTBF_S,
        le=1e12,
        description="drones' mean time to loss (none: never)",
        json_schema_extra=unit("s"),
    )
    station_mtbf_s: float | None = Field(
        None,
        ge=MIN_MTBF_S,
        le=1e12,
        description="stations' mean time between outages (none: never)",
        json_schema_extra=unit("s"),
    )
    station_mttr_s: float = Field(
        3600.0,
        ge=1.0,
        le=MAX_FAULT_TIME_S,
        description="stations' mean outage length",
        json_schema_extra=unit("s"),
    )
    redraw: Literal["episode", "scenario"] = Field(
        "episode",
        description="episode: new draws at every reset (its seed); scenario: once, from seed",
    )


class Faults(Section):
    """Faults in the world (module doc); empty by default."""

    events: list[Fault] = Field(
        default_factory=list, max_length=MAX_FAULT_EVENTS, description="scheduled faults"
    )
    random: RandomFaults = Field(default_factory=RandomFaults, description="faults from rates")

    @property
    def active(self) -> bool:
        """Any fault can happen."""
        r = self.random
        return bool(self.events) or any(
            v is not None for v in (r.satellite_mtbf_s, r.drone_mtbf_s, r.station_mtbf_s)
        )
