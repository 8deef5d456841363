"""A rolling-horizon planner with full knowledge of the episode: the reference a learned team
is measured against on every scenario (the ``planner`` of ``evaluate.py --policy``).

It plans the whole episode when it is bound (:meth:`PlannerPolicy.bind`), on a copy of the
environment, and replays the actions it recorded; the environment is deterministic given
its seed and the actions, so the replay is the planned episode exactly.

The plan, window by window. Wherever a satellite can image in the next
``horizon_steps`` (the passes), a window starts:

1. **Future clouds.** The cloud field depends only on the episode's generator, not on the
   actions: a copy of it is stepped over the horizon.
2. **A CP-SAT proposal** (:func:`propose`) of the satellites' images over the horizon:
   for each satellite and step, its ``OPTIONS_PER_STEP`` most valuable accessible tasks;
   an image's value is the environment's own (:func:`sagsim.envs.reward.footprint_value`:
   :func:`~sagsim.envs.reward.sample_weights` × :func:`~sagsim.envs.reward.expected_reduction`
   over its scene, on the map as if every image on board were delivered, the cells under
   the real future cloud removed for a sensor clouds block) × the hours from its arrival
   (the satellite's next station contact) to the episode's end, because the return is the
   time integral of map quality. A task sample counts once however many images cover it
   (the first view removes nearly all of the variance); two images of one satellite must be
   a retarget apart (scan, slew between the two looks at ``slew_rate_deg_s``, settle).
3. **The proposal, simulated against its alternative.** Two copies of the environment
   run ``commit_steps``: one executes the proposal (each satellite issues its next
   planned image when issuing it now takes it no earlier than planned), the other runs
   without it (greedy satellites); in both, every other agent acts as outside windows.
   Each is scored by its reward over those steps plus what its state is worth after them
   (map quality and the value still on board, × the hours left). The better copy becomes
   the plan's state, and its actions are recorded.

Outside windows the satellites and stations act as
:class:`sagsim.agents.baselines.GreedyPolicy`, and the drones are sent to distinct tasks
(:func:`drone_actions`: an assignment by net gain per step of flight, and prompt delivery).
Finally the whole planned episode is compared with a whole greedy episode, and the better
action sequence is kept (``used_greedy`` says when greedy's was; the benchmarks report how
often), so the planner never scores below greedy on a seed.

Simplified (each stated where it is modelled): the value map is the one at the window's
start (the images of the window are valued against it, with overlaps counted once); a
sample's weight is its disc's at the window's start; the retarget between two images uses
the looks at the later image's step; drones are assigned step by step, not planned over
the horizon; the proposal ignores storage and imaging seconds per orbit (a planned image
that the mask does not offer when due is given up; a satellite waiting for its next
planned image downlinks, which makes room).
"""

from __future__ import annotations

import copy
import math
import time

import numpy as np
from ortools.sat.python import cp_model
from scipy.optimize import linear_sum_assignment

from sagsim.agents.baselines import GreedyPolicy, Policy
from sagsim.envs.actions import DOWNLINK, IDLE
from sagsim.envs.physics.sensor_geometry import angle_between_deg, gsd_m, look_direction
from sagsim.envs.reward import (
    SECONDS_PER_HOUR,
    expected_reduction,
    map_quality,
    sample_weights,
)
from sagsim.envs.world.feasibility import RETARGET_MIN_DEG, level_values, task_variance_ratio
from sagsim.fusion.kalman import observation_variance

__all__ = [
    "PlannerPolicy",
    "drone_actions",
    "future_clear",
    "propose",
    "retarget_steps",
    "state_value",
]

HORIZON_STEPS = 30  # steps a proposal looks ahead (5 min at 10 s: a pass)
COMMIT_STEPS = 15  # steps of a window that are kept before re-planning
OPTIONS_PER_STEP = 6  # a satellite's most valuable tasks per step offered to the solver
LATE_STEPS = 2  # a planned image issued this many steps after its time is dropped
VALUE_SCALE = 10_000  # integer objective units per priority-hour
IMAGE_COST = 1  # objective units per image: breaks ties towards fewer images
DETERMINISTIC_TIME = 2.0  # CP-SAT work units per proposal (reproducible; ≈ s on one core)
# A drone skips images worth at most this share of the top priority (a fully unseen task of
# the top priority is 1). Below the greedy baseline's GAIN_FLOOR (0.05), with which the
# planner kept its drones grounded most of a flood_wuhan day, and above 0, with which it
# spent their batteries on images worth almost nothing (drone_actions has the runs).
DRONE_GAIN_FLOOR = 0.01


