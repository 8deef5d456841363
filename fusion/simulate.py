"""A standalone observation stream for fusion benchmarks and training, independent of the env.

:func:`observation_stream` returns what reaches the fusion centre of a scenario over
``duration_s``: ``(arrival time s, Observation)`` pairs sorted by arrival, from the
scenario's own platforms imaging the ground truth of :func:`scene_for` through the sensor
model (:func:`envs.sensor_model.acquire`). :func:`simulate` returns the same with what the
evaluation needs besides (which sources misbehave, the oracle stream).

Satellites (real geometry, one SGP4 run per scenario and duration, cached): a *pass* is a
run of :data:`GEOMETRY_STEP_S` samples in which the sub-satellite point lies within the
sensor's reach, ``altitude × tan(max_off_nadir_deg)``, of the region's rectangle (and, for
optical sensors, the sun at the region's centre is at least ``min_sun_elevation_deg`` at
the acquisition). An agile satellite images ``access time / STRIP_CYCLE_S`` strips per pass
(1 to :data:`MAX_STRIPS_PER_PASS`), evenly spread over it. Each strip is the sensor's swath
wide (nadir swath; widening off nadir ignored) and up to :data:`STRIP_MAX_LENGTH_M` long,
axis-aligned (north–south, as a near-polar ground track), centred on its aim point: with
probability :data:`TASK_POINTING_PROBABILITY` an active task within reach (drawn by
priority), else a uniform point of the region within reach. The off-nadir angle (flat
Earth: atan(ground distance / altitude)) sets the GSD and misregistration (SensorSpec).

Drones: each flies sorties of ``battery × (1 − reserve) / max(cruise, hover power)``
then recharges for ``battery / charge power``, from a random phase; in flight, in daylight
(sun at the region's centre ≥ its sensor's minimum), every :data:`DRONE_INTERVAL_S` it
images a point drawn uniformly in the current disc of an active task within its radius of
action (half its flight range, by priority). One acquisition is a survey mosaic of
:data:`DRONE_MOSAIC` × :data:`DRONE_MOSAIC` footprints (footprint: the swath, or
2·h·tan(fov/2)).

Clouds: a :class:`envs.clouds.CloudField` with the scenario's correlation length and time,
stepped every :data:`CLOUD_STEP_S`; ``cloud_fraction`` overrides its cover. Optical pixels
under it are invalid; SAR sees through. Misregistration: the sensor model's draw from the
platform's errors, or with ``shift_px`` a shift of that magnitude in the observation's
pixels (``shift_px × factor`` cells) in a uniformly random direction. Delivery: arrival =
acquisition + ``latency_s`` + U(0, :data:`LATENCY_JITTER` × ``latency_s``), so late data
arrive out of order. Bad sources (:mod:`fusion.attacks`): ``round(malicious_fraction × n)``
of the sources that acquire at least once, drawn with the seed, all with ``attack`` (or a
``{source: kind}`` mapping). Sources: satellites in scenario order, then drones; with
``n_sources`` fewer, a seeded subset (renumbered 0…n−1); more, clones of the platforms in
turn (a satellite clone's passes shifted by a random time, a drone clone with its own phase).

The oracle stream (``simulate(..., oracle=True)``): the same acquisitions and arrivals with
no misregistration, no cloud, no noise (optical noise 0, SAR looks :data:`ORACLE_LOOKS`)
and no bad source: the upper bound's input. Deterministic per ``seed``: the landscape is
``Scene(seed)``; schedule, clouds, bad sources and each acquisition draw from their own
streams of ``SeedSequence(seed)``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Mapping

import numpy as np

from envs.clouds import CloudField
from envs.scene import N_REFLECTANCE, Scene
from envs.sensor_geometry import swath_m_from_full_fov_deg
from envs.sensor_model import SensorSpec, acquire, pixel_factor
from envs.tasks import EVENT_KINDS, TaskSet
from fusion import attacks as _attacks
from fusion.observation import Observation

__all__ = ["Stream", "archive_map", "fuser_kwargs", "observation_stream", "replay",
           "scene_for", "score", "simulate"]  # fmt: skip

GEOMETRY_STEP_S = 10.0
STRIP_CYCLE_S = 40.0  # ≈ 20 s to image 150 km at 7 km/s, plus a slew
MAX_STRIPS_PER_PASS = 3
STRIP_MAX_LENGTH_M = 150_000.0
TASK_POINTING_PROBABILITY = 0.6
DRONE_INTERVAL_S = 900.0
DRONE_MOSAIC = 5
CLOUD_STEP_S = 300.0
LATENCY_JITTER = 0.1
ORACLE_LOOKS = 1e9
ARCHIVE_AGE_S = 10 * 86_400.0  # the fusion centre's base map: the truth 10 days before
EVENT_INDEX = {"flood": ("ndwi", 0.0), "fire": ("burn", 0.0)}  # as envs.perception
REGISTER_MIN_SIDE_PX = 32  # registration of smaller images (drone mosaics) is unreliable
_CACHE: dict = {}
_CACHE_MAX = 8


def _cached(kind: str, scenario, extra, build):
    key = (kind, hashlib.sha1(scenario.model_dump_json().encode()).hexdigest(), extra)
    if key not in _CACHE:
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = build()
    return _CACHE[key]


def _static(scenario):
    """(grid, TaskSet) of a scenario, cached."""
    from envs.scenario import region_grid

    def build():
        grid = region_grid(scenario)
        return grid, TaskSet.from_scenario(scenario, grid)

    return _cached("static", scenario, None, build)


def scene_for(scenario, seed: int) -> Scene:
    """The ground truth of ``scenario`` with landscape seed ``seed`` (cached)."""
    grid, tasks = _static(scenario)
    return _cached("scene", scenario, int(seed), lambda: Scene(grid, tasks, int(seed)))


def _geometry(scenario, span_s: float) -> dict:
    """Sample times over [0, span), sun elevation at the region centre, and each satellite's
    passes [(i0, i1, x_m, y_m, alt_m over samples i0:i1)] on the grid (cached)."""
    from envs.assembly import build_satellites
    from envs.geo import ecef_to_geodetic
    from envs.orbits import sun_elevation_deg

    def build():
        grid, _ = _static(scenario)
        t = np.arange(0.0, span_s, GEOMETRY_STEP_S)
        lon0, lat0 = grid.origin
        sun = sun_elevation_deg(lat0, lon0, epoch_utc=scenario.epoch_utc, t_s=t)[0]
        sats = build_satellites(scenario)
        xl, yb, xr, yt = grid.bounds_m
        passes = []
        for s in range(sats.constellation.n_sat):  # one at a time: bounded memory
            one = type(sats.constellation)(sats.constellation.satrecs[s : s + 1])
            lon, lat, alt = ecef_to_geodetic(one.positions_ecef_m(epoch_utc=scenario.epoch_utc,
                                                                  t_s=t)[0])  # fmt: skip
            x, y = grid.to_grid(lon, lat)
            reach = alt * math.tan(math.radians(sats.group(scenario, s).sensor.max_off_nadir_deg))
            dx = np.maximum(np.maximum(xl - x, x - xr), 0.0)
            dy = np.maximum(np.maximum(yb - y, y - yt), 0.0)
            edge = np.diff(np.r_[0, (np.nan_to_num(np.hypot(dx, dy), nan=np.inf) <= reach), 0])
            runs = zip(np.flatnonzero(edge == 1), np.flatnonzero(edge == -1), strict=True)
            passes.append([(a, b, x[a:b], y[a:b], alt[a:b]) for a, b in runs])
        return {"t": t, "span": float(span_s), "sun": sun, "passes": passes,
                "group": sats.group_index}  # fmt: skip

    return _cached("geometry", scenario, float(span_s), build)


def _sources(scenario, geo, n_sources, rng) -> list[dict]:
    """Per source id: {"sat": s, "offset_s", "name"} or {"uav": group, "name"}."""
    natural = [{"sat": s, "offset_s": 0.0, "name": f"sat{s}"} for s in range(len(geo["group"]))]
    natural += [{"uav": g, "name": f"{d.name}/{k}"}
                for g, d in enumerate(scenario.drones) for k in range(d.count)]  # fmt: skip
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
        if "sat" in p:
            out[-1]["offset_s"] = float(rng.uniform(0.0, geo["span"]))
    return out


def _pick(rng, tasks, near):
    """A task index among ``near`` (bool), drawn by priority."""
    k = np.flatnonzero(near)
    return rng.choice(k, p=tasks.priority[k] / tasks.priority[k].sum())


def _lit(geo, t_s, sensor) -> bool:
    i = min(int(t_s / GEOMETRY_STEP_S), geo["t"].size - 1)
    return sensor.kind == "sar" or geo["sun"][i] >= sensor.min_sun_elevation_deg


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
    """Append satellite source ``p``'s strips (module doc) to ``out``."""
    grid, tasks = _static(scenario)
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
            swath = sensor.swath_m or float(swath_m_from_full_fov_deg(sensor.fov_deg, h))
            win = _window(grid, *aim, round(STRIP_MAX_LENGTH_M / res), round(swath / res))
            out.append((float(t_s), src, win, SensorSpec.from_schema(sensor, h, off, lat0)))


