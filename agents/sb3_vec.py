"""``sag_eo_v0`` as a stable-baselines3 ``VecEnv``: every (copy, agent) pair is one
sub-environment, so one shared policy drives every satellite, drone and station
(parameter sharing; the observation's type one-hot tells them apart).

Why not SuperSuit's ``pettingzoo_env_to_vec_env_v1`` + ``concat_vec_envs_v1``: it is
semi-maintained, its seeding is broken with SB3 2.9 (``reset(seed=...)`` reaches the
copies wrongly), it drops PettingZoo's ``action_mask`` (sb3-contrib's ``MaskablePPO``
needs ``action_masks()`` on the VecEnv), and its handling of agents that die mid-episode
changes the batch shape. This adapter is small and does exactly what is needed:

- ``num_envs = n_copies × n_agents``, slots in copy-major, ``possible_agents`` order;
- observation space: the observation ``Box`` (float32); action space ``Discrete(K + 4)``;
  ``action_masks()`` ``(num_envs, K + 4)`` bool, also reachable as
  ``env_method("action_masks")`` (what ``MaskablePPO`` calls);
- copies in this process (``subprocess=False``) or one worker process each;
- seeding: ``seed(s)`` (or ``reset`` after it) seeds copy c with ``s + c × n_agents`` (its
  first slot's SB3 seed); each copy then draws every later episode seed from its own
  generator, so a run is reproducible from one seed;
- fixed batch shape, failed agents, auto-reset and episode figures: see
  :mod:`sagsim.agents.slots`.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.vec_env import VecEnv

from sagsim.agents.slots import SlotCopy
from sagsim.envs.observations import CLIP

__all__ = ["SagVecEnv"]


def _worker(remote, parent_remote, args: tuple, kwargs: dict) -> None:
    """A copy in its own process: answers (command, payload) messages until "close"."""
    parent_remote.close()
    copy = SlotCopy(*args, **kwargs)
    try:
        while True:
            cmd, data = remote.recv()
            if cmd == "step":
                out = copy.step(data)
                remote.send((*out, copy.masks))
            elif cmd == "reset":
                remote.send((copy.reset(data), copy.masks))
            elif cmd == "call":
                name, a, kw = data
                remote.send(copy.call(name, *a, **kw))
            elif cmd == "set":
                remote.send(copy.set(*data))
            elif cmd == "close":
                copy.close()
                remote.send(None)
                return
    except (EOFError, KeyboardInterrupt):  # the parent went away or Ctrl-C: just stop
        return


class _Remote:
    """The parent's handle on a worker process (the same methods as :class:`SlotCopy`)."""

    def __init__(self, ctx, args: tuple, kwargs: dict):
        self.remote, work_remote = ctx.Pipe()
        self.process = ctx.Process(
            target=_worker, args=(work_remote, self.remote, args, kwargs), daemon=True
        )
        self.process.start()
        work_remote.close()
        self.masks: np.ndarray | None = None

    def reset(self, seed):
        self.remote.send(("reset", seed))
        obs, self.masks = self.remote.recv()
        return obs

    def step_send(self, actions):
        self.remote.send(("step", actions))

    def step_recv(self):
        *out, self.masks = self.remote.recv()
        return out

    def call(self, name, *args, **kwargs):
        self.remote.send(("call", (name, args, kwargs)))
        return self.remote.recv()

    def set(self, name, value):
        self.remote.send(("set", (name, value)))
        self.remote.recv()

    def close(self):
        try:
            self.remote.send(("close", None))
            self.remote.recv()
        except (BrokenPipeError, EOFError):
            pass
        self.process.join(timeout=5)