class PlannerPolicy(Policy):
    """Replays a rolling-horizon plan of the bound episode (module docstring). After
    ``bind``: ``planned_return`` (the replay's return), ``greedy_return``, ``used_greedy``
    (the whole greedy episode scored higher and is replayed), ``windows`` (planning
    windows), ``proposals_kept`` (windows whose CP-SAT proposal beat greedy), ``plan_s``
    (wall time of the planning, s)."""

    name = "planner"

    def __init__(self, horizon_steps: int = HORIZON_STEPS, commit_steps: int = COMMIT_STEPS,
                 deterministic_time: float = DETERMINISTIC_TIME,
                 drone_gain_floor: float = DRONE_GAIN_FLOOR):  # fmt: skip
        if not 1 <= commit_steps <= horizon_steps:
            raise ValueError(f"need 1 <= commit_steps <= horizon_steps, got {commit_steps}, "
                             f"{horizon_steps}")  # fmt: skip
        if not 0.0 <= drone_gain_floor < 1.0:
            raise ValueError(f"need 0 <= drone_gain_floor < 1, got {drone_gain_floor}")
        self.horizon_steps, self.commit_steps = horizon_steps, commit_steps
        self.drone_gain_floor = drone_gain_floor
        self.deterministic_time = deterministic_time
        self._greedy = GreedyPolicy()
        self.env, self.actions = None, None
        self.planned_return = self.greedy_return = math.nan
        self.used_greedy, self.windows, self.proposals_kept, self.plan_s = False, 0, 0, 0.0

    def reset(self, seed: int | None = None) -> None:
        self.actions = None

    def bind(self, env) -> None:
        """Plan the episode ``env`` was just reset to (the module docstring)."""
        if env.world.k != 0:
            raise ValueError("PlannerPolicy.bind: bind right after env.reset()")
        start = time.perf_counter()
        self.env, self.windows, self.proposals_kept = env, 0, 0
        planned, planned_return = self._plan(copy.deepcopy(env))
        greedy, greedy_return = _run_greedy(copy.deepcopy(env), self._greedy)
        self.used_greedy = greedy_return > planned_return
        self.actions = greedy if self.used_greedy else planned
        self.planned_return = max(planned_return, greedy_return)
        self.greedy_return = greedy_return
        self.plan_s = time.perf_counter() - start

    def act(self, observations: dict, infos: dict | None = None) -> dict:
        if self.env is None or self.actions is None:
            raise RuntimeError("PlannerPolicy: call bind(env) after env.reset() (run_episode does)")
        recorded = self.actions[self.env.world.k]
        return {a: recorded[a] for a in observations}

    # -- planning ------------------------------------------------------------------------

    def _plan(self, sim) -> tuple[list[dict], float]:
        """Plan ``sim`` (a copy of the bound env at step 0) to its end: the recorded
        actions per step and their return."""
        w = sim.world
        access_any = np.array([w.access.satellites(k)[1].any() for k in range(w.n_steps)])
        # Steps from which a satellite can image within the horizon.
        ahead = np.convolve(access_any.astype(int), np.ones(self.horizon_steps, int))
        window_due = ahead[self.horizon_steps - 1 :][: w.n_steps] > 0
        log, total = [], 0.0
        obs = sim.observe(sim.agents)
        while sim.agents:
            if not window_due[w.k]:
                actions = self._base_actions(sim, obs)
                obs, reward = _step(sim, actions)
                log.append(actions)
                total += reward
                continue
            self.windows += 1
            sim, actions, reward, kept = self._window(sim)
            self.proposals_kept += kept
            w = sim.world
            log += actions
            total += reward
            obs = sim.observe(sim.agents)
        return log, total

    def _base_actions(self, sim, obs: dict) -> dict:
        """What the planner does where it has no proposal: greedy satellites and stations,
        and the drones sent to distinct tasks (:func:`drone_actions`)."""
        actions = self._greedy.act(obs)
        actions.update(drone_actions(sim, obs, self.drone_gain_floor))
        return actions

    def _window(self, sim):
        """One window from ``sim``'s state: (the chosen copy after the committed steps,
        its actions, their reward, whether the proposal was kept)."""
        w = sim.world
        n = min(self.commit_steps, w.n_steps - w.k)
        clear = future_clear(w, self.horizon_steps)
        plan = propose(w, clear, self.deterministic_time)
        proposal = copy.deepcopy(sim)
        p_actions, p_reward = _run_plan(proposal, plan, self._base_actions, n)
        greedy = copy.deepcopy(sim)
        g_actions, g_reward = _run_plan(greedy, {}, self._base_actions, n)
        if p_reward + state_value(proposal) > g_reward + state_value(greedy):
            return proposal, p_actions, p_reward, True
        return greedy, g_actions, g_reward, False


