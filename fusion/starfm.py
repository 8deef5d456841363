"""STARFM: the spatial and temporal adaptive reflectance fusion model (Gao, Masek, Schwaller
and Hall 2006, IEEE TGRS 44(8), 2207–2218), written from the paper.

The fine image at time t is predicted from a fine base image L(t_k) and the change that the
coarse sensor saw between t_k and t, M(t) − M(t_k), borrowed from the spectrally similar
neighbours of each pixel in a moving window (the paper's eq. 5 with one base pair):

    L(c, t) = Σ_n W_n (M(n, t) + L(n, t_k) − M(n, t_k))

over the neighbours n of the centre c in a (2h + 1)² window (``half_window`` h cells):

- **similar pixels**: |L(n, t_k) − L(c, t_k)| ≤ 2σ / m (σ the standard deviation of the base
  image, m the number of land-cover classes, ``n_classes``), and the paper's sample
  filtering: the neighbour must carry better spectral and temporal information than the
  centre, S_n ≤ S_c + σ_lm and T_n ≤ T_c + σ_mm, with S = |L(t_k) − M(t_k)| (spectral
  difference), T = |M(t) − M(t_k)| (temporal difference), σ_lm = sqrt(σ_L² + σ_M²) and σ_mm
  = sqrt(2) σ_M from the observations' noise variances. The centre is always a candidate.
- **weights**: C_n = S_n · T_n · D_n with D_n = 1 + d_n / A (d the distance in cells, A =
  ``distance_scale``, default h), W_n = (1 / C_n) / Σ (1 / C_n). S and T get a floor of
  :data:`DIFF_FLOOR` (one digital number at the usual 10⁴ reflectance scale) so that a pure
  or unchanged neighbour gets a large, finite weight.
- **special cases** (paper): where the centre's S or T is below :data:`DIFF_FLOOR` its own
  value is used, L(c, t_k) + M(c, t) − M(c, t_k) (no change: the base; fine = coarse: the
  coarse value).

The coarse images are resampled to the grid by painting each pixel over its cells
(nearest), as STARFM uses MODIS resampled to the Landsat grid.

Simplifications (documented deviations from the paper):

- one base pair, per cell: the base L(t_k) is the **latest** fine observation (``factor`` ≤
  ``fine_factor``) of each cell (a mosaic, cells may come from different dates), and M(t_k)
  is the latest coarse value of that cell when the base arrived (or, if none yet, the first
  coarse value after it); M(t) is the latest coarse value. A late observation never
  replaces a newer one.
- **the prior mean is the base of every cell without a fine observation**: the fine base
  map given at :meth:`reset` (the archive, an earlier fine image) plays the paper's L(t_k).
  No coarse image exists at the archive date, so its M(t_k) is **synthesised** by
  aggregating the base: the prior's block mean over the footprint of the coarse pixel that
  gave the cell its M(t) (recomputed with every newer coarse image, as its pixels may
  differ in size and alignment). This assumes that the coarse and the fine sensor are
  radiometrically consistent (a coarse pixel reads the mean of its fine cells; a bias
  between them would be taken for change). A coarse image thus adds its change
  M(t) − M(t_k) to the prior's texture instead of painting over it; where the prior is
  flat over a coarse pixel (S = 0, the paper's special case) the cells read the coarse
  value.
- σ is the standard deviation of the base in the moving window rather than over the whole
  image, so that a prediction depends only on its window and an update recomputes only the
  windows it touches (the estimate is cached).
- no land-cover classification: m enters only through the similarity threshold.
- bands are predicted independently (the paper does the same per band).

Cells that no coarse image has reached read their base (the latest fine value, else the
prior mean).

Variance (a heuristic, not a posterior): the noise variances of the values that entered the
prediction (σ_L² + σ_M(t_k)² + σ_M(t)²; with a fine base only σ_L², on the prior base with
coarse only σ_M², the synthesised M(t_k) counting as exact) plus the process noise since
the newest of them, capped at the prior variance.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from sagsim.fusion.fusers import Fuser, observed_cells, paint
from sagsim.fusion.observation import Observation

__all__ = ["DIFF_FLOOR", "StarfmFuser"]

# Floor of the spectral and temporal differences (map units): 1 DN at a 10⁴ reflectance scale.
DIFF_FLOOR = 1e-4


def _put(dst: np.ndarray, win, where: np.ndarray, value) -> None:
    """``dst[win] = value`` where ``where`` (in place)."""
    dst[win] = np.where(where, value, dst[win])


def _block_mean(cells: np.ndarray, factor: int) -> np.ndarray:
    """The mean of each ``factor × factor`` block of ``cells`` ``(H, W)``, painted back over
    its cells: a coarse sensor's view of a fine image."""
    f = int(factor)
    if f == 1:
        return cells
    h, w = cells.shape[0] // f, cells.shape[1] // f
    return paint(cells.reshape(h, f, w, f).mean(axis=(1, 3)), f)


