"""Benchmark: sag_eo_v0 step throughput, reset time and peak memory per scenario, on one core.

Usage: ``python benchmarks/env_bench.py [--quick] [--steps N] [--scenarios NAME ...] [--out PATH]``.
Prints a table and writes JSON (default ``benchmarks/results/env_bench.json``, written
atomically).

Each scenario runs in a fresh subprocess (``--one NAME``, result as JSON on stdout) so that its
peak memory (``ru_maxrss``) is its own: time ``envs.parallel_env(NAME)`` (build_s) and the first
``reset(seed=0)`` (reset_s), then N env steps (default 3,000; ``--quick``: 300) with uniform
random *masked* actions from one ``numpy.random.Generator``, resetting when the episode ends
(resets are inside the timed loop). agent-steps = Σ over steps of the live agents.

The N steps are timed in ``WINDOWS`` consecutive equal windows. Throughput is reported as
the best window (the convention of Python's ``timeit``: the fastest run is the one least
disturbed by the rest of a shared machine) and as the median window; targets are judged on
the best window, for the reference too. Each child process is pinned to one CPU.

Reference, measured in the same run: PettingZoo MPE ``simple_spread_v3`` (package ``mpe2``,
N=3, max_cycles=25, discrete actions) with uniform random actions drawn the same way, same
step count. When ``mpe2`` is not installed the reference is reported as unavailable.

Threads are pinned to one (``OMP/OPENBLAS/MKL_NUM_THREADS=1``, set before numpy is imported,
inherited by the subprocesses). Exit status 0 even when a target is missed.
"""

import os

os.environ["OMP_NUM_THREADS"] = "1"  # one core: set before numpy is imported
os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = "1"

import argparse
import datetime as dt
import itertools
import json
import platform
import resource
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sagsim.atomic import write_json_atomic  # noqa: E402

SCENARIOS = ("minimal", "flood_wuhan", "wildfire_california", "global_constellation")
REFERENCE = "mpe2:simple_spread_v3"
TARGETS = {"minimal_env_steps_per_s_min": 3000.0, "flood_wuhan_env_steps_per_s_min": 500.0,
           "flood_wuhan_agent_steps_per_s_min": "simple_spread_v3 agent-steps/s",
           "global_constellation_build_plus_reset_s_max": 5.0,
           "global_constellation_peak_memory_gib_max": 2.0}  # fmt: skip
GIB = 1024**3
WINDOWS = 5


