"""Benchmark: does learning work? MaskablePPO against the baselines on held-out seeds.

Usage: ``python benchmarks/learning_bench.py [--scenario flood_wuhan] [--minutes 30]
[--eval-seeds 10] [--n-envs 2] [--seed 0] [--config FILE] [--max-cycles N] [--jobs 2]
[--eval-every-episodes 20] [--out PATH]``
(``--max-cycles`` cuts every episode, training and evaluation alike, to N steps: for a
quick check that the benchmark runs, not for results).

Trains with ``train.py``'s machinery (one shared ``MaskablePPO`` policy, the default
config unless ``--config``) for a wall-time budget, then evaluates the best checkpoint,
``RandomPolicy``, ``GreedyPolicy``, ``ContactAwarePolicy`` and ``PlannerPolicy``
(:mod:`sagsim.agents.planner`, the rolling-horizon planner with full knowledge of the
episode, the reference; the slowest of them: it plans each episode before playing it) on
the same held-out seeds (mean and Student-t 95 % interval of the team return, and of the
paired per-seed difference to each baseline: the same seed gives every policy the same
clouds and events, so the paired interval is the fair test), every policy's gap to the
planner (the fraction of the planner's mean return it misses) and on which seeds the
planner replayed its whole greedy episode (``planner_used_greedy``), with each policy's
mean resource use (:data:`sagsim.agents.episode_metrics.USAGE_METRICS`). The evaluation
episodes run in ``--jobs`` processes (``evaluate.py``'s episode, one per process). Reports training
throughput (agent-steps and env-steps per second of learning, PPO updates included,
periodic evaluations excluded; they come every ``--eval-every-episodes`` episodes' worth of
agent-steps, on 3 selection seeds). Writes JSON
(default ``benchmarks/results/learning_bench_<scenario>.json``, atomic) and the learning curve as a
PNG beside it. Targets: the trained policy beats random clearly (the 95 % interval of the
paired difference above 0) and reaches at least greedy's mean. Exit status 0 even when a
target is missed.
"""

import datetime as dt
import json
import multiprocessing
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sagsim.atomic import save_figure_atomic, write_json_atomic  # noqa: E402

TRAINED = "maskable_ppo"  # the trained checkpoint's name in the results


def evaluate_policies(scenario: str, checkpoint: str, seeds: list[int],
                      max_cycles: int | None, jobs: int) -> dict[str, list[dict]]:  # fmt: skip
    """Per policy (:data:`TRAINED` for ``checkpoint``, then the baselines), the
    records of :func:`sagsim.agents.comparison.run_job` (return, totals, usage metrics) on
    ``seeds`` in seed order; ``jobs`` processes (spawned: the parent has run torch's
    OpenMP threads, which a forked child can inherit locked), 1: in this process. The
    planner's episodes are started first: they are the longest."""
    from sagsim.agents.comparison import BASELINES, run_job

    specs = {TRAINED: checkpoint, **{name: name for name in BASELINES}}
    order = sorted(specs, key=lambda name: name != "planner")
    jobs_list = [(scenario, specs[name], None, seed, max_cycles) for name in order
                 for seed in seeds]  # fmt: skip
    if jobs == 1:
        records = list(map(run_job, jobs_list))
    else:
        with multiprocessing.get_context("spawn").Pool(jobs) as pool:
            records = pool.map(run_job, jobs_list, chunksize=1)
    by_policy = {name: [] for name in specs}
    for (_, spec, *_rest), record in zip(jobs_list, records, strict=True):
        by_policy[TRAINED if spec == checkpoint else spec].append(record)
    return by_policy


