"""Benchmark: does the scheduling problem measure skill? Random, greedy and the planner on
paired seeds, the return against the map a user sees, the resources used, and the choice a
pass offers.

Usage: ``python benchmarks/headroom_bench.py [--quick] [--seeds N] [--spearman-seeds M]
[--jobs J] [--scenarios NAME ...] [--out PATH] [--resume | --fresh]``.

For each scenario (default ``minimal``, ``flood_wuhan``, ``wildfire_california``):

- **Separation.** ``random``, ``greedy`` and ``planner`` (:mod:`sagsim.agents.planner`) on
  the same N seeds (default 30, from 0; ``--quick``: 4): each policy's mean return with its
  95 % bootstrap interval, the paired differences greedy − random, planner − greedy and
  planner − random with theirs (:mod:`sagsim.agents.stats`), random's seed-to-seed SD, and
  the targets: random < greedy < planner with each paired interval excluding 0,
  planner − random ≥ 3 SD of random's return, and the planner never below greedy on a seed
  (and the seeds on which it replayed its greedy fallback: its return is then greedy's).
- **Resources used** under each policy (the mean of each episode's
  :class:`sagsim.agents.episode_metrics.UsageTracker` figures: storage peak, contact time
  used to downlink, imaging time used in view of tasks, drone free time flown) and how many
  reach 80 % under the planner (target: two, on flood_wuhan).
- **Decisions per pass** (flood_wuhan and wildfire_california, the greedy episode of seed 0):
  a *pass* is a run of steps in which a satellite has an active task in its field of regard;
  its decisions with a choice are the steps in which at least two image candidates are
  feasible. The median over passes (target ≥ 5).
- **Return vs map** (flood_wuhan, ``imagery`` mode with the ``kalman`` fuser, the three
  policies × M seeds, default 6; ``--quick``: 2): Spearman ρ between the return and the
  task-weighted, time-averaged PSNR of the fused map
  (:class:`sagsim.agents.episode_metrics.TaskPsnrTracker`; target ≥ 0.8).

Prints the tables and writes JSON (default ``benchmarks/results/headroom_bench.json``,
atomic). Episodes run in ``--jobs`` processes (default 1). Exit status 0 even when a
target is missed.

A full run takes hours (a ``wildfire_california`` planner episode takes minutes), so each
finished episode is appended to an episode log beside the JSON (``OUT`` with the suffix
``.episodes.jsonl``) as it ends, and the log is deleted once the JSON is written.
``--resume`` reads an interrupted run's episodes back from the log and runs only the rest;
``--fresh`` discards them; with neither, a log holding episodes is refused (exit status 2),
so a forgotten flag never throws hours away. The log records a fingerprint of the code,
the scenario files and the libraries' versions (:func:`code_fingerprint`): a log written
by other code is refused, and a run stops if the code changes under it, so a resumed run
never mixes two versions of the environment. One run at a time per ``--out`` (a second
is refused, :mod:`sagsim.agents.run_lock`).
"""

import contextlib
import datetime as dt
import hashlib
import json
import math
import sys
from multiprocessing import Pool
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sagsim.agents import run_lock  # noqa: E402
from sagsim.atomic import write_json_atomic, write_text_atomic  # noqa: E402

SCENARIOS = ("minimal", "flood_wuhan", "wildfire_california")
POLICIES = ("random", "greedy", "planner")
PASS_SCENARIOS = ("flood_wuhan", "wildfire_california")
SPEARMAN_SCENARIO = "flood_wuhan"
USAGE = ("storage_peak", "downlink_busy", "access_used", "drone_flight_used", "duty_cycle_peak")
BINDING = 0.8  # a resource at or above this share of its capacity binds
# Shown beside the usage: how often storage, not time, stood between the team and an image.
BLOCKING = ("storage_full_in_view",)
TARGETS = {"sd_multiple_min": 3.0, "spearman_min": 0.8, "binding_resources_min": 2,
           "decisions_per_pass_median_min": 5.0}  # fmt: skip


