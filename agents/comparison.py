"""Run policies (and fusers) on the same seeds and tabulate per-episode metrics: the engine
behind ``evaluate.py``.

A policy spec is a baseline's name (:data:`BASELINES`), the path of a trained
stable-baselines3 checkpoint (``runs/NAME/best.zip``) or of an RLlib checkpoint folder
(``runs/NAME/rllib_checkpoint`` of ``train.py --backend rllib``, a module per agent type;
:mod:`sagsim.agents.rllib_backend`, which imports Ray only when given one), checked against the
scenario's spaces before anything runs (:func:`check_policy`). With fusers, every episode
runs in ``imagery`` mode with that fuser at the fusion centre and its final map scored
against the truth.

Per-episode metrics (:func:`episode_metrics`), units in the names: ``return`` (team return),
``information`` (the time integral of the task-weighted map quality, priority-hours),
``images_acquired``, ``images_delivered``, ``delivered_fraction`` (images), ``gbit_acquired``,
``gbit_delivered``, ``mean_latency_h`` (acquisition to arrival), ``energy_kwh`` (activity
energy), the task metrics of :mod:`sagsim.agents.episode_metrics` (priority-weighted completion,
revisit gaps, age of information, event detection delay, drone distance) and, in imagery
mode, ``fusion_rmse``, ``fusion_psnr_db``, ``fusion_ssim``,
``fusion_event_iou`` at the episode's end (reflectance bands, ``sagsim.envs.world.perception``).
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np

from sagsim.agents.episode_metrics import (
    TASK_METRICS,
    USAGE_METRICS,
    EpisodeTracker,
    TaskPsnrTracker,
    UsageTracker,
)

__all__ = ["BASELINES", "METRICS", "RETIRED_POLICIES", "PolicyError", "check_policy",
           "episode_metrics", "make_policy", "policy_name", "run_job",
           "summarise_records"]  # fmt: skip

BASELINES = ("random", "greedy", "contact_aware", "planner")
# Specs that named a policy once, with why it went and what to use instead (one line each):
# an old command line gets that answer rather than "no such checkpoint".
RETIRED_POLICIES = {
    "oracle": "removed in issue 16 (heuristics beat it, so it was no upper bound); use "
    "planner, the rolling-horizon planner with full knowledge",
}
METRICS = ("return", "information", "images_acquired", "images_delivered",
           "delivered_fraction", "gbit_acquired", "gbit_delivered", "mean_latency_h",
           "energy_kwh", *TASK_METRICS, *USAGE_METRICS, "task_psnr_mean_db", "fusion_rmse",
           "fusion_psnr_db", "fusion_ssim", "fusion_event_iou")  # fmt: skip
FUSION_KEYS = {"fusion_rmse": "rmse", "fusion_psnr_db": "psnr_db", "fusion_ssim": "ssim",
               "fusion_event_iou": "event_iou"}  # fmt: skip


class PolicyError(ValueError):
    """A policy spec that cannot be used (one line)."""


def _env(scenario, fuser: str | None, max_cycles: int | None):
    from sagsim.envs.sag_env import SagEnv

    if fuser is None:
        return SagEnv(scenario, max_cycles=max_cycles)
    return SagEnv(scenario, max_cycles=max_cycles, perception="imagery",
                  fusion={"fuser": fuser})  # fmt: skip


@functools.lru_cache(maxsize=8)
def _load_model(path: str):
    from sb3_contrib import MaskablePPO
    from stable_baselines3 import PPO

    errors = []
    for algo in (MaskablePPO, PPO):
        try:
            return algo.load(path, device="cpu")
        except Exception as e:  # not this algorithm's file, or not a checkpoint at all
            errors.append(f"{type(e).__name__}: {(str(e).splitlines() or [''])[0]}")
    raise PolicyError(f"{path}: not a MaskablePPO or PPO checkpoint ({errors[0]})")


def make_policy(spec: str, scenario=None):
    """The :class:`sagsim.agents.baselines.Policy` for ``spec`` (a baseline name or a checkpoint
    path; with ``scenario``, a checkpoint is checked against its spaces)."""
    from sagsim.agents.baselines import ContactAwarePolicy, GreedyPolicy, RandomPolicy

    if spec == "random":
        return RandomPolicy(0)
    if spec == "greedy":
        return GreedyPolicy()
    if spec == "contact_aware":
        return ContactAwarePolicy()
    if spec == "planner":
        from sagsim.agents.planner import PlannerPolicy

        return PlannerPolicy()
    if spec in RETIRED_POLICIES:
        raise PolicyError(f"--policy {spec!r}: {RETIRED_POLICIES[spec]}")
    if scenario is not None:
        check_policy(spec, scenario)
    if Path(spec).is_dir():
        from sagsim.agents.rllib_backend import CheckpointError, load_policy

        try:
            return load_policy(spec, name=policy_name(spec))
        except CheckpointError as e:
            raise PolicyError(f"--policy {spec}: {e}") from None
    from sagsim.agents.evaluation import ModelPolicy

    return ModelPolicy(_load_model(str(Path(spec).resolve())), name=policy_name(spec))


def policy_name(spec: str) -> str:
    """A short label: the baseline's name, ``RUN/FILE`` of a checkpoint path (``RUN/best``)
    or ``RUN/FOLDER`` of an RLlib checkpoint folder (``RUN/rllib_checkpoint``)."""
    if spec in BASELINES:
        return spec
    p = Path(spec)
    return f"{p.parent.name}/{p.stem}" if p.parent.name else p.stem


def check_policy(spec: str, scenario) -> None:
    """Raise :class:`PolicyError` (one line) unless ``spec`` is a baseline or an existing
    checkpoint (``.zip`` or RLlib folder) whose observation and action spaces are the
    scenario's (a model trained on a scenario with another ``top_k`` or agent set cannot
    act in this one). A retired baseline (:data:`RETIRED_POLICIES`) is refused with what
    replaced it."""
    if spec in BASELINES:
        return
    if spec in RETIRED_POLICIES:
        raise PolicyError(f"--policy {spec!r}: {RETIRED_POLICIES[spec]}")
    path = Path(spec)
    if path.is_dir():
        from sagsim.agents.rllib_backend import CheckpointError, check_checkpoint

        try:
            check_checkpoint(spec, scenario)
        except CheckpointError as e:
            raise PolicyError(f"--policy {spec}: {e}") from None
        return
    if path.suffix != ".zip":
        raise PolicyError(f"--policy {spec!r}: not a baseline ({', '.join(BASELINES)}), "
                          "a checkpoint .zip or an RLlib checkpoint folder")  # fmt: skip
    if not path.is_file():
        raise PolicyError(f"--policy {spec}: no such checkpoint")
    model = _load_model(str(path.resolve()))
    env = _env(scenario, None, 1)
    agent = env.possible_agents[0]
    obs_shape = env.observation_space(agent)["observation"].shape
    n_actions = env.action_space(agent).n
    got_obs = tuple(model.observation_space.shape or ())
    got_n = getattr(model.action_space, "n", None)
    if got_obs != tuple(obs_shape) or got_n != n_actions:
        raise PolicyError(f"--policy {spec}: trained for observations {got_obs} and "
                          f"{got_n} actions, but {scenario.name} has {tuple(obs_shape)} and "
                          f"{n_actions} (a checkpoint of another scenario, or of an older "
                          f"observation layout?)")  # fmt: skip


def episode_metrics(total_return: float, totals: dict, fusion: dict | None) -> dict:
    """The per-episode metrics (module doc) from the return, the world's totals and the
    final fusion report (or None)."""
    delivered = totals.get("images_delivered", 0)
    acquired = totals.get("images_acquired", 0)
    out = {"return": float(total_return), "information": float(totals.get("information", 0.0)),
           "images_acquired": float(acquired), "images_delivered": float(delivered),
           "delivered_fraction": delivered / acquired if acquired else math.nan,
           "gbit_acquired": totals.get("bits_acquired", 0.0) / 1e9,
           "gbit_delivered": totals.get("bits_delivered", 0.0) / 1e9,
           "mean_latency_h": totals.get("latency_sum_s", 0.0) / delivered / 3600.0
           if delivered else math.nan,
           "energy_kwh": totals.get("energy_wh", 0.0) / 1e3}  # fmt: skip
    for key, src in FUSION_KEYS.items():
        out[key] = float(fusion[src]) if fusion and src in fusion else math.nan
    return out


def run_job(job) -> dict:
    """One episode: ``job`` = (scenario, policy spec, fuser or None, seed, max_cycles[,
    capture[, animate_every]]); the record {policy, fuser, seed, steps, **metrics}, with
    ``capture`` also ``"_capture"``: what the report draws of the episode (:class:`_Log`),
    with an animation (:mod:`sagsim.agents.animation`) when ``animate_every`` is not None (a frame
    every that many steps; ``sagsim.agents.animation.AUTO``: about ``TARGET_FRAMES`` frames)."""
    scenario, spec, fuser, seed, max_cycles, *rest = job
    capture = bool(rest and rest[0])
    animate_every = rest[1] if capture and len(rest) > 1 else None
    import torch

    torch.set_num_threads(1)  # one episode a process: threads would only contend
    from sagsim.agents.evaluation import run_episode

    policy = make_policy(spec)
    env = _env(scenario, fuser, max_cycles)
    # The world is built reset: the trackers' initial state is every episode's.
    tracker = EpisodeTracker(env.world)
    usage = UsageTracker(env.world, env.possible_agents)
    task_psnr = TaskPsnrTracker(env.world)
    log = _Log(env, animate_every) if capture else None
    fusion: list[dict] = []  # the latest fusion report

    def on_step(env, actions, infos) -> None:
        tracker.step(env.world)
        usage.step(env.world, infos)
        task_psnr.step(env.world)
        report = next(iter(infos.values()), {}).get("fusion") if infos else None
        if report:
            fusion[:] = [report]
        if log is not None:
            log.step(env, actions, infos, report)

    result = run_episode(env, policy, int(seed), on_step)
    record = {"policy": policy_name(spec), "fuser": fuser or "", "seed": int(seed),
              "steps": result.length,
              **episode_metrics(result.return_, result.totals, fusion[0] if fusion else None),
              **tracker.metrics(env.world.t_s), **usage.metrics(),
              **task_psnr.metrics(),
              # The planner replayed its whole greedy episode (it scored higher than the
              # plan); None for every other policy.
              "planner_used_greedy": getattr(policy, "used_greedy", None)}  # fmt: skip
    if log is not None:
        record["_capture"] = log.result(env, record)
    env.close()
    return record


class _Log:
    """The report's record of one episode: action kinds, images taken and delivered per
    agent and step, drone trails, fusion reports, and the final map frame; in imagery mode
    the best single image (:class:`sagsim.agents.report_maps.BestObservation`, an observer of the
    world's perception); with ``animate_every`` (not None) frames for an animation.

    A station's kind is what reached it, not the action it chose (a station may choose to
    serve all day): ``downlink`` in a step where a satellite alive at the step's start, in
    its view then (``world.geom.gs_visible``), ran a downlink; ``contact`` where such a
    satellite was in view but none downlinked (or the station chose to wait); ``idle``
    where none was in view. The world does not record which station received a satellite
    that saw two: both show the downlink."""

    def __init__(self, env, animate_every: int | None = None) -> None:
        from sagsim.agents.report import ACTION_KINDS
        from sagsim.agents.report_maps import agent_names
        from sagsim.envs.actions import DOWNLINK, IDLE
        from sagsim.envs.views.render import DroneTrail

        self.trail = DroneTrail()  # the drones' paths on the final map
        self.agents = list(env.possible_agents)
        self.names = agent_names(env.world)
        self.k = env.scenario.env.top_k
        self._downlink, self._wait = self.k + DOWNLINK, self.k + IDLE
        self._kind = {kind: i for i, kind in enumerate(ACTION_KINDS)}
        self._n_gs = env.world.n_gs
        self._gs_up = env.world.gs_alive.copy()  # stations up during the coming step
        self._alive = env.world.alive.copy()  # agents alive at the coming step's start
        self.kinds, self.acquired, self.delivered, self.series = [], [], [], []
        self.best = None
        perception = env.world.perception
        if perception is not None:
            from sagsim.agents.report_maps import BestObservation

            self.best = BestObservation(perception)
            perception.observers.append(self.best)
        self.gif = None
        if animate_every is not None:
            from sagsim.agents.animation import GifRecorder

            self.gif = GifRecorder(animate_every)

    def step(self, env, actions, infos, report) -> None:
        kind = self._kind
        world = env.world
        row, took, sent = [], [], []
        first_gs = len(self.agents) - self._n_gs
        failed_now = world.failed.tolist()
        for i, a in enumerate(self.agents):
            info = infos.get(a)
            act = actions.get(a)
            if failed_now[i]:  # failed in this step or before (sagsim.envs.world.faults, power)
                k = kind["failed"]
            elif i >= first_gs and not self._gs_up[i - first_gs]:
                k = kind["outage"]
            elif info is None or act is None:
                k = kind["idle"]
            elif info.get("infeasible"):
                k = kind["masked"]
            elif i >= first_gs:
                k = None  # a station: what reached it (below)
            else:
                k = 0 if act < self.k else min(act - self.k + 1, kind["idle"])
            row.append(k)
            took.append(int(info.get("acquired", 0)) if info else 0)
            sent.append(int(info.get("delivered", 0)) if info else 0)
        if self._n_gs:
            # The step just taken used the geometry of its start, row world.k - 1.
            n_sat = world.n_sat
            in_view = world.geom.gs_visible[world.k - 1] & self._alive[:n_sat, None]
            downlinked = np.array([
                self._alive[s] and actions.get(a) == self._downlink
                and not (infos.get(a) or {}).get("infeasible", True)
                for s, a in enumerate(self.agents[:n_sat])], bool)  # fmt: skip
            receiving = (in_view & downlinked[:, None]).any(axis=0)
            seen = in_view.any(axis=0)
            for g in range(self._n_gs):
                i = first_gs + g
                if row[i] is not None:
                    continue
                waits = actions.get(self.agents[i]) == self._wait
                row[i] = (kind["downlink"] if receiving[g] and not waits
                          else kind["contact"] if seen[g] else kind["idle"])  # fmt: skip
        self.kinds.append(row)
        self._gs_up = world.gs_alive.copy()
        self._alive = world.alive.copy()
        self.acquired.append(took)
        self.delivered.append(sent)
        if report:
            self.series.append({k: report[k] for k in ("t_s", "psnr_db") if k in report})
        self.trail.update(world)
        if self.gif is not None:
            self.gif.step(world, last=not env.agents)  # no agents left: the last step

    def result(self, env, record) -> dict:
        import io

        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from sagsim.envs.views.render import render_rgb

        buf = io.BytesIO()
        plt.imsave(buf, render_rgb(env.world, size_px=720, trail=self.trail), format="png")
        label = record["policy"] + (f"+{record['fuser']}" if record["fuser"] else "")
        out = {"policy": label, "seed": record["seed"], "agents": self.agents,
               "names": self.names, "step_s": float(env.scenario.step_s), "kinds": self.kinds,
               "acquired": self.acquired, "delivered": self.delivered,
               "fusion_series": self.series, "frame_png": buf.getvalue()}  # fmt: skip
        if self.best is not None:
            from sagsim.agents.report_maps import comparison_png

            title = f"{label}, seed {record['seed']}"
            out["maps_png"], out["maps"] = comparison_png(env.world, self.best, title)
            env.world.perception.observers.remove(self.best)
        if self.gif is not None:
            out["animation_gif"] = self.gif.gif_bytes()
            out["animation_every_steps"] = self.gif.every_steps
            out["animation_frames"] = len(self.gif.frames)
        return out


def summarise_records(records: list[dict], baseline: str | None) -> dict:
    """{(policy, fuser) label: {metric: bootstrap_ci, "vs_<baseline>": {metric: paired}}}
    over seeds, labels ``policy`` or ``policy+fuser``."""
    from sagsim.agents.stats import bootstrap_ci, paired_difference

    groups: dict[str, list[dict]] = {}
    for r in records:
        label = r["policy"] + (f"+{r['fuser']}" if r["fuser"] else "")
        groups.setdefault(label, []).append(r)
    for rs in groups.values():
        rs.sort(key=lambda r: r["seed"])
    out = {}
    for label, rs in groups.items():
        cell = {m: bootstrap_ci([r[m] for r in rs]) for m in METRICS}
        base_label = None
        if baseline is not None:
            fuser = rs[0]["fuser"]
            base_label = baseline + (f"+{fuser}" if fuser else "")
        if base_label in groups and base_label != label:
            base = groups[base_label]
            if [r["seed"] for r in base] == [r["seed"] for r in rs]:
                cell[f"vs_{base_label}"] = {
                    m: paired_difference([r[m] for r in rs], [r[m] for r in base]) for m in METRICS
                }
        out[label] = cell
    return out
