"""The scenario inspector: what a user needs to know about a scenario before training.

:func:`inspect_scenario` returns a JSON-ready dict (entities, region grid and projection,
sanity warnings (:mod:`sagsim.envs.scenario.checks`), the mission: tasks, events, clouds, fusion,
reward and env settings, and the imaging access the environment will offer per sensor kind
(see :mod:`sagsim.envs.views.inspector_mission`), contact windows and downlink volume per station,
geometric revisit at sample points of the region, link capacities);
:func:`format_report` renders it as text. ``python -m sagsim.envs SCENARIO [--json]`` runs both.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from sagsim.envs.physics.contacts import contact_windows_many
from sagsim.envs.physics.geodesy import (
    EARTH_MEAN_RADIUS_M,
    ecef_to_geodetic,
    geodetic_to_ecef,
    geodetic_up_ecef,
)
from sagsim.envs.physics.links import propagation_latency_s, radio_horizon_m
from sagsim.envs.platforms.assembly import (
    SatelliteSet,
    build_satellites,
    ground_link_budget,
    link_budget,
)
from sagsim.envs.scenario.checks import (
    episode_steps,
    group_access_findings,
    no_access_findings,
    out_and_back_radius_m,
    static_findings,
    station_findings,
    warn_findings,
)
from sagsim.envs.scenario.loader import region_grid
from sagsim.envs.scenario.schema import DroneGroup, Scenario
from sagsim.envs.views.coverage import access_min_elevation_deg, half_fov_deg, revisit_statistics
from sagsim.envs.views.inspector_mission import (
    format_imaging,
    format_mission,
    imaging_access,
    mission_summary,
)
from sagsim.envs.world.world import World

CONTACT_VOLUME_STEP_S = 10.0  # integration step of the downlink volume over a pass
# Height of a drone's ground receiver (a mast at the base or station) for the radio horizon.
GROUND_ANTENNA_HEIGHT_M = 10.0

__all__ = ["format_report", "inspect_scenario", "warn_cut_episode"]


def _episode_findings(scenario: Scenario, world: World, imaging: dict) -> list:
    any_steps = max((k["steps_with_access"] for k in imaging["kinds"].values()), default=0)
    return [
        *station_findings(scenario, world.geom.gs_visible[: world.n_steps]),
        *group_access_findings(scenario, imaging["group_steps"]),
        *no_access_findings(any_steps, world.n_steps, scenario.step_s),
    ]


def warn_cut_episode(scenario: Scenario, max_cycles: int | None, source: str) -> None:
    """For a command-line ``--max-cycles`` that cuts the scenario's episode short: a
    one-line warning naming ``source`` and the cut when no satellite or drone can image
    anything in it (every policy would score the same). A station or a satellite group
    idle in a short episode is expected, so only the scenario as written is checked for
    those (the inspector, the environment)."""
    if max_cycles is None or max_cycles >= scenario.n_steps:
        return
    world = World(scenario, n_steps=max_cycles)
    imaging = imaging_access(scenario, world)
    any_steps = max((k["steps_with_access"] for k in imaging["kinds"].values()), default=0)
    findings = no_access_findings(any_steps, world.n_steps, scenario.step_s)
    warn_findings(f"{source} with --max-cycles {max_cycles}", findings)


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def inspect_scenario(scenario: Scenario, source: str | None = None) -> dict:
    """Everything the inspector reports, as plain JSON-ready Python values.

    The environment's world is built (as an episode's, up to ``env.max_cycles`` steps) so
    that the imaging access (``"imaging"``,
    :func:`sagsim.envs.views.inspector_mission.imaging_access`) is what the environment will offer.
    ``"warnings"`` lists every sanity warning (:mod:`sagsim.envs.scenario.checks`) as its one line
    naming ``source`` (the scenario file; by default the scenario's name); those that need the
    episode (a station that sees no satellite, a satellite group that can image nothing) are also
    emitted here as :class:`sagsim.envs.scenario.checks.ScenarioWarning` (the others were when it
    was loaded).
    """
    source = scenario.name if source is None else source
    grid = region_grid(scenario)
    world = World(scenario, n_steps=episode_steps(scenario))
    imaging = imaging_access(scenario, world)
    episode_warnings = _episode_findings(scenario, world, imaging)
    del imaging["group_steps"]  # said by the warnings
    warn_findings(source, episode_warnings)
    findings = [*static_findings(scenario, grid), *episode_warnings]
    sats = build_satellites(scenario)
    start = scenario.epoch_utc
    end = start + dt.timedelta(seconds=scenario.duration_s)
    t_s = np.arange(0.0, scenario.duration_s + 1e-9, CONTACT_VOLUME_STEP_S)
    r_ecef_m = sats.constellation.positions_ecef_m(epoch_utc=start, t_s=t_s)
    altitude_m = np.nanmean(ecef_to_geodetic(r_ecef_m)[2], axis=1) if r_ecef_m.size else []
    return {
        "scenario": {
            "name": scenario.name,
            "epoch_utc": _iso(start),
            "end_utc": _iso(end),
            "duration_s": scenario.duration_s,
            "step_s": scenario.step_s,
            "steps": scenario.n_steps,
            "seed": scenario.seed,
        },
        "region": _region(grid),
        "warnings": [f.text(source) for f in findings],
        "mission": mission_summary(scenario, grid, _n_agents(scenario, sats)),
        "imaging": imaging,
        "satellites": _satellite_groups(scenario, sats, np.asarray(altitude_m)),
        "drones": [_drone_group(scenario, d) for d in scenario.drones],
        "open_data": _open_data(scenario),
        "ground_stations": _stations(scenario, sats, r_ecef_m, t_s, start, end),
        "revisit": revisit_statistics(scenario, sats, np.asarray(altitude_m), grid, start, end),
        "links": _links(scenario, sats, np.asarray(altitude_m)),
    }


def _n_agents(scenario: Scenario, sats: SatelliteSet) -> int:
    n_uav = sum(d.count for d in scenario.drones)
    return sats.constellation.n_sat + n_uav + len(scenario.ground_stations)


PROJECTION_NAMES = {"aeqd": "azimuthal equidistant", "ease2": "EASE-Grid 2.0 global (EPSG:6933)"}


def _region(grid) -> dict:
    return {
        "grid_projection": grid.projection,
        "projection_name": PROJECTION_NAMES.get(grid.projection, grid.projection),
        "projection": grid.crs.srs,
        "origin_lon_lat_deg": [round(v, 6) for v in grid.origin],
        "grid_shape": list(grid.shape),
        "cells": int(np.prod(grid.shape)),
        "cells_in_region": int(grid.mask.sum()),
        "resolution_m": grid.resolution_m,
        "area_km2": round(grid.geodesic_area_m2 / 1e6, 3),
        "max_scale_distortion": grid.max_scale_distortion,
    }


def _satellite_groups(scenario: Scenario, sats: SatelliteSet, altitude_m: np.ndarray) -> list:
    out = []
    for g, group in enumerate(scenario.satellites):
        members = np.flatnonzero(sats.group_index == g)
        alt = float(np.mean(altitude_m[members]))
        incl = float(np.degrees(np.mean([sats.constellation.satrecs[i].inclo for i in members])))
        period = float(np.mean(sats.constellation.period_s[members]))
        s = group.sensor
        out.append(
            {
                "name": group.name,
                "count": int(members.size),
                "source": "walker" if group.walker else "tle",
                "mean_altitude_km": round(alt / 1e3, 2),
                "inclination_deg": round(incl, 3),
                "period_min": round(period / 60.0, 2),
                "sensor": s.kind,
                "gsd_nadir_m": s.gsd_nadir_m,
                "fov_deg": round(2 * half_fov_deg(s, alt), 3),
                "max_off_nadir_deg": s.max_off_nadir_deg,
                "access_min_elevation_deg": round(access_min_elevation_deg(s, alt), 2),
                "storage_gbit": group.storage.capacity_bits / 1e9,
                "battery_wh": group.power.battery_capacity_wh,
                "satellites": [sats.constellation.names[i] for i in members],
            }
        )
    return out


def _open_data(scenario: Scenario) -> list:
    """Per open-data mission: orbit, sensor, latency and its images of the region over the
    episode (daylight passes, :func:`sagsim.fusion.sensing.acquisitions.schedule`)."""
    if not scenario.open_data:
        return []
    from sagsim.fusion.sensing.acquisitions import open_data_schedule

    srcs, plan, geo = open_data_schedule(scenario)
    out = []
    for g, m in enumerate(scenario.open_data):
        members = [j for j, p in enumerate(srcs) if geo["open_group"][p["open"]] == g]
        images = [a for a in plan if a[1] in members]
        out.append({"name": m.name, "count": len(members),
                    "source": "walker" if m.walker else "tle", "sensor": m.sensor.kind,
                    "gsd_nadir_m": m.sensor.gsd_nadir_m,
                    "swath_km": (m.sensor.swath_m or 0.0) / 1e3,
                    "latency_h": m.latency_s / 3600.0, "images": len(images),
                    "gsd_m_range": [round(min(a[3].gsd_m for a in images), 1),
                                    round(max(a[3].gsd_m for a in images), 1)]
                    if images else None})  # fmt: skip
    return out


def _drone_group(scenario: Scenario, d: DroneGroup) -> dict:
    radius_m = out_and_back_radius_m(d)
    endurance_s = d.battery_capacity_wh * 3600.0 / d.hover_power_w
    # A drone looks straight down from low altitude: flat-Earth footprint is exact enough.
    half_fov = np.radians(d.sensor.fov_deg / 2.0) if d.sensor.fov_deg else None
    swath_m = 2 * d.altitude_m * np.tan(half_fov) if half_fov else d.sensor.swath_m
    air = scenario.comms.air_to_ground
    budget = link_budget(air, scenario.comms.shannon_efficiency, d.radio)
    horizon_m = float(radio_horizon_m(d.altitude_m, GROUND_ANTENNA_HEIGHT_M))
    return {
        "name": d.name,
        "count": d.count,
        "base_lat_lon_deg": [d.base_lat_deg, d.base_lon_deg],
        "altitude_m": d.altitude_m,
        "cruise_speed_mps": d.cruise_speed_mps,
        "hover_endurance_min": round(endurance_s / 60.0, 1),
        "out_and_back_radius_km": round(radius_m / 1e3, 2),
        "swath_m": round(float(swath_m), 1),
        "coverage_km2_per_h": round(float(swath_m) * d.cruise_speed_mps * 3600.0 / 1e6, 2),
        "link_capacity_mbps_at_1km": round(float(budget.capacity_bps(1_000.0)) / 1e6, 2),
        "link_capacity_mbps_at_max_range": round(
            float(budget.capacity_bps(air.max_range_m)) / 1e6, 2
        ),
        "max_range_km": air.max_range_m / 1e3,
        "radio_horizon_km": round(horizon_m / 1e3, 1),
    }


def _stations(scenario, sats: SatelliteSet, r_ecef_m, t_s, start, end) -> list:
    out = []
    constellation = sats.constellation
    stations = scenario.ground_stations
    table = contact_windows_many(
        constellation,
        [s.lat_deg for s in stations],
        [s.lon_deg for s in stations],
        [s.alt_m for s in stations],
        start,
        end,
        [s.min_elevation_deg for s in stations],
    )
    for k, station in enumerate(stations):
        windows = table.windows_utc(constellation.n_sat, station=k)
        passes = [
            {
                "satellite": constellation.names[i],
                "rise_utc": _iso(rise),
                "set_utc": _iso(set_),
                "duration_s": round((set_ - rise).total_seconds(), 1),
            }
            for i, sat_windows in enumerate(windows)
            for rise, set_ in sat_windows
        ]
        passes.sort(key=lambda p: p["rise_utc"])
        durations = np.array([p["duration_s"] for p in passes])
        volume_bits = _downlink_volume_bits(scenario, sats, k, r_ecef_m, t_s)
        out.append(
            {
                "name": station.name,
                "lat_lon_alt": [station.lat_deg, station.lon_deg, station.alt_m],
                "min_elevation_deg": station.min_elevation_deg,
                "antennas": station.antennas,
                "passes": len(passes),
                "contact_min": round(float(durations.sum()) / 60.0, 1),
                "mean_pass_min": round(float(durations.mean()) / 60.0, 2) if passes else 0.0,
                "downlink_gbit": round(volume_bits / 1e9, 2),
                "windows": passes,
            }
        )
    return out


def _downlink_volume_bits(scenario, sats: SatelliteSet, k: int, r_ecef_m, t_s) -> float:
    """Bits the station could receive over the scenario: every visible satellite's Shannon
    rate at its slant range, the best ``antennas`` links at each instant, summed over time."""
    station = scenario.ground_stations[k]
    n_sat = r_ecef_m.shape[0]
    if n_sat == 0:
        return 0.0
    # Elevation above the geodetic horizon, as in look_angles, but only its sine: one
    # dot product per sample instead of a full ENU rotation (the day of a large
    # constellation is millions of samples per station).
    delta = r_ecef_m - geodetic_to_ecef(station.lon_deg, station.lat_deg, station.alt_m)
    range_m = np.sqrt(np.einsum("...k,...k->...", delta, delta))
    with np.errstate(invalid="ignore"):  # a decayed satellite's NaN position is never visible
        sin_el = (delta @ geodetic_up_ecef(station.lat_deg, station.lon_deg)) / range_m
        visible = sin_el >= np.sin(np.radians(station.min_elevation_deg))
    rate_bps = np.zeros(range_m.shape)
    for g, group in enumerate(scenario.satellites):
        sel = visible & (sats.group_index == g)[:, None]
        rate_bps[sel] = ground_link_budget(scenario, group, k).capacity_bps(range_m[sel])
    # The best `antennas` links at each instant (their sum; order does not matter).
    if station.antennas < n_sat:
        rate_bps = np.partition(rate_bps, n_sat - station.antennas, axis=0)[-station.antennas :]
    # Left Riemann sum: each sample's rate holds for the step after it, the last ends the day.
    return float(np.sum(rate_bps[:, :-1]) * (t_s[1] - t_s[0] if t_s.size > 1 else 0.0))


def _slant_range_m(altitude_m: float, elevation_deg: float) -> float:
    """Slant range to a satellite at ``altitude_m`` seen at ``elevation_deg`` (sphere):
    the law of cosines solved for the side opposite the Earth-centre angle."""
    r, el = EARTH_MEAN_RADIUS_M, np.radians(elevation_deg)
    return float(np.sqrt((r + altitude_m) ** 2 - (r * np.cos(el)) ** 2) - r * np.sin(el))


def _links(scenario: Scenario, sats: SatelliteSet, altitude_m: np.ndarray) -> dict:
    """Capacities of each satellite group's downlink to each station (at zenith and at the
    station's elevation mask) and of the inter-satellite links at their maximum range."""
    downlinks = []
    for g, group in enumerate(scenario.satellites):
        alt = float(np.mean(altitude_m[sats.group_index == g]))
        for k, station in enumerate(scenario.ground_stations):
            budget = ground_link_budget(scenario, group, k)
            far_m = _slant_range_m(alt, station.min_elevation_deg)
            downlinks.append(
                {
                    "group": group.name,
                    "station": station.name,
                    "mbps_at_zenith": round(float(budget.capacity_bps(alt)) / 1e6, 1),
                    "mbps_at_mask": round(float(budget.capacity_bps(far_m)) / 1e6, 1),
                    "snr_db_at_mask": round(float(budget.snr_db(far_m)), 1),
                    "range_km_at_mask": round(far_m / 1e3, 1),
                    "latency_ms_at_mask": round(float(propagation_latency_s(far_m)) * 1e3, 2),
                    "gbit_per_step_at_zenith": round(
                        float(budget.bits_per_step(alt, scenario.step_s)) / 1e9, 3
                    ),
                }
            )
    isl = scenario.comms.inter_satellite
    crosslink = None
    if isl.enabled:
        budget = link_budget(isl, scenario.comms.shannon_efficiency)
        crosslink = {
            "max_range_km": isl.max_range_m / 1e3,
            "mbps_at_max_range": round(float(budget.capacity_bps(isl.max_range_m)) / 1e6, 1),
            "mbps_at_1000_km": round(float(budget.capacity_bps(1e6)) / 1e6, 1),
            "grazing_altitude_km": isl.grazing_altitude_m / 1e3,
        }
    return {"downlinks": downlinks, "inter_satellite": crosslink}


def format_report(report: dict) -> str:
    """The inspector's report as readable text."""
    s, r = report["scenario"], report["region"]
    centre = f" at {r['origin_lon_lat_deg']}" if r["grid_projection"] == "aeqd" else ""
    lines = [
        f"Scenario {s['name']}: {s['epoch_utc']} → {s['end_utc']} "
        f"({s['duration_s'] / 3600:g} h, {s['steps']} steps of {s['step_s']:g} s, "
        f"seed {s['seed']})",
        "",
        f"Region: {r['area_km2']:,.0f} km², grid {r['grid_shape'][0]}×{r['grid_shape'][1]} "
        f"cells of {r['resolution_m']:g} m ({r['cells_in_region']:,} inside), "
        f"{r['projection_name']}{centre}, max scale error {r['max_scale_distortion']:.2e}",
        "",
        *format_mission(report["mission"], s["duration_s"]),
        "",
        "Satellites:",
    ]
    if report["warnings"]:
        lines[2:2] = [f"Warnings ({len(report['warnings'])}, also on stderr):",
                      *(f"  {w}" for w in report["warnings"]), ""]  # fmt: skip
    for g in report["satellites"]:
        lines.append(
            f"  {g['name']:<14} {g['count']:>3} × {g['sensor']:<7} {g['source']:<6} "
            f"alt {g['mean_altitude_km']:7.1f} km  incl {g['inclination_deg']:6.2f}°  "
            f"period {g['period_min']:5.1f} min  GSD {g['gsd_nadir_m']:g} m  "
            f"FOV {g['fov_deg']:.2f}°  off-nadir ≤ {g['max_off_nadir_deg']:g}°"
        )
    if report["drones"]:
        lines += ["", "Drones:"]
    for d in report["drones"]:
        lines.append(
            f"  {d['name']:<14} {d['count']:>3} at {d['base_lat_lon_deg']}  "
            f"{d['altitude_m']:g} m, {d['cruise_speed_mps']:g} m/s  "
            f"hover {d['hover_endurance_min']:.0f} min, "
            f"radius {d['out_and_back_radius_km']:.1f} km, "
            f"swath {d['swath_m']:.0f} m ({d['coverage_km2_per_h']:.1f} km²/h)  "
            f"link {d['link_capacity_mbps_at_1km']:.1f} Mbit/s at 1 km, "
            f"{d['link_capacity_mbps_at_max_range']:.1f} at {d['max_range_km']:g} km"
        )
    if report["open_data"]:
        lines += ["", "Open data (not agents; images of the region over the episode):"]
    for m in report["open_data"]:
        gsd = m["gsd_m_range"]
        n = m["images"]
        seen = f"{n} image{'s' * (n != 1)}, GSD {gsd[0]:g}–{gsd[1]:g} m" if gsd else "no image"
        lines.append(
            f"  {m['name']:<14} {m['count']:>3} × {m['sensor']:<7} {m['source']:<6} "
            f"GSD {m['gsd_nadir_m']:g} m at nadir, swath {m['swath_km']:,.0f} km, "
            f"latency {m['latency_h']:g} h: {seen}"
        )
    lines += ["", "Ground stations (contacts over the episode):"]
    w = max([14, *(len(st["name"]) for st in report["ground_stations"])])
    for st in report["ground_stations"]:
        lines.append(
            f"  {st['name']:<{w}} mask {st['min_elevation_deg']:g}°  {st['antennas']} antenna(s)  "
            f"{st['passes']:>3} passes, {st['contact_min']:7.1f} min in contact "
            f"(mean {st['mean_pass_min']:.1f} min), downlink ≤ {st['downlink_gbit']:,.1f} Gbit"
        )
        for p in st["windows"][:3]:
            lines.append(
                f"      {p['satellite']:<22} {p['rise_utc']} → {p['set_utc']} "
                f"({p['duration_s'] / 60:.1f} min)"
            )
        if len(st["windows"]) > 3:
            lines.append(f"      … {len(st['windows']) - 3} more (--json lists all)")
    rv = report["revisit"]
    lines += [
        "",
        *format_imaging(report["imaging"]),
        "",
        f"Geometric revisit at {rv['points']} sample points of the region (contact windows "
        "above each sensor's access elevation, in daylight where the sensor needs it; not the "
        "env's steps):",
    ]
    for kind, v in rv.items():
        if kind == "points":
            continue
        mean = "—" if v["mean_revisit_h"] is None else f"{v['mean_revisit_h']:.2f} h"
        worst = "—" if v["worst_gap_h"] is None else f"{v['worst_gap_h']:.2f} h"
        lines.append(
            f"  {kind:<8} {v['accesses_per_day']:6.2f} accesses/day  mean revisit {mean:>8}  "
            f"worst gap {worst:>8}"
        )
    if any(v["mean_revisit_h"] is None for k, v in rv.items() if k != "points"):
        lines.append("  (mean revisit —: no sample point is seen twice in the episode)")
    lines += ["", "Downlink capacity (Shannon × efficiency; zenith → at the elevation mask):"]
    for d in report["links"]["downlinks"]:
        lines.append(
            f"  {d['group']:<14} → {d['station']:<{w}} {d['mbps_at_zenith']:8.1f} → "
            f"{d['mbps_at_mask']:7.1f} Mbit/s  (SNR {d['snr_db_at_mask']:.1f} dB at "
            f"{d['range_km_at_mask']:.0f} km, {d['latency_ms_at_mask']:.2f} ms)"
        )
    isl = report["links"]["inter_satellite"]
    if isl:
        lines.append(
            f"  inter-satellite: {isl['mbps_at_1000_km']:.1f} Mbit/s at 1000 km, "
            f"{isl['mbps_at_max_range']:.1f} at {isl['max_range_km']:g} km"
        )
    return "\n".join(lines)
