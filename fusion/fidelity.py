"""The ideal case a learned fuser must not spoil, as a training guard.

Every fuser given noiseless, cloudless, registered, fresh fine images of the whole grid
must return the truth (the fusers' acceptance test). The Kalman map does so exactly; a
network correction on top of it can only add error there. Trained on realistic streams
(strips and mosaics, old data, misregistration, coarse open data), the network never sees
complete fresh coverage, and some training runs learn corrections that fire there too
(RMS 1–3 % of the range). :func:`ideal_snapshot` builds that case once (the network's input
does not depend on the network), and ``sagsim.fusion.train`` keeps only checkpoints whose
ideal-case PSNR is at least :data:`IDEAL_MIN_PSNR_DB`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["IDEAL_MIN_PSNR_DB", "IDEAL_T_S", "TILE_CELLS", "ideal_snapshot"]

# 40 dB: an RMS error of 1 % of each band's data range where the truth is fully known
# (the sensors' own noise is ~1 % of a pixel; anything above that is the network's doing).
IDEAL_MIN_PSNR_DB = 40.0
IDEAL_T_S = 600.0  # the images' time: the archive prior is 10 days and 10 minutes old
TILE_CELLS = (25, 24)  # the covering images: small (like drone mosaics), not grid-aligned


def ideal_snapshot(model, scenario, seed: int):
    """``("ideal", stack, target, seen)`` as ``sagsim.fusion.train.validate`` takes them: a
    :class:`sagsim.fusion.learned.LearnedFuser` on ``model`` with the archive prior, after
    noiseless, unblurred, registered fine images tiling the whole grid of ``scenario``
    (landscape ``seed``) at :data:`IDEAL_T_S`; ``target`` = (truth − Kalman mean) / scale."""
    from sagsim.fusion.learned import LearnedFuser
    from sagsim.fusion.sensing.sensor_model import SensorSpec, acquire
    from sagsim.fusion.simulate import archive_map, fuser_kwargs, scene_for

    scene = scene_for(scenario, seed)
    rows, cols = scene.shape[1:]
    fuser = LearnedFuser(model=model, **fuser_kwargs(scenario, scene))
    fuser.reset(len(scene.bands), (rows, cols), prior_mean=archive_map(scene))
    spec = SensorSpec(gsd_m=1.0, noise_std=0.0, psf_sigma_per_gsd=0.0)
    rng = np.random.default_rng(seed)
    th, tw = TILE_CELLS
    for r0 in range(0, rows, th):
        for c0 in range(0, cols, tw):
            window = (r0, min(r0 + th, rows), c0, min(c0 + tw, cols))
            fuser.update(acquire(scene, IDEAL_T_S, window, spec, rng, shift_cells=(0.0, 0.0)))
    stack, seen, mean, _ = fuser.features()
    target = (scene.truth_at(fuser.t_s) - mean) / model.scale[:, None, None]
    return "ideal", stack, target.astype(np.float32), seen
