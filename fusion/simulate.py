"""A standalone observation stream for fusion benchmarks and training, independent of the env.

:func:`observation_stream` returns what reaches the fusion centre of a scenario over
``duration_s``: ``(arrival time s, Observation)`` pairs sorted by arrival, from the
scenario's own platforms imaging the ground truth of :func:`scene_for` through the sensor
model (:func:`sagsim.fusion.sensing.sensor_model.acquire`). :func:`simulate` returns the same with
what the evaluation needs besides (which sources misbehave, the oracle stream).

What is imaged when (:mod:`sagsim.fusion.sensing.acquisitions`): the tasked satellites' strips on
their real passes, the drones' survey mosaics over active tasks, and the ``open_data`` missions'
nadir images of the whole swath on every daylight pass (delivered after their own
``latency_s`` on top of ``latency_s`` below).

Clouds: a :class:`sagsim.envs.physics.clouds.CloudField` with the scenario's correlation length and
time, stepped every :data:`CLOUD_STEP_S`; ``cloud_fraction`` overrides its cover. Optical pixels
under it are invalid; SAR sees through. Misregistration: the sensor model's draw from the
platform's errors, or with ``shift_px`` a shift of that magnitude in the observation's
pixels (``shift_px × factor`` cells) in a uniformly random direction. Delivery: arrival =
acquisition + ``latency_s`` + U(0, :data:`LATENCY_JITTER` × ``latency_s``), so late data
arrive out of order. Bad sources (:mod:`sagsim.fusion.sensing.attacks`): ``round(malicious_fraction
× n)`` of the sources that acquire at least once, drawn with the seed, all with ``attack`` (or a
``{source: kind}`` mapping). Sources: :func:`sagsim.fusion.sensing.acquisitions.sources` (tasked
satellites, drones, open data; a subset or clones with ``n_sources``).

The oracle stream (``simulate(..., oracle=True)``): the same acquisitions and arrivals with
no misregistration, no cloud, no noise (optical noise 0, SAR looks :data:`ORACLE_LOOKS`)
and no bad source: the upper bound's input. Deterministic per ``seed``: the landscape is
``Scene(seed)``; schedule, clouds, bad sources and each acquisition draw from their own
streams of ``SeedSequence(seed)``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import numpy as np

from sagsim.envs.physics.clouds import CloudField
from sagsim.envs.tasks import EVENT_KINDS
from sagsim.fusion.observation import Observation
from sagsim.fusion.sensing import attacks
from sagsim.fusion.sensing.acquisitions import cached, geometry, schedule, sources, static
from sagsim.fusion.sensing.scene import EVENT_INDEX, N_REFLECTANCE, Scene
from sagsim.fusion.sensing.sensor_model import acquire, pixel_factor
from sagsim.sensor_kinds import SENSOR_KINDS

__all__ = ["Stream", "archive_map", "fuser_kwargs", "observation_stream", "replay",
           "scene_for", "score", "simulate"]  # fmt: skip

CLOUD_STEP_S = 300.0
LATENCY_JITTER = 0.1
ORACLE_LOOKS = 1e9
ARCHIVE_AGE_S = 10 * 86_400.0  # the fusion centre's base map: the truth 10 days before
REGISTER_MIN_SIDE_PX = 32  # registration of smaller images (drone mosaics) is unreliable


def scene_for(scenario, seed: int) -> Scene:
    """The ground truth of ``scenario`` with landscape seed ``seed`` (cached)."""
    grid, tasks = static(scenario)
    return cached("scene", scenario, int(seed), lambda: Scene(grid, tasks, int(seed)))


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
    ``attack_params`` {kind: {param: value}} override
    :data:`sagsim.fusion.sensing.attacks.DEFAULTS`."""
    duration_s = float(scenario.duration_s if duration_s is None else duration_s)
    if latency_s < 0 or duration_s <= 0:
        raise ValueError("latency_s must be ≥ 0 and duration_s > 0")
    grid, _ = static(scenario)
    scene = scene_for(scenario, seed)
    geo = geometry(scenario, max(duration_s, float(scenario.duration_s)))
    sched_ss, cloud_ss, bad_ss, acq_ss = np.random.SeedSequence([int(seed), 5]).spawn(4)
    rng = np.random.default_rng(sched_ss)
    srcs = sources(scenario, geo, n_sources, rng)
    acqs = schedule(scenario, geo, srcs, duration_s, rng)
    per_agent = attack if isinstance(attack, Mapping) else None
    bad = attacks.assign(sorted({a[1] for a in acqs}), np.random.default_rng(bad_ss),
                          fraction=malicious_fraction, attack="bias" if per_agent else attack,
                          per_agent=per_agent)  # fmt: skip
    kinds = [EVENT_KINDS[k] for k in scene.tasks.kind]
    params = {"false_event": {"event": "fire" if kinds.count("fire") > kinds.count("flood")
                              else "flood"}}  # fmt: skip
    for kind, p in (attack_params or {}).items():
        params[kind] = {**params.get(kind, {}), **p}
    adversaries = {s: attacks.Adversary(k, scene=scene, **params.get(k, {}))
                   for s, k in bad.items()}  # fmt: skip
    c = scenario.clouds
    cover = c.cover_fraction if cloud_fraction is None else cloud_fraction
    clouds = CloudField(grid, cover, c.correlation_length_m, c.decorrelation_time_s, CLOUD_STEP_S)
    cloud_rng = np.random.default_rng(cloud_ss)
    clouds.reset(cloud_rng)
    n_steps, observations, ideal = 0, [], []
    for (t_s, src, win, spec, extra_s), child in zip(acqs, acq_ss.spawn(len(acqs)), strict=True):
        while n_steps < int(t_s // CLOUD_STEP_S):
            clouds.step(cloud_rng)
            n_steps += 1
        g = np.random.default_rng(child)
        shift = None
        if shift_px is not None:
            mag = float(shift_px) * pixel_factor(spec.gsd_m, grid.resolution_m)
            ang = g.uniform(0.0, 2.0 * math.pi)
            shift = (mag * math.sin(ang), mag * math.cos(ang))
        arrival = t_s + extra_s + latency_s + LATENCY_JITTER * latency_s * g.random()
        clear = ~clouds.cloudy_window(*win) if SENSOR_KINDS[spec.kind].blocked_by_cloud else None
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
                  bad, [p["name"] for p in srcs], scene, duration_s)  # fmt: skip


