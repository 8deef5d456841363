"""The ``imagery`` perception mode of the world: a ground-truth scene, real sensor images
and a fuser at the fusion centre, scored against the truth.

In ``variance_only`` mode (the default, for fast training) the world keeps only the
reward's variance bookkeeping (:class:`sagsim.fusion.kalman.KalmanGrid`). In ``imagery`` mode it
also holds a :class:`Perception`: every acquisition produces an
:class:`sagsim.fusion.observation.Observation` from the :class:`sagsim.fusion.sensing.scene.Scene`
through the sensor model (:func:`sagsim.fusion.sensing.sensor_model.acquire`: GSD, blur, noise, the
cloud mask the reward uses, SAR speckle, misregistration), carried in its packet through queues and
relays; when the packet arrives the configured fuser (``fusion.fuser``) fuses it. The reward is the
same in both modes (it keeps using the variance bookkeeping); ``imagery`` adds the fused
map and its quality: every ``fusion.metrics_every_s`` the fused mean is scored against the
truth (:func:`sagsim.fusion.metrics.evaluate_map`), and the figures go into ``infos``.

Open data (the scenario's ``open_data``: MODIS, VIIRS; not agents) reach the fusion centre
too in ``imagery`` mode: their nadir images of the region on every daylight pass
(:func:`sagsim.fusion.sensing.acquisitions.schedule`, computed once per world) are taken when the
clock passes their acquisition time, under the world's cloud field of that step, and fused when
their ``latency_s`` has passed. Their source ids follow the agents' (``n_agents + j``). The
reward's variance bookkeeping does not see them (the reward is the agents' own delivered
information).

Bad sources (the scenario's ``bad_sources``: :mod:`sagsim.fusion.sensing.attacks`): a ``fraction``
of the imaging agents, drawn at each reset, or the named ``agents`` send what their
:class:`sagsim.fusion.sensing.attacks.Adversary` makes of each image (a bias, extra noise, a false
event, a stale replay; stuck or dropped pixels); ``bad_sources`` maps their source ids to kinds.

Observers: ``Perception.observers`` is a list of callables, each called as
``observer(observation)`` right after every observation (an agent's or open data's) is fused;
the evaluation report keeps its best single image this way (:mod:`sagsim.agents.report_maps`)
without the world holding every image. It survives :meth:`Perception.reset`.

Randomness: sensor noise and misregistration come from a generator spawned from the
episode's seed sequence, and the bad sources from a second one, not drawn from the world's
generator, so clouds and everything else are identical in both modes for the same seed.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from sagsim.envs.scenario.agent_names import IMAGING_KINDS, parse_agent_name
from sagsim.envs.scenario.loader import ScenarioError
from sagsim.fusion import make_fuser
from sagsim.fusion.metrics import evaluate_map, extent_f1, extent_iou, extent_mask, psnr, rmse
from sagsim.fusion.observation import Observation
from sagsim.fusion.sensing.attacks import Adversary, assign, sensor_faults
from sagsim.fusion.sensing.scene import EVENT_INDEX, N_REFLECTANCE, Scene
from sagsim.fusion.sensing.sensor_model import SensorSpec, acquire
from sagsim.fusion.simulate import fuser_kwargs
from sagsim.sensor_kinds import SENSOR_KINDS

__all__ = ["Perception"]

# Reflectance is in [0, 1]: the PSNR/SSIM range of the reflectance bands.
REFLECTANCE_RANGE = 1.0


class Perception:
    """Scene, sensor model and fuser of one world (see the module docstring).

    ``world`` is the :class:`sagsim.envs.world.world.World` it belongs to (its grid, tasks, scenario
    and clock are read, never changed).
    """

    def __init__(self, world) -> None:
        sc = world.scenario
        self.world = world
        self.scene = Scene.from_scenario(sc, grid=world.grid, tasks=world.tasks)
        self.fuser = make_fuser(sc.fusion.fuser, **fuser_kwargs(sc, self.scene))
        self.every_steps = max(1, round(sc.fusion.metrics_every_s / sc.step_s))
        # (kind, where its extent is scored) for each event kind the scene draws that occurs.
        boxes = {kind: world.tasks.event_boxes(kind, world.grid) for kind in EVENT_INDEX}
        self._event_areas = [(kind, area) for kind, area in boxes.items() if area.any()]
        self.rng = np.random.default_rng(0)
        self.latest: dict[str, float] = {}
        self._open_plan = self._open_data_plan(world)
        self._named_bad = self._named_bad_sources(world)
        self.bad_sources: dict[int, str] = {}
        self._adversaries: dict[int, Adversary] = {}
        self._open_next = 0
        self._open_pending: list[tuple[float, int, Observation]] = []
        self.open_data_fused = 0  # open-data images fused this episode
        self._degraded: dict[int, tuple[float, float]] = {}  # source: (noise ×, stuck share)
        # (n_bands,) the band means every unobserved cell of the fused map starts from.
        self.prior_mean = np.zeros(len(self.scene.bands))
        self.observers: list = []  # called with every fused observation (module doc)

    @staticmethod
    def _named_bad_sources(world) -> dict[int, str] | None:
        """``bad_sources.agents`` as {source id: kind} (None when not given)."""
        named = world.scenario.bad_sources.agents
        if not named:
            return None
        out, counts = {}, {"sat": world.n_sat, "uav": world.n_uav}
        for name, kind in named.items():
            prefix, index = parse_agent_name(name, IMAGING_KINDS)  # the schema checked it
            if index >= counts[prefix]:
                raise ScenarioError(world.scenario.name, "bad_sources.agents",
                                    f"no agent {name!r} (allowed: sat_0…sat_{world.n_sat - 1}, "
                                    f"uav_0…uav_{world.n_uav - 1})")  # fmt: skip
            out[index + (world.n_sat if prefix == "uav" else 0)] = kind
        return out

    @staticmethod
    def _open_data_plan(world) -> list[tuple]:
        """The open-data acquisitions of an episode, ``(t_s, source, window, SensorSpec,
        latency_s)`` by time (they depend on orbits and the sun only: once per world)."""
        if not world.scenario.open_data:
            return []
        from sagsim.fusion.sensing.acquisitions import open_data_schedule

        _srcs, plan, _geo = open_data_schedule(world.scenario)
        return [(t, world.n_agents + j, win, spec, lat) for t, j, win, spec, lat in plan]

    def reset(self, rng: np.random.Generator) -> None:
        """A new episode: an empty map; the sensors' generator spawned from ``rng``'s seed
        sequence (``rng`` itself is not drawn from)."""
        seed_seq = getattr(rng.bit_generator, "seed_seq", None)
        children = seed_seq.spawn(2) if seed_seq is not None else [None, None]
        self.rng = np.random.default_rng(children[0])
        cfg, w = self.world.scenario.bad_sources, self.world
        self.bad_sources = assign(range(w.n_sat + w.n_uav), np.random.default_rng(children[1]),
                                  fraction=cfg.fraction, attack=cfg.kind,
                                  per_agent=self._named_bad)  # fmt: skip
        self._adversaries = {s: Adversary(k, scene=self.scene, **cfg.params.get(k, {}))
                             for s, k in self.bad_sources.items()}  # fmt: skip
        mean0 = self.scene.truth_at(0.0).reshape(len(self.scene.bands), -1).mean(axis=1)
        self.fuser.reset(len(self.scene.bands), self.world.grid.shape, 0.0, prior_mean=mean0)
        self.prior_mean = mean0
        self.latest = {}
        self._open_next, self._open_pending = 0, []
        self.open_data_fused = 0
        self._degraded = {}

    def acquire(self, t_s: float, window, sensor, altitude_m: float, off_nadir_deg: float,
                clear: np.ndarray | None, source: int) -> Observation:  # fmt: skip
        """The image of grid ``window`` taken at ``t_s`` by ``sensor`` (a scenario Sensor)
        from ``altitude_m`` at ``off_nadir_deg``; ``clear`` the window's cloud-free cells."""
        spec = SensorSpec.from_schema(sensor, altitude_m, off_nadir_deg)
        degraded = self._degraded.get(source)
        faults = {}
        if degraded is not None:  # a sensor_degrade fault (sagsim.envs.world.faults)
            noise_factor, stuck_fraction = degraded
            # Optical: noise std × factor; SAR: speckle std ∝ 1/√looks, so looks / factor².
            spec = dataclasses.replace(spec, noise_std=spec.noise_std * noise_factor,
                                       looks=max(1.0, spec.looks / noise_factor**2))  # fmt: skip
            if stuck_fraction > 0:
                faults = sensor_faults("stuck", fraction=stuck_fraction)
        adversary = self._adversaries.get(source)
        if adversary is None:
            return acquire(self.scene, t_s, window, spec, self.rng, clear=clear, source=source,
                           **faults)  # fmt: skip
        obs = acquire(self.scene, t_s, window, spec, self.rng, clear=clear, source=source,
                      **{**faults, **adversary.acquire_kwargs})  # fmt: skip
        return adversary.apply(obs, self.rng)

    def degrade(self, source: int, noise_factor: float, stuck_fraction: float) -> None:
        """From now on ``source``'s sensor has ``noise_factor`` × its noise (compounding
        earlier degradations) and ``stuck_fraction`` of stuck pixels (the larger of this and
        any earlier one); until the next reset."""
        factor, stuck = self._degraded.get(source, (1.0, 0.0))
        self._degraded[source] = (factor * noise_factor, max(stuck, stuck_fraction))

    def predict(self, t_s: float) -> None:
        """Advance the fuser's clock to ``t_s`` (s): open-data images taken by then are
        acquired (under the world's current clouds), and those that have arrived are fused
        in order of arrival."""
        self.fuser.predict(t_s)
        plan = self._open_plan
        while self._open_next < len(plan) and plan[self._open_next][0] <= t_s:
            t_acq, source, window, spec, latency_s = plan[self._open_next]
            self._open_next += 1
            cloud_blocked = SENSOR_KINDS[spec.kind].blocked_by_cloud
            clear = ~self.world.clouds.cloudy_window(*window) if cloud_blocked else None
            obs = acquire(self.scene, t_acq, window, spec, self.rng, clear=clear, source=source)
            if obs.values.size:
                self._open_pending.append((t_acq + latency_s, source, obs))
        if self._open_pending:
            self._open_pending.sort(key=lambda p: (p[0], p[1]))
            while self._open_pending and self._open_pending[0][0] <= t_s:
                self.fuse(self._open_pending.pop(0)[2])
                self.open_data_fused += 1

    def fuse(self, observation: Observation) -> None:
        """Fuse one observation that reached the fusion centre, then tell the observers."""
        self.fuser.update(observation)
        for observer in self.observers:
            observer(observation)

    def metrics(self, t_s: float, full: bool = True) -> dict[str, float]:
        """The fused mean against the truth at ``t_s`` (plain floats): RMSE and PSNR of the
        reflectance bands (range 1) and the event extents' IoU and F1 (each kind's index
        above its threshold, inside the events' boxes; 1.0 when neither map shows an
        event); with ``full`` also MAE, SSIM, SAM, ERGAS and correlation
        (:func:`sagsim.fusion.metrics.evaluate_map`), which cost ~0.4 s on a 489 × 541 grid."""
        mean, _variance = self.fuser.estimate()
        truth = self.scene.truth_at(t_s)
        refl = slice(0, N_REFLECTANCE)
        if full:
            out = evaluate_map(mean[refl], truth[refl], data_range=REFLECTANCE_RANGE)
        else:
            out = {"rmse": rmse(mean[refl], truth[refl]).overall,
                   "psnr_db": psnr(mean[refl], truth[refl], REFLECTANCE_RANGE)}  # fmt: skip
        pred_ext = np.zeros(self.world.grid.shape, bool)
        true_ext = np.zeros(self.world.grid.shape, bool)
        for kind, area in self._event_areas:
            band, threshold = EVENT_INDEX[kind]
            i = self.scene.band(band)
            pred_ext |= area & extent_mask(mean[i], threshold)
            true_ext |= area & extent_mask(truth[i], threshold)
        out["event_iou"] = extent_iou(pred_ext, true_ext)
        out["event_f1"] = extent_f1(pred_ext, true_ext)
        out["t_s"] = float(t_s)
        self.latest = out
        return out

    def metrics_due(self, k: int, done: bool) -> dict[str, float] | None:
        """The metrics at step ``k`` when they are due, else None: RMSE, PSNR and event
        IoU/F1 every ``metrics_every_s``; every metric at the episode's end."""
        if done:
            return self.metrics(self.world.t_s, full=True)
        if k % self.every_steps == 0:
            return self.metrics(self.world.t_s, full=False)
        return None

    def images(self, t_s: float) -> tuple[np.ndarray, np.ndarray]:
        """(truth, fused mean) ``(n_bands, rows, cols)`` at ``t_s``, for rendering."""
        return self.scene.truth_at(t_s), self.fuser.estimate()[0]
