"""Benchmark: the per-step cost of the ``imagery`` perception mode against ``variance_only``.

Usage: ``python benchmarks/imagery_cost.py [--scenario flood_wuhan] [--steps N]``; prints the
figures as JSON. ``benchmarks/fusion_bench.py`` runs it on flood_wuhan and stores them with
its own results (target: imagery ≤ 5 × variance_only per step).
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, as the env benchmark: before numpy
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

COST_REPEATS = 2  # best of: the machine is shared
QUICK_COST_STEPS = 720  # 6 h of flood_wuhan (no open-data pass yet: the whole day otherwise)


def imagery_cost(scenario_name: str, n_steps: int | None, seed: int = 0) -> dict:
    """Seconds per env step of ``scenario_name`` in ``variance_only`` and ``imagery`` mode
    (uniform random masked actions from one generator, the same in both: the modes draw
    identically), over ``n_steps`` steps from ``reset`` (default the whole episode, so the
    open-data passes and every metrics report are included; reset excluded), the best of
    :data:`COST_REPEATS` runs each, alternating modes."""
    from sagsim import envs

    def run(mode):
        env = envs.parallel_env(scenario_name, perception=mode, max_cycles=n_steps)
        obs, _ = env.reset(seed=seed)
        rng, steps, t0 = np.random.default_rng(seed), 0, time.perf_counter()
        while env.agents:
            act = {a: int(rng.choice(obs[a]["action_mask"].nonzero()[0])) for a in env.agents}
            obs, *_ = env.step(act)
            steps += 1
        return (time.perf_counter() - t0) / steps, steps

    best = {"variance_only": np.inf, "imagery": np.inf}
    for _ in range(COST_REPEATS):
        for mode in best:
            per_step, steps = run(mode)
            best[mode] = min(best[mode], per_step)
    return {"scenario": scenario_name, "steps": steps,
            "variance_only_ms_per_step": 1e3 * best["variance_only"],
            "imagery_ms_per_step": 1e3 * best["imagery"],
            "ratio": best["imagery"] / best["variance_only"]}  # fmt: skip


def main(argv=None) -> int:
    from sagsim.cli import ArgumentParser  # one-line errors, no abbreviated flags

    ap = ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="flood_wuhan")
    ap.add_argument("--steps", type=int, default=None, help="default: the whole episode")
    args = ap.parse_args(argv)
    print(json.dumps(imagery_cost(args.scenario, args.steps), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