def _step(sim, actions: dict) -> tuple[dict, float]:
    """Step ``sim``; the live agents' observations and the team reward."""
    obs, rewards, *_ = sim.step(actions)
    return {a: obs[a] for a in sim.agents}, next(iter(rewards.values()), 0.0)


def _run_greedy(sim, greedy: GreedyPolicy) -> tuple[list[dict], float]:
    """Greedy to the episode's end on ``sim``; its actions and reward."""
    log, total = [], 0.0
    obs = sim.observe(sim.agents)
    while sim.agents:
        actions = greedy.act(obs)
        obs, reward = _step(sim, actions)
        log.append(actions)
        total += reward
    return log, total


def _hours_left_h(world) -> float:
    """The hours from the start of ``world``'s current step to the episode's end."""
    return max(world.n_steps - world.k, 0) * world.step_s / SECONDS_PER_HOUR


def state_value(sim) -> float:
    """What ``sim``'s state is worth from now on, in reward units (priority-hours × the
    information weight): the map quality now plus the value of the images still on board,
    × the hours left. Two copies of one window compare their steps' reward plus this."""
    w = sim.world
    hours_left = _hours_left_h(w)
    quality = map_quality(task_variance_ratio(w), w.tasks.priority, w.tasks.active(w.t_s))
    onboard = float(w.data.weight_by_source.sum())
    return w.scenario.reward.information_weight * (quality + onboard) * hours_left


def future_clear(world, horizon_steps: int) -> np.ndarray:
    """``(horizon, n_sample)`` bool: the task samples clear of cloud at each of the next
    ``horizon_steps`` steps (from now), from a copy of the cloud field and of the
    generator that alone drives it."""
    clouds, rng = copy.deepcopy(world.clouds), copy.deepcopy(world.rng)
    n = max(min(horizon_steps, world.n_steps - world.k), 0)
    out = np.empty((n, world.tasks.sample_row.size), bool)
    for h in range(n):
        out[h] = ~clouds.cloudy_coarse.take(world.sample_cloud_cell).astype(bool)
        clouds.step(rng)
    return out


def _next_arrival_k(world) -> np.ndarray:
    """``(n_sat, n_steps + 1)``: for each satellite and step, the first step at or after it
    in which a live station is in view (its images' arrival, approximately); ``n_steps``
    where none comes."""
    visible = (world.geom.gs_visible[: world.n_steps] & world.gs_alive[None, None, :]).any(axis=2)
    out = np.full((world.n_sat, world.n_steps + 1), world.n_steps, np.int64)
    for k in range(world.n_steps - 1, -1, -1):
        out[:, k] = np.where(visible[k], k, out[:, k + 1])
    return out


