"""Faults in the world: the scenario's ``faults`` section as a per-episode timeline.

:class:`FaultSchedule` turns the scheduled faults and the rates
(:mod:`sagsim.envs.scenario.schema.faults`) into, per episode:

- ``fail_s`` ``(n_agents,)``: when each satellite or drone fails for good (s; +inf: never);
- outage windows ``[start_s, end_s)``: of stations (``station_outage``, ``comm_blackout``,
  random outages), of inter-satellite links (``isl_outage``) and of drone links
  (``comm_blackout``);
- sensor degradations ``(t_s, agent, noise_factor, stuck_fraction)`` by time.

Timing (what :class:`sagsim.envs.world.world.World` does with it): a failure or a degradation whose
time falls in a step ``[t0, t1)`` takes effect at the end of that step (the agent terminates in
that step's return; its queue is lost and counted); an outage is a state, looked up at the
start of every step (a station down at ``t0`` serves no satellite during the step).

Random faults: satellites and drones fail once after an exponential time of mean
``*_mtbf_s`` (a memoryless, constant failure rate: the flat bottom of the bathtub curve);
stations alternate exponential up-times (``station_mtbf_s``) and repair times
(``station_mttr_s``). Draws come from a seed sequence keyed off the episode's seed (or the
scenario's, ``redraw: scenario``), never from the world's generator, so clouds and
everything else are the same with and without faults for the same seed.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np

from sagsim.envs.scenario.agent_names import agent_name, parse_agent_name
from sagsim.envs.scenario.loader import ScenarioError

__all__ = ["FaultSchedule", "FaultState"]

# Spawn key of the faults' seed sequence: a fixed branch of the episode's seed tree, apart
# from the children the perception spawns, so the draws are the same in both modes.
FAULT_SPAWN_KEY = 0xFA17
# Drawn outages per station and episode at most (MIN_MTBF_S already bounds it; a guard).
MAX_DRAWN_OUTAGES = 100_000


@dataclass
class FaultState:
    """What is up during a step: ``station_up`` ``(n_gs,)``, ``isl_up`` ``(n_sat,)`` bool,
    ``air_up`` (drones can reach the ground and each other)."""

    station_up: np.ndarray
    isl_up: np.ndarray
    air_up: bool


class FaultSchedule:
    """The faults of one world (module doc). ``counts`` = (n_sat, n_uav, n_gs);
    ``duration_s`` the episode length; ``name`` the scenario's, for errors."""

    def __init__(self, faults, counts: tuple[int, int, int], duration_s: float, name: str,
                 scenario_seed: int = 0):  # fmt: skip
        self.cfg = faults
        self.n_sat, self.n_uav, self.n_gs = counts
        self.n_agents = sum(counts)
        self.duration_s = float(duration_s)
        self.scenario_seed = int(scenario_seed)
        offset = {"sat": 0, "uav": self.n_sat, "gs": self.n_sat + self.n_uav}
        size = {"sat": self.n_sat, "uav": self.n_uav, "gs": self.n_gs}

        def index(name_: str, i: int, field: str) -> int:
            prefix, number = parse_agent_name(name_)  # the schema checked it
            if number >= size[prefix]:
                last = agent_name(prefix, size[prefix] - 1) if size[prefix] else "none"
                raise ScenarioError(name, f"faults.events[{i}].{field}",
                                    f"no agent {name_!r} (allowed: {prefix}_0…{last})")  # fmt: skip
            return offset[prefix] + number

        self._fail = np.full(self.n_agents, np.inf)
        st, isl, air, degrade = [], [], [], []
        for i, f in enumerate(faults.events):
            end = f.t_s + f.duration_s if f.duration_s is not None else np.inf
            if f.kind in ("satellite_failure", "drone_lost"):
                a = index(f.agent, i, "agent")
                self._fail[a] = min(self._fail[a], f.t_s)
            elif f.kind == "station_outage":
                st.append((f.t_s, end, index(f.agent, i, "agent") - offset["gs"]))
            elif f.kind == "isl_outage":
                sats = [index(a, i, "agents") for a in f.agents] or range(self.n_sat)
                isl += [(f.t_s, end, s) for s in sats]
            elif f.kind == "comm_blackout":
                gss = [index(a, i, "agents") - offset["gs"] for a in f.agents] or range(self.n_gs)
                st += [(f.t_s, end, g) for g in gss]
                air.append((f.t_s, end))
            elif f.kind == "sensor_degrade":
                degrade.append((f.t_s, index(f.agent, i, "agent"), f.noise_factor,
                                f.stuck_fraction))  # fmt: skip
            else:  # a kind the schema allows but this timeline does not know: never silent
                raise ValueError(f"faults[{i}]: kind {f.kind!r} has no effect defined here")
        self._station_fixed = _windows(st)
        self._isl = _windows(isl)
        self._air = np.array(air, float).reshape(-1, 2)
        self.degradations = sorted(degrade)
        self._degrade_t_s = [d[0] for d in self.degradations]  # for bisect, once per world
        self._random_cache: tuple | None = None
        self.reset(None)

    @classmethod
    def from_world(cls, world) -> FaultSchedule | None:
        """The world's schedule, or None when its scenario has no faults (no cost)."""
        sc = world.scenario
        if not sc.faults.active:
            return None
        return cls(sc.faults, (world.n_sat, world.n_uav, world.n_gs), world.n_steps *
                   world.step_s, sc.name, sc.seed)  # fmt: skip

    def reset(self, rng: np.random.Generator | None) -> None:
        """A new episode's timeline; random faults drawn from ``rng``'s seed (module doc)."""
        r = self.cfg.random
        self.fail_s = self._fail.copy()
        station = [self._station_fixed]
        if any(v is not None for v in (r.satellite_mtbf_s, r.drone_mtbf_s, r.station_mtbf_s)):
            fail_s, drawn = self._draw(rng)
            self.fail_s = np.minimum(self.fail_s, fail_s)
            station.append(drawn)
        self._station = np.concatenate(station)

    def _draw(self, rng) -> tuple[np.ndarray, np.ndarray]:
        """Random failure times ``(n_agents,)`` and station outage windows ``(m, 3)``."""
        r = self.cfg.random
        if r.redraw == "scenario":
            if self._random_cache is not None:
                return self._random_cache
            seq = np.random.SeedSequence(self.scenario_seed, spawn_key=(FAULT_SPAWN_KEY,))
        else:
            parent = getattr(getattr(rng, "bit_generator", None), "seed_seq", None)
            if parent is None:  # no episode seed (the constructor): the scenario's
                parent = np.random.SeedSequence(self.scenario_seed)
            key = (*parent.spawn_key, FAULT_SPAWN_KEY)
            seq = np.random.SeedSequence(parent.entropy, spawn_key=key)
        g = np.random.default_rng(seq)
        fail = np.full(self.n_agents, np.inf)
        for lo, n, mtbf in ((0, self.n_sat, r.satellite_mtbf_s),
                            (self.n_sat, self.n_uav, r.drone_mtbf_s)):  # fmt: skip
            if mtbf is not None and n:
                fail[lo : lo + n] = g.exponential(mtbf, n)
        windows = []
        if r.station_mtbf_s is not None:
            for s in range(self.n_gs):
                t = 0.0
                for _ in range(MAX_DRAWN_OUTAGES):
                    t += g.exponential(r.station_mtbf_s)
                    if t >= self.duration_s:
                        break
                    down = g.exponential(r.station_mttr_s)
                    windows.append((t, t + down, s))
                    t += down
        out = fail, _windows(windows)
        if r.redraw == "scenario":
            self._random_cache = out
        return out

    def failing(self, t0_s: float, t1_s: float) -> np.ndarray:
        """``(n_agents,)`` bool: satellites and drones whose failure falls in [t0, t1)."""
        return (self.fail_s >= t0_s) & (self.fail_s < t1_s)

    def state(self, t_s: float) -> FaultState:
        """What is up at ``t_s`` (module doc)."""
        station_up = np.ones(self.n_gs, bool)
        on = _on(self._station, t_s)
        station_up[self._station[on, 2].astype(np.int64)] = False
        isl_up = np.ones(self.n_sat, bool)
        on = _on(self._isl, t_s)
        isl_up[self._isl[on, 2].astype(np.int64)] = False
        air_up = not _on(self._air, t_s).any()
        return FaultState(station_up, isl_up, air_up)

    def degradations_in(self, t0_s: float, t1_s: float) -> list[tuple[float, int, float, float]]:
        """The sensor degradations whose time falls in [t0, t1), in time order."""
        lo = bisect.bisect_left(self._degrade_t_s, t0_s)  # O(log n) a step, not a scan
        return self.degradations[lo : bisect.bisect_left(self._degrade_t_s, t1_s)]

    def summary(self) -> dict:
        """This episode's timeline in plain numbers (for the inspector and the tests)."""
        return {"fail_s": {int(i): float(self.fail_s[i])
                           for i in np.flatnonzero(np.isfinite(self.fail_s))},
                "station_outages": self._station.tolist(), "isl_outages": self._isl.tolist(),
                "blackouts": self._air.tolist(),
                "degradations": [list(d) for d in self.degradations]}  # fmt: skip


def _windows(rows: list[tuple]) -> np.ndarray:
    """``(m, 3)`` float rows (start_s, end_s, index)."""
    return np.array(rows, float).reshape(-1, 3)


def _on(windows: np.ndarray, t_s: float) -> np.ndarray:
    """Which windows ``[start, end)`` hold ``t_s``."""
    return (windows[:, 0] <= t_s) & (t_s < windows[:, 1])
