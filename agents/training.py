"""Training pieces for ``train.py``: the validated config, atomic checkpoints, and the
callbacks (progress bar, episode figures to TensorBoard, periodic evaluation against
``GreedyPolicy`` with the best checkpoint kept).

Config (YAML file via ``--config``, or flags; unknown keys are refused): ``algo``
(``maskable_ppo`` | ``ppo``), ``timesteps`` (total agent-steps, counted across resumes),
``n_envs`` (environment copies; each holds every agent), ``seed``, ``max_cycles`` (episode
length cap), ``eval_every`` (agent-steps between evaluations), ``eval_seeds`` (how many
fixed held-out seeds), ``subprocess``, ``time_limit_s`` (stop learning after this much wall
time, as if the step budget were reached), ``torch_threads`` (the learner's intra-op
threads: 1 by default, because the networks are small and extra threads spin against the
environment copies for the same cores; torch's default made updates 16× slower on 2 busy
cores), ``reward`` (``share``, the default: each slot learns from its own agent's share;
``team``: from the team reward; see :mod:`sagsim.agents.slots`), ``shaping`` (default on:
potential-based shaping with the PPO γ, images credited when taken, :mod:`sagsim.agents.shaping`;
on ``flood_wuhan`` after 6 min of training, share + shaping reached a return of 82.6 and
team + shaping 62.3, on seeds where greedy scores 88.3), and the PPO hyperparameters
``learning_rate``, ``n_steps`` (rollout length per slot), ``batch_size``, ``n_epochs``,
``gamma``, ``gae_lambda``, ``clip_range``, ``ent_coef``, ``net_arch``.
"""

from __future__ import annotations

import difflib
import math
import shutil
import sys
import time
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from stable_baselines3.common.callbacks import BaseCallback
from tqdm import tqdm

from sagsim.agents.baselines import GreedyPolicy, RandomPolicy
from sagsim.agents.evaluation import ModelPolicy, evaluate, summarise
from sagsim.atomic import replace_atomic, save_model_atomic, write_json_atomic
from sagsim.cli import one_line

__all__ = ["EVAL_SEED_BASE", "ConfigError", "EvalCallback", "Phases", "ProgressAndEpisodes",
           "TrainConfig", "eval_seeds", "load_config", "reconcile_state"]  # fmt: skip

# Held-out evaluation seeds start here; training episode seeds come from the run's seed
# through each copy's generator (see sagsim.agents.slots), so they do not collide in practice.
EVAL_SEED_BASE = 1_000_000


class ConfigError(ValueError):
    """A bad training config: the message is one line naming the file and the field."""


class TrainConfig(BaseModel):
    """Training settings (see the module docstring); defaults that work on a laptop."""

    # allow_inf_nan=False: a NaN passes every range check (NaN > 0 is False, so is NaN ≤ 1).
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    algo: Literal["maskable_ppo", "ppo"] = "maskable_ppo"
    timesteps: int = Field(200_000, ge=1, le=10**10)
    n_envs: int = Field(2, ge=1, le=256)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    max_cycles: int | None = Field(None, ge=1, le=10**7)
    eval_every: int = Field(50_000, ge=1)
    eval_seeds: int = Field(5, ge=1, le=1000)
    subprocess: bool = False
    time_limit_s: float | None = Field(None, gt=0, le=30 * 86_400)
    torch_threads: int = Field(1, ge=1, le=256)
    reward: Literal["team", "share"] = "share"
    shaping: bool = True
    learning_rate: float = Field(3e-4, gt=0, le=1)
    n_steps: int = Field(256, ge=2, le=100_000)
    batch_size: int = Field(512, ge=2)
    n_epochs: int = Field(5, ge=1, le=100)
    gamma: float = Field(0.99, gt=0, le=1)
    gae_lambda: float = Field(0.95, ge=0, le=1)
    clip_range: float = Field(0.2, gt=0, le=1)
    ent_coef: float = Field(0.01, ge=0, le=1)
    net_arch: list[Annotated[int, Field(ge=1, le=4096)]] = Field(
        default_factory=lambda: [128, 128], min_length=1, max_length=8
    )

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_number(cls, value: Any, info: ValidationInfo) -> Any:
        # YAML's yes/true would otherwise become 1 (n_envs: true); as in the scenario schema.
        if isinstance(value, bool) and cls.model_fields[info.field_name].annotation is not bool:
            raise ValueError(f"expected a number, got {str(value).lower()}")
        return value


