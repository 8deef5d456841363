"""Sensor model: one acquisition of the ground truth → an
:class:`sagsim.fusion.observation.Observation`.

:func:`acquire` turns (scene, time, grid window, :class:`SensorSpec`, cloud-free cells, rng,
source agent) into an observation. Steps, in the order applied:

1. **GSD → pixel.** ``factor = max(1, round(gsd / cell))`` grid cells per pixel side
   (:func:`pixel_factor`); the window is clipped to the grid and trimmed (evenly at both
   ends, so its centre stays put) to a multiple of ``factor``.
2. **Misregistration.** Per-axis 1-sigma ground shift from the platform's position and
   pointing errors by :func:`sagsim.envs.physics.sensor_geometry.misregistration_m` (the
   foundation's georeferencing model, slant range and off-nadir stretch included), one draw of
   :func:`~sagsim.envs.physics.sensor_geometry.sample_misregistration` per acquisition (east →
   +cols, north → −rows: row 0 is north). ``values`` are the truth displaced by
   ``true_shift_cells`` in :func:`scipy.ndimage.shift`'s sense (a feature at cell (r, c)
   appears at (r + dr, c + dc)); registering means shifting by −``true_shift_cells``.
   Sub-cell part: linear interpolation (= ``ndimage.shift(order=1)``, the exact area
   overlap of the shifted cells); integer part: where the truth is read. The truth is read
   with a margin, so window edges are real data; only beyond the region's own border are
   edge cells repeated.
3. **PSF, then area averaging.** Gaussian PSF of σ = :data:`PSF_SIGMA_PER_GSD` × gsd (in
   cells: 0.5 × factor), sampled and normalised exactly as ``ndimage.gaussian_filter``
   (truncate 4); then the mean of each factor × factor block (the detector's aperture).
   Blur, sub-cell shift and block mean are one separable kernel per axis, evaluated only
   at pixel positions. A sensor much finer than a cell (σ < 1/8 cell) leaves cells
   unblurred (its PSF only touches the cell's rim).
4. **Optical.** Additive Gaussian noise, independent per band and pixel, of variance
   :func:`pixel_noise_variance` = ``observation_variance(noise_std, gsd, cell) / factor²``
   (factor 1, gsd < cell: the mean of (cell/gsd)² sensor pixels; so a fuser's per-cell
   r = ``noise_variance × factor²`` is exactly :func:`sagsim.fusion.kalman.observation_variance`).
   ``ndwi``, ``burn`` are recomputed from the noisy reflectances; their ``noise_variance``
   is the first-order propagation 4σ²(a² + b²)/(a + b)⁴ of (a − b)/(a + b), averaged over
   the valid pixels (per pixel it is larger on dark pixels, e.g. water). A pixel is cloudy
   (invalid) when ≥ :data:`CLOUDY_PIXEL_FRACTION` of its cells are; its values are the
   cloud top the sensor records (:data:`CLOUD_TOP_REFLECTANCE`). Partly cloudy valid pixels
   show clear ground (a perfect cloud mask). All five reflectances and both indices are
   measured whatever the schema's ``bands`` (which only sizes the data volume). Values
   stay finite everywhere; where ``valid`` is False they are not the ground.
5. **SAR** (kind ``"sar"``): sees through clouds (all valid). Backscatter σ0 (linear) per
   cell: ``σ0_dB = SAR_OFFSET_DB[cover] + SAR_SLOPE_DB × ndwi`` (:func:`sar_backscatter`),
   offsets set so each class's typical NDWI gives its typical C-band VV σ0 (open water
   −22 dB, crop −13, forest −11, bare −9, urban −4 dB); a flooded field (ndwi ≈ 0.47)
   falls to ≈ −22 dB. Blurred, shifted and averaged in linear power, then multiplied by
   speckle Gamma(L, 1/L): :data:`SAR_LOOKS` per sensor pixel, L = looks × (pixel side /
   gsd)² ≥ looks after area averaging (a mean of independent Gamma(looks) is exactly
   Gamma(L); speckle correlation between neighbours is ignored). Retrieval: the inverse
   of the mean log response, ndwi = (σ0_dB − bias_dB(L) − offset_dB) / slope, with
   bias_dB = 10 log10(e)(ψ(L) − ln L) the mean of dB speckle and offset from the static
   land-cover map averaged in linear power over the pixel's (nominal) cells; clipped to
   [−1, 1]. ``noise_variance`` = (10 log10 e / slope)² ψ′(L), exact in the log domain
   (:func:`sar_ndwi_variance`); cover mixing, misregistration and clipping errors are not
   in it. ``band_index`` = [ndwi].
6. **Faults** (defaults off; for the faults/attacks part): ``bias`` added to every band of
   every pixel (values' units, after the indices: it acts on the delivered product);
   ``stuck_fraction`` of pixels, drawn per acquisition, report ``stuck_value`` in every
   band and stay valid (the sensor does not flag them); ``dropped_fraction`` of pixels are
   invalid with values :data:`DROPPED_FILL`.

Randomness, in this order from ``rng``: the shift (2 normals, skipped when ``shift_cells``
is given), the noise or speckle (always drawn, so one seed gives the same shift and faults
at any noise level), then stuck and dropped masks (only when their fraction is > 0).

Cost (medians of 200 on flood_wuhan, 250 m cells, this 2-core machine busy with another
job, so ranges over runs): a 3.3 m optical satellite's 101 × 101-cell window 0.9–1.3 ms
(``truth_window`` 0.3 ms of it), a SAR 121 × 121 window 1.1–1.4 ms, a drone's 3 × 3 cells
0.2 ms; the whole 489 × 541 grid at 1.25 km GSD (factor 5) 28–41 ms (``truth_window``
10–15 ms of it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri, polygamma, psi

from sagsim.envs.physics import sensor_geometry
from sagsim.envs.physics.sensor_geometry import misregistration_m, sample_misregistration
from sagsim.fusion.kalman import observation_variance
from sagsim.fusion.observation import Observation
from sagsim.fusion.sensing.scene import BANDS, CLASSES, N_REFLECTANCE
from sagsim.sensor_kinds import SENSOR_KINDS

__all__ = [
    "CLOUDY_PIXEL_FRACTION",
    "CLOUD_TOP_REFLECTANCE",
    "DROPPED_FILL",
    "PSF_SIGMA_PER_GSD",
    "SAR_LOOKS",
    "SAR_OFFSET_DB",
    "SAR_SLOPE_DB",
    "SensorSpec",
    "acquire",
    "pixel_factor",
    "pixel_noise_variance",
    "sar_backscatter",
    "sar_looks",
    "sar_ndwi_variance",
    "sar_retrieve_ndwi",
]

GREEN, NIR, SWIR2, NDWI, BURN = (BANDS.index(b) for b in ("green", "nir", "swir2", "ndwi", "burn"))
# Gaussian PSF σ = 0.5 GSD: its MTF at Nyquist is exp(−2π²σ²/4) = 0.29, times the detector
# aperture's sinc (0.64) gives a system MTF ≈ 0.19, inside the 0.1–0.3 typical of
# Landsat-8 OLI / Sentinel-2 MSI specifications: neither aliased nor soft.
PSF_SIGMA_PER_GSD = 0.5
PSF_TRUNCATE = 4.0  # kernel radius in σ, as scipy.ndimage.gaussian_filter
# Below σ = 1/8 cell the sampled Gaussian's neighbour weight is < 1e-13: skip the pass.
MIN_PSF_SIGMA_CELLS = 0.125
# A pixel is masked when at least half its cells are cloudy: the majority rule of a
# cloud-mask product at the pixel's resolution (factor 1: the cell's own flag).
CLOUDY_PIXEL_FRACTION = 0.5
CLOUD_TOP_REFLECTANCE = 0.6  # thick cumulus top albedo, flat spectrum: what the sensor sees
DROPPED_FILL = 0.0  # a lost pixel's no-data fill, as in L1 products
# (a + b) below this is treated as this in (a − b)/(a + b): keeps a noisy dark pixel's
# index finite (the scene's darkest green + NIR, clear water, is 0.09).
INDEX_DENOMINATOR_FLOOR = 0.02
# Optical noise: N(0, 1) by table lookup of 2¹⁶ equiprobable quantiles, rescaled to unit
# variance. 3–4× faster than standard_normal (the noise was half an acquisition's cost);
# the only departure from a Gaussian is the tail beyond 4.32 σ (probability 1.5e-5).
NORMAL_TABLE_BITS = 16
_q = ndtri((np.arange(2**NORMAL_TABLE_BITS) + 0.5) / 2**NORMAL_TABLE_BITS)
_NORMAL_TABLE = (_q / np.sqrt(np.mean(_q**2))).astype(np.float32)
# Sentinel-1 IW GRD high resolution: equivalent number of looks ≈ 4.4 per pixel.
SAR_LOOKS = 4.4
DB_PER_NEPER = 10.0 / math.log(10.0)  # dB = DB_PER_NEPER × ln(power)
# σ0 falls 10 dB per unit NDWI: water vs cropland is ≈ 10 dB in C-band VV over an NDWI
# difference of ≈ 1 in this scene's spectra.
SAR_SLOPE_DB = -10.0
# Typical C-band VV σ0 (dB) and the class's typical NDWI (this scene's endmember mixtures
# at mid vegetation fraction, sagsim.fusion.sensing.scene) fix the per-class offset: by CLASSES
# order.
_CLASS_SIGMA0_DB = {"water": -22.0, "cropland": -13.0, "forest": -11.0, "bare": -9.0,
                    "urban": -4.0}  # fmt: skip
_CLASS_NDWI = {"water": 0.56, "cropland": -0.46, "forest": -0.63, "bare": -0.23, "urban": -0.13}
SAR_OFFSET_DB = np.array(
    [_CLASS_SIGMA0_DB[c] - SAR_SLOPE_DB * _CLASS_NDWI[c] for c in CLASSES], np.float32
)


def pixel_factor(gsd_m: float, cell_m: float) -> int:
    """Grid cells per pixel side: max(1, round(gsd / cell))."""
    return max(1, round(float(gsd_m) / float(cell_m)))


def pixel_noise_variance(noise_std: float, gsd_m: float, cell_m: float) -> float:
    """Optical noise variance per observed pixel (reflectance²):
    ``observation_variance(noise_std, gsd, cell) / factor²`` (see the module docstring)."""
    f = pixel_factor(gsd_m, cell_m)
    return float(observation_variance(noise_std, gsd_m, cell_m)) / f**2


def sar_looks(looks: float, gsd_m: float, cell_m: float) -> float:
    """Equivalent looks of one observed pixel: looks × (factor·cell / gsd)², ≥ looks."""
    side = pixel_factor(gsd_m, cell_m) * float(cell_m)
    return float(looks) * max(1.0, (side / float(gsd_m)) ** 2)


def sar_ndwi_variance(looks_eff: float) -> float:
    """Variance of the retrieved NDWI from speckle of ``looks_eff`` looks: Var ln Γ(L,1/L)
    = ψ′(L), times (dB per neper / slope)²."""
    return float((DB_PER_NEPER / SAR_SLOPE_DB) ** 2 * polygamma(1, looks_eff))


def sar_backscatter(ndwi: np.ndarray, land_cover: np.ndarray) -> np.ndarray:
    """Mean σ0 (linear, float32) of cells with NDWI ``ndwi`` and class ``land_cover``."""
    db = SAR_OFFSET_DB[land_cover] + np.float32(SAR_SLOPE_DB) * ndwi
    return np.power(np.float32(10.0), db / np.float32(10.0))


def sar_retrieve_ndwi(sigma0: np.ndarray, offset_linear: np.ndarray, looks_eff: float):
    """NDWI from speckled σ0 (linear): the inverse of the mean log response (module doc).
    ``offset_linear``: 10^(offset_dB/10) averaged over each pixel's cells."""
    bias_db = DB_PER_NEPER * (psi(looks_eff) - math.log(looks_eff))
    db = np.float32(10.0) * np.log10(np.maximum(sigma0, 1e-30) / offset_linear)
    return np.clip((db - np.float32(bias_db)) / np.float32(SAR_SLOPE_DB), -1.0, 1.0)


