"""The inspector's mission section: a scenario's tasks (listed and drawn targets, events),
its cloud, fusion and reward parameters and its RL interface settings; and the imaging
access the environment will offer the agents.

:func:`mission_summary` returns the JSON-ready dict that
:func:`sagsim.envs.views.inspector.inspect_scenario` puts under ``"mission"``;
:func:`format_mission` renders it as report lines. :func:`imaging_access` (``"imaging"``) and
:func:`format_imaging` do the same for the imaging opportunities, counted on the world's own access
tables.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from sagsim.envs.actions import N_EXTRA
from sagsim.envs.physics.region_grid import RegionGrid
from sagsim.envs.scenario.checks import episode_steps, in_region
from sagsim.envs.scenario.schema import Scenario
from sagsim.envs.tasks import TaskSet
from sagsim.envs.world.feasibility import in_view_when_taken

__all__ = ["WORST_TASKS_SHOWN", "format_imaging", "format_mission", "imaging_access",
           "mission_summary"]  # fmt: skip

# Worst-served tasks named per kind in the imaging-access section.
WORST_TASKS_SHOWN = 5


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def mission_summary(scenario: Scenario, grid: RegionGrid, n_agents: int) -> dict:
    """Tasks, events, clouds, fusion, reward and env settings, as plain JSON-ready values.

    The task set is built as the world builds it (drawn targets use the scenario seed), so
    the counts and the total priority are those an episode will see.
    """
    tasks = TaskSet.from_scenario(scenario, grid)
    is_event = tasks.kind > 0
    inside = in_region(grid, tasks.lon_deg, tasks.lat_deg)
    drawn = scenario.targets.random
    env = scenario.env
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
            "episode_steps": episode_steps(scenario),
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
        f"  reward: {r['information_weight']:g} per priority-hour of map quality, energy "
        f"{r['energy_cost_per_wh']:g}/Wh, infeasible action {r['infeasible_action_cost']:g}",
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


# ---------------------------------------------------------------------------
# Imaging access: what the environment will offer the agents


def imaging_access(scenario: Scenario, world) -> dict:
    """Imaging opportunities the environment will offer, counted on the world's own
    per-step access (:class:`sagsim.envs.world.task_access.TaskAccess`, the static part of the
    action mask: the task is active, above the satellite's horizon and within its
    ``max_off_nadir_deg``, and for an optical sensor the sun at the task is at least its
    ``min_sun_elevation_deg``) over the episode's decision steps (``world.n_steps``), for a
    satellite looking at nadir: the task must also be in view in the step its retarget ends
    (:func:`sagsim.envs.world.feasibility.in_view_when_taken`).

    An *opportunity* of a task is a decision step in which at least one platform of the
    kind can image it; a *pass* is a run of consecutive such steps. Per satellite sensor
    kind (and ``all`` satellites when there are several kinds) and for the drones:
    platforms, mean opportunities and passes per task per day, tasks never offered, the
    steps with any access (count and fraction) and the worst-served tasks (fewest
    opportunities, :data:`WORST_TASKS_SHOWN`); ``tasks`` lists every task's opportunities
    per kind. Drones count from a full battery at their base (the mask's reach rule: out,
    back and the reserve fit the charge; a drone that has flown has less). Not counted:
    clouds (they spoil optical pixels but do not mask an action), battery, storage,
    failures and the top-K cut of the candidate list. ``group_steps`` ``[n_groups]``:
    steps in which each satellite group can image some task.
    """
    tasks, n_steps = world.tasks, world.n_steps
    sat_kind = np.array([scenario.satellites[g].sensor.kind for g in world.sat_group_index])
    rows = {kind: np.flatnonzero(sat_kind == kind) for kind in dict.fromkeys(sat_kind.tolist())}
    if len(rows) > 1:
        rows["all"] = np.arange(world.n_sat)
    kinds = [*rows, *(["drones"] if world.n_uav else [])]
    if world.n_uav:
        fleet = world.drones
        # From a full battery at the base: out, back and the reserve must fit (candidates).
        reach = (
            2.0 * world.uav_task_home_m * fleet.return_wh_per_m[:, None]
            <= (fleet.battery_capacity_wh[:, None])
        )
    steps = {k: np.zeros(tasks.n, np.int64) for k in kinds}
    passes = {k: np.zeros(tasks.n, np.int64) for k in kinds}
    previous = {k: np.zeros(tasks.n, bool) for k in kinds}
    any_steps = dict.fromkeys(kinds, 0)
    n_groups = len(scenario.satellites)
    group_steps = np.zeros(n_groups, np.int64)
    for k in range(n_steps):
        now = {}
        if world.n_sat:
            # The mask's rule for an idle satellite (looking at nadir): the task in view now
            # and in the step its image would be taken.
            ok = in_view_when_taken(world, world.access.satellites(k)[1], k)[0]
            now = {kind: ok[r].any(axis=0) for kind, r in rows.items()}
            by_sat = ok.any(axis=1)
            group_steps += np.bincount(world.sat_group_index[by_sat], minlength=n_groups) > 0
        if world.n_uav:
            now["drones"] = (reach & world.access.drones(k)).any(axis=0)
        for kind, acc in now.items():
            steps[kind] += acc
            passes[kind] += acc & ~previous[kind]
            previous[kind] = acc
            any_steps[kind] += bool(acc.any())
    days = n_steps * scenario.step_s / 86_400.0
    counts = {kind: len(r) for kind, r in rows.items()} | {"drones": world.n_uav}
    out: dict = {"steps": n_steps, "step_s": scenario.step_s, "kinds": {}}
    for kind in kinds:
        worst = np.argsort(steps[kind], kind="stable")[:WORST_TASKS_SHOWN]
        out["kinds"][kind] = {
            "platforms": counts[kind],
            "opportunities_per_task_per_day": round(float(steps[kind].mean()) / days, 2),
            "passes_per_task_per_day": round(float(passes[kind].mean()) / days, 2),
            "tasks_never": int(np.count_nonzero(steps[kind] == 0)),
            "steps_with_access": any_steps[kind],
            "steps_with_access_fraction": round(any_steps[kind] / max(n_steps, 1), 4),
            "worst_tasks": [
                {"name": tasks.names[j], "opportunities": int(steps[kind][j])} for j in worst
            ],
        }
    out["tasks"] = [{"name": name, **{kind: int(steps[kind][j]) for kind in kinds}}
                    for j, name in enumerate(tasks.names)]  # fmt: skip
    out["group_steps"] = group_steps.tolist()
    return out


def format_imaging(a: dict) -> list[str]:
    """Report lines for :func:`imaging_access`'s dict."""
    lines = [
        f"Imaging access offered to the agents (the env's access masks over "
        f"{a['steps']:,} steps of {a['step_s']:g} s: horizon, off-nadir limit, task active, "
        "sun where the sensor needs daylight, still in view when a retarget from nadir ends; "
        "clouds, battery and storage not counted):"
    ]
    n_tasks = len(a["tasks"])
    for kind, v in a["kinds"].items():
        noun = "drones" if kind == "drones" else "satellites"
        worst = ", ".join(f"{t['name']} {t['opportunities']}" for t in v["worst_tasks"])
        lines += [
            f"  {kind:<8} {v['platforms']:>4} {noun:<10} "
            f"{v['opportunities_per_task_per_day']:8.2f} steps/task/day in "
            f"{v['passes_per_task_per_day']:.2f} {'windows' if kind == 'drones' else 'passes'}; "
            "any access in "
            f"{v['steps_with_access']:,} steps ({v['steps_with_access_fraction']:.1%}); "
            f"{v['tasks_never']} of {n_tasks} tasks never",
            f"{'':25}fewest steps: {worst}",
        ]
    if "drones" in a["kinds"]:
        lines.append("  (drones: from a full battery at the base; a drone that has flown reaches "
                     "less)")  # fmt: skip
    if not a["kinds"]:
        lines.append("  (no satellites or drones)")
    return lines
