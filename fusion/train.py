"""Train the :class:`sagsim.fusion.learned.LearnedFuser` network on simulated episodes of a
scenario.

    python -m sagsim.fusion.train SCENARIO [--episodes N] [--epochs N] [--seed S] [--out PATH]
                                    [--minutes M] [--val-episodes N] [--steps N] [...]

SCENARIO is a YAML path or a shipped scenario's name. (The data code and the constants
named below are in :mod:`sagsim.fusion.training_data`.) Data: ``--episodes`` training episodes
of the scenario (:func:`sagsim.fusion.simulate.simulate`), each with its own seed (so its own
landscape, noise, clouds and misregistration) and drawn conditions: a quarter on the ideal
(oracle) stream, the rest with cloud fraction (scenario's, 0, 0.3, 0.6), misregistration
(``SHIFTS_PX``: the sensor model's own in 3 of 8, else 0, 0.5, 1, 2, 3 px) and delivery
latency (0, 10 min, 1 h) at random, with the scenario's ``open_data`` in
``OPEN_DATA_SHARE`` of all episodes (else without); the prior is the archive base map
(:func:`sagsim.fusion.simulate.archive_map`) in three episodes of four, else flat band means (as
``sagsim.envs.world.perception``). Each stream runs through the fuser's Kalman filter and trackers;
at ``--snapshots`` times per episode (half at random, half within ``FRESH_S`` of an
arrival) ``--crops`` random ``--crop``-cell squares (each at least 10 % seen) become
training pairs (stack → (truth − Kalman mean) / data range); ``IDEAL_SHARE`` of the
episodes add crops of their :func:`sagsim.fusion.fidelity.ideal_snapshot` (target ≈ 0).

Validation: ``--val-episodes`` held-out seeds (``VAL_SEED_BASE`` + i; cloud 0.3, archive
prior, misregistration 1 px, the sensor model's own, 3 px in turn), scored on the **whole
grid** at their snapshots after every epoch: PSNR of the learned and of the Kalman map, each
band over its data range (R = 1), over the seen cells and over all cells (unseen cells hold
the prior in both), printed. Training: Adam on the MSE over seen cells, random flips and
quarter turns, cosine learning-rate decay over the planned steps; it stops after
``--epochs`` epochs, ``--steps`` optimiser steps or ``--minutes`` of wall time (data
generation included), whichever comes first. The untrained network (exactly the Kalman
map) is written first; after that, an epoch's network replaces it when its validation score
(the mean over the three conditions of the seen-cell PSNR) is the best so far **and** it
leaves perfect data alone: PSNR ≥ :data:`sagsim.fusion.fidelity.IDEAL_MIN_PSNR_DB` on
:func:`sagsim.fusion.fidelity.ideal_snapshot`. The checkpoint is written atomically to ``--out``
(default :func:`sagsim.fusion.learned.default_checkpoint`), with the figures in its ``meta`` and in
``OUT.json`` (history, per-condition figures, train loss before and after). Bad flags: one
line on stderr, exit status 2.
"""

from __future__ import annotations

import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from sagsim.cli import ArgumentParser, ranged
from sagsim.fusion.fidelity import IDEAL_MIN_PSNR_DB, ideal_snapshot
from sagsim.fusion.training_data import (
    MIN_SEEN_FRACTION,
    VAL_CONDITIONS,
    VAL_SEED_BASE,
    VAL_SHIFTS_PX,
    training_pairs,
    validate,
    validation_snapshots,
)

USAGE_ERROR = 2
INTERRUPTED = 130


class _Parser(ArgumentParser):
    """Whole flag names only (prefix matching ran `--timestep 1000` as `--timesteps`), an
    unknown flag named with the closest known one (:class:`sagsim.cli.ArgumentParser`)."""

    def error(self, message: str):  # one line, exit 2, as for every bad input
        sys.stderr.write(f"sagsim.fusion.train: {message}\n")
        raise SystemExit(USAGE_ERROR)


def parse_args(argv):
    ap = _Parser(prog="python -m sagsim.fusion.train", description=__doc__.splitlines()[0])
    ap.add_argument("scenario", help="scenario YAML path or shipped name (e.g. flood_wuhan)")
    ap.add_argument("--episodes", type=ranged(int, 1, 10_000), default=24,
                    help="training episodes (default 24)")  # fmt: skip
    ap.add_argument("--val-episodes", type=ranged(int, 1, 100), default=3, dest="val_episodes",
                    help="held-out validation episodes (default 3)")  # fmt: skip
    ap.add_argument("--epochs", type=ranged(int, 1, 100_000), default=40)
    ap.add_argument("--steps", type=ranged(int, 1, 10**8), help="stop after N optimiser steps")
    ap.add_argument("--minutes", type=ranged(float, 0.01, 10_000.0), default=18.0,
                    help="wall-time budget, data generation included (default 18)")  # fmt: skip
    ap.add_argument("--seed", type=ranged(int, 0, 2**31 - 1), default=0)
    ap.add_argument("--out", type=Path, help="checkpoint path (default fusion/weights/...)")
    ap.add_argument("--snapshots", type=ranged(int, 1, 1000), default=6,
                    help="snapshot times per episode (default 6)")  # fmt: skip
    ap.add_argument("--crops", type=ranged(int, 1, 10_000), default=16,
                    help="training crops per snapshot (default 16)")  # fmt: skip
    ap.add_argument("--crop", type=ranged(int, 8, 1024), default=64, help="crop side, cells")
    ap.add_argument("--duration-s", type=ranged(float, 60.0, 10**8), dest="duration_s",
                    help="episode length (default: the scenario's)")  # fmt: skip
    ap.add_argument("--width", type=ranged(int, 2, 256), default=16, help="U-Net width")
    ap.add_argument("--levels", type=ranged(int, 1, 5), default=2, help="U-Net levels")
    ap.add_argument("--batch", type=ranged(int, 1, 4096), default=16)
    ap.add_argument("--lr", type=ranged(float, 1e-6, 1.0), default=2e-3)
    ap.add_argument("--threads", type=ranged(int, 1, 256), default=2, help="torch threads")
    ap.add_argument("--quiet", action="store_true", help="no progress bars")
    return ap.parse_args(argv)


