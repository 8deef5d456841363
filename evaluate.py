"""Compare policies (and fusers) on the same seeds of a scenario.

    python evaluate.py SCENARIO --policy random --policy greedy --policy runs/NAME/best.zip
                       [--policy runs/NAME/rllib_checkpoint]
                       [--fuser kalman --fuser learned] [--seeds N] [--seed-base S]
                       [--max-cycles N] [--jobs J] [--baseline NAME] [--out reports/NAME]
                       [--animate [--animate-every STEPS]]

Every policy (× every fuser, in ``imagery`` mode) runs one episode per seed, the same seeds
for all, in ``--jobs`` processes, with a progress bar. A policy is a baseline, an SB3
checkpoint ``.zip`` or an RLlib checkpoint folder of ``train.py --backend rllib`` (each
agent's type module, argmax of its masked logits; Ray is imported only for one); the report
draws a learning curve for a ``.zip`` in a run folder with ``state.json`` (an RLlib run keeps
none). Per-episode metrics are those of
:mod:`sagsim.agents.comparison`; across seeds each gets its mean with a 95 % bootstrap interval
and, against ``--baseline`` (default: the first policy), the paired per-seed difference
(:mod:`sagsim.agents.stats`). Writes ``--out`` (default ``reports/<scenario>``) as a whole,
atomically (a killed run leaves the old folder): ``report.html`` (:mod:`sagsim.agents.report`,
self-contained), ``metrics.json`` (settings, summary, every episode) and ``metrics.csv`` (one row
per episode); with ``--animate``, ``episode_<label>.gif`` per policy (and first fuser): the
report's episode (the first seed) in the environment's ``rgb_array`` frames, one every
``--animate-every`` steps (default: about 60 frames; each costs ~0.2–0.3 s to render), also
shown in the report (:mod:`sagsim.agents.animation`). Bad flags, an unknown scenario, a missing
checkpoint or one trained for another scenario's spaces, or another run writing the same
``--out`` (a lock file beside it, :mod:`sagsim.agents.run_lock`): one line on stderr, exit status 2,
nothing written.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import json
import os
import sys
from pathlib import Path

USAGE_ERROR = 2
INTERNAL_ERROR = 1
SEED_BASE = 3_000_000  # report seeds: apart from training's evaluation and selection seeds
MAX_SEEDS = 1000


def parse_args(argv):
    from sagsim.cli import ArgumentParser, ranged
    from sagsim.fusion.fusers import FUSERS

    ap = ArgumentParser(prog="evaluate.py", description=__doc__.splitlines()[0])
    ap.add_argument("scenario", help="scenario YAML path or shipped name (e.g. minimal)")
    ap.add_argument("--policy", action="append", required=True, dest="policies",
                    help="random, greedy, contact_aware, planner, a checkpoint .zip or an "
                         "RLlib checkpoint folder (runs/NAME/rllib_checkpoint; repeat to "
                         "compare)")  # fmt: skip
    ap.add_argument("--fuser", action="append", choices=sorted(FUSERS), dest="fusers",
                    help="run in imagery mode with this fuser (repeat to compare)")  # fmt: skip
    ap.add_argument("--seeds", type=ranged(int, 1, MAX_SEEDS), default=10,
                    help="episodes per policy (default 10)")  # fmt: skip
    ap.add_argument("--seed-base", type=ranged(int, 0, 2**31 - 1), default=SEED_BASE,
                    dest="seed_base", help=f"first seed (default {SEED_BASE})")  # fmt: skip
    ap.add_argument("--max-cycles", type=ranged(int, 1, 1_000_000), dest="max_cycles",
                    help="episode length cap (steps)")  # fmt: skip
    ap.add_argument("--jobs", type=ranged(int, 1, 256), default=min(2, os.cpu_count() or 1),
                    help="worker processes (default 2)")  # fmt: skip
    ap.add_argument("--baseline", help="policy the paired differences are taken against "
                                       "(default: the first)")  # fmt: skip
    ap.add_argument("--out", type=Path, help="report folder (default reports/<scenario>)")
    ap.add_argument("--animate", action="store_true",
                    help="also write an animated GIF of each policy's report episode "
                         "(episode_<policy>.gif, shown in the report)")  # fmt: skip
    ap.add_argument("--animate-every", type=ranged(int, 1, 1_000_000), dest="animate_every",
                    metavar="STEPS", help="steps between animation frames (implies --animate; "
                                          "default: about 60 frames an episode)")  # fmt: skip
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    if len(set(args.policies)) != len(args.policies):
        ap.error("--policy: each policy once")
    return args


def fail(message: str) -> int:
    # One "evaluate.py: ..." line per line of the message (a ScenarioError lists each problem).
    sys.stderr.write("".join(f"evaluate.py: {line}\n" for line in message.splitlines() or [""]))
    return USAGE_ERROR


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from sagsim.agents.comparison import PolicyError, check_policy, policy_name
    from sagsim.envs.scenario.loader import ScenarioError
    from sagsim.envs.scenario.shipped import resolve_scenario

    try:
        scenario = resolve_scenario(args.scenario)
    except ScenarioError as e:
        return fail(str(e))
    try:
        for spec in args.policies:
            check_policy(spec, scenario)
    except PolicyError as e:
        return fail(str(e))
    names = [policy_name(p) for p in args.policies]
    baseline = args.baseline or names[0]
    if baseline not in names:
        return fail(f"--baseline {baseline!r}: not one of the policies ({', '.join(names)})")
    from sagsim.agents.run_lock import run_locked  # one run per --out (a sibling lock file)

    out = args.out or Path("reports") / scenario.name
    return run_locked(out, "evaluate.py", run, args, scenario, names, baseline)


def run(args, scenario, names, baseline) -> int:
    import multiprocessing

    from tqdm import tqdm

    from sagsim.agents.animation import AUTO, file_names
    from sagsim.agents.comparison import run_job, summarise_records
    from sagsim.atomic import replace_dir_atomic
    from sagsim.cli import worker_ignores_stop_signals
    from sagsim.envs.views.inspector import warn_cut_episode

    # Once the --out lock is held: a busy --out is refused before anything else is said.
    warn_cut_episode(scenario, args.max_cycles, args.scenario)

    seeds = [args.seed_base + i for i in range(args.seeds)]
    fusers = args.fusers or [None]
    animate = args.animate_every or (AUTO if args.animate else None)
    # The first seed of each policy (with the first fuser) is also drawn in the report.
    jobs = [(scenario, p, f, s, args.max_cycles, s == seeds[0] and f == fusers[0], animate)
            for p in args.policies for f in fusers for s in seeds]  # fmt: skip
    records = []
    with contextlib.ExitStack() as stack:
        bar = stack.enter_context(tqdm(total=len(jobs), desc="episodes", unit="ep",
                                       disable=args.quiet))  # fmt: skip
        results = map(run_job, jobs)
        if args.jobs > 1:
            # Workers ignore SIGINT: Ctrl-C reaches the whole process group, and only this
            # process should stop (leaving the pool ends it: terminate()).
            pool = multiprocessing.get_context("fork").Pool(
                min(args.jobs, len(jobs)), initializer=worker_ignores_stop_signals
            )
            results = _interruptible(stack.enter_context(pool).imap(run_job, jobs))
        for r in results:
            records.append(r)
            bar.update(1)
    missing = missing_episodes(records, names, args.fusers or [""], seeds)
    if missing:  # a report over other episodes than asked would mislead: never write one
        sys.stderr.write(f"evaluate.py: internal error: {len(records)} episodes recorded "
                         f"of {len(jobs)} asked; missing or repeated (policy, fuser, seed): "
                         f"{missing[:5]}; nothing written\n")  # fmt: skip
        return INTERNAL_ERROR
    captures = [r.pop("_capture") for r in records if "_capture" in r]
    animated = [c for c in captures if c.get("animation_gif")]
    for c, name in zip(animated, file_names([c["policy"] for c in animated]), strict=True):
        c["animation_file"] = name
    summary = summarise_records(records, baseline)
    out = args.out or Path("reports") / scenario.name
    meta = {"scenario": scenario.name, "date_utc": dt.datetime.now(dt.UTC).isoformat(
                timespec="seconds"), "policies": dict(zip(names, args.policies, strict=True)),
            "fusers": args.fusers or [], "seeds": seeds, "max_cycles": args.max_cycles,
            "baseline": baseline, "interval": "95 % bootstrap (BCa) over seeds"}  # fmt: skip

    from sagsim.agents.report import render_report

    curves = {}
    for name, spec in zip(names, args.policies, strict=True):
        state = Path(spec).parent / "state.json"  # train.py's run record, when there is one
        if spec.endswith(".zip") and state.is_file():
            # A foreign or damaged file: the report just has no curve for it.
            with contextlib.suppress(OSError, ValueError):
                curves[name] = json.loads(state.read_text())
    page = render_report(meta, summary, captures, curves)

    def write(folder: Path) -> None:
        data = {"meta": meta, "summary": summary, "episodes": records}
        (folder / "metrics.json").write_text(json.dumps(data, indent=2, default=float))
        (folder / "report.html").write_text(page, encoding="utf-8")
        with open(folder / "metrics.csv", "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=list(records[0]))
            w.writeheader()
            w.writerows(records)
        for c in animated:
            (folder / c["animation_file"]).write_bytes(c["animation_gif"])

    replace_dir_atomic(out, write)
    print_summary(summary)
    if not any(r.get("images_delivered", 0) for r in records):
        cut = f" in {args.max_cycles} steps" if args.max_cycles else ""
        sys.stderr.write(f"warning: no episode delivered an image{cut}: every return is costs "
                         "only (python -m sagsim.envs SCENARIO shows when stations are in "
                         "contact)\n")  # fmt: skip
    gifs = "".join(f", {c['animation_file']}" for c in animated)
    print(f"wrote {out}/report.html, metrics.json and metrics.csv{gifs}")
    return 0


def _interruptible(results, poll_s: float = 0.5):
    """The pool's results, waited for ``poll_s`` (s) at a time. A signal that the kernel
    delivers to one of the pool's (or tqdm's) threads does not wake the main thread out of
    an untimed wait: SIGINT or SIGTERM would then be acted on only when the next episode
    ends, minutes later on a loaded machine. A timed wait returns to Python every
    ``poll_s``, where the signal's handler runs."""
    import multiprocessing

    while True:
        try:
            yield results.next(timeout=poll_s)
        except multiprocessing.TimeoutError:
            continue
        except StopIteration:
            return


