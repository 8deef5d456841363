"""The ground truth: a seeded, slowly drifting multi-band scene on the region grid with events.

:class:`Scene` holds a float32 raster ``(n_bands, rows, cols)`` on the region grid. Bands
(:data:`BANDS`): five surface reflectances (blue, green, red, NIR, SWIR2 ≈ 2.2 µm; unitless,
in [0, 1]) and two normalised-difference indices in [-1, 1], derived exactly from them:

- ``ndwi`` = (green − NIR) / (green + NIR) (McFeeters): > 0.3 on water, < −0.5 on vegetation;
- ``burn`` = (SWIR2 − NIR) / (SWIR2 + NIR) = −NBR: ≈ 0.4 on a burn scar, ≈ 0.7 on the active
  front (SWIR2 saturates on flames), ≈ −0.6 on vegetation.
Both index bands are always present, whatever the scenario's events, so every scene has one
band layout.

Model (lengths in projected grid metres, so a 200 m and a 250 m grid show the same
landscape at two resolutions; a texture octave finer than a cell is attenuated by
σ / resolution, as averaging over the cell would):

- terrain ``elevation_m``: octaves of Gaussian-filtered white noise (2, 6, 20 km), valleys
  carved along the rivers; lakes fill the lowest 4 % of it;
- rivers (meandering, 80–1200 m wide) and roads (straighter, 15–60 m) are smooth random
  curves rasterised with their width: a cell's water/road fraction is the strip's area
  fraction of the cell (mixed pixels); every flood event gets a river through its centre;
- fields: a jittered-lattice Voronoi mosaic of ≈ 800 m parcels, each with one land cover
  (forest on the highest 20 %, urban on the 8 % where a 6–15 km field peaks, 8 % bare, the
  rest cropland; shares are quantiles, so every region is a typical landscape rather than,
  by chance, half lake) and its own brightness, vegetation fraction and phenology; texture
  at 0.1, 0.4 and 1.5 km;
- reflectance is a linear mixture of endmember spectra: land = soil + f_veg (veg − soil),
  then water and road fractions on top;
- drift: per-parcel phenology f_veg(t) = f0 + A sin(2π t / P + φ) (cropland A ≤ 0.3,
  P 20–60 days) and a soil-moisture wave (period 10 days, 20 km scale) darkening soil by up
  to 25 %; over one 30 s step the change is ~1e-5, over days ~1e-2;
- events (:data:`sagsim.envs.tasks.EVENT_KINDS` flood and fire; other kinds are not rendered): a
  cell is reached when its cost-distance from the event centre (scikit-image
  ``MCP_Geometric``, costs ≥ 1 per ground metre) and its ground distance are both within
  the task's own radius ``TaskSet.radius_m(t)``. So the extent is empty before ``start_s``,
  grows monotonically, stays inside the event's disc, and is irregular: a flood's cost
  grows with height above a stage 5 m over the river at the centre (water follows low
  ground and the channel), a fire's with fuel (forest < crop < bare < urban; water blocks).
  Flooded cells become turbid water; a fire's cells reached within the last
  ``FIRE_ACTIVE_S`` are the active front, older ones a burn scar.

Assumptions: no topographic shading, BRDF, atmosphere or clouds (:mod:`sagsim.envs.physics.clouds`);
the flood is binary (no depth), water recedes never, a fire does not spot across barriers;
texture scales are in projected metres (on EASE-Grid 2.0 cells are not square on ground).

Costs (flood_wuhan, 489 × 541 cells, 7 bands, two floods; medians on a 2-core machine busy
with another job): build ≈ 0.35 s, ``truth_at`` ≈ 18 ms, ``truth_window`` 100 × 100 ≈ 0.7 ms
and 20 × 20 ≈ 0.1 ms, ``event_mask_at`` ≈ 0.06 ms (global_constellation, 538 × 1390:
build ≈ 1 s, ``truth_at`` ≈ 55 ms).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import ndimage
from skimage.graph import MCP_Geometric

from sagsim.envs.physics.region_grid import RegionGrid
from sagsim.envs.tasks import EVENT_KINDS, TaskSet

__all__ = ["BANDS", "CLASSES", "DATA_RANGE", "EVENT_INDEX", "FIRE_ACTIVE_S", "N_REFLECTANCE",
           "Scene"]  # fmt: skip

BANDS = ("blue", "green", "red", "nir", "swir2", "ndwi", "burn")
N_REFLECTANCE = 5
# PSNR's peak-to-peak: reflectance in [0, 1], normalised differences in [-1, 1].
DATA_RANGE = (1.0,) * N_REFLECTANCE + (2.0, 2.0)
CLASSES = ("water", "cropland", "forest", "bare", "urban")
WATER, CROP, FOREST, BARE, URBAN = range(len(CLASSES))
FLOOD, FIRE = EVENT_KINDS.index("flood"), EVENT_KINDS.index("fire")
# The index band each event kind is seen in, and the value above which a cell counts as
# water or burnt (both indices are > 0 for their class in the spectra below); an extent is
# scored inside the boxes around its events' largest discs (TaskSet.event_boxes), so that
# permanent lakes elsewhere do not count as flood.
EVENT_INDEX = {"flood": ("ndwi", 0.0), "fire": ("burn", 0.0)}

# Endmember spectra (blue, green, red, NIR, SWIR2), typical published magnitudes.
VEG = np.array([0.03, 0.08, 0.04, 0.45, 0.10], np.float32)  # full green canopy
SOIL = np.array([0.14, 0.18, 0.22, 0.27, 0.30], np.float32)  # dry bare soil
URBAN_SPEC = np.array([0.18, 0.19, 0.20, 0.22, 0.24], np.float32)  # roofs, concrete: flat
WATER_SPEC = np.array([0.06, 0.07, 0.04, 0.02, 0.01], np.float32)  # clear lake / river
FLOOD_SPEC = np.array([0.08, 0.11, 0.10, 0.04, 0.015], np.float32)  # turbid flood water
ROAD_SPEC = np.array([0.10, 0.11, 0.12, 0.14, 0.16], np.float32)  # asphalt
SCAR_SPEC = np.array([0.04, 0.05, 0.06, 0.09, 0.20], np.float32)  # char and ash
FRONT_SPEC = np.array([0.05, 0.06, 0.10, 0.15, 0.80], np.float32)  # flames saturate SWIR2

# Per-class parcel vegetation fraction range and phenology amplitude (fraction of cover).
FVEG_RANGE = {WATER: (0, 0), CROP: (0.15, 0.8), FOREST: (0.75, 0.95), BARE: (0, 0.1),
              URBAN: (0.0, 0.15)}  # fmt: skip
PHENO_AMPLITUDE = {CROP: 0.3, FOREST: 0.04}
PHENO_PERIOD_DAYS = (20.0, 60.0)  # crop growth / irrigation / harvest cycles
MOISTURE_PERIOD_S, MOISTURE_SCALE_M = 10 * 86_400.0, (20_000.0,)
MOISTURE_DARKENING = 0.25  # wet soil is up to 25 % darker than dry (roofs: 0)
PARCEL_SIZE_M = 800.0
TEXTURE_SCALES_M = (100.0, 400.0, 1_500.0)
BRIGHTNESS_TEXTURE = 0.08  # relative std of soil brightness within parcels
FVEG_TEXTURE = 0.06  # std of the vegetation fraction within parcels
TERRAIN_SCALES_M, TERRAIN_STD_M = (2_000.0, 6_000.0, 20_000.0), 10.0
TERRAIN_WEIGHTS = (0.5, 0.7, 0.7)
# Class shares are quantiles of the region's own fields (see the module docstring).
LAKE_SHARE = 0.04  # the lowest 4 % of the terrain holds lakes
URBAN_SCALE_M, URBAN_SHARE = (6_000.0, 15_000.0), 0.08  # parcels where a field is highest
FOREST_SHARE, BARE_SHARE = 0.2, 0.08  # forest on the highest parcels; fallow at random
VALLEY_DEPTH_M, VALLEY_WIDTH_M = 6.0, 1_500.0
RIVER_AREA_M2, ROAD_AREA_M2, MAX_CURVES = 60e3**2, 25e3**2, 64
RIVER_WIDTH_M, ROAD_WIDTH_M = (80.0, 1_200.0), (15.0, 60.0)
RIVER_MEANDER, ROAD_MEANDER = (3_000.0, 0.7), (8_000.0, 0.2)  # (length scale m, heading sd rad)
# Flood cost per metre: 1 + (height above the river level at the centre + stage)₊ / scale.
FLOOD_STAGE_M, FLOOD_HEIGHT_SCALE_M = 5.0, 4.0
FUEL_COST = np.array([1e4, 1.5, 1.0, 4.0, 6.0])  # by CLASSES: water is a barrier
# Spread resistance of ground and fuel (dykes, embankments, fuel load) at 0.4–5 km scales:
# factor 1 + a·exp(b·z), z unit-variance, ≈ 1.1–2.1 (5–95 %), so fronts are ragged.
RESIST_SCALES_M, RESIST_WEIGHTS = (400.0, 1_500.0, 5_000.0), (0.5, 0.7, 1.0)
RESIST_A, RESIST_B = 0.3, 0.8
FIRE_ACTIVE_S = 3_600.0  # a cell burns (front) this long after the front reaches it
# Coarse octave grids keep at least this many coarse cells per σ (bilinear upsampling).
_COARSE_SIGMA_CELLS = 3.0


def _octave(rng: np.random.Generator, shape: tuple[int, int], sigma_cells: float) -> np.ndarray:
    """Unit-variance Gaussian-filtered white noise, float32 ``shape``; σ in cells.

    Wide octaves are filtered on a grid ``f`` times coarser and upsampled bilinearly, so
    the cost does not grow with σ."""
    f = max(1, int(sigma_cells // _COARSE_SIGMA_CELLS))
    s = sigma_cells / f
    noise = rng.standard_normal((shape[0] // f + 2, shape[1] // f + 2), dtype=np.float32)
    field = ndimage.gaussian_filter(noise, s, mode="reflect")
    x = np.arange(-int(4 * s + 0.5), int(4 * s + 0.5) + 1)
    k = np.exp(-0.5 * (x / s) ** 2)
    field /= np.float32(np.sum((k / k.sum()) ** 2))  # 2-D std of the separable kernel: Σk²
    if f == 1:
        return field[: shape[0], : shape[1]]
    for axis, n in enumerate(shape):  # separable bilinear, cell centre to cell centre
        u = (np.arange(n) + 0.5) / f  # coarse cell i's centre is fine (i − 0.5)·f: margin 1
        i = np.floor(u).astype(np.intp)
        a = (u - i).astype(np.float32).reshape((-1, 1) if axis == 0 else (1, -1))
        lo, hi = np.take(field, i, axis=axis), np.take(field, i + 1, axis=axis)
        field = lo + a * (hi - lo)
    return field


def _multiscale(rng, shape, res_m: float, scales_m: Sequence[float], weights=None):
    """Σ wᵢ·min(1, σᵢ/res)·octave(σᵢ) / √Σwᵢ²: unit variance when every σ ≥ a cell."""
    weights = np.ones(len(scales_m)) if weights is None else np.asarray(weights, float)
    out = np.zeros(shape, np.float32)
    for w, sigma_m in zip(weights, scales_m, strict=True):
        out += np.float32(w * min(1.0, sigma_m / res_m)) * _octave(rng, shape, sigma_m / res_m)
    return out / np.float32(np.sqrt(np.sum(weights**2)))


def _curves(rngs, shape, res_m, starts, widths_m, meander):
    """Rasterise smooth random curves through ``starts`` ((k, 2) row, col in cells) with
    widths (m), curve i drawn from ``rngs[i]``: the area fraction of each cell they cover,
    the distance (m) to the nearest curve and that curve's width (m)."""
    length_m, heading_std = meander
    line = np.zeros(shape, bool)
    width = np.zeros(shape, np.float32)
    n = int(np.ceil(1.5 * np.hypot(*shape) / 0.5))  # half-length in 0.5-cell steps
    sigma = length_m / res_m / 0.5
    for rng, (r, c), w in zip(rngs, starts, widths_m, strict=True):
        wiggle = ndimage.gaussian_filter1d(rng.standard_normal(2 * n + 1), sigma, mode="reflect")
        wiggle *= heading_std / max(wiggle.std(), 1e-12)
        heading = rng.uniform(0, 2 * np.pi) + wiggle
        pos = np.cumsum(0.5 * np.stack([np.sin(heading), np.cos(heading)], 1), axis=0)
        pos = np.floor(pos - pos[n] + (r, c)).astype(np.intp)
        ok = (pos[:, 0] >= 0) & (pos[:, 0] < shape[0]) & (pos[:, 1] >= 0) & (pos[:, 1] < shape[1])
        rr, cc = pos[ok, 0], pos[ok, 1]
        line[rr, cc] = True
        width[rr, cc] = np.maximum(width[rr, cc], w)
    if not line.any():
        return np.zeros(shape, np.float32), np.full(shape, np.inf, np.float32), width
    d, (ir, ic) = ndimage.distance_transform_edt(~line, sampling=res_m, return_indices=True)
    w = width[ir, ic]
    # Overlap of the strip [d − w/2, d + w/2] with the cell [−res/2, res/2], over res.
    cover = np.minimum(d + w / 2, res_m / 2) - np.maximum(d - w / 2, -res_m / 2)
    return np.clip(cover / res_m, 0.0, 1.0).astype(np.float32), d.astype(np.float32), w


