"""Behaviour fingerprint: SHA-256 over seeded random rollouts of every shipped scenario.

Usage: ``python benchmarks/rollout_hash.py [--steps N] [--seeds S] [--out PATH]``.
Prints one digest per case and a combined digest, and writes them as JSON (default
``benchmarks/results/rollout_hash.json``).

A refactor that must not change behaviour (moving modules, renaming locals, splitting a
class) must leave every digest identical: run this before and after on the same machine and
compare. Each case resets with ``seed`` and steps with uniform random *masked* actions drawn
from ``numpy.random.default_rng(seed)``; every step's observations, action masks, rewards,
terminations, truncations and infos, and the global ``state()``, are fed to the hash
(floats as their exact bytes, infos as sorted JSON with ``repr`` of each float). The cases
are every shipped scenario in ``variance_only`` mode, plus ``minimal`` in ``imagery`` mode
(the fused map's metrics in the infos) and ``minimal`` rendered as ``rgb_array`` frames.

A digest is a fingerprint of one machine's floating point: compare digests from the same
machine and library versions only.
"""

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sagsim import envs  # noqa: E402
from sagsim.atomic import write_json_atomic  # noqa: E402
from sagsim.envs.scenario.shipped import shipped_scenarios  # noqa: E402


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot hash a {type(value).__name__}")


def _float_repr(value):
    """Floats as ``repr`` (exact) inside the infos' JSON; other values unchanged."""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return {k: _float_repr(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_float_repr(v) for v in value]
    return value


def rollout_digest(
    scenario: str, seed: int, steps: int, render: bool = False, **overrides
) -> tuple[str, dict]:
    """SHA-256 hex digest of ``steps`` masked-random steps of ``scenario`` from ``seed``, and
    what the rollout exercised (images acquired and delivered, team return)."""
    env = envs.parallel_env(
        scenario, max_cycles=steps, render_mode="rgb_array" if render else None, **overrides
    )
    digest = hashlib.sha256()
    rng = np.random.default_rng(seed)
    obs, infos = env.reset(seed=seed)

    def feed(obs, infos, rewards=None, terms=None, truncs=None):
        for agent in sorted(obs):
            digest.update(agent.encode())
            digest.update(np.ascontiguousarray(obs[agent]["observation"]).tobytes())
            digest.update(np.ascontiguousarray(obs[agent]["action_mask"]).tobytes())
        extra = {"infos": infos, "rewards": rewards, "terms": terms, "truncs": truncs}
        text = json.dumps(_float_repr(extra), sort_keys=True, default=_json_default)
        digest.update(text.encode())
        digest.update(np.ascontiguousarray(env.state()).tobytes())
        if render:
            digest.update(np.ascontiguousarray(env.render()).tobytes())

    feed(obs, infos)
    seen = {"acquired": 0, "delivered": 0, "return": 0.0}
    while env.agents:
        actions = {}
        for agent in env.agents:
            legal = np.flatnonzero(obs[agent]["action_mask"])
            actions[agent] = int(rng.choice(legal)) if legal.size else 0
        obs, rewards, terms, truncs, infos = env.step(actions)
        feed(obs, infos, rewards, terms, truncs)
        seen["acquired"] += sum(int(i.get("acquired", 0)) for i in infos.values())
        seen["delivered"] += sum(int(i.get("delivered", 0)) for i in infos.values())
        seen["return"] += next(iter(rewards.values()), 0.0)
    env.close()
    return digest.hexdigest(), seen


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--steps", type=int, default=150, help="steps per rollout (150)")
    parser.add_argument("--seeds", type=int, default=2, help="seeds per case (2)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/rollout_hash.json"))
    args = parser.parse_args(argv)
    cases = [(name, {}, False) for name in shipped_scenarios()]
    cases += [("minimal", {"perception": "imagery"}, False), ("minimal", {}, True)]
    results, combined = {}, hashlib.sha256()
    for name, overrides, render in cases:
        label = name + "".join(f" {k}={v}" for k, v in overrides.items())
        label += " rgb_array" if render else ""
        for seed in range(args.seeds):
            hexdigest, seen = rollout_digest(name, seed, args.steps, render, **overrides)
            results[f"{label} seed={seed}"] = hexdigest
            combined.update(hexdigest.encode())
            print(
                f"{hexdigest}  {label} seed={seed}  (acquired {seen['acquired']}, "
                f"delivered {seen['delivered']}, return {seen['return']:.2f})",
                flush=True,
            )
    print(f"{combined.hexdigest()}  combined ({args.steps} steps per rollout)")
    out = {"steps": args.steps, "seeds": args.seeds, "combined": combined.hexdigest()}
    write_json_atomic(Path(args.out), {**out, "cases": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
