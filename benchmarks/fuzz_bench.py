"""Benchmark: fuzz the scenario loader with thousands of hostile mutations of the shipped
scenarios, and measure that every one loads or is a clean ``ScenarioError``, quickly.

Usage: ``python benchmarks/fuzz_bench.py [--examples 5000] [--seed 0] [--max-list 20000]
[--time-limit-s 10] [--out PATH]``. Prints a summary and writes JSON (default
``benchmarks/results/fuzz_bench.json``, written atomically): inputs tried, outcomes by kind
(``loaded``, ``clean_error``: a ScenarioError, ``other``: any other exception, and
``timeout``: over the per-input limit; the last two must be 0), inputs that loaded though
they must be refused (a ``!!python`` tag, an alias bomb, a path out of the folder: must be
0), the largest and 99th-percentile time per input, the largest memory one input
allocated (tracemalloc) and the process's peak RSS. Exit status 1 if anything must-be-zero
is not. The mutations are ``tests/envs/scenario/mutations.py``'s, which the test suite
runs with a small budget (``tests/envs/scenario/test_fuzz.py``).
"""

from __future__ import annotations

import collections
import datetime as dt
import os
import platform
import resource
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import hypothesis
import numpy as np
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed

from sagsim.atomic import write_json_atomic
from sagsim.envs import load_scenario
from tests.envs.scenario.mutations import Case, Outcome, cases, problems, run_case

ROOT = Path(__file__).resolve().parents[1]
MUST_BE_ZERO = ("other", "timeout", "must_fail_loaded", "multi_line_or_leak")
MAX_LISTED = 25  # problems listed in the JSON


class _Timeout(BaseException):  # BaseException: the loader's `except Exception` lets it by
    pass


def _alarm(signum, frame):
    raise _Timeout


def _run_limited(case: Case, folder: Path, limit_s: float) -> Outcome:
    # The alarm repeats every 0.5 s: one that lands in a place that swallows exceptions
    # (a gc callback) is followed by another.
    signal.setitimer(signal.ITIMER_REAL, limit_s, 0.5)
    t0 = time.perf_counter()
    try:
        outcome = run_case(case, folder)
    except _Timeout:
        import tracemalloc

        tracemalloc.stop()
        outcome = Outcome("timeout", time.perf_counter() - t0, 0, f"over {limit_s:g} s")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    if outcome.seconds > limit_s and outcome.kind != "timeout":  # finished, but too late
        outcome = Outcome("timeout", outcome.seconds, outcome.peak_bytes, outcome.message)
    return outcome


def fuzz(n_examples: int, seed: int, max_list: int, limit_s: float) -> dict:
    counts: collections.Counter = collections.Counter()
    ops: collections.Counter = collections.Counter()
    times: list[float] = []
    peaks: list[int] = []
    listed: list[dict] = []
    slowest: dict = {"seconds": 0.0}
    biggest: dict = {"rss_bytes": 0}  # the input that raised the process's peak RSS most

    with tempfile.TemporaryDirectory(prefix="sagsim-fuzz-") as tmp:
        folder = Path(tmp)

        @settings(max_examples=n_examples, database=None, deadline=None,
                  phases=[Phase.generate], suppress_health_check=list(HealthCheck))  # fmt: skip
        @hypothesis_seed(seed)
        @given(cases(max_list=max_list))
        def drive(case: Case) -> None:
            rss_before = _rss_bytes()
            outcome = _run_limited(case, folder, limit_s)
            rss_after = _rss_bytes()
            if rss_after - rss_before > 100 * 2**20 and rss_after > biggest["rss_bytes"]:
                biggest.update(rss_bytes=rss_after, base=case.base, done=case.done,
                               outcome=outcome.kind, message=outcome.message[:200])  # fmt: skip
            counts[outcome.kind] += 1
            if len(times) % 500 == 499:
                rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                print(f"  ... {len(times) + 1} inputs, peak RSS {rss:.0f} MiB", file=sys.stderr)
            for step in case.done:
                ops[step.split(" ")[0].split("=")[0]] += 1
            times.append(outcome.seconds)
            peaks.append(outcome.peak_bytes)
            found = problems(case, outcome)
            if case.must_fail and outcome.kind == "loaded":
                counts["must_fail_loaded"] += 1
            elif found and outcome.kind == "clean_error":
                counts["multi_line_or_leak"] += 1
            if outcome.seconds > slowest["seconds"]:
                slowest.update(seconds=outcome.seconds, base=case.base, done=case.done,
                               outcome=outcome.kind, message=outcome.message[:200])  # fmt: skip
            if (found or outcome.kind == "timeout") and len(listed) < MAX_LISTED:
                listed.append({"base": case.base, "done": case.done, "kind": outcome.kind,
                               "problems": found, "message": outcome.message[:300],
                               "input": _describe_input(case)})  # fmt: skip

        t0 = time.perf_counter()
        drive()
        wall = time.perf_counter() - t0

    t = np.array(times)
    return {
        "inputs": len(times),
        "outcomes": {k: counts[k] for k in ("loaded", "clean_error", "other", "timeout")},
        "must_fail_loaded": counts["must_fail_loaded"],
        "multi_line_or_leak": counts["multi_line_or_leak"],
        "max_seconds_per_input": float(t.max()) if len(t) else 0.0,
        "p99_seconds_per_input": float(np.percentile(t, 99)) if len(t) else 0.0,
        "mean_seconds_per_input": float(t.mean()) if len(t) else 0.0,
        "slowest_input": slowest,
        "max_traced_bytes_per_input": int(max(peaks, default=0)),
        "peak_rss_bytes": _rss_bytes(),
        "peak_rss_input": biggest,
        "mutations_applied": dict(ops.most_common()),
        "problems": listed,
        "wall_s": wall,
    }


