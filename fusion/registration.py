"""Registration: estimate an observation's misregistration against the current map and undo it.

Convention (the sensor model must follow it): an observation misregistered by
``(dy, dx)`` grid cells (its ``true_shift_cells``) shows the ground displaced by +``(dy,
dx)``: the content that belongs at cell ``p`` appears at ``p + (dy, dx)``, as
``scipy.ndimage.shift(image, (dy, dx))`` does to an image. :func:`estimate_shift` returns the
shift in that convention, in cells (a pixel of ``factor`` f spans f cells), and
:func:`register` resamples the observation by ``−shift`` so that it lines up with the grid.

:func:`estimate_shift`:

1. the reference map (``(n_bands, rows, cols)``, e.g. the fuser's mean) is cut to the
   observation's window, its bands reduced to those observed and block-averaged to the
   observation's ``factor``, so both images have the same pixels;
2. the bands are standardised over the valid pixels and projected on the reference's first
   principal component (one 2-D image, the same weights for both), so bands that
   anti-correlate (NIR and NDWI) add texture instead of cancelling;
3. a coarse shift by ``skimage.registration.phase_cross_correlation``: the upsampled (``1 /
   upsample_factor`` pixel) form when every pixel is valid, the masked form (whole pixels
   only: skimage ignores ``upsample_factor`` with masks) when clouds hide some;
4. a sub-pixel refinement, in both cases: the shift that maximises the normalised
   cross-correlation between the observation and the reference shifted by it (cubic
   spline), over the valid pixels away from the border (the central
   :data:`REFINE_MAX_SIDE` pixels of a large window), searched within ±1 pixel of step 3.
   This removes the edge bias of the periodic FFT correlation and gives sub-pixel accuracy
   with clouds.

With too few valid pixels (:data:`MIN_VALID_PIXELS`) or a flat reference no shift can be
estimated and ``(0.0, 0.0)`` is returned.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np
from scipy import ndimage, optimize
from skimage.registration import phase_cross_correlation

from sagsim.fusion.observation import Observation

__all__ = [
    "MIN_VALID_PIXELS",
    "RegistrationResult",
    "estimate_and_register",
    "estimate_shift",
    "register",
    "residual_cells",
]

# Fewer valid pixels than this: no estimate (a shift from a handful of pixels is noise).
MIN_VALID_PIXELS = 64
# Fewer than this many pixels per side: no estimate.
MIN_SIDE_PIXELS = 8
# skimage's masked correlation ignores translations with less overlap than this.
OVERLAP_RATIO = 0.3
# Cubic spline resampling for the refinement and for register().
SPLINE_ORDER = 3
# The refinement looks at most at this many central pixels per side.
REFINE_MAX_SIDE = 96
# Relative standard deviation below which a band is flat (no texture to register on).
FLAT_STD = 1e-9


class RegistrationResult(NamedTuple):
    """``observation`` resampled onto the grid, the ``shift_cells`` estimated (dy, dx), and
    ``residual_cells`` = |estimated − true shift| in cells (for reports only)."""

    observation: Observation
    shift_cells: tuple[float, float]
    residual_cells: float


def _reference_pixels(observation: Observation, reference_mean, reference_valid):
    """The reference cut to the window, observed bands, block-averaged: ``(k, h, w)`` and a
    ``(h, w)`` mask (a pixel is valid when all its cells are)."""
    r0, r1, c0, c1 = observation.window
    ref = np.asarray(reference_mean, float)[np.asarray(observation.band_index), r0:r1, c0:c1]
    f = observation.factor
    k, hh, ww = ref.shape
    h, w = hh // f, ww // f
    blocks = ref.reshape(k, h, f, w, f).mean(axis=(2, 4))
    ok = np.isfinite(blocks).all(axis=0)
    if reference_valid is not None:
        cells = np.asarray(reference_valid, bool)[r0:r1, c0:c1]
        ok &= cells.reshape(h, f, w, f).all(axis=(1, 3))
    return blocks, ok


def _project(ref: np.ndarray, obs: np.ndarray, mask: np.ndarray, ref_ok: np.ndarray):
    """Standardise each band over ``mask`` and project both images on the reference's first
    principal component: two ``(h, w)`` images (0 outside ``ref_ok`` and ``mask``
    respectively), or None if flat."""
    rv, ov = ref[:, mask], obs[:, mask]
    r_std, o_std = rv.std(axis=1), ov.std(axis=1)
    keep = (r_std > FLAT_STD * (1 + np.abs(rv).max(axis=1))) & (o_std > 0)
    if not keep.any():
        return None
    rz = (ref[keep] - rv[keep].mean(axis=1)[:, None, None]) / r_std[keep][:, None, None]
    oz = (obs[keep] - ov[keep].mean(axis=1)[:, None, None]) / o_std[keep][:, None, None]
    if rz.shape[0] == 1:
        weights = np.ones(1)
    else:
        corr = np.corrcoef(rz[:, mask])
        weights = np.linalg.eigh(corr)[1][:, -1]
    ref_img = np.tensordot(weights, rz, axes=1)
    obs_img = np.tensordot(weights, oz, axes=1)
    return np.where(ref_ok, ref_img, 0.0), np.where(mask, obs_img, 0.0)


def _central(n: int, margin: int) -> slice:
    """The central ``REFINE_MAX_SIDE`` + 2 ``margin`` of ``n`` pixels (all if fewer)."""
    keep = REFINE_MAX_SIDE + 2 * margin
    if n <= keep:
        return slice(0, n)
    lo = (n - keep) // 2
    return slice(lo, lo + keep)


def _ncc(ref_img, obs_img, mask, shift_px) -> float:
    """Normalised cross-correlation of the observation with the reference shifted by
    ``shift_px`` over ``mask``."""
    moved = ndimage.shift(ref_img, shift_px, order=SPLINE_ORDER, mode="nearest")
    a, b = moved[mask], obs_img[mask]
    a, b = a - a.mean(), b - b.mean()
    denom = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denom) if denom > 0 else 0.0


def estimate_shift(
    observation: Observation,
    reference_mean,
    *,
    reference_valid=None,
    upsample_factor: int = 20,
    refine: bool = True,
) -> tuple[float, float]:
    """The observation's misregistration ``(dy, dx)`` in grid cells (see the module doc).

    ``reference_mean`` ``(n_bands, rows, cols)`` on the region grid (e.g. the fused map);
    ``reference_valid`` optional bool ``(rows, cols)``: cells of the reference to trust (e.g.
    where its variance is below the prior). ``refine`` False stops after the FFT step.
    """
    f = observation.factor
    ref, ref_ok = _reference_pixels(observation, reference_mean, reference_valid)
    obs = np.asarray(observation.values, float)
    mask = np.asarray(observation.valid, bool) & np.isfinite(obs).all(axis=0) & ref_ok
    h, w = mask.shape
    if min(h, w) < MIN_SIDE_PIXELS or mask.sum() < MIN_VALID_PIXELS:
        return 0.0, 0.0
    ref = np.where(ref_ok, ref, 0.0)
    images = _project(ref, np.where(np.isfinite(obs), obs, 0.0), mask, ref_ok)
    if images is None:
        return 0.0, 0.0
    ref_img, obs_img = images
    if mask.all() and ref_ok.all():
        window = np.outer(np.hanning(h), np.hanning(w))
        pcc, _, _ = phase_cross_correlation(
            ref_img * window, obs_img * window, upsample_factor=upsample_factor
        )
    else:
        pcc = phase_cross_correlation(
            ref_img, obs_img, reference_mask=ref_ok, moving_mask=mask, overlap_ratio=OVERLAP_RATIO
        )[0]
    start = -np.asarray(pcc, float)  # skimage returns the shift that undoes ours
    if refine:
        # The central REFINE_MAX_SIDE pixels (enough for the accuracy, bounded cost), tested
        # away from the border by the shift's reach.
        margin = int(np.ceil(np.abs(start).max())) + 2
        rows, cols = _central(h, margin), _central(w, margin)
        ref_c, obs_c = ref_img[rows, cols], obs_img[rows, cols]
        inner = np.zeros_like(mask)
        inner[margin : h - margin, margin : w - margin] = True
        inner = (inner & mask)[rows, cols]
        if inner.sum() >= MIN_VALID_PIXELS:
            result = optimize.minimize(
                lambda s: -_ncc(ref_c, obs_c, inner, s),
                start,
                method="Powell",
                bounds=[(start[0] - 1, start[0] + 1), (start[1] - 1, start[1] + 1)],
                options={"xtol": 1e-3, "ftol": 1e-9},
            )
            start = np.asarray(result.x, float)
    return float(start[0] * f), float(start[1] * f)


def register(observation: Observation, shift) -> Observation:
    """The observation resampled by ``−shift`` (cells; pixels = cells / factor) onto the grid.

    Values: cubic spline of each band (cloudy pixels filled with the band's valid mean first
    so they cannot ring into their neighbours). Valid: a pixel stays valid only if the
    resampling drew it entirely from valid pixels inside the window (one pixel more is
    dropped next to any invalid or outside pixel, the spline's reach). ``true_shift_cells``
    and everything else are copied unchanged.
    """
    dy, dx = (float(s) / observation.factor for s in shift)
    if dy == 0.0 and dx == 0.0:
        return dataclasses.replace(
            observation, values=observation.values.copy(), valid=observation.valid.copy()
        )
    valid = np.asarray(observation.valid, bool)
    values = np.asarray(observation.values, float)
    ok = valid & np.isfinite(values).all(axis=0)
    out = np.empty(values.shape, np.float32)
    for b in range(values.shape[0]):
        fill = values[b][ok].mean() if ok.any() else 0.0
        band = np.where(ok, values[b], fill)
        out[b] = ndimage.shift(band, (-dy, -dx), order=SPLINE_ORDER, mode="nearest")
    drawn = ndimage.shift(ok.astype(float), (-dy, -dx), order=1, mode="constant", cval=0.0)
    new_valid = ndimage.binary_erosion(drawn > 1.0 - 1e-6, border_value=1)
    return dataclasses.replace(observation, values=out, valid=new_valid)


def residual_cells(observation: Observation, shift) -> float:
    """|estimated − true| misregistration in cells, from ``true_shift_cells`` (reports only)."""
    ty, tx = observation.true_shift_cells
    return float(np.hypot(float(shift[0]) - ty, float(shift[1]) - tx))


def estimate_and_register(observation: Observation, reference_mean, **kwargs) -> RegistrationResult:
    """:func:`estimate_shift` then :func:`register`, with the residual error for the report."""
    shift = estimate_shift(observation, reference_mean, **kwargs)
    return RegistrationResult(
        register(observation, shift), shift, residual_cells(observation, shift)
    )
