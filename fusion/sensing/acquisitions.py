"""Who images what, and when: the acquisition schedule behind :mod:`sagsim.fusion.simulate`.

:func:`schedule` lists a scenario's acquisitions over ``duration_s`` as ``(t_s, source,
window, SensorSpec, extra latency s)``, from three kinds of source (:func:`sources`):

Tasked satellites (``satellites``; real geometry, one SGP4 run per scenario and span,
cached in :func:`geometry`): a *pass* is a run of :data:`GEOMETRY_STEP_S` samples in which
the sub-satellite point lies within the sensor's reach, ``altitude × tan(max_off_nadir_deg)``,
of the region's rectangle (and, for optical sensors, the sun at the region's centre is at
least ``min_sun_elevation_deg`` at the acquisition). An agile satellite images ``access
time / STRIP_CYCLE_S`` strips per pass (1 to :data:`MAX_STRIPS_PER_PASS`), evenly spread
over it. Each strip is the sensor's swath wide (nadir swath; widening off nadir ignored)
and up to :data:`STRIP_MAX_LENGTH_M` long, axis-aligned (north–south, as a near-polar ground
track), centred on its aim point: with probability :data:`TASK_POINTING_PROBABILITY` an
active task within reach (drawn by priority), else a uniform point of the region within
reach. The off-nadir angle (flat Earth: atan(ground distance / altitude)) sets the GSD and
misregistration (SensorSpec).

Drones: each flies sorties of ``battery × (1 − reserve) / max(cruise, hover power)``
then recharges for ``battery / charge power``, from a random phase; in flight, in daylight
(sun at the region's centre ≥ its sensor's minimum), every :data:`DRONE_INTERVAL_S` it
images a point drawn uniformly in the current disc of an active task within its radius of
action (half its flight range, by priority). One acquisition is a survey mosaic of
:data:`DRONE_MOSAIC` × :data:`DRONE_MOSAIC` footprints (footprint: the swath, or
2·h·tan(fov/2)).

Open data (``open_data``: MODIS, VIIRS; not tasked): a pass is a run of samples with the
sub-satellite point within half the swath of the region's rectangle; each daylight pass
gives one image at the sample nearest the region's centre: the columns of the region inside
the swath (a north–south strip centred on the sub-satellite point; for a 2,000 km swath,
the whole region), every row. One GSD per image, the sensor's at the off-nadir angle of the
region's centre (flat Earth, capped at ``max_off_nadir_deg``): a whisk-broom's growth of
the pixel towards the swath edge inside one image is not modelled. Its extra latency is the
mission's ``latency_s``.

Sources: tasked satellites in scenario order, then drones, then open-data satellites; with
``n_sources`` fewer, a seeded subset (renumbered 0…n−1); more, clones of the platforms in
turn (a satellite clone's passes shifted by a random time, a drone clone with its own phase).
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

from sagsim.envs.physics.sensor_geometry import swath_m_from_full_fov_deg
from sagsim.envs.tasks import TaskSet
from sagsim.fusion.sensing.sensor_model import SensorSpec
from sagsim.sensor_kinds import SENSOR_KINDS

__all__ = ["GEOMETRY_STEP_S", "cached", "geometry", "open_data_schedule", "schedule", "sources",
           "static"]  # fmt: skip

GEOMETRY_STEP_S = 10.0
STRIP_CYCLE_S = 40.0  # ≈ 20 s to image 150 km at 7 km/s, plus a slew
MAX_STRIPS_PER_PASS = 3
STRIP_MAX_LENGTH_M = 150_000.0
TASK_POINTING_PROBABILITY = 0.6
DRONE_INTERVAL_S = 900.0
DRONE_MOSAIC = 5
_CACHE: dict = {}
_CACHE_MAX = 8


def cached(kind: str, scenario, extra, build):
    """``build()``, cached under (``kind``, the scenario, ``extra``) (a few entries)."""
    key = (kind, hashlib.sha1(scenario.model_dump_json().encode()).hexdigest(), extra)
    if key not in _CACHE:
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = build()
    return _CACHE[key]


def static(scenario):
    """(grid, TaskSet) of a scenario, cached."""
    from sagsim.envs.scenario.loader import region_grid

    def build():
        grid = region_grid(scenario)
        return grid, TaskSet.from_scenario(scenario, grid)

    return cached("static", scenario, None, build)


def _passes(scenario, constellation, reach_m, t) -> list[list]:
    """Per satellite, its passes [(i0, i1, x_m, y_m, alt_m over samples i0:i1)]: runs of
    samples ``t`` with the sub-satellite point within ``reach_m[s](altitude_m)`` of the
    region."""
    from sagsim.envs.physics.geodesy import ecef_to_geodetic

    grid, _ = static(scenario)
    xl, yb, xr, yt = grid.bounds_m
    out = []
    for s in range(constellation.n_sat):  # one at a time: bounded memory
        one = type(constellation)(constellation.satrecs[s : s + 1])
        lon, lat, alt = ecef_to_geodetic(one.positions_ecef_m(epoch_utc=scenario.epoch_utc,
                                                              t_s=t)[0])  # fmt: skip
        x, y = grid.to_grid(lon, lat)
        dx = np.maximum(np.maximum(xl - x, x - xr), 0.0)
        dy = np.maximum(np.maximum(yb - y, y - yt), 0.0)
        inside = np.nan_to_num(np.hypot(dx, dy), nan=np.inf) <= reach_m[s](alt)
        edge = np.diff(np.r_[0, inside, 0])
        runs = zip(np.flatnonzero(edge == 1), np.flatnonzero(edge == -1), strict=True)
        out.append([(a, b, x[a:b], y[a:b], alt[a:b]) for a, b in runs])
    return out


def geometry(scenario, span_s: float) -> dict:
    """Sample times over [0, span), sun elevation at the region centre, the tasked
    satellites' ``passes`` and the open-data satellites' ``open_passes`` (see
    :func:`_passes`), their group indices and the open-data names (cached)."""
    from sagsim.envs.physics.orbits import sun_elevation_deg
    from sagsim.envs.platforms.assembly import build_open_data, build_satellites

    def build():
        grid, _ = static(scenario)
        t = np.arange(0.0, span_s, GEOMETRY_STEP_S)
        lon0, lat0 = grid.origin
        sun = sun_elevation_deg(lat0, lon0, epoch_utc=scenario.epoch_utc, t_s=t)[0]
        geo = {"t": t, "span": float(span_s), "sun": sun, "passes": [],
               "group": np.zeros(0, np.intp), "open_passes": [],
               "open_group": np.zeros(0, np.intp), "open_names": []}  # fmt: skip
        if scenario.satellites:
            sats = build_satellites(scenario)
            tans = [math.tan(math.radians(g.sensor.max_off_nadir_deg)) for g in scenario.satellites]
            reach_m = [lambda h, k=tans[g]: h * k for g in sats.group_index]
            geo.update(passes=_passes(scenario, sats.constellation, reach_m, t),
                       group=sats.group_index)  # fmt: skip
        if scenario.open_data:
            sats = build_open_data(scenario)
            sensors = [scenario.open_data[g].sensor for g in sats.group_index]
            reach_m = [lambda h, s=s: 0.5 * _swath_m(s, h) for s in sensors]
            geo.update(
                open_passes=_passes(scenario, sats.constellation, reach_m, t),
                open_group=sats.group_index,
                open_names=sats.constellation.names,
            )
        return geo

    return cached("geometry", scenario, float(span_s), build)


def _swath_m(sensor, altitude_m):
    """The sensor's nadir swath (m) at ``altitude_m`` (a float or an array)."""
    if sensor.swath_m:
        return float(sensor.swath_m)
    return swath_m_from_full_fov_deg(sensor.fov_deg, altitude_m)


