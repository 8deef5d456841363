"""An offline oracle for small scenarios: CP-SAT plans every agent's whole episode with full
knowledge of it, a reference plan of a surrogate of the reward (under the map-quality
reward, not an upper bound: contact-aware beats it on some seeds of minimal).

It reads the bound env's world after ``reset``: satellite access to every task per step,
station contacts and bits per step, drone flight times and energy, storage, batteries,
the task discs over time, and the episode's clouds (they depend only on the env's RNG:
copies of the cloud field and RNG are stepped forward).

The surrogate, one CP-SAT model over all steps (values in units of reward):

- Satellites, per step: image task j (with access; only the top K by priority, as the
  candidate ranking offers), DOWNLINK (in contact) or idle. An image counts if a DOWNLINK
  follows in its first contact window, whose bits per step carry it; storage and a linear
  battery (solar × sunlit, bus and payload loads, the minimum charge to operate) bound it.
- Drones: *sorties*, non-overlapping optional intervals. A sortie leaves the base full,
  flies (GOTO, ⌈distance / (speed × step)⌉ steps) to ≤ ``MAX_SORTIE_TASKS`` task centres
  in its best order, images each on arrival, downlinks it the next step, flies home
  (RETURN) and stays landed until recharged. Its legs pass the env's reach and reserve
  rules (+ ``SAFETY_WH``) and rank in the top K of the ranking's static part (priority /
  (1 + distance / 10 km), tasks seen in the sortie excluded); its start keeps every leg
  active and lit. A growing event's value splits the start range into pieces (power-of-two
  value levels, each valued at its minimum).
- Value: the first delivered view of a grid cell is worth Σ priority / (samples inside
  the disc at arrival) over the task samples in it, × the Kalman gain of its noise (the
  env adds q × latency to it; optical satellites: clear cells only) × the hours from its
  arrival to the episode's end (the return is the time integral of map quality); cells a
  drone can image also earn the noise regrown between their first and last views (q Δt /
  prior, × half the episode's hours). Minus each action's energy cost.

Ignored: views of a cell before it enters a disc, slews, antenna sharing, relays, hovering
in a sortie, partial recharges, transfers spanning steps, the history-dependent part of
the candidate ranking; stations serve automatically. Plans are near-optimal for the
surrogate within ``DETERMINISTIC_TIME``, not proven optimal.

The replay maps a planned task to this step's candidate slot holding it; if the action is
masked it takes the candidate nearest the planned task, else the greedy choice (counted in
``fallbacks``). Plans are replayed on a copy of the env first: what fell back is forbidden
and the model re-solved (``REPAIR_ROUNDS``); the best replayed plan is kept.
"""

from __future__ import annotations

import copy
import itertools
import math

import numpy as np
from ortools.sat.python import cp_model

from sagsim.agents.baselines import GreedyPolicy, Policy
from sagsim.envs.actions import DOWNLINK, DRONE_DISTANCE_SCALE_M, IDLE, RETURN
from sagsim.envs.physics.sensor_geometry import gsd_m
from sagsim.envs.reward import SECONDS_PER_HOUR, first_view_gain
from sagsim.fusion.kalman import observation_variance

__all__ = ["MAX_DECISION_VARIABLES", "OraclePolicy"]

# Refuse scenarios with more (agent, step, option) choices than this: satellites' image
# and downlink options per step plus drones' (sortie, start step) placements.
MAX_DECISION_VARIABLES = 250_000
MAX_SORTIE_TASKS = 3  # tasks per drone sortie (the sorties grow as n_task ** this)
DETERMINISTIC_TIME = 4.0  # CP-SAT work units per solve (≈ s on one idle core): reproducible
WALL_LIMIT_S = 60.0  # safety cap on one solve's wall time (s), far above normal use
REPAIR_ROUNDS = 3  # re-solves after forbidding what a replay could not do
REPAIR_WINDOW = 20  # steps around a drone's failed GOTO in which that GOTO is forbidden
VALUE_SCALE = 100_000  # integer objective units per unit of reward
WH_SCALE = 100  # integer battery units per Wh
SAFETY_WH = 3.0  # margin on every drone battery rule (Wh)
# A plan step's intent per agent: (kind, task); task is -1 unless kind is GOTO (image it).
GOTO, SEND, HOME, STAY = "goto", "downlink", "return", "idle"