def pin_to_one_cpu() -> None:
    """Run on one CPU (the lowest this process may use), where the OS allows it."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def timed_windows(n_steps: int, step) -> dict:
    """Call ``step()`` (returns the agent-steps it ran) ``n_steps`` times in ``WINDOWS``
    windows; throughput of each window and of the best and median one."""
    bounds = np.linspace(0, n_steps, min(WINDOWS, n_steps) + 1).astype(int)
    env_rates, agent_rates, loop_s, agent_steps = [], [], 0.0, 0
    for a, b in itertools.pairwise(bounds):
        t0, agents = time.perf_counter(), 0
        for _ in range(b - a):
            agents += step()
        dt_s = time.perf_counter() - t0
        env_rates.append((b - a) / dt_s)
        agent_rates.append(agents / dt_s)
        loop_s, agent_steps = loop_s + dt_s, agent_steps + agents
    return {
        "steps": n_steps,
        "loop_s": loop_s,
        "agent_steps": agent_steps,
        "env_steps_per_s": max(env_rates),
        "agent_steps_per_s": max(agent_rates),
        "env_steps_per_s_median": float(np.median(env_rates)),
        "agent_steps_per_s_median": float(np.median(agent_rates)),
        "window_env_steps_per_s": env_rates,
    }


def peak_memory() -> dict:
    """This process's peak resident memory: ``ru_maxrss`` (bytes) and, on Linux, ``VmHWM``
    (the high-water mark of this process image only, not carried over from the parent)."""
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = {"ru_maxrss_bytes": int(maxrss if sys.platform == "darwin" else maxrss * 1024)}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                out["vm_hwm_bytes"] = int(line.split()[1]) * 1024
    except OSError:
        pass
    return out


def run_scenario(name: str, n_steps: int) -> dict:
    """Build, reset and step ``name`` with random masked actions (runs in the child)."""
    t0 = time.perf_counter()
    from sagsim import envs

    import_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    env = envs.parallel_env(name)
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    obs, _ = env.reset(seed=0)
    reset_s = time.perf_counter() - t0
    n_agents = len(env.agents)
    rng = np.random.default_rng(0)
    state = {"obs": obs, "resets": 0, "masked_empty": 0}

    def step() -> int:
        if not env.agents:
            state["obs"], _ = env.reset(seed=int(rng.integers(2**31)))
            state["resets"] += 1
        agents, obs = env.agents, state["obs"]
        u = rng.random(len(agents))
        actions = {}
        for a, ui in zip(agents, u, strict=True):
            ones = obs[a]["action_mask"].nonzero()[0]  # a C call: the harness stays cheap
            if ones.size:
                actions[a] = int(ones[int(ui * ones.size)])
            else:  # nothing feasible: a missing action is IDLE
                state["masked_empty"] += 1
        state["obs"], *_ = env.step(actions)
        return len(agents)

    timing = timed_windows(n_steps, step)
    env.close()
    return {"name": name, "n_agents": n_agents, "n_actions": int(env.n_actions),
            "episode_steps": int(env.max_cycles), "import_s": import_s, "build_s": build_s,
            "reset_s": reset_s, "build_plus_reset_s": build_s + reset_s, **timing,
            "resets": state["resets"], "no_feasible_action": state["masked_empty"],
            **peak_memory()}  # fmt: skip


def run_reference(n_steps: int) -> dict:
    """MPE simple_spread_v3 with random actions from its action spaces (runs in the child)."""
    t0 = time.perf_counter()
    from mpe2 import simple_spread_v3

    import_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    env = simple_spread_v3.parallel_env(N=3, max_cycles=25, continuous_actions=False)
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    env.reset(seed=0)
    reset_s = time.perf_counter() - t0
    n_agents = len(env.agents)
    n_actions = {a: int(env.action_space(a).n) for a in env.possible_agents}
    rng = np.random.default_rng(0)
    state = {"resets": 0}

    def step() -> int:  # uniform random actions, drawn as cheaply as for the scenarios
        if not env.agents:
            state["resets"] += 1
            env.reset(seed=state["resets"])
        agents = env.agents
        u = rng.random(len(agents))
        actions = {a: int(ui * n_actions[a]) for a, ui in zip(agents, u, strict=True)}
        env.step(actions)
        return len(actions)

    timing = timed_windows(n_steps, step)
    env.close()
    return {"name": REFERENCE, "n_agents": n_agents, "import_s": import_s, "build_s": build_s,
            "reset_s": reset_s, "build_plus_reset_s": build_s + reset_s, **timing,
            "resets": state["resets"], "mpe2": metadata.version("mpe2"),
            **peak_memory()}  # fmt: skip


def child(name: str, n_steps: int) -> int:
    pin_to_one_cpu()
    result = run_reference(n_steps) if name == REFERENCE else run_scenario(name, n_steps)
    sys.stdout.flush()
    print("\n" + json.dumps(result))  # the last line of stdout is the result
    return 0


def spawn(name: str, n_steps: int) -> dict:
    """Run one benchmark in a fresh interpreter; its JSON result or an ``error`` entry."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--one", name, "--steps", str(n_steps)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    if proc.returncode == 0 and lines:
        try:
            return json.loads(lines[-1])
        except json.JSONDecodeError:
            pass
    err = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    return {"name": name, "error": err[-1] if err else f"exit status {proc.returncode}"}


def mpe2_available() -> bool:
    try:
        metadata.version("mpe2")
    except metadata.PackageNotFoundError:
        return False
    return True


def evaluate(results: dict, reference: dict) -> dict:
    """Target name -> True / False, or None when it could not be measured."""

    def ok(name):
        r = results.get(name)
        return r if r is not None and "error" not in r else None

    mini, flood, glob = ok("minimal"), ok("flood_wuhan"), ok("global_constellation")
    ref = reference if reference and "error" not in reference else None
    t = TARGETS
    return {
        "minimal_env_steps_per_s": None
        if mini is None
        else mini["env_steps_per_s"] >= t["minimal_env_steps_per_s_min"],
        "flood_wuhan_env_steps_per_s": None
        if flood is None
        else flood["env_steps_per_s"] >= t["flood_wuhan_env_steps_per_s_min"],
        "flood_wuhan_agent_steps_per_s_vs_simple_spread": None
        if flood is None or ref is None
        else flood["agent_steps_per_s"] >= ref["agent_steps_per_s"],
        "global_constellation_build_plus_reset_s": None
        if glob is None
        else glob["build_plus_reset_s"] < t["global_constellation_build_plus_reset_s_max"],
        "global_constellation_peak_memory": None
        if glob is None
        else glob["ru_maxrss_bytes"] < t["global_constellation_peak_memory_gib_max"] * GIB,
    }