class Scene:
    """Seeded ground-truth raster on ``grid`` with ``tasks``' floods and fires (see module).

    Args:
        grid: the region's ``RegionGrid``.
        tasks: the world's ``TaskSet`` (static targets are ignored) or a sequence of
            schema ``Event``s (the scenario's ``events``).
        seed: the landscape's seed (same seed, same scene); the World's convention is the
            scenario seed, training may draw others.

    Attributes:
        bands: :data:`BANDS`; ``data_range``: (n_bands,) float64 peak-to-peak per band.
        shape: (n_bands, rows, cols). land_cover: (rows, cols) int8 static class
            (:data:`CLASSES`; water where the water fraction ≥ 0.5; floods not included).
        water_fraction, road_fraction: (rows, cols) float32 static area fractions.
        elevation_m: (rows, cols) float32 terrain height (m, relative, mean ≈ 0).
        parcel: (rows, cols) int32 parcel id. tasks: the TaskSet used for event discs.
    """

    bands = BANDS

    def __init__(self, grid: RegionGrid, tasks: TaskSet | Sequence, seed: int) -> None:
        self.grid, self.seed = grid, int(seed)
        self.tasks = tasks if isinstance(tasks, TaskSet) else TaskSet.from_events(tasks, grid)
        self.data_range = np.array(DATA_RANGE)
        rows, cols = shape = tuple(int(n) for n in grid.shape)
        self.shape = (len(BANDS), rows, cols)
        res = float(grid.resolution_m)
        # Independent streams: an event adds its own river and leaves every other draw alone.
        streams = np.random.SeedSequence(seed).spawn(5)
        base, rivers, roads, floods_rng, resist = (np.random.default_rng(s) for s in streams)

        terrain = TERRAIN_STD_M * _multiscale(base, shape, res, TERRAIN_SCALES_M, TERRAIN_WEIGHTS)
        urban_z = _multiscale(base, shape, res, URBAN_SCALE_M)
        parcel, seed_rc = self._parcels(base, shape, res)
        n_parcel = seed_rc.shape[0]
        cls = np.full(n_parcel, CROP, np.int8)
        cls[base.random(n_parcel) < BARE_SHARE] = BARE
        for c, share, field in ((FOREST, FOREST_SHARE, terrain), (URBAN, URBAN_SHARE, urban_z)):
            at_seed = field[seed_rc[:, 0], seed_rc[:, 1]]
            cls[at_seed > np.quantile(at_seed, 1.0 - share)] = c
        lo, hi = np.array([FVEG_RANGE[k] for k in range(len(CLASSES))], np.float32)[cls].T
        fveg_p = lo + (hi - lo) * base.random(n_parcel, dtype=np.float32)
        amp = np.array([PHENO_AMPLITUDE.get(k, 0.0) for k in range(len(CLASSES))])
        self._amp = amp[cls] * base.random(n_parcel)
        self._omega = 2 * np.pi / (86_400.0 * base.uniform(*PHENO_PERIOD_DAYS, n_parcel))
        self._phase = base.uniform(0, 2 * np.pi, n_parcel)
        self._dv = (math.nan, self._amp)
        bright_p = base.uniform(0.8, 1.2, n_parcel).astype(np.float32)
        vigour_p = base.uniform(0.85, 1.15, n_parcel).astype(np.float32)
        tex = _multiscale(base, shape, res, TEXTURE_SCALES_M)
        tex2 = _multiscale(base, shape, res, TEXTURE_SCALES_M)
        self._m1, self._m2 = (_multiscale(base, shape, res, MOISTURE_SCALE_M) for _ in range(2))

        # Rivers (one through each flood's centre) and roads, by area, at uniform points.
        ev = np.flatnonzero(np.isin(self.tasks.kind, (FLOOD, FIRE)))
        area = rows * cols * res**2
        n_riv = min(MAX_CURVES, max(1, rivers.poisson(area / RIVER_AREA_M2)))
        n_road = min(MAX_CURVES, max(1, roads.poisson(area / ROAD_AREA_M2)))
        floods = ev[self.tasks.kind[ev] == FLOOD]
        centres = np.column_stack([self.tasks.row[floods], self.tasks.col[floods]])
        starts = np.vstack([rivers.uniform((0, 0), shape, (n_riv, 2)), centres])
        log_w = np.log(RIVER_WIDTH_M)
        w_flood = floods_rng.uniform(*log_w, len(floods))
        widths = np.exp(np.r_[rivers.uniform(*log_w, n_riv), w_flood])
        rngs = [rivers] * n_riv + [floods_rng] * len(floods)
        river, d_river, w_river = _curves(rngs, shape, res, starts, widths, RIVER_MEANDER)
        road_starts = roads.uniform((0, 0), shape, (n_road, 2))
        road_w = roads.uniform(*ROAD_WIDTH_M, n_road)
        road, _, _ = _curves([roads] * n_road, shape, res, road_starts, road_w, ROAD_MEANDER)
        lake_level = np.quantile(terrain, LAKE_SHARE)
        lake = np.clip(lake_level - terrain + 0.5, 0.0, 1.0)  # 1 m of shore slope
        valley = np.exp(-((np.maximum(d_river - w_river / 2, 0) / VALLEY_WIDTH_M) ** 2))
        self.elevation_m = (terrain - VALLEY_DEPTH_M * valley).astype(np.float32)
        self.parcel, self.water_fraction = parcel, np.maximum(river, lake)
        self.road_fraction = road * (1.0 - self.water_fraction)
        self.land_cover = np.where(self.water_fraction >= 0.5, WATER, cls[parcel]).astype(np.int8)

        # Static parts of the mixture (see truth_window).
        self._fveg0 = np.clip(fveg_p[parcel] + FVEG_TEXTURE * tex2, 0, 1).astype(np.float32)
        self._vigour = (vigour_p[parcel] * (1 + 0.05 * tex)).astype(np.float32)
        soil_spec = np.where(cls[:, None] == URBAN, URBAN_SPEC, SOIL).astype(np.float32)
        bright = np.clip(bright_p[parcel] * (1 + BRIGHTNESS_TEXTURE * tex), 0.6, 1.4)
        self._soil = np.ascontiguousarray(soil_spec[parcel].transpose(2, 0, 1) * bright)
        self._wet = np.where(cls[parcel] == URBAN, 0.0, MOISTURE_DARKENING).astype(np.float32)
        self._land_weight = 1.0 - self.water_fraction - self.road_fraction
        self._overlay = (WATER_SPEC[:, None, None] * self.water_fraction
                         + ROAD_SPEC[:, None, None] * self.road_fraction)  # fmt: skip
        self._tex = np.clip(1 + 0.05 * tex, 0.8, 1.2).astype(np.float32)
        z = _multiscale(resist, shape, res, RESIST_SCALES_M, RESIST_WEIGHTS)
        rough = 1.0 + RESIST_A * np.exp(RESIST_B * z)
        self._events = [self._event(k, rough) for k in ev]

    @staticmethod
    def _parcels(rng, shape, res):
        """Jittered-lattice Voronoi mosaic: (rows, cols) int32 ids and (n, 2) seed cells."""
        p = max(PARCEL_SIZE_M, res) / res  # lattice spacing in cells, ≥ 1 cell
        nbr, nbc = int(np.ceil(shape[0] / p)) + 1, int(np.ceil(shape[1] / p)) + 1
        seeds = (np.stack(np.meshgrid(np.arange(nbr), np.arange(nbc), indexing="ij"), -1)
                 + rng.uniform(0.15, 0.85, (nbr, nbc, 2))) * p  # fmt: skip
        r = (np.arange(shape[0]) + 0.5)[:, None]
        c = (np.arange(shape[1]) + 0.5)[None, :]
        bi, bj = (r // p).astype(np.intp), (c // p).astype(np.intp)
        best = np.full(shape, np.inf)
        parcel = np.zeros(shape, np.int32)
        for di in (-1, 0, 1):
            for dj in (-1, 0, 1):
                i, j = np.clip(bi + di, 0, nbr - 1), np.clip(bj + dj, 0, nbc - 1)
                d2 = (seeds[i, j, 0] - r) ** 2 + (seeds[i, j, 1] - c) ** 2
                closer = d2 < best
                best[closer] = d2[closer]
                parcel[closer] = (i * nbc + j)[closer]
        seed_rc = np.minimum(np.floor(seeds.reshape(-1, 2)).astype(np.intp), np.array(shape) - 1)
        return parcel, seed_rc

    def _event(self, k: int, rough: np.ndarray):
        """Window (r0, r1, c0, c1) around task k's largest disc and its reach distance
        there (float32 m): max(cost-distance, ground distance); reached iff ≤ radius_m."""
        t, g, res = self.tasks, self.grid, float(self.grid.resolution_m)
        hr = int(np.ceil(t.max_radius_m[k] * t.scale_y[k] / res)) + 1
        hc = int(np.ceil(t.max_radius_m[k] * t.scale_x[k] / res)) + 1
        r0, r1 = max(0, t.row[k] - hr), min(g.shape[0], t.row[k] + hr + 1)
        c0, c1 = max(0, t.col[k] - hc), min(g.shape[1], t.col[k] + hc + 1)
        win = np.s_[r0:r1, c0:c1]
        dx = (g.x_m[c0:c1][None, :] - t.x_m[k]) / t.scale_x[k]  # ground m, as TaskSet
        dy = (g.y_m[r0:r1][:, None] - t.y_m[k]) / t.scale_y[k]
        if t.kind[k] == FLOOD:  # water spreads along the channel and over low ground
            stage = self.elevation_m[t.row[k], t.col[k]] + FLOOD_STAGE_M
            above = self.elevation_m[win] - stage
            cost = (1.0 + np.maximum(above, 0.0) / FLOOD_HEIGHT_SCALE_M) * rough[win]
            cost[self.water_fraction[win] >= 0.5] = 1.0
        else:
            cost = FUEL_COST[self.land_cover[win]] * rough[win]
        cost = np.maximum(cost, 1.0)  # ≥ 1 per metre: reach never outruns the disc
        mcp = MCP_Geometric(cost, sampling=(res / t.scale_y[k], res / t.scale_x[k]))
        reach, _ = mcp.find_costs([(t.row[k] - r0, t.col[k] - c0)])
        return int(k), (r0, r1, c0, c1), np.maximum(reach, np.hypot(dx, dy)).astype(np.float32)

    def _extents(self, t_s: float, r0: int, r1: int, c0: int, c1: int):
        """Per event inside rows r0:r1, cols c0:c1: (kind, window slice, reached, active)."""
        radius = self.tasks.radius_m(t_s)
        before = self.tasks.radius_m(t_s - FIRE_ACTIVE_S)
        for k, (er0, er1, ec0, ec1), reach in self._events:
            a0, a1, b0, b1 = max(r0, er0), min(r1, er1), max(c0, ec0), min(c1, ec1)
            if radius[k] <= 0.0 or a0 >= a1 or b0 >= b1:
                continue
            sub = reach[a0 - er0 : a1 - er0, b0 - ec0 : b1 - ec0]
            reached = sub <= radius[k]
            active = reached & (sub > before[k]) if self.tasks.kind[k] == FIRE else None
            yield self.tasks.kind[k], np.s_[a0 - r0 : a1 - r0, b0 - c0 : b1 - c0], reached, active

    def _clip(self, r0, r1, c0, c1):
        n_rows, n_cols = self.shape[1:]
        r0, r1 = min(max(int(r0), 0), n_rows), min(max(int(r1), 0), n_rows)
        c0, c1 = min(max(int(c0), 0), n_cols), min(max(int(c1), 0), n_cols)
        return r0, max(r0, r1), c0, max(c0, c1)

    def truth_window(self, t_s: float, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
        """Truth at ``t_s`` (s) in rows r0:r1, cols c0:c1, bounds clipped to the grid
        (negative means 0): a new float32 array ``(n_bands, r1 − r0, c1 − c0)``."""
        r0, r1, c0, c1 = self._clip(r0, r1, c0, c1)
        win = np.s_[r0:r1, c0:c1]
        if self._dv[0] != t_s:  # per-parcel phenology: cached, windows often share a time
            self._dv = (
                t_s,
                (self._amp * np.sin(self._omega * t_s + self._phase)).astype(np.float32),
            )
        fveg = np.clip(self._fveg0[win] + self._dv[1][self.parcel[win]], 0.0, 1.0)
        w = 2 * np.pi * float(t_s) / MOISTURE_PERIOD_S  # python floats keep float32 below
        moist = 0.5 + 0.25 * (self._m1[win] * math.cos(w) + self._m2[win] * math.sin(w))
        moist = np.clip(moist, 0.0, 1.0)
        soil = self._soil[:, r0:r1, c0:c1] * (1.0 - self._wet[win] * moist)
        land = soil + fveg * (VEG[:, None, None] * self._vigour[win] - soil)
        out = np.empty((len(BANDS), r1 - r0, c1 - c0), np.float32)
        out[:N_REFLECTANCE] = self._land_weight[win] * land + self._overlay[:, r0:r1, c0:c1]
        tex = self._tex[win]
        for kind, sl, reached, active in self._extents(t_s, r0, r1, c0, c1):
            view, tx = out[:N_REFLECTANCE][(slice(None), *sl)], tex[sl]
            if kind == FLOOD:
                view[:, reached] = FLOOD_SPEC[:, None] * tx[reached]
            else:
                scar = reached & ~active
                view[:, scar] = SCAR_SPEC[:, None] * tx[scar]
                view[:, active] = FRONT_SPEC[:, None] * tx[active]
        green, nir, swir = out[1], out[3], out[4]
        np.divide(green - nir, green + nir, out=out[5])  # all reflectances are > 0
        np.divide(swir - nir, swir + nir, out=out[6])
        return out

    def truth_at(self, t_s: float) -> np.ndarray:
        """The whole truth at ``t_s`` (s): a new float32 array ``(n_bands, rows, cols)``."""
        return self.truth_window(t_s, 0, self.shape[1], 0, self.shape[2])

    def event_mask_at(self, t_s: float, kinds: Sequence[str] = ("flood", "fire")) -> np.ndarray:
        """(rows, cols) bool: cells flooded or burnt/burning at ``t_s`` (events of ``kinds``)."""
        want = {EVENT_KINDS.index(k) for k in kinds}
        mask = np.zeros(self.shape[1:], bool)
        for kind, sl, reached, _ in self._extents(t_s, 0, self.shape[1], 0, self.shape[2]):
            if kind in want:
                mask[sl] |= reached
        return mask

    def band(self, name: str) -> int:
        """Index of band ``name`` in :data:`BANDS`."""
        return BANDS.index(name)

    @classmethod
    def from_scenario(cls, scenario, *, grid=None, tasks=None, seed: int | None = None):
        """The scene of ``scenario`` (its events; seed defaults to ``scenario.seed``)."""
        from sagsim.envs.scenario.loader import region_grid

        grid = region_grid(scenario) if grid is None else grid
        events = scenario.events if tasks is None else tasks
        return cls(grid, events, scenario.seed if seed is None else seed)
