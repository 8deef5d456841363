"""``train.py --backend rllib``: Ray RLlib PPO (new API stack) with one policy per agent type.

Satellites, drones and stations get one RLModule each (module ids ``"satellite"``,
``"drone"``, ``"station"``; every ``sat_<i>`` shares the satellite module, and so on), masked
by the environment's action mask. Sampling runs in ``num_env_runners`` Ray actors (0: in the
driver), each with ``n_envs`` copies of the environment; the learner runs in the driver.

Writes to ``out``: ``rllib_checkpoint/`` (an RLlib checkpoint, replaced by rename so an
interrupted save never leaves half of one, with ``sagsim_state.json`` inside: steps done),
``config.yaml`` and, at the end, ``metrics.json``. Ray is imported only here, inside
functions, so the SB3 path never imports it.

For ``evaluate.py --policy OUT/rllib_checkpoint``: :func:`check_checkpoint` (the
checkpoint's modules against a scenario's agent types and spaces) and :func:`load_policy`
(an :class:`RLlibPolicy` of the checkpoint's modules, restored without starting Ray).
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import yaml
from gymnasium import spaces
from pettingzoo.utils.wrappers import BaseParallelWrapper
from tqdm import tqdm

from sagsim.agents.baselines import GreedyPolicy, Policy, RandomPolicy
from sagsim.agents.evaluation import evaluate, summarise
from sagsim.agents.shaping import PotentialShaping
from sagsim.agents.training import ConfigError, eval_seeds
from sagsim.atomic import recover_dir, replace_atomic, replace_dir_atomic, write_json_atomic
from sagsim.cli import StopRequest
from sagsim.envs.scenario.agent_names import parse_agent_name

__all__ = ["CHECKPOINT", "MODULE_OF_PREFIX", "CheckpointError", "RLlibPolicy", "agent_to_module",
           "check_checkpoint", "load_policy", "train_rllib"]  # fmt: skip

CHECKPOINT = "rllib_checkpoint"
STATE_FILE = "sagsim_state.json"
ENV_NAME = "sag_eo_v0_rllib"
MODULE_OF_PREFIX = {"sat": "satellite", "uav": "drone", "gs": "station"}
NEEDS_RAY = "--backend rllib needs Ray: pip install '.[ray]'"
INTERRUPTED = 130
# Plenty for a few small torch state dicts and episode batches; Ray's default (30 % of
# RAM) would reserve gigabytes of /dev/shm on a laptop or a 2-core CI machine.
OBJECT_STORE_BYTES = 256 * 2**20


def agent_to_module(agent_id, episode=None, **kwargs) -> str:
    """The module id (agent type) of ``sat_3`` → ``"satellite"``, ``uav_0`` → ``"drone"``,
    ``gs_1`` → ``"station"``. Module level so that remote env runners unpickle it by name."""
    return MODULE_OF_PREFIX[parse_agent_name(str(agent_id))[0]]


class _MaskedObsAdapter(BaseParallelWrapper):
    """SagEnv reshaped for RLlib's action-masking RLModule, still a PettingZoo ParallelEnv.

    The example module (``ActionMaskingTorchRLModule``) wants ``Dict(observations=…,
    action_mask=…)``; SagEnv says ``observation`` (PettingZoo's and SB3's convention), so
    the key is renamed here rather than in the env. The mask becomes float32 (0/1, shape
    (K+4,)) because the module takes ``log(mask)``. Episode seeds: RLlib seeds only the first
    reset of each env copy; later resets draw from a generator seeded by that first seed
    and the env runner's index, so a whole run follows from the config's seed. ``reward``:
    ``"team"`` (every agent gets the team reward) or ``"share"`` (its ``reward_share``);
    ``shaping_gamma``: potential-based shaping as in the SB3 path (:mod:`sagsim.agents.shaping`).
    """

    def __init__(self, env, worker_index: int = 0, reward: str = "team",
                 shaping_gamma: float | None = None):  # fmt: skip
        super().__init__(env)
        self.worker_index, self.share = int(worker_index), reward == "share"
        self.shaping = (
            None if shaping_gamma is None else PotentialShaping(shaping_gamma, self.share)
        )
        self._rng = np.random.default_rng([0, self.worker_index])
        inner = env.observation_space(env.possible_agents[0])
        mask = spaces.Box(0.0, 1.0, inner["action_mask"].shape, np.float32)
        self._space = spaces.Dict({"observations": inner["observation"], "action_mask": mask})

    def observation_space(self, agent):
        return self._space

    def reset(self, seed=None, options=None):
        if seed is not None:  # (seed + vector index, runner index): unique per env copy
            self._rng = np.random.default_rng([int(seed), self.worker_index])
        obs, infos = self.env.reset(seed=int(self._rng.integers(2**31)), options=options)
        if self.shaping is not None:
            self.shaping.reset()
        return self._convert(obs), infos

    def step(self, actions):
        live = list(self.env.agents)
        obs, rewards, terms, truncs, infos = self.env.step(actions)
        if self.share:
            rewards = {a: infos[a]["reward_share"] for a in rewards}
        if self.shaping is not None:
            bonus = self.shaping.bonus(infos, live, episode_over=not self.env.agents)
            rewards = {a: r + bonus[a] for a, r in rewards.items()}
        return self._convert(obs), rewards, terms, truncs, infos

    @staticmethod
    def _convert(obs: dict) -> dict:
        f32 = np.float32
        return {a: {"observations": o["observation"], "action_mask": o["action_mask"].astype(f32)}
                for a, o in obs.items()}  # fmt: skip


def _make_env(env_config):
    """RLlib env creator: ``env_config`` (an EnvContext) holds ``scenario`` (a plain dict, so
    remote env runners need no scenario file) and ``max_cycles``."""
    from ray.rllib.env.wrappers.pettingzoo_env import ParallelPettingZooEnv

    from sagsim.envs.sag_env import SagEnv

    class SagRLlibEnv(ParallelPettingZooEnv):
        # RLlib's wrapper ends the episode when *every* reported agent is terminated or
        # every one is truncated; here an agent can fail on the last step while the others
        # truncate, so the episode ends when the PettingZoo env has no agents left.
        def step(self, action_dict):
            obs, rewards, terms, truncs, infos = self.par_env.step(action_dict)
            done = not self.par_env.agents
            terms["__all__"] = done and all(terms.values())
            truncs["__all__"] = done and not terms["__all__"]
            return obs, rewards, terms, truncs, infos

    env = SagEnv(env_config["scenario"], max_cycles=env_config.get("max_cycles"))
    worker = getattr(env_config, "worker_index", 0)
    adapter = _MaskedObsAdapter(env, worker, env_config.get("reward", "team"),
                                env_config.get("shaping_gamma"))  # fmt: skip
    return SagRLlibEnv(adapter)


def build_config(cfg, scenario, num_env_runners: int):
    """The PPO ``AlgorithmConfig`` for ``cfg`` (a TrainConfig) on ``scenario``.

    Mapped from TrainConfig: learning_rate → lr, gamma, gae_lambda → lambda_, clip_range →
    clip_param, ent_coef → entropy_coeff, n_epochs → num_epochs, batch_size →
    minibatch_size, net_arch → fcnet_hiddens, seed, max_cycles, n_envs →
    num_envs_per_env_runner. One iteration samples n_steps × n_envs × n_agents agent-steps
    (SB3's rollout size), split over the env runners.
    """
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec
    from ray.rllib.examples.rl_modules.classes.action_masking_rlm import (
        ActionMaskingTorchRLModule,
    )
    from ray.tune.registry import register_env

    from sagsim.envs.sag_env import SagEnv

    register_env(ENV_NAME, _make_env)
    probe = SagEnv(scenario, max_cycles=cfg.max_cycles)
    modules = sorted({agent_to_module(a) for a in probe.possible_agents})
    batch = cfg.n_steps * cfg.n_envs * len(probe.possible_agents)
    model = {"fcnet_hiddens": list(cfg.net_arch), "fcnet_activation": "tanh"}  # as SB3's MLP
    spec = MultiRLModuleSpec(rl_module_specs={
        m: RLModuleSpec(module_class=ActionMaskingTorchRLModule, model_config=model)
        for m in modules})  # fmt: skip
    env_config = {"scenario": scenario.model_dump(mode="json"), "max_cycles": cfg.max_cycles,
                  "reward": cfg.reward,
                  "shaping_gamma": cfg.gamma if cfg.shaping else None}  # fmt: skip
    config = (
        PPOConfig()
        .environment(ENV_NAME, env_config=env_config)
        .framework("torch")
        .env_runners(num_env_runners=num_env_runners, num_envs_per_env_runner=cfg.n_envs)
        .learners(num_learners=0)  # the learner is the driver: no GPU, no extra actor
        # --timesteps and the batch count agent-steps, as in the SB3 path.
        .multi_agent(policies=set(modules), policy_mapping_fn=agent_to_module,
                     count_steps_by="agent_steps")
        .rl_module(rl_module_spec=spec)
        .training(lr=cfg.learning_rate, gamma=cfg.gamma, lambda_=cfg.gae_lambda,
                  clip_param=cfg.clip_range, entropy_coeff=cfg.ent_coef, num_epochs=cfg.n_epochs,
                  train_batch_size_per_learner=batch, minibatch_size=min(cfg.batch_size, batch),
                  # As SB3's PPO: no KL penalty, value loss × 0.5 and unclipped (team returns
                  # reach ~100; RLlib's default vf_clip_param=10 would cut them), grad norm 0.5.
                  use_kl_loss=False, vf_loss_coeff=0.5, vf_clip_param=math.inf,
                  grad_clip=0.5, grad_clip_by="global_norm")
        .debugging(seed=cfg.seed, log_level="ERROR")
    )  # fmt: skip
    return config, modules


def _start_ray(num_env_runners: int) -> None:
    """Connect to ``RAY_ADDRESS`` when it is set (``ray.init(address="auto")`` semantics);
    otherwise a quiet local Ray: no dashboard, a small object store, one CPU per runner."""
    import ray

    # RLlib warns at every build that PPO runs on the new API stack (the default anyway).
    logging.getLogger("ray.rllib").setLevel(logging.ERROR)
    if ray.is_initialized():
        return
    quiet = {"logging_level": logging.ERROR, "log_to_driver": False}
    if os.environ.get("RAY_ADDRESS"):
        ray.init(address=os.environ["RAY_ADDRESS"], **quiet)
    else:
        ray.init(num_cpus=num_env_runners + 1, include_dashboard=False,
                 object_store_memory=OBJECT_STORE_BYTES, **quiet)  # fmt: skip


def _steps(result: dict) -> tuple[int, int]:
    """(agent-steps, env-steps) sampled over the run's lifetime, from ``algo.train()``."""
    from ray.rllib.utils import metrics as m

    er = result.get(m.ENV_RUNNER_RESULTS, {})
    agent = er.get(m.NUM_AGENT_STEPS_SAMPLED_LIFETIME, 0)
    if isinstance(agent, dict):  # per agent id in some RLlib versions
        agent = sum(agent.values())
    return int(agent), int(er.get(m.NUM_ENV_STEPS_SAMPLED_LIFETIME, 0))


def save_checkpoint(algo, out: Path, state: dict) -> None:
    """``algo`` and ``state`` saved to ``out/rllib_checkpoint``, crash-safe."""

    def write(tmp: Path) -> None:
        algo.save_to_path(str(tmp))
        write_json_atomic(tmp / STATE_FILE, state)

    replace_dir_atomic(out / CHECKPOINT, write)


class RLlibPolicy(Policy):
    """Trained RLlib modules as a :class:`Policy`: each agent's observation goes to its
    type's module, batched per type; the action is the argmax of the masked logits (what
    RLlib's deterministic sampling of a categorical does, on the logits the action-masking
    module already masked as in training)."""

    name = "rllib"

    def __init__(self, modules: dict, name: str | None = None):
        self.modules = modules  # module id → RLModule (torch)
        if name:
            self.name = name

    def act(self, observations: dict, infos: dict | None = None) -> dict:
        import torch

        by_module: dict[str, list[str]] = {}
        for agent in observations:
            by_module.setdefault(agent_to_module(agent), []).append(agent)
        actions = {}
        with torch.no_grad():
            for mid, agents in by_module.items():
                obs = np.stack([observations[a]["observation"] for a in agents])
                mask = np.stack([observations[a]["action_mask"] for a in agents])
                as_t = torch.as_tensor
                batch = {"obs": {"observations": as_t(obs, dtype=torch.float32),
                                 "action_mask": as_t(mask, dtype=torch.float32)}}  # fmt: skip
                logits = self.modules[mid].forward_inference(batch)["action_dist_inputs"]
                actions.update(zip(agents, logits.argmax(-1).tolist(), strict=True))
        return actions


class CheckpointError(ValueError):
    """An RLlib checkpoint that cannot act in a scenario (one line, without the path)."""


@functools.lru_cache(maxsize=4)
def _load_modules(path: str) -> dict:
    """Module id → RLModule of the RLlib checkpoint folder ``path`` (absolute), restored
    from the learner's copy (the env runners' is a synced copy of it) without Ray running;
    cached per process, so each ``evaluate.py`` worker restores a checkpoint once."""
    ckpt = Path(path)
    if not (ckpt / "rllib_checkpoint.json").is_file():
        inside = (ckpt / CHECKPOINT / "rllib_checkpoint.json").is_file()  # a run folder
        hint = f"; its {CHECKPOINT}/ is one" if inside else ""
        raise CheckpointError(f"not an RLlib checkpoint folder (no rllib_checkpoint.json{hint})")
    try:
        import ray.rllib  # noqa: F401
    except ImportError:
        raise CheckpointError("an RLlib checkpoint needs Ray: pip install '.[ray]'") from None
    from ray.rllib.core import COMPONENT_LEARNER, COMPONENT_LEARNER_GROUP, COMPONENT_RL_MODULE
    from ray.rllib.core.rl_module.multi_rl_module import MultiRLModule
    from ray.rllib.core.rl_module.rl_module import RLModule

    folder = ckpt / COMPONENT_LEARNER_GROUP / COMPONENT_LEARNER / COMPONENT_RL_MODULE
    # Restoring logs RLlib's deprecation warnings about its own classes (on stderr, where
    # evaluate.py's one-line errors go); they say nothing about this checkpoint.
    loggers = [logging.getLogger(n) for n in ("ray.rllib", "ray._common.deprecation")]
    levels = [lg.level for lg in loggers]
    try:
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        multi = RLModule.from_checkpoint(str(folder))
    except Exception as e:  # another algorithm's layout, or damaged files
        why = f"{type(e).__name__}: {(str(e).splitlines() or [''])[0]}"
        raise CheckpointError(f"not a train.py --backend rllib checkpoint ({why})") from None
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)
    if not isinstance(multi, MultiRLModule):
        raise CheckpointError("not a train.py --backend rllib checkpoint (no module per type)")
    return dict(multi.items())


