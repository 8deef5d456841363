"""Coverage of the region: when can the constellation image a point, and how often.

A point is *accessible* to a satellite when it can lie in the image: boresight at most
``max_off_nadir_deg`` from nadir plus half the field of view. On a spherical Earth that is
an elevation mask at the point, so accesses are contact windows with that mask
(:func:`sagsim.envs.physics.contacts.contact_windows_many`); optical accesses also need the sun
above ``min_sun_elevation_deg`` at the point.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from sagsim.envs.physics.contacts import contact_windows_many
from sagsim.envs.physics.orbits import Constellation, sun_elevation_deg
from sagsim.envs.physics.region_grid import RegionGrid
from sagsim.envs.physics.sensor_geometry import full_fov_deg_from_swath_m, spherical_look_geometry
from sagsim.envs.platforms.assembly import SatelliteSet
from sagsim.envs.scenario.schema import Scenario, Sensor
from sagsim.sensor_kinds import SENSOR_KINDS

REVISIT_POINTS_PER_AXIS = 3  # a 3×3 lattice of points spans the region's centre, edges, corners

__all__ = ["access_min_elevation_deg", "gap_stats", "half_fov_deg", "revisit_statistics"]


def _subset(constellation: Constellation, index: np.ndarray) -> Constellation:
    return Constellation(
        [constellation.satrecs[i] for i in index], [constellation.names[i] for i in index]
    )


def half_fov_deg(sensor: Sensor, altitude_m: float) -> float:
    """Half the cross-track field of view (deg), from ``fov_deg`` or ``swath_m`` at nadir."""
    if sensor.fov_deg is not None:
        return sensor.fov_deg / 2.0
    return float(full_fov_deg_from_swath_m(sensor.swath_m, altitude_m)) / 2.0


def access_min_elevation_deg(sensor: Sensor, altitude_m: float) -> float:
    """Lowest elevation at which a target can be in the image: boresight at max off-nadir
    plus half the field of view (spherical Earth; beyond the horizon → 0°)."""
    reach_deg = min(sensor.max_off_nadir_deg + half_fov_deg(sensor, altitude_m), 89.0)
    incidence_deg, _, _ = spherical_look_geometry(altitude_m, reach_deg)
    return 0.0 if np.isnan(incidence_deg) else float(90.0 - incidence_deg)


def merge_intervals(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[list[float]] = []
    for a, b in sorted(intervals):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return [(a, b) for a, b in merged]


def gap_stats(intervals: list[tuple[float, float]], duration_s: float) -> tuple[int, float, float]:
    """(accesses, mean revisit interval s, longest gap s incl. the episode's edges)."""
    merged = merge_intervals(intervals)
    if not merged:
        return 0, float("nan"), duration_s
    starts = np.array([a for a, _ in merged])
    ends = np.array([b for _, b in merged])
    gaps = np.concatenate([[starts[0]], starts[1:] - ends[:-1], [duration_s - ends[-1]]])
    revisit = float(np.mean(np.diff(starts))) if len(starts) > 1 else float("nan")
    return len(merged), revisit, float(gaps.max())


def revisit_statistics(
    scenario: Scenario,
    sats: SatelliteSet,
    altitude_m: np.ndarray,
    grid: RegionGrid,
    start: dt.datetime,
    end: dt.datetime,
) -> dict:
    """Access statistics at a lattice of points over the region, per sensor kind."""
    rows = np.linspace(0, grid.shape[0] - 1, REVISIT_POINTS_PER_AXIS).round().astype(int)
    cols = np.linspace(0, grid.shape[1] - 1, REVISIT_POINTS_PER_AXIS).round().astype(int)
    lon_all, lat_all = grid.cell_centres_lonlat()
    lon = lon_all[np.ix_(rows, cols)].ravel()
    lat = lat_all[np.ix_(rows, cols)].ravel()
    intervals: dict[str, list[list[tuple[float, float]]]] = {}
    for g, group in enumerate(scenario.satellites):
        members = np.flatnonzero(sats.group_index == g)
        sub = _subset(sats.constellation, members)
        min_el = access_min_elevation_deg(group.sensor, float(np.mean(altitude_m[members])))
        per_point = intervals.setdefault(group.sensor.kind, [[] for _ in lon])
        # Accesses are contacts with an elevation mask that puts the point in the image.
        table = contact_windows_many(sub, lat, lon, np.zeros_like(lat), start, end, min_el)
        keep = np.ones(table.rise_t_s.shape, dtype=bool)
        if SENSOR_KINDS[group.sensor.kind].needs_daylight and keep.size:
            mid_s = (table.rise_t_s + table.set_t_s) / 2.0
            sun = sun_elevation_deg(lat, lon, epoch_utc=start, t_s=mid_s)  # (points, passes)
            keep = (
                sun[table.station_idx, np.arange(keep.size)] >= group.sensor.min_sun_elevation_deg
            )
        for p, rise, set_ in zip(
            table.station_idx[keep], table.rise_t_s[keep], table.set_t_s[keep], strict=True
        ):
            per_point[p].append((float(rise), float(set_)))
    if intervals:
        kinds = list(intervals.values())
        intervals["all"] = [[iv for v in kinds for iv in v[p]] for p in range(lon.size)]
    days = scenario.duration_s / 86_400.0
    out = {"points": int(lon.size)}
    for kind, per_point in intervals.items():
        stats = np.array([gap_stats(iv, scenario.duration_s) for iv in per_point])
        out[kind] = {
            "accesses_per_day": round(float(stats[:, 0].mean() / days), 2),
            "mean_revisit_h": _round_h(
                np.nanmean(stats[:, 1]) if np.isfinite(stats[:, 1]).any() else np.nan
            ),
            "worst_gap_h": _round_h(stats[:, 2].max()),
        }
    return out


def _round_h(seconds: float) -> float | None:
    return None if not np.isfinite(seconds) else round(float(seconds) / 3600.0, 2)