@dataclass(frozen=True)
class SensorSpec:
    """One acquisition's sensor and platform parameters.

    ``kind`` "optical" | "sar"; ``gsd_m`` effective GSD at this look (m, e.g.
    :func:`sagsim.envs.physics.sensor_geometry.gsd_m` ``.mean_m``); ``noise_std`` optical per-pixel
    noise (reflectance; unused by SAR); ``position_error_m`` 1-sigma horizontal position error;
    ``pointing_error_deg`` 1-sigma pointing error; ``altitude_m`` height above ground (a
    drone's flight altitude); ``off_nadir_deg`` look angle; ``latitude_deg`` for the local
    Earth radius (None: mean radius); ``looks`` SAR looks per sensor pixel;
    ``psf_sigma_per_gsd`` PSF σ in GSDs (0: no blur).
    """

    kind: str = "optical"
    gsd_m: float = 10.0
    noise_std: float = 0.01
    position_error_m: float = 5.0
    pointing_error_deg: float = 0.005
    altitude_m: float = 500e3
    off_nadir_deg: float = 0.0
    latitude_deg: float | None = None
    looks: float = SAR_LOOKS
    psf_sigma_per_gsd: float = PSF_SIGMA_PER_GSD

    def __post_init__(self) -> None:
        if self.kind not in SENSOR_KINDS:
            raise ValueError(f"SensorSpec.kind must be one of {', '.join(SENSOR_KINDS)}, "
                             f"got {self.kind!r}")  # fmt: skip
        if not (self.gsd_m > 0 and self.altitude_m > 0 and self.looks >= 1):
            raise ValueError("SensorSpec: gsd_m and altitude_m must be > 0, looks ≥ 1")

    @classmethod
    def from_schema(cls, sensor, altitude_m, off_nadir_deg=0.0, latitude_deg=None, **kw):
        """From a scenario ``Sensor``: GSD off nadir as the world computes it (mean GSD)."""
        gsd = float(
            sensor_geometry.gsd_m(
                sensor.gsd_nadir_m, altitude_m, off_nadir_deg, latitude_deg
            ).mean_m
        )
        return cls(kind=sensor.kind, gsd_m=gsd, noise_std=sensor.noise_std,
                   position_error_m=sensor.position_error_m,
                   pointing_error_deg=sensor.pointing_error_deg, altitude_m=float(altitude_m),
                   off_nadir_deg=float(off_nadir_deg), latitude_deg=latitude_deg, **kw)  # fmt: skip