def _drone(scenario, geo, p, src, duration_s, rng, out) -> None:
    """Append drone source ``p``'s survey mosaics (module doc) to ``out``."""
    grid, tasks = _static(scenario)
    d = scenario.drones[p["uav"]]
    flight_s = 3600.0 * d.battery_capacity_wh * (1 - d.reserve_fraction) / max(
        d.cruise_power_w, d.hover_power_w)  # fmt: skip
    cycle_s = flight_s + 3600.0 * d.battery_capacity_wh / d.charge_power_w
    bx, by = grid.to_grid(d.base_lon_deg, d.base_lat_deg)
    in_range = np.hypot(tasks.x_m - bx, tasks.y_m - by) <= 0.5 * flight_s * d.cruise_speed_mps
    side = d.sensor.swath_m or float(swath_m_from_full_fov_deg(d.sensor.fov_deg, d.altitude_m))
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
        out.append((float(t_s), src, _window(grid, x, y, cells, cells), spec))


@dataclasses.dataclass
class Stream:
    """What :func:`simulate` returns: ``observations`` [(arrival s, Observation)] by arrival;
    ``oracle`` the same acquisitions, ideal (or None); ``malicious`` {source: kind};
    ``sources`` a name per source index; ``scene``; ``duration_s``."""

    observations: list[tuple[float, Observation]]
    oracle: list[tuple[float, Observation]] | None
    malicious: dict[int, str]
    sources: list[str]
    scene: Scene
    duration_s: float