def fail(message: str) -> int:
    sys.stderr.write(f"sagsim.fusion.train: {message}\n")
    return USAGE_ERROR


# ------------------------------------------------------------------ training


def train(args, scenario, out: Path) -> int:
    import torch
    from tqdm import tqdm

    from sagsim.atomic import write_json_atomic
    from sagsim.fusion.learned import LearnedModel
    from sagsim.fusion.simulate import scene_for

    t0 = time.monotonic()
    deadline = t0 + 60.0 * args.minutes
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    held_out = {VAL_SEED_BASE + i for i in range(args.val_episodes)}
    seeds = [int(s) for s in rng.integers(0, 2**31 - 1, 2 * args.episodes)
             if int(s) not in held_out][: args.episodes]  # fmt: skip
    scene0 = scene_for(scenario, seeds[0])
    n_bands = len(scene0.bands)
    offset = scene0.truth_at(0.5 * scenario.duration_s).reshape(n_bands, -1).mean(axis=1)
    model = LearnedModel.new(n_bands, offset, scene0.data_range, args.width, args.levels,
                             seed=args.seed)  # fmt: skip
    del scene0

    with tqdm(total=args.episodes + args.val_episodes, desc="episodes", unit="ep",
              disable=args.quiet, dynamic_ncols=True) as bar:  # fmt: skip
        data = training_pairs(model, scenario, seeds, args, rng, bar)
        val = validation_snapshots(model, scenario, args, bar)
    if data is None:
        return fail(f"{scenario.name}: no crop with {MIN_SEEN_FRACTION:.0%} seen ground; "
                    "try more --snapshots or a longer --duration-s")  # fmt: skip
    x_all, y_all, m_all = (torch.from_numpy(a) for a in data)
    n = x_all.shape[0]
    gen_s = time.monotonic() - t0
    per_epoch = max(1, math.ceil(n / args.batch))
    total = per_epoch * args.epochs
    total = total if args.steps is None else min(args.steps, total)
    opt = torch.optim.Adam(model.net.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s / total, 1.0)))
    )
    n_params = sum(p.numel() for p in model.net.parameters())
    ideal = ideal_snapshot(model, scenario, VAL_SEED_BASE)
    best = {**validate(model, val), "ideal_psnr_db": math.inf}
    kalman_db = best["psnr_kalman_db"]
    history = [{"epoch": 0, "step": 0, "loss": None, **best}]
    _say(args, f"{n} training crops from {len(seeds)} episodes in {gen_s:.0f} s; "
               f"{n_params} parameters; validation Kalman {kalman_db:.2f} dB")  # fmt: skip
    subset = torch.arange(min(n, 512))
    loss_before = _mean_loss(model, x_all[subset], y_all[subset], m_all[subset])
    meta = {"scenario": scenario.name, "n_params": n_params, "train_seeds": seeds,
            "val_seeds": sorted(held_out),
            "val_conditions": {**VAL_CONDITIONS, "shift_px": list(VAL_SHIFTS_PX)},
            "n_train_crops": n, "crop": args.crop, "data_s": round(gen_s, 1)}  # fmt: skip
    model.meta = {**meta, "best": {**best, "epoch": 0, "step": 0}}
    model.save(out)  # the untrained network: the Kalman map, until an epoch beats it
    step = epoch = 0
    losses: list[float] = []
    stopped = "epochs"
    model.net.train()
    bar = tqdm(total=total, desc="training", unit="step", disable=args.quiet, dynamic_ncols=True)
    try:
        while epoch < args.epochs and step < total:
            epoch += 1
            order = torch.from_numpy(rng.permutation(n))
            epoch_loss = []
            for i in range(0, n, args.batch):
                idx = order[i : i + args.batch]
                x, y, m = _augment(x_all[idx].float(), y_all[idx].float(), m_all[idx], rng)
                pred = model.net(x)
                loss = ((pred - y) ** 2 * m).sum() / m.sum().clamp(min=1)
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                step += 1
                epoch_loss.append(loss.item())
                losses.append(epoch_loss[-1])
                bar.update(1)
                bar.set_postfix(loss=f"{epoch_loss[-1]:.2e}")
                if step >= total or time.monotonic() > deadline:
                    stopped = "steps" if step >= total else "minutes"
                    break
            score = validate(model, val)
            score["ideal_psnr_db"] = validate(model, [ideal])["psnr_all_learned_db"]
            history.append({"epoch": epoch, "step": step,
                            "loss": float(np.mean(epoch_loss)), **score})  # fmt: skip
            # Only checkpoints that leave perfect data alone (sagsim.fusion.fidelity).
            faithful = score["ideal_psnr_db"] >= IDEAL_MIN_PSNR_DB
            improved = faithful and score["mean_condition_db"] > best["mean_condition_db"]
            _say(args, f"epoch {epoch}: loss {np.mean(epoch_loss):.3e}, validation PSNR "
                       f"learned {score['psnr_learned_db']:.2f} dB vs Kalman "
                       f"{score['psnr_kalman_db']:.2f} dB ({score['gain_db']:+.2f}) on seen "
                       f"cells, {score['gain_all_db']:+.2f} dB on all; ideal case "
                       f"{score['ideal_psnr_db']:.1f} dB" + (" *" if improved else ""),
                 bar)  # fmt: skip
            if improved:
                best = {**score, "epoch": epoch, "step": step}
                model.meta = {**meta, "best": best}
                model.save(out)
            if time.monotonic() > deadline:
                stopped = "minutes"
                break
    except KeyboardInterrupt:
        bar.close()
        sys.stderr.write(f"\nfusion.train: interrupted at step {step}; the best checkpoint so "
                         f"far is {out if out.exists() else 'not written yet'}\n")  # fmt: skip
        return INTERRUPTED
    bar.close()
    elapsed = time.monotonic() - t0
    loss_after = _mean_loss(model, x_all[subset], y_all[subset], m_all[subset])
    summary = {**meta, "best": best, "steps": step, "epochs": epoch, "stopped_by": stopped,
               "elapsed_s": round(elapsed, 1), "train_loss_before": loss_before,
               "train_loss_after": loss_after, "first_losses": losses[:5],
               "last_losses": losses[-5:], "history": history}  # fmt: skip
    write_json_atomic(out.with_suffix(".json"), summary)
    print(f"trained {step} steps ({epoch} epochs, {elapsed / 60:.1f} min, {n} crops): best "
          f"validation PSNR learned {best['psnr_learned_db']:.2f} dB vs Kalman "
          f"{best['psnr_kalman_db']:.2f} dB ({best['gain_db']:+.2f} dB) on seen cells, "
          f"{best['psnr_all_learned_db']:.2f} vs {best['psnr_all_kalman_db']:.2f} dB "
          f"({best['gain_all_db']:+.2f}) on all cells; wrote {out}")  # fmt: skip
    return 0


