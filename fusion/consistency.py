"""Image-level consistency test: is a whole image offset from what the other sources report?

The per-cell consensus of :class:`sagsim.fusion.robust.RobustFuser` needs several sources to have
seen the same cells recently; in a real stream most cells are seen by one source a day, so
a source that shifts all its values (a calibration bias, a malicious offset) would be fused
untested there. This test needs no overlap. Per band, an image's **offset** is the median of
its valid pixels' residuals against a reference map taken at the image's resolution (the
mean of each ``factor × factor`` block of the reference), in the map's units:

    offset_b = median over valid pixels of (value_b − reference block mean_b).

Why it works: against a reference that no liar can touch (the archive base map given at
reset, the fuser's prior mean), an honest image's residual is the ground change since the
archive plus its noise. Genuine change is sparse (a flood or a fire covers a small part of
a satellite strip) or shared (a season, haze: every honest sensor sees it), so the median
of an honest image is the shared part, the same for every honest source; a biased source
sits its bias away from it. The median, not the mean: an event (or stuck pixels) over a
fraction p < ½ of the image moves it only to the noise's ½ / (1 − p) quantile (0.3 σ for
p = 20 %), however large the change.

The test (:meth:`OffsetGate.check`), per band: the **peers** are the other sources' latest
offsets (one per source and sensor kind, taken within ``max_age_s``); with at least
``min_peers`` of them the expected offset is their median ``c`` and their spread
``s = 1.4826 · MAD`` (σ of a Gaussian; it widens the test where honest sources legitimately
disagree, e.g. drones imaging different stretches of a flood). The image is consistent in
the band when

    |offset − c| ≤ k · sqrt(se² + s² + floor²)

with ``se = 1.2533 · 1.4826 · MAD(residuals) / sqrt(n)`` the standard error of the median of
``n`` pixels (Gaussian efficiency π/2; pixel residuals are spatially correlated, so this is
a lower bound: ``floor`` takes over for large images) and ``floor`` what neither term sees:
cross-calibration differences between honest sensors and atmospheric-correction residuals,
about 0.005–0.01 in reflectance (:data:`OFFSET_FLOOR`). With fewer peers (the first images
of a stream), the expected offset is 0 (no change since the reference) with the reference's
own per-cell variance in place of ``s²`` (``fallback_variance``: the prior variance for the
archive), so a first image can still be refused, but only for a change the prior deems
implausible. An image is consistent when every band is.

Index bands (NDWI, burn) are nonlinear in the reflectances, so a coarse sensor's index is not
the block mean of the fine one: honest coarse images sit 0.01–0.02 off in them, which the
peers' spread absorbs (it also makes those bands the least sensitive).

Limits: an image smaller than an event (a drone's survey of a flooded district) has a
genuine offset: :class:`sagsim.fusion.robust.RobustFuser` judges only images of at least
``min_image_cells`` cells. A liar that keeps the median (zero-mean noise, stuck pixels on a
minority of the image, a small false event, a stale replay of the same ground) passes: that
is the per-cell consensus's job. Colluding liars that are the majority of the recent
sources set ``c``.
"""

from __future__ import annotations

import numpy as np

from sagsim.sensor_kinds import source_of_key

__all__ = [
    "MAD_TO_STD",
    "MEDIAN_SE",
    "MIN_GATE_PIXELS",
    "OFFSET_FLOOR",
    "OffsetGate",
    "image_offsets",
]

# σ = 1.4826 MAD for Gaussian data.
MAD_TO_STD = 1.4826
# The standard error of the median of n Gaussian values is sqrt(π/2) ≈ 1.2533 × σ / sqrt(n).
MEDIAN_SE = 1.2533
# Offset disagreement between honest sensors no statistic here measures (map units): the
# cross-calibration of comparable sensors (≈ 2–5 % of a 0.1–0.3 reflectance) and residual
# atmospheric correction. k_sigma × floor (3 × 0.01) stays below a harmful bias of 0.05.
OFFSET_FLOOR = 0.01
# Fewer valid pixels than this: the median says too little, no image-level verdict.
MIN_GATE_PIXELS = 16