def load_config(path: str | None, overrides: dict, run_config: str | None = None) -> TrainConfig:
    """The config from ``path`` (YAML mapping) with ``overrides`` (flags given) on top; when
    resuming, both on top of ``run_config``, the ``config.yaml`` of the run the checkpoint
    belongs to, so that a resume keeps the run's settings (episode cap, evaluation seeds,
    reward, ...) unless told otherwise.

    The files are untrusted input: at most ``MAX_CONFIG_BYTES``, UTF-8, read with the
    scenario loader's safe, bounded YAML parser (:func:`sagsim.envs.scenario.loader.parse_yaml`: no
    ``!!python`` tags, no repeated keys, no alias bombs or deep nesting). Any problem is a
    :class:`ConfigError` whose message is one line naming the file and the field.
    """
    from sagsim.cli import short_repr
    from sagsim.envs.scenario.errors import allowed_range

    data: dict = {}
    where = path or run_config or "command line"
    if run_config:
        # Written by train.py; the RLlib backend also records its command-line choices
        # (backend, num_env_runners), which are not settings of this config.
        recorded = _read_config_file(run_config)
        data = {k: v for k, v in recorded.items() if k in TrainConfig.model_fields}
    if path:
        data.update(_read_config_file(path))
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as e:
        errors = e.errors(include_url=False)
        err = min(errors, key=lambda x: x["type"] != "extra_forbidden")  # a typo first
        field = ".".join(str(x) for x in err["loc"]) or "config"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            close = difflib.get_close_matches(field, TrainConfig.model_fields, n=1)
            msg = "unknown setting" + (f"; did you mean '{close[0]}'?" if close else "")
        else:
            msg += f", got {short_repr(err.get('input'))}"
            info = TrainConfig.model_fields.get(field)
            allowed = allowed_range(field, info) if info is not None else ""
            msg += f" (allowed: {allowed})" if allowed else ""
        if overrides.get(field) is not None:  # a flag's value, whatever the files said
            where, field = "command line", "--" + field.replace("_", "-")
        raise ConfigError(one_line(f"{where}: {field}: {msg}")) from None


# A config is two dozen settings; anything near this size is not one.
MAX_CONFIG_BYTES = 1024 * 1024


def _read_config_file(path: str) -> dict:
    from sagsim.envs.scenario.loader import ScenarioError, parse_yaml

    file = Path(path)
    try:
        regular = file.is_file()
        size = file.stat().st_size if regular else 0
    except (OSError, ValueError) as e:  # a name too long, a NUL byte, no permission
        raise ConfigError(one_line(f"{path}: cannot read it ({type(e).__name__})")) from None
    if not regular:
        raise ConfigError(one_line(f"{path}: not found or not a regular file"))
    if size > MAX_CONFIG_BYTES:
        raise ConfigError(one_line(f"{path}: {size:,} bytes (allowed: ≤ {MAX_CONFIG_BYTES:,})"))
    try:
        text = file.read_bytes()[: MAX_CONFIG_BYTES + 1].decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(
            one_line(f"{path}: cannot read it as UTF-8 text ({type(e).__name__})")
        ) from None
    try:
        loaded = parse_yaml(text, path)
    except ScenarioError as e:  # already "<path>: <what is wrong>", one line
        raise ConfigError(str(e)) from None
    if loaded is not None and not isinstance(loaded, dict):
        raise ConfigError(
            one_line(f"{path}: must be a mapping of settings, got {type(loaded).__name__}")
        )
    return dict(loaded or {})


