"""Training data for :mod:`sagsim.fusion.train`: episodes streamed through a learned fuser, the
training crops and the whole-grid validation snapshots, and the validation score.

See :mod:`sagsim.fusion.train` for what the data are (conditions, snapshots, crops, validation);
the constants below are its knobs.
"""

from __future__ import annotations

import math

import numpy as np

from sagsim.fusion.fidelity import ideal_snapshot

__all__ = ["VAL_CONDITIONS", "VAL_SEED_BASE", "VAL_SHIFTS_PX", "random_conditions",
           "run_episode", "training_pairs", "validate", "validation_snapshots"]  # fmt: skip

VAL_SEED_BASE = 1_000_000
VAL_CONDITIONS = {"cloud_fraction": 0.3, "latency_s": 0.0}
VAL_SHIFTS_PX = (1.0, None, 3.0)  # held-out episode i uses VAL_SHIFTS_PX[i % 3]
MIN_SEEN_FRACTION = 0.1  # a training crop must have this much seen ground
ORACLE_SHARE = 0.25  # training episodes on the ideal stream (registered, no cloud, no noise)
ARCHIVE_SHARE = 0.75  # training episodes with the archive base map as prior (else flat)
# Training episodes with the scenario's open data (else without: the network must also
# serve scenarios, such as minimal, and hours with fine images only).
OPEN_DATA_SHARE = 0.6
FRESH_S = 300.0  # "fresh" snapshots fall this soon after an arrival
# Training episodes that also give crops of their ideal-coverage snapshot
# (sagsim.fusion.fidelity): without them the network never sees complete, fresh, perfect coverage
# and corrects it anyway (ideal-case PSNR 30–33 dB after 3 epochs instead of > 40).
IDEAL_SHARE = 0.25
# Forced misregistration of the other episodes (px; None: the sensor model's own, the
# realistic case, drawn three times as often).
SHIFTS_PX = (None, None, None, 0.0, 0.5, 1.0, 2.0, 3.0)


def run_episode(model, scenario, seed, times_s, conditions, prior="archive", duration_s=None):
    """Stream one episode (:func:`sagsim.fusion.simulate.simulate`; ``conditions`` are its keywords,
    with ``oracle=True`` its ideal stream: no misregistration, cloud or noise) through a
    :class:`LearnedFuser` built on ``model`` and yield ``(t_s, stack, seen, kalman_mean,
    prior_mean, truth)`` at each of the sorted ``times_s`` (or ``times_s(arrivals)`` when
    it is a function of the stream's arrival times). ``prior``: ``"archive"`` (the base map
    of :func:`sagsim.fusion.simulate.archive_map`, as the benchmark) or ``"flat"`` (the band means
    of the truth at 0, as ``sagsim.envs.world.perception``)."""
    from sagsim.fusion import simulate
    from sagsim.fusion.learned import LearnedFuser

    scene = simulate.scene_for(scenario, seed)
    cond = dict(conditions)
    oracle = cond.pop("oracle", False)
    if not cond.pop("open_data", True):
        scenario = scenario.model_copy(update={"open_data": []})
    sim = simulate.simulate(scenario, seed, duration_s=duration_s, oracle=oracle, **cond)
    stream = sim.oracle if oracle else sim.observations
    if callable(times_s):
        times_s = times_s(np.array([a for a, _ in stream]), sim.duration_s)
    fuser = LearnedFuser(model=model, **simulate.fuser_kwargs(scenario, scene))
    n_bands, shape = len(scene.bands), scene.shape[1:]
    if prior == "archive":
        prior_mean = simulate.archive_map(scene)
    else:
        means = scene.truth_at(0.0).reshape(n_bands, -1).mean(axis=1)
        prior_mean = np.broadcast_to(means[:, None, None], scene.shape).astype(float)
    fuser.reset(n_bands, shape, 0.0, prior_mean=prior_mean)
    k = 0
    for t in times_s:
        k, _ = simulate.replay(fuser, stream, float(t), k)
        stack, seen, mean, _ = fuser.features()
        yield fuser.t_s, stack, seen, mean, prior_mean, scene.truth_at(fuser.t_s)


def snapshot_times(rng, duration_s: float, n: int) -> np.ndarray:
    """``n`` sorted times in the episode's last 85 % (the map has had time to fill)."""
    return np.sort(rng.uniform(0.15 * duration_s, duration_s, n))


