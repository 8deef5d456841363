"""Sanity warnings: scenario values that are legal but almost certainly not meant.

A :class:`ScenarioWarning` (a :class:`sagsim.cli.InputWarning`, a ``UserWarning``) is
emitted with :func:`warnings.warn`, one line each: ``SOURCE: FIELD: what is odd (the
rule)``, where SOURCE is the scenario file (or the scenario's name when it did not come
from a file). The command-line tools print
each as one ``warning: ...`` line on stderr (:func:`sagsim.cli.one_line_warnings`).

The rules (each one a function below, whose docstring states it exactly):

- a drone base farther from the region than the drone's out-and-back radius
  (:func:`out_and_back_radius_m`): its drones can never reach the region;
- a TLE epoch more than :data:`TLE_EPOCH_MAX_DAYS` days from the scenario epoch (SGP4's
  error grows by ~1-3 km a day away from the element set's epoch);
- a listed target's or an event's centre outside the region (the world pins it to the
  nearest edge cell);
- an event that starts after the episode's last decision step, or a scheduled fault at or
  after the episode's end: it never happens;
- ``env.max_cycles`` above the scenario's number of steps: it changes nothing;
- a ground station that sees no satellite at any decision step of the episode (from the
  per-step visibility the world computes anyway: :func:`station_findings`);
- (the inspector only, from the access it counts) a satellite group that can image no
  task at any step (:func:`group_access_findings`).

The first five are checked when a scenario is loaded (:func:`static_findings`, called by
:func:`sagsim.envs.scenario.loader.load_scenario`): once per load, never per environment copy;
fields replaced in code (``resolve_scenario``'s overrides) are not checked. The station rule needs
the episode's geometry, so it runs where that is computed: when an environment builds its
world for an episode of the scenario's whole duration (:class:`sagsim.envs.sag_env.SagEnv` not cut
short by ``max_cycles``, without overrides; in the main process only: a worker process
rebuilding the same world does not repeat it), and in the inspector (for the episode as the
scenario sets it). An environment shows a given line once per process
(``warn_findings(..., once=True)``), so environment copies and episodes do not repeat it.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from sagsim.cli import InputWarning
from sagsim.envs.physics.geodesy import geod
from sagsim.envs.scenario.schema import DroneGroup, Scenario
from sagsim.sensor_kinds import SENSOR_KINDS

if TYPE_CHECKING:
    from sagsim.envs.physics.region_grid import RegionGrid

__all__ = [
    "MAX_FINDINGS_PER_LIST",
    "TLE_EPOCH_MAX_DAYS",
    "Finding",
    "ScenarioWarning",
    "drone_base_findings",
    "episode_steps",
    "group_access_findings",
    "in_region",
    "late_findings",
    "no_access_findings",
    "out_and_back_radius_m",
    "outside_region_findings",
    "outside_region_m",
    "static_findings",
    "station_findings",
    "tle_epoch",
    "tle_epoch_findings",
    "warn_findings",
]

# SGP4 from a LEO element set drifts by roughly 1-3 km a day away from its epoch (along
# track, mostly from drag): two weeks is already tens of km, several swath widths.
TLE_EPOCH_MAX_DAYS = 14.0
# A list with many offending entries (10,000 targets outside the region) gives this many
# lines, then one line counting the rest.
MAX_FINDINGS_PER_LIST = 5
# Boundary points searched at first for the nearest one (then refined around it).
_COARSE_BOUNDARY_POINTS = 512


class ScenarioWarning(InputWarning):
    """A legal scenario value that is almost certainly not meant (one-line message)."""


class Finding(NamedTuple):
    """One sanity warning: the field it is about (``drones[0].base_lat_deg/base_lon_deg``)
    and what is odd, with the rule."""

    field: str
    rule: str

    def text(self, source: str) -> str:
        """The warning's one line: ``SOURCE: FIELD: RULE``."""
        return _one_line(f"{source}: {self.field}: {self.rule}")


# Lines already emitted with ``once`` by this process.
_SHOWN_ONCE: set[str] = set()


def warn_findings(source: str, findings: Iterable[Finding], once: bool = False) -> None:
    """Emit each finding as a :class:`ScenarioWarning` naming ``source`` (file or name).

    ``once``: skip a line this process has already emitted with ``once`` (for what every
    environment copy and episode recomputes). Python's own filter cannot be relied on for
    that: any ``warnings.catch_warnings`` block, in any library, resets what it has shown.
    """
    for finding in findings:
        text = finding.text(source)
        if once:
            if text in _SHOWN_ONCE:
                continue
            _SHOWN_ONCE.add(text)
        warnings.warn(text, ScenarioWarning, stacklevel=2)