class Phases:
    """A run's phases announced on stderr, one line each (``train.py: PHASE: detail``), in
    step with the progress bars (``tqdm.write``); ``current`` names the phase under way, for
    the message of a run that is stopped. ``quiet`` hides the bars, not these lines."""

    def __init__(self, prog: str = "train.py", quiet: bool = False):
        self.prog, self.quiet, self.current = prog, quiet, "start-up"
        self.bars: list[tqdm] = []

    def start(self, name: str, detail: str = "") -> None:
        self.current = name
        self.say(f"{name}: {detail}" if detail else name)

    def say(self, text: str) -> None:
        tqdm.write(f"{self.prog}: {text}", file=sys.stderr)

    def bar(self, total: int, unit: str, initial: int = 0) -> tqdm:
        """A progress bar for the current phase (none when quiet)."""
        bar = tqdm(total=total, initial=initial, desc=self.current, unit=unit,
                   disable=self.quiet, dynamic_ncols=True, file=sys.stderr)  # fmt: skip
        self.bars.append(bar)
        return bar

    def close_bars(self) -> None:
        """Close every bar still open (a stopped run's), so none redraws after its last
        message."""
        for bar in self.bars:
            bar.close()
        self.bars.clear()


class ProgressAndEpisodes(BaseCallback):
    """A tqdm bar over agent-steps, and each finished episode's team return and task
    figures logged (means over the episodes ended since the last dump)."""

    def __init__(self, total: int, phases: Phases, time_limit_s: float | None = None):
        super().__init__()
        self.total, self.phases, self.bar = total, phases, None
        self.time_limit_s, self.deadline = time_limit_s, None

    def _on_training_start(self) -> None:
        # The time limit counts learning only, not the baseline evaluation before it.
        if self.time_limit_s is not None:
            self.deadline = time.monotonic() + self.time_limit_s
        self.bar = self.phases.bar(self.total, "step", min(self.num_timesteps, self.total))

    def _on_step(self) -> bool:
        self.bar.update(self.training_env.num_envs)
        n_agents = self.training_env.n_agents
        for i, info in enumerate(self.locals.get("infos", [])):
            episode = info.get("sag_episode")
            if episode is not None and i % n_agents == 0:  # once per copy
                self.logger.record_mean("episode/team_return", episode["r"])
                for key in ("information", "images_delivered", "images_acquired", "energy_wh"):
                    self.logger.record_mean(f"episode/{key}", episode[key])
                if episode["images_delivered"]:
                    mean_latency = episode["latency_sum_s"] / episode["images_delivered"]
                    self.logger.record_mean("episode/latency_s", mean_latency)
        return self.deadline is None or time.monotonic() < self.deadline

    def _on_training_end(self) -> None:
        if self.bar is not None:
            self.bar.close()


