"""Fusion metrics: hand-computed values on tiny arrays, invariants, masks and bad input."""

import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sagsim.fusion.metrics import (
    EMPTY_EXTENT_SCORE,
    correlation,
    ergas,
    evaluate_map,
    extent_f1,
    extent_iou,
    extent_mask,
    mae,
    normalised_gain,
    psnr,
    rmse,
    sam,
    ssim,
)

# Float rounding of a few arithmetic steps on O(1) values.
TOL = 1e-12

# A 3×3 ramp 0, 1/8, …, 1: mean 0.5; deviations −4/8 … 4/8, Σ dev² = 2 (16+9+4+1)/64
# = 0.9375, so the sample variance (ddof 1, skimage's default) is 0.9375 / 8 = 0.1171875.
RAMP = np.arange(9.0).reshape(3, 3) / 8.0
RAMP_VAR = 0.1171875


def test_rmse_mae_by_hand():
    pred = np.array([[1.0, 2.0], [3.0, 4.0]])
    truth = np.ones((2, 2))
    # errors 0, 1, 2, 3: MSE = (0 + 1 + 4 + 9) / 4 = 3.5, MAE = 6 / 4 = 1.5
    assert rmse(pred, truth).overall == pytest.approx(math.sqrt(3.5), rel=TOL)
    assert mae(pred, truth).overall == pytest.approx(1.5, rel=TOL)
    # A second, perfect band: per band [√3.5, 0]; pooled RMSE √((3.5 + 0) / 2) = √1.75;
    # MAE overall = (1.5 + 0) / 2 = 0.75.
    p2, t2 = np.stack([pred, truth]), np.stack([truth, truth])
    r = rmse(p2, t2)
    np.testing.assert_allclose(r.per_band, [math.sqrt(3.5), 0.0], rtol=TOL)
    assert r.overall == pytest.approx(math.sqrt(1.75), rel=TOL)
    m = mae(p2, t2)
    np.testing.assert_allclose(m.per_band, [1.5, 0.0], rtol=TOL)
    assert m.overall == pytest.approx(0.75, rel=TOL)


def test_psnr_by_hand():
    # Every pixel off by 0.1: MSE = 0.01, PSNR = 10 log10(1 / 0.01) = 20 dB at range 1;
    # at range 2, 10 log10(4 / 0.01) = 20 + 20 log10 2 ≈ 26.0206 dB.
    truth = np.zeros((2, 3, 3))
    pred = truth + 0.1
    assert psnr(pred, truth, data_range=1.0) == pytest.approx(20.0, rel=TOL)
    assert psnr(pred, truth, data_range=2.0) == pytest.approx(20 + 20 * math.log10(2), rel=TOL)
    assert psnr(truth, truth, data_range=1.0) == math.inf


def test_ssim_offset_by_hand():
    # 3×3 image, window 3: the one interior pixel's window is the whole image. pred = truth
    # + 0.1 leaves variances and covariance equal, so SSIM is the luminance term alone:
    # (2 μx μy + C1) / (μx² + μy² + C1), C1 = (0.01 × 1)² = 1e-4
    # = (2 × 0.5 × 0.6 + 1e-4) / (0.25 + 0.36 + 1e-4) = 0.6001 / 0.6101.
    assert ssim(RAMP + 0.1, RAMP, data_range=1.0) == pytest.approx(0.6001 / 0.6101, rel=1e-9)


def test_ssim_contrast_by_hand():
    # pred = 0.5 + 0.5 (truth − 0.5): same mean (luminance term 1), σxy = 0.5 σ², σy² = 0.25 σ²:
    # (2 × 0.5 σ² + C2) / (1.25 σ² + C2), C2 = (0.03 × 1)² = 9e-4, σ² = 0.1171875
    # = 0.1180875 / 0.147384375.
    expected = (RAMP_VAR + 9e-4) / (1.25 * RAMP_VAR + 9e-4)
    assert expected == pytest.approx(0.1180875 / 0.147384375, rel=TOL)
    assert ssim(0.5 + 0.5 * (RAMP - 0.5), RAMP, data_range=1.0) == pytest.approx(expected, 1e-9)