def _mean_loss(model, x, y, m) -> float:
    """The training loss (masked MSE) of the current network on crops ``x, y, m``."""
    import torch

    model.net.eval()
    with torch.no_grad():
        se = tot = 0.0
        for i in range(0, x.shape[0], 64):
            pred = model.net(x[i : i + 64].float())
            se += float((((pred - y[i : i + 64].float()) ** 2) * m[i : i + 64]).sum())
            tot += float(m[i : i + 64].sum())
    model.net.train()
    return se / max(tot, 1.0)


def _augment(x, y, m, rng):
    """The same random flip and quarter turn for the whole batch (the scene is isotropic)."""
    import torch

    k = int(rng.integers(0, 4))
    flip = bool(rng.integers(0, 2))
    out = []
    for a in (x, y, m):
        a = torch.rot90(a, k, dims=(-2, -1)) if k else a
        out.append(torch.flip(a, dims=(-1,)) if flip else a)
    return out


def _say(args, text: str, bar=None) -> None:
    if bar is not None and not args.quiet:
        bar.write(text)
    else:
        print(text, flush=True)


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from sagsim.envs.scenario.loader import ScenarioError
    from sagsim.envs.scenario.shipped import resolve_scenario
    from sagsim.fusion.learned import default_checkpoint

    try:
        scenario = resolve_scenario(args.scenario)
    except ScenarioError as e:
        return fail(str(e))
    out = args.out or default_checkpoint(scenario.name)
    if out.is_dir():
        return fail(f"--out: {out} is a folder; give a file path such as {out}/learned.pt")
    if out.parent.exists() and not out.parent.is_dir():
        return fail(f"--out: {out.parent} is not a folder")
    try:  # refuse now rather than after minutes of training lost to a failed save
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out.parent):
            pass
    except OSError as e:
        return fail(f"--out: cannot write in {out.parent} ({e.strerror or e})")
    if args.duration_s is not None and args.duration_s > scenario.duration_s:
        return fail(f"--duration-s: must be ≤ the scenario's duration_s "
                    f"({scenario.duration_s:g}), got {args.duration_s:g}")  # fmt: skip
    return train(args, scenario, out)


if __name__ == "__main__":
    raise SystemExit(main())
