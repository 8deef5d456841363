"""Registration: a known sub-pixel misregistration of a textured field is recovered and undone."""

import numpy as np
import pytest
from scipy import ndimage

from sagsim.fusion.observation import Observation
from sagsim.fusion.registration import (
    estimate_and_register,
    estimate_shift,
    register,
    residual_cells,
)

SIDE, WINDOW = 112, (24, 88, 24, 88)  # a 64 × 64 cell window inside a periodic field
TOLERANCE_CELLS = 0.2  # the acceptance figure, in cells (= pixels at factor 1)


def textured_field(seed=0, n_bands=3):
    """Reflectance-like bands with texture at 1.5, 4 and 10 cells; band 2 anti-correlates."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n_bands, SIDE, SIDE))
    for b in range(n_bands):
        for sigma in (1.5, 4.0, 10.0):
            g = ndimage.gaussian_filter(rng.standard_normal((SIDE, SIDE)), sigma, mode="wrap")
            out[b] += g / g.std()
    out[2] = -out[0] + 0.3 * out[2]
    return 0.2 + 0.03 * out


def cloud_mask(seed, shape, fraction=0.3):
    rng = np.random.default_rng(seed)
    field = ndimage.gaussian_filter(rng.standard_normal(shape), 4.0)
    return field > np.quantile(field, fraction)


def misregistered(truth, shift, factor=1, noise_std=0.002, valid=None, seed=0):
    """The sensor's view of ``truth`` displaced by ``shift`` cells (scipy.ndimage.shift
    convention), block-averaged to ``factor``, with noise."""
    rng = np.random.default_rng(seed)
    moved = np.stack([ndimage.shift(b, shift, order=3, mode="wrap") for b in truth])
    r0, r1, c0, c1 = WINDOW
    n, f = truth.shape[0], factor
    h, w = (r1 - r0) // f, (c1 - c0) // f
    values = moved[:, r0:r1, c0:c1].reshape(n, h, f, w, f).mean(axis=(2, 4))
    values = values + rng.normal(0.0, noise_std, values.shape)
    if valid is not None:
        values[:, ~valid] = np.nan  # what a sensor leaves under cloud must not matter
    return Observation(
        values=values.astype(np.float32),
        valid=np.ones((h, w), bool) if valid is None else valid,
        window=WINDOW,
        factor=f,
        band_index=np.arange(n),
        noise_variance=np.full(n, noise_std**2),
        t_s=0.0,
        source=0,
        true_shift_cells=tuple(shift),
    )


SHIFTS = [(0.0, 0.0), (0.3, -0.7), (-1.45, 2.2), (2.6, 0.55)]


@pytest.mark.parametrize("factor", [1, 2])
@pytest.mark.parametrize("cloudy", [False, True])
@pytest.mark.parametrize("shift", SHIFTS)
def test_known_subpixel_shift_is_recovered(shift, cloudy, factor):
    truth = textured_field()
    side = 64 // factor
    valid = cloud_mask(hash(shift) % 1000, (side, side)) if cloudy else None
    obs = misregistered(truth, shift, factor, valid=valid)
    estimate = estimate_shift(obs, truth)
    assert residual_cells(obs, estimate) < TOLERANCE_CELLS, estimate
    assert residual_cells(obs, estimate) == pytest.approx(np.hypot(*np.subtract(estimate, shift)))


def test_without_refinement_a_cloudy_estimate_is_whole_pixels():
    """The masked FFT step alone is integer-pixel (why the refinement exists)."""
    truth = textured_field()
    obs = misregistered(truth, (0.3, -0.7), valid=cloud_mask(1, (64, 64)))
    coarse = estimate_shift(obs, truth, refine=False)
    assert np.allclose(coarse, np.round(coarse))
    assert residual_cells(obs, coarse) > TOLERANCE_CELLS


def test_register_undoes_the_shift():
    truth = textured_field(1)
    shift = (1.3, -0.6)
    valid = cloud_mask(2, (64, 64))
    obs = misregistered(truth, shift, valid=valid, noise_std=0.0)
    result = estimate_and_register(obs, truth)
    assert result.residual_cells < TOLERANCE_CELLS
    assert result.observation.true_shift_cells == shift  # untouched
    assert result.observation.factor == obs.factor and result.observation.window == obs.window
    r0, r1, c0, c1 = WINDOW
    aligned = truth[:, r0:r1, c0:c1]
    ok = result.observation.valid
    assert ok.sum() > 0.5 * valid.sum()
    before = np.sqrt(np.mean((obs.values[:, valid] - aligned[:, valid]) ** 2))
    after = np.sqrt(np.mean((result.observation.values[:, ok] - aligned[:, ok]) ** 2))
    assert after < 0.1 * before
    # Pixel p is drawn from p + shift, between rows p + 1, p + 2 and cols p − 1, p: those
    # outside the window (the last rows, the first column) or next to a cloud are invalid.
    assert not ok[-2:, :].any() and not ok[:, 0].any()
    rows, cols = np.nonzero(ok)
    for dr, dc in ((1, -1), (1, 0), (2, -1), (2, 0)):
        assert valid[rows + dr, cols + dc].all()


def test_zero_shift_and_too_few_pixels():
    truth = textured_field()
    obs = misregistered(truth, (0.0, 0.0))
    same = register(obs, (0.0, 0.0))
    np.testing.assert_array_equal(same.values, obs.values)
    assert same.values is not obs.values
    few = np.zeros((64, 64), bool)
    few[:5, :5] = True
    assert estimate_shift(misregistered(truth, (1.0, 1.0), valid=few), truth) == (0.0, 0.0)
    flat = np.full_like(truth, 0.2)
    assert estimate_shift(obs, flat) == (0.0, 0.0)