def missing_episodes(records: list[dict], names: list[str], fusers: list[str],
                     seeds: list[int]) -> list[tuple[str, str, int]]:  # fmt: skip
    """The (policy, fuser, seed) episodes asked for that ``records`` does not hold exactly
    once (a duplicate counts as missing too): empty when the run is complete."""
    from collections import Counter

    got = Counter((r["policy"], r["fuser"], r["seed"]) for r in records)
    asked = [(p, f, s) for p in names for f in fusers for s in seeds]
    bad = [key for key in asked if got[key] != 1]
    extra = set(got) - set(asked)
    return bad + sorted(extra)


def summary_lines(summary: dict) -> list[str]:
    """The console table of :func:`sagsim.agents.comparison.summarise_records`' summary:
    a row per policy, mean [95 % interval] of the headline metrics and the paired return
    difference to the baseline where there is one; a column nobody has a value in (the
    fused map's PSNR without ``--fuser``) is left out; columns padded to their widest
    cell and two spaces apart."""
    headline = ("return", "map_quality_mean", "images_delivered", "mean_latency_h",
                "fusion_psnr_db")  # fmt: skip
    cols = [c for c in headline if any(cell[c]["n"] for cell in summary.values())]
    paired = sorted({k for cell in summary.values() for k in cell if k.startswith("vs_")})

    def fmt(v: dict) -> str:
        return "—" if v["n"] == 0 else f"{v['mean']:.2f} [{v['ci_low']:.2f}, {v['ci_high']:.2f}]"

    header = ["policy", *cols, *(f"return − {k[3:]} (paired)" for k in paired)]
    rows = [header]
    for label, cell in summary.items():
        diffs = [fmt(cell[k]["return"]) if k in cell else "" for k in paired]
        rows.append([label, *(fmt(cell[c]) for c in cols), *diffs])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return ["  ".join(x.ljust(w) if i == 0 else x.rjust(w)
                      for i, (x, w) in enumerate(zip(row, widths, strict=True)))
            for row in rows]  # fmt: skip


def print_summary(summary: dict) -> None:
    print("\n".join(summary_lines(summary)))


if __name__ == "__main__":
    from sagsim.cli import run_stoppable

    # SIGINT or SIGTERM: one line, exit status 130 or 143, nothing written (the report
    # folder is replaced whole or not at all).
    raise SystemExit(run_stoppable("evaluate.py", main))