def sources(scenario, geo, n_sources, rng) -> list[dict]:
    """Per source id: {"sat": s, "offset_s", "name"}, {"uav": group, "name"} or
    {"open": s, "offset_s", "name"} (module doc)."""
    natural = [{"sat": s, "offset_s": 0.0, "name": f"sat{s}"} for s in range(len(geo["group"]))]
    natural += [{"uav": g, "name": f"{d.name}/{k}"}
                for g, d in enumerate(scenario.drones) for k in range(d.count)]  # fmt: skip
    natural += [{"open": s, "offset_s": 0.0, "name": n} for s, n in enumerate(geo["open_names"])]
    if n_sources is None or n_sources == len(natural):
        return natural
    if n_sources < 1:
        raise ValueError(f"n_sources must be ≥ 1, got {n_sources}")
    if n_sources < len(natural):
        return [natural[i] for i in np.sort(rng.choice(len(natural), n_sources, replace=False))]
    out = list(natural)
    for j in range(n_sources - len(natural)):
        p = natural[j % len(natural)]
        out.append(dict(p, name=f"{p['name']}~{j}"))
        if "offset_s" in p:
            out[-1]["offset_s"] = float(rng.uniform(0.0, geo["span"]))
    return out


def _pick(rng, tasks, near):
    """A task index among ``near`` (bool), drawn by priority."""
    k = np.flatnonzero(near)
    return rng.choice(k, p=tasks.priority[k] / tasks.priority[k].sum())