def test_ssim_all_true_mask_matches_skimage_and_mask_hides_damage():
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(0)
    truth = rng.random((2, 12, 12))
    pred = truth + 0.05 * rng.standard_normal(truth.shape)
    ref = structural_similarity(pred, truth, data_range=1.0, channel_axis=0)
    assert ssim(pred, truth, 1.0) == pytest.approx(ref, rel=1e-12)
    assert ssim(pred, truth, 1.0, valid=np.ones((12, 12), bool)) == pytest.approx(ref, rel=1e-12)
    # Garbage and NaN truth in the right half; only the left half is valid.
    valid = np.zeros((12, 12), bool)
    valid[:, :6] = True
    bad_pred, bad_truth = pred.copy(), truth.copy()
    bad_pred[:, :, 6:] = 50.0
    bad_truth[:, :, 6:] = np.nan
    masked = ssim(bad_pred, bad_truth, 1.0, valid=valid)
    assert masked > ssim(bad_pred, np.nan_to_num(bad_truth), 1.0)
    assert 0.0 < masked <= 1.0


def test_sam_by_hand():
    # Spectra (band 0, band 1) per pixel of a 2×2 image:
    # pred (1,0) vs truth (1,1): 45°; (0,1) vs (0,1): 0°; (1,0) vs (0,1): 90°;
    # (0,0) vs (1,1): zero spectrum, excluded. Mean = (45 + 0 + 90) / 3 = 45°.
    pred = np.array([[[1.0, 0.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 0.0]]])
    truth = np.array([[[1.0, 0.0], [0.0, 1.0]], [[1.0, 1.0], [1.0, 1.0]]])
    assert sam(pred, truth) == pytest.approx(45.0, rel=TOL)
    # Masking out the 90° pixel (row 1, col 0) leaves (45 + 0) / 2 = 22.5°.
    valid = np.array([[True, True], [False, True]])
    assert sam(pred, truth, valid=valid) == pytest.approx(22.5, rel=TOL)
    assert math.isnan(sam(np.zeros((3, 2, 2)), truth[:1].repeat(3, 0)))


def test_ergas_by_hand():
    # Band 0: truth 2, pred 2.2 → RMSE 0.2, RMSE/μ = 0.1; band 1: truth 4, pred 3.6 → 0.4/4 = 0.1.
    # ERGAS = 100 × (1/4) × √((0.1² + 0.1²) / 2) = 100 × 0.25 × 0.1 = 2.5.
    truth = np.stack([np.full((2, 2), 2.0), np.full((2, 2), 4.0)])
    pred = np.stack([np.full((2, 2), 2.2), np.full((2, 2), 3.6)])
    assert ergas(pred, truth, resolution_ratio=0.25) == pytest.approx(2.5, rel=1e-9)
    assert ergas(truth, truth, 0.25) == 0.0
    with pytest.raises(ValueError, match="resolution_ratio"):
        ergas(pred, truth, resolution_ratio=4.0)  # the inverted l/h convention


def test_correlation_by_hand():
    # x = 1 2 3 4, y = 1 3 2 4: deviations (−1.5 −0.5 0.5 1.5) and (−1.5 0.5 −0.5 1.5);
    # Σ dx dy = 2.25 − 0.25 − 0.25 + 2.25 = 4, Σ dx² = Σ dy² = 5 → r = 4 / 5 = 0.8.
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    y = np.array([[1.0, 3.0], [2.0, 4.0]])
    assert correlation(x, y).overall == pytest.approx(0.8, rel=TOL)
    c = correlation(np.stack([x, x]), np.stack([2 * x, 5 - x]))
    np.testing.assert_allclose(c.per_band, [1.0, -1.0], rtol=TOL)
    assert c.overall == pytest.approx(0.0, abs=TOL)
    # A constant band has no correlation: nan per band, skipped in the mean.
    c = correlation(np.stack([x, np.ones((2, 2))]), np.stack([y, y]))
    assert math.isnan(c.per_band[1]) and c.overall == pytest.approx(0.8, rel=TOL)