def propose(world, clear: np.ndarray, deterministic_time: float = DETERMINISTIC_TIME) -> dict:
    """The CP-SAT proposal of the satellites' images over the next ``len(clear)`` steps
    (module docstring, step 2): ``{satellite: [(step taken, task), ...]}`` in time order.

    ``clear`` ``(horizon, n_sample)`` bool: the task samples clear of cloud at each step
    (:func:`future_clear`)."""
    w, k0, horizon = world, world.k, len(clear)
    tasks = w.tasks
    weights = sample_weights(tasks, w.access.samples_inside(k0), w.fusion.prior_variance)
    # The map as if every image taken were delivered: what is on board is not worth taking again.
    maps = w.acquired_map
    variance = maps.sample_variance()
    obs_variance = observation_variance(w.sat_noise_std, w.sat_gsd_nadir_m,
                                        w.grid.resolution_m)  # fmt: skip
    arrival_k = _next_arrival_k(w) if w.n_sat else None
    end_s = w.n_steps * w.step_s
    sats = np.flatnonzero(w.alive[: w.n_sat] & w.sats.can_operate)
    options = []  # (sat, step taken, task, hours to the end from its arrival, samples)
    sample_gain = {}  # per satellite: what a view would remove at each sample (weighted)
    for s in sats:
        cover = w.swath_cover[int(w.sat_swath_group[s])]
        gain = sample_gain[int(s)] = weights * expected_reduction(variance, obs_variance[s])
        for h in range(max(int(w.sat_free_k[s]), k0) - k0, horizon):
            k = k0 + h
            access = w.access.satellites(k)[1][s] & tasks.active(k * w.step_s)
            hours = max(end_s - arrival_k[s, k] * w.step_s, 0.0) / SECONDS_PER_HOUR
            if not access.any() or hours <= 0.0:
                continue
            seen = gain * clear[h] if w.sat_cloud_blocked[s] else gain
            # Only the resolution levels its GSD at that step informs count.
            altitude_m = w.geom.sat_altitude_m[k, s]
            off_nadir_deg = w.access.satellites(k)[0][s]
            with np.errstate(invalid="ignore"):
                pixel_m = gsd_m(w.sat_gsd_nadir_m[s], altitude_m, off_nadir_deg).mean_m
            informs = maps.informs(np.where(access, pixel_m, np.inf))  # (n_task, n_level)
            per_level = level_values(cover, seen, maps.sample_level, maps.n_level)
            value = np.where(access, (per_level.T * informs).sum(axis=1), 0.0)
            best = np.argsort(-value)[:OPTIONS_PER_STEP]
            for j in best[value[best] > 0]:
                samples = np.flatnonzero((cover[j] > 0) & (seen > 0)
                                         & informs[j][maps.sample_level])  # fmt: skip
                options.append((int(s), k, int(j), hours, samples))
    options = [o for o in options if _reachable_first(w, o)]
    if not options:
        return {}
    model = cp_model.CpModel()
    x = [model.NewBoolVar(f"x{i}") for i in range(len(options))]
    _retarget_conflicts(w, options, x, model)
    # A sample counts once, at the most any option covering it would give it: a cover
    # variable that some chosen option must justify.
    by_sample: dict[int, list[int]] = {}
    sample_value: dict[int, float] = {}
    for i, (s, _k, _j, hours, samples) in enumerate(options):
        gain = sample_gain[s]
        for m in samples.tolist():
            by_sample.setdefault(m, []).append(i)
            sample_value[m] = max(sample_value.get(m, 0.0), float(gain[m]) * hours)
    objective = []
    for m, covering in by_sample.items():
        y = model.NewBoolVar(f"y{m}")
        model.AddBoolOr([x[i] for i in covering]).OnlyEnforceIf(y)
        objective.append(round(sample_value[m] * VALUE_SCALE) * y)
    # One satellite imaging one task twice in a window adds nothing the first did not.
    same: dict[tuple[int, int], list[int]] = {}
    for i, (s, _k, j, _h, _m) in enumerate(options):
        same.setdefault((s, j), []).append(i)
    for idx in same.values():
        if len(idx) > 1:
            model.AddAtMostOne(x[i] for i in idx)
    # An image that adds nothing is not worth its energy: a small cost per image.
    objective.append(-IMAGE_COST * sum(x))
    model.Maximize(sum(objective))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_deterministic_time = deterministic_time
    solver.parameters.random_seed = 0
    status = solver.Solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return {}
    plan: dict[int, list[tuple[int, int]]] = {}
    for i, (s, k, j, _v, _m) in enumerate(options):
        if solver.Value(x[i]):
            plan.setdefault(s, []).append((k, j))
    return {s: sorted(v) for s, v in plan.items()}