class OraclePolicy(Policy):
    """Replays a CP-SAT plan of the bound episode (module docstring). After ``bind``:
    ``solve_s`` CP-SAT wall time (s), ``planned_return`` the plan's replayed return;
    ``fallbacks`` counts the steps (agent × step) whose planned action was masked."""

    name = "oracle"

    def __init__(self, deterministic_time: float = DETERMINISTIC_TIME, num_workers: int = 1,
                 repair_rounds: int = REPAIR_ROUNDS, seed: int = 0):  # fmt: skip
        self.deterministic_time, self.num_workers = deterministic_time, num_workers
        self.repair_rounds, self.seed = repair_rounds, seed
        self._greedy = GreedyPolicy()
        self.env, self.plan, self.fallbacks, self.solve_s = None, None, 0, 0.0
        self.planned_return = math.nan

    def reset(self, seed: int | None = None) -> None:
        self.plan, self.fallbacks = None, 0

    def bind(self, env) -> None:
        """Plan the episode ``env`` was just reset to (``ValueError`` if too large)."""
        if env.world.k != 0:
            raise ValueError("OraclePolicy.bind: bind right after env.reset()")
        self.env, self.fallbacks = env, 0
        model = _Model(env, self)  # checks the size first
        best, hint = None, {}
        for _ in range(self.repair_rounds + 1):
            plan, hint = model.solve(hint)
            sim, ret, missed = copy.deepcopy(env), 0.0, []  # replay the plan on a copy
            obs = sim.observe(sim.agents)
            while sim.agents:
                actions, fell = _actions(sim, plan, obs, self._greedy)
                obs, rewards, *_ = sim.step(actions)
                ret, missed = ret + next(iter(rewards.values()), 0.0), missed + fell
            if best is None or ret > best[0]:
                best = (ret, plan)
            if not missed:
                break
            model.forbid(missed)
        self.planned_return, self.plan, self.solve_s = best[0], best[1], model.solve_s

    def act(self, observations: dict, infos: dict | None = None) -> dict:
        if self.env is None or self.plan is None:
            raise RuntimeError("OraclePolicy: call bind(env) after env.reset() (run_episode does)")
        out, missed = _actions(self.env, self.plan, observations, self._greedy)
        self.fallbacks += len(missed)
        return out


def _actions(env, plan, observations, greedy) -> tuple[dict, list]:
    """This step's actions from ``plan``, and the (step, agent, kind, task) intents whose
    action was masked (a fallback ran instead: module docstring)."""
    w, k = env.world, env.world.k
    cand, kk, tx, ty, missed, out = w.candidates, w.top_k, w.tasks.x_m, w.tasks.y_m, [], {}
    for agent, ob in observations.items():
        i = env.possible_agents.index(agent)
        kind, task = plan[k][i]
        mask = np.asarray(ob["action_mask"], bool)
        a = {SEND: kk + DOWNLINK, HOME: kk + RETURN, STAY: kk + IDLE}.get(kind)
        if kind == GOTO:
            slots = np.flatnonzero((cand.index[i] == task) & mask[:kk])
            a = int(slots[0]) if slots.size else None
        if kind == HOME and not mask[kk + RETURN]:
            a = kk + IDLE  # already landed: the same thing
        if a is None or not mask[a]:
            missed.append((k, i, kind, task))
            ok = np.flatnonzero(mask[:kk]) if kind == GOTO else np.zeros(0, int)
            near = np.hypot(tx[cand.index[i, ok]] - tx[task], ty[cand.index[i, ok]] - ty[task])
            a = int(ok[np.argmin(near)]) if ok.size else greedy.choose(ob["observation"], mask, kk)
        out[agent] = int(a)
    return out, missed


