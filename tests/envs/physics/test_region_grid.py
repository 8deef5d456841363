"""sagsim.envs.physics.region_grid.RegionGrid: local azimuthal-equidistant grids anywhere on
the globe."""

import math

import numpy as np
import pyproj
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sagsim.envs.physics.geodesy import WGS84_A_M, WGS84_E2, WGS84_F
from sagsim.envs.physics.region_grid import RegionGrid

# Projected-plane area vs ellipsoidal area: aeqd's areal scale is the azimuthal scale
# c/sin c, so the relative area error is bounded by the grid's max_scale_distortion; the
# extra 1e-5 covers the sphere-vs-ellipsoid approximation inside that bound.
AREA_SLACK = 1e-5
# Geod area of the densified box vs the exact ellipsoidal lat/lon box area: chords of
# ≤ 2 km along parallels cut ≤ s²/(8ρ) ≈ 0.08 m sagittas; relative error well below 1e-6.
BOX_AREA_RTOL = 1e-6
# to_grid → to_lonlat round trip: PROJ's aeqd inverse is iterative on the ellipsoid (~nm).
LONLAT_ROUND_TRIP_TOLERANCE_DEG = 1e-9
# max_scale_distortion is the spherical c/sin c − 1; PROJ's ellipsoidal Tissot semi-major
# axis differs by O(e²) ≈ 0.7 % of the distortion itself.
SCALE_DISTORTION_RTOL = 0.02

WUHAN = (113.5, 29.5, 115.5, 31.5)
REGIONS = {
    "wuhan": (WUHAN, 1000.0, (114.5, 30.5)),
    "antimeridian": ((179.0, -1.0, -179.0, 1.0), 1000.0, (-180.0, 0.0)),
    "equator": ((-1.0, -1.0, 1.0, 1.0), 1000.0, (0.0, 0.0)),
    "north_pole_wedge": ((0.0, 85.0, 10.0, 90.0), 1000.0, (5.0, 90.0)),
    "arctic_cap": ((-180.0, 80.0, 180.0, 89.0), 10_000.0, (0.0, 90.0)),
    "south_box": ((-70.0, -80.0, -60.0, -75.0), 2000.0, (-65.0, -77.5)),
    "polygon": ([(10.0, 10.0), (11.0, 10.0), (11.0, 11.0), (10.0, 11.5)], 1000.0, None),
    "polygon_antimeridian": (
        [(179.5, 0.0), (-179.5, 0.0), (-179.5, 1.0), (179.5, 1.0)],
        500.0,
        None,
    ),
}


def _exact_box_area_m2(lon_span_deg, lat_min, lat_max):
    """Area of a lat/lon box on the WGS84 ellipsoid (authalic latitude formula)."""
    e = math.sqrt(WGS84_E2)
    b = WGS84_A_M * (1 - WGS84_F)

    def q(lat_deg):
        s = math.sin(math.radians(lat_deg))
        return s / (1 - WGS84_E2 * s * s) + math.log((1 + e * s) / (1 - e * s)) / (2 * e)

    return math.radians(lon_span_deg) * b * b / 2 * (q(lat_max) - q(lat_min))


@pytest.fixture(scope="module", params=list(REGIONS))
def case(request):
    region, resolution, centre = REGIONS[request.param]
    return request.param, RegionGrid(region, resolution), centre


def test_centre_shape_and_coordinates(case):
    _, grid, centre = case
    if centre is not None:
        assert grid.origin[1] == pytest.approx(centre[1], abs=1e-9)
        if abs(centre[1]) < 90:  # longitude of a pole is arbitrary
            assert (grid.origin[0] - centre[0] + 180) % 360 - 180 == pytest.approx(0, abs=1e-9)
    n_rows, n_cols = grid.shape
    assert grid.x_m.shape == (n_cols,) and grid.y_m.shape == (n_rows,)
    assert np.all(np.diff(grid.x_m) > 0) and np.all(np.diff(grid.y_m) < 0)
    np.testing.assert_allclose(np.diff(grid.x_m), grid.resolution_m)
    assert grid.mask.shape == grid.shape and grid.mask.any()
    assert isinstance(grid.crs, pyproj.CRS)
    assert grid.crs.coordinate_operation.method_name == "Azimuthal Equidistant"
    # The region is centred: x = y = 0 lies inside the grid.
    x_left, y_bottom, x_right, y_top = grid.bounds_m
    assert x_left < 0 < x_right and y_bottom < 0 < y_top