class StarfmFuser(Fuser):
    """STARFM with one base pair per cell (see the module doc)."""

    name = "starfm"

    def __init__(
        self,
        prior_variance=0.01,
        process_noise_per_s=1e-7,
        *,
        half_window: int = 3,
        n_classes: int = 4,
        distance_scale: float | None = None,
        fine_factor: int = 1,
    ):
        super().__init__(prior_variance, process_noise_per_s)
        if half_window < 1 or n_classes < 1 or fine_factor < 1:
            raise ValueError("half_window, n_classes and fine_factor must be ≥ 1")
        self.half_window = int(half_window)
        self.n_classes = int(n_classes)
        self.distance_scale = float(distance_scale or half_window)
        self.fine_factor = int(fine_factor)

    def _reset(self) -> None:
        shape = (self.n_bands, *self.shape)
        nan = np.full(shape, np.nan)
        self.base = self.prior_mean.copy()  # L(t_k): the prior until a fine image arrives
        self.base_var = np.zeros(shape, np.float32)
        self.base_t_s = np.full(shape, -np.inf)  # -inf: the base is the prior
        self.base_coarse = nan.copy()  # M(t_k)
        self.base_coarse_var = np.zeros(shape, np.float32)
        self.coarse = nan  # M(t)
        self.coarse_var = np.zeros(shape, np.float32)
        self.coarse_t_s = np.full(shape, -np.inf)
        self._pred = self.prior_mean.copy()
        self._dirty: list[list[int] | None] = [None] * self.n_bands

    def _update(self, observation: Observation) -> None:
        r0, r1, c0, c1 = observation.window
        fine = observation.factor <= self.fine_factor
        for row, band in enumerate(observation.band_index):
            win, values, ok = observed_cells(observation, row)
            r = self._noise(observation, row)
            if fine:
                ok &= self.base_t_s[band][win] <= observation.t_s
                for dst, value in (
                    (self.base, values),
                    (self.base_var, r),
                    (self.base_t_s, observation.t_s),
                    (self.base_coarse, self.coarse[band][win]),
                    (self.base_coarse_var, self.coarse_var[band][win]),
                ):
                    _put(dst[band], win, ok, value)
            else:
                ok &= self.coarse_t_s[band][win] <= observation.t_s
                fine_base = np.isfinite(self.base_t_s[band][win])
                first = ok & fine_base & np.isnan(self.base_coarse[band][win])
                _put(self.coarse[band], win, ok, values)
                _put(self.coarse_var[band], win, ok, r)
                _put(self.coarse_t_s[band], win, ok, observation.t_s)
                _put(self.base_coarse[band], win, first, values)
                _put(self.base_coarse_var[band], win, first, r)
                # On the prior base, M(t_k) is the prior seen through this image's pixels.
                synth = ok & ~fine_base
                archive = _block_mean(self.prior_mean[band][win], observation.factor)
                _put(self.base_coarse[band], win, synth, archive)
                _put(self.base_coarse_var[band], win, synth, 0.0)
            box = self._dirty[band]
            self._dirty[band] = (
                [r0, r1, c0, c1]
                if box is None
                else [min(box[0], r0), max(box[1], r1), min(box[2], c0), max(box[3], c1)]
            )

    def estimate(self) -> tuple[np.ndarray, np.ndarray]:
        h = self.half_window
        rows, cols = self.shape
        for band, box in enumerate(self._dirty):
            if box is not None:
                o0, o1 = max(box[0] - h, 0), min(box[1] + h, rows)
                p0, p1 = max(box[2] - h, 0), min(box[3] + h, cols)
                self._pred[band, o0:o1, p0:p1] = self._predict(band, o0, o1, p0, p1)
                self._dirty[band] = None
        return self._pred.copy(), self._variance()

    def _variance(self) -> np.ndarray:
        q = self.process_noise_per_s[:, None, None]
        prior = self.prior_variance[:, None, None]
        has_base, has_coarse = np.isfinite(self.base_t_s), np.isfinite(self.coarse)
        pair = has_base & np.isfinite(self.base_coarse)
        var = np.where(has_base, self.base_var, 0.0) + np.where(has_coarse, self.coarse_var, 0.0)
        var = var + np.where(pair, self.base_coarse_var, 0.0)
        newest = np.maximum(self.base_t_s, np.where(pair, self.coarse_t_s, -np.inf))
        newest = np.where(has_base, newest, self.coarse_t_s)
        seen = np.isfinite(newest)
        grown = var + q * np.where(seen, self.t_s - newest, 0.0)
        return np.where(seen, np.minimum(grown, prior), prior)

    def _window(self, array: np.ndarray, o0: int, o1: int, p0: int, p1: int) -> np.ndarray:
        """``array`` rows o0 − h : o1 + h, cols p0 − h : p1 + h as float64, NaN off the grid."""
        h = self.half_window
        out = np.full((o1 - o0 + 2 * h, p1 - p0 + 2 * h), np.nan)
        a0, a1 = max(o0 - h, 0), min(o1 + h, self.shape[0])
        b0, b1 = max(p0 - h, 0), min(p1 + h, self.shape[1])
        out[a0 - (o0 - h) : a1 - (o0 - h), b0 - (p0 - h) : b1 - (p0 - h)] = array[a0:a1, b0:b1]
        return out

    def _predict(self, band: int, o0: int, o1: int, p0: int, p1: int) -> np.ndarray:
        """STARFM prediction of rows o0:o1, cols p0:p1 of ``band`` (with the fallbacks)."""
        h = self.half_window
        big_l = self._window(self.base[band], o0, o1, p0, p1)
        m_base = self._window(self.base_coarse[band], o0, o1, p0, p1)
        m_now = self._window(self.coarse[band], o0, o1, p0, p1)
        have = np.isfinite(big_l) & np.isfinite(m_base) & np.isfinite(m_now)
        centre = np.s_[h : h + o1 - o0, h : h + p1 - p0]
        out_l, out_m = big_l[centre], m_now[centre]
        prior = self.prior_mean[band, o0:o1, p0:p1]
        fallback = np.where(np.isfinite(out_m), out_m, prior)
        fallback = np.where(np.isfinite(out_l), out_l, fallback)
        if not have[centre].any():
            return fallback
        l0 = np.where(have, big_l, 0.0)
        s = np.where(have, np.abs(big_l - m_base), np.inf)  # spectral difference
        t = np.where(have, np.abs(m_now - m_base), np.inf)  # temporal difference
        change = np.where(have, m_now + big_l - m_base, 0.0)
        # Local σ of the base over the window (counts, sums and squares by box filters).
        size = 2 * h + 1
        count = ndimage.uniform_filter(have.astype(float), size, mode="constant")[centre]
        mean = ndimage.uniform_filter(l0, size, mode="constant")[centre]
        mean_sq = ndimage.uniform_filter(l0 * l0, size, mode="constant")[centre]
        with np.errstate(invalid="ignore", divide="ignore"):
            mu = mean / count
            sigma = np.sqrt(np.maximum(mean_sq / count - mu * mu, 0.0))
        threshold = np.where(count > 0, 2.0 * sigma / self.n_classes, 0.0)
        sl = lambda a: self._window(a[band], o0, o1, p0, p1)[centre]  # noqa: E731
        var_l, var_mb, var_mt = sl(self.base_var), sl(self.base_coarse_var), sl(self.coarse_var)
        lc, sc, tc = l0[centre], s[centre], t[centre]
        s_lim = sc + np.sqrt(var_l + var_mb)
        t_lim = tc + np.sqrt(var_mb + var_mt)
        num = np.zeros_like(lc)
        den = np.zeros_like(lc)
        hh, ww = lc.shape
        for dy in range(-h, h + 1):
            for dx in range(-h, h + 1):
                n = np.s_[h + dy : h + dy + hh, h + dx : h + dx + ww]
                cand = have[n] & (np.abs(l0[n] - lc) <= threshold)
                cand &= (s[n] <= s_lim) & (t[n] <= t_lim)
                dist = 1.0 + np.hypot(dy, dx) / self.distance_scale
                c = np.maximum(s[n], DIFF_FLOOR) * np.maximum(t[n], DIFF_FLOOR) * dist
                weight = np.where(cand, 1.0 / c, 0.0)
                num += weight * change[n]
                den += weight
        have_c = have[centre]
        with np.errstate(invalid="ignore", divide="ignore"):
            pred = np.where(have_c, num / den, fallback)
        own = have_c & ((sc < DIFF_FLOOR) | (tc < DIFF_FLOOR))
        return np.where(own, change[centre], pred)