def _one_line(text: str, limit: int = 1000) -> str:
    # Names come from the file: a newline or control character must not split the line.
    text = "".join(c if c.isprintable() else " " for c in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _capped(findings: list[Finding], field: str, what: str) -> list[Finding]:
    if len(findings) <= MAX_FINDINGS_PER_LIST:
        return findings
    rest = len(findings) - MAX_FINDINGS_PER_LIST
    return [*findings[:MAX_FINDINGS_PER_LIST], Finding(field, f"and {rest:,} more {what}")]


# ---------------------------------------------------------------------------
# Shared figures


def episode_steps(scenario: Scenario) -> int:
    """Decision steps in one episode: ``duration_s / step_s``, capped by ``env.max_cycles``."""
    cap = scenario.env.max_cycles
    return scenario.n_steps if cap is None else min(cap, scenario.n_steps)


def out_and_back_radius_m(drone: DroneGroup) -> float:
    """The farthest a drone of the group can fly out and back at cruise from a full
    battery, m: ``C·v / (P·(2 + r))`` with C the battery (J), v the cruise speed, P the
    cruise power and r the reserve fraction. It is the return-to-base rule of
    :class:`sagsim.envs.platforms.DroneFleet`: at the turn point the battery must still hold the
    return energy × (1 + r), so C − d·P/v ≥ (1 + r)·d·P/v."""
    capacity_j = drone.battery_capacity_wh * 3600.0
    return (
        capacity_j
        * drone.cruise_speed_mps
        / (drone.cruise_power_w * (2.0 + drone.reserve_fraction))
    )


def in_region(grid: RegionGrid, lon_deg, lat_deg) -> np.ndarray:
    """Whether each point lies in the region as the world sees it: its grid cell is one of
    the region's cells (``grid.mask``); the world pins a task centre that is not to the
    nearest edge cell. Bool array of the points' shape."""
    row, col = grid.cell_index_lonlat(lon_deg, lat_deg)
    inside = row >= 0
    inside[inside] = grid.mask[row[inside], col[inside]]
    return inside


def outside_region_m(grid: RegionGrid, lon_deg: float, lat_deg: float) -> float:
    """Geodesic distance (m) from a point to the region's boundary, 0 for a point inside
    (:func:`in_region`). The boundary is the grid's densified ring (points ≤ 2 km apart);
    the nearest point is found on a coarse subset, then among the points around it."""
    if in_region(grid, np.array([lon_deg]), np.array([lat_deg]))[0]:
        return 0.0
    ring = grid.boundary_lonlat_deg
    stride = max(1, len(ring) // _COARSE_BOUNDARY_POINTS)
    coarse = _distances_m(ring[::stride], lon_deg, lat_deg)
    best = int(np.argmin(coarse)) * stride
    # The true nearest point lies within a stride of the coarse one on either side (the
    # distance along a ring to a point outside it has no other minimum that close).
    window = ring[np.arange(best - 2 * stride, best + 2 * stride + 1) % len(ring)]
    return float(min(coarse.min(), _distances_m(window, lon_deg, lat_deg).min()))


def _distances_m(points_lonlat: np.ndarray, lon_deg: float, lat_deg: float) -> np.ndarray:
    n = len(points_lonlat)
    _, _, dist = geod().inv(np.full(n, lon_deg), np.full(n, lat_deg),
                            points_lonlat[:, 0], points_lonlat[:, 1])  # fmt: skip
    return np.asarray(dist)


# ---------------------------------------------------------------------------
# Rules checked when a scenario is loaded


def static_findings(scenario: Scenario, grid: RegionGrid) -> list[Finding]:
    """Every load-time rule (see the module docstring) on a validated scenario whose TLEs
    are read (``tle`` filled in) and whose region grid is ``grid``."""
    return [
        *drone_base_findings(scenario, grid),
        *tle_epoch_findings(scenario),
        *outside_region_findings(scenario, grid),
        *late_findings(scenario),
    ]


def drone_base_findings(scenario: Scenario, grid: RegionGrid) -> list[Finding]:
    """A drone group whose base lies farther from the region (geodesic distance to its
    boundary, :func:`outside_region_m`) than the group's out-and-back radius
    (:func:`out_and_back_radius_m`): its drones cannot reach any part of the region."""
    out = []
    for i, d in enumerate(scenario.drones):
        radius_m = out_and_back_radius_m(d)
        away_m = outside_region_m(grid, d.base_lon_deg, d.base_lat_deg)
        if away_m > radius_m:
            # The swap hint only where swapping would put the base within reach.
            swapped = abs(d.base_lon_deg) <= 90.0 and outside_region_m(
                grid, d.base_lat_deg, d.base_lon_deg) <= radius_m  # fmt: skip
            hint = " (latitude and longitude swapped?)" if swapped else ""
            out.append(Finding(
                f"drones[{i}].base_lat_deg/base_lon_deg",
                f"the base of '{d.name}' ({d.base_lat_deg:g}, {d.base_lon_deg:g}) is "
                f"{away_m / 1e3:,.0f} km from the region, beyond the drones' out-and-back "
                f"radius of {radius_m / 1e3:,.1f} km (battery × cruise speed / (cruise power × "
                f"(2 + reserve))): they can never reach it{hint}",
            ))  # fmt: skip
    return out


def tle_epoch(line1: str) -> dt.datetime:
    """The epoch (UTC) of a TLE from its line 1 (columns 19-32: two-digit year, 57-99 →
    19xx, and fractional day of the year, 1.0 = 1 January 00:00)."""
    yy = int(line1[18:20])
    year = 1900 + yy if yy >= 57 else 2000 + yy
    day = float(line1[20:32])
    return dt.datetime(year, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=day - 1.0)


def _days_from(line1: str, epoch_utc: dt.datetime) -> float:
    """Days from ``epoch_utc`` to the TLE's epoch; 0 for an epoch field that does not read
    as a number (SGP4 has accepted the set: it is not this check's to refuse)."""
    try:
        return (tle_epoch(line1) - epoch_utc).total_seconds() / 86_400.0
    except (ValueError, OverflowError):
        return 0.0


def tle_epoch_findings(scenario: Scenario) -> list[Finding]:
    """A satellite or open-data group read from TLEs, one of whose element sets has its
    epoch more than :data:`TLE_EPOCH_MAX_DAYS` days before or after the scenario epoch
    (the farthest set is named, and how many others also are): SGP4's position error grows
    by ~1-3 km a day away from a set's epoch, so the orbits are tens to hundreds of km off
    where the satellites really were at that time."""
    from sagsim.envs.physics.orbits import parse_tle_sets  # sgp4 is loaded by the TLE check already

    out = []
    for section in ("satellites", "open_data"):
        for i, group in enumerate(getattr(scenario, section)):
            if group.tle is None:
                continue
            sets = parse_tle_sets(group.tle)
            days = np.array([_days_from(l1, scenario.epoch_utc) for _, l1, _ in sets])
            stale = np.flatnonzero(np.abs(days) > TLE_EPOCH_MAX_DAYS)
            if stale.size == 0:
                continue
            worst = int(stale[np.argmax(np.abs(days[stale]))])
            name, line1, _ = sets[worst]
            label = name or line1[2:7].strip()
            when = "before" if days[worst] < 0 else "after"
            more = f" (and {stale.size - 1} more of its sets)" if stale.size > 1 else ""
            field = f"{section}[{i}].{'tle_file' if group.tle_file is not None else 'tle'}"
            out.append(Finding(
                field,
                f"the epoch of TLE '{label}' ({tle_epoch(line1):%Y-%m-%d}) is "
                f"{abs(days[worst]):,.0f} days {when} the scenario epoch "
                f"({scenario.epoch_utc:%Y-%m-%d}){more}; more than {TLE_EPOCH_MAX_DAYS:g} days "
                "apart, SGP4 positions are off by tens of km or more (~1-3 km a day): use "
                "element sets from near the epoch",
            ))  # fmt: skip
    return out


def outside_region_findings(scenario: Scenario, grid: RegionGrid) -> list[Finding]:
    """A listed target (``targets.points``) or an event whose centre lies outside the
    region (:func:`in_region`), with its distance from the region's boundary: the world
    moves it to the nearest edge cell, so it is observed somewhere it is not. Drawn targets
    are drawn inside the region and are not checked."""
    out = []
    for section, items in (("targets.points", scenario.targets.points),
                           ("events", scenario.events)):  # fmt: skip
        if not items:
            continue
        lon = np.array([t.lon_deg for t in items])
        lat = np.array([t.lat_deg for t in items])
        found = []
        for j in np.flatnonzero(~in_region(grid, lon, lat)):
            t = items[j]
            away = ""  # a distance only for the lines shown (a list may be 10,000 long)
            if len(found) < MAX_FINDINGS_PER_LIST:
                away = f"{outside_region_m(grid, t.lon_deg, t.lat_deg) / 1e3:,.1f} km "
            label = f"'{t.name}' " if t.name else ""
            found.append(Finding(
                f"{section}[{j}].lat_deg/lon_deg",
                f"the centre of {label}({t.lat_deg:g}, {t.lon_deg:g}) is {away}outside the "
                "region; the world moves it to the region's nearest edge cell (latitude and "
                "longitude swapped, or a point of another region?)",
            ))  # fmt: skip
        out += _capped(found, section, "centres outside the region")
    return out


def late_findings(scenario: Scenario) -> list[Finding]:
    """Things that would happen after the episode, so never: an event whose ``start_s`` is
    after the last decision step's time ((steps − 1) × ``step_s``, steps as
    :func:`episode_steps`); a scheduled fault whose ``t_s`` is at or after the episode's
    end (steps × ``step_s``); ``env.max_cycles`` above the scenario's
    ``duration_s / step_s`` steps (episodes end there anyway)."""
    steps = episode_steps(scenario)
    last_s, end_s = (steps - 1) * scenario.step_s, steps * scenario.step_s
    why = f"{steps:,} steps of {scenario.step_s:g} s"
    out = [
        Finding(
            f"events[{i}].start_s",
            f"'{e.name or e.kind}' starts at {e.start_s:g} s, after the episode's last step "
            f"(at {last_s:g} s; {why}): it never happens",
        )
        for i, e in enumerate(scenario.events)
        if e.start_s > last_s
    ]
    out = _capped(out, "events", "events that start after the episode")
    late = [
        Finding(
            f"faults.events[{i}].t_s",
            f"the {f.kind} at {f.t_s:g} s is at or after the episode's end ({end_s:g} s; "
            f"{why}): it never happens",
        )
        for i, f in enumerate(scenario.faults.events)
        if f.t_s >= end_s
    ]
    out += _capped(late, "faults.events", "faults after the episode")
    cap = scenario.env.max_cycles
    if cap is not None and cap > scenario.n_steps:
        out.append(Finding(
            "env.max_cycles",
            f"{cap:,} is more than the scenario's {scenario.n_steps:,} steps (duration_s "
            f"{scenario.duration_s:g} / step_s {scenario.step_s:g}): episodes end after "
            f"{scenario.n_steps:,} steps anyway (raise duration_s for longer episodes)",
        ))  # fmt: skip
    return out


# ---------------------------------------------------------------------------
# Rules on the episode's geometry (where it is computed: the world, the inspector)


def station_findings(scenario: Scenario, gs_visible: np.ndarray) -> list[Finding]:
    """A ground station that sees no satellite (elevation ≥ its ``min_elevation_deg``) at
    any decision step of the episode, in a scenario with satellites: it can never receive
    a downlink. ``gs_visible`` ``(steps, n_sat, n_gs)`` bool: the world's per-step
    visibility (:class:`sagsim.envs.world.ephemeris.EpisodeGeometry`), decision steps only."""
    if gs_visible.shape[1] == 0:
        return []
    seen = gs_visible.any(axis=(0, 1))
    out = []
    for k in np.flatnonzero(~seen):
        s = scenario.ground_stations[k]
        out.append(Finding(
            f"ground_stations[{k}].lat_deg/lon_deg",
            f"'{s.name}' ({s.lat_deg:g}, {s.lon_deg:g}) sees no satellite above its "
            f"{s.min_elevation_deg:g}° mask at any of the episode's {gs_visible.shape[0]:,} "
            "steps: it can never receive a downlink (latitude and longitude swapped?)",
        ))  # fmt: skip
    return _capped(out, "ground_stations", "stations that see no satellite")


def no_access_findings(steps_with_access: int, n_steps: int, step_s: float) -> list[Finding]:
    """An episode in which no satellite or drone can image any task at any decision step
    (``steps_with_access`` of its ``n_steps``): every policy's episode is the same, with
    nothing to image (typically ``max_cycles`` cutting a night-time start short)."""
    if steps_with_access > 0:
        return []
    return [Finding(
        "env.max_cycles",
        f"in the episode's {n_steps:,} steps ({n_steps * step_s / 3600.0:.1f} h) no satellite "
        "or drone can image any task (horizon, off-nadir limit, sunlight for optical, drone "
        "reach): every policy gets the same nothing; a longer episode or a later epoch_utc",
    )]  # fmt: skip


def group_access_findings(scenario: Scenario, group_steps: Sequence[int]) -> list[Finding]:
    """A satellite group none of whose satellites can image any task at any decision step
    (the world's static access: above the task's horizon, within ``max_off_nadir_deg``,
    the task active and, for an optical sensor, the sun at the task at least
    ``min_sun_elevation_deg``). ``group_steps[g]``: steps in which group g can image
    some task."""
    out = []
    for g, group in enumerate(scenario.satellites):
        if group_steps[g] > 0:
            continue
        sensor = group.sensor
        hint = ""
        if sensor.max_off_nadir_deg == 0.0:
            hint = ("; with max_off_nadir_deg 0 a task must lie exactly at nadir at a step's "
                    "start, whatever the swath")  # fmt: skip
        out.append(Finding(
            f"satellites[{g}]",
            f"no satellite of '{group.name}' ({sensor.kind}) can image any task at any step "
            f"of the episode (horizon, off-nadir limit {sensor.max_off_nadir_deg:g}°"
            f"{', sunlight' if SENSOR_KINDS[sensor.kind].needs_daylight else ''}{hint}): its "
            "agents can only relay, downlink or idle",
        ))  # fmt: skip
    return out
