"""The region of interest's metric grid (``RegionGrid``), re-exported by
:mod:`sagsim.envs.physics.geodesy`.

Two projections: a local azimuthal-equidistant grid centred on the region (``"aeqd"``, the
default, for regions up to about 2,000 km across) and the global equal-area EASE-Grid 2.0
(``"ease2"``, EPSG:6933) for continental and whole-world boxes.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pyproj
from matplotlib.path import Path

from sagsim.envs.physics.geodesy import EARTH_MEAN_RADIUS_M, geod

__all__ = ["EASE2_EPSG", "EASE2_MAX_LAT_DEG", "MAX_CELLS_PER_SIDE", "PROJECTIONS", "RegionGrid"]

PROJECTIONS = ("aeqd", "ease2")
# EASE-Grid 2.0 global: cylindrical equal-area on WGS84 with true scale at ±30°.
EASE2_EPSG = 6933
# The latitude range of EASE-Grid 2.0 global (its grid's y extent, ±7,314,540 m);
# sagsim.envs.scenario.schema's Region.EASE2_MAX_LAT_DEG must equal it (a test checks).
EASE2_MAX_LAT_DEG = 85.0445

# A 4096×4096 float64 layer is 128 MiB; several layers per grid is as far as a step should go.
MAX_CELLS_PER_SIDE = 4096
# Boundary densification: chords this short deviate from the curved parallel they follow by
# s²/(8ρ) ≈ 0.08 m for s = 2 km at the smallest relevant radius of curvature (~6000 km).
_MAX_EDGE_SPACING_M = 2000.0
_MAX_POINTS_PER_EDGE = 2000
# pyproj.Geod reports a ring's area modulo the ellipsoid's area (a ±85° band comes out as
# minus its two polar caps), so wide boxes are measured as sub-boxes of at most this
# longitude span, each well under half the Earth's area.
_AREA_SUB_BOX_LON_DEG = 90.0


@functools.lru_cache(maxsize=64)
def _transformers(crs_text: str) -> tuple[pyproj.CRS, pyproj.Transformer, pyproj.Transformer]:
    """The CRS of ``crs_text`` (a PROJ string or ``EPSG:n``) and cached lon/lat transformers."""
    crs = pyproj.CRS.from_user_input(crs_text)
    forward = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    inverse = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    return crs, forward, inverse


def _aeqd_text(lat0_deg: float, lon0_deg: float) -> str:
    return f"+proj=aeqd +lat_0={lat0_deg!r} +lon_0={lon0_deg!r} +datum=WGS84 +units=m +no_defs"


def _wrap_lon(lon_deg):
    return (np.asarray(lon_deg, float) + 180.0) % 360.0 - 180.0


def _edge(start, stop, spacing_deg):
    """Points from start to stop (stop excluded), at most spacing_deg apart."""
    n = int(np.clip(np.ceil(abs(stop - start) / spacing_deg), 1, _MAX_POINTS_PER_EDGE))
    return np.linspace(start, stop, n, endpoint=False)


def _box_ring(lon_min, lat_min, lon_max, lat_max, spacing_deg):
    """Densified box ring: south edge west→east, east edge south→north, north edge, west edge."""
    lon_s = _edge(lon_min, lon_max, spacing_deg)
    lat_e = _edge(lat_min, lat_max, spacing_deg)
    lon_n = _edge(lon_max, lon_min, spacing_deg)
    lat_w = _edge(lat_max, lat_min, spacing_deg)
    lon = np.concatenate([lon_s, np.full_like(lat_e, lon_max), lon_n, np.full_like(lat_w, lon_min)])
    lat = np.concatenate([np.full_like(lon_s, lat_min), lat_e, np.full_like(lon_n, lat_max), lat_w])
    return lon, lat


class RegionGrid:
    """Square cells on a local azimuthal-equidistant or the global EASE-Grid 2.0 projection.

    ``projection="aeqd"`` (the default): why azimuthal equidistant (``+proj=aeqd``)
    centred on the region rather than UTM: it is defined everywhere — at the poles, across
    the antimeridian and across UTM zone edges, where UTM breaks or needs zone juggling;
    distances and azimuths from the centre are exact; the only distortion is the azimuthal
    (perpendicular to the radius) scale ``c / sin c ≈ 1 + c²/6`` at angular distance ``c``
    from the centre, i.e. 0.0041 % at 100 km, 0.1 % at 493 km, 0.103 % at 500 km.
    ``max_scale_distortion`` reports it for this grid's farthest corner.

    Build it from a lon/lat bounding box ``(lon_min, lat_min, lon_max, lat_max)`` in
    degrees (``lon_min > lon_max`` means the box crosses the antimeridian; a box touching
    ±90° or spanning all longitudes is centred on the pole) or from a polygon (a sequence
    of ``(lon, lat)`` vertices with geodesic edges). The grid covers the projected
    bounding box of the densified region boundary; ``mask`` marks the cells whose centres
    lie inside the region. Row 0 is the northernmost (largest ``y_m``) row, as in a raster.

    ``projection="ease2"``: EASE-Grid 2.0 global (EPSG:6933), the cylindrical equal-area
    projection on WGS84 with true scale at ±30°, for continental and whole-world regions.
    Only a box is accepted, with ``lon_min < lon_max`` (no antimeridian wrap; the whole
    world is ``(-180, lat_min, 180, lat_max)``) and latitudes within ±85.0445°
    (``EASE2_MAX_LAT_DEG``). The box is a rectangle in the plane: the grid's extent is the
    projected box (x of lon_min/lon_max, y of lat_min/lat_max) with the whole cells
    centred over it, so every cell centre is inside the box and ``mask`` is all True.
    Cells are ``grid_resolution_m`` squares in *projected* metres; the projection is
    equal-area, so every cell covers exactly ``grid_resolution_m²`` of the ellipsoid, but
    cells are not square on the ground: the east–west scale is ``k_x ≈ cos 30° / cos φ``
    grid metres per ground metre (0.87 at the equator, 1 at ±30°, 9.9 at ±85°) and the
    north–south scale is ``1 / k_x``. ``max_scale_distortion`` (the largest ``|k − 1|``
    of both linear scales over the box) is therefore large; size footprints in cells with
    :meth:`scale_factors`. ``origin`` is (0, 0).

    Attributes:
        projection: ``"aeqd"`` or ``"ease2"``.
        crs: the ``pyproj.CRS`` of the grid (metres).
        origin: (lon_deg, lat_deg) of the projection centre, where x_m = y_m = 0.
        resolution_m: cell side (m).
        shape: (n_rows, n_cols).
        x_m: (n_cols,) cell-centre eastings, increasing.
        y_m: (n_rows,) cell-centre northings, decreasing (row 0 is north).
        bounds_m: (x_left, y_bottom, x_right, y_top) of the grid's outer edges.
        mask: (n_rows, n_cols) bool, cells whose centre is inside the region.
        boundary_lonlat_deg: (n, 2) densified region boundary ring.
        area_m2: region area measured in the projected plane (shoelace on the boundary;
            for ease2 the projected box, equal to the ellipsoidal area as the projection
            is equal-area, up to PROJ's authalic-latitude series).
        geodesic_area_m2: region area on the ellipsoid (pyproj.Geod on the boundary; for
            ease2 summed over sub-boxes at most 90° wide).
        max_scale_distortion: max relative scale error of the projection over the grid
            (aeqd) or the box (ease2).
    """

    def __init__(
        self,
        region: Sequence[float] | Sequence[Sequence[float]],
        grid_resolution_m: float,
        *,
        projection: Literal["aeqd", "ease2"] = "aeqd",
        max_cells_per_side: int = MAX_CELLS_PER_SIDE,
    ) -> None:
        resolution = float(grid_resolution_m)
        if not np.isfinite(resolution) or resolution <= 0.0:
            raise ValueError(
                f"grid_resolution_m must be a positive number, got {grid_resolution_m}"
            )
        if projection not in PROJECTIONS:
            raise ValueError(
                f"projection must be one of {', '.join(PROJECTIONS)}, got {projection!r}"
            )
        self.projection = projection
        self.resolution_m = resolution
        self._proj: pyproj.Proj | None = None
        spacing_deg = np.degrees(min(resolution, _MAX_EDGE_SPACING_M) / EARTH_MEAN_RADIUS_M)
        is_box = len(region) == 4 and all(np.ndim(v) == 0 for v in region)

        if projection == "ease2":
            if not is_box:
                raise ValueError(
                    "projection ease2 needs a box (lon_min, lat_min, lon_max, lat_max), "
                    "not a polygon"
                )
            self._init_ease2(*map(float, region), spacing_deg, max_cells_per_side)
            return
        if is_box:
            lon_b, lat_b, centre = self._box_boundary(*map(float, region), spacing_deg)
        else:
            self._box = None
            lon_b, lat_b, centre = self._polygon_boundary(region, resolution)
        self.origin = (float(_wrap_lon(centre[0])), float(centre[1]))
        self.crs, self._forward, self._inverse = _transformers(
            _aeqd_text(self.origin[1], self.origin[0])
        )
        self.boundary_lonlat_deg = np.column_stack([_wrap_lon(lon_b), lat_b])
        bx, by = self.to_grid(lon_b, lat_b)
        self._layout(bx.min(), bx.max(), by.min(), by.max(), max_cells_per_side)

        if self._box is not None:
            self.mask = self._box_contains(*self.cell_centres_lonlat())
        else:
            xx, yy = np.meshgrid(self.x_m, self.y_m)
            ring = Path(np.column_stack([bx, by]))
            inside = ring.contains_points(np.column_stack([xx.ravel(), yy.ravel()]))
            self.mask = inside.reshape(self.shape)
        for array in (self.x_m, self.y_m, self.mask, self.boundary_lonlat_deg):
            array.setflags(write=False)

        # Shoelace in the plane; abs() because the ring orientation is the caller's.
        self.area_m2 = float(abs(np.dot(bx, np.roll(by, -1)) - np.dot(by, np.roll(bx, -1))) / 2)
        area, _ = geod().polygon_area_perimeter(lon_b, lat_b)
        self.geodesic_area_m2 = float(abs(area))
        corners_x = np.array(self.bounds_m)[[0, 2, 2, 0]]
        corners_y = np.array(self.bounds_m)[[1, 1, 3, 3]]
        c = np.hypot(corners_x, corners_y).max() / EARTH_MEAN_RADIUS_M
        self.max_scale_distortion = float(c / np.sin(c) - 1.0) if c > 0 else 0.0

    # -- construction helpers -------------------------------------------------------------

    def _layout(self, x_min, x_max, y_min, y_max, max_cells_per_side):
        """Whole cells centred over the projected extent: shape, bounds_m, x_m, y_m."""
        resolution = self.resolution_m
        width_m, height_m = x_max - x_min, y_max - y_min
        n_cols = max(1, int(np.ceil(width_m / resolution)))
        n_rows = max(1, int(np.ceil(height_m / resolution)))
        if max(n_rows, n_cols) > max_cells_per_side:
            min_res = max(width_m, height_m) / max_cells_per_side
            raise ValueError(
                f"grid_resolution_m={resolution:g} gives a {n_rows}×{n_cols} grid for this "
                f"{height_m / 1e3:.1f}×{width_m / 1e3:.1f} km region; the limit is "
                f"{max_cells_per_side}×{max_cells_per_side} cells: use grid_resolution_m >= "
                f"{np.ceil(min_res):g}"
            )
        self.shape = (n_rows, n_cols)
        x_left = x_min - (n_cols * resolution - width_m) / 2.0
        y_top = y_max + (n_rows * resolution - height_m) / 2.0
        self.bounds_m = (x_left, y_top - n_rows * resolution, x_left + n_cols * resolution, y_top)
        self.x_m = x_left + (np.arange(n_cols) + 0.5) * resolution
        self.y_m = y_top - (np.arange(n_rows) + 0.5) * resolution
        self._centres_lonlat: tuple[np.ndarray, np.ndarray] | None = None

    def _init_ease2(self, lon_min, lat_min, lon_max, lat_max, spacing_deg, max_cells_per_side):
        lim = EASE2_MAX_LAT_DEG
        if not (-lim <= lat_min < lat_max <= lim):
            raise ValueError(
                f"projection ease2 needs -{lim} <= lat_min < lat_max <= {lim} "
                f"(EASE-Grid 2.0 global's range), got lat {lat_min}..{lat_max}"
            )
        if not (-180.0 <= lon_min < lon_max <= 180.0):
            raise ValueError(
                "projection ease2 needs -180 <= lon_min < lon_max <= 180 (no antimeridian "
                f"wrap; the whole world is lon -180..180), got lon {lon_min}..{lon_max}"
            )
        self._box = (lon_min, lat_min, lon_max - lon_min, lat_max)
        self.origin = (0.0, 0.0)
        self.crs, self._forward, self._inverse = _transformers(f"EPSG:{EASE2_EPSG}")
        lon_b, lat_b = _box_ring(lon_min, lat_min, lon_max, lat_max, spacing_deg)
        self.boundary_lonlat_deg = np.column_stack([_wrap_lon(lon_b), lat_b])
        # Cylindrical: x depends on lon only, y on lat only, so the box is a rectangle.
        (x_min, x_max), _ = self.to_grid([lon_min, lon_max], [0.0, 0.0])
        _, (y_min, y_max) = self.to_grid([0.0, 0.0], [lat_min, lat_max])
        self._layout(x_min, x_max, y_min, y_max, max_cells_per_side)
        inside_x = (self.x_m >= x_min) & (self.x_m <= x_max)
        inside_y = (self.y_m >= y_min) & (self.y_m <= y_max)
        self.mask = inside_y[:, None] & inside_x[None, :]
        for array in (self.x_m, self.y_m, self.mask, self.boundary_lonlat_deg):
            array.setflags(write=False)

        self.area_m2 = float((x_max - x_min) * (y_max - y_min))
        n_sub = int(np.ceil((lon_max - lon_min) / _AREA_SUB_BOX_LON_DEG))
        sub_edges = np.linspace(lon_min, lon_max, n_sub + 1)
        area = 0.0
        for west, east in itertools.pairwise(sub_edges):  # ≤ 4 sub-boxes
            lon_r, lat_r = _box_ring(west, lat_min, east, lat_max, spacing_deg)
            area += abs(geod().polygon_area_perimeter(lon_r, lat_r)[0])
        self.geodesic_area_m2 = float(area)
        # Both linear scales are monotonic in |lat|: the extremes are at the box's edges
        # and at the equator when the box straddles it.
        lat_probe = np.array([lat_min, lat_max, np.clip(0.0, lat_min, lat_max)])
        k_x, k_y = self.scale_factors(np.zeros(3), lat_probe)
        self.max_scale_distortion = float(np.max(np.abs(np.concatenate([k_x, k_y]) - 1.0)))

    def _box_boundary(self, lon_min, lat_min, lon_max, lat_max, spacing_deg):
        if not (-90.0 <= lat_min < lat_max <= 90.0):
            raise ValueError(
                f"box needs -90 <= lat_min < lat_max <= 90, got lat {lat_min}..{lat_max}"
            )
        if lon_max < lon_min:  # crosses the antimeridian: unwrap so the span is positive
            lon_max += 360.0
        span = lon_max - lon_min
        if not (0.0 < span <= 360.0):
            raise ValueError(f"box longitude span must be in (0, 360], got {span}")
        self._box = (lon_min, lat_min, span, lat_max)
        full_circle = span >= 360.0
        if lat_max >= 90.0 and lat_min <= -90.0:
            raise ValueError("a box spanning both poles has no local projection centre")
        if lat_max >= 90.0 or (full_circle and lat_min >= 0.0):
            centre_lat = 90.0
        elif lat_min <= -90.0 or (full_circle and lat_max <= 0.0):
            centre_lat = -90.0
        elif full_circle:
            raise ValueError("a box around the whole globe must lie in one hemisphere")
        else:
            centre_lat = (lat_min + lat_max) / 2.0
        centre_lon = lon_min + span / 2.0
        lon, lat = _box_ring(lon_min, lat_min, lon_max, lat_max, spacing_deg)
        return lon, lat, (centre_lon, centre_lat)

    def _polygon_boundary(self, vertices, resolution):
        v = np.asarray(vertices, float)
        if v.ndim != 2 or v.shape[1] != 2 or len(v) < 3:
            raise ValueError("polygon must be a sequence of at least 3 (lon, lat) vertices")
        if np.allclose(v[0], v[-1]):
            v = v[:-1]
        if np.any(np.abs(v[:, 1]) > 90.0):
            raise ValueError("polygon latitudes must be within [-90, 90]")
        lon_v, lat_v = np.unwrap(v[:, 0], period=360.0), v[:, 1]
        lon_next, lat_next = np.roll(lon_v, -1), np.roll(lat_v, -1)
        _, _, edge_m = geod().inv(lon_v, lat_v, lon_next, lat_next)
        spacing_m = min(resolution, _MAX_EDGE_SPACING_M)
        lon_parts, lat_parts = [], []
        for i in range(len(v)):  # a loop over polygon edges (few), not over grid points
            n_inner = int(min(np.ceil(edge_m[i] / spacing_m), _MAX_POINTS_PER_EDGE)) - 1
            lon_parts.append([lon_v[i]])
            lat_parts.append([lat_v[i]])
            if n_inner > 0:
                pts = np.asarray(geod().npts(lon_v[i], lat_v[i], lon_next[i], lat_next[i], n_inner))
                lon_parts.append(pts[:, 0])
                lat_parts.append(pts[:, 1])
        lon = np.unwrap(np.concatenate(lon_parts), period=360.0)
        lat = np.concatenate(lat_parts)
        # Centre: the normalised mean of the boundary's unit vectors, which is well defined
        # across the antimeridian and around a pole (where lon/lat averages are not).
        lon_r, lat_r = np.radians(lon), np.radians(lat)
        mean = np.array(
            [
                np.mean(np.cos(lat_r) * np.cos(lon_r)),
                np.mean(np.cos(lat_r) * np.sin(lon_r)),
                np.mean(np.sin(lat_r)),
            ]
        )
        centre = (
            float(np.degrees(np.arctan2(mean[1], mean[0]))),
            float(np.degrees(np.arctan2(mean[2], np.hypot(mean[0], mean[1])))),
        )
        return lon, lat, centre

    def _box_contains(self, lon_deg, lat_deg):
        lon_min, lat_min, span, lat_max = self._box
        offset = (np.asarray(lon_deg) - lon_min) % 360.0
        return (lat_deg >= lat_min) & (lat_deg <= lat_max) & ((offset <= span) | (span >= 360.0))

    # -- coordinate conversions -----------------------------------------------------------

    def to_grid(self, lon_deg, lat_deg) -> tuple[np.ndarray, np.ndarray]:
        """Geodetic (lon, lat) in degrees → grid (x_m, y_m); broadcasts, shapes preserved."""
        lon, lat = np.broadcast_arrays(np.asarray(lon_deg, float), np.asarray(lat_deg, float))
        x, y = self._forward.transform(lon.ravel(), lat.ravel())
        return np.reshape(x, lon.shape), np.reshape(y, lon.shape)

    def to_lonlat(self, x_m, y_m) -> tuple[np.ndarray, np.ndarray]:
        """Grid (x_m, y_m) → (lon_deg in [-180, 180), lat_deg); broadcasts, shapes preserved."""
        x, y = np.broadcast_arrays(np.asarray(x_m, float), np.asarray(y_m, float))
        lon, lat = self._inverse.transform(x.ravel(), y.ravel())
        return np.reshape(_wrap_lon(lon), x.shape), np.reshape(lat, x.shape)

    def cell_index(self, x_m, y_m) -> tuple[np.ndarray, np.ndarray]:
        """Grid coordinates → (row, col) int64 arrays; both are -1 outside the grid."""
        x, y = np.broadcast_arrays(np.asarray(x_m, float), np.asarray(y_m, float))
        x_left, _, _, y_top = self.bounds_m
        with np.errstate(invalid="ignore"):
            col = np.floor((x - x_left) / self.resolution_m)
            row = np.floor((y_top - y) / self.resolution_m)
            outside = ~((row >= 0) & (row < self.shape[0]) & (col >= 0) & (col < self.shape[1]))
        row = np.where(outside, -1, row).astype(np.int64)
        col = np.where(outside, -1, col).astype(np.int64)
        return row, col

    def cell_index_lonlat(self, lon_deg, lat_deg) -> tuple[np.ndarray, np.ndarray]:
        """Geodetic (lon, lat) → (row, col); -1 outside the grid."""
        return self.cell_index(*self.to_grid(lon_deg, lat_deg))

    def cell_centres_lonlat(self) -> tuple[np.ndarray, np.ndarray]:
        """(lon_deg, lat_deg) of every cell centre, each (n_rows, n_cols); cached, read-only."""
        if self._centres_lonlat is None:
            xx, yy = np.meshgrid(self.x_m, self.y_m)
            lon, lat = self.to_lonlat(xx, yy)
            lon.setflags(write=False)
            lat.setflags(write=False)
            self._centres_lonlat = (lon, lat)
        return self._centres_lonlat

    def scale_factors(self, lon_deg, lat_deg) -> tuple[np.ndarray, np.ndarray]:
        """(k_x, k_y): grid metres per ground metre along east and along north at (lon, lat).

        PROJ's parallel and meridional scale factors (``pyproj.Proj.get_factors``);
        broadcasts, shapes preserved. Use them to size a ground footprint in grid cells:
        ``w_m * k_x / resolution_m`` cells east–west, ``h_m * k_y / resolution_m`` north–south.
        Near an aeqd grid's centre both are ≈ 1; on ease2 ``k_x = 1 / k_y ≈ cos 30° / cos φ``.
        For aeqd away from the central meridian the parallels and meridians are slightly
        rotated against the grid axes (meridian convergence); the factors are lengths
        along them, not along x and y.
        """
        lon, lat = np.broadcast_arrays(np.asarray(lon_deg, float), np.asarray(lat_deg, float))
        if self._proj is None:
            self._proj = pyproj.Proj(self.crs)
        factors = self._proj.get_factors(lon.ravel(), lat.ravel())
        k_x = np.reshape(np.asarray(factors.parallel_scale, float), lon.shape)
        k_y = np.reshape(np.asarray(factors.meridional_scale, float), lon.shape)
        return k_x, k_y

    @property
    def mask_area_m2(self) -> float:
        """Area of the cells inside the region (m²): what the grid actually represents."""
        return float(self.mask.sum()) * self.resolution_m**2

    def __repr__(self) -> str:
        return (
            f"RegionGrid(projection={self.projection!r}, "
            f"origin=({self.origin[0]:.4f}, {self.origin[1]:.4f}), "
            f"shape={self.shape}, resolution_m={self.resolution_m:g})"
        )
