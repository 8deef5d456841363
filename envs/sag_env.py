"""The PettingZoo environment ``sag_eo_v0``: satellites, drones and ground stations schedule
observation and delivery; the team is rewarded by what reaches the fusion centre's map.

Agents ``sat_<i>``, ``uav_<i>``, ``gs_<i>`` share one observation space,
``Dict(observation=Box(float32), action_mask=Box(int8))`` (layout in
:mod:`sagsim.envs.observations`), and one action space ``Discrete(K + 4)`` (layout and feasibility
in :mod:`sagsim.envs.actions`). The physics is :class:`sagsim.envs.world.world.World`; this module
only translates between it and the PettingZoo API.

The reward: the same team reward for every live agent, its formula in
:mod:`sagsim.envs.reward` (the task-weighted quality of the fusion centre's map × the step's
hours, minus energy and infeasible-action costs). ``infos[agent]`` holds ``reward_share``
(the agent's own terms: its part of the information, in proportion to what its delivered
images added to the map, minus its own costs; the shares sum to the team reward),
``information``, ``energy_wh``, ``infeasible`` (the chosen action was masked: it ran as
IDLE), ``acquired``, ``delivered``, ``agent_type`` and ``onboard_value`` (the value of its
images not yet delivered × the hours left, a potential for reward shaping:
:meth:`sagsim.envs.world.world.World.onboard_value`); with ``perception: imagery``, every
``fusion.metrics_every_s`` and at the end, ``fusion``: the fused map scored against the
ground truth (:meth:`sagsim.envs.world.perception.Perception.metrics`: PSNR, SSIM, event
IoU, …).

A masked action is a documented no-op (IDLE) that is flagged and costed, never a crash; an
action outside the space raises ``ValueError`` naming the agent and the range. A missing
action means IDLE. Agents that fail (a satellite's battery empty, a drone lost) terminate
once and never return; the episode truncates at ``duration_s`` or ``max_cycles`` steps.
"""

from __future__ import annotations

import math
import multiprocessing
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from sagsim.cli import short_repr
from sagsim.envs.actions import IDLE, N_EXTRA
from sagsim.envs.observations import CLIP, ObservationBuilder, observation_dim
from sagsim.envs.reward import reward_shares
from sagsim.envs.scenario.agent_names import agent_name
from sagsim.envs.scenario.checks import station_findings, warn_findings
from sagsim.envs.scenario.shipped import DEFAULT_SCENARIO, resolve_scenario
from sagsim.envs.world.world import World

__all__ = ["SagEnv"]

AGENT_TYPES = ("satellite", "drone", "station")