def _kernel(sigma_cells: float, frac: float) -> np.ndarray:
    """Taps (odd length, centred) of the sampled Gaussian PSF followed by a linear
    interpolation shift by ``frac`` ∈ [−0.5, 0.5] cells (out[i] = in[i − frac])."""
    if sigma_cells >= MIN_PSF_SIGMA_CELLS:
        x = np.arange(
            -int(PSF_TRUNCATE * sigma_cells + 0.5), int(PSF_TRUNCATE * sigma_cells + 0.5) + 1
        )
        g = np.exp(-0.5 * (x / sigma_cells) ** 2)
        g /= g.sum()
    else:
        g = np.ones(1)
    if frac == 0.0:
        return g
    return np.convolve(g, [max(frac, 0.0), 1.0 - abs(frac), max(-frac, 0.0)])


def _read(r_lo, r_hi, c_lo, c_hi, n_rows, n_cols, fetch):
    """``fetch(r0, r1, c0, c1)`` (..., rows, cols) over rows r_lo:r_hi, cols c_lo:c_hi, which
    may stick out of the grid: cells outside repeat the nearest edge cell."""
    if r_lo >= 0 and c_lo >= 0 and r_hi <= n_rows and c_hi <= n_cols:
        return fetch(r_lo, r_hi, c_lo, c_hi)
    rows = np.clip(np.arange(r_lo, r_hi), 0, n_rows - 1)
    cols = np.clip(np.arange(c_lo, c_hi), 0, n_cols - 1)
    box = fetch(rows[0], rows[-1] + 1, cols[0], cols[-1] + 1)
    return box[..., rows[:, None] - rows[0], cols[None, :] - cols[0]]