def observation_stream(scenario, seed, *, duration_s=None, cloud_fraction=None, shift_px=None,
                       malicious_fraction=0.0, attack="bias", latency_s=0.0,
                       n_sources=None) -> list[tuple[float, Observation]]:  # fmt: skip
    """(arrival time s, Observation) pairs sorted by arrival (see the module doc).

    ``duration_s`` acquisitions in [0, duration) (default the scenario's); ``cloud_fraction``
    overrides the scenario's cover; ``shift_px`` forced misregistration magnitude in the
    observation's pixels (None: the sensor model's own); ``malicious_fraction`` of the
    acquiring sources misbehave with ``attack`` (:data:`sagsim.fusion.sensing.attacks.KINDS`),
    tagged;
    ``latency_s`` delivery latency; ``n_sources`` number of sources (None: the scenario's)."""
    return simulate(scenario, seed, duration_s=duration_s, cloud_fraction=cloud_fraction,
                    shift_px=shift_px, malicious_fraction=malicious_fraction, attack=attack,
                    latency_s=latency_s, n_sources=n_sources).observations  # fmt: skip


def fuser_kwargs(scenario, scene: Scene) -> dict:
    """``make_fuser`` keywords of the scenario's fusion model, per band: ``prior_variance``
    and ``process_noise_per_s`` ``(n_bands,)``, the scenario's (in reflectance²) × each
    band's data range² (the index bands span 2, not 1). The world's ``imagery`` mode and the
    benchmarks use it alike."""
    scale = scene.data_range.astype(float) ** 2
    return {"prior_variance": scenario.fusion.prior_variance * scale,
            "process_noise_per_s": scenario.fusion.process_noise_per_s * scale}  # fmt: skip


def archive_map(scene: Scene) -> np.ndarray:
    """A base map for ``prior_mean``: the truth :data:`ARCHIVE_AGE_S` before the epoch."""
    return scene.truth_at(-ARCHIVE_AGE_S).astype(np.float64)


def replay(fuser, observations, until_s: float, start: int = 0, register: bool = False):
    """Feed ``observations[start:]`` that arrive by ``until_s`` to ``fuser``: predict(arrival)
    then update; with ``register``, images of ≥ :data:`REGISTER_MIN_SIDE_PX` pixels a side
    are first registered against the fuser's mean (:mod:`sagsim.fusion.registration`). Ends with
    predict(until_s). Returns (next index, registration residuals in cells)."""
    from sagsim.fusion.registration import estimate_and_register

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
    reflectances alone (range 1, as ``sagsim.envs.world.perception``), and ``event_iou``: each event
    kind's index above its threshold inside the boxes around its events' largest discs (as
    ``sagsim.envs.world.perception``), pooled over kinds (1.0 when neither map shows one; nan
    without)."""
    from sagsim.fusion.metrics import extent_iou, psnr, rmse, ssim

    truth = scene.truth_at(t_s)
    span = scene.data_range[:, None, None]
    p, t = np.asarray(mean) / span, truth / span
    out = {"rmse": rmse(p, t).overall, "psnr_db": psnr(p, t, 1.0), "ssim": ssim(p, t, 1.0),
           "psnr_refl_db": psnr(p[:N_REFLECTANCE], t[:N_REFLECTANCE], 1.0)}  # fmt: skip
    tasks, grid = scene.tasks, scene.grid
    pred, true, box = (np.zeros(grid.shape, bool) for _ in range(3))
    for kind, (band, thr) in EVENT_INDEX.items():
        area = tasks.event_boxes(kind, grid)
        i = scene.band(band)
        pred |= area & (mean[i] > thr)
        true |= area & (truth[i] > thr)
        box |= area
    out["event_iou"] = extent_iou(pred, true, box) if box.any() else float("nan")
    return out