def test_area_matches_pyproj_geod(case):
    _, grid, _ = case
    lon, lat = grid.boundary_lonlat_deg.T
    area, _ = pyproj.Geod(ellps="WGS84").polygon_area_perimeter(lon, lat)
    assert grid.geodesic_area_m2 == pytest.approx(abs(area), rel=1e-12)
    rtol = grid.max_scale_distortion + AREA_SLACK
    assert grid.area_m2 == pytest.approx(abs(area), rel=rtol)
    # The masked cells approximate the region to within half a cell along its perimeter.
    _, perimeter = pyproj.Geod(ellps="WGS84").polygon_area_perimeter(lon, lat)
    discretisation_m2 = perimeter * grid.resolution_m / 2 + 4 * grid.resolution_m**2
    assert grid.mask_area_m2 == pytest.approx(abs(area), abs=discretisation_m2)


@pytest.mark.parametrize(
    ("box", "span"),
    [(WUHAN, 2.0), ((179.0, -1.0, -179.0, 1.0), 2.0), ((0.0, 85.0, 10.0, 90.0), 10.0)],
)
def test_box_area_exact(box, span):
    grid = RegionGrid(box, 2000.0)
    assert grid.geodesic_area_m2 == pytest.approx(
        _exact_box_area_m2(span, box[1], box[3]), rel=BOX_AREA_RTOL
    )


def test_round_trip_and_cell_index(case):
    _, grid, _ = case
    lon, lat = grid.cell_centres_lonlat()
    assert lon.shape == grid.shape
    assert np.all((lon >= -180) & (lon < 180))
    x, y = grid.to_grid(lon, lat)
    xx, yy = np.meshgrid(grid.x_m, grid.y_m)
    np.testing.assert_allclose(x, xx, atol=1e-6)
    np.testing.assert_allclose(y, yy, atol=1e-6)
    lon2, lat2 = grid.to_lonlat(x, y)
    np.testing.assert_allclose(lat2, lat, atol=LONLAT_ROUND_TRIP_TOLERANCE_DEG)
    not_pole = np.abs(lat) < 89.999
    dlon = (lon2 - lon + 180) % 360 - 180
    np.testing.assert_allclose(dlon[not_pole], 0, atol=LONLAT_ROUND_TRIP_TOLERANCE_DEG)
    rows, cols = grid.cell_index(xx, yy)
    np.testing.assert_array_equal(
        rows, np.broadcast_to(np.arange(grid.shape[0])[:, None], grid.shape)
    )
    np.testing.assert_array_equal(cols, np.broadcast_to(np.arange(grid.shape[1]), grid.shape))
    # Points just inside the corner cells and just outside the grid.
    x_left, y_bottom, x_right, y_top = grid.bounds_m
    r, c = grid.cell_index(
        [x_left + 1e-3, x_right - 1e-3, x_left - 1.0, 0.0],
        [y_top - 1e-3, y_bottom + 1e-3, 0.0, y_top + 1],
    )
    np.testing.assert_array_equal(r, [0, grid.shape[0] - 1, -1, -1])
    np.testing.assert_array_equal(c, [0, grid.shape[1] - 1, -1, -1])