def _filter_decimate(x: np.ndarray, k: np.ndarray, f: int, axis: int, n: int) -> np.ndarray:
    """Correlate ``x`` along ``axis`` with the centred taps ``k`` (PSF and sub-cell shift),
    average blocks of ``f`` outputs and keep the ``n`` block means whose support lies inside
    ``x`` (which has f·n + len(k) − 1 entries there). One kernel k ⊛ box_f evaluated only
    at every f-th position: a coarse pixel costs its taps, not f² blurred cells."""
    taps = np.convolve(k, np.full(f, 1.0 / f)) if f > 1 else k
    sl = [slice(None)] * x.ndim
    out = tmp = None
    for j, kj in enumerate(taps):
        sl[axis] = slice(j, j + f * (n - 1) + 1, f)
        if out is None:
            out = np.multiply(x[tuple(sl)], np.float32(kj), dtype=np.float32)
            tmp = np.empty_like(out)
        else:  # in place: no temporaries per tap
            out += np.multiply(x[tuple(sl)], np.float32(kj), out=tmp)
    return out


def _standard_normal(rng: np.random.Generator, shape) -> np.ndarray:
    """float32 N(0, 1) draws by inverse-CDF table lookup (see :data:`NORMAL_TABLE_BITS`)."""
    return _NORMAL_TABLE.take(rng.integers(0, _NORMAL_TABLE.size, shape, dtype=np.uint16))