def check_checkpoint(path: str, scenario) -> None:
    """Raise :class:`CheckpointError` unless the RLlib checkpoint folder ``path`` has a
    module for every agent type of ``scenario`` whose observation (the adapter's
    ``observations``, shape ``(obs_dim,)``) and action count (K + 4) are the scenario's:
    a checkpoint of a scenario with another ``top_k`` or agent set cannot act in it."""
    from sagsim.envs.sag_env import SagEnv

    modules = _load_modules(str(Path(path).resolve()))
    env = SagEnv(scenario, max_cycles=1)
    agent = env.possible_agents[0]
    obs_shape = tuple(env.observation_space(agent)["observation"].shape)
    n_actions = env.action_space(agent).n
    needed = sorted({agent_to_module(a) for a in env.possible_agents})
    env.close()
    missing = [m for m in needed if m not in modules]
    if missing:
        raise CheckpointError(f"no module for {', '.join(missing)} (it has "
                              f"{', '.join(sorted(modules))}; a checkpoint of another "
                              "scenario?)")  # fmt: skip
    for m in needed:
        space = modules[m].observation_space  # the adapter's Dict(observations, action_mask)
        inner = space.spaces.get("observations") if isinstance(space, spaces.Dict) else None
        got_obs = tuple(inner.shape) if inner is not None else None
        got_n = getattr(modules[m].action_space, "n", None)
        if got_obs != obs_shape or got_n != n_actions:
            raise CheckpointError(f"module {m} was trained for observations {got_obs} and "
                                  f"{got_n} actions, but {scenario.name} has {obs_shape} and "
                                  f"{n_actions} (a checkpoint of another scenario?)")  # fmt: skip