# What an episode's outcome depends on: the code of these packages (hashed where they are
# imported from, which an editable install fixes), the libraries that compute it and this
# file. The fingerprint of a resumable episode log.
CODE_PACKAGES = ("sagsim", "sagsim.agents", "sagsim.envs", "sagsim.fusion", "sagsim.scenarios")
LIBRARIES = ("numpy", "scipy", "ortools", "sgp4", "skyfield", "pyproj", "pydantic", "pyyaml",
             "scikit-image", "torch", "gymnasium", "pettingzoo")  # fmt: skip


class EpisodeLogError(ValueError):
    """An episode log that cannot be resumed or started (one line: path and reason)."""


def _record(job) -> tuple[str, dict]:
    from sagsim.agents.comparison import run_job

    record = {**run_job(job), "scenario": job[0]}
    return job_key(job), {k: v for k, v in record.items() if not k.startswith("_")}


def job_key(job) -> str:
    """One episode's name in the log: ``scenario/policy/fuser/seed/max_cycles``."""
    scenario, policy, fuser, seed, max_cycles = job
    return f"{scenario}/{policy}/{fuser or 'none'}/{seed}/{max_cycles or 'full'}"


def code_folders() -> list[Path]:
    """The folders :data:`CODE_PACKAGES` are imported from."""
    import importlib.util

    return [Path(p) for name in CODE_PACKAGES
            for p in importlib.util.find_spec(name).submodule_search_locations]  # fmt: skip


