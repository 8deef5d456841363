"""Sensor model (sagsim.fusion.sensing.sensor_model): each element against its definition — GSD and
block averaging, PSF, noise (and sagsim.fusion.kalman's variance), clouds, SAR response and speckle,
misregistration, faults — on small synthetic scenes, plus the minimal scenario's Scene."""

import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import ndimage
from scipy.special import psi

from sagsim import envs
from sagsim.envs.physics.sensor_geometry import misregistration_cells
from sagsim.fusion.kalman import observation_variance
from sagsim.fusion.sensing.scene import BANDS, CLASSES, N_REFLECTANCE, Scene
from sagsim.fusion.sensing.sensor_model import (
    CLOUD_TOP_REFLECTANCE,
    DB_PER_NEPER,
    DROPPED_FILL,
    SAR_LOOKS,
    SAR_OFFSET_DB,
    SAR_SLOPE_DB,
    SensorSpec,
    acquire,
    pixel_factor,
    sar_backscatter,
    sar_looks,
)

MINIMAL = Path(__file__).resolve().parents[3] / "scenarios" / "minimal.yaml"
CELL_M = 250.0
NDWI, BURN = BANDS.index("ndwi"), BANDS.index("burn")
WATER, CROP, FOREST, BARE, URBAN = range(len(CLASSES))
# Statistical tolerances: 5 standard errors of the estimate (false-alarm rate ~1e-6).
Z = 5.0
EXACT = 1e-5  # float32 arithmetic on values ≤ 1
# No blur, no noise, no shift: the pure area-averaging sensor.
IDEAL = {"psf_sigma_per_gsd": 0.0, "noise_std": 0.0}


def with_indices(refl: np.ndarray) -> np.ndarray:
    """(7, rows, cols) float32 truth from (5, rows, cols) reflectances."""
    g, n, s = refl[1], refl[3], refl[4]
    return np.concatenate([refl, [(g - n) / (g + n)], [(s - n) / (s + n)]]).astype(np.float32)


def flat(rows, cols, refl=(0.05, 0.1, 0.08, 0.3, 0.15)):
    return with_indices(np.broadcast_to(np.array(refl)[:, None, None], (5, rows, cols)))


def textured(rows, cols, seed=0):
    """Smooth random reflectances in [0.05, 0.45]."""
    z = ndimage.gaussian_filter(np.random.default_rng(seed).random((5, rows, cols)), (0, 2, 2))
    z = (z - z.min()) / (z.max() - z.min())
    return with_indices(0.05 + 0.4 * z)


class ArrayScene:
    """A Scene stand-in: a fixed truth array (7, rows, cols) and a land-cover map."""

    def __init__(self, truth, cover=CROP, cell_m=CELL_M):
        self.truth = np.asarray(truth, np.float32)
        self.shape = self.truth.shape
        self.grid = SimpleNamespace(resolution_m=cell_m)
        self.land_cover = np.full(self.shape[1:], cover, np.int8)

    def truth_window(self, t_s, r0, r1, c0, c1):
        return self.truth[:, r0:r1, c0:c1].copy()


def spec(**kw):
    kw.setdefault("gsd_m", CELL_M)
    return SensorSpec(**kw)


def shoot(scene, window, sensor, seed=0, **kw):
    kw.setdefault("shift_cells", (0.0, 0.0))
    return acquire(scene, 0.0, window, sensor, np.random.default_rng(seed), **kw)