def _block_mean(x: np.ndarray, f: int) -> np.ndarray:
    """Mean over f × f blocks of the last two axes (sizes multiples of f)."""
    if f == 1:
        return x
    *lead, h, w = x.shape
    return x.reshape(*lead, h // f, f, w // f, f).mean(axis=(-3, -1), dtype=np.float32)


def acquire(
    scene,
    t_s: float,
    window: tuple[int, int, int, int],
    sensor: SensorSpec,
    rng: np.random.Generator,
    *,
    clear: np.ndarray | None = None,
    source: int = 0,
    shift_cells: tuple[float, float] | None = None,
    bias: float = 0.0,
    stuck_fraction: float = 0.0,
    stuck_value: float = 0.0,
    dropped_fraction: float = 0.0,
    tag: str = "",
) -> Observation:
    """One acquisition of ``scene`` (an :class:`sagsim.fusion.sensing.scene.Scene`) at ``t_s`` (s).

    Args:
        window: (r0, r1, c0, c1) grid cells of the footprint (half-open; clipped, trimmed).
        sensor: a :class:`SensorSpec`. rng: all randomness (order in the module doc).
        clear: (r1 − r0, c1 − c0) bool of the clipped window, True where cloud-free (the
            world's ``~clouds.cloudy_window(*window)``); None: all clear. SAR ignores it.
        source: the acquiring agent's index. tag: free text carried to the Observation.
        shift_cells: impose (rows, cols) misregistration instead of drawing it.
        bias, stuck_fraction, stuck_value, dropped_fraction: faults (module doc, step 6).

    Returns:
        An :class:`Observation`: optical ``values`` (7, h, w) float32 of all
        :data:`sagsim.fusion.sensing.scene.BANDS`; SAR (1, h, w) NDWI; h, w = trimmed window /
        factor (0 pixels when the window is smaller than one pixel).
    """
    cell = float(scene.grid.resolution_m)
    n_rows, n_cols = (int(n) for n in scene.shape[1:])
    f = pixel_factor(sensor.gsd_m, cell)
    r0, r1, c0, c1 = (int(v) for v in window)
    r0, r1 = min(max(r0, 0), n_rows), min(max(r1, 0), n_rows)
    c0, c1 = min(max(c0, 0), n_cols), min(max(c1, 0), n_cols)
    r1, c1 = max(r0, r1), max(c0, c1)
    if clear is not None and clear.shape != (r1 - r0, c1 - c0):
        raise ValueError(f"acquire: clear {clear.shape} ≠ window {(r1 - r0, c1 - c0)}")
    er, ec = (r1 - r0) % f, (c1 - c0) % f  # trim evenly: the centre stays put
    tr0, tc0 = r0 + er // 2, c0 + ec // 2
    tr1, tc1 = r1 - (er - er // 2), c1 - (ec - ec // 2)
    h, w = (tr1 - tr0) // f, (tc1 - tc0) // f
    sar = sensor.kind == "sar"

    if shift_cells is None:
        sigma_m = misregistration_m(sensor.position_error_m, sensor.pointing_error_deg,
                                    sensor.altitude_m, sensor.off_nadir_deg,
                                    sensor.latitude_deg).sigma_m  # fmt: skip
        dx_m, dy_m = sample_misregistration(rng, sigma_m)
        shift = (-float(dy_m) / cell, float(dx_m) / cell)  # north is −rows
    else:
        shift = (float(shift_cells[0]), float(shift_cells[1]))

    # Cell-level field the sensor integrates: reflectances, or σ0 for SAR.
    sigma = sensor.psf_sigma_per_gsd * sensor.gsd_m / cell
    n_int = [round(s) for s in shift]
    k_r, k_c = (_kernel(sigma, s - n) for s, n in zip(shift, n_int, strict=True))
    m_r, m_c = len(k_r) // 2, len(k_c) // 2
    lo_r, lo_c = tr0 - n_int[0] - m_r, tc0 - n_int[1] - m_c
    hi_r, hi_c = tr1 - n_int[0] + m_r, tc1 - n_int[1] + m_c
    if h == 0 or w == 0:
        field = np.zeros((1 if sar else N_REFLECTANCE, h, w), np.float32)
    else:
        truth = _read(lo_r, hi_r, lo_c, hi_c, n_rows, n_cols,
                      lambda a, b, c, d: scene.truth_window(t_s, a, b, c, d))  # fmt: skip
        if sar:
            cover = _read(lo_r, hi_r, lo_c, hi_c, n_rows, n_cols,
                          lambda a, b, c, d: scene.land_cover[a:b, c:d])  # fmt: skip
            field = sar_backscatter(truth[NDWI], cover)[None]
        else:
            field = truth[:N_REFLECTANCE]
        field = _filter_decimate(field, k_r, f, 1, h)
        field = _filter_decimate(field, k_c, f, 2, w)
    pix = np.ascontiguousarray(field, np.float32)

    if sar:
        looks = sar_looks(sensor.looks, sensor.gsd_m, cell)
        speckle = rng.gamma(looks, 1.0 / looks, pix.shape).astype(np.float32)
        offset = np.power(np.float32(10.0), SAR_OFFSET_DB / np.float32(10.0))
        offset_pix = _block_mean(offset[scene.land_cover[tr0:tr1, tc0:tc1]], f)
        values = sar_retrieve_ndwi(pix * speckle, offset_pix, looks).astype(np.float32)
        valid = np.ones((h, w), bool)
        band_index = np.array([NDWI])
        noise_variance = np.array([sar_ndwi_variance(looks)])
    else:
        var = pixel_noise_variance(sensor.noise_std, sensor.gsd_m, cell)
        std = sensor.noise_std * sensor.gsd_m / cell / f  # unfloored: noise-free is exact
        noise = _standard_normal(rng, pix.shape)
        refl = pix + np.float32(std) * noise
        if clear is None:
            valid = np.ones((h, w), bool)
        else:
            cloudy = ~clear[tr0 - r0 : tr1 - r0, tc0 - c0 : tc1 - c0].astype(bool)
            valid = _block_mean(cloudy.astype(np.float32), f) < CLOUDY_PIXEL_FRACTION
            refl[:, ~valid] = CLOUD_TOP_REFLECTANCE
        values = np.empty((len(BANDS), h, w), np.float32)
        values[:N_REFLECTANCE] = refl
        index_var = []
        for out, a, b in ((NDWI, GREEN, NIR), (BURN, SWIR2, NIR)):
            ra, rb = refl[a], refl[b]
            den = np.maximum(ra + rb, np.float32(INDEX_DENOMINATOR_FLOOR))
            np.clip((ra - rb) / den, -1.0, 1.0, out=values[out])
            # First order: ∂/∂a = 2b/(a+b)², ∂/∂b = −2a/(a+b)², independent noise of var.
            per_pixel = 4.0 * var * (ra * ra + rb * rb) / den**4
            sel = per_pixel[valid] if valid.any() else per_pixel
            index_var.append(float(sel.mean()) if sel.size else 4.0 * var)
        band_index = np.arange(len(BANDS))
        noise_variance = np.array([var] * N_REFLECTANCE + index_var)

    if bias:
        values += np.float32(bias)
    if stuck_fraction > 0:
        values[:, rng.random((h, w)) < stuck_fraction] = stuck_value
    if dropped_fraction > 0:
        dropped = rng.random((h, w)) < dropped_fraction
        values[:, dropped] = DROPPED_FILL
        valid &= ~dropped
    return Observation(values=values, valid=valid, window=(tr0, tr1, tc0, tc1), factor=f,
                       band_index=band_index, noise_variance=noise_variance, t_s=float(t_s),
                       source=int(source), kind=sensor.kind,
                       true_shift_cells=shift, tag=tag)  # fmt: skip
