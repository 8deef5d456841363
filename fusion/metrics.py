"""Quality of a fused map against the ground truth.

Array conventions (every function):

- An image is a float array of shape ``(bands, rows, cols)``; a 2-D ``(rows, cols)`` array is
  one band. Prediction and truth must have the same shape (ValueError otherwise).
- ``valid`` is an optional bool mask of shape ``(rows, cols)``: every metric reads only the
  valid pixels (for example where the truth is defined, or outside a cloud), the same pixels
  in every band. Pixels outside it are never read, so the truth may hold NaN there.
- A non-finite prediction or truth value at a valid pixel is an error (ValueError naming
  the metric): a fuser that emits NaN must be caught, not averaged around.
- Units: RMSE and MAE in the map's units (reflectance by default); PSNR in dB; SAM in
  degrees; SSIM, correlation, ERGAS, IoU, F1 and the normalised gain are dimensionless.

``evaluate_map`` gathers all of them into one dict of plain Python floats for reports.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from skimage.metrics import structural_similarity

__all__ = [
    "BandScores",
    "correlation",
    "ergas",
    "evaluate_map",
    "extent_f1",
    "extent_iou",
    "extent_mask",
    "mae",
    "normalised_gain",
    "psnr",
    "rmse",
    "sam",
    "ssim",
]

# skimage's default (uniform) window side for SSIM; tiny images use the largest odd side that fits.
SSIM_WIN_SIZE = 7
# Below a 3-pixel window the sample variance (ddof = 1) of one pixel is 0/0.
SSIM_MIN_WIN_SIZE = 3
# ERGAS is conventionally reported in percent (Wald 2000).
ERGAS_PERCENT = 100.0
# IoU and F1 of two empty extents: the prediction agrees perfectly that nothing happened.
EMPTY_EXTENT_SCORE = 1.0


class BandScores(NamedTuple):
    """A metric per band, ``per_band`` of shape ``(bands,)``, and its ``overall`` value."""

    per_band: np.ndarray
    overall: float


def _as_bands(a, name: str, metric: str) -> np.ndarray:
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim == 2:
        arr = arr[np.newaxis]
    if arr.ndim != 3:
        raise ValueError(
            f"{metric}: {name} must be (bands, rows, cols) or (rows, cols), got shape {arr.shape}"
        )
    return arr


def _prepare(metric: str, pred, truth, valid) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check shapes and finiteness; return ``(pred, truth, valid)`` as (b, r, c) and (r, c)."""
    p = _as_bands(pred, "pred", metric)
    t = _as_bands(truth, "truth", metric)
    if p.shape != t.shape:
        raise ValueError(f"{metric}: pred shape {p.shape} != truth shape {t.shape}")
    if valid is None:
        v = np.ones(p.shape[1:], dtype=bool)
    else:
        v = np.asarray(valid)
        if v.dtype != bool or v.shape != p.shape[1:]:
            raise ValueError(
                f"{metric}: valid must be a bool mask of shape {p.shape[1:]}, "
                f"got {v.dtype} {v.shape}"
            )
    if not v.any():
        raise ValueError(f"{metric}: the valid mask selects no pixel")
    for name, arr in (("pred", p), ("truth", t)):
        if not np.isfinite(arr[:, v]).all():
            raise ValueError(f"{metric}: {name} has non-finite values at valid pixels")
    return p, t, v


def _squared_error(metric, pred, truth, valid) -> np.ndarray:
    """Per-band mean squared error over valid pixels, shape ``(bands,)``."""
    p, t, v = _prepare(metric, pred, truth, valid)
    return np.mean((p[:, v] - t[:, v]) ** 2, axis=1)


def rmse(pred, truth, valid=None) -> BandScores:
    """Root-mean-square error, in the map's units.

    ``per_band[b]`` = sqrt(mean over valid pixels of (pred − truth)²) in band b; ``overall``
    pools all bands and valid pixels, sqrt(mean_b MSE_b), so that ``psnr`` = 20 log10(R /
    overall) exactly (it is the quadratic mean of the per-band values, not their mean).
    """
    mse = _squared_error("rmse", pred, truth, valid)
    return BandScores(np.sqrt(mse), float(np.sqrt(mse.mean())))


def mae(pred, truth, valid=None) -> BandScores:
    """Mean absolute error, in the map's units: per band, and ``overall`` = mean over bands.

    Every band has the same valid pixels, so the band mean equals the pooled mean.
    """
    p, t, v = _prepare("mae", pred, truth, valid)
    per_band = np.mean(np.abs(p[:, v] - t[:, v]), axis=1)
    return BandScores(per_band, float(per_band.mean()))