def _look(w, s: int, k: int, task: int) -> np.ndarray:
    """Satellite ``s``'s look direction at step ``k``: at ``task`` (−1: nadir)."""
    if task < 0:
        return w.geom.sat_nadir[k, s]
    return look_direction(w.geom.sat_r_ecef_m[k, s], w.tasks.r_ecef_m[task])


def retarget_steps(w, s: int, k: int, from_task: int, to_task: int) -> int:
    """Whole steps a retarget of ``s`` from ``from_task`` (−1: nadir) to ``to_task`` takes at
    step ``k`` (slew at the constant rate, then settle; the env's
    :func:`sagsim.envs.world.feasibility.image_timing`)."""
    angle = float(angle_between_deg(_look(w, s, k, from_task), _look(w, s, k, to_task)))
    ready_s = angle / w.sats.slew_rate_deg_s[s] + w.sats.settle_s[s] * (angle > RETARGET_MIN_DEG)
    return math.floor(ready_s / w.step_s + 1e-9)


def _reachable_first(w, option) -> bool:
    """Whether ``option`` can be taken from the satellite's present look (its first image)."""
    s, k, j = option[0], option[1], option[2]
    free_k = max(int(w.sat_free_k[s]), w.k)
    return k >= free_k + retarget_steps(w, s, k, int(w.sat_look_task[s]), j)


def _retarget_conflicts(w, options, x, model) -> None:
    """Two images of one satellite closer in time than the scan of the first plus the
    retarget between them cannot both be taken. The scan ends in the first image's step or
    the next, depending on when in its step the first retarget ended (which depends on
    the image before it): one step is allowed for it (conservative)."""
    by_sat: dict[int, list[int]] = {}
    for i, o in enumerate(options):
        by_sat.setdefault(o[0], []).append(i)
    for s, idx in by_sat.items():
        scan_steps = max(1, math.ceil(w.sat_scan_s[s] / w.step_s - 1e-9)) + 1
        # No retarget is longer than across the whole field of regard.
        widest_s = 2 * w.sat_max_off_nadir_deg[s] / w.sats.slew_rate_deg_s[s] + w.sats.settle_s[s]
        max_gap = scan_steps + math.ceil(widest_s / w.step_s)
        for a_pos, a in enumerate(idx):
            ka = options[a][1]
            for b in idx[a_pos + 1 :]:
                kb = options[b][1]
                if kb - ka > max_gap:
                    continue
                first, second = (options[a], options[b]) if ka <= kb else (options[b], options[a])
                gap = scan_steps + retarget_steps(w, s, second[1], first[2], second[2])
                if second[1] - first[1] < gap:
                    model.AddBoolOr([x[a].Not(), x[b].Not()])


def _run_plan(sim, plan: dict, base_actions, n_steps: int) -> tuple[list[dict], float]:
    """Execute ``plan`` for ``n_steps`` on ``sim`` (module docstring, step 3), the agents
    without a planned image as ``base_actions(sim, obs)`` has them; its actions and reward."""
    w, kk = sim.world, sim.world.top_k
    queue = {s: list(v) for s, v in plan.items()}
    log, total = [], 0.0
    obs = sim.observe(sim.agents)
    index = {a: i for i, a in enumerate(sim.possible_agents)}
    while sim.agents and len(log) < n_steps:
        actions, k = base_actions(sim, obs), w.k
        cand = w.candidates
        for agent, ob in obs.items():
            i = index[agent]
            mask = np.asarray(ob["action_mask"], bool)
            todo = queue.get(i)
            if i >= w.n_sat or not todo:
                continue
            if w.sat_free_k[i] > k:  # busy with an image
                actions[agent] = kk + IDLE
                continue
            while todo and todo[0][0] + LATE_STEPS < k:
                todo.pop(0)  # missed
            action = None
            while todo:
                planned_k, task = todo[0]
                slots = np.flatnonzero((cand.index[i] == task) & mask[:kk])
                if slots.size == 0:
                    if planned_k <= k:
                        todo.pop(0)  # not offered when due: give it up
                        continue
                    break
                taken_k = k + int(cand.timing.delay_steps[i, slots[0]])
                if taken_k >= planned_k:
                    action = int(slots[0])
                    todo.pop(0)
                break
            if action is None:
                if todo:  # wait for the next planned image; deliver meanwhile
                    action = kk + DOWNLINK if mask[kk + DOWNLINK] else kk + IDLE
                else:
                    action = actions[agent]
            actions[agent] = action
        obs, reward = _step(sim, actions)
        log.append(actions)
        total += reward
    return log, total