def test_extent_iou_f1_by_hand():
    pred = np.array([[True, True], [False, False]])
    truth = np.array([[True, False], [True, False]])
    # TP = 1, FP = 1, FN = 1: IoU = 1/3, F1 = 2 / (2 + 1 + 1) = 0.5.
    assert extent_iou(pred, truth) == pytest.approx(1 / 3, rel=TOL)
    assert extent_f1(pred, truth) == pytest.approx(0.5, rel=TOL)
    # Masking out the FP pixel: TP 1, FN 1 → IoU 1/2, F1 2/3.
    valid = np.array([[True, False], [True, True]])
    assert extent_iou(pred, truth, valid) == pytest.approx(0.5, rel=TOL)
    assert extent_f1(pred, truth, valid) == pytest.approx(2 / 3, rel=TOL)
    empty = np.zeros((2, 2), bool)
    assert extent_iou(empty, empty) == extent_f1(empty, empty) == EMPTY_EXTENT_SCORE == 1.0
    assert extent_iou(empty, truth) == extent_f1(empty, truth) == 0.0
    with pytest.raises(ValueError, match="bool"):
        extent_iou(pred.astype(float), truth)


def test_extent_mask_is_strictly_greater():
    index = np.array([[0.1, 0.2], [np.nan, -1.0]])
    np.testing.assert_array_equal(extent_mask(index, 0.1), [[False, True], [False, False]])


def test_normalised_gain():
    assert normalised_gain(25.0, lower=20.0, upper=30.0) == pytest.approx(0.5)
    # RMSE: persistence 0.1, oracle 0.02, fused 0.05 → (0.05 − 0.1) / (0.02 − 0.1) = 0.625.
    assert normalised_gain(0.05, 0.1, 0.02, higher_is_better=False) == pytest.approx(0.625)
    assert normalised_gain(0.1, 0.1, 0.02, higher_is_better=False) == 0.0
    assert math.isnan(normalised_gain(1.0, 2.0, 2.0))
    assert math.isnan(normalised_gain(30.0, 20.0, math.inf))
    with pytest.raises(ValueError, match="swapped"):
        normalised_gain(0.05, 0.02, 0.1, higher_is_better=False)
    with pytest.raises(ValueError, match="swapped"):
        normalised_gain(25.0, 30.0, 20.0)


def test_perfect_prediction():
    rng = np.random.default_rng(1)
    truth = 0.1 + rng.random((3, 8, 8))
    truth[2] = rng.uniform(-1, 1, (8, 8))  # an index band
    out = evaluate_map(truth.copy(), truth, data_range=1.0, index_band=2, threshold=0.0)
    assert out == {
        "rmse": 0.0,
        "mae": 0.0,
        "psnr_db": math.inf,
        "ssim": pytest.approx(1.0),
        "corr": pytest.approx(1.0),
        "sam_deg": 0.0,
        "ergas": 0.0,
        "event_iou": 1.0,
        "event_f1": 1.0,
    }
    assert all(type(v) is float for v in out.values())
    json.dumps(out)  # JSON-ready (inf is written as Infinity)


def test_evaluate_map_keys_and_values_match_the_functions():
    rng = np.random.default_rng(2)
    truth = 0.1 + rng.random((3, 9, 9))
    pred = truth + 0.02 * rng.standard_normal(truth.shape)
    valid = rng.random((9, 9)) > 0.2
    out = evaluate_map(pred, truth, data_range=1.0, valid=valid, resolution_ratio=0.5)
    assert set(out) == {"rmse", "mae", "psnr_db", "ssim", "corr", "sam_deg", "ergas"}
    assert out["rmse"] == rmse(pred, truth, valid).overall
    assert out["ergas"] == ergas(pred, truth, 0.5, valid)
    out = evaluate_map(pred, truth, data_range=1.0, index_band=-1, threshold=0.5)
    # SAM and ERGAS leave the index band out.
    assert out["sam_deg"] == sam(pred[:2], truth[:2])
    pm, tm = pred[2] > 0.5, truth[2] > 0.5
    assert out["event_iou"] == extent_iou(pm, tm)
    with pytest.raises(ValueError, match="together"):
        evaluate_map(pred, truth, data_range=1.0, index_band=2)