def load_policy(path: str, name: str | None = None) -> RLlibPolicy:
    """The :class:`RLlibPolicy` of the RLlib checkpoint folder ``path`` (train.py
    ``--backend rllib``'s ``OUT/rllib_checkpoint``); :func:`check_checkpoint` first to
    know it fits a scenario. Raises :class:`CheckpointError`."""
    return RLlibPolicy(_load_modules(str(Path(path).resolve())), name=name)


def _check(cfg, out: Path, resume: Path | None) -> None:
    """Bad input for this backend: a ConfigError (one line) before anything is written."""
    if cfg.algo != "maskable_ppo":
        raise ConfigError(f"algo: the rllib backend trains masked PPO only, got {cfg.algo}")
    if cfg.subprocess:
        raise ConfigError("--subprocess: RLlib env runners are processes; "
                          "use --num-env-runners")  # fmt: skip
    if resume is not None and not (resume / "rllib_checkpoint.json").is_file():
        raise ConfigError(f"--resume: {resume} is not an RLlib checkpoint folder")
    if resume is None and ((out / CHECKPOINT).exists() or any(out.glob(f".{CHECKPOINT}.*.old"))):
        raise ConfigError(f"--out: {out} already holds a run; use --resume {out / CHECKPOINT} "
                          "or another --out")  # fmt: skip
    try:
        import ray.rllib  # noqa: F401
    except ImportError:
        raise ConfigError(NEEDS_RAY) from None