def drone_actions(sim, obs: dict, gain_floor: float = DRONE_GAIN_FLOOR) -> dict:
    """The live drones' actions: one holding data with a ground link delivers it (an image
    is worth nothing until it arrives); the others are sent to distinct tasks, the
    assignment of drones to their feasible candidates that maximises the total net gain per
    step of flight (:func:`scipy.optimize.linear_sum_assignment`). A candidate's net gain,
    in reward units, is its footprint value × the hours left in the episode (the return is
    the time integral of map quality; the same valuation as the satellites' images) less
    the energy cost of flying there and imaging at ``cruise_power_w``; divided by (1 + the
    steps to fly there). Candidates worth at most ``gain_floor`` × the top priority are
    skipped: the binding cost of a flight is not its energy price but the battery it
    spends, which an image worth almost nothing does not repay (on ``flood_wuhan``, seeds
    100 and 101, floors 0, 0.01, 0.02 and 0.05 gave the planner 1,935 and 1,973, 1,999
    and 2,102, 2,002 and 2,088, 1,977 and 2,060). A drone with no
    candidate left idles: it flies home and lands.

    Simplified: an image's value persists to the episode's end (the map's regrowth and
    later images of the same task are ignored), as in the satellites' proposal."""
    w = sim.world
    kk, n_sat = w.top_k, w.n_sat
    names = sim.possible_agents
    out: dict = {}
    free = []
    for j in range(w.n_uav):
        agent = names[n_sat + j]
        if agent not in obs:
            continue
        mask = np.asarray(obs[agent]["action_mask"], bool)
        if w.data.team_bits[n_sat + j] > 0 and mask[kk + DOWNLINK]:
            out[agent] = kk + DOWNLINK
        else:
            free.append((j, agent, mask))
    if not free:
        return out
    options = w.options()
    cand = options.candidates
    floor = gain_floor * float(w.tasks.priority.max(initial=1.0))
    reward = w.scenario.reward
    hours_left = _hours_left_h(w)
    dr = w.drones
    tasks = np.unique(np.concatenate([cand.index[n_sat + j][cand.index[n_sat + j] >= 0]
                                      for j, _, _ in free]))  # fmt: skip
    if tasks.size == 0:
        for _, agent, _ in free:
            out[agent] = kk + IDLE
        return out
    rate = np.zeros((len(free), tasks.size))
    slot_of = np.full((len(free), tasks.size), -1)
    for row, (j, _, mask) in enumerate(free):
        for slot in np.flatnonzero(mask[:kk]).tolist():
            task = int(cand.index[n_sat + j, slot])
            value = float(options.uav_footprint_value[j, task])
            if value <= floor:
                continue
            distance_m = np.hypot(w.tasks.x_m[task] - dr.position_xy_m[j, 0],
                                  w.tasks.y_m[task] - dr.position_xy_m[j, 1])  # fmt: skip
            steps = distance_m / (dr.cruise_speed_mps[j] * w.step_s)
            flight_wh = dr.cruise_power_w[j] * (steps + 1.0) * w.step_s / SECONDS_PER_HOUR
            gain = (reward.information_weight * value * hours_left
                    - reward.energy_cost_per_wh * flight_wh)  # fmt: skip
            if gain <= 0.0:
                continue
            col = int(np.searchsorted(tasks, task))
            rate[row, col] = gain / (1.0 + steps)
            slot_of[row, col] = slot
    rows, cols = linear_sum_assignment(rate, maximize=True)
    chosen = dict(zip(rows.tolist(), cols.tolist(), strict=True))
    for row, (_, agent, _) in enumerate(free):
        col = chosen.get(row)
        ok = col is not None and slot_of[row, col] >= 0 and rate[row, col] > 0
        out[agent] = int(slot_of[row, col]) if ok else kk + IDLE
    return out
