"""The image-level consistency test on its own (sagsim.fusion.consistency)."""

import numpy as np
import pytest

from sagsim.fusion.consistency import MEDIAN_SE, MIN_GATE_PIXELS, OffsetGate, image_offsets

N_BANDS = 3


def gate(**kwargs) -> OffsetGate:
    kw = {"k_sigma": 3.0, "floor": np.full(N_BANDS, 0.01),
          "fallback_variance": np.full(N_BANDS, 0.01), "min_peers": 2,
          "max_age_s": 1_000.0, **kwargs}  # fmt: skip
    return OffsetGate(N_BANDS, **kw)


def test_offsets_are_medians_that_an_event_does_not_move():
    rng = np.random.default_rng(0)
    reference = rng.uniform(0.1, 0.3, (N_BANDS, 40, 40))
    noise = rng.normal(0.0, 0.01, reference.shape)
    values = reference + 0.03 + noise
    values[:, :5, :] += 0.5  # an event over 1/8 of the image moves it by 0.18 σ
    valid = np.ones((40, 40), bool)
    valid[0, 0] = False
    offset, se, n = image_offsets(values, valid, reference)
    assert n == 1599
    np.testing.assert_allclose(offset, 0.03, atol=0.004)
    # The standard error of the median, from the residuals' MAD (inflated by the event).
    assert np.all((se > MEDIAN_SE * 0.01 / 40) & (se < 3 * MEDIAN_SE * 0.01 / 40))
    offset, se, n = image_offsets(values, np.zeros((40, 40), bool), reference)
    assert n == 0 and np.isnan(offset).all() and np.isnan(se).all()


def test_without_peers_the_expected_offset_is_zero_within_the_fallback_variance():
    g = gate()
    bands = np.arange(N_BANDS)
    se = np.zeros(N_BANDS)
    assert g.check(0, 0.0, bands, np.full(N_BANDS, 0.25), se).all()  # < 3 × 0.1
    assert not g.check(0, 0.0, bands, np.array([0.0, 0.0, 0.35]), se).all()
    g.record(2, 0.0, bands, np.zeros(N_BANDS))  # one peer is not a majority
    assert g.check(0, 0.0, bands, np.full(N_BANDS, 0.25), se).all()


def test_peers_median_and_spread_decide():
    g = gate()
    bands = np.arange(N_BANDS)
    se = np.full(N_BANDS, 1e-4)
    for key, off, t_s in ((2, 0.001, 0.0), (4, -0.001, 10.0), (6, 0.0, 20.0), (8, 0.05, 500.0)):
        g.record(key, t_s, bands, np.full(N_BANDS, off))  # one liar (key 8) among four
    assert g.check(10, 100.0, bands, np.full(N_BANDS, 0.002), se).all()
    assert not g.check(10, 100.0, bands, np.full(N_BANDS, 0.05), se).any()
    # The source's own earlier records (either sensor kind) are not its peers: key 8 and 9
    # are source 4, whose record alone (with the liar's) would not be a majority.
    centre, variance, n_peers = g.expected(9, 100.0, bands)
    np.testing.assert_array_equal(n_peers, 3)
    np.testing.assert_allclose(centre, 0.0, atol=1e-12)
    # Old records drop out: only the liar is recent at t = 1 090 s, so the fallback rules.
    _, variance, n_peers = g.expected(10, 1_090.0, bands)
    np.testing.assert_array_equal(n_peers, 1)
    np.testing.assert_array_equal(variance, 0.01)


def test_honest_disagreement_widens_the_test():
    g = gate()
    bands = np.arange(N_BANDS)
    for key, off in ((2, -0.04), (4, 0.0), (6, 0.04)):  # e.g. drones over different ground
        g.record(key, 0.0, bands, np.full(N_BANDS, off))
    centre, variance, _ = g.expected(10, 0.0, bands)
    np.testing.assert_allclose(centre, 0.0, atol=1e-12)
    np.testing.assert_allclose(np.sqrt(variance), 1.4826 * 0.04)
    assert g.check(10, 0.0, bands, np.full(N_BANDS, 0.1), np.zeros(N_BANDS)).all()


def test_band_subsets_and_nan_offsets():
    """A SAR image (one band) meets the optical peers in that band only; NaN rows pass."""
    g = gate()
    for key in (2, 4, 6):
        g.record(key, 0.0, np.arange(N_BANDS), np.array([0.0, 0.0, np.nan]))
    sar = np.array([1])
    assert not g.check(9, 0.0, sar, np.array([0.05]), np.zeros(1)).all()
    assert g.check(9, 0.0, sar, np.array([0.01]), np.zeros(1)).all()
    _, _, n_peers = g.expected(9, 0.0, np.arange(N_BANDS))
    np.testing.assert_array_equal(n_peers, [3, 3, 0])
    assert g.check(9, 0.0, np.arange(N_BANDS), np.array([0.0, 0.0, np.nan]), np.zeros(3)).all()


@pytest.mark.parametrize("n_valid", [MIN_GATE_PIXELS - 1, MIN_GATE_PIXELS])
def test_judge_checks_and_records(n_valid):
    g = gate()
    bands = np.arange(N_BANDS)
    for key in (2, 4):
        g.record(key, 0.0, bands, np.zeros(N_BANDS))
    reference = np.zeros((N_BANDS, 8, 8))
    valid = np.zeros((8, 8), bool)
    valid.flat[:n_valid] = True
    biased = reference + 0.05
    enough = n_valid >= MIN_GATE_PIXELS
    assert g.judge(6, 0.0, bands, biased, valid, reference) is (not enough)
    assert (6 in g.offset) is enough  # recorded as a peer from now on
    assert g.judge(8, 0.0, bands, biased, valid, reference, judged=False)
