"""The inspector's mission section: a scenario's tasks (listed and drawn targets, events),
its cloud, fusion and reward parameters and its RL interface settings.

:func:`mission_summary` returns the JSON-ready dict that :func:`envs.inspector.inspect_scenario`
puts under ``"mission"``; :func:`format_mission` renders it as report lines.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from envs.candidates import N_EXTRA
from envs.region_grid import RegionGrid
from envs.schema import Scenario
from envs.tasks import TaskSet

__all__ = ["format_mission", "mission_summary"]


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def mission_summary(scenario: Scenario, grid: RegionGrid, n_agents: int) -> dict:
    """Tasks, events, clouds, fusion, reward and env settings, as plain JSON-ready values.

    The task set is built as the world builds it (drawn targets use the scenario seed), so
    the counts and the total priority are those an episode will see.
    """
    tasks = TaskSet.from_scenario(scenario, grid)
    is_event = tasks.kind > 0
    row, col = grid.cell_index_lonlat(tasks.lon_deg, tasks.lat_deg)
    inside = row >= 0
    inside[inside] = grid.mask[row[inside], col[inside]]
    drawn = scenario.targets.random
    env = scenario.env
    episode_steps = (
        scenario.n_steps if env.max_cycles is None else min(env.max_cycles, scenario.n_steps)
    )
    return {
        "tasks": {
            "total": tasks.n,
            "listed": len(scenario.targets.points),
            "drawn": drawn.count,
            "events": int(np.count_nonzero(is_event)),
            "drawn_distribution": drawn.distribution,
            "drawn_clusters": drawn.clusters if drawn.distribution == "clustered" else None,
            "drawn_cluster_spread_km": (
                drawn.cluster_spread_m / 1e3 if drawn.distribution == "clustered" else None
            ),
            "total_priority": round(float(tasks.priority.sum()), 3),
            "target_priority": round(float(tasks.priority[~is_event].sum()), 3),
            "event_priority": round(float(tasks.priority[is_event].sum()), 3),
            # Centres outside the region are pinned to the nearest edge cell by the world.
            "outside_region": [tasks.names[i] for i in np.flatnonzero(~inside)],
        },
        "events": [_event(scenario, e, name) for e, name in _event_names(scenario, tasks)],
        "clouds": scenario.clouds.model_dump(),
        "fusion": {
            **scenario.fusion.model_dump(),
            "variance_added_per_day": scenario.fusion.process_noise_per_s * 86_400.0,
        },
        "reward": scenario.reward.model_dump(),
        "faults": {
            "events": [f.model_dump(exclude_defaults=True) for f in scenario.faults.events],
            "random": scenario.faults.random.model_dump(),
        },
        "env": {
            "top_k": env.top_k,
            "actions_per_agent": env.top_k + N_EXTRA,
            "agents": n_agents,
            "max_cycles": env.max_cycles,
            "episode_steps": episode_steps,
        },
    }


def _event_names(scenario: Scenario, tasks: TaskSet):
    """Each event with its task name (events come last in the task set, in order)."""
    first = tasks.n - len(scenario.events)
    return [(e, tasks.names[first + i]) for i, e in enumerate(scenario.events)]


def _event(scenario: Scenario, e, name: str) -> dict:
    span_m = e.max_radius_m - e.initial_radius_m
    if span_m == 0.0:
        full_s: float | None = e.start_s
    elif e.growth_mps > 0.0:
        full_s = round(e.start_s + span_m / e.growth_mps, 1)
    else:
        full_s = None  # never grows
    return {
        "name": name,
        "kind": e.kind,
        "start_s": e.start_s,
        "start_utc": _iso(scenario.epoch_utc + dt.timedelta(seconds=e.start_s)),
        "lat_lon_deg": [e.lat_deg, e.lon_deg],
        "initial_radius_km": e.initial_radius_m / 1e3,
        "growth_mps": e.growth_mps,
        "max_radius_km": e.max_radius_m / 1e3,
        # When the disc reaches its largest radius (s since epoch; may lie past the end).
        "max_radius_at_s": full_s,
        "max_area_km2": round(np.pi * e.max_radius_m**2 / 1e6, 2),
        "priority": e.priority,
    }


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def format_mission(m: dict, duration_s: float) -> list[str]:
    """Report lines for :func:`mission_summary`'s dict."""
    t = m["tasks"]
    drawn = f"{t['drawn']} drawn {t['drawn_distribution']}"
    if t["drawn_clusters"] is not None:
        drawn += f" in {t['drawn_clusters']} clusters of {t['drawn_cluster_spread_km']:g} km"
    lines = [
        f"Mission: {t['total']} tasks ({t['listed']} listed, {drawn}, {_n(t['events'], 'event')}); "
        f"total priority {t['total_priority']:,.1f} (targets {t['target_priority']:,.1f}, "
        f"events {t['event_priority']:,.1f})"
    ]
    if t["outside_region"]:
        names = ", ".join(t["outside_region"][:5])
        more = f" and {len(t['outside_region']) - 5} more" if len(t["outside_region"]) > 5 else ""
        lines.append(f"  outside the region (pinned to its edge): {names}{more}")
    for e in m["events"]:
        reach = e["max_radius_at_s"]
        when = "not reached" if reach is None or reach > duration_s else f"at {reach / 3600:.1f} h"
        lines.append(
            f"  {e['kind']:<10} {e['name']:<22} from {e['start_s'] / 3600:5.1f} h  "
            f"r {e['initial_radius_km']:g} → {e['max_radius_km']:g} km at "
            f"{e['growth_mps']:g} m/s (max {when})  priority {e['priority']:g}"
        )
    c, f, r, env = m["clouds"], m["fusion"], m["reward"], m["env"]
    cycles = "duration" if env["max_cycles"] is None else f"max_cycles {env['max_cycles']}"
    lines += [
        f"  clouds: cover {c['cover_fraction']:g}, correlation {c['correlation_length_m'] / 1e3:g}"
        f" km, decorrelation {c['decorrelation_time_s'] / 3600:g} h",
        f"  fusion: prior variance {f['prior_variance']:g}, process noise "
        f"{f['process_noise_per_s']:g}/s ({f['variance_added_per_day']:.3g} a day)",
        f"  reward: information × {r['information_weight']:g}, latency half-life "
        f"{r['latency_half_life_s'] / 3600:g} h, energy {r['energy_cost_per_wh']:g}/Wh, "
        f"infeasible action {r['infeasible_action_cost']:g}",
        f"  env: top_k {env['top_k']} ({env['actions_per_agent']} actions), "
        f"{env['agents']} agents, {env['episode_steps']} steps per episode ({cycles})",
    ]
    return lines + _format_faults(m["faults"])


def _format_faults(faults: dict) -> list[str]:
    """One line per scheduled fault and one for the rates (none when there are no faults)."""
    rates = {k: v for k, v in faults["random"].items()
             if k.endswith("mtbf_s") and v is not None}  # fmt: skip
    if not faults["events"] and not rates:
        return []
    lines = [f"  faults: {_n(len(faults['events']), 'scheduled fault')}"]
    for f in faults["events"][:10]:
        who = f.get("agent") or ", ".join(f.get("agents", [])) or "all"
        span = f" for {f['duration_s'] / 3600:g} h" if f.get("duration_s") else ""
        lines.append(f"    {f['kind']:<18} {who:<16} at {f['t_s'] / 3600:6.2f} h{span}")
    if len(faults["events"]) > 10:
        lines.append(f"    … {len(faults['events']) - 10} more (--json lists all)")
    if rates:
        text = ", ".join(f"{k.removesuffix('_mtbf_s')} every {v / 3600:,.1f} h"
                         for k, v in rates.items())  # fmt: skip
        lines.append(f"    random (mean time between failures): {text}; station repairs "
                     f"{faults['random']['station_mttr_s'] / 3600:g} h, redraw per "
                     f"{faults['random']['redraw']}")  # fmt: skip
    return lines