def image_offsets(
    values: np.ndarray, valid: np.ndarray, reference: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int]:
    """Per band row: the median of ``values − reference`` over the ``valid`` pixels and its
    standard error (see the module doc), and the number of valid pixels. ``values`` and
    ``reference`` ``(rows, h, w)``, ``valid`` ``(h, w)``; NaN offsets when none is valid."""
    n = int(valid.sum())
    if n == 0:
        nan = np.full(values.shape[0], np.nan)
        return nan, nan, 0
    residual = (values[:, valid] - reference[:, valid]).astype(np.float64)
    offset = np.median(residual, axis=1)
    mad = np.median(np.abs(residual - offset[:, None]), axis=1)
    return offset, MEDIAN_SE * MAD_TO_STD * mad / np.sqrt(n), n


class OffsetGate:
    """The image-level test against one reference (see the module doc).

    ``n_bands`` map bands; ``k_sigma`` the test's width in σ; ``floor`` and
    ``fallback_variance`` per band (map units and units²); ``min_peers`` the fewest other
    sources for a peer test; ``max_age_s`` how old a peer's offset may be. Records are kept
    per ``key`` (a source and sensor kind, :func:`sagsim.sensor_kinds.source_kind_key`):
    its latest offset and time per band.
    """

    def __init__(self, n_bands, *, k_sigma, floor, fallback_variance, min_peers, max_age_s):
        self.k_sigma = float(k_sigma)
        self.floor = np.asarray(floor, float)
        self.fallback_variance = np.asarray(fallback_variance, float)
        self.min_peers = int(min_peers)
        self.max_age_s = float(max_age_s)
        self.n_bands = int(n_bands)
        self.offset: dict[int, np.ndarray] = {}
        self.t_s: dict[int, np.ndarray] = {}

    def expected(self, key: int, t_s: float, bands: np.ndarray):
        """Per band of ``bands``: the expected offset, its variance (spread² or the fallback
        variance) and the number of peers behind it."""
        others = [k for k in self.offset if source_of_key(k) != source_of_key(key)]
        centre = np.zeros(len(bands))
        variance = self.fallback_variance[bands].copy()
        n_peers = np.zeros(len(bands), int)
        if not others:
            return centre, variance, n_peers
        offs = np.stack([self.offset[k][bands] for k in others])
        fresh = np.abs(np.stack([self.t_s[k][bands] for k in others]) - t_s) <= self.max_age_s
        offs = np.where(fresh, offs, np.nan)
        n_peers = np.isfinite(offs).sum(axis=0)
        for row in np.flatnonzero(n_peers >= self.min_peers):
            peer = offs[np.isfinite(offs[:, row]), row]
            centre[row] = np.median(peer)
            variance[row] = (MAD_TO_STD * np.median(np.abs(peer - centre[row]))) ** 2
        return centre, variance, n_peers

    def check(self, key: int, t_s: float, bands, offset, se) -> np.ndarray:
        """Per band row: is ``offset`` (its standard error ``se``) consistent with the
        others'? Rows with a NaN offset count as consistent."""
        bands = np.asarray(bands)
        centre, variance, _ = self.expected(key, t_s, bands)
        tol2 = self.k_sigma**2 * (se**2 + variance + self.floor[bands] ** 2)
        with np.errstate(invalid="ignore"):
            return ~((offset - centre) ** 2 > tol2)

    def record(self, key: int, t_s: float, bands, offset) -> None:
        """Keep ``offset`` as ``key``'s latest for its bands (NaN rows are skipped)."""
        if key not in self.offset:
            self.offset[key] = np.full(self.n_bands, np.nan)
            self.t_s[key] = np.full(self.n_bands, -np.inf)
        ok = np.isfinite(offset)
        bands = np.asarray(bands)[ok]
        self.offset[key][bands] = offset[ok]
        self.t_s[key][bands] = t_s

    def judge(self, key: int, t_s: float, bands, values, valid, reference, judged=True) -> bool:
        """One image (``values`` ``(rows, h, w)`` of map bands ``bands``, ``valid`` ``(h, w)``,
        ``reference`` at its resolution): its offsets are checked when ``judged``, then
        recorded as ``key``'s latest when it has :data:`MIN_GATE_PIXELS` valid pixels.
        Returns whether it is consistent (True when not checked)."""
        if valid.sum() < MIN_GATE_PIXELS:
            return True
        offset, se, _ = image_offsets(values, valid, reference)
        consistent = not judged or bool(self.check(key, t_s, bands, offset, se).all())
        self.record(key, t_s, bands, offset)
        return consistent