def training_times(rng, n: int):
    """Half of ``n`` snapshots at random times, half within :data:`FRESH_S` after a random
    arrival (fresh images, whose correction is ~0 when they are registered)."""

    def times(arrivals, duration_s):
        fresh = (
            rng.choice(arrivals, n // 2) + rng.uniform(0, FRESH_S, n // 2) if arrivals.size else []
        )
        both = np.r_[snapshot_times(rng, duration_s, n - len(fresh)), fresh]
        return np.sort(np.minimum(both, duration_s))

    return times


def random_conditions(rng) -> tuple[dict, str]:
    """Training conditions and prior of one episode (see the module doc)."""
    if rng.random() < ORACLE_SHARE:
        cond = {"oracle": True}
    else:
        cond = {"cloud_fraction": [None, 0.0, 0.3, 0.6][rng.integers(0, 4)],
                "shift_px": SHIFTS_PX[rng.integers(0, len(SHIFTS_PX))],
                "latency_s": [0.0, 0.0, 600.0, 3600.0][rng.integers(0, 4)]}  # fmt: skip
    if rng.random() >= OPEN_DATA_SHARE:
        cond["open_data"] = False
    return cond, "archive" if rng.random() < ARCHIVE_SHARE else "flat"


def training_pairs(model, scenario, seeds, args, rng, bar):
    """Crops of (stack float16, target float16, seen bool) from the episodes of ``seeds``
    and, for :data:`IDEAL_SHARE` of them, from their ideal-coverage snapshot."""
    xs, ys, ms = [], [], []
    for seed in seeds:
        times = training_times(rng, args.snapshots)
        cond, prior = random_conditions(rng)
        for _t, stack, seen, mean, _prior, truth in run_episode(
            model, scenario, int(seed), times, cond, prior, args.duration_s
        ):
            target = np.where(seen, (truth - mean) / model.scale[:, None, None], 0.0)
            _crops(stack, target, seen, args, rng, (xs, ys, ms))
        if rng.random() < IDEAL_SHARE:
            _label, stack, target, seen = ideal_snapshot(model, scenario, int(seed))
            _crops(stack, target, seen, args, rng, (xs, ys, ms))
        bar.update(1)
    if not xs:
        return None
    return np.stack(xs), np.stack(ys), np.stack(ms)


def _crops(stack, target, seen, args, rng, out) -> None:
    """Append ``args.crops`` random ``args.crop``-cell crops with enough seen ground (each
    at least :data:`MIN_SEEN_FRACTION`) to the lists ``out`` = (xs, ys, ms)."""
    crop, (xs, ys, ms) = args.crop, out
    rows, cols = seen.shape[1:]
    any_seen = seen.any(axis=0)
    for _ in range(args.crops):
        for _try in range(20):  # a crop with enough seen ground, if there is one
            r = rng.integers(0, max(rows - crop, 0) + 1)
            c = rng.integers(0, max(cols - crop, 0) + 1)
            win = np.s_[r : r + crop, c : c + crop]
            if any_seen[win].mean() >= MIN_SEEN_FRACTION:
                break
        else:
            continue
        xs.append(_pad(stack[(slice(None), *win)], crop).astype(np.float16))
        ys.append(_pad(target[(slice(None), *win)], crop).astype(np.float16))
        ms.append(_pad(seen[(slice(None), *win)], crop))


def _pad(a: np.ndarray, crop: int) -> np.ndarray:
    """Zero-pad a crop of a grid smaller than ``crop`` (zero: unseen, no loss)."""
    h, w = a.shape[-2:]
    if h == crop and w == crop:
        return a
    return np.pad(a, ((0, 0), (0, crop - h), (0, crop - w)))


def validation_snapshots(model, scenario, args, bar):
    """Whole-grid snapshots of the held-out episodes: (condition label, stack float32,
    target = (truth − Kalman mean) / data range float32 on every cell, seen)."""
    duration = args.duration_s or scenario.duration_s
    out = []
    for i in range(args.val_episodes):
        rng = np.random.default_rng(VAL_SEED_BASE + i)
        times = snapshot_times(rng, duration, max(2, args.snapshots // 2))
        cond = {**VAL_CONDITIONS, "shift_px": VAL_SHIFTS_PX[i % len(VAL_SHIFTS_PX)]}
        label = f"shift_px={cond['shift_px']}"
        for _t, stack, seen, mean, _prior, truth in run_episode(
            model, scenario, VAL_SEED_BASE + i, times, cond, "archive", args.duration_s
        ):
            target = (truth - mean) / model.scale[:, None, None]
            out.append((label, stack, target.astype(np.float32), seen))
        bar.update(1)
    return out


def validate(model, snapshots) -> dict:
    """PSNR (dB; every band over its data range, R = 1) of the learned and the Kalman map
    over the seen cells and over all cells (unseen cells hold the prior in both), pooled
    over the snapshots, and the seen-cell figures per condition."""
    import torch

    model.net.eval()
    sums: dict = {}
    with torch.no_grad():
        for label, stack, target, seen in snapshots:
            pred = model.net(torch.from_numpy(stack)[None])[0].numpy()
            err = target - np.where(seen, pred, 0.0)
            for key in ("all", label):
                acc = sums.setdefault(key, np.zeros(5))
                acc += (np.sum(err[seen] ** 2), np.sum(target[seen] ** 2), seen.sum(),
                        np.sum(err**2), target.size)  # fmt: skip
    model.net.train()

    def db(se, n):
        return 10 * math.log10(n / se) if se > 0 else math.inf

    out = {}
    for key, (se_l, se_k, n_seen, se_all, n_all) in sums.items():
        se_unseen_k = se_all - se_l  # unseen cells: the same error in both maps
        res = {"psnr_learned_db": db(se_l, n_seen), "psnr_kalman_db": db(se_k, n_seen),
               "psnr_all_learned_db": db(se_all, n_all),
               "psnr_all_kalman_db": db(se_k + se_unseen_k, n_all)}  # fmt: skip
        res["gain_db"] = res["psnr_learned_db"] - res["psnr_kalman_db"]
        res["gain_all_db"] = res["psnr_all_learned_db"] - res["psnr_all_kalman_db"]
        if key == "all":
            out.update(res, seen_cells=int(n_seen))
        else:
            out.setdefault("by_condition", {})[key] = {k: round(v, 3) for k, v in res.items()}
    per = [c["psnr_learned_db"] for c in out.get("by_condition", {}).values()]
    out["mean_condition_db"] = float(np.mean(per)) if per else out["psnr_learned_db"]
    return out
