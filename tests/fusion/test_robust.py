"""RobustFuser's image-level test in the fuser: liars caught without overlap, honest events kept.

A 64 × 64 grid of four 32 × 32-cell tiles (1024 cells: the default ``min_image_cells``, so
every tile is judged); the fuser's prior is an archive map and the truth is the archive plus
a small change every honest source shares. Sources image different tiles, so the per-cell
consensus never has anything to compare with: only the image-level test can act.
"""

import numpy as np
import pytest

from sagsim.fusion.robust import RobustFuser
from tests.fusion.test_fusers import observe, smooth_field

N_BANDS, SHAPE = 3, (64, 64)
TILES = [(0, 32, 0, 32), (0, 32, 32, 64), (32, 64, 0, 32), (32, 64, 32, 64)]
SHARED_CHANGE = 0.003  # since the archive, seen by every honest source
NOISE = 0.005
BIAS = 0.05  # the benchmark's attack


@pytest.fixture
def archive():
    return smooth_field(np.random.default_rng(11), shape=SHAPE)


def fuser_for(archive, **kwargs) -> RobustFuser:
    fuser = RobustFuser(prior_variance=0.01, process_noise_per_s=1e-8, **kwargs)
    fuser.reset(N_BANDS, SHAPE, prior_mean=archive)
    return fuser


def tile(a, k):
    r0, r1, c0, c1 = TILES[k]
    return a[..., r0:r1, c0:c1]


def image(truth, k, source, t_s, rng, bias=0.0, window=None):
    return observe(truth, window or TILES[k], t_s=t_s, source=source, noise_std=NOISE,
                   bias=bias, rng=rng)  # fmt: skip


def test_a_biased_source_is_rejected_on_its_first_image_without_overlap(archive):
    rng = np.random.default_rng(0)
    truth = archive + SHARED_CHANGE
    fuser = fuser_for(archive)
    for source in (0, 1, 2):
        fuser.update(image(truth, source, source, 10.0 * source, rng))
    fuser.update(image(truth, 3, 3, 40.0, rng, bias=BIAS))
    report = fuser.source_report()
    assert report[3]["images_rejected"] == 1 and not report[3]["trusted"]
    assert report[3]["rejected"] == report[3]["tested"] == 1024
    assert all(report[s]["trusted"] and report[s]["images_rejected"] == 0 for s in (0, 1, 2))
    mean = fuser.estimate()[0]
    np.testing.assert_array_equal(tile(mean, 3), tile(archive, 3))  # nothing of it fused
    for k in (0, 1, 2):
        assert np.abs(tile(mean - truth, k)).max() < 5 * NOISE


def test_an_honest_image_with_a_genuine_local_event_is_accepted(archive):
    """A flood over a fifth of a tile changes the bands by up to 0.3, far beyond any bias:
    the median ignores it. A drone's 8 × 8-cell image inside the flood is not judged."""
    rng = np.random.default_rng(1)
    truth = archive + SHARED_CHANGE
    ii, jj = np.ogrid[:64, :64]
    flood = (ii - 48) ** 2 + (jj - 16) ** 2 <= 8**2  # in tile 2, 201 of its 1024 cells
    truth[:, flood] += np.array([-0.05, -0.1, 0.3])[:, None]
    fuser = fuser_for(archive)
    for source in (0, 1):
        fuser.update(image(truth, source, source, 10.0 * source, rng))
    fuser.update(image(truth, 2, 2, 20.0, rng))
    fuser.update(image(truth, 3, 3, 30.0, rng, window=(44, 52, 12, 20)))  # inside the flood
    report = fuser.source_report()
    assert all(report[s]["trusted"] and report[s]["images_rejected"] == 0 for s in (2, 3))
    mean = fuser.estimate()[0]
    assert np.abs(mean[:, flood] - truth[:, flood]).max() < 5 * NOISE  # the event is mapped
    assert np.abs(tile(mean - truth, 2)).max() < 5 * NOISE


def test_a_first_image_without_peers_is_tested_against_the_prior(archive):
    """No peers yet: the expected offset is 0 within the prior's spread (σ 0.1): a change
    of 0.5 is refused, a bias of 0.05 cannot be told from a change and is fused."""
    rng = np.random.default_rng(2)
    fuser = fuser_for(archive)
    fuser.update(image(archive, 0, 0, 0.0, rng, bias=0.5))
    assert fuser.source_report()[0]["images_rejected"] == 1
    fuser.update(image(archive, 1, 1, 10.0, rng, bias=BIAS))
    assert fuser.source_report()[1]["images_rejected"] == 0


def test_a_liar_caught_later_is_repaired_where_it_was_fused(archive):
    rng = np.random.default_rng(3)
    truth = archive + SHARED_CHANGE
    fuser = fuser_for(archive)
    fuser.update(image(truth, 3, 3, 0.0, rng, bias=BIAS))  # first of all: fused
    assert np.abs(tile(fuser.estimate()[0] - truth, 3)).mean() > 0.8 * BIAS
    for source in (0, 1, 2):
        fuser.update(image(truth, source, source, 10.0 + source, rng))
    fuser.update(image(truth, 0, 3, 20.0, rng, bias=BIAS))  # over tile 0: caught
    report = fuser.source_report()
    assert report[3]["images_rejected"] == 1 and not report[3]["trusted"]
    mean = fuser.estimate()[0]
    np.testing.assert_array_equal(tile(mean, 3), tile(archive, 3))  # back to the prior
    assert np.abs(tile(mean - truth, 0)).max() < 5 * NOISE  # source 0's data kept


def test_an_honest_source_outvoted_early_is_trusted_again_by_its_next_consistent_image(archive):
    rng = np.random.default_rng(4)
    truth = archive + SHARED_CHANGE
    fuser = fuser_for(archive)
    for t_s, (source, k, bias) in enumerate([(5, 3, BIAS), (6, 2, BIAS), (0, 0, 0.0)]):
        fuser.update(image(truth, k, source, float(t_s), rng, bias=bias))
    assert not fuser.source_report()[0]["trusted"]  # two liars were all its peers
    for t_s, source in ((10.0, 1), (11.0, 2)):
        fuser.update(image(truth, source, source, t_s, rng))
    fuser.update(image(truth, 0, 0, 20.0, rng))
    report = fuser.source_report()
    assert report[0]["trusted"] and report[0]["images_rejected"] == 1
    assert np.abs(tile(fuser.estimate()[0] - truth, 0)).max() < 5 * NOISE
    fuser.update(image(truth, 3, 5, 30.0, rng, bias=BIAS))  # now the honest majority speaks
    assert fuser.source_report()[5]["images_rejected"] == 1


def test_small_images_are_left_to_the_per_cell_test(archive):
    """A biased 8 × 8-cell image (64 cells < min_image_cells) is not judged; where honest
    sources have seen its cells, the per-cell consensus rejects it."""
    rng = np.random.default_rng(5)
    truth = archive + SHARED_CHANGE
    fuser = fuser_for(archive)
    for source in (0, 1):
        fuser.update(image(truth, 0, source, float(source), rng))
    fuser.update(image(truth, 0, 2, 10.0, rng, bias=BIAS, window=(8, 16, 8, 16)))
    report = fuser.source_report()[2]
    assert report["images_rejected"] == 0 and report["image_judged"] == 0
    assert report["tested"] == 64 and report["rejected"] >= 60
    error = np.abs(fuser.estimate()[0] - truth)[:, 8:16, 8:16]
    assert np.median(error) < 2 * NOISE and np.mean(error > 0.8 * BIAS) < 0.05