def code_fingerprint(folders: list[Path] | None = None) -> str:
    """SHA-256 over every file in ``folders`` (default :func:`code_folders`; caches
    excluded), this file, Python's version and :data:`LIBRARIES`' versions: equal
    fingerprints, equal episodes for equal jobs."""
    from importlib import metadata

    digest = hashlib.sha256()
    for folder in folders if folders is not None else code_folders():
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(folder.parent)).encode() + b"\0")
                digest.update(path.read_bytes() + b"\0")
    digest.update(Path(__file__).read_bytes() + sys.version.encode())
    for name in LIBRARIES:
        try:
            digest.update(f"{name}=={metadata.version(name)}".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{name} missing".encode())
    return digest.hexdigest()


def read_episode_log(path: Path, fingerprint: str) -> dict[str, dict]:
    """The records in an episode log by :func:`job_key` (a last line cut short by a kill
    is skipped). Raises :class:`EpisodeLogError` for a log that is not one or that was
    written by other code."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise EpisodeLogError(f"{path}: cannot read the episode log ({e})") from None
    try:
        header = json.loads(lines[0]) if lines else None
    except json.JSONDecodeError:
        header = None
    if not isinstance(header, dict) or "fingerprint" not in header:
        raise EpisodeLogError(f"{path}: line 1 is not an episode-log header; run with --fresh")
    if header["fingerprint"] != fingerprint:
        raise EpisodeLogError(f"{path}: written by other code, scenarios or library versions "
                              f"(fingerprint {str(header['fingerprint'])[:12]}…, now "
                              f"{fingerprint[:12]}…); run with --fresh")  # fmt: skip
    done = {}
    for line in lines[1:]:
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue  # cut short by a kill: the episode runs again
        if not (isinstance(entry, dict) and isinstance(entry.get("key"), str)
                and isinstance(entry.get("record"), dict)):  # fmt: skip
            raise EpisodeLogError(f"{path}: a line is not an episode entry; run with --fresh")
        done[entry["key"]] = entry["record"]
    return done


def run_episodes(jobs: list, processes: int, log_path: Path, resume: bool,
                 run=_record) -> list[dict]:  # fmt: skip
    """Every job's record, in job order, appending each finished episode to ``log_path``
    (the module docstring): with ``resume`` the episodes already logged are not rerun;
    without it the log must hold no episodes (the caller starts it afresh). ``run`` maps
    a job to ``(job_key, record)``; ``processes`` 1 runs in this process. Each finished
    episode is announced on stderr (count, key, return). Stops with
    :class:`EpisodeLogError` when the code changes during the run."""
    fingerprint = code_fingerprint()
    done = read_episode_log(log_path, fingerprint) if resume and log_path.exists() else {}
    # Rewritten whole, so a line cut short by a kill is not followed by a good one.
    lines = [json.dumps({"fingerprint": fingerprint})]
    lines += [json.dumps({"key": k, "record": r}, default=float) for k, r in done.items()]
    try:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(log_path, "\n".join(lines) + "\n")
    except OSError as e:
        raise EpisodeLogError(f"{log_path}: cannot write the episode log ({e})") from None
    todo = [j for j in jobs if job_key(j) not in done]
    print(f"{len(jobs) - len(todo)} episodes read back from {log_path}, {len(todo)} to run",
          flush=True)  # fmt: skip
    with open(log_path, "a", encoding="utf-8") as log, contextlib.ExitStack() as stack:
        if processes == 1:
            finished = map(run, todo)
        else:
            finished = stack.enter_context(Pool(processes)).imap_unordered(run, todo, chunksize=1)
        for key, record in finished:
            # Workers import the code when they first need it, maybe hours in: an edit
            # made meanwhile would be logged under the old fingerprint.
            if code_fingerprint() != fingerprint:
                raise EpisodeLogError(f"{log_path}: the code changed during the run; the "
                                      "episodes before the change are logged, rerun with "
                                      "--resume after restoring it or with --fresh")  # fmt: skip
            log.write(json.dumps({"key": key, "record": record}, default=float) + "\n")
            log.flush()
            done[key] = record
            print(f"{len(done)}/{len(jobs)} {key}: return {record['return']:.1f}",
                  file=sys.stderr, flush=True)  # fmt: skip
    return [done[job_key(j)] for j in jobs]


def separation(records: list[dict], policies=POLICIES) -> dict:
    """The separation statistics of one scenario's records (the module docstring)."""
    from sagsim.agents.stats import bootstrap_ci, finite_mean, paired_difference

    by = {p: sorted((r for r in records if r["policy"] == p), key=lambda r: r["seed"])
          for p in policies}  # fmt: skip
    ret = {p: np.array([r["return"] for r in by[p]]) for p in policies}
    out = {"n_seeds": int(ret["random"].size),
           "return": {p: bootstrap_ci(ret[p]) for p in policies}}  # fmt: skip
    pairs = {"greedy-random": ("greedy", "random"), "planner-greedy": ("planner", "greedy"),
             "planner-random": ("planner", "random")}  # fmt: skip
    out["paired"] = {name: paired_difference(ret[a], ret[b]) for name, (a, b) in pairs.items()}
    sd = float(ret["random"].std(ddof=1)) if ret["random"].size > 1 else float("nan")
    gap = out["paired"]["planner-random"]["mean"]
    out["random_sd"] = sd
    out["planner_minus_random_in_sd"] = gap / sd if sd > 0 else float("nan")
    out["planner_below_greedy_seeds"] = [int(r["seed"]) for r, g in
                                         zip(by["planner"], by["greedy"], strict=True)
                                         if r["return"] < g["return"] - 1e-9]  # fmt: skip
    # The planner replays the whole greedy episode when that scores higher (its fallback):
    # then its return is greedy's exactly (the env is deterministic given the actions).
    out["planner_fallback_seeds"] = [int(r["seed"]) for r, g in
                                     zip(by["planner"], by["greedy"], strict=True)
                                     if r["return"] == g["return"]]  # fmt: skip
    out["planner_minus_greedy_min"] = float(np.min(ret["planner"] - ret["greedy"]))
    out["ordered"] = all(out["paired"][k]["ci_low"] > 0 for k in ("greedy-random",
                                                                  "planner-greedy"))  # fmt: skip
    out["usage"] = {p: {m: finite_mean([r.get(m, math.nan) for r in by[p]]) for m in
                        (*USAGE, *BLOCKING, "map_quality_mean")} for p in policies}  # fmt: skip
    out["binding_under_planner"] = [m for m in USAGE if out["usage"]["planner"][m] >= BINDING]
    return out


def decisions_per_pass(scenario: str, seed: int = 0) -> dict:
    """Passes and the median number of decisions with ≥ 2 feasible image candidates per
    pass, in ``scenario``'s greedy episode of ``seed`` (the module docstring)."""
    from sagsim.agents.baselines import GreedyPolicy
    from sagsim.envs.sag_env import SagEnv

    env = SagEnv(scenario)
    obs, _ = env.reset(seed=seed)
    w, policy = env.world, GreedyPolicy()
    running: dict[int, int] = {}
    passes: list[int] = []
    while env.agents:
        access = w.access.satellites(w.k)[1] & w.tasks.active(w.t_s)[None, :]
        choice = w.options().candidates.mask[: w.n_sat, : w.top_k].sum(axis=1) >= 2
        for s in range(w.n_sat):
            if access[s].any():
                running[s] = running.get(s, 0) + int(choice[s])
            elif s in running:
                passes.append(running.pop(s))
        obs, *_ = env.step(policy.act(obs))
        obs = {a: obs[a] for a in env.agents}
    passes += list(running.values())
    arr = np.array(passes, float)
    return {"passes": int(arr.size), "median": float(np.median(arr)) if arr.size else 0.0,
            "mean": float(arr.mean()) if arr.size else 0.0}  # fmt: skip


def main(argv=None) -> int:
    from sagsim.cli import ArgumentParser, ranged

    ap = ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="4 seeds, 2 Spearman seeds")
    ap.add_argument("--seeds", type=ranged(int, 2, 1000), default=None,
                    help="paired seeds per scenario (default 30)")  # fmt: skip
    ap.add_argument("--spearman-seeds", type=ranged(int, 1, 1000), default=None,
                    dest="spearman_seeds", help="seeds per policy for ρ (default 6)")  # fmt: skip
    ap.add_argument("--jobs", type=ranged(int, 1, 256), default=1, help="processes")
    ap.add_argument("--scenarios", nargs="+", choices=SCENARIOS, default=list(SCENARIOS))
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/headroom_bench.json")
    ap.add_argument("--resume", action="store_true",
                    help="rerun only the episodes missing from the episode log")  # fmt: skip
    ap.add_argument("--fresh", action="store_true",
                    help="discard the episode log's episodes and start again")  # fmt: skip
    args = ap.parse_args(argv)
    if args.resume and args.fresh:
        ap.error("--resume and --fresh exclude each other")
    n_seeds = args.seeds or (4 if args.quick else 30)
    n_rho = args.spearman_seeds or (2 if args.quick else 6)

    jobs = [(sc, p, None, seed, None) for sc in args.scenarios for seed in range(n_seeds)
            for p in POLICIES]  # fmt: skip
    rho_jobs = ([(SPEARMAN_SCENARIO, p, "kalman", seed, None) for seed in range(n_rho)
                 for p in POLICIES] if SPEARMAN_SCENARIO in args.scenarios else [])  # fmt: skip
    print(f"{len(jobs)} episodes, {len(rho_jobs)} imagery episodes, {args.jobs} processes",
          flush=True)  # fmt: skip
    log_path = args.out.with_suffix(".episodes.jsonl")
    try:
        with run_lock.hold(args.out, "headroom_bench.py", sibling=True):
            if log_path.exists() and not (args.resume or args.fresh):
                n = len(read_episode_log(log_path, code_fingerprint()))
                if n:
                    raise EpisodeLogError(f"{log_path}: {n} episodes logged by an interrupted "
                                          "run; pass --resume to keep them or --fresh to "
                                          "discard them")  # fmt: skip
            records = run_episodes(jobs + rho_jobs, args.jobs, log_path, args.resume)
    except (EpisodeLogError, run_lock.RunLockError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    rho_records, records = records[len(jobs) :], records[: len(jobs)]

    result = {"date_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
              "targets": TARGETS, "binding_share": BINDING, "scenarios": {}}  # fmt: skip
    for sc in args.scenarios:
        stats = separation([r for r in records if r["scenario"] == sc])
        if sc in PASS_SCENARIOS:
            stats["decisions_per_pass"] = decisions_per_pass(sc)
        result["scenarios"][sc] = stats
        _print_scenario(sc, stats)
    if rho_records:
        agreement = map_agreement(rho_records)
        result["spearman"] = {"scenario": SPEARMAN_SCENARIO, "fuser": "kalman", **agreement,
                              "episodes": [{k: r[k] for k in ("policy", "seed", "return",
                                                              "task_psnr_mean_db")}
                                           for r in rho_records]}  # fmt: skip
        print(f"\nSpearman ρ(return, task-weighted time-mean PSNR), {SPEARMAN_SCENARIO} imagery"
              f" kalman, {len(rho_records)} episodes: {agreement['rho']:.3f} "
              f"(target ≥ {TARGETS['spearman_min']})")  # fmt: skip
        for name, c in agreement["paired_psnr_db"].items():
            ret = agreement["paired_return"][name]
            print(f"  {name:15s} PSNR {c['mean']:+6.2f} dB [{c['ci_low']:+.2f}, "
                  f"{c['ci_high']:+.2f}]  return {ret['mean']:+8.1f} "
                  f"[{ret['ci_low']:+.1f}, {ret['ci_high']:+.1f}]")  # fmt: skip
    result["records"] = records
    write_json_atomic(args.out, result)
    log_path.unlink()  # every episode is in the JSON now; the log is for interrupted runs
    print(f"wrote {args.out}")
    return 0


def map_agreement(records: list[dict], policies=POLICIES) -> dict:
    """Whether a higher return is a better map, on the imagery episodes ``records``
    (policy, seed, return, task_psnr_mean_db): Spearman's ρ over all of them, and per pair
    of policies the paired difference (seed by seed, bootstrap interval) in PSNR (dB) and
    in return. A pooled ρ can be carried by the weakest policy alone; the paired PSNR
    differences say whether each step up in return (greedy over random, the planner over
    greedy) is a step up in the map too."""
    from scipy.stats import spearmanr

    from sagsim.agents.stats import paired_difference

    ret = [r["return"] for r in records]
    psnr = [r["task_psnr_mean_db"] for r in records]
    by = {p: sorted((r for r in records if r["policy"] == p), key=lambda r: r["seed"])
          for p in policies}  # fmt: skip
    out = {"rho": float(spearmanr(ret, psnr).statistic), "paired_psnr_db": {},
           "paired_return": {}}  # fmt: skip
    for a, b in (("greedy", "random"), ("planner", "greedy")):
        if not by[a] or [r["seed"] for r in by[a]] != [r["seed"] for r in by[b]]:
            continue
        for key, field in (("paired_psnr_db", "task_psnr_mean_db"), ("paired_return", "return")):
            out[key][f"{a}-{b}"] = paired_difference([r[field] for r in by[a]],
                                                     [r[field] for r in by[b]])  # fmt: skip
    return out


def _print_scenario(name: str, s: dict) -> None:
    print(f"\n{name}: {s['n_seeds']} paired seeds")
    for p, c in s["return"].items():
        print(f"  {p:8s} return {c['mean']:10.1f}  [{c['ci_low']:.1f}, {c['ci_high']:.1f}]")
    for k, c in s["paired"].items():
        print(f"  {k:15s} {c['mean']:+9.1f}  [{c['ci_low']:+.1f}, {c['ci_high']:+.1f}]")
    print(f"  random SD {s['random_sd']:.1f}; planner − random = "
          f"{s['planner_minus_random_in_sd']:.2f} SD (target ≥ {TARGETS['sd_multiple_min']}); "
          f"ordered: {s['ordered']}; planner below greedy on seeds "
          f"{s['planner_below_greedy_seeds'] or 'none'}; greedy fallback replayed on seeds "
          f"{s['planner_fallback_seeds'] or 'none'} (smallest planner − greedy "
          f"{s['planner_minus_greedy_min']:+.2f})")  # fmt: skip
    columns = (*USAGE, *BLOCKING, "map_quality_mean")
    print("  usage (mean share)   " + "  ".join(f"{m:>17s}" for m in columns))
    for p, u in s["usage"].items():
        print(f"  {p:20s} " + "  ".join(f"{u[m]:17.2f}" for m in columns))
    print(f"  binding (≥ {BINDING:.0%}) under the planner: {s['binding_under_planner'] or 'none'}")
    if "decisions_per_pass" in s:
        d = s["decisions_per_pass"]
        print(f"  decisions with ≥ 2 feasible candidates per pass: median {d['median']:.1f} "
              f"over {d['passes']} passes (target ≥ "
              f"{TARGETS['decisions_per_pass_median_min']})")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