def _check_range(metric: str, data_range) -> float:
    r = float(data_range)
    if not (np.isfinite(r) and r > 0):
        raise ValueError(f"{metric}: data_range must be finite and > 0, got {data_range}")
    return r


def psnr(pred, truth, data_range, valid=None) -> float:
    """Peak signal-to-noise ratio in dB: 10 log10(data_range² / MSE), MSE pooled over bands.

    ``data_range`` (required, map units: 1.0 for reflectance in [0, 1]) is the nominal span
    of the quantity, never inferred from the images: a range read off each truth would give
    a low-contrast scene a lower PSNR for the same error, and scores would not compare across
    scenes, seeds or fusers. Returns ``inf`` for a perfect match.
    """
    r = _check_range("psnr", data_range)
    mse = float(_squared_error("psnr", pred, truth, valid).mean())
    if mse == 0.0:
        return float("inf")
    return float(10.0 * np.log10(r * r / mse))


def ssim(pred, truth, data_range, valid=None) -> float:
    """Mean structural similarity (Wang et al. 2004) via ``skimage.metrics.structural_similarity``.

    skimage defaults: a uniform ``SSIM_WIN_SIZE``-pixel window, sample covariance, K1 = 0.01,
    K2 = 0.03, with the fixed ``data_range`` (see ``psnr``) setting C1 = (K1 R)² and C2 =
    (K2 R)². Bands are the channel axis; the result is the mean over bands. Images smaller
    than the window use the largest odd window that fits (at least 3 pixels, else ValueError).

    With ``valid``, the invalid pixels of both images are set to the same value (that band's
    valid-truth mean, so they add no error and the truth's NaNs never reach the filter), the
    full SSIM map is computed, and it is averaged over the valid pixels that lie outside the
    half-window border strip, the strip skimage itself drops. An all-True mask therefore gives
    skimage's own score. Windows that straddle the mask's edge see agreeing filler, so SSIM
    there is mildly optimistic; windows inside the valid area are exact.
    """
    r = _check_range("ssim", data_range)
    p, t, v = _prepare("ssim", pred, truth, valid)
    side = min(p.shape[1:])
    win = min(SSIM_WIN_SIZE, side if side % 2 else side - 1)
    if win < SSIM_MIN_WIN_SIZE:
        raise ValueError(
            f"ssim: images must be at least {SSIM_MIN_WIN_SIZE}×"
            f"{SSIM_MIN_WIN_SIZE} pixels, got {p.shape[1:]}"
        )
    if not v.all():
        fill = t[:, v].mean(axis=1)[:, None]
        p, t = p.copy(), t.copy()
        p[:, ~v] = fill
        t[:, ~v] = fill
    _, s_map = structural_similarity(p, t, win_size=win, data_range=r, channel_axis=0, full=True)
    pad = (win - 1) // 2
    inner = np.zeros_like(v)
    inner[pad : v.shape[0] - pad, pad : v.shape[1] - pad] = True
    keep = v & inner
    if not keep.any():
        raise ValueError(f"ssim: no valid pixel lies {pad} or more pixels inside the border")
    return float(s_map[:, keep].mean())


def sam(pred, truth, valid=None) -> float:
    """Spectral angle mapper: mean over pixels of the angle between the two spectra, in degrees.

    The spectrum of a pixel is its vector over bands. Pixels where either spectrum is zero
    have no direction and are excluded; ``nan`` if no pixel remains. The angle ignores the
    spectra's lengths, so a prediction off by a per-pixel gain scores 0.
    """
    p, t, v = _prepare("sam", pred, truth, valid)
    ps, ts = p[:, v], t[:, v]  # (bands, n_valid)
    pn, tn = np.linalg.norm(ps, axis=0), np.linalg.norm(ts, axis=0)
    keep = (pn > 0) & (tn > 0)
    if not keep.any():
        return float("nan")
    pu, tu = ps[:, keep] / pn[keep], ts[:, keep] / tn[keep]
    # 2 atan2(|u − w|, |u + w|) rather than arccos(u·w): arccos loses precision near 0°,
    # exactly where good predictions live (Kahan's formula).
    angle = 2.0 * np.arctan2(np.linalg.norm(pu - tu, axis=0), np.linalg.norm(pu + tu, axis=0))
    return float(np.degrees(angle).mean())