def _lit(geo, t_s, sensor) -> bool:
    i = min(int(t_s / GEOMETRY_STEP_S), geo["t"].size - 1)
    needs_daylight = SENSOR_KINDS[sensor.kind].needs_daylight
    return not needs_daylight or geo["sun"][i] >= sensor.min_sun_elevation_deg


def _aim(rng, tasks, t_s, x0, y0, reach_m, grid):
    """An aim point (x, y) within ``reach_m`` of (x0, y0) (module doc); None if none fits."""
    xl, yb, xr, yt = grid.bounds_m
    near = (tasks.start_s <= t_s) & (np.hypot(tasks.x_m - x0, tasks.y_m - y0) <= reach_m)
    if near.any() and rng.random() < TASK_POINTING_PROBABILITY:
        k = _pick(rng, tasks, near)
        return float(tasks.x_m[k]), float(tasks.y_m[k])
    for _ in range(20):
        x, y = rng.uniform(xl, xr), rng.uniform(yb, yt)
        if math.hypot(x - x0, y - y0) <= reach_m:
            return x, y
    x, y = min(max(x0, xl), xr), min(max(y0, yb), yt)  # the region's nearest point
    return (x, y) if math.hypot(x - x0, y - y0) <= reach_m else None


def _window(grid, x, y, rows, cols):
    """A rows × cols window centred on (x, y), moved inside the grid."""
    n_rows, n_cols = grid.shape
    rows, cols = min(max(rows, 1), n_rows), min(max(cols, 1), n_cols)
    r = int((grid.bounds_m[3] - y) // grid.resolution_m)
    c = int((x - grid.bounds_m[0]) // grid.resolution_m)
    r0, c0 = min(max(r - rows // 2, 0), n_rows - rows), min(max(c - cols // 2, 0), n_cols - cols)
    return (r0, r0 + rows, c0, c0 + cols)


def _satellite(scenario, geo, p, src, duration_s, rng, out) -> None:
    """Append tasked satellite ``p``'s strips (module doc) to ``out``."""
    grid, tasks = static(scenario)
    res, lat0, t, period = float(grid.resolution_m), float(grid.origin[1]), geo["t"], geo["span"]
    sensor = scenario.satellites[int(geo["group"][p["sat"]])].sensor
    for a, b, xs, ys, alt in geo["passes"][p["sat"]]:
        n = int(np.clip((b - a) * GEOMETRY_STEP_S // STRIP_CYCLE_S, 1, MAX_STRIPS_PER_PASS))
        for j in range(n):
            i = int((j + 0.5) * (b - a) / n)
            t_s, h = (t[a + i] + p["offset_s"]) % period, float(alt[i])
            reach = h * math.tan(math.radians(sensor.max_off_nadir_deg))
            aim = _aim(rng, tasks, t_s, xs[i], ys[i], reach, grid)
            if t_s >= duration_s or aim is None or not _lit(geo, t_s, sensor):
                continue
            off = math.degrees(math.atan2(math.hypot(aim[0] - xs[i], aim[1] - ys[i]), h))
            swath = float(_swath_m(sensor, h))
            win = _window(grid, *aim, round(STRIP_MAX_LENGTH_M / res), round(swath / res))
            out.append((float(t_s), src, win, SensorSpec.from_schema(sensor, h, off, lat0), 0.0))


def _open(scenario, geo, p, src, duration_s, rng, out) -> None:
    """Append open-data satellite ``p``'s nadir images (module doc) to ``out``."""
    grid, _ = static(scenario)
    res, lat0, t, period = float(grid.resolution_m), float(grid.origin[1]), geo["t"], geo["span"]
    mission = scenario.open_data[int(geo["open_group"][p["open"]])]
    sensor, (xl, yb, xr, yt) = mission.sensor, grid.bounds_m
    xc, yc = 0.5 * (xl + xr), 0.5 * (yb + yt)
    for a, _b, xs, ys, alt in geo["open_passes"][p["open"]]:
        i = int(np.argmin(np.hypot(xs - xc, ys - yc)))
        t_s, h = (t[a + i] + p["offset_s"]) % period, float(alt[i])
        if t_s >= duration_s or not _lit(geo, t_s, sensor):
            continue
        half = 0.5 * float(_swath_m(sensor, h))
        c0 = max(0, math.floor((xs[i] - half - xl) / res))
        c1 = min(grid.shape[1], math.ceil((xs[i] + half - xl) / res))
        if c1 <= c0:
            continue
        off = min(math.degrees(math.atan2(math.hypot(xs[i] - xc, ys[i] - yc), h)),
                  sensor.max_off_nadir_deg)  # fmt: skip
        spec = SensorSpec.from_schema(sensor, h, off, lat0)
        out.append((float(t_s), src, (0, grid.shape[0], c0, c1), spec, float(mission.latency_s)))


def _drone(scenario, geo, p, src, duration_s, rng, out) -> None:
    """Append drone source ``p``'s survey mosaics (module doc) to ``out``."""
    grid, tasks = static(scenario)
    d = scenario.drones[p["uav"]]
    flight_s = 3600.0 * d.battery_capacity_wh * (1 - d.reserve_fraction) / max(
        d.cruise_power_w, d.hover_power_w)  # fmt: skip
    cycle_s = flight_s + 3600.0 * d.battery_capacity_wh / d.charge_power_w
    bx, by = grid.to_grid(d.base_lon_deg, d.base_lat_deg)
    in_range = np.hypot(tasks.x_m - bx, tasks.y_m - by) <= 0.5 * flight_s * d.cruise_speed_mps
    side = float(_swath_m(d.sensor, d.altitude_m))
    cells = round(DRONE_MOSAIC * side / float(grid.resolution_m))
    spec = SensorSpec.from_schema(d.sensor, d.altitude_m, 0.0, float(grid.origin[1]))
    phase = rng.uniform(0, cycle_s)
    for t_s in np.arange(rng.uniform(0, DRONE_INTERVAL_S), duration_s, DRONE_INTERVAL_S):
        near = in_range & (tasks.start_s <= t_s)
        if (t_s + phase) % cycle_s > flight_s or not near.any() or not _lit(geo, t_s, d.sensor):
            continue
        k = _pick(rng, tasks, near)
        rad = float(tasks.radius_m(t_s)[k]) * math.sqrt(rng.random())
        ang = rng.uniform(0, 2 * math.pi)
        x, y = tasks.x_m[k] + rad * math.cos(ang), tasks.y_m[k] + rad * math.sin(ang)
        out.append((float(t_s), src, _window(grid, x, y, cells, cells), spec, 0.0))


def schedule(scenario, geo, srcs, duration_s: float, rng) -> list[tuple]:
    """Every acquisition of the sources ``srcs`` (:func:`sources`) in [0, duration_s):
    ``(t_s, source, (r0, r1, c0, c1), SensorSpec, extra latency s)`` sorted by (time,
    source). Draws from ``rng`` in source order."""
    out: list[tuple] = []
    for src, p in enumerate(srcs):
        kind = _satellite if "sat" in p else _open if "open" in p else _drone
        kind(scenario, geo, p, src, duration_s, rng, out)
    out.sort(key=lambda a: (a[0], a[1]))
    return out


def open_data_schedule(scenario) -> tuple[list[dict], list[tuple], dict]:
    """The ``open_data`` sources alone over the scenario's duration: ``(sources, their
    acquisitions as :func:`schedule` gives them with source = index into sources,
    geometry)``. They draw nothing random, so the result depends on orbits and sun only."""
    geo = geometry(scenario, float(scenario.duration_s))
    rng = np.random.default_rng(0)  # the API asks for one; open data draw nothing from it
    srcs = [p for p in sources(scenario, geo, None, rng) if "open" in p]
    return srcs, schedule(scenario, geo, srcs, float(scenario.duration_s), rng), geo
