"""Benchmark: ECEF propagation overhead and contact-window speed/accuracy vs skyfield.

Usage: ``python benchmarks/orbits_bench.py [--quick] [--out PATH]``. Prints a table and writes
JSON (default ``benchmarks/results/orbits_bench.json``, written atomically).

(a) ``Constellation.positions_ecef_m`` for 1,000 Walker satellites × 1,440 times vs the bare
    ``SatrecArray.sgp4(jd, fr)`` call on the same inputs (best of N).
(b) ``contact_windows_many`` for 100 satellites × 5 stations × 1 day vs skyfield
    ``EarthSatellite.find_events`` on every (satellite, station) pair (``--quick``: a subset
    of pairs, time extrapolated); largest |rise/set difference| over matched complete passes.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sgp4
import skyfield

from sagsim.atomic import write_json_atomic
from sagsim.envs.physics.contacts import contact_windows_many
from sagsim.envs.physics.orbits import Constellation
from sagsim.envs.physics.skyfield_reference import complete_passes
from sagsim.envs.physics.timebase import TimeGrid

EPOCH = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
STATIONS = np.array(  # lat_deg, lon_deg, alt_m
    [
        [78.23, 15.39, 500.0],  # Svalbard
        [-77.85, 166.67, 10.0],  # McMurdo
        [0.0, -78.5, 2800.0],  # equator (Quito-ish)
        [-17.7, 179.9, 0.0],  # near the antimeridian
        [48.1, 11.6, 520.0],  # mid-latitude
    ]
)
MASK_DEG = 10.0
TARGETS = {"propagation_overhead_ratio_max": 1.5, "contact_speedup_min": 100.0,
           "contact_max_abs_diff_s_max": 1.0, "contact_pass_count_mismatches_max": 0}  # fmt: skip


def best_of(fn, n):
    best = np.inf
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def bench_propagation(n_rep: int) -> dict:
    con = Constellation.walker_delta(
        total=1000, planes=20, phasing=1, altitude_m=550e3, inclination_deg=53.0, epoch_utc=EPOCH
    )
    grid = TimeGrid.from_offsets(EPOCH, np.arange(1440) * 60.0)
    bare = best_of(lambda: con._array.sgp4(grid.jd_whole, grid.jd_utc_fraction), n_rep)
    ours = best_of(lambda: con.positions_ecef_m(grid), n_rep)
    return {"n_sat": 1000, "n_t": 1440, "repeats": n_rep, "bare_sgp4_s": bare,
            "positions_ecef_m_s": ours, "ratio": ours / bare}  # fmt: skip


def skyfield_passes(con, pairs):
    """Complete passes from skyfield find_events per (station, sat) pair, seconds since EPOCH."""
    from skyfield.api import EarthSatellite, load, wgs84

    ts = load.timescale(builtin=True)
    t0, t1 = ts.from_datetime(EPOCH), ts.from_datetime(EPOCH + dt.timedelta(days=1))
    sats = {i: EarthSatellite.from_satrec(con.satrecs[i], ts) for _, i in pairs}
    out = {}
    start = time.perf_counter()
    for k, i in pairs:
        topos = wgs84.latlon(STATIONS[k, 0], STATIONS[k, 1], elevation_m=STATIONS[k, 2])
        t, ev = sats[i].find_events(topos, t0, t1, altitude_degrees=MASK_DEG)
        sec = (t.tt - t0.tt) * 86400.0
        out[(k, i)] = complete_passes(sec, ev)
    return out, time.perf_counter() - start


def bench_contacts(quick: bool, n_rep: int) -> dict:
    con = Constellation.walker_delta(
        total=100, planes=10, phasing=3, altitude_m=550e3, inclination_deg=70.0, epoch_utc=EPOCH
    )
    end = EPOCH + dt.timedelta(days=1)
    run = lambda: contact_windows_many(  # noqa: E731
        con, STATIONS[:, 0], STATIONS[:, 1], STATIONS[:, 2], EPOCH, end, MASK_DEG
    )
    table = run()  # warm-up (pyproj transformer, skyfield timescale)
    ours_s = best_of(run, n_rep)
    all_pairs = [(k, i) for k in range(len(STATIONS)) for i in range(con.n_sat)]
    pairs = all_pairs[::10] if quick else all_pairs
    ref, sky_s = skyfield_passes(con, pairs)
    sky_total_s = sky_s * len(all_pairs) / len(pairs)
    mismatches, max_diff = 0, 0.0
    for (k, i), sky in ref.items():
        sel = (table.station_idx == k) & (table.sat_idx == i) & table.complete
        mine = np.column_stack([table.rise_t_s[sel], table.set_t_s[sel]])
        if mine.shape != sky.shape:
            mismatches += 1
        elif sky.size:
            max_diff = max(max_diff, float(np.abs(mine - sky).max()))
    return {"n_sat": con.n_sat, "n_stations": len(STATIONS), "duration_s": 86400.0,
            "mask_deg": MASK_DEG, "n_passes": int(table.rise_t_s.size),
            "ours_s": ours_s, "skyfield_pairs_timed": len(pairs),
            "skyfield_pairs_total": len(all_pairs), "skyfield_timed_s": sky_s,
            "skyfield_s": sky_total_s, "skyfield_extrapolated": len(pairs) < len(all_pairs),
            "speedup": sky_total_s / ours_s, "max_abs_diff_s": max_diff,
            "pass_count_mismatches": mismatches}  # fmt: skip


def main(argv=None) -> int:
    from sagsim.cli import ArgumentParser  # one-line errors, no abbreviated flags

    ap = ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats, skyfield on 1/10 pairs")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results/orbits_bench.json")
    args = ap.parse_args(argv)
    n_rep = 3 if args.quick else 5
    prop = bench_propagation(n_rep)
    cont = bench_contacts(args.quick, n_rep)
    passed = {
        "propagation_overhead": prop["ratio"] <= TARGETS["propagation_overhead_ratio_max"],
        "contact_speedup": cont["speedup"] >= TARGETS["contact_speedup_min"],
        "contact_accuracy": cont["max_abs_diff_s"] <= TARGETS["contact_max_abs_diff_s_max"],
        "contact_pass_counts": cont["pass_count_mismatches"]
        <= TARGETS["contact_pass_count_mismatches_max"],
    }
    result = {
        "benchmark": "orbits_bench",
        "timestamp_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "propagation": prop,
        "contacts": cont,
        "targets": TARGETS,
        "passed": passed,
        "all_passed": all(passed.values()),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "numpy": np.__version__,
            "sgp4": sgp4.__version__,
            "skyfield": skyfield.__version__,
        },
    }
    rows = [
        ("(a) bare SatrecArray.sgp4, 1000 sat × 1440 t", f"{prop['bare_sgp4_s']:.3f} s", ""),
        ("(a) positions_ecef_m, same inputs", f"{prop['positions_ecef_m_s']:.3f} s", ""),
        ("(a) overhead ratio", f"{prop['ratio']:.3f}", "≤ 1.5"),
        ("(b) contact_windows_many, 100 sat × 5 st × 1 d", f"{cont['ours_s'] * 1e3:.1f} ms", ""),
        (
            "(b) skyfield find_events"
            + (" (extrapolated)" if cont["skyfield_extrapolated"] else ""),
            f"{cont['skyfield_s']:.2f} s",
            "",
        ),
        ("(b) speed-up", f"{cont['speedup']:.0f}×", "≥ 100×"),
        ("(b) max |rise/set diff|", f"{cont['max_abs_diff_s']:.3f} s", "≤ 1 s"),
        ("(b) pass-count mismatches", f"{cont['pass_count_mismatches']}", "0"),
    ]
    for name, val, tgt in rows:
        print(f"{name:<52} {val:>12}  {tgt}")
    missed = [name for name, ok in passed.items() if not ok]
    print("all targets met" if not missed else f"targets missed: {', '.join(missed)}")
    write_json_atomic(args.out, result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
