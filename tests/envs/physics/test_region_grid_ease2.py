"""sagsim.envs.physics.region_grid.RegionGrid with projection="ease2": EASE-Grid 2.0 global
grids up to the whole world."""

import copy
import math

import numpy as np
import pyproj
import pytest

from sagsim.envs import ScenarioError, load_scenario
from sagsim.envs.physics.geodesy import WGS84_A_M, WGS84_E2
from sagsim.envs.physics.region_grid import EASE2_MAX_LAT_DEG, RegionGrid
from sagsim.envs.scenario.loader import region_grid
from sagsim.envs.scenario.schema.scenario import Region
from tests.envs.physics.test_region_grid import WUHAN, _exact_box_area_m2

# Lon/lat → grid → lon/lat: PROJ's cea inverse goes through an authalic-latitude series.
LONLAT_ROUND_TRIP_TOLERANCE_DEG = 1e-6
# Projected-box and Geod areas vs the closed-form WGS84 area: the projection is equal-area
# (exact up to PROJ's authalic series) and Geod's chords along parallels cut < 1e-8 of it.
AREA_RTOL = 1e-6
# Spherical closed form k = cos 30° / cos φ vs PROJ's ellipsoidal factors, which differ by
# √(1 − e² sin²φ) / √(1 − e² sin²30°): within e²/2 ≈ 0.34 % for all φ.
CEA_SPHERE_RTOL = 0.004
# aeqd near its centre: the ≤ 0.5 % a scenario allows a local grid (c/sin c − 1 ≈ 1e-5 here).
AEQD_SCALE_TOLERANCE = 0.005

WORLD = (-180.0, -EASE2_MAX_LAT_DEG, 180.0, EASE2_MAX_LAT_DEG)
WORLD_RESOLUTION_M = 50_000.0
COS_TS = math.cos(math.radians(30.0))


def _cea_xy_m(lon_deg, lat_deg):
    """EASE-Grid 2.0 (ellipsoidal cylindrical equal-area, lat_ts = 30°) in closed form."""
    e = math.sqrt(WGS84_E2)
    k0 = COS_TS / math.sqrt(1 - WGS84_E2 * 0.25)
    s = math.sin(math.radians(lat_deg))
    q = (1 - WGS84_E2) * (s / (1 - WGS84_E2 * s * s) + math.atanh(e * s) / e)
    return WGS84_A_M * k0 * math.radians(lon_deg), WGS84_A_M * q / (2 * k0)


@pytest.fixture(scope="module")
def world():
    return RegionGrid(WORLD, WORLD_RESOLUTION_M, projection="ease2")


def test_world_grid_shape_crs_and_mask(world):
    x_edge, _ = _cea_xy_m(180.0, 0.0)
    _, y_edge = _cea_xy_m(0.0, EASE2_MAX_LAT_DEG)
    expected = (
        math.ceil(2 * y_edge / WORLD_RESOLUTION_M),
        math.ceil(2 * x_edge / WORLD_RESOLUTION_M),
    )
    assert world.shape == expected == (293, 695)
    assert world.projection == "ease2"
    assert world.crs.to_epsg() == 6933
    assert world.origin == (0.0, 0.0)
    assert world.mask.shape == world.shape and world.mask.all()
    np.testing.assert_allclose(np.diff(world.x_m), WORLD_RESOLUTION_M)
    np.testing.assert_allclose(np.diff(world.y_m), -WORLD_RESOLUTION_M)
    # The whole cells are centred over the projected box, symmetric about (0, 0).
    x_left, y_bottom, x_right, y_top = world.bounds_m
    assert x_left == pytest.approx(-x_right) and y_bottom == pytest.approx(-y_top)
    assert x_left <= -x_edge and y_top >= y_edge
    lon_b, lat_b = world.boundary_lonlat_deg.T
    assert lat_b.min() == -EASE2_MAX_LAT_DEG and lat_b.max() == EASE2_MAX_LAT_DEG
    assert np.all((lon_b >= -180.0) & (lon_b < 180.0))
    assert "ease2" in repr(world)


