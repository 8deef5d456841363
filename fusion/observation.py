"""One acquisition as it reaches the fusion centre: the interface between the sensor model
(:mod:`sagsim.fusion.sensing.sensor_model`) and the fusers (:mod:`sagsim.fusion.fusers`).

Geometry: an observation covers the grid window rows ``r0:r1``, cols ``c0:c1`` of the
region grid (half-open, inside the grid). Its pixels are blocks of ``factor × factor`` grid
cells (``factor`` ≥ 1, an integer: the sensor's GSD over the cell size, rounded; a sensor
finer than a cell gives ``factor`` 1 and its pixels are area averages over each cell), so
``values`` has shape ``(n_bands, (r1 − r0) / factor, (c1 − c0) / factor)``. Pixel (i, j)
is the area average of cells ``r0 + i·factor … r0 + (i+1)·factor − 1`` (same for columns)
as the sensor saw them: blurred, noisy and shifted by the misregistration.

Bands: ``band_index`` lists which of the map's bands (:data:`sagsim.fusion.sensing.scene.BANDS`) the
``values`` rows measure, in order. An optical sensor measures the reflectances; a SAR
sensor measures backscatter, which the sensor model turns into an estimate of the water
index (a retrieval, with its own noise), so SAR measures only that band.

Units: reflectance and index units as in the scene; ``noise_variance`` per band, in those
units squared, per observed pixel; ``t_s`` seconds since the scenario epoch; shifts in
grid cells (rows, cols).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sagsim.sensor_kinds import SENSOR_KINDS

__all__ = ["Observation"]


@dataclass
class Observation:
    """One acquisition (see the module docstring).

    ``values`` ``(n_obs_bands, h, w)`` float32; ``valid`` ``(h, w)`` bool (False: not seen,
    e.g. under cloud, or a dropped pixel); ``window`` (r0, r1, c0, c1) on the region grid;
    ``factor`` grid cells per pixel side; ``band_index`` ``(n_obs_bands,)`` map band of
    each row; ``noise_variance`` ``(n_obs_bands,)``; ``t_s`` acquisition time; ``source``
    agent index; ``kind`` ``"optical"`` or ``"sar"``; ``true_shift_cells`` (rows, cols) the
    misregistration actually applied (for tests and the registration report only: a fuser
    must not read it); ``tag`` free text (e.g. ``"malicious:bias"``) for the evaluation.
    """

    values: np.ndarray
    valid: np.ndarray
    window: tuple[int, int, int, int]
    factor: int
    band_index: np.ndarray
    noise_variance: np.ndarray
    t_s: float
    source: int
    kind: str = "optical"
    true_shift_cells: tuple[float, float] = (0.0, 0.0)
    tag: str = ""

    def __post_init__(self) -> None:
        r0, r1, c0, c1 = self.window
        n, h, w = self.values.shape
        f = int(self.factor)
        if f < 1 or (r1 - r0) != h * f or (c1 - c0) != w * f:
            raise ValueError(
                f"Observation: window {self.window} is not {h}×{w} pixels of {f} cells"
            )
        if self.valid.shape != (h, w):
            raise ValueError(f"Observation: valid {self.valid.shape} ≠ pixels {(h, w)}")
        if len(self.band_index) != n or len(self.noise_variance) != n:
            raise ValueError("Observation: band_index and noise_variance need one per band")
        if self.kind not in SENSOR_KINDS:
            raise ValueError(f"Observation: kind must be one of {', '.join(SENSOR_KINDS)}, "
                             f"got {self.kind!r}")  # fmt: skip

    @property
    def shape_cells(self) -> tuple[int, int]:
        """(rows, cols) of grid cells covered."""
        r0, r1, c0, c1 = self.window
        return r1 - r0, c1 - c0