class EvalCallback(BaseCallback):
    """Every ``every`` agent-steps: evaluate the current policy on the fixed seeds, log
    it next to ``GreedyPolicy`` and ``RandomPolicy`` on the same seeds, save ``last`` and
    (when it is the best so far) ``best`` atomically, and keep ``state.json`` current.

    Crash safety: each file is replaced atomically, in the order ``last.zip``, ``best.zip``
    (a copy of it), ``state.json``, so a run killed between two of them leaves
    ``state.json`` at most one evaluation behind the checkpoints, never ahead;
    :func:`reconcile_state` on resume detects that and ``catch_up`` redoes the lost
    evaluation (deterministic: same policy, same seeds) before training goes on."""

    def __init__(self, scenario, out: Path, seeds, every: int, max_cycles, state: dict,
                 phases: Phases, catch_up: bool = False):  # fmt: skip
        super().__init__()
        self.scenario, self.out, self.seeds = scenario, Path(out), list(seeds)
        self.every, self.max_cycles, self.state = every, max_cycles, state
        self.phases, self.catch_up = phases, catch_up
        self.next_at = 0

    def _on_training_start(self) -> None:
        self.ensure_baselines()
        if self.catch_up:
            self.catch_up = False
            self.evaluate_and_save()
        self.next_at = self.num_timesteps + self.every

    def ensure_baselines(self) -> None:
        """The greedy and random returns on the evaluation seeds (once per run), as the
        phase "baseline evaluation" with its own progress bar."""
        if "greedy_return" in self.state:
            return
        policies = (GreedyPolicy(), RandomPolicy(0))
        self.phases.start("baseline evaluation", f"greedy and random on {len(self.seeds)} "
                                                 "held-out seeds")  # fmt: skip
        t0 = time.perf_counter()
        with self.phases.bar(len(policies) * len(self.seeds), "episode") as bar:
            for policy in policies:
                res = evaluate(policy, self.scenario, self.seeds, self.max_cycles,
                               on_episode=lambda _r: bar.update(1))  # fmt: skip
                self.state[f"{policy.name}_return"] = summarise([r.return_ for r in res])
        self.state["eval_s"] = self.state.get("eval_s", 0.0) + time.perf_counter() - t0
        greedy, random = self.state["greedy_return"], self.state["random_return"]
        self.phases.say(f"baselines: greedy {_interval(greedy)}, random {_interval(random)}")

    def _on_step(self) -> bool:
        if self.num_timesteps >= self.next_at:
            learning = self.phases.current
            self.phases.start(f"evaluation at {self.num_timesteps:,} steps",
                              f"{len(self.seeds)} held-out seeds")  # fmt: skip
            summary = self.evaluate_and_save()
            self.phases.say(f"{self.phases.current}: return {_interval(summary)} "
                            f"(best {self.state['best_return']:.2f})")  # fmt: skip
            self.phases.current = learning
            self.next_at = self.num_timesteps + self.every
        return True

    def _record(self, key: str, value: float) -> None:
        # A model loaded and not trained (a resume with no steps left) has no logger yet.
        if getattr(self.model, "_logger", None) is not None:
            self.logger.record(key, value)

    def evaluate_and_save(self) -> dict:
        t0 = time.perf_counter()
        res = evaluate(ModelPolicy(self.model), self.scenario, self.seeds, self.max_cycles)
        self.state["eval_s"] = self.state.get("eval_s", 0.0) + time.perf_counter() - t0
        summary = summarise([r.return_ for r in res])
        self.state.setdefault("curve", []).append(
            {"num_timesteps": int(self.model.num_timesteps), **summary}
        )
        self._record("eval/team_return", summary["mean"])
        self._record("eval/greedy_return", self.state["greedy_return"]["mean"])
        self._record("eval/random_return", self.state["random_return"]["mean"])
        # Written now, at the evaluated step: SB3 dumps only after a rollout's update, and
        # none follows the evaluation at the end of a run, which was lost from TensorBoard.
        if getattr(self.model, "_logger", None) is not None:
            self.logger.dump(int(self.model.num_timesteps))
        best = self.state.get("best_return", -math.inf)
        improved = summary["mean"] > best
        if improved:
            self.state["best_return"] = summary["mean"]
            self.state["best_at_step"] = int(self.model.num_timesteps)
        save_model_atomic(self.model, self.out / "last.zip")
        if improved:  # the same model: copy the bytes rather than serialise it again
            last = self.out / "last.zip"
            replace_atomic(self.out / "best.zip", lambda tmp: shutil.copyfile(last, tmp))
        self._save_state()
        return summary

    def save_last(self) -> None:
        save_model_atomic(self.model, self.out / "last.zip")
        self._save_state()

    def _save_state(self) -> None:
        self.state["num_timesteps"] = int(self.model.num_timesteps)
        write_json_atomic(self.out / "state.json", self.state)


def _interval(summary: dict) -> str:
    """``mean [low, high]`` of a :func:`sagsim.agents.evaluation.summarise` result."""
    return f"{summary['mean']:.2f} [{summary['ci_low']:.2f}, {summary['ci_high']:.2f}]"


def reconcile_state(state: dict, num_timesteps: int) -> bool:
    """``state`` (read from ``state.json``) made to agree with the checkpoint resumed from,
    which is trusted: its step count wins, and curve points past it (a resume from an
    earlier checkpoint such as ``best.zip``) are dropped. Returns whether ``state.json``
    lags the checkpoint (a run killed between writing them), so its last evaluation was
    lost and should be redone."""
    recorded = state.get("num_timesteps")
    if recorded is None:  # a checkpoint from elsewhere: no run record to reconcile
        return False
    if "curve" in state:
        state["curve"] = [c for c in state["curve"] if c["num_timesteps"] <= num_timesteps]
    state["num_timesteps"] = int(num_timesteps)
    return recorded < num_timesteps


def eval_seeds(n: int) -> np.ndarray:
    """The fixed held-out evaluation seeds."""
    return EVAL_SEED_BASE + np.arange(n)