def test_mask_follows_region():
    grid = RegionGrid((0.0, 85.0, 10.0, 90.0), 1000.0)
    lon, lat = grid.cell_centres_lonlat()
    inside = (lat >= 85.0) & (lon >= 0.0) & (lon <= 10.0)
    np.testing.assert_array_equal(grid.mask, inside)
    assert 0.3 < grid.mask.mean() < 0.7  # a thin wedge in its bounding box
    wuhan = RegionGrid(WUHAN, 1000.0)
    assert wuhan.mask.mean() > 0.97  # almost rectangular in aeqd
    row, col = wuhan.cell_index_lonlat(114.3, 30.6)  # Wuhan city centre is in the region
    assert wuhan.mask[row, col]


def test_polygon_mask_excludes_outside_points():
    grid = RegionGrid(REGIONS["polygon"][0], 1000.0)
    row, col = grid.cell_index_lonlat([10.5, 10.9], [10.5, 11.4])
    assert grid.mask[row[0], col[0]]
    assert row[1] >= 0 and not grid.mask[row[1], col[1]]  # in the bounding box, outside


def test_scale_distortion_matches_proj_factors():
    grid = RegionGrid(WUHAN, 1000.0)
    x_left, y_bottom, x_right, y_top = grid.bounds_m
    lon, lat = grid.to_lonlat(
        [x_left, x_right, x_right, x_left], [y_bottom, y_bottom, y_top, y_top]
    )
    factors = pyproj.Proj(grid.crs).get_factors(lon, lat)
    measured = np.max(np.asarray(factors.tissot_semimajor)) - 1.0
    assert grid.max_scale_distortion == pytest.approx(measured, rel=SCALE_DISTORTION_RTOL)
    # The docstring's numbers: c/sin c − 1 ≈ c²/6 is < 0.1 % within ~493 km of the centre.
    c = 493e3 / 6371008.8
    assert c / math.sin(c) - 1 < 1e-3 < (c + 0.0002) / math.sin(c + 0.0002) - 1


def test_too_many_cells_names_the_field():
    with pytest.raises(ValueError, match="grid_resolution_m"):
        RegionGrid(WUHAN, 10.0)
    with pytest.raises(ValueError, match="grid_resolution_m"):
        RegionGrid(WUHAN, -5.0)


def test_bad_regions():
    with pytest.raises(ValueError, match="lat_min"):
        RegionGrid((0.0, 10.0, 1.0, 5.0), 1000.0)
    with pytest.raises(ValueError, match="polygon"):
        RegionGrid([(0.0, 0.0), (1.0, 1.0)], 1000.0)


@given(
    lon_min=st.floats(-180.0, 179.0),
    lat_min=st.floats(-89.5, 88.0),
    width_deg=st.floats(0.05, 3.0),
    height_deg=st.floats(0.05, 1.5),
    u=st.floats(0.0, 1.0),
    v=st.floats(0.0, 1.0),
)
def test_any_box_on_earth_round_trips(lon_min, lat_min, width_deg, height_deg, u, v) -> None:
    """Boxes anywhere (poles, ±180°, equator): a point inside maps to the grid and back."""
    lat_max = min(lat_min + height_deg, 90.0)
    lon_max = lon_min + width_deg
    lon_max = lon_max - 360.0 if lon_max > 180.0 else lon_max  # crosses the antimeridian
    grid = RegionGrid((lon_min, lat_min, lon_max, lat_max), 2_000.0)
    lon = lon_min + u * width_deg
    lon = lon - 360.0 if lon > 180.0 else lon
    lat = lat_min + v * (lat_max - lat_min)
    x_m, y_m = grid.to_grid(lon, lat)
    lon_back, lat_back = grid.to_lonlat(x_m, y_m)
    assert abs(float(lat_back) - lat) < LONLAT_ROUND_TRIP_TOLERANCE_DEG
    if abs(lat) < 89.9:  # longitude is undefined at the pole itself
        dlon = (float(lon_back) - lon + 180.0) % 360.0 - 180.0
        assert abs(dlon) < 1e-7
    row, col = grid.cell_index(x_m, y_m)
    assert 0 <= row < grid.shape[0] and 0 <= col < grid.shape[1]
    assert grid.max_scale_distortion < 1e-3