def test_world_round_trip(world):
    rng = np.random.default_rng(1)
    lon = rng.uniform(-180.0, 180.0, 2000)
    lat = rng.uniform(-EASE2_MAX_LAT_DEG, EASE2_MAX_LAT_DEG, 2000)
    lon_back, lat_back = world.to_lonlat(*world.to_grid(lon, lat))
    np.testing.assert_allclose(lat_back, lat, atol=LONLAT_ROUND_TRIP_TOLERANCE_DEG)
    dlon = (lon_back - lon + 180.0) % 360.0 - 180.0
    np.testing.assert_allclose(dlon, 0.0, atol=LONLAT_ROUND_TRIP_TOLERANCE_DEG)
    # Cell centres: inside the box, and back onto the cell centres.
    lon_c, lat_c = world.cell_centres_lonlat()
    assert np.all(np.abs(lat_c) < EASE2_MAX_LAT_DEG)
    xx, yy = np.meshgrid(world.x_m, world.y_m)
    x, y = world.to_grid(lon_c, lat_c)
    np.testing.assert_allclose(x, xx, atol=1e-3)
    np.testing.assert_allclose(y, yy, atol=1e-3)


def test_world_cell_index_of_known_points(world):
    n_rows, n_cols = world.shape
    rows, cols = world.cell_index_lonlat(
        [0.0, -179.99, 179.99, -179.99, 179.99], [0.0, 85.0, -85.0, -85.0, 85.0]
    )
    np.testing.assert_array_equal(rows, [n_rows // 2, 0, n_rows - 1, n_rows - 1, 0])
    np.testing.assert_array_equal(cols, [n_cols // 2, 0, n_cols - 1, 0, n_cols - 1])
    # Wuhan, from the closed-form projection and the grid's centred layout.
    x, y = _cea_xy_m(114.3, 30.6)
    row, col = world.cell_index_lonlat(114.3, 30.6)
    assert row == math.floor((n_rows * WORLD_RESOLUTION_M / 2 - y) / WORLD_RESOLUTION_M)
    assert col == math.floor((x + n_cols * WORLD_RESOLUTION_M / 2) / WORLD_RESOLUTION_M)
    # Beyond ±85.0445° is outside the grid.
    row, col = world.cell_index_lonlat(0.0, 89.0)
    assert row == -1 and col == -1


def test_world_area_is_the_earth_between_the_limits(world):
    exact = _exact_box_area_m2(360.0, -EASE2_MAX_LAT_DEG, EASE2_MAX_LAT_DEG)
    assert exact == pytest.approx(5.081e14, rel=1e-3)  # 99.6 % of the Earth's 5.101e14 m²
    assert world.area_m2 == pytest.approx(exact, rel=AREA_RTOL)
    assert world.geodesic_area_m2 == pytest.approx(exact, rel=AREA_RTOL)
    # Equal-area: every cell is resolution² of ground; the cells overhang the box by < 1 cell.
    x_left, y_bottom, x_right, y_top = world.bounds_m
    overhang_m2 = WORLD_RESOLUTION_M * ((x_right - x_left) + (y_top - y_bottom))
    assert world.mask_area_m2 == pytest.approx(exact, abs=overhang_m2)


@pytest.mark.parametrize(
    "box",
    [
        WORLD,
        (-180.0, 0.0, 180.0, 60.0),  # a northern band
        (-10.0, -50.0, 170.0, 10.0),  # 180° of longitude: two sub-boxes
        (-170.0, -80.0, 100.0, -20.0),  # 270°, far south
        (100.0, 20.0, 110.0, 30.0),  # small
    ],
)
def test_geodesic_area_matches_closed_form(box):
    """pyproj.Geod alone would report a 360° band modulo the Earth's area (minus its polar
    caps); the grid sums sub-boxes at most 90° wide."""
    grid = RegionGrid(box, 100_000.0, projection="ease2")
    exact = _exact_box_area_m2(box[2] - box[0], box[1], box[3])
    assert grid.geodesic_area_m2 == pytest.approx(exact, rel=AREA_RTOL)
    assert grid.area_m2 == pytest.approx(exact, rel=AREA_RTOL)
    assert grid.mask.all()


def test_scale_factors_ease2_closed_form(world):
    lat = np.linspace(-EASE2_MAX_LAT_DEG, EASE2_MAX_LAT_DEG, 41)
    lon = np.linspace(-180.0, 180.0, 7)
    lat2, lon2 = np.meshgrid(lat, lon)
    k_x, k_y = world.scale_factors(lon2, lat2)
    assert k_x.shape == k_y.shape == lat2.shape
    cos_lat = np.cos(np.radians(lat2))
    np.testing.assert_allclose(k_x, COS_TS / cos_lat, rtol=CEA_SPHERE_RTOL)
    np.testing.assert_allclose(k_y, cos_lat / COS_TS, rtol=CEA_SPHERE_RTOL)
    np.testing.assert_allclose(k_x * k_y, 1.0, rtol=1e-9)  # equal-area, orthogonal axes
    # True scale on ±30° (the ellipsoid's k0 puts it there exactly).
    k_x30, k_y30 = world.scale_factors(0.0, [30.0, -30.0])
    np.testing.assert_allclose(k_x30, 1.0, rtol=1e-9)
    np.testing.assert_allclose(k_y30, 1.0, rtol=1e-9)


@pytest.mark.parametrize(
    "box", [WORLD, (0.0, 20.0, 50.0, 40.0), (0.0, -60.0, 50.0, -35.0), (0.0, -10.0, 50.0, 5.0)]
)
def test_max_scale_distortion_is_the_largest_factor_over_the_box(box):
    grid = RegionGrid(box, 100_000.0, projection="ease2")
    lat = np.linspace(box[1], box[3], 2001)
    k_x, k_y = grid.scale_factors(0.0, lat)
    sampled = max(np.abs(k_x - 1).max(), np.abs(k_y - 1).max())
    # Sampled every 0.0075° (or less): at most ~1e-8 short of the extreme.
    assert sampled - 1e-12 <= grid.max_scale_distortion <= sampled * (1 + 1e-6)
    if box == WORLD:
        assert grid.max_scale_distortion > 8.0  # ×9 east–west at ±85°: fine for ease2


def test_scale_factors_aeqd_near_centre():
    grid = RegionGrid(WUHAN, 1000.0)
    k_x, k_y = grid.scale_factors(*grid.origin)
    assert k_x == pytest.approx(1.0, abs=1e-9) and k_y == pytest.approx(1.0, abs=1e-9)
    lon = np.linspace(114.0, 115.0, 5)
    lat = np.linspace(30.0, 31.0, 5)
    k_x, k_y = grid.scale_factors(lon[:, None], lat[None, :])
    assert k_x.shape == (5, 5)
    np.testing.assert_allclose(k_x, 1.0, atol=AEQD_SCALE_TOLERANCE)
    np.testing.assert_allclose(k_y, 1.0, atol=AEQD_SCALE_TOLERANCE)
    # Nowhere in the grid is a linear scale further from 1 than the reported distortion
    # (+2 %: max_scale_distortion is the spherical c/sin c, PROJ's is ellipsoidal).
    lon_c, lat_c = grid.cell_centres_lonlat()
    k_x, k_y = grid.scale_factors(lon_c, lat_c)
    worst = max(np.abs(k_x - 1).max(), np.abs(k_y - 1).max())
    assert worst <= grid.max_scale_distortion * 1.02


def test_bad_ease2_regions():
    with pytest.raises(ValueError, match="not a polygon"):
        RegionGrid([(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)], 1000.0, projection="ease2")
    with pytest.raises(ValueError, match="lon_min < lon_max"):
        RegionGrid((170.0, 0.0, -170.0, 10.0), 1000.0, projection="ease2")
    with pytest.raises(ValueError, match=r"85\.0445"):
        RegionGrid((0.0, 0.0, 10.0, 86.0), 1000.0, projection="ease2")
    with pytest.raises(ValueError, match="projection must be one of aeqd, ease2"):
        RegionGrid(WUHAN, 1000.0, projection="utm")
    with pytest.raises(ValueError, match=r"grid_resolution_m >= 8481"):
        RegionGrid(WORLD, 1000.0, projection="ease2")


def test_schema_limit_matches_the_grid():
    assert Region.EASE2_MAX_LAT_DEG == EASE2_MAX_LAT_DEG
    # The limit is EASE-Grid 2.0 global's y extent (±7,314,540.83 m) to within ~0.1 km.
    _, y_m = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:6933", always_xy=True).transform(
        0.0, EASE2_MAX_LAT_DEG
    )
    assert y_m == pytest.approx(7_314_540.83, abs=100.0)


# -- scenarios --------------------------------------------------------------------------

# About 3,000 km each way around Wuhan (the minimal scenario's platforms stay inside).
BIG_BOX = {"lon_min_deg": 98.0, "lat_min_deg": 17.0, "lon_max_deg": 130.0, "lat_max_deg": 44.0}


def _with_region(minimal_dict: dict, **region) -> dict:
    data = copy.deepcopy(minimal_dict)
    data["region"] = region
    return data


def _scenario_error(data: dict) -> str:
    with pytest.raises(ScenarioError) as info:
        load_scenario(data)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_global_scenario_loads(minimal_dict: dict) -> None:
    box = dict(
        zip(["lon_min_deg", "lat_min_deg", "lon_max_deg", "lat_max_deg"], WORLD, strict=True)
    )
    scenario = load_scenario(
        _with_region(minimal_dict, bbox=box, grid_resolution_m=50_000.0, projection="ease2")
    )
    grid = region_grid(scenario)
    assert grid.projection == "ease2" and grid.shape == (293, 695)


def test_big_box_needs_ease2(minimal_dict: dict) -> None:
    message = _scenario_error(_with_region(minimal_dict, bbox=BIG_BOX, grid_resolution_m=5000.0))
    assert ": region: too large for a local grid" in message
    assert "projection: ease2" in message
    scenario = load_scenario(
        _with_region(minimal_dict, bbox=BIG_BOX, grid_resolution_m=5000.0, projection="ease2")
    )
    assert scenario.region.projection == "ease2"
    grid = region_grid(scenario)
    assert grid.crs.to_epsg() == 6933 and grid.mask.all()
    assert grid.max_scale_distortion > 0.005  # not held to aeqd's limit
    # The default stays aeqd.
    assert load_scenario(minimal_dict).region.projection == "aeqd"


@pytest.mark.parametrize(
    ("region", "expected"),
    [
        (
            {"polygon_lonlat_deg": [[114.2, 30.5], [114.4, 30.5], [114.3, 30.7]]},
            ": region: projection: ease2 needs bbox; polygon_lonlat_deg is for projection: aeqd",
        ),
        (
            {"bbox": {"lon_min_deg": 170.0, "lat_min_deg": 0.0, "lon_max_deg": -170.0,
                      "lat_max_deg": 10.0}},
            ": region: projection: ease2 needs bbox.lon_min_deg < bbox.lon_max_deg",
        ),
        (
            {"bbox": {"lon_min_deg": -180.0, "lat_min_deg": -86.0, "lon_max_deg": 180.0,
                      "lat_max_deg": 86.0}},
            ": region: projection: ease2 needs bbox latitudes within ±85.0445",
        ),
    ],
    ids=["polygon", "wrapped-box", "beyond-85"],
)  # fmt: skip
def test_ease2_shape_errors_name_the_field(minimal_dict: dict, region: dict, expected: str) -> None:
    data = _with_region(minimal_dict, **region, grid_resolution_m=50_000.0, projection="ease2")
    assert expected in _scenario_error(data)


def test_unknown_projection_names_the_field(minimal_dict: dict) -> None:
    data = copy.deepcopy(minimal_dict)
    data["region"]["projection"] = "utm"
    assert ": region.projection: " in _scenario_error(data)
    assert "aeqd, ease2" in _scenario_error(data)