def ergas(pred, truth, resolution_ratio, valid=None) -> float:
    """Relative dimensionless global error in synthesis (Wald 2000), dimensionless.

    ERGAS = 100 × (h / l) × sqrt(mean_b (RMSE_b / μ_b)²), with μ_b the mean of the truth in
    band b over valid pixels and ``resolution_ratio`` = h / l = fine (fused) pixel size /
    coarse (input) pixel size, e.g. 1/4 for 10 m fused from 40 m; 0 < h/l ≤ 1 (a ratio above 1
    is the inverted convention, ValueError). Pass 1.0 for the relative RMSE in percent. Lower
    is better, 0 is perfect; ``inf`` if a band's truth mean is 0 and its error is not (the
    metric is meant for positive radiance or reflectance bands).
    """
    ratio = float(resolution_ratio)
    if not 0.0 < ratio <= 1.0:
        raise ValueError(
            f"ergas: resolution_ratio = fine / coarse pixel size must be in "
            f"(0, 1], got {resolution_ratio}"
        )
    p, t, v = _prepare("ergas", pred, truth, valid)
    rmse_b = np.sqrt(np.mean((p[:, v] - t[:, v]) ** 2, axis=1))
    mean_b = t[:, v].mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(rmse_b == 0.0, 0.0, rmse_b / np.abs(mean_b))
    return float(ERGAS_PERCENT * ratio * np.sqrt(np.mean(rel**2)))