def main(argv=None) -> int:
    from sagsim.cli import ArgumentParser, ranged  # one-line errors, no abbreviated flags

    ap = ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="flood_wuhan")
    ap.add_argument("--minutes", type=float, default=30.0, help="training wall-time budget")
    ap.add_argument("--eval-seeds", type=int, default=10)
    ap.add_argument("--n-envs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eval-every-episodes", type=ranged(int, 1, 10_000), default=20,
                    dest="eval_every_episodes",
                    help="training evaluations every this many episodes' agent-steps")  # fmt: skip
    ap.add_argument("--jobs", type=ranged(int, 1, 64), default=2,
                    help="processes for the evaluation episodes (1: in this process)")  # fmt: skip
    ap.add_argument("--config", default=None, help="training config YAML")
    ap.add_argument("--max-cycles", type=ranged(int, 1, 10**7), default=None, dest="max_cycles",
                    help="cut every episode to N steps (a quick check)")  # fmt: skip
    ap.add_argument(
        "--out",
        type=Path,
        default=None,
        help="JSON path (default benchmarks/results/learning_bench_<scenario>.json)",
    )
    args = ap.parse_args(argv)
    if args.minutes <= 0 or args.eval_seeds < 2 or args.n_envs < 1:
        ap.error("--minutes > 0, --eval-seeds ≥ 2 and --n-envs ≥ 1 are required")

    import train
    from sagsim.agents.episode_metrics import USAGE_METRICS
    from sagsim.agents.evaluation import summarise
    from sagsim.agents.stats import finite_mean
    from sagsim.agents.training import ConfigError, Phases, eval_seeds, load_config
    from sagsim.cli import stop_on_signals
    from sagsim.envs import ScenarioError
    from sagsim.envs.sag_env import SagEnv
    from sagsim.envs.scenario.shipped import resolve_scenario

    try:
        scenario = resolve_scenario(args.scenario)
        probe = SagEnv(scenario, max_cycles=args.max_cycles)
        n_agents = len(probe.possible_agents)
        # Evaluations every so many episodes' worth of learning (all copies together), not
        # every fixed number of steps: with a day of 10 s steps an evaluation of 3 episodes
        # takes minutes, and a fixed 400,000 agent-steps spent most of the budget on them.
        eval_every = args.eval_every_episodes * probe.max_cycles * n_agents
        cfg = load_config(args.config, {"timesteps": 10**10, "n_envs": args.n_envs,
                                        "seed": args.seed, "time_limit_s": 60.0 * args.minutes,
                                        "eval_every": eval_every, "eval_seeds": 3,
                                        "max_cycles": args.max_cycles})  # fmt: skip
    except (ScenarioError, ConfigError) as e:
        print(f"learning_bench.py: error: {e}", file=sys.stderr)
        return 2
    if args.out is None:
        args.out = ROOT / f"benchmarks/results/learning_bench_{scenario.name}.json"
    run_dir = args.out.parent / f"learning_{scenario.name}_run"
    if run_dir.exists():
        import shutil

        shutil.rmtree(run_dir)
    t0 = time.perf_counter()
    with stop_on_signals() as stop:  # SIGINT/SIGTERM: train saves last.zip and returns
        status = train.train(cfg, scenario, run_dir, None, Phases("learning_bench.py"), stop)
    wall_s = time.perf_counter() - t0
    if status:
        return status
    state = json.loads((run_dir / "state.json").read_text())
    steps = state["num_timesteps"]
    eval_s = state.get("eval_s", 0.0)  # periodic and baseline evaluations during training
    learn_s = max(wall_s - eval_s, 1e-9)
    seeds = eval_seeds(args.eval_seeds) + 10_000  # not the seeds used to pick "best"
    t_eval = time.perf_counter()
    records = evaluate_policies(args.scenario, str(run_dir / "best.zip"), [int(s) for s in seeds],
                                args.max_cycles, args.jobs)  # fmt: skip
    eval_wall_s = time.perf_counter() - t_eval
    results = {}
    for name, recs in records.items():
        returns = [r["return"] for r in recs]
        results[name] = {**summarise(returns), "returns": returns,
                         "information": summarise([r["information"] for r in recs])["mean"],
                         "usage": {k: finite_mean([r[k] for r in recs])
                                   for k in USAGE_METRICS}}  # fmt: skip
        print(
            f"{name:<14} {results[name]['mean']:9.3f} "
            f"[{results[name]['ci_low']:.3f}, {results[name]['ci_high']:.3f}]"
        )
    planner_used_greedy = [bool(r["planner_used_greedy"]) for r in records["planner"]]
    trained, greedy = results[TRAINED], results["greedy"]
    for name, res in results.items():  # paired differences: trained − baseline, per seed
        if name != TRAINED:
            res["paired_diff_trained_minus"] = summarise(
                [a - b for a, b in zip(trained["returns"], res["returns"], strict=True)]
            )
    best = results["planner"]["mean"]  # fraction of the planner's return each policy misses
    gaps = {n: (best - r["mean"]) / abs(best) for n, r in results.items() if n != "planner"}
    print("gap to planner: " + ", ".join(f"{n} {g:.1%}" for n, g in gaps.items()))
    print(f"planner replayed greedy on {sum(planner_used_greedy)} of {len(seeds)} seeds")
    passed = {"beats_random_clearly": results["random"]["paired_diff_trained_minus"]["ci_low"] > 0,
              "reaches_greedy_mean": trained["mean"] >= greedy["mean"]}  # fmt: skip
    curve = state.get("curve", [])
    png = args.out.with_suffix(".png")
    fig, ax = plt.subplots(figsize=(7, 4))
    if curve:
        ax.errorbar([c["num_timesteps"] for c in curve], [c["mean"] for c in curve],
                    yerr=[[c["mean"] - c["ci_low"] for c in curve],
                          [c["ci_high"] - c["mean"] for c in curve]],
                    marker="o", capsize=3, label="MaskablePPO")  # fmt: skip
    # The baselines on the same selection seeds as the curve (not the held-out test seeds).
    for name, style in (("greedy", "--"), ("random", ":")):
        ax.axhline(state[f"{name}_return"]["mean"], linestyle=style, color="grey", label=name)
    # From 0, as the report's curve (sagsim.agents.report): a run of a few evaluations
    # close together would otherwise spread them over the whole axis.
    ax.set_xlim(0, 1.05 * max([steps, *(c["num_timesteps"] for c in curve)]))
    ax.set_xlabel("agent-steps trained")
    ax.set_ylabel(f"team return per episode (mean of {cfg.eval_seeds} seeds, 95 % CI)")
    ax.set_title(
        f"{scenario.name}: learning curve ({args.minutes:g} min of training, {steps:,} agent-steps)"
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    save_figure_atomic(fig, png, dpi=120)
    write_json_atomic(args.out, {
        "benchmark": "learning_bench",
        "timestamp_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "scenario": scenario.name, "budget_minutes": args.minutes, "wall_s": wall_s,
        "agent_steps": steps, "n_agents": n_agents, "eval_s": eval_s,
        "final_eval_wall_s": eval_wall_s, "jobs": args.jobs,
        "agent_steps_per_s": steps / learn_s, "env_steps_per_s": steps / n_agents / learn_s,
        "gap_to_planner": gaps, "planner_used_greedy": planner_used_greedy,
        "eval_seeds": [int(s) for s in seeds], "results": results, "curve": curve,
        "passed": passed, "learning_curve_png": str(png), "config": cfg.model_dump(),
    })  # fmt: skip
    print(
        f"trained {steps} agent-steps in {wall_s:.0f} s ({steps / learn_s:.0f}/s while "
        f"learning, {steps / n_agents / learn_s:.0f} env-steps/s); "
        f"targets: {passed}; wrote {args.out} and {png}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