class SagEnv(ParallelEnv):
    """Parallel-API environment (see the module docstring)."""

    metadata: ClassVar[dict[str, Any]] = {
        "name": "sag_eo_v0",
        "render_modes": ["rgb_array", "ansi", "human"],
        "is_parallelizable": True,
        "render_fps": 4,
    }

    def __init__(
        self,
        scenario: Any = DEFAULT_SCENARIO,
        render_mode: str | None = None,
        max_cycles: int | None = None,
        **overrides: Any,
    ):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            allowed = ", ".join(self.metadata["render_modes"])
            raise ValueError(f"render_mode must be one of {allowed} or None, got {render_mode!r}")
        self.scenario = resolve_scenario(scenario, **overrides)
        cap = max_cycles if max_cycles is not None else self.scenario.env.max_cycles
        if cap is not None and (not isinstance(cap, (int, np.integer)) or cap < 1):
            raise ValueError(f"max_cycles must be a positive integer, got {cap!r}")
        n_steps = self.scenario.n_steps if cap is None else min(int(cap), self.scenario.n_steps)
        self.max_cycles = n_steps
        self.render_mode = render_mode
        self.world = World(self.scenario, n_steps=n_steps)
        self.observer = ObservationBuilder(self.world)
        # A station that never sees a satellite, from the visibility the world has just
        # computed. Said by the process that builds the environments, not again by each
        # worker process that rebuilds one, and once per process (not per copy); only for
        # an episode of the scenario's whole duration and as written (one cut short by
        # max_cycles or changed by overrides, in a test or a curriculum, is the code's
        # choice, as in resolve_scenario).
        whole = n_steps == self.scenario.n_steps and not overrides
        if whole and multiprocessing.parent_process() is None:
            visible = self.world.geom.gs_visible[:n_steps]
            warn_findings(self.scenario.name, station_findings(self.scenario, visible),
                          once=True)  # fmt: skip
        w = self.world
        self.possible_agents = (
            [agent_name("sat", i) for i in range(w.n_sat)]
            + [agent_name("uav", i) for i in range(w.n_uav)]
            + [agent_name("gs", i) for i in range(w.n_gs)]
        )
        self._index = {a: i for i, a in enumerate(self.possible_agents)}
        self._type = np.repeat([0, 1, 2], [w.n_sat, w.n_uav, w.n_gs])
        self._type_name = [AGENT_TYPES[t] for t in self._type]
        self.n_actions = w.top_k + N_EXTRA
        dim = observation_dim(w.top_k)
        self._obs_space = {
            a: spaces.Dict(
                {
                    "observation": spaces.Box(-CLIP, CLIP, (dim,), np.float32),
                    "action_mask": spaces.Box(0, 1, (self.n_actions,), np.int8),
                }
            )
            for a in self.possible_agents
        }
        self._act_space = {a: spaces.Discrete(self.n_actions) for a in self.possible_agents}
        state_dim = len(self.possible_agents) * dim + 2 * w.tasks.n
        self.state_space = spaces.Box(-CLIP, CLIP, (state_dim,), np.float32)
        self.agents: list[str] = []
        self._obs_matrix: np.ndarray | None = None
        self._trail = None  # the renderer's drone trail (rgb_array frames), made on first use

    # -- spaces ------------------------------------------------------------------------------

    def observation_space(self, agent: str) -> spaces.Dict:
        return self._obs_space[agent]

    def action_space(self, agent: str) -> spaces.Discrete:
        return self._act_space[agent]

    def agent_type(self, agent: str) -> str:
        """``"satellite"``, ``"drone"`` or ``"station"``."""
        return AGENT_TYPES[self._type[self._index[agent]]]

    # -- API ---------------------------------------------------------------------------------

    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1)[0])
        self.world.reset(np.random.default_rng(seed))
        self.agents = list(self.possible_agents)
        obs = self.observe(self.agents)
        infos = {a: {"agent_type": self.agent_type(a)} for a in self.agents}
        return obs, infos

    def step(self, actions: Mapping[str, Any]):
        w, kk = self.world, self.world.top_k
        if not self.agents:
            raise RuntimeError("step() called after the episode ended: call reset()")
        if not isinstance(actions, Mapping):
            raise ValueError(
                f"actions must be a mapping of agent name to action, got {type(actions).__name__}"
            )
        acts = [kk + IDLE] * w.n_agents  # a list: cheaper than numpy item assignment
        for agent, action in actions.items():
            i = self._index.get(agent) if isinstance(agent, str) else None
            if i is None or agent not in self.agents:
                raise ValueError(
                    f"action for {short_repr(agent)}: not a live agent of this episode"
                )
            acts[i] = self._check_action(agent, action)
        live = list(self.agents)
        out = w.step(np.array(acts, np.int64))
        share = reward_shares(out.information, out.energy_wh, out.infeasible,
                              self.scenario.reward)  # fmt: skip
        team = float(share.sum())
        truncated = w.done
        obs = self.observe(live)
        rewards, terms, truncs, infos = {}, {}, {}, {}
        # Python lists once: indexing them is much cheaper than float(array[i]) per agent.
        failed, shares, info = out.failed.tolist(), share.tolist(), out.information.tolist()
        energy, infeasible = out.energy_wh.tolist(), out.infeasible.tolist()
        acquired, delivered = out.acquired.tolist(), out.delivered.tolist()
        downlinked, imaging = out.downlinked.tolist(), out.imaging.tolist()
        onboard = w.onboard_value().tolist()
        fusion = None if w.perception is None else w.perception.metrics_due(w.k, truncated)
        for a in live:
            i = self._index[a]
            rewards[a] = team
            terms[a] = failed[i]
            truncs[a] = truncated and not failed[i]
            infos[a] = {
                "agent_type": self._type_name[i],
                "reward_share": shares[i],
                "information": info[i],
                "energy_wh": energy[i],
                "infeasible": infeasible[i],
                "acquired": acquired[i],
                "delivered": delivered[i],
                "onboard_value": onboard[i],
                "downlinked": downlinked[i],
                "imaging": imaging[i],
            }
            if fusion is not None:
                infos[a]["fusion"] = fusion
        self.agents = [a for a in live if not (terms[a] or truncs[a])]
        if self.render_mode == "human":
            self.render()
        return obs, rewards, terms, truncs, infos

    def _check_action(self, agent: str, action: Any) -> int:
        # An integer (Python or numpy, or a 0-d integer array), or a float that is exactly
        # one (1.0, not 1.5); never a bool, a string, None or a longer array.
        if isinstance(action, np.ndarray) and action.ndim == 0:
            action = action[()]
        ok = False
        if isinstance(action, (int, np.integer)) and not isinstance(action, (bool, np.bool_)):
            value = int(action)
            ok = 0 <= value < self.n_actions
        elif isinstance(action, (float, np.floating)) and math.isfinite(action):
            ok = float(action).is_integer() and 0 <= action < self.n_actions
            value = int(action) if ok else -1
        if not ok:
            raise ValueError(
                f"action for {agent!r} must be an integer in [0, {self.n_actions}), "
                f"got {short_repr(action)}"
            )
        return value

    def observe(self, agents: list[str]) -> dict[str, dict[str, np.ndarray]]:
        """The observations of ``agents`` (``{"observation", "action_mask"}`` each) in the
        world's current state, as ``reset`` and ``step`` return them."""
        options = self.world.options()
        matrix = self.observer.build(self.world, options)
        self._obs_matrix = matrix
        mask = options.candidates.mask.astype(np.int8)
        return {
            a: {"observation": matrix[self._index[a]], "action_mask": mask[self._index[a]]}
            for a in agents
        }

    def state(self) -> np.ndarray:
        """Global state for centralised critics: every agent's observation (zeros for
        failed agents), then each task's variance ratio and active flag."""
        w = self.world
        matrix = self._obs_matrix  # the last observations returned
        if matrix is None:
            matrix = self.observer.build(w, w.options())
        ratio = w.options().task_variance_ratio
        tasks = np.concatenate([ratio, w.tasks.active(w.t_s).astype(float)])
        return np.clip(np.concatenate([matrix.ravel(), tasks]), -CLIP, CLIP).astype(np.float32)

    def render(self):
        if self.render_mode is None:
            return None
        from sagsim.envs.views.render import DroneTrail, render_ansi, render_rgb

        if self.render_mode == "rgb_array":
            if self._trail is None:
                self._trail = DroneTrail()  # the frames' drone trails, this env's own
            return render_rgb(self.world, trail=self._trail)
        text = render_ansi(self.world)
        if self.render_mode == "human":
            print(text)
            return None
        return text

    def close(self) -> None:
        pass