def train_rllib(cfg, scenario, out: Path, resume: Path | None, quiet: bool = False,
                num_env_runners: int = 0, stop_request=None) -> int:  # fmt: skip
    """Train until ``cfg.timesteps`` agent-steps in total (across resumes) or
    ``cfg.time_limit_s`` seconds; checkpoint every ``cfg.eval_every`` agent-steps and at
    the end; evaluate against GreedyPolicy/RandomPolicy on the held-out seeds; write
    ``metrics.json``. Returns the exit status (0, or 130 / 143 after SIGINT / SIGTERM with
    a checkpoint saved). Raises ConfigError (one line) for bad input, before anything is written."""
    _check(cfg, out, resume)
    _start_ray(num_env_runners)
    import ray
    import torch

    # The learner (and local sampling) run here; small networks, so few intra-op threads
    # (sagsim.agents.training: torch's default spins against the environment). Ray already gives
    # each remote env runner OMP_NUM_THREADS=1.
    torch.set_num_threads(cfg.torch_threads)

    algo = None
    try:
        config, modules = build_config(cfg, scenario, num_env_runners)
        algo = config.build_algo()
        state = {"scenario": scenario.name, "backend": "rllib", "modules": modules,
                 "num_agent_steps": 0, "num_env_steps": 0, "iterations": 0}  # fmt: skip
        if resume is not None:
            try:
                algo.restore_from_path(str(resume.resolve()))
            except Exception as e:  # a foreign checkpoint (other scenario or modules)
                why = f"{type(e).__name__}: {(str(e).splitlines() or [''])[0]}"
                msg = f"--resume: {resume} does not fit {scenario.name} ({why})"
                raise ConfigError(msg) from None
            if (resume / STATE_FILE).is_file():
                state.update(json.loads((resume / STATE_FILE).read_text()))
        out.mkdir(parents=True, exist_ok=True)
        recover_dir(out / CHECKPOINT)
        run_cfg = {**cfg.model_dump(), "backend": "rllib", "num_env_runners": num_env_runners}
        text = yaml.safe_dump(run_cfg, sort_keys=True)
        replace_atomic(out / "config.yaml", lambda p: Path(p).write_text(text))
        return _loop(algo, cfg, scenario, out, state, quiet, stop_request)
    finally:
        if algo is not None:
            algo.stop()
        ray.shutdown()


