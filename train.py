"""Train one shared policy for every satellite, drone and station of a scenario.

    python train.py SCENARIO [--algo maskable_ppo|ppo] [--timesteps N] [--n-envs K]
                    [--seed S] [--out runs/NAME] [--resume CHECKPOINT] [--config FILE]
                    [--report-seeds N]

SCENARIO is a YAML path or a shipped scenario's name. Settings come from ``--config``
(YAML) with the flags given on top (see :mod:`sagsim.agents.training` for every key). Writes to
``--out`` (default: resuming, the checkpoint's own run folder; else ``runs/<scenario>``):
``last.zip`` and ``best.zip`` (at each evaluation),
``state.json`` (steps done, baselines' and best evaluation returns), ``config.yaml``,
TensorBoard logs in ``tb/`` and, at the end, ``metrics.json`` (the trained policy and the
baselines on the held-out seeds) and ``report/`` (``report.html``, ``metrics.json``,
``metrics.csv``: ``evaluate.py``'s comparison of ``best.zip`` with the random, greedy and
contact-aware baselines and the planner on ``--report-seeds`` episodes, with the learning
curve; a line on stdout places the trained policy among them). Ctrl-C
(SIGINT) or SIGTERM saves ``last.zip`` and exits with status 130 or 143;
``--resume runs/NAME/last.zip`` continues the step count and the logs up to
``--timesteps`` in total. Bad flags or files: one line on stderr, exit status 2.

Crash safety: every file is replaced atomically (:mod:`sagsim.atomic`; TensorBoard's event
files are append-only), so a run killed even with SIGKILL leaves loadable files and
resumes from its last evaluation's ``last.zip``. ``OUT/.lock`` (:mod:`sagsim.agents.run_lock`)
keeps one run per ``--out``: a second one exits 2 ("in use by another run (pid N)").

``--backend rllib [--num-env-runners N]`` trains with Ray RLlib instead (one policy per
agent type, N sampling actors, ``RAY_ADDRESS`` for a cluster; :mod:`sagsim.agents.rllib_backend`):
it writes ``rllib_checkpoint/``, ``config.yaml`` and ``metrics.json``, and ``--resume``
takes an ``rllib_checkpoint`` folder.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

import yaml

from sagsim.cli import ArgumentParser

USAGE_ERROR = 2


class _Parser(ArgumentParser):
    """Whole flag names only (prefix matching ran `--timestep 1000` as `--timesteps`), an
    unknown flag named with the closest known one (:class:`sagsim.cli.ArgumentParser`)."""

    def error(self, message: str):  # one line, exit 2, as for every bad input
        sys.stderr.write(f"train.py: {message}\n")
        raise SystemExit(USAGE_ERROR)


def parse_args(argv):
    from evaluate import MAX_SEEDS
    from sagsim.cli import ranged

    ap = _Parser(prog="train.py", description=__doc__.splitlines()[0])
    ap.add_argument("scenario", help="scenario YAML path or shipped name (e.g. minimal)")
    ap.add_argument("--algo", choices=["maskable_ppo", "ppo"])
    ap.add_argument("--timesteps", type=int, help="total agent-steps (across resumes)")
    ap.add_argument("--n-envs", type=int, dest="n_envs", help="environment copies")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--max-cycles", type=int, dest="max_cycles", help="episode length cap")
    ap.add_argument("--eval-every", type=int, dest="eval_every", help="agent-steps")
    ap.add_argument("--eval-seeds", type=int, dest="eval_seeds", help="held-out seeds")
    ap.add_argument("--time-limit-s", type=float, dest="time_limit_s",
                    help="stop learning after this many seconds")  # fmt: skip
    ap.add_argument("--subprocess", action="store_true", default=None,
                    help="one process per environment copy")  # fmt: skip
    ap.add_argument("--out", type=Path, help="run folder (default: the --resume checkpoint's "
                                             "folder, else runs/<scenario>)")  # fmt: skip
    ap.add_argument("--resume", type=Path, metavar="CHECKPOINT",
                    help="a last.zip/best.zip (rllib: an rllib_checkpoint folder)")  # fmt: skip
    ap.add_argument("--config", help="YAML file of settings")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    ap.add_argument("--report-seeds", type=ranged(int, 0, MAX_SEEDS), default=10,
                    dest="report_seeds",
                    help="episodes per policy in the final report (0: no report)")  # fmt: skip
    ap.add_argument("--backend", choices=["sb3", "rllib"], default="sb3",
                    help="sb3: one shared policy; rllib: Ray RLlib, one per type")  # fmt: skip
    ap.add_argument("--num-env-runners", type=_runners, dest="num_env_runners",
                    help="rllib: sampling actors (0: sample in this process)")  # fmt: skip
    return ap.parse_args(argv)


def _runners(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 4096:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, 4096], got {text!r}")
    return value


def fail(message: str) -> int:
    # One "train.py: ..." line per line of the message (a ScenarioError lists each problem).
    sys.stderr.write("".join(f"train.py: {line}\n" for line in message.splitlines() or [""]))
    return USAGE_ERROR


def main(argv=None) -> int:
    from sagsim.cli import one_line_warnings

    one_line_warnings()
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from sagsim.agents.training import ConfigError, load_config

    flags = {k: getattr(args, k) for k in ("algo", "timesteps", "n_envs", "seed",
                                           "max_cycles", "eval_every", "eval_seeds",
                                           "subprocess", "time_limit_s")}  # fmt: skip
    # A resume keeps the settings of the run the checkpoint belongs to (its config.yaml);
    # --config and flags change what they name.
    run_config = None if args.resume is None else args.resume.parent / "config.yaml"
    if run_config is not None and not run_config.is_file():
        run_config = None  # a checkpoint from elsewhere: the defaults, as for a new run
    try:
        cfg = load_config(args.config, flags, run_config and str(run_config))
        if run_config is not None:
            kept = load_config(None, {}, str(run_config)).model_dump()
            changed = [f"{k} {kept[k]} → {v}" for k, v in cfg.model_dump().items()
                       if kept[k] != v]  # fmt: skip
            what = f"; changed: {', '.join(changed)}" if changed else ""
            sys.stderr.write(f"train.py: resuming with the settings of {run_config}{what}\n")
    except ConfigError as e:
        return fail(str(e))
    from sagsim.envs.scenario.loader import ScenarioError
    from sagsim.envs.scenario.shipped import resolve_scenario

    try:
        scenario = resolve_scenario(args.scenario)
    except ScenarioError as e:
        return fail(str(e))
    out = run_folder(args, scenario)
    if args.backend != "rllib":
        if args.num_env_runners is not None:
            return fail("--num-env-runners: only with --backend rllib")
        if args.resume is not None and not args.resume.is_file():
            return fail(f"--resume: {args.resume} does not exist")
    from sagsim.agents.run_lock import RunLockError, hold

    # One run per --out, held to the end (the report included); the OS drops it however
    # the run ends, so a killed run never blocks its --resume (sagsim.agents.run_lock).
    lock = contextlib.ExitStack()
    try:
        lock.enter_context(hold(out, "train.py"))
    except RunLockError as e:
        sys.stderr.write(f"{e}\n")
        return USAGE_ERROR
    except OSError as e:  # a file in the way, no permission
        return fail(f"--out: cannot use {out} ({e.strerror or type(e).__name__})")
    from sagsim.agents.training import Phases
    from sagsim.cli import stop_on_signals

    phases = Phases("train.py", args.quiet)
    with lock, stop_on_signals() as stop:
        try:
            return run(args, cfg, scenario, out, phases, stop)
        except BaseException as exc:  # before there was anything to save
            if not stop.ended(exc):
                raise
            sys.stderr.write(f"\ntrain.py: stopped by {stop.name} during {phases.current}; "
                             "nothing saved\n")  # fmt: skip
            return stop.exit_status


def run_folder(args, scenario) -> Path:
    """Where the run writes: ``--out``; else, resuming, the folder of the checkpoint's run
    (``runs/x/last.zip`` or ``runs/x/rllib_checkpoint`` continue ``runs/x``, its step count,
    TensorBoard run and checkpoints); else ``runs/<scenario>``."""
    if args.out is not None:
        return args.out
    if args.resume is not None:
        return args.resume.parent
    return Path("runs") / scenario.name


def run(args, cfg, scenario, out: Path, phases, stop) -> int:
    """The run, with ``out``'s lock held; ``phases`` announces its phases, ``stop`` (an
    :class:`sagsim.cli.StopRequest`) says which signal stopped it."""
    from sagsim.agents.training import ConfigError
    from sagsim.atomic import remove_stale_temporaries
    from sagsim.envs.views.inspector import warn_cut_episode

    # Once the --out lock is held: a busy --out is refused before anything else is said.
    warn_cut_episode(scenario, cfg.max_cycles, args.scenario)

    remove_stale_temporaries(out)  # left by writers killed mid-write; none at work now
    if args.backend == "rllib":  # ray is imported in there only
        from sagsim.agents.rllib_backend import train_rllib

        try:
            return train_rllib(cfg, scenario, out, args.resume, args.quiet,
                               args.num_env_runners or 0, stop)  # fmt: skip
        except ConfigError as e:
            return fail(str(e))
    if args.resume is None and (out / "last.zip").exists():
        return fail(f"--out: {out} already holds a run; use --resume {out}/last.zip or "
                    "another --out")  # fmt: skip
    status = train(cfg, scenario, out, args.resume, phases, stop)
    if status or not args.report_seeds:
        return status
    return write_report(args, cfg, out, phases, stop)


def write_report(args, cfg, out: Path, phases, stop) -> int:
    """``evaluate.py``'s report of the run: ``best.zip`` against the baselines, in
    ``out/report`` (the learning curve comes from ``state.json`` beside ``best.zip``)."""
    import evaluate
    from sagsim.agents.comparison import policy_name

    argv = [args.scenario, "--policy", str(out / "best.zip"), "--policy", "greedy",
            "--policy", "contact_aware", "--policy", "random", "--policy", "planner",
            "--baseline", "greedy", "--seeds", str(args.report_seeds),
            "--out", str(out / "report")]  # fmt: skip
    if cfg.max_cycles:
        argv += ["--max-cycles", str(cfg.max_cycles)]
    if args.quiet:
        argv.append("--quiet")
    phases.start("final report", f"best.zip against greedy, contact_aware, random and the "
                                 f"planner on {args.report_seeds} seeds "
                                 f"→ {out / 'report'}")  # fmt: skip
    try:
        status = evaluate.main(argv)
    except BaseException as exc:  # the report is written whole or not at all
        if not stop.ended(exc):
            raise
        sys.stderr.write(f"\ntrain.py: stopped by {stop.name} during {phases.current}; the "
                         f"training is complete ({out}/best.zip, metrics.json); for the "
                         f"report: python evaluate.py {' '.join(argv)}\n")  # fmt: skip
        return stop.exit_status
    if status == 0:
        report = json.loads((out / "report" / "metrics.json").read_text())
        print(verdict(report["episodes"], policy_name(str(out / "best.zip"))))
        print(f"report: {(out / 'report' / 'report.html').resolve()}")
    return status


def verdict(episodes: list[dict], trained: str) -> str:
    """One line: the trained policy's paired return difference to each baseline in
    ``episodes`` (evaluate.py's records, the same seeds for every policy), and where that
    puts it: below random, level with it, between random and greedy, above greedy, above
    the planner (each by the 95 % interval of the paired difference)."""
    from sagsim.agents.comparison import BASELINES
    from sagsim.agents.stats import paired_difference

    returns: dict[str, list[float]] = {}
    for e in sorted(episodes, key=lambda e: e["seed"]):
        if not e["fuser"]:
            returns.setdefault(e["policy"], []).append(e["return"])
    mine = returns[trained]
    diffs = {name: paired_difference(mine, returns[name])
             for name in BASELINES if name in returns}  # fmt: skip
    if "planner" in diffs and diffs["planner"]["ci_low"] > 0:
        place = "above the planner"
    elif "greedy" in diffs and diffs["greedy"]["ci_low"] > 0:
        place = "above greedy"
    elif diffs["random"]["ci_high"] < 0:
        place = "below random"
    elif diffs["random"]["ci_low"] > 0:
        place = "above random, not above greedy"
    else:
        place = "not distinguishable from random"
    parts = ", ".join(f"{name} {d['mean']:+,.1f} [{d['ci_low']:+,.1f}, {d['ci_high']:+,.1f}]"
                      for name, d in diffs.items())  # fmt: skip
    return f"{trained} − baseline, paired over {len(mine)} seeds: {parts}: {place}"


def train(cfg, scenario, out: Path, resume: Path | None, phases, stop) -> int:
    import json

    import torch
    from sb3_contrib import MaskablePPO
    from stable_baselines3 import PPO

    from sagsim.agents.sb3_vec import SagVecEnv
    from sagsim.agents.training import (
        EvalCallback,
        ProgressAndEpisodes,
        eval_seeds,
        reconcile_state,
    )
    from sagsim.atomic import write_json_atomic, write_text_atomic

    torch.set_num_threads(cfg.torch_threads)
    algo = MaskablePPO if cfg.algo == "maskable_ppo" else PPO
    venv = SagVecEnv(
        scenario,
        cfg.n_envs,
        subprocess=cfg.subprocess,
        max_cycles=cfg.max_cycles,
        reward=cfg.reward,
        shaping_gamma=cfg.gamma if cfg.shaping else None,
    )
    out.mkdir(parents=True, exist_ok=True)
    state: dict = {"scenario": scenario.name, "algo": cfg.algo}
    catch_up = False
    if resume is not None:
        try:
            model = algo.load(resume, env=venv, tensorboard_log=str(out / "tb"))
        except Exception as e:  # a corrupt or foreign file, or a space mismatch
            venv.close()
            why = f"{type(e).__name__}: {(str(e).splitlines() or [''])[0]}"
            return fail(f"--resume: {resume} is not a {cfg.algo} checkpoint for {scenario.name} "
                        f"({why})")  # fmt: skip
        state_file = out / "state.json"
        if state_file.exists():
            state.update(json.loads(state_file.read_text()))
        # The checkpoint is trusted over state.json (written after it): a run killed
        # between the two lost its last evaluation, redone before training goes on.
        catch_up = reconcile_state(state, model.num_timesteps)
    else:
        model = algo(
            "MlpPolicy", venv, learning_rate=cfg.learning_rate, n_steps=cfg.n_steps,
            batch_size=cfg.batch_size, n_epochs=cfg.n_epochs, gamma=cfg.gamma,
            gae_lambda=cfg.gae_lambda, clip_range=cfg.clip_range, ent_coef=cfg.ent_coef,
            policy_kwargs={"net_arch": list(cfg.net_arch)}, seed=cfg.seed,
            tensorboard_log=str(out / "tb"), verbose=0,
        )  # fmt: skip
        venv.seed(cfg.seed)
    write_text_atomic(out / "config.yaml", yaml.safe_dump(cfg.model_dump(), sort_keys=True))
    seeds = eval_seeds(cfg.eval_seeds)
    evaluator = EvalCallback(scenario, out, seeds, cfg.eval_every, cfg.max_cycles, state,
                             phases, catch_up=catch_up)  # fmt: skip
    remaining = cfg.timesteps - model.num_timesteps
    # SIGINT and SIGTERM raise KeyboardInterrupt in every phase (sagsim.cli.stop_on_signals);
    # whichever phase it lands in, last.zip and state.json are saved (atomically) from here.
    try:
        if remaining > 0:
            progress = ProgressAndEpisodes(cfg.timesteps, phases, cfg.time_limit_s)
            evaluator.init_callback(model)
            evaluator.ensure_baselines()  # its own phase and bar, before the learning bar
            phases.start("learning", f"{model.num_timesteps:,} → {cfg.timesteps:,} agent-steps"
                                     f" on {cfg.n_envs} environment copies")  # fmt: skip
            model.learn(remaining, callback=[progress, evaluator],
                        reset_num_timesteps=resume is None, tb_log_name="run")  # fmt: skip
        else:  # nothing left to train: evaluate what is there
            evaluator.init_callback(model)
            evaluator.ensure_baselines()
        phases.start("final evaluation", f"the policy at {model.num_timesteps:,} steps on "
                                         f"{len(seeds)} held-out seeds")  # fmt: skip
        summary = evaluator.evaluate_and_save()
    except BaseException as exc:
        if not stop.ended(exc):
            raise
        evaluator.model = model
        evaluator.save_last()
        phases.close_bars()
        sys.stderr.write(f"train.py: stopped by {stop.name} during {phases.current} at "
                         f"{model.num_timesteps:,} steps; saved {out / 'last.zip'} (resume "
                         "with --resume)\n")  # fmt: skip
        return stop.exit_status
    finally:
        venv.close()
    metrics = {"scenario": scenario.name, "algo": cfg.algo, "num_timesteps": model.num_timesteps,
               "eval_seeds": [int(s) for s in seeds], "trained_return": summary,
               **{k: v for k, v in state.items() if k.endswith("_return")}}  # fmt: skip
    write_json_atomic(out / "metrics.json", metrics)
    print(f"trained {model.num_timesteps:,} steps: final policy's return {summary['mean']:.3f}"
          f" [{summary['ci_low']:.3f}, {summary['ci_high']:.3f}], best {state['best_return']:.3f}"
          f" at {state['best_at_step']:,} steps (best.zip), greedy "
          f"{state['greedy_return']['mean']:.3f}, on {len(seeds)} held-out seeds; wrote "
          f"{out}/metrics.json")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