def simulate(scenario, seed: int, *, duration_s=None, cloud_fraction=None, shift_px=None,
             malicious_fraction=0.0, attack="bias", latency_s=0.0, n_sources=None,
             oracle=False, attack_params: Mapping | None = None) -> Stream:  # fmt: skip
    """The stream with its bookkeeping (module doc; arguments as :func:`observation_stream`).
    ``oracle`` also builds the ideal stream; ``attack`` may be a {source: kind} mapping;
    ``attack_params`` {kind: {param: value}} override :data:`fusion.attacks.DEFAULTS`."""
    duration_s = float(scenario.duration_s if duration_s is None else duration_s)
    if latency_s < 0 or duration_s <= 0:
        raise ValueError("latency_s must be ≥ 0 and duration_s > 0")
    grid, _ = _static(scenario)
    scene = scene_for(scenario, seed)
    geo = _geometry(scenario, max(duration_s, float(scenario.duration_s)))
    sched_ss, cloud_ss, bad_ss, acq_ss = np.random.SeedSequence([int(seed), 5]).spawn(4)
    rng = np.random.default_rng(sched_ss)
    sources, acqs = _sources(scenario, geo, n_sources, rng), []
    for src, p in enumerate(sources):
        (_satellite if "sat" in p else _drone)(scenario, geo, p, src, duration_s, rng, acqs)
    acqs.sort(key=lambda a: (a[0], a[1]))
    per_agent = attack if isinstance(attack, Mapping) else None
    bad = _attacks.assign(sorted({a[1] for a in acqs}), np.random.default_rng(bad_ss),
                          fraction=malicious_fraction, attack="bias" if per_agent else attack,
                          per_agent=per_agent)  # fmt: skip
    kinds = [EVENT_KINDS[k] for k in scene.tasks.kind]
    params = {"false_event": {"event": "fire" if kinds.count("fire") > kinds.count("flood")
                              else "flood"}}  # fmt: skip
    for kind, p in (attack_params or {}).items():
        params[kind] = {**params.get(kind, {}), **p}
    adversaries = {s: _attacks.Adversary(k, scene=scene, **params.get(k, {}))
                   for s, k in bad.items()}  # fmt: skip
    c = scenario.clouds
    cover = c.cover_fraction if cloud_fraction is None else cloud_fraction
    clouds = CloudField(grid, cover, c.correlation_length_m, c.decorrelation_time_s, CLOUD_STEP_S)
    cloud_rng = np.random.default_rng(cloud_ss)
    clouds.reset(cloud_rng)
    n_steps, observations, ideal = 0, [], []
    for (t_s, src, win, spec), child in zip(acqs, acq_ss.spawn(len(acqs)), strict=True):
        while n_steps < int(t_s // CLOUD_STEP_S):
            clouds.step(cloud_rng)
            n_steps += 1
        g = np.random.default_rng(child)
        shift = None
        if shift_px is not None:
            mag = float(shift_px) * pixel_factor(spec.gsd_m, grid.resolution_m)
            ang = g.uniform(0.0, 2.0 * math.pi)
            shift = (mag * math.sin(ang), mag * math.cos(ang))
        arrival = t_s + latency_s + LATENCY_JITTER * latency_s * g.random()
        clear = None if spec.kind == "sar" else ~clouds.cloudy_window(*win)
        adv = adversaries.get(src)
        obs = acquire(scene, t_s, win, spec, g, clear=clear, source=src, shift_cells=shift,
                      **(adv.acquire_kwargs if adv else {}))  # fmt: skip
        if obs.values.size == 0:
            continue
        observations.append((arrival, adv.apply(obs, g) if adv else obs))
        if oracle:
            perfect = dataclasses.replace(spec, noise_std=0.0, looks=ORACLE_LOOKS)
            ideal.append((arrival, acquire(scene, t_s, win, perfect, np.random.default_rng(child),
                                           source=src, shift_cells=(0.0, 0.0))))  # fmt: skip
    order = sorted(range(len(observations)), key=lambda i: observations[i][0])
    return Stream([observations[i] for i in order], [ideal[i] for i in order] if oracle else None,
                  bad, [p["name"] for p in sources], scene, duration_s)  # fmt: skip


def observation_stream(scenario, seed, *, duration_s=None, cloud_fraction=None, shift_px=None,
                       malicious_fraction=0.0, attack="bias", latency_s=0.0,
                       n_sources=None) -> list[tuple[float, Observation]]:  # fmt: skip
    """(arrival time s, Observation) pairs sorted by arrival (see the module doc).

    ``duration_s`` acquisitions in [0, duration) (default the scenario's); ``cloud_fraction``
    overrides the scenario's cover; ``shift_px`` forced misregistration magnitude in the
    observation's pixels (None: the sensor model's own); ``malicious_fraction`` of the
    acquiring sources misbehave with ``attack`` (:data:`fusion.attacks.KINDS`), tagged;
    ``latency_s`` delivery latency; ``n_sources`` number of sources (None: the scenario's)."""
    return simulate(scenario, seed, duration_s=duration_s, cloud_fraction=cloud_fraction,
                    shift_px=shift_px, malicious_fraction=malicious_fraction, attack=attack,
                    latency_s=latency_s, n_sources=n_sources).observations  # fmt: skip


def fuser_kwargs(scenario, scene: Scene) -> dict:
    """``make_fuser`` keywords of the scenario's fusion model, per band (× data range²)."""
    scale = scene.data_range.astype(float) ** 2
    return {"prior_variance": scenario.fusion.prior_variance * scale,
            "process_noise_per_s": scenario.fusion.process_noise_per_s * scale}  # fmt: skip


def archive_map(scene: Scene) -> np.ndarray:
    """A base map for ``prior_mean``: the truth :data:`ARCHIVE_AGE_S` before the epoch."""
    return scene.truth_at(-ARCHIVE_AGE_S).astype(np.float64)


def replay(fuser, observations, until_s: float, start: int = 0, register: bool = False):
    """Feed ``observations[start:]`` that arrive by ``until_s`` to ``fuser``: predict(arrival)
    then update; with ``register``, images of ≥ :data:`REGISTER_MIN_SIDE_PX` pixels a side
    are first registered against the fuser's mean (:mod:`fusion.registration`). Ends with
    predict(until_s). Returns (next index, registration residuals in cells)."""
    from fusion.registration import estimate_and_register

    i, residuals = start, []
    while i < len(observations) and observations[i][0] <= until_s:
        arrival, obs = observations[i]
        if arrival > fuser.t_s:
            fuser.predict(arrival)
        if register and min(obs.values.shape[1:]) >= REGISTER_MIN_SIDE_PX:
            result = estimate_and_register(obs, fuser.estimate()[0])
            obs = result.observation
            residuals.append(result.residual_cells)
        fuser.update(obs)
        i += 1
    if until_s > fuser.t_s:
        fuser.predict(until_s)
    return i, residuals


def score(mean, scene: Scene, t_s: float) -> dict[str, float]:
    """The map ``mean`` against the truth at ``t_s``: ``rmse``, ``psnr_db`` and ``ssim`` of
    all bands, each divided by its data range (so SAR's NDWI counts), ``psnr_refl_db`` of the
    reflectances alone (range 1, as ``envs.perception``), and ``event_iou``: each event
    kind's index above its threshold inside the boxes around its events' largest discs (as
    ``envs.perception``), pooled over kinds (1.0 when neither map shows one; nan without)."""
    from fusion.metrics import extent_iou, psnr, rmse, ssim

    truth = scene.truth_at(t_s)
    span = scene.data_range[:, None, None]
    p, t = np.asarray(mean) / span, truth / span
    out = {"rmse": rmse(p, t).overall, "psnr_db": psnr(p, t, 1.0), "ssim": ssim(p, t, 1.0),
           "psnr_refl_db": psnr(p[:N_REFLECTANCE], t[:N_REFLECTANCE], 1.0)}  # fmt: skip
    tasks, grid = scene.tasks, scene.grid
    pred, true, box = (np.zeros(grid.shape, bool) for _ in range(3))
    for kind, (band, thr) in EVENT_INDEX.items():
        k = np.flatnonzero(tasks.kind == EVENT_KINDS.index(kind))
        if k.size == 0:
            continue
        area = np.zeros(grid.shape, bool)
        for a, b, c, d in zip(*tasks.window(k, tasks.max_radius_m[k], grid), strict=True):
            area[a:b, c:d] = True
        i = scene.band(band)
        pred |= area & (mean[i] > thr)
        true |= area & (truth[i] > thr)
        box |= area
    out["event_iou"] = extent_iou(pred, true, box) if box.any() else float("nan")
    return out