class SagVecEnv(VecEnv):
    """See the module docstring. ``scenario`` and ``overrides`` as for
    :func:`sagsim.envs.parallel_env`; ``reward`` (``"team"`` or ``"share"``) and
    ``shaping_gamma`` (potential-based shaping with this γ, or None): :mod:`sagsim.agents.slots`."""

    def __init__(self, scenario: Any = "flood_wuhan", n_copies: int = 1, *,
                 subprocess: bool = False, reward: str = "team", max_cycles: int | None = None,
                 shaping_gamma: float | None = None, start_method: str | None = None,
                 **overrides: Any):  # fmt: skip
        if int(n_copies) != n_copies or n_copies < 1:
            raise ValueError(f"n_copies must be an integer ≥ 1, got {n_copies!r}")
        from sagsim.envs.scenario.shipped import resolve_scenario

        sc = resolve_scenario(scenario, **overrides)  # checked once, shipped to the workers
        args = (sc,)
        kwargs = {"reward": reward, "max_cycles": max_cycles, "shaping_gamma": shaping_gamma}
        probe = SlotCopy(*args, **kwargs)
        self.agents, self.n_agents = probe.agents, probe.n
        self.n_copies, self.subprocess = int(n_copies), bool(subprocess)
        if self.subprocess:
            probe.close()
            method = start_method or (
                "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
            )
            ctx = mp.get_context(method)
            self.copies = [_Remote(ctx, args, kwargs) for _ in range(self.n_copies)]
        else:
            self.copies = [probe] + [SlotCopy(*args, **kwargs) for _ in range(self.n_copies - 1)]
        obs_space = spaces.Box(-CLIP, CLIP, (probe.obs_dim,), np.float32)
        super().__init__(self.n_copies * self.n_agents, obs_space, spaces.Discrete(probe.n_actions))
        self.scenario = sc
        self._actions: np.ndarray | None = None
        self._masks = np.zeros((self.num_envs, probe.n_actions), bool)

    # -- the VecEnv protocol ---------------------------------------------------------------

    def reset(self) -> np.ndarray:
        obs = []
        for c, copy in enumerate(self.copies):
            obs.append(copy.reset(self._seeds[c * self.n_agents]))
        self._reset_seeds()
        self._gather_masks()
        return np.concatenate(obs)

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions).reshape(self.n_copies, self.n_agents)
        if self.subprocess:
            for copy, acts in zip(self.copies, self._actions, strict=True):
                copy.step_send(acts)

    def step_wait(self):
        if self.subprocess:
            outs = [copy.step_recv() for copy in self.copies]
        else:
            outs = [c.step(a) for c, a in zip(self.copies, self._actions, strict=True)]
        self._gather_masks()
        obs = np.concatenate([o[0] for o in outs])
        rewards = np.concatenate([o[1] for o in outs])
        dones = np.concatenate([o[2] for o in outs])
        infos = [info for o in outs for info in o[3]]
        return obs, rewards, dones, infos

    def _gather_masks(self) -> None:
        self._masks = np.concatenate([copy.masks for copy in self.copies])

    def action_masks(self) -> np.ndarray:
        """``(num_envs, K + 4)`` bool: the feasible actions of every slot now."""
        return self._masks

    def close(self) -> None:
        for copy in self.copies:
            copy.close()

    def _slots(self, indices) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        if isinstance(indices, int):
            return [indices]
        return list(indices)

    def get_attr(self, attr_name: str, indices=None) -> list[Any]:
        if attr_name == "action_masks":
            return [self.action_masks] * len(self._slots(indices))
        return [self.copies[i // self.n_agents].call(attr_name) for i in self._slots(indices)]

    def has_attr(self, attr_name: str) -> bool:
        return attr_name == "action_masks" or super().has_attr(attr_name)

    def set_attr(self, attr_name: str, value: Any, indices=None) -> None:
        for c in sorted({i // self.n_agents for i in self._slots(indices)}):
            self.copies[c].set(attr_name, value)

    def env_method(self, method_name: str, *method_args, indices=None, **method_kwargs):
        slots = self._slots(indices)
        if method_name == "action_masks":
            return [self._masks[i] for i in slots]
        return [self.copies[i // self.n_agents].call(method_name, *method_args, **method_kwargs)
                for i in slots]  # fmt: skip

    def env_is_wrapped(self, wrapper_class, indices=None) -> list[bool]:
        return [False] * len(self._slots(indices))

    def get_images(self) -> Sequence[np.ndarray | None]:
        return [None] * self.num_envs