def test_valid_mask_excludes_pixels():
    truth = np.zeros((2, 3, 3))
    pred = truth.copy()
    pred[:, 0, 0] = 1e6
    truth[:, 2, 2] = np.nan  # undefined truth, outside the mask
    valid = np.ones((3, 3), bool)
    valid[0, 0] = valid[2, 2] = False
    assert rmse(pred, truth, valid).overall == 0.0
    assert mae(pred, truth, valid).overall == 0.0
    assert psnr(pred, truth, 1.0, valid) == math.inf


@pytest.mark.parametrize(
    "call",
    [
        lambda p, t: rmse(p, t),
        lambda p, t: mae(p, t),
        lambda p, t: psnr(p, t, 1.0),
        lambda p, t: ssim(p, t, 1.0),
        lambda p, t: sam(p, t),
        lambda p, t: ergas(p, t, 0.25),
        lambda p, t: correlation(p, t),
        lambda p, t: evaluate_map(p, t, data_range=1.0),
    ],
)
def test_bad_input_is_a_value_error(call):
    truth = np.ones((2, 4, 4))
    with pytest.raises(ValueError, match="shape"):
        call(np.ones((2, 4, 5)), truth)
    for bad in (np.nan, np.inf):
        pred = truth.copy()
        pred[1, 2, 3] = bad
        with pytest.raises(ValueError, match="non-finite"):
            call(pred, truth)


def test_empty_or_misshapen_mask_is_a_value_error():
    x = np.ones((2, 4, 4))
    with pytest.raises(ValueError, match="no pixel"):
        rmse(x, x, np.zeros((4, 4), bool))
    with pytest.raises(ValueError, match="no pixel"):
        extent_iou(x[0] > 0, x[0] > 0, np.zeros((4, 4), bool))
    with pytest.raises(ValueError, match="valid"):
        mae(x, x, np.ones((4, 5), bool))


def test_psnr_and_ssim_need_a_fixed_positive_range():
    x = np.zeros((3, 3))
    for bad in (0.0, -1.0, math.nan):
        with pytest.raises(ValueError, match="data_range"):
            psnr(x, x, bad)
        with pytest.raises(ValueError, match="data_range"):
            ssim(x, x, bad)
    with pytest.raises(ValueError, match="at least 3"):
        ssim(np.zeros((2, 5)), np.zeros((2, 5)), 1.0)


small_images = arrays(np.float64, (2, 3, 3), elements=st.floats(-10, 10))


@given(small_images, small_images)
def test_rmse_bounds_mae_and_psnr_follows_rmse(pred, truth):
    r, m = rmse(pred, truth), mae(pred, truth)
    assert r.overall >= m.overall - 1e-12 >= -1e-12
    assert np.all(r.per_band >= m.per_band - 1e-12)
    p = psnr(pred, truth, 20.0)
    if r.overall > 0:
        assert p == pytest.approx(20 * math.log10(20.0 / r.overall), rel=1e-9)
        # Halving the error (in pred − truth) raises PSNR by 20 log10 2 ≈ 6.02 dB.
        half = psnr(truth + (pred - truth) / 2, truth, 20.0)
        assert half > p and half - p == pytest.approx(20 * math.log10(2), abs=1e-6)


@given(
    arrays(np.float64, (4, 2, 3), elements=st.floats(0.01, 1.0)),
    arrays(np.float64, (2, 3), elements=st.floats(1e-3, 1e3)),
)
def test_sam_ignores_a_per_pixel_gain(spectra, gain):
    assert sam(spectra * gain, spectra) == pytest.approx(0.0, abs=1e-6)