def _loop(algo, cfg, scenario, out: Path, state: dict, quiet: bool, stop_request) -> int:
    """The training iterations, the Ctrl-C handling, the final evaluation and metrics;
    ``stop_request`` (an :class:`sagsim.cli.StopRequest`, or None) names the signal that
    stops the final evaluation."""
    from ray.rllib.utils.metrics import ENV_RUNNER_RESULTS, EPISODE_RETURN_MEAN

    # Ctrl-C (or SIGTERM) only sets a flag; the iteration finishes, then we save. With Ray
    # 2.60 a KeyboardInterrupt raised inside algo.train() never reached this loop (training
    # went on with remote env runners, nothing saved). A second signal quits at once: the
    # last complete checkpoint stays, a half-written one is a hidden .tmp folder.
    stop: list[int] = []

    def on_stop(signum, frame):
        if stop:
            sys.stderr.write("\ntrain.py: interrupted again; quitting without saving\n")
            os._exit(128 + signum)
        stop.append(signum)
        sys.stderr.write("\ntrain.py: stopping after this iteration (Ctrl-C again: quit now)\n")

    main_thread = threading.current_thread() is threading.main_thread()
    stop_signals = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.signal(s, on_stop) for s in stop_signals} if main_thread else {}
    bar = tqdm(total=cfg.timesteps, initial=min(state["num_agent_steps"], cfg.timesteps),
               unit="step", disable=quiet, dynamic_ncols=True)  # fmt: skip
    start = time.monotonic()
    steps0, env_steps0 = state["num_agent_steps"], state["num_env_steps"]
    next_save = state["num_agent_steps"] + cfg.eval_every
    returns: list[float] = []
    try:
        while state["num_agent_steps"] < cfg.timesteps and not stop:
            result = algo.train()
            agent_steps, env_steps = _steps(result)
            bar.update(max(0, min(agent_steps, cfg.timesteps) - bar.n))
            state.update(num_agent_steps=agent_steps, num_env_steps=env_steps,
                         iterations=state["iterations"] + 1)  # fmt: skip
            ret = result.get(ENV_RUNNER_RESULTS, {}).get(EPISODE_RETURN_MEAN)
            if ret is not None and not math.isnan(ret):
                returns.append(float(ret))
                bar.set_postfix(ret=f"{ret:.2f}")
            if agent_steps >= next_save:
                save_checkpoint(algo, out, state)
                next_save = agent_steps + cfg.eval_every
            if cfg.time_limit_s is not None and time.monotonic() - start >= cfg.time_limit_s:
                break
        wall_s = time.monotonic() - start
        bar.close()
        save_checkpoint(algo, out, state)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if stop:
        sys.stderr.write(f"train.py: stopped by {signal.Signals(stop[0]).name} during learning "
                         f"at {state['num_agent_steps']} steps; saved {out / CHECKPOINT} "
                         "(resume with --resume)\n")  # fmt: skip
        return 128 + stop[0]
    seeds = eval_seeds(cfg.eval_seeds)
    policy = RLlibPolicy({m: algo.get_module(m) for m in state["modules"]})
    metrics = {
        "scenario": scenario.name, "backend": "rllib", "algo": "ppo (masked, module per type)",
        "modules": state["modules"], "num_timesteps": state["num_agent_steps"],
        "num_env_steps": state["num_env_steps"], "iterations": state["iterations"],
        # RLlib's episode return sums every agent's reward: n_agents × the team return.
        "rllib_episode_return_mean": returns[-1] if returns else None,
        "env_steps_per_s": (state["num_env_steps"] - env_steps0) / max(wall_s, 1e-9),
        "agent_steps_per_s": (state["num_agent_steps"] - steps0) / max(wall_s, 1e-9),
        "eval_seeds": [int(s) for s in seeds],
    }  # fmt: skip
    policies = {"trained": policy, "greedy": GreedyPolicy(), "random": RandomPolicy(0)}
    try:
        for name, pol in policies.items():
            res = evaluate(pol, scenario, seeds, cfg.max_cycles)
            metrics[f"{name}_return"] = summarise([r.return_ for r in res])
    except BaseException as exc:  # train.py's handlers (sagsim.cli.stop_on_signals) are back
        if not (stop_request or StopRequest()).ended(exc):  # no request: Ctrl-C only
            raise
        sys.stderr.write(f"\ntrain.py: stopped during the final evaluation; saved "
                         f"{out / CHECKPOINT}\n")  # fmt: skip
        return stop_request.exit_status if stop_request is not None else INTERRUPTED
    write_json_atomic(out / "metrics.json", metrics)
    t, g = metrics["trained_return"], metrics["greedy_return"]
    print(f"trained {state['num_agent_steps']} steps (rllib; {', '.join(state['modules'])}): "
          f"return {t['mean']:.3f} [{t['ci_low']:.3f}, {t['ci_high']:.3f}] (greedy "
          f"{g['mean']:.3f}); wrote {out}/metrics.json")  # fmt: skip
    return 0