def print_table(rows: list[dict], notes: list[str]) -> None:
    head = ("benchmark", "agents", "build s", "reset s", "env-steps/s", "(median)",
            "agent-steps/s", "peak MiB")  # fmt: skip
    print(f"{head[0]:<24} {head[1]:>6} {head[2]:>8} {head[3]:>8} {head[4]:>12} {head[5]:>9} "
          f"{head[6]:>14} {head[7]:>9}")  # fmt: skip
    for r in rows:
        if "error" in r:
            print(f"{r['name']:<24} error: {r['error']}")
            continue
        print(f"{r['name']:<24} {r['n_agents']:>6} {r['build_s']:>8.3f} {r['reset_s']:>8.3f} "
              f"{r['env_steps_per_s']:>12,.0f} {r['env_steps_per_s_median']:>9,.0f} "
              f"{r['agent_steps_per_s']:>14,.0f} "
              f"{r['ru_maxrss_bytes'] / 2**20:>9,.0f}")  # fmt: skip
    for note in notes:
        print(f"note: {note}")


def versions(*names: str) -> dict:
    out = {}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            out[n] = None
    return out


def main(argv=None) -> int:
    from sagsim.cli import ArgumentParser  # one-line errors, no abbreviated flags

    ap = ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="300 steps instead of 3,000")
    ap.add_argument("--steps", type=int, default=None, help="env steps per scenario")
    ap.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), metavar="NAME")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results/env_bench.json")
    ap.add_argument("--one", metavar="NAME", help=argparse.SUPPRESS)  # child mode
    args = ap.parse_args(argv)
    n_steps = args.steps if args.steps is not None else (300 if args.quick else 3000)
    if n_steps < 1:
        ap.error(f"--steps: must be a positive integer, got {n_steps}")
    if args.one:
        return child(args.one, n_steps)

    notes, results = [], {}
    for name in args.scenarios:
        if not (ROOT / "scenarios" / f"{name}.yaml").exists():
            notes.append(f"scenarios/{name}.yaml does not exist yet: skipped")
            results[name] = None
            continue
        print(f"running {name} ({n_steps} steps) ...", file=sys.stderr, flush=True)
        results[name] = spawn(name, n_steps)
    if mpe2_available():
        print(f"running {REFERENCE} ({n_steps} steps) ...", file=sys.stderr, flush=True)
        reference = spawn(REFERENCE, n_steps)
    else:
        reference = None
        notes.append("reference simple_spread_v3 unavailable: mpe2 is not installed")
    for r in [*results.values(), reference]:
        if r is not None and "error" in r:
            notes.append(f"{r['name']} failed: {r['error']}")

    passed = evaluate(results, reference)
    measured = [v for v in passed.values() if v is not None]
    result = {
        "benchmark": "env_bench",
        "timestamp_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "steps": n_steps,
        "windows": WINDOWS,
        "scenarios": results,
        "reference": reference,
        "notes": notes,
        "targets": TARGETS,
        "passed": passed,
        "all_passed": bool(measured) and all(measured) and len(measured) == len(passed),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "numpy": np.__version__,
            **versions("pettingzoo", "gymnasium", "mpe2"),
            "threads": {
                v: os.environ[v]
                for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
            },
        },
    }
    rows = [r for r in results.values() if r is not None]
    print_table(rows + ([reference] if reference is not None else []), notes)
    missed = [name for name, v in passed.items() if v is False]
    unmeasured = [name for name, v in passed.items() if v is None]
    if missed:
        print(f"targets missed: {', '.join(missed)}")
    else:
        print("all targets met" if not unmeasured else "no measured target missed")
    if unmeasured:
        print(f"targets not measured: {', '.join(unmeasured)}")
    write_json_atomic(args.out, result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
