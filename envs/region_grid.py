"""The region of interest's local metric grid (``RegionGrid``), re-exported by :mod:`envs.geo`."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import pyproj
from matplotlib.path import Path

from envs.geo import EARTH_MEAN_RADIUS_M, geod

__all__ = ["MAX_CELLS_PER_SIDE", "RegionGrid"]

# A 4096×4096 float64 layer is 128 MiB; several layers per grid is as far as a step should go.
MAX_CELLS_PER_SIDE = 4096
# Boundary densification: chords this short deviate from the curved parallel they follow by
# s²/(8ρ) ≈ 0.08 m for s = 2 km at the smallest relevant radius of curvature (~6000 km).
_MAX_EDGE_SPACING_M = 2000.0
_MAX_POINTS_PER_EDGE = 2000


@functools.lru_cache(maxsize=64)
def _aeqd_transformers(
    lat0_deg: float, lon0_deg: float
) -> tuple[pyproj.CRS, pyproj.Transformer, pyproj.Transformer]:
    crs = pyproj.CRS.from_proj4(
        f"+proj=aeqd +lat_0={lat0_deg!r} +lon_0={lon0_deg!r} +datum=WGS84 +units=m +no_defs"
    )
    forward = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    inverse = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    return crs, forward, inverse


def _wrap_lon(lon_deg):
    return (np.asarray(lon_deg, float) + 180.0) % 360.0 - 180.0


def _edge(start, stop, spacing_deg):
    """Points from start to stop (stop excluded), at most spacing_deg apart."""
    n = int(np.clip(np.ceil(abs(stop - start) / spacing_deg), 1, _MAX_POINTS_PER_EDGE))
    return np.linspace(start, stop, n, endpoint=False)


class RegionGrid:
    """Square cells on a local azimuthal-equidistant projection centred on the region.

    Why azimuthal equidistant (``+proj=aeqd``) centred on the region rather than UTM:
    it is defined everywhere — at the poles, across the antimeridian and across UTM zone
    edges, where UTM breaks or needs zone juggling; distances and azimuths from the
    centre are exact; the only distortion is the azimuthal (perpendicular to the radius)
    scale ``c / sin c ≈ 1 + c²/6`` at angular distance ``c`` from the centre, i.e.
    0.0041 % at 100 km, 0.1 % at 493 km, 0.103 % at 500 km. ``max_scale_distortion``
    reports it for this grid's farthest corner.

    Build it from a lon/lat bounding box ``(lon_min, lat_min, lon_max, lat_max)`` in
    degrees (``lon_min > lon_max`` means the box crosses the antimeridian; a box touching
    ±90° or spanning all longitudes is centred on the pole) or from a polygon (a sequence
    of ``(lon, lat)`` vertices with geodesic edges). The grid covers the projected
    bounding box of the densified region boundary; ``mask`` marks the cells whose centres
    lie inside the region. Row 0 is the northernmost (largest ``y_m``) row, as in a raster.

    Attributes:
        crs: the ``pyproj.CRS`` of the grid (metres).
        origin: (lon_deg, lat_deg) of the projection centre, where x_m = y_m = 0.
        resolution_m: cell side (m).
        shape: (n_rows, n_cols).
        x_m: (n_cols,) cell-centre eastings, increasing.
        y_m: (n_rows,) cell-centre northings, decreasing (row 0 is north).
        bounds_m: (x_left, y_bottom, x_right, y_top) of the grid's outer edges.
        mask: (n_rows, n_cols) bool, cells whose centre is inside the region.
        boundary_lonlat_deg: (n, 2) densified region boundary ring.
        area_m2: region area measured in the projected plane (shoelace on the boundary).
        geodesic_area_m2: region area on the ellipsoid (pyproj.Geod on the boundary).
        max_scale_distortion: max relative scale error of the projection over the grid.
    """

    def __init__(
        self,
        region: Sequence[float] | Sequence[Sequence[float]],
        grid_resolution_m: float,
        *,
        max_cells_per_side: int = MAX_CELLS_PER_SIDE,
    ) -> None:
        resolution = float(grid_resolution_m)
        if not np.isfinite(resolution) or resolution <= 0.0:
            raise ValueError(
                f"grid_resolution_m must be a positive number, got {grid_resolution_m}"
            )
        self.resolution_m = resolution
        spacing_deg = np.degrees(min(resolution, _MAX_EDGE_SPACING_M) / EARTH_MEAN_RADIUS_M)

        if len(region) == 4 and all(np.ndim(v) == 0 for v in region):
            lon_b, lat_b, centre = self._box_boundary(*map(float, region), spacing_deg)
        else:
            self._box = None
            lon_b, lat_b, centre = self._polygon_boundary(region, resolution)
        self.origin = (float(_wrap_lon(centre[0])), float(centre[1]))
        self.crs, self._forward, self._inverse = _aeqd_transformers(self.origin[1], self.origin[0])
        self.boundary_lonlat_deg = np.column_stack([_wrap_lon(lon_b), lat_b])
        bx, by = self.to_grid(lon_b, lat_b)

        width_m, height_m = np.ptp(bx), np.ptp(by)
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
        # Centre the whole-cell grid over the boundary's extent.
        x_left = bx.min() - (n_cols * resolution - width_m) / 2.0
        y_top = by.max() + (n_rows * resolution - height_m) / 2.0
        self.bounds_m = (x_left, y_top - n_rows * resolution, x_left + n_cols * resolution, y_top)
        self.x_m = x_left + (np.arange(n_cols) + 0.5) * resolution
        self.y_m = y_top - (np.arange(n_rows) + 0.5) * resolution
        self._centres_lonlat: tuple[np.ndarray, np.ndarray] | None = None

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
        # Ring: south edge west→east, east edge south→north, north edge, west edge.
        lon_s = _edge(lon_min, lon_max, spacing_deg)
        lat_e = _edge(lat_min, lat_max, spacing_deg)
        lon_n = _edge(lon_max, lon_min, spacing_deg)
        lat_w = _edge(lat_max, lat_min, spacing_deg)
        lon = np.concatenate(
            [lon_s, np.full_like(lat_e, lon_max), lon_n, np.full_like(lat_w, lon_min)]
        )
        lat = np.concatenate(
            [np.full_like(lon_s, lat_min), lat_e, np.full_like(lon_n, lat_max), lat_w]
        )
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

    @property
    def mask_area_m2(self) -> float:
        """Area of the cells inside the region (m²): what the grid actually represents."""
        return float(self.mask.sum()) * self.resolution_m**2

    def __repr__(self) -> str:
        return (
            f"RegionGrid(origin=({self.origin[0]:.4f}, {self.origin[1]:.4f}), "
            f"shape={self.shape}, resolution_m={self.resolution_m:g})"
        )
