"""Turning a validated :class:`Scenario` into physics objects: constellation, grid, link budgets.

The schema is data; the physics modules know nothing of the schema. This module is the
one place where the two meet, so the world builder and the inspector assemble things the
same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sagsim.envs.physics.links import LinkBudget
from sagsim.envs.physics.orbits import Constellation
from sagsim.envs.platforms import resolve_link
from sagsim.envs.scenario.loader import region_grid
from sagsim.envs.scenario.schema import (
    GroundRadio,
    LinkParams,
    OpenDataMission,
    OrbitSource,
    Radio,
    SatelliteGroup,
    Scenario,
)

__all__ = [
    "SatelliteSet",
    "build_satellites",
    "ground_link_budget",
    "link_budget",
    "region_grid",
]


@dataclass(frozen=True)
class SatelliteSet:
    """All of a scenario's satellites in one constellation, with their group of origin.

    Attributes:
        constellation: every satellite, groups concatenated in scenario order.
        group_index: (n_sat,) int, index into ``scenario.satellites`` of each satellite.
    """

    constellation: Constellation
    group_index: np.ndarray

    def group(self, scenario: Scenario, i_sat: int) -> SatelliteGroup:
        """The scenario group that satellite ``i_sat`` belongs to."""
        return scenario.satellites[int(self.group_index[i_sat])]

    def open_group(self, scenario: Scenario, i_sat: int) -> OpenDataMission:
        """The ``open_data`` mission that satellite ``i_sat`` belongs to (a set built by
        :func:`build_open_data`)."""
        return scenario.open_data[int(self.group_index[i_sat])]

    def counts(self, n_groups: int) -> list[int]:
        """Satellites per group, in scenario order."""
        return np.bincount(self.group_index, minlength=n_groups).tolist()


def _group_constellation(scenario: Scenario, group: OrbitSource, first: int) -> Constellation:
    if group.walker is None:
        # load_scenario has read tle_file into tle and verified the checksums.
        tle = Constellation.from_tle(group.tle)
        names = [f"{group.name}/{n}" for n in tle.names]
        return Constellation(tle.satrecs, names)
    w = group.walker
    return Constellation.walker_delta(
        planes=w.planes,
        per_plane=w.per_plane,
        phasing=w.phasing,
        altitude_m=w.altitude_m,
        inclination_deg=w.inclination_deg,
        sun_synchronous=w.sun_synchronous,
        raan0_deg=w.raan0_deg,
        raan_spread_deg=w.raan_spread_deg,
        epoch_utc=scenario.epoch_utc,
        first_satnum=first,
        name_prefix=group.name,
    )


def _build_set(scenario: Scenario, groups: list, first: int) -> SatelliteSet:
    satrecs, names, group_index = [], [], []
    for g, group in enumerate(groups):
        part = _group_constellation(scenario, group, first=first + len(satrecs))
        satrecs += part.satrecs
        names += part.names
        group_index += [g] * part.n_sat
    return SatelliteSet(Constellation(satrecs, names), np.asarray(group_index, dtype=np.intp))


def build_satellites(scenario: Scenario) -> SatelliteSet:
    """One :class:`Constellation` with every satellite group of the scenario."""
    return _build_set(scenario, scenario.satellites, first=1)


def build_open_data(scenario: Scenario) -> SatelliteSet:
    """One :class:`Constellation` with every ``open_data`` mission of the scenario (its
    ``group_index`` indexes ``scenario.open_data``; use ``.open_group``); satellite numbers
    follow the tasked satellites'."""
    first = 1 + sum(g.count or Constellation.from_tle(g.tle).n_sat for g in scenario.satellites)
    return _build_set(scenario, scenario.open_data, first=first)


def link_budget(
    defaults: LinkParams,
    efficiency: float,
    radio: Radio | None = None,
    receiver: GroundRadio | None = None,
) -> LinkBudget:
    """A :class:`LinkBudget` from a link class's defaults with transmitter/receiver overrides.

    ``radio`` overrides the transmit side, ``receiver`` the receive side (see
    :func:`sagsim.envs.platforms.resolve_link`); fields left out keep the ``defaults``.
    """
    params = resolve_link(resolve_link(defaults, radio), receiver)
    return LinkBudget(
        **{
            k: getattr(params, k)
            for k in LinkBudget.__dataclass_fields__
            if k in LinkParams.model_fields
        },
        shannon_efficiency=efficiency,
    )


def ground_link_budget(scenario: Scenario, group: SatelliteGroup, station_index: int) -> LinkBudget:
    """The downlink budget from a satellite of ``group`` to ground station ``station_index``."""
    comms = scenario.comms
    station = scenario.ground_stations[station_index]
    return link_budget(comms.space_to_ground, comms.shannon_efficiency, group.radio, station.radio)
