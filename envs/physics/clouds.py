"""Cloud cover over the region: a thresholded, spatially correlated Gaussian field in time.

Model (all lengths in metres, times in seconds):

- A latent field ``z`` lives on a *coarse* grid aligned with the region grid: one coarse
  cell is ``k × k`` fine cells, ``k = max(1, round(L / (4 · resolution_m)))``, so the
  coarse cell is ≈ L/4 and never finer than a fine cell. If that gives more than
  ``max_coarse_cells_per_side`` coarse cells on a side, ``k`` grows until it fits; the
  correlation length is then effectively at least one coarse cell. The coarse grid covers
  the fine grid (its last row/column may stick out); ``coarse_row_of[i] = i // k``.
- Space: ``z`` is stationary with unit variance and Gaussian correlation
  ρ(d) = exp(-d² / (2 L²)), ``L = correlation_length_m``. It is white noise filtered by the
  matching Gaussian kernel in the Fourier domain, on a *periodic* domain padded beyond the
  coarse grid so that wrap-around correlation stays below ``_WRAP_CORRELATION``. The
  filter is √S with S(k) ∝ exp(-L² |k|² / 2); spectral amplitudes below
  ``_SPECTRUM_CUTOFF`` of the peak are dropped, and the filter is normalised so that
  Σ h² = 1 for its kernel h, i.e. the marginal variance is exactly 1 for this construction.
  The white noise is drawn directly as its (Hermitian) DFT, only where the filter is kept,
  which is the same distribution as FFT-ing real white noise at a fraction of the cost.
- Time: AR(1) per coarse cell, ``z ← a z + sqrt(1 - a²) ε`` with
  ``a = exp(-step_s / decorrelation_time_s)`` and ε a fresh field from the same filter, so
  ``z`` stays stationary and its correlation at lag Δt is exp(-Δt / τ).
  ``decorrelation_time_s = inf`` freezes the clouds. The field is redrawn every
  ``refresh_steps`` steps, n = max(1, ⌊τ ln(1 / ``_REFRESH_CORRELATION``) / step_s⌋), with
  coefficient aⁿ, and held in between: over one hold it stays ≥ 95 % correlated with
  itself, and the redraw (an FFT) is the dominant per-step cost of a small scenario.
- Cloudy where ``z > Φ⁻¹(1 - cover_fraction)``, so the expected cloudy fraction of any cell
  is ``cover_fraction``; 0 gives a threshold of +∞ (never cloudy), 1 gives -∞ (always).

Assumptions: clouds are a binary mask (no optical thickness), no advection (clouds do not
drift with the wind, they decorrelate in place), and the correlation is isotropic in the
grid's projected plane. All randomness comes from the ``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.fft
from scipy.special import ndtri

__all__ = ["CloudField"]

# Periodic padding: points in the grid are ≥ this far apart through the wrap, where
# ρ = exp(-d²/(2L²)) = 1e-3 ⇒ d = L·sqrt(2 ln 1000) ≈ 3.72 L.
_WRAP_CORRELATION = 1e-3
# The field is held while its correlation with itself stays above this (see the docstring).
_REFRESH_CORRELATION = 0.95
# Spectral amplitudes below this fraction of the peak carry < 1e-16 of the variance.
_SPECTRUM_CUTOFF = 1e-8


def _check(name: str, value: float, ok: bool, allowed: str) -> float:
    if not ok:
        raise ValueError(f"CloudField: {name} = {value!r} is out of range (allowed: {allowed})")
    return float(value)


class CloudField:
    """Spatially correlated cloud cover over the region grid that evolves in time (seeded).

    Args:
        grid: the region's ``RegionGrid`` (only ``shape`` and ``resolution_m`` are used).
        cover_fraction: expected cloudy fraction of the sky, 0 ≤ f ≤ 1.
        correlation_length_m: L > 0 (m) of the spatial correlation exp(-d²/(2L²)).
        decorrelation_time_s: τ > 0 (s) of the temporal correlation exp(-Δt/τ); inf allowed.
        step_s: time advanced by one ``step`` (s), > 0.
        max_coarse_cells_per_side: cap on the coarse grid's side (cells), ≥ 1.

    Attributes:
        z: (n_coarse_rows, n_coarse_cols) latent unit-variance field.
        cloudy_coarse: (n_coarse_rows, n_coarse_cols) bool, ``z > threshold`` (a new array
            after every ``reset``/``step``; all False before the first ``reset``).
        coarse_row_of, coarse_col_of: coarse row (column) of each fine row (column).
        coarse_cell_m: side of a coarse cell (m). threshold: Φ⁻¹(1 - cover_fraction).
        step_correlation: exp(-step_s / τ), the AR(1) coefficient per step.
        refresh_steps: steps between redraws (the field is held in between).
    """

    def __init__(
        self,
        grid,
        cover_fraction: float,
        correlation_length_m: float,
        decorrelation_time_s: float,
        step_s: float,
        *,
        max_coarse_cells_per_side: int = 128,
    ) -> None:
        f = cover_fraction
        L = correlation_length_m
        tau = decorrelation_time_s
        self.cover_fraction = _check("cover_fraction", f, 0.0 <= f <= 1.0, "0 ≤ f ≤ 1")
        self.correlation_length_m = _check(
            "correlation_length_m", L, math.isfinite(L) and L > 0.0, "0 < L < inf"
        )
        self.decorrelation_time_s = _check("decorrelation_time_s", tau, tau > 0.0, "0 < τ ≤ inf")
        self.step_s = _check("step_s", step_s, math.isfinite(step_s) and step_s > 0, "0 < s < inf")
        m = max_coarse_cells_per_side
        _check("max_coarse_cells_per_side", m, int(m) == m and m >= 1, "integer ≥ 1")
        n_rows, n_cols = (int(n) for n in grid.shape)
        res_m = float(grid.resolution_m)

        k = max(1, round(L / (4.0 * res_m)), math.ceil(max(n_rows, n_cols) / int(m)))
        self.cells_per_coarse_cell = k
        self.coarse_cell_m = k * res_m
        self.fine_shape = (n_rows, n_cols)
        self.coarse_row_of = np.arange(n_rows, dtype=np.intp) // k
        self.coarse_col_of = np.arange(n_cols, dtype=np.intp) // k
        self.coarse_shape = (math.ceil(n_rows / k), math.ceil(n_cols / k))

        self.threshold = float(ndtri(1.0 - self.cover_fraction))  # ±inf at the edges
        self.step_correlation = math.exp(-self.step_s / self.decorrelation_time_s)
        hold_s = self.decorrelation_time_s * math.log(1.0 / _REFRESH_CORRELATION)
        self.refresh_steps = max(1, math.floor(min(hold_s / self.step_s, 1e9)))
        self._refresh_correlation = self.step_correlation**self.refresh_steps
        self._innovation_scale = math.sqrt(max(0.0, 1.0 - self._refresh_correlation**2))
        self._since_refresh = 0
        self._build_filter()

        self.z = np.zeros(self.coarse_shape)
        self.cloudy_coarse = np.zeros(self.coarse_shape, dtype=bool)
        self._ready = False

    def _build_filter(self) -> None:
        L, cell = self.correlation_length_m, self.coarse_cell_m
        pad = math.ceil(L * math.sqrt(2.0 * math.log(1.0 / _WRAP_CORRELATION)) / cell)
        n_pad_r, n_pad_c = (scipy.fft.next_fast_len(n + pad, real=True) for n in self.coarse_shape)
        ky = 2.0 * np.pi * np.fft.fftfreq(n_pad_r, d=cell)
        kx = 2.0 * np.pi * np.fft.rfftfreq(n_pad_c, d=cell)
        # √S for S(k) ∝ exp(-L²|k|²/2): the kernel h ∝ exp(-d²/L²), and h ⊛ h ∝ ρ.
        amplitude = np.exp(-0.25 * L**2 * (ky[:, None] ** 2 + kx[None, :] ** 2))
        amplitude[amplitude < _SPECTRUM_CUTOFF] = 0.0
        kernel = np.fft.irfft2(amplitude, s=(n_pad_r, n_pad_c))
        amplitude /= math.sqrt(float(np.sum(kernel**2)))  # var(h ⊛ w) = Σ h² = 1
        # Real white noise w has rfft2 coefficients with E|W|² = N. We draw X with unit-variance
        # real and imaginary parts (E|X|² = 2), hence √(N/2). irfft2 keeps only the Hermitian
        # part of the DC and Nyquist columns, halving their power; √2 restores it.
        amplitude *= math.sqrt(n_pad_r * n_pad_c / 2.0)
        amplitude[:, 0] *= math.sqrt(2.0)
        if n_pad_c % 2 == 0:
            amplitude[:, -1] *= math.sqrt(2.0)
        self._pad_shape = (n_pad_r, n_pad_c)
        self._spectrum_shape = amplitude.shape
        self._kept = np.flatnonzero(amplitude)
        self._amplitude = amplitude.ravel()[self._kept]

    def _draw(self, rng: np.random.Generator) -> np.ndarray:
        """A fresh unit-variance correlated field on the coarse grid."""
        noise = rng.standard_normal((self._kept.size, 2)).view(np.complex128)[:, 0]
        spectrum = np.zeros(self._spectrum_shape, dtype=np.complex128)
        spectrum.ravel()[self._kept] = self._amplitude * noise
        field = np.fft.irfft2(spectrum, s=self._pad_shape)
        return field[: self.coarse_shape[0], : self.coarse_shape[1]]

    def reset(self, rng: np.random.Generator) -> None:
        """Draw a fresh field from the stationary distribution."""
        self.z = np.ascontiguousarray(self._draw(rng))
        self.cloudy_coarse = self.z > self.threshold
        self._since_refresh = 0
        self._ready = True

    def step(self, rng: np.random.Generator) -> None:
        """Advance the clouds by ``step_s``."""
        if not self._ready:
            raise RuntimeError("CloudField.step: call reset(rng) first")
        self._since_refresh += 1
        if self._since_refresh < self.refresh_steps:
            return
        self._since_refresh = 0
        self.z = self._refresh_correlation * self.z + self._innovation_scale * self._draw(rng)
        self.cloudy_coarse = self.z > self.threshold

    def cloudy_window(self, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
        """Bool mask of fine cells in rows r0:r1, cols c0:c1, bounds clipped to the grid
        (negative bounds mean 0, not counting from the end)."""
        n_rows, n_cols = self.fine_shape
        r0, r1 = min(max(r0, 0), n_rows), min(max(r1, 0), n_rows)
        c0, c1 = min(max(c0, 0), n_cols), min(max(c1, 0), n_cols)
        rows = self.coarse_row_of[r0:r1]
        cols = self.coarse_col_of[c0:c1]
        return self.cloudy_coarse[np.ix_(rows, cols)]

    def cloud_fraction_window(self, r0: int, r1: int, c0: int, c1: int) -> float:
        """Cloudy fraction of the fine cells in the clipped window (0.0 if it is empty)."""
        mask = self.cloudy_window(r0, r1, c0, c1)
        return float(mask.mean()) if mask.size else 0.0

    def coarse_index(self, rows, cols) -> np.ndarray:
        """Flat index into ``cloudy_coarse`` of fine cells (``rows``, ``cols``: int arrays of
        one shape), checked once: for cells queried every step, use ``cloudy_coarse.take``."""
        rows = np.asarray(rows, dtype=np.intp)
        cols = np.asarray(cols, dtype=np.intp)
        if rows.shape != cols.shape:
            raise ValueError(f"cloudy_at_cells: rows {rows.shape} and cols {cols.shape} differ")
        for name, idx, n in (
            ("rows", rows, self.fine_shape[0]),
            ("cols", cols, self.fine_shape[1]),
        ):
            if idx.size and (idx.min() < 0 or idx.max() >= n):
                raise IndexError(f"cloudy_at_cells: {name} out of range (allowed: 0 ≤ i < {n})")
        return self.coarse_row_of[rows] * self.coarse_shape[1] + self.coarse_col_of[cols]

    def cloudy_at_cells(self, rows, cols) -> np.ndarray:
        """Bool per fine cell (``rows``, ``cols``: int arrays of the same shape)."""
        return self.cloudy_coarse.take(self.coarse_index(rows, cols))