def block_mean(x, f):
    *lead, h, w = x.shape
    return x.reshape(*lead, h // f, f, w // f, f).mean(axis=(-3, -1))


# -- GSD, factor, trimming, area averaging -------------------------------------------------


@pytest.mark.parametrize(("gsd", "factor"), [(0.1, 1), (3.0, 1), (374.0, 1), (376.0, 2),
                                             (1250.0, 5)])  # fmt: skip
def test_pixel_factor_is_rounded_gsd_over_cell(gsd, factor):
    assert pixel_factor(gsd, CELL_M) == factor


def test_window_trimmed_evenly_to_whole_pixels():
    obs = shoot(ArrayScene(textured(30, 30)), (1, 14, 2, 9), spec(gsd_m=500.0, **IDEAL))
    assert obs.factor == 2
    assert obs.window == (1, 13, 2, 8)  # 13 rows → 12, 7 cols → 6 (odd remainder at the end)
    assert obs.values.shape == (len(BANDS), 6, 3)
    big = shoot(ArrayScene(textured(30, 30)), (0, 30, 0, 30), spec(gsd_m=1000.0, **IDEAL))
    assert big.window == (1, 29, 1, 29)  # 2 surplus cells: one dropped at each end


def test_pixel_is_the_mean_of_its_cells():
    truth = textured(24, 24)
    for f in (1, 2, 3):
        obs = shoot(ArrayScene(truth), (0, 24, 0, 24), spec(gsd_m=f * CELL_M, **IDEAL))
        want = block_mean(truth[:N_REFLECTANCE], f)
        np.testing.assert_allclose(obs.values[:N_REFLECTANCE], want, atol=EXACT)
        np.testing.assert_allclose(obs.values[NDWI:], with_indices(want)[NDWI:], atol=EXACT)
        assert obs.valid.all() and obs.kind == "optical"


def test_constant_field_stays_constant_through_blur_and_shift():
    truth = flat(40, 40)
    sensor = spec(gsd_m=3 * CELL_M, noise_std=0.0)  # default PSF: σ = 1.5 cells
    obs = shoot(ArrayScene(truth), (5, 35, 5, 35), sensor, shift_cells=(1.7, -2.4))
    np.testing.assert_allclose(obs.values, truth[:, :10, :10], atol=EXACT)


def test_window_smaller_than_a_pixel_gives_no_pixels():
    obs = shoot(ArrayScene(flat(10, 10)), (2, 4, 2, 4), spec(gsd_m=1000.0))
    assert obs.values.shape == (len(BANDS), 0, 0) and obs.valid.shape == (0, 0)


# -- point-spread function ----------------------------------------------------------------


def point(rows=41, cols=41):
    truth = flat(rows, cols, (0.0, 0.1, 0.1, 0.1, 0.1))
    truth[0, rows // 2, cols // 2] = 1.0
    return truth


def test_point_spreads_as_the_stated_gaussian():
    sigma = 2.0  # psf_sigma_per_gsd × gsd / cell, at factor 1
    sensor = spec(psf_sigma_per_gsd=sigma, noise_std=0.0)
    truth = point()
    obs = shoot(ArrayScene(truth), (5, 36, 5, 36), sensor)
    want = ndimage.gaussian_filter(truth[0], sigma)[5:36, 5:36]
    np.testing.assert_allclose(obs.values[0], want, atol=EXACT)
    r = np.arange(31) - 15.0
    img = obs.values[0]
    var_rows = float((img.sum(axis=1) * r**2).sum() / img.sum())
    assert var_rows == pytest.approx(sigma**2, rel=0.01)


def test_coarse_psf_is_half_a_pixel_then_block_mean():
    truth = point(44, 44)
    obs = shoot(ArrayScene(truth), (2, 42, 2, 42), spec(gsd_m=4 * CELL_M, noise_std=0.0))
    blurred = ndimage.gaussian_filter(truth[0], 0.5 * 4)[2:42, 2:42]
    np.testing.assert_allclose(obs.values[0], block_mean(blurred, 4), atol=EXACT)


# -- noise ---------------------------------------------------------------------------------


@pytest.mark.parametrize("gsd", [50.0, 250.0, 500.0, 600.0])
def test_noise_variance_matches_empirical_and_kalman(gsd):
    n_cells = 240
    sensor = spec(gsd_m=gsd, noise_std=0.02, psf_sigma_per_gsd=0.0)
    truth = flat(n_cells, n_cells)
    obs = shoot(ArrayScene(truth), (0, n_cells, 0, n_cells), sensor)
    f = obs.factor
    # The fuser's per-cell variance is the pixel's times factor²: Kalman's r exactly.
    r = observation_variance(0.02, gsd, CELL_M)
    np.testing.assert_allclose(obs.noise_variance[:N_REFLECTANCE] * f**2, r, rtol=1e-12)
    n = obs.values[0].size
    rel_tol = Z * math.sqrt(2.0 / n)
    empirical = (obs.values - truth[:, :1, :1]).reshape(len(BANDS), -1).var(axis=1)
    np.testing.assert_allclose(empirical[:N_REFLECTANCE], obs.noise_variance[:N_REFLECTANCE],
                               rtol=rel_tol)  # fmt: skip
    # Indices: first-order propagation; its second-order error is < 2 % at these levels.
    np.testing.assert_allclose(empirical[NDWI:], obs.noise_variance[NDWI:], rtol=rel_tol + 0.02)


def test_index_variance_is_the_first_order_propagation():
    g, n, s = 0.1, 0.3, 0.15  # flat()'s green, NIR, SWIR2
    obs = shoot(ArrayScene(flat(20, 20)), (0, 20, 0, 20), spec(noise_std=1e-4))
    var = obs.noise_variance[0]
    assert var == pytest.approx(1e-8)
    for band, a in ((NDWI, g), (BURN, s)):
        want = 4 * var * (a * a + n * n) / (a + n) ** 4
        assert obs.noise_variance[band] == pytest.approx(want, rel=1e-3)


# -- clouds --------------------------------------------------------------------------------


def test_pixel_invalid_when_half_its_cells_are_cloudy():
    clear = np.ones((4, 6), bool)
    clear[0, 0] = clear[0, 1] = False  # pixel (0, 0): 2 of 4 cloudy → invalid
    clear[0, 2] = False  # pixel (0, 1): 1 of 4 → valid (clear ground shown)
    clear[2:, 4:] = False  # pixel (1, 2): 4 of 4 → invalid
    truth = textured(4, 6)
    obs = shoot(ArrayScene(truth), (0, 4, 0, 6), spec(gsd_m=500.0, **IDEAL), clear=clear)
    want = np.array([[False, True, True], [True, True, False]])
    np.testing.assert_array_equal(obs.valid, want)
    np.testing.assert_allclose(obs.values[:N_REFLECTANCE, ~want], CLOUD_TOP_REFLECTANCE)
    clear_pixels = block_mean(truth[:N_REFLECTANCE], 2)[:, want]
    np.testing.assert_allclose(obs.values[:N_REFLECTANCE, want], clear_pixels, atol=EXACT)


def test_sar_sees_through_clouds():
    clear = np.zeros((8, 8), bool)
    obs = shoot(ArrayScene(flat(8, 8)), (0, 8, 0, 8), spec(kind="sar"), clear=clear)
    assert obs.valid.all() and obs.kind == "sar"
    np.testing.assert_array_equal(obs.band_index, [NDWI])


def test_clear_mask_must_match_the_window():
    with pytest.raises(ValueError, match="clear"):
        shoot(ArrayScene(flat(8, 8)), (0, 8, 0, 8), spec(), clear=np.ones((8, 7), bool))


# -- SAR -----------------------------------------------------------------------------------


def test_backscatter_response_by_class():
    typical = {WATER: 0.56, CROP: -0.46, FOREST: -0.63, BARE: -0.23, URBAN: -0.13}
    db = {k: 10 * np.log10(sar_backscatter(np.float32(v), np.int8(k))) for k, v in typical.items()}
    assert db[WATER] == pytest.approx(-22.0, abs=1e-4)
    assert db[WATER] < db[CROP] < db[FOREST] < db[BARE] < db[URBAN]
    flooded_field = 10 * np.log10(sar_backscatter(np.float32(0.47), np.int8(CROP)))
    assert flooded_field < -21.0  # a flood darkens a field like open water


@pytest.mark.parametrize(("gsd", "looks"), [(CELL_M, SAR_LOOKS), (CELL_M / 2, 4 * SAR_LOOKS)])
def test_speckle_is_unit_mean_gamma_with_equivalent_looks(gsd, looks):
    n_cells, ndwi0 = 150, -0.2
    truth = flat(n_cells, n_cells)
    truth[NDWI] = ndwi0
    sensor = spec(kind="sar", gsd_m=gsd, psf_sigma_per_gsd=0.0)
    obs = shoot(ArrayScene(truth), (0, n_cells, 0, n_cells), sensor, seed=3)
    assert sar_looks(SAR_LOOKS, gsd, CELL_M) == pytest.approx(looks)
    # Undo the retrieval to recover the speckle ratio σ0_obs / σ0_model.
    bias_db = DB_PER_NEPER * (psi(looks) - math.log(looks))
    db_obs = SAR_OFFSET_DB[CROP] + SAR_SLOPE_DB * obs.values[0].astype(float) + bias_db
    ratio = 10 ** (db_obs / 10) / sar_backscatter(np.float32(ndwi0), np.int8(CROP))
    n = ratio.size
    assert ratio.mean() == pytest.approx(1.0, abs=Z / math.sqrt(looks * n))
    assert ratio.var() == pytest.approx(1 / looks, rel=Z * math.sqrt((2 + 6 / looks) / n))
    # The retrieval is unbiased and its variance is the reported one.
    nv = obs.noise_variance[0]
    assert obs.values[0].mean() == pytest.approx(ndwi0, abs=Z * math.sqrt(nv / n))
    assert obs.values[0].var() == pytest.approx(nv, rel=0.08)


def test_sar_retrieves_the_water_index_on_the_minimal_scene(minimal_scene):
    scene, _ = minimal_scene
    rows, cols = scene.shape[1:]
    sensor = SensorSpec(kind="sar", gsd_m=10.0, position_error_m=0.0, pointing_error_deg=0.0)
    obs = acquire(scene, 7200.0, (0, rows, 0, cols), sensor, np.random.default_rng(1))
    truth = scene.truth_at(7200.0)[NDWI]
    err = obs.values[0] - truth
    assert np.corrcoef(obs.values[0].ravel(), truth.ravel())[0, 1] > 0.9
    assert np.abs(err).mean() < 0.05  # speckle std √nv ≈ 0.01; PSF and Jensen add a little


# -- misregistration -----------------------------------------------------------------------


@pytest.mark.parametrize(("window", "shift"), [((20, 40, 15, 45), (1.3, -2.7)),
                                               ((0, 20, 0, 20), (0.5, 1.5)),
                                               ((40, 60, 30, 60), (-2.2, 0.4))])  # fmt: skip
def test_shift_is_scipy_linear_shift_of_the_truth(window, shift):
    truth = textured(60, 60)
    obs = shoot(ArrayScene(truth), window, spec(**IDEAL), shift_cells=shift)
    r0, r1, c0, c1 = window
    want = ndimage.shift(truth[:N_REFLECTANCE], (0, *shift), order=1, mode="nearest")
    np.testing.assert_allclose(obs.values[:N_REFLECTANCE], want[:, r0:r1, c0:c1], atol=EXACT)
    assert obs.true_shift_cells == shift


def test_drawn_shift_is_recorded_and_applied():
    truth = point()
    sensor = spec(position_error_m=400.0, **IDEAL)
    obs = acquire(ArrayScene(truth), 0.0, (5, 36, 5, 36), sensor, np.random.default_rng(5))
    dr, dc = obs.true_shift_cells
    assert abs(dr) + abs(dc) > 0.1
    want = ndimage.shift(truth[0], (dr, dc), order=1)[5:36, 5:36]
    np.testing.assert_allclose(obs.values[0], want, atol=EXACT)
    # The point moved by the recorded shift: its centroid is at (20 + dr, 20 + dc).
    img = obs.values[0]
    rr, cc = np.mgrid[5:36, 5:36]
    centroid = ((img * rr).sum() / img.sum(), (img * cc).sum() / img.sum())
    np.testing.assert_allclose(centroid, (20 + dr, 20 + dc), atol=1e-4)


def draw_shifts(sensor, n=400, seed=11):
    scene = ArrayScene(flat(6, 6))
    rng = np.random.default_rng(seed)
    return np.array([acquire(scene, 0.0, (2, 4, 2, 4), sensor, rng).true_shift_cells
                     for _ in range(n)])  # fmt: skip


def test_shift_statistics_follow_the_georeferencing_model():
    big = spec(position_error_m=60.0, pointing_error_deg=0.02, altitude_m=600e3,
               off_nadir_deg=25.0, **IDEAL)  # fmt: skip
    small = spec(position_error_m=5.0, pointing_error_deg=0.002, altitude_m=600e3, **IDEAL)
    s_big, s_small = draw_shifts(big), draw_shifts(small)
    sigma = misregistration_cells(60.0, 0.02, 600e3, 25.0, CELL_M)
    n = s_big.size
    assert s_big.std() == pytest.approx(float(sigma), rel=Z / math.sqrt(2 * n))
    assert abs(s_big.mean()) < Z * float(sigma) / math.sqrt(n)
    assert np.hypot(*s_big.T).mean() > 5 * np.hypot(*s_small.T).mean()


# -- faults --------------------------------------------------------------------------------


def test_faults_drop_stick_and_bias():
    scene, window, sensor = ArrayScene(textured(100, 100)), (0, 100, 0, 100), spec()
    n = 100 * 100
    clean = shoot(scene, window, sensor, seed=4)
    biased = shoot(scene, window, sensor, seed=4, bias=0.05)
    np.testing.assert_allclose(biased.values - clean.values, 0.05, atol=EXACT)

    dropped = shoot(scene, window, sensor, seed=4, dropped_fraction=0.3)
    p = 1.0 - dropped.valid.mean()
    assert p == pytest.approx(0.3, abs=Z * math.sqrt(0.3 * 0.7 / n))
    assert (dropped.values[:, ~dropped.valid] == DROPPED_FILL).all()

    stuck = shoot(scene, window, sensor, seed=4, stuck_fraction=0.2, stuck_value=0.77)
    is_stuck = (stuck.values == np.float32(0.77)).all(axis=0)
    assert is_stuck.mean() == pytest.approx(0.2, abs=Z * math.sqrt(0.2 * 0.8 / n))
    assert stuck.valid.all()  # a stuck detector is not flagged
    np.testing.assert_array_equal(stuck.values[:, ~is_stuck], clean.values[:, ~is_stuck])


# -- the real scene ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def minimal_scene():
    scenario = envs.load_scenario(MINIMAL)
    return Scene.from_scenario(scenario), scenario


def test_acquisition_on_the_minimal_scene(minimal_scene):
    scene, scenario = minimal_scene
    sat = SensorSpec.from_schema(scenario.satellites[0].sensor, 500e3, 20.0, 30.6)
    uav = SensorSpec.from_schema(scenario.drones[0].sensor, 120.0)
    rng = np.random.default_rng(0)
    clear = rng.random((50, 50)) > 0.3
    obs = acquire(scene, 3600.0, (20, 70, 20, 70), sat, rng, clear=clear, source=0)
    assert obs.values.shape == (len(BANDS), 50, 50) and obs.values.dtype == np.float32
    assert np.isfinite(obs.values).all()
    np.testing.assert_array_equal(obs.valid, clear)
    r = observation_variance(0.01, sat.gsd_m, scene.grid.resolution_m)
    assert obs.noise_variance[0] == pytest.approx(float(r))
    assert sat.gsd_m > 3.0  # off nadir stretches the GSD
    truth = scene.truth_window(3600.0, 20, 70, 20, 70)
    err = (obs.values - truth)[:, obs.valid]
    assert np.median(np.abs(err)) < 0.01  # a ≈ 0.2-cell shift at 3 m GSD; edges differ more
    drone = acquire(scene, 3600.0, (40, 43, 40, 43), uav, rng, source=1)
    assert drone.values.shape == (len(BANDS), 3, 3) and drone.source == 1
    assert max(map(abs, drone.true_shift_cells)) < 0.05  # 1 m error on 200 m cells