def correlation(pred, truth, valid=None) -> BandScores:
    """Pearson correlation over valid pixels: per band, and ``overall`` = mean over bands.

    A band where either image is constant has no correlation (``nan`` in ``per_band``); the
    overall value averages the bands where it is defined, and is ``nan`` if none is.
    """
    p, t, v = _prepare("corr", pred, truth, valid)
    dp = p[:, v] - p[:, v].mean(axis=1, keepdims=True)
    dt = t[:, v] - t[:, v].mean(axis=1, keepdims=True)
    denom = np.sqrt((dp**2).sum(axis=1) * (dt**2).sum(axis=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        per_band = np.where(denom > 0, (dp * dt).sum(axis=1) / denom, np.nan)
    # Rounding can push |r| a hair above 1 for perfectly (anti)correlated bands.
    per_band = np.clip(per_band, -1.0, 1.0)
    defined = np.isfinite(per_band)
    overall = float(per_band[defined].mean()) if defined.any() else float("nan")
    return BandScores(per_band, overall)


def extent_mask(index_band, threshold: float) -> np.ndarray:
    """Event extent (water, fire) as a bool ``(rows, cols)`` mask: ``index_band > threshold``.

    Strictly greater: a pixel exactly at the threshold is outside. A NaN index is outside too
    (comparisons with NaN are False); use ``valid`` to exclude such pixels from the scores.
    """
    return np.asarray(index_band, dtype=np.float64) > float(threshold)


def _confusion(metric: str, pred_mask, truth_mask, valid) -> tuple[int, int, int]:
    pm, tm = np.asarray(pred_mask), np.asarray(truth_mask)
    if pm.dtype != bool or tm.dtype != bool:
        raise ValueError(
            f"{metric}: masks must be bool (see extent_mask), got {pm.dtype} and {tm.dtype}"
        )
    if pm.shape != tm.shape:
        raise ValueError(f"{metric}: pred_mask shape {pm.shape} != truth_mask shape {tm.shape}")
    v = np.ones(pm.shape, bool) if valid is None else np.asarray(valid, dtype=bool)
    if v.shape != pm.shape:
        raise ValueError(f"{metric}: valid shape {v.shape} != mask shape {pm.shape}")
    if not v.any():
        raise ValueError(f"{metric}: the valid mask selects no pixel")
    pm, tm = pm[v], tm[v]
    tp = int(np.count_nonzero(pm & tm))
    return tp, int(np.count_nonzero(pm & ~tm)), int(np.count_nonzero(~pm & tm))


def extent_iou(pred_mask, truth_mask, valid=None) -> float:
    """Intersection over union of two bool extents, TP / (TP + FP + FN), over valid pixels.

    Both extents empty: ``EMPTY_EXTENT_SCORE`` = 1.0 (correctly predicting no event).
    """
    tp, fp, fn = _confusion("extent_iou", pred_mask, truth_mask, valid)
    total = tp + fp + fn
    return EMPTY_EXTENT_SCORE if total == 0 else tp / total


def extent_f1(pred_mask, truth_mask, valid=None) -> float:
    """F1 score (Dice) of two bool extents, 2 TP / (2 TP + FP + FN), over valid pixels.

    Both extents empty: ``EMPTY_EXTENT_SCORE`` = 1.0, as for ``extent_iou``.
    """
    tp, fp, fn = _confusion("extent_f1", pred_mask, truth_mask, valid)
    total = 2 * tp + fp + fn
    return EMPTY_EXTENT_SCORE if total == 0 else 2 * tp / total


def normalised_gain(
    fused: float, lower: float, upper: float, *, higher_is_better: bool = True
) -> float:
    """Where a fuser's score sits between two reference scores: (fused − lower) / (upper − lower).

    ``lower`` is the score of the lower bound (persistence, ``LatestFuser``) and ``upper`` that
    of the upper bound (the oracle: perfect registration, no cloud, no noise), all in the
    metric's own units. The same formula serves both directions: 0 at persistence, 1 at the
    oracle, below 0 worse than persistence, above 1 better than the oracle. For a "lower is
    better" metric (RMSE, MAE, SAM, ERGAS) pass ``higher_is_better=False``; then the oracle's
    ``upper`` is the smaller number. The flag only checks the order: an oracle that scores
    worse than persistence means the bounds are swapped or broken (ValueError).

    Returns ``nan`` when ``upper == lower`` (no room between the bounds) or when any score is
    non-finite (e.g. the PSNR of an exact oracle is inf: use the RMSE gain instead).
    """
    f, lo, up = float(fused), float(lower), float(upper)
    if not (np.isfinite(f) and np.isfinite(lo) and np.isfinite(up)) or up == lo:
        return float("nan")
    if (up < lo) if higher_is_better else (up > lo):
        better = "higher" if higher_is_better else "lower"
        raise ValueError(
            f"normalised_gain: {better} is better, but the upper bound {up} scores "
            f"worse than the lower bound {lo}; are lower and upper swapped?"
        )
    return (f - lo) / (up - lo)


def evaluate_map(
    pred,
    truth,
    *,
    data_range,
    valid=None,
    index_band=None,
    threshold=None,
    resolution_ratio: float = 1.0,
) -> dict[str, float]:
    """All metrics of ``pred`` against ``truth`` in one dict of plain Python floats.

    Keys: ``rmse``, ``mae``, ``psnr_db``, ``ssim``, ``corr`` over all bands (the ``overall``
    values above); ``sam_deg`` and ``ergas`` over the spectral bands, i.e. all bands except
    ``index_band`` (an index such as NDWI is signed and not part of the spectrum, and its
    near-zero mean would dominate ERGAS); with ``index_band`` (int) and ``threshold`` (both or
    neither), ``event_iou`` and ``event_f1`` of ``extent_mask`` on that band of each image.
    ``sam_deg`` and ``ergas`` are ``nan`` when no spectral band remains. Values may be inf or
    nan (see each metric); ``json.dumps`` writes them as Infinity / NaN.
    """
    if (index_band is None) != (threshold is None):
        raise ValueError("evaluate_map: give index_band and threshold together, or neither")
    p, t, v = _prepare("evaluate_map", pred, truth, valid)
    out = {
        "rmse": rmse(p, t, v).overall,
        "mae": mae(p, t, v).overall,
        "psnr_db": psnr(p, t, data_range, v),
        "ssim": ssim(p, t, data_range, v),
        "corr": correlation(p, t, v).overall,
    }
    spectral = list(range(p.shape[0]))
    if index_band is not None:
        if not -p.shape[0] <= index_band < p.shape[0]:
            raise ValueError(
                f"evaluate_map: index_band {index_band} out of range for {p.shape[0]} bands"
            )
        spectral.remove(index_band % p.shape[0])
    if spectral:
        out["sam_deg"] = sam(p[spectral], t[spectral], v)
        out["ergas"] = ergas(p[spectral], t[spectral], resolution_ratio, v)
    else:
        out["sam_deg"] = out["ergas"] = float("nan")
    if index_band is not None:
        pm, tm = extent_mask(p[index_band], threshold), extent_mask(t[index_band], threshold)
        out["event_iou"] = extent_iou(pm, tm, v)
        out["event_f1"] = extent_f1(pm, tm, v)
    return {k: float(val) for k, val in out.items()}