class _Model:
    """The CP-SAT model of one episode (module docstring)."""

    def __init__(self, env, policy):
        w, sc, tasks = env.world, env.scenario, env.world.tasks
        self.w, self.T, self.dt, self.policy = w, w.n_steps, w.step_s, policy
        n_sorties = sum(math.comb(w.tasks.n, r) for r in range(1, MAX_SORTIE_TASKS + 1))
        size = self.T * (w.n_sat * (w.tasks.n + 2) + w.n_uav * n_sorties)
        if size > MAX_DECISION_VARIABLES:
            raise ValueError(
                f"OraclePolicy: scenario {sc.name!r} has ~{size} (agent, step, option) "
                f"choices, above MAX_DECISION_VARIABLES = {MAX_DECISION_VARIABLES}; use a "
                "smaller scenario (fewer satellites, drones or tasks) or fewer max_cycles"
            )
        self.reward, self.cost = sc.reward, sc.reward.energy_cost_per_wh
        self.prior, self.q = sc.fusion.prior_variance, sc.fusion.process_noise_per_s
        self.m, self.solve_s = cp_model.CpModel(), 0.0
        # obj: [(coefficient in reward units, var)]; cover: cell -> satellite views [(var,
        # value, arrival step)]; units: task -> drone views [(presence, value, arrival step)];
        # sat_vars: [(var, agent, step, kind, task)]; sorties: [(presence, start, agent, legs
        # [(kind, task, steps)])].
        self.obj, self.cover, self.units, self.sat_vars, self.sorties = [], {}, {}, [], []
        self.cells, self.cell_of_sample = np.unique(tasks.sample_flat, return_inverse=True)
        self.cell_rc = np.divmod(self.cells, w.grid.shape[1])
        # First-view value of each cell arriving at the end of step k, (T, n_cells): Σ
        # priority / (samples inside the disc then) over the cell's samples inside.
        inside = np.stack([tasks.sample_inside((k + 1) * self.dt) for k in range(self.T)])
        n_in = np.stack([np.bincount(tasks.sample_task, x, minlength=tasks.n) for x in inside])
        per = inside * tasks.priority[tasks.sample_task] / np.maximum(n_in[:, tasks.sample_task], 1)
        self.weight = np.stack([np.bincount(self.cell_of_sample, x, self.cells.size) for x in per])
        self._satellites()
        for u in range(w.n_uav):
            self._drone(u)
        self._coverage()
        self.m.maximize(sum(round(c * VALUE_SCALE) * v for c, v in self.obj))

    def _gain(self, latency_s: float, obs_var: float, arrival_step: int) -> float:
        """Information weight × Kalman gain of a first view (the env adds q × latency to r)
        × the hours it then counts: an image that arrives in step ``arrival_step`` is in the
        map paid at the end of that step and of every later one, T − arrival_step steps (the
        reward's own terms, :mod:`sagsim.envs.reward`)."""
        r = obs_var + self.q * latency_s
        hours = max(self.T - arrival_step, 0) * self.dt / SECONDS_PER_HOUR
        return self.reward.information_weight * hours * first_view_gain(self.prior, r)

    def _window_cells(self, task: int, half_m: float) -> np.ndarray:
        """Indices of the cells in the env's image window of half-width ``half_m`` (m)."""
        r0, r1, c0, c1 = self.w.window(task, half_m)
        rows, cols = self.cell_rc
        return np.flatnonzero((rows >= r0) & (rows < r1) & (cols >= c0) & (cols < c1))

    def _satellites(self) -> None:
        """Per satellite and step: image options, downlinks, window capacity, battery."""
        w, T, dt, g, sats, m = self.w, self.T, self.dt, self.w.geom, self.w.sats, self.m
        # Coarse cloud masks at the start of each step, from copies of the field and of the
        # RNG (the clouds are its only consumer; a step replaces the mask, never mutates it).
        clouds, rng = copy.deepcopy((w.clouds, w.rng))
        cloudy = [clouds.cloudy_coarse] + [
            clouds.step(rng) or clouds.cloudy_coarse for _ in range(T)
        ]
        crow, ccol = clouds.coarse_row_of, clouds.coarse_col_of
        rows, cols = self.cell_rc
        contact = (g.gs_visible[:T] & w.gs_alive[None, None, :]).any(axis=2)  # (T, n_sat)
        for s in range(w.n_sat):
            img_wh, tx_wh = sats.imaging_load_w[s] * dt / 3600, sats.transmit_load_w[s] * dt / 3600
            cap_mbit = (g.gs_bits_per_step[:T, s] * g.gs_visible[:T, s]).max(axis=1) // 1e6
            img_mbit = int(w.sat_image_bits[s] // 1e6) + 1
            dl = {k: m.new_bool_var("") for k in np.flatnonzero(contact[:, s]).tolist()}
            window, after = {}, [None] * (T + 1)  # contact steps from k on; next contact
            for k in range(T - 1, -1, -1):
                after[k] = k + 1 if k + 1 in dl else after[k + 1]
                if k in dl:
                    window[k] = [k, *window.get(k + 1, [])]
            fits, per_window = w.sat_image_bits[s] <= w.data.free_bits[s], {}
            # Battery (WH_SCALE units): b[k+1] ≤ min(capacity, b[k] + solar − loads).
            top_b = int(sats.battery_capacity_wh[s] * WH_SCALE)
            b = m.new_constant(min(int(sats.battery_wh[s] * WH_SCALE), top_b))
            floor = int(sats.min_charge_fraction[s] * sats.battery_capacity_wh[s] * WH_SCALE)
            for k in range(T):
                off, ok = w.access.satellites(k)
                acts, k_d = [], after[k]
                top = np.flatnonzero(ok[s])[np.argsort(-w.tasks.priority[ok[s]], kind="stable")]
                for j in top[: w.top_k].tolist() if fits and k_d is not None else []:
                    x = m.new_bool_var("")
                    m.add(sum(dl[d] for d in window[k_d]) >= 1).only_enforce_if(x)
                    per_window.setdefault(k_d, []).append(x)
                    self.sat_vars.append((x, s, k, GOTO, j))
                    self.obj.append((-self.cost * img_wh, x))
                    sel = self._window_cells(j, 0.5 * w.sat_swath_m[s])
                    if w.sat_cloud_blocked[s]:  # clouds hide the ground from optical sensors
                        sel = sel[~cloudy[k][crow[rows[sel]], ccol[cols[sel]]]]
                    gsd = gsd_m(w.sat_gsd_nadir_m[s], g.sat_altitude_m[k, s], off[s, j]).mean_m
                    r = observation_variance(w.sat_noise_std[s], gsd, w.grid.resolution_m)
                    gain = self._gain((k_d + 1 - k) * dt, float(r), k_d)  # noise as the env's
                    for c, v in zip(sel.tolist(), self.weight[k_d, sel].tolist(), strict=True):
                        self.cover.setdefault(c, []).append((x, v * gain, k_d))
                    acts.append(x)
                load = math.ceil(img_wh * WH_SCALE) * sum(acts)
                if k in dl:
                    self.sat_vars.append((dl[k], s, k, SEND, -1))
                    self.obj.append((-self.cost * tx_wh, dl[k]))
                    load += math.ceil(tx_wh * WH_SCALE) * dl[k]
                    acts.append(dl[k])
                m.add_at_most_one(acts)
                m.add(b >= (floor + 1) * sum(acts))  # operating needs a charge above the minimum
                net_w = sats.solar_power_w[s] * g.sat_sunlit[k, s] - sats.bus_load_w[s]
                b_next = m.new_int_var(0, top_b, "")
                m.add(b_next <= b + math.floor(net_w * dt / 3600 * WH_SCALE) - load)
                b = b_next
            for k_d, xs in per_window.items():  # the window's downlinks carry them; storage
                m.add(img_mbit * sum(xs) <= sum(int(cap_mbit[d]) * dl[d] for d in window[k_d]))
                m.add(img_mbit * sum(xs) <= int(w.data.free_bits[s] // 1e6))

    def _drone(self, u: int) -> None:
        """Drone ``u``'s sorties (module docstring): optional intervals of the flight and
        the recharge after it, at start steps where every leg can fly."""
        w, T, dt, m, dr, n = self.w, self.T, self.dt, self.m, self.w.drones, self.w.tasks.n
        xy = np.vstack([dr.base_xy_m[u], np.column_stack([w.tasks.x_m, w.tasks.y_m])])
        dist = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))  # base, tasks
        v, home, cap, rr = dr.cruise_speed_mps[u], dist[0], dr.battery_capacity_wh[u], \
            dr.return_wh_per_m[u]  # fmt: skip
        steps = np.maximum(1, np.ceil(dist / (v * dt) - 1e-9)).astype(int)
        cruise, hover = dr.cruise_power_w[u] / 3600, dr.hover_power_w[u] / 3600  # Wh per s
        d2 = ((xy[1:, None, :] - w.uav_receivers_xy_m[u][None]) ** 2).sum(axis=2).min(axis=1)
        link = d2 + dr.altitude_m[u] ** 2 <= w.air.max_range_m**2  # images there downlink
        usable = np.flatnonzero(link & (w.uav_image_bits[u] <= w.data.free_bits[w.n_sat + u]))
        access = np.stack([w.access.drones(k)[u] for k in range(T)])  # (T, n) active, lit
        run = np.vstack([np.zeros((1, n), int), np.cumsum(access, axis=0), np.zeros((T, n), int)])
        charge_wh = dr.charge_power_w[u] * dt / 3600  # per landed step
        first = math.ceil((cap - dr.battery_wh[u]) / charge_wh)  # landed until full
        obs_var = observation_variance(w.uav_noise_std[u], w.uav_gsd_m[u], w.grid.resolution_m)
        side, intervals = 0.5 * w.uav_side_m[u], []
        gain = np.array([self._gain(dt, float(obs_var), k) for k in range(T)])  # by arrival
        table = {j: self.weight[:, self._window_cells(j, side)].sum(axis=1) * gain for j in usable}
        rank = w.tasks.priority / (1 + dist[:, 1:] / DRONE_DISTANCE_SCALE_M) - 1e-9 * np.arange(n)
        for r in range(1, MAX_SORTIE_TASKS + 1):
            for combo in itertools.combinations(usable.tolist(), r):
                best = None
                for order in itertools.permutations(combo):  # the feasible one using least
                    legs, images, b, pos, off = [], [], cap, 0, 0
                    for n_seen, j in enumerate(order):  # fly, image, downlink next step
                        d, t = dist[pos, j + 1], steps[pos, j + 1]
                        rival = np.delete(rank[pos], list(order[:n_seen]))  # seen: ratio ≈ 0
                        ranked = (rival > rank[pos][j]).sum() < w.top_k  # a candidate
                        if not ranked or b < (d + home[j + 1]) * rr + SAFETY_WH:  # reach rule
                            break
                        b -= d / v * cruise + (t * dt - d / v) * hover + dt * hover
                        if b < home[j + 1] * rr + SAFETY_WH:  # the return reserve
                            break
                        legs += [(GOTO, j, t), (SEND, -1, 1)]
                        images.append((j, off + t, off, t))
                        pos, off = j + 1, off + t + 1
                    else:
                        b -= home[pos] / v * cruise
                        if b >= SAFETY_WH and (best is None or b > best[2]):
                            best = ([*legs, (HOME, -1, steps[pos, 0])], images, b)
                if best is None:
                    continue
                legs, images, b = best
                ok = np.arange(T) >= first
                for j, at, o0, t in images:  # every GOTO step needs the task active and lit
                    ks = np.arange(T) + o0
                    ok &= (run[ks + t, j] - run[ks, j] == t) & (np.arange(T) + at < T)
                starts = np.flatnonzero(ok)
                length = sum(leg[2] for leg in legs) + math.ceil((cap - b) / charge_wh)
                vals = np.stack([table[j][starts + at] for j, at, *_ in images])
                top = np.maximum([[table[j].max()] for j, *_ in images], 1e-300)  # value levels
                level = np.minimum(np.ceil(np.log2(top / np.maximum(vals, 1e-300)) - 1e-9), 6)
                cut = np.flatnonzero((np.diff(level, axis=1) != 0).any(axis=0)) + 1
                for piece in np.split(np.arange(starts.size), cut) if starts.size else []:
                    p = m.new_bool_var("")
                    st = m.new_int_var_from_domain(cp_model.Domain.from_values(starts[piece]), "")
                    intervals.append(m.new_optional_fixed_size_interval_var(st, length, p, ""))
                    self.sorties.append((p, st, w.n_sat + u, legs))
                    self.obj.append((-self.cost * (cap - b), p))
                    for (j, at, *_), val in zip(images, vals[:, piece].min(axis=1), strict=True):
                        self.units.setdefault(j, []).append((p, float(val), st + at))
        m.add_no_overlap(intervals)

    def _coverage(self) -> None:
        """First-view value per cell (one view counted); the cells a drone can image (a
        *unit* per task) also earn the regrowth between their first and last views."""
        m, T, side = self.m, self.T, 0.5 * max(self.w.uav_side_m, default=0.0)
        unit_of = {c: j for j in sorted(self.units) for c in self._window_cells(j, side)}
        sat_unit: dict = {j: {} for j in self.units}  # task -> {id: [var, value, step]}
        groups: dict = {}  # satellite-only cells with the same options share one choice
        for c, opts in self.cover.items():
            if c in unit_of:
                for x, val, k in opts:
                    sat_unit[unit_of[c]].setdefault(id(x), [x, 0.0, k])[1] += val
                continue
            grp = groups.setdefault(tuple(id(o[0]) for o in opts), ([o[0] for o in opts], []))
            grp[1].append([o[1] for o in opts])
        for xs, vals in groups.values():
            z = [m.new_bool_var("") for _ in xs]
            for x, zi, val in zip(xs, z, np.sum(vals, axis=0), strict=True):
                m.add_implication(zi, x)
                self.obj.append((val, zi))
            m.add_at_most_one(z)
        regrow = self.q / self.prior * self.dt  # fraction of the prior regained per step
        for j, drone_opts in self.units.items():
            opts = drone_opts + [tuple(o) for o in sat_unit[j].values()]
            z, last = ([m.new_bool_var("") for _ in opts] for _ in range(2))
            k_first, k_last = m.new_int_var(0, T, ""), m.new_int_var(0, T, "")
            for (x, val, k), zi, li in zip(opts, z, last, strict=True):
                m.add_implication(zi, x)
                m.add_implication(li, x)
                self.obj.append((val, zi))
                m.add(k_first >= k).only_enforce_if(zi)
                m.add(k_last <= k).only_enforce_if(li)
            m.add_at_most_one(z)
            m.add(sum(last) <= sum(z))
            m.add(k_last <= T * sum(last))
            # as _gain's, in units of reward: a regained view counts for about half the episode
            weight = self.reward.information_weight * 0.5 * T * self.dt / SECONDS_PER_HOUR
            bonus = weight * regrow * float(self.weight[-1, self._window_cells(j, side)].sum())
            self.obj += [(bonus, k_last), (-bonus, k_first)]

    def forbid(self, missed: list) -> None:
        """Forbid what a replay could not do: a satellite's image at that step; a drone's
        GOTO to that task within ``REPAIR_WINDOW`` steps of the failed ones."""
        m, missed, wd = self.m, set(missed), REPAIR_WINDOW
        for x, a, k, kind, task in self.sat_vars:
            if (k, a, kind, task) in missed:
                m.add(x == 0)
        blocks = {(i, t, k // wd) for k, i, kd, t in missed if kd == GOTO and i >= self.w.n_sat}
        for p, st, a, legs in self.sorties:
            off = 0
            for kind, task, n in legs:  # starts putting this GOTO within wd of a failed block
                for b in range(self.T // wd + 1) if kind == GOTO else []:
                    if (a, task, b) in blocks:
                        lo, hi = (b - 1) * wd - off - n + 1, (b + 2) * wd - 1 - off
                        ok = cp_model.Domain.from_intervals([[-1, lo - 1], [hi + 1, self.T]])
                        m.add_linear_expression_in_domain(st, ok).only_enforce_if(p)
                off += n

    def solve(self, hint: dict) -> tuple[list, dict]:
        """A plan (per step, per agent: (kind, task)) searched from ``hint`` (variable ->
        value: a previous solution) and the solution's values."""
        m, T, w, pol = self.m, self.T, self.w, self.policy
        m.clear_hints()
        for var, val in hint.items():
            m.add_hint(var, val)
        solver = cp_model.CpSolver()
        prm = solver.parameters
        prm.num_workers, prm.random_seed = pol.num_workers, pol.seed
        prm.max_deterministic_time, prm.max_time_in_seconds = pol.deterministic_time, WALL_LIMIT_S
        status = solver.solve(m)
        self.solve_s += solver.wall_time
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            raise RuntimeError(f"OraclePolicy: CP-SAT found no plan ({solver.status_name(status)})")
        serve = w.n_sat + w.n_uav  # stations serve automatically (DOWNLINK)
        plan = [[(SEND if i >= serve else STAY, -1) for i in range(w.n_agents)] for _ in range(T)]
        values = {}
        for x, a, k, kind, task in self.sat_vars:
            if values.setdefault(x, solver.value(x)):
                plan[k][a] = (kind, task)
        for p, st, a, legs in self.sorties:
            k = values[st] = solver.value(st)
            for kind, task, n in legs if values.setdefault(p, solver.value(p)) else []:
                for kk in range(k, min(k + n, T)):
                    plan[kk][a] = (kind, task)
                k += n
        return plan, values