def _rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _describe_input(case: Case) -> str:
    if isinstance(case.content, bytes):
        return repr(case.content[:300])
    try:
        return yaml.safe_dump(case.content, width=1000)[:300]
    except Exception:
        return repr(case.content)[:300]


def main(argv=None) -> int:
    from sagsim.cli import ArgumentParser  # one-line errors, no abbreviated flags

    ap = ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=5000, help="inputs to try (default 5000)")
    ap.add_argument("--seed", type=int, default=0, help="hypothesis seed (default 0)")
    ap.add_argument("--max-list", type=int, default=20_000, dest="max_list",
                    help="longest generated list (default 20000)")  # fmt: skip
    ap.add_argument("--time-limit-s", type=float, default=10.0, dest="time_limit_s",
                    help="per-input limit; slower counts as a hang (default 10)")  # fmt: skip
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results/fuzz_bench.json")
    args = ap.parse_args(argv)

    signal.signal(signal.SIGALRM, _alarm)
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):  # imports and caches: not timed
        load_scenario(path)
    result = fuzz(args.examples, args.seed, args.max_list, args.time_limit_s)
    failures = {k: result["outcomes"].get(k, result.get(k, 0)) for k in MUST_BE_ZERO}
    report = {
        "benchmark": "fuzz_bench",
        "timestamp_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "examples_requested": args.examples,
        "seed": args.seed,
        "max_list": args.max_list,
        "time_limit_s": args.time_limit_s,
        **result,
        "must_be_zero": failures,
        "passed": not any(failures.values()),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "hypothesis": hypothesis.__version__,
            "pyyaml": yaml.__version__,
            "libyaml": bool(getattr(yaml, "__with_libyaml__", False)),
        },
    }
    write_json_atomic(args.out, report)

    o = result["outcomes"]
    print(f"fuzz_bench: {result['inputs']} inputs in {result['wall_s']:.0f} s (seed {args.seed})")
    print(f"  loaded {o['loaded']}, clean ScenarioError {o['clean_error']}, "
          f"other exception {o['other']}, over {args.time_limit_s:g} s {o['timeout']}")  # fmt: skip
    print(f"  must-refuse inputs that loaded {result['must_fail_loaded']}, "
          f"multi-line/leaking messages {result['multi_line_or_leak']}")  # fmt: skip
    r, mib = result, 2**20
    print(
        f"  time per input: max {r['max_seconds_per_input']:.2f} s, p99 "
        f"{r['p99_seconds_per_input']:.3f} s, mean {r['mean_seconds_per_input']:.3f} s"
    )
    print(f"  memory: largest per input {r['max_traced_bytes_per_input'] / mib:.0f} MiB "
          f"(tracemalloc), process peak RSS {r['peak_rss_bytes'] / mib:.0f} MiB")  # fmt: skip
    for item in result["problems"][:5]:
        print(f"  PROBLEM {item['base']} {item['done']}: {item['problems'] or item['message']}")
    print(f"  {'PASS' if report['passed'] else 'FAIL'}; wrote {args.out}")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
