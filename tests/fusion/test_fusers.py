"""Fusers on synthetic observations of a smooth random truth (block means for coarse pixels)."""

import numpy as np
import pytest
from scipy import ndimage

from sagsim.fusion.fusers import FUSERS, Fuser, KalmanFuser, LatestFuser, make_fuser, paint
from sagsim.fusion.kalman import KalmanGrid, KalmanMeanGrid
from sagsim.fusion.metrics import rmse
from sagsim.fusion.observation import Observation
from sagsim.fusion.robust import RobustFuser
from sagsim.fusion.starfm import StarfmFuser

N_BANDS, SHAPE = 3, (32, 32)
PRIOR, Q_PER_S = 0.01, 1e-6
# Values are float32 in an Observation: noiseless inputs come back to float32 rounding.
EXACT_ATOL = 1e-6


def smooth_field(rng, sigma=3.0, std=0.05, mean=0.2, shape=SHAPE, n_bands=N_BANDS):
    """``(n_bands, rows, cols)``: Gaussian-filtered white noise, scaled to ``std``."""
    out = np.empty((n_bands, *shape))
    for b in range(n_bands):
        g = ndimage.gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap")
        out[b] = mean + 0.02 * b + std * g / g.std()
    return out


def observe(field, window=None, factor=1, t_s=0.0, source=0, noise_std=0.0, bias=0.0,
            valid=None, rng=None, kind="optical"):  # fmt: skip
    """An Observation of ``field``'s window: block means of ``factor``, plus noise and bias."""
    r0, r1, c0, c1 = window or (0, field.shape[1], 0, field.shape[2])
    n, f = field.shape[0], factor
    h, w = (r1 - r0) // f, (c1 - c0) // f
    values = field[:, r0:r1, c0:c1].reshape(n, h, f, w, f).mean(axis=(2, 4)) + bias
    if noise_std:
        values = values + rng.normal(0.0, noise_std, values.shape)
    return Observation(
        values=values.astype(np.float32),
        valid=np.ones((h, w), bool) if valid is None else valid,
        window=(r0, r1, c0, c1),
        factor=f,
        band_index=np.arange(n),
        noise_variance=np.full(n, noise_std**2),
        t_s=t_s,
        source=source,
        kind=kind,
    )


def model_kwargs(name) -> dict:
    """LearnedFuser needs a network for the map's bands: here an untrained 3-band one (its
    map is exactly the Kalman map); tests/fusion/test_learned.py checks the shipped weights."""
    if name != "learned":
        return {}
    from sagsim.fusion.learned import LearnedModel

    return {"model": LearnedModel.new(N_BANDS, np.full(N_BANDS, 0.2), np.ones(N_BANDS), width=4)}


def fresh(name, q_per_s=Q_PER_S, **kwargs) -> Fuser:
    kwargs = {**model_kwargs(name), **kwargs}
    fuser = make_fuser(name, prior_variance=PRIOR, process_noise_per_s=q_per_s, **kwargs)
    fuser.reset(N_BANDS, SHAPE)
    return fuser


@pytest.fixture
def truth():
    return smooth_field(np.random.default_rng(7))


# ---------------------------------------------------------------- every fuser


@pytest.mark.parametrize("name", sorted(FUSERS))
def test_noiseless_registered_inputs_reproduce_the_truth(name, truth):
    """A coarse image of the whole grid, then three fine sources tiling it in windows: every
    fuser ends at the truth (to float32 rounding), far from the prior and the coarse image."""
    fuser = fresh(name)
    fuser.update(observe(truth, factor=4, t_s=0.0, source=0))
    for source in (1, 2, 3):
        for r0 in (0, 16):
            for c0 in (0, 16):
                window = (r0, r0 + 16, c0, c0 + 16)
                fuser.update(observe(truth, window, t_s=10.0 * source, source=source))
    mean, variance = fuser.estimate()
    assert mean.shape == variance.shape == (N_BANDS, *SHAPE)
    assert mean.dtype == variance.dtype == np.float64
    np.testing.assert_allclose(mean, truth, atol=EXACT_ATOL)
    assert np.all((variance >= 0) & (variance < 1e-3 * PRIOR))


@pytest.mark.parametrize("name", sorted(FUSERS))
def test_interface_contract(name, truth):
    fuser = make_fuser(name, **model_kwargs(name))
    with pytest.raises(RuntimeError):
        fuser.update(observe(truth))
    fuser.reset(N_BANDS, SHAPE, t_s=5.0, prior_mean=[0.1, 0.2, 0.3])
    mean, variance = fuser.estimate()
    np.testing.assert_array_equal(mean[1], 0.2)
    np.testing.assert_array_equal(variance, 0.01)  # the schema's default prior variance
    mean[:] = 99.0  # estimate() hands out new arrays
    assert fuser.estimate()[0][0, 0, 0] == 0.1
    with pytest.raises(ValueError, match="forward"):
        fuser.predict(1.0)
    with pytest.raises(ValueError, match="outside"):
        fuser.update(observe(smooth_field(np.random.default_rng(0), shape=(40, 40))))
    # An observation from after the clock advances it.
    fuser.update(observe(truth, t_s=50.0))
    assert fuser.t_s == 50.0


def test_registry():
    assert set(FUSERS) == {"latest", "kalman", "starfm", "robust", "learned"}
    # The scenario schema (below fusion in the layers) names them too: a fuser added to
    # FUSERS alone would be refused in every scenario and by evaluate.py --fuser.
    import typing

    from sagsim.envs.scenario.schema.mission import Fusion

    assert set(typing.get_args(Fusion.model_fields["fuser"].annotation)) == set(FUSERS)
    assert isinstance(make_fuser("latest"), LatestFuser)
    assert isinstance(make_fuser("kalman"), KalmanFuser)
    assert isinstance(make_fuser("starfm", half_window=2), StarfmFuser)
    assert isinstance(make_fuser("robust"), RobustFuser)
    with pytest.raises(ValueError, match="unknown fuser"):
        make_fuser("oracle")


# ---------------------------------------------------------------- LatestFuser


def test_latest_value_wins_and_coarse_paints_its_cells(truth):
    fuser = fresh("latest")
    fuser.update(observe(truth, factor=4, t_s=0.0))
    mean = fuser.estimate()[0]
    block = truth[:, :4, :4].mean(axis=(1, 2))
    np.testing.assert_allclose(mean[:, :4, :4], block[:, None, None] * np.ones((4, 4)), atol=1e-6)
    # A fine image over part of it, with a cloudy pixel: valid pixels overwrite, the cloudy
    # one keeps the coarse value.
    valid = np.ones((8, 8), bool)
    valid[2, 3] = False
    fuser.update(observe(truth, (0, 8, 0, 8), t_s=10.0, valid=valid))
    mean = fuser.estimate()[0]
    np.testing.assert_allclose(mean[:, 0, 0], truth[:, 0, 0], atol=1e-6)
    np.testing.assert_allclose(mean[:, 2, 3], truth[:, :4, :4].mean(axis=(1, 2)), atol=1e-6)
    # A late image (taken before the fine one) changes only cells it is newer for.
    fuser.update(observe(truth + 1.0, factor=4, t_s=5.0))
    mean = fuser.estimate()[0]
    np.testing.assert_allclose(mean[:, 0, 0], truth[:, 0, 0], atol=1e-6)
    assert np.all(mean[:, 20:, 20:] > 1.0)


def test_latest_variance_heuristic(truth):
    fuser = fresh("latest")
    fuser.update(
        observe(truth, (0, 8, 0, 8), t_s=0.0, noise_std=0.01, rng=np.random.default_rng(0))
    )
    fuser.predict(100.0)
    variance = fuser.estimate()[1]
    np.testing.assert_allclose(variance[:, :8, :8], 1e-4 + Q_PER_S * 100.0)
    np.testing.assert_array_equal(variance[:, 8:, :], PRIOR)


# ---------------------------------------------------------------- KalmanFuser


def test_kalman_variance_falls_with_each_observation_and_grows_with_time(truth):
    fuser = fresh("kalman")
    rng = np.random.default_rng(1)
    previous = fuser.estimate()[1]
    for k in range(5):
        fuser.update(
            observe(truth, factor=2 if k % 2 else 1, t_s=fuser.t_s, noise_std=0.01, rng=rng)
        )
        variance = fuser.estimate()[1]
        assert np.all(variance < previous)
        previous = variance
    for t in (10.0, 100.0, 1000.0):
        fuser.predict(fuser.t_s + t)
        variance = fuser.estimate()[1]
        assert np.all(variance > previous)
        previous = variance
    fuser.predict(1e6)  # capped at the prior
    np.testing.assert_array_equal(fuser.estimate()[1], PRIOR)


def test_kalman_factor_one_variance_equals_kalman_grid_exactly(truth):
    """A random sequence of fine observations (windows, clouds, late data, time steps): the
    fuser's variance is bit-identical to the environment's KalmanGrid fed the same r."""
    rng = np.random.default_rng(3)
    fuser = fresh("kalman")
    grid = KalmanGrid(SHAPE, PRIOR, Q_PER_S)
    t = 0.0
    for _ in range(30):
        t += float(rng.uniform(0.0, 200.0))
        fuser.predict(t)
        grid.predict(t)
        r0, c0 = rng.integers(0, 24, 2)
        h, w = rng.integers(1, 9, 2)
        window = (int(r0), int(r0 + h), int(c0), int(c0 + w))
        valid = rng.random((h, w)) > 0.3
        t_obs = t - float(rng.uniform(0.0, 300.0)) * (rng.random() < 0.4)
        std = float(rng.uniform(0.005, 0.05))
        fuser.update(observe(truth, window, t_s=t_obs, noise_std=std, valid=valid, rng=rng))
        grid.update_window(*window, std**2, t_obs, valid)
        for band_variance in fuser.estimate()[1]:
            np.testing.assert_array_equal(band_variance, grid.variance())


def test_kalman_coarse_pixel_pulls_the_block_mean_not_the_pattern(truth):
    """Equal prior variance in a block: every cell moves by the same amount, so the
    within-block pattern of the prior mean survives and the block mean goes to y (noiseless)."""
    pattern = truth
    fuser = fresh("kalman")
    fuser.reset(N_BANDS, SHAPE, prior_mean=pattern)
    target = truth + 0.05 * np.sin(np.arange(32) / 3.0)[None, :, None]  # a block-level change
    fuser.update(observe(target, factor=4))
    mean, variance = fuser.estimate()

    def blocks(a):
        return a.reshape(N_BANDS, 8, 4, 8, 4)

    np.testing.assert_allclose(
        blocks(mean).mean(axis=(2, 4)), blocks(target).mean(axis=(2, 4)), atol=1e-6
    )
    within = blocks(mean) - blocks(mean).mean(axis=(2, 4), keepdims=True)
    prior_within = blocks(pattern) - blocks(pattern).mean(axis=(2, 4), keepdims=True)
    np.testing.assert_allclose(within, prior_within, atol=1e-12)
    # Posterior variance P − P² / (n (P + n r)), here r at the floor: P (1 − 1/n).
    np.testing.assert_allclose(variance, PRIOR * (1 - 1 / 16), rtol=1e-9)


def test_kalman_block_update_matches_the_dense_kalman_filter():
    """One coarse pixel over cells of unequal variance: the mean and the posterior diagonal
    equal the textbook update with the full covariance, H = (1/n, …, 1/n)."""
    rng = np.random.default_rng(11)
    f, n, r, y = 3, 9, 2e-4, 0.3
    grid = KalmanMeanGrid((3, 3), prior_variance=1.0, process_noise_per_s=0.0)
    grid.reset(0.0, prior_mean=rng.uniform(0.0, 0.5, (3, 3)))
    grid.update_window(0, 3, 0, 3, 0.01, 0.0, rng.random((3, 3)) > 0.5)  # unequal P
    x, p = grid.mean.ravel().copy(), np.diag(grid.variance().ravel())
    h = np.full((1, n), 1.0 / n)
    s = h @ p @ h.T + r
    k = p @ h.T / s
    x_post = x + (k * (y - h @ x)).ravel()
    p_post = p - k @ h @ p
    grid.update_blocks(0, f, 0, f, f, np.array([[y]]), r, 0.0)
    np.testing.assert_allclose(grid.mean.ravel(), x_post, rtol=1e-12)
    np.testing.assert_allclose(grid.variance().ravel(), np.diag(p_post), rtol=1e-12)


def test_kalman_noise_averages_down(truth):
    rng = np.random.default_rng(5)
    fuser = fresh("kalman")
    single = None
    for k in range(16):
        fuser.update(observe(truth, noise_std=0.02, rng=rng))
        if k == 0:
            single = rmse(fuser.estimate()[0], truth).overall
    many = rmse(fuser.estimate()[0], truth).overall
    assert single == pytest.approx(0.02, rel=0.15)
    assert many < single / 3.0  # 16 looks: ≈ 4× lower


# ---------------------------------------------------------------- RobustFuser


def _attacked_rmse(name, truth, n_malicious, seed=0, attack="bias"):
    """10 sources image the grid in a random order, three rounds, some of them malicious.
    Little process noise, so that the filter averages every round (and every lie)."""
    rng = np.random.default_rng(seed)
    fuser = fresh(name, q_per_s=1e-8)
    n_sources = 10
    malicious = set(rng.choice(n_sources, n_malicious, replace=False).tolist())
    t = 0.0
    for _ in range(3):
        for source in rng.permutation(n_sources):
            t += 60.0
            bad = int(source) in malicious
            obs = observe(truth, t_s=t, source=int(source), noise_std=0.01, rng=rng,
                          bias=0.1 if bad and attack == "bias" else 0.0)  # fmt: skip
            if bad and attack == "noise":
                obs.values += rng.normal(0.0, 0.1, obs.values.shape).astype(np.float32)
            fuser.update(obs)
    return rmse(fuser.estimate()[0], truth).overall, fuser, malicious


@pytest.mark.parametrize("seed", [0, 1])
def test_robust_resists_30_percent_biased_sources(truth, seed):
    clean_kalman = _attacked_rmse("kalman", truth, 0, seed)[0]
    clean_robust = _attacked_rmse("robust", truth, 0, seed)[0]
    attacked_kalman = _attacked_rmse("kalman", truth, 3, seed)[0]
    attacked_robust, robust, malicious = _attacked_rmse("robust", truth, 3, seed)
    assert clean_robust < 1.1 * clean_kalman  # the gate costs (almost) nothing on clean data
    assert attacked_robust < 1.25 * clean_robust  # ≈ 1 dB at most
    assert attacked_kalman > 3.0 * max(
        clean_kalman, attacked_robust
    )  # the plain filter is poisoned
    report = robust.source_report()
    assert {s for s, v in report.items() if not v["trusted"]} == malicious


def test_robust_rejects_noisy_sources(truth):
    clean = _attacked_rmse("robust", truth, 0, 2)[0]
    attacked, robust, malicious = _attacked_rmse("robust", truth, 3, 2, attack="noise")
    assert attacked < 1.25 * clean
    assert malicious <= {s for s, v in robust.source_report().items() if not v["trusted"]}


def test_robust_compares_a_coarse_pixel_with_the_block_mean(truth):
    """Honest coarse images of a textured scene are not mistaken for liars by fine sources."""
    fuser = fresh("robust")
    rng = np.random.default_rng(4)
    textured = smooth_field(rng, sigma=1.0, std=0.08)
    for source in (0, 1, 2):
        fuser.update(observe(textured, t_s=float(source), source=source))
    fuser.update(observe(textured, factor=4, t_s=5.0, source=3))
    report = fuser.source_report()
    assert report[3]["tested"] == 64 and report[3]["rejected"] == 0
    # A biased coarse source is caught all the same.
    fuser.update(observe(textured, factor=4, t_s=6.0, source=4, bias=0.1))
    assert fuser.source_report()[4]["rejected"] == 64


# ---------------------------------------------------------------- StarfmFuser


def test_starfm_transfers_a_uniform_coarse_change():
    """Land-cover patches not aligned with the coarse pixels: every similar pixel carries
    the same change, so the prediction is the base plus the change exactly."""
    rng = np.random.default_rng(2)
    classes = rng.integers(0, 4, (11, 11)).repeat(3, 0).repeat(3, 1)[:32, :32]
    base = np.stack([np.array([0.05, 0.15, 0.25, 0.35])[classes] + 0.01 * b for b in range(3)])
    delta = np.array([0.05, -0.03, 0.02])[:, None, None]
    fuser = fresh("starfm")
    fuser.update(observe(base, factor=4, t_s=0.0, source=0))
    fuser.update(observe(base, t_s=0.0, source=1))
    np.testing.assert_allclose(fuser.estimate()[0], base, atol=EXACT_ATOL)  # no change yet
    fuser.update(observe(base + delta, factor=4, t_s=100.0, source=0))
    np.testing.assert_allclose(fuser.estimate()[0], base + delta, atol=EXACT_ATOL)


def test_starfm_beats_persistence_and_coarse_on_a_smooth_change(truth):
    rng = np.random.default_rng(9)
    later = truth + 0.05 + smooth_field(rng, sigma=8.0, std=0.02, mean=0.0)
    fuser = fresh("starfm", half_window=2)
    fuser.update(observe(truth, factor=4, t_s=0.0))
    fuser.update(observe(truth, t_s=0.0, source=1))
    coarse = observe(later, factor=4, t_s=100.0)
    fuser.update(coarse)
    mean = fuser.estimate()[0]
    error = rmse(mean, later).overall
    persistence = rmse(truth, later).overall
    coarse_error = rmse(np.repeat(np.repeat(coarse.values, 4, 1), 4, 2), later).overall
    assert error < 0.25 * persistence
    assert error < 0.5 * coarse_error
    change = (later - truth).mean()
    assert abs((mean - truth).mean() - change) < 0.05 * change  # the change carries over


def test_starfm_fallbacks_and_cache(truth):
    fuser = fresh("starfm")
    fuser.update(observe(truth, (0, 8, 0, 8), t_s=0.0, source=1))  # fine only: persistence
    fuser.update(observe(truth + 0.1, (16, 32, 16, 32), factor=4, t_s=1.0))  # coarse only
    mean, variance = fuser.estimate()
    np.testing.assert_allclose(mean[:, :8, :8], truth[:, :8, :8], atol=EXACT_ATOL)
    blocks = (truth + 0.1)[:, 16:20, 16:20].mean(axis=(1, 2))
    np.testing.assert_allclose(mean[:, 16, 16], blocks, atol=EXACT_ATOL)
    np.testing.assert_array_equal(mean[:, 10, 10], 0.0)  # prior
    np.testing.assert_array_equal(variance[:, 10, 10], PRIOR)
    # The cache is refreshed after an update.
    fuser.update(observe(truth + 0.2, (0, 8, 0, 8), t_s=2.0, source=1))
    np.testing.assert_allclose(
        fuser.estimate()[0][:, :8, :8], truth[:, :8, :8] + 0.2, atol=EXACT_ATOL
    )


def _patches(seed, values=(0.05, 0.15, 0.25, 0.35)):
    """``(N_BANDS, *SHAPE)`` land-cover patches of 3 × 3 cells (not aligned with 4- or
    8-cell coarse pixels), one reflectance per class, offset per band."""
    classes = np.random.default_rng(seed).integers(0, len(values), (11, 11))
    classes = classes.repeat(3, 0).repeat(3, 1)[: SHAPE[0], : SHAPE[1]]
    return np.stack([np.array(values)[classes] + 0.01 * b for b in range(N_BANDS)])


def _blocks(field, f):
    n, rows, cols = field.shape
    return field.reshape(n, rows // f, f, cols // f, f).mean(axis=(2, 4))


def test_starfm_adds_the_coarse_change_to_the_prior_texture():
    """The prior mean is the fine base of unobserved cells, with M(t_k) its own block mean:
    a coarse image of a uniformly brightened truth keeps the prior's texture and moves the
    block means to the coarse values (exactly, noiseless), not painting over the texture."""
    prior = _patches(3)
    # Small enough that bases of different dates do not alias to another class (< 0.1 / 3).
    delta = np.array([0.01, -0.01, 0.005])[:, None, None]
    fuser = make_fuser("starfm", prior_variance=PRIOR, process_noise_per_s=Q_PER_S)
    fuser.reset(N_BANDS, SHAPE, prior_mean=prior)
    coarse = observe(prior + delta, factor=4, t_s=100.0)
    fuser.update(coarse)
    mean, variance = fuser.estimate()
    np.testing.assert_allclose(mean, prior + delta, atol=EXACT_ATOL)
    np.testing.assert_allclose(_blocks(mean, 4), coarse.values, atol=EXACT_ATOL)
    texture = prior - np.repeat(np.repeat(_blocks(prior, 4), 4, 1), 4, 2)
    assert np.abs(texture).max() > 0.1  # the prior is textured at the coarse scale
    assert np.all(variance < 1e-3 * PRIOR)  # coarse only: σ_M² (the heuristic)
    # A late (older) coarse image replaces nothing.
    fuser.update(observe(prior - delta, factor=4, t_s=50.0))
    np.testing.assert_allclose(fuser.estimate()[0], prior + delta, atol=EXACT_ATOL)
    # A newer coarse image of another pixel size: M(t_k) is the prior through its pixels.
    fuser.update(observe(prior + 2 * delta, factor=8, t_s=200.0))
    np.testing.assert_allclose(fuser.estimate()[0], prior + 2 * delta, atol=EXACT_ATOL)
    # A fine image becomes the base of its cells (M(t_k): the coarse value when it came).
    fuser.update(observe(prior + 2 * delta, (8, 24, 0, 16), t_s=300.0, source=1))
    fuser.update(observe(prior + 3 * delta, factor=8, t_s=400.0))
    np.testing.assert_allclose(fuser.estimate()[0], prior + 3 * delta, atol=EXACT_ATOL)


def test_starfm_flat_prior_reads_the_coarse_paint(truth):
    """On a flat prior the synthesised M(t_k) equals the base (S = 0): cells read the coarse
    value, as a coarse image painted over its cells; cells it does not cover, the prior."""
    fuser = make_fuser("starfm", prior_variance=PRIOR, process_noise_per_s=Q_PER_S)
    fuser.reset(N_BANDS, SHAPE, prior_mean=[0.1, 0.2, 0.3])
    coarse = observe(truth, (0, 32, 0, 24), factor=4, t_s=10.0)
    fuser.update(coarse)
    mean, variance = fuser.estimate()
    np.testing.assert_allclose(mean[:, :, :24], paint(coarse.values, 4), rtol=0, atol=1e-12)
    prior = np.broadcast_to(np.array([0.1, 0.2, 0.3])[:, None, None], (N_BANDS, 32, 8))
    np.testing.assert_array_equal(mean[:, :, 24:], prior)
    np.testing.assert_array_equal(variance[:, :, 24:], PRIOR)


def test_starfm_keeps_a_smooth_prior_texture(truth):
    """A textured (smooth) prior and a coarse image of a brightened, smoothly changed truth:
    STARFM (no fine image at all) is far better than the prior and the coarse paint."""
    later = truth + 0.05 + smooth_field(np.random.default_rng(9), sigma=8.0, std=0.01, mean=0.0)
    fuser = make_fuser("starfm", prior_variance=PRIOR, process_noise_per_s=Q_PER_S)
    fuser.reset(N_BANDS, SHAPE, prior_mean=truth)
    coarse = observe(later, factor=4, t_s=100.0)
    fuser.update(coarse)
    mean = fuser.estimate()[0]
    error = rmse(mean, later).overall
    assert error < 0.2 * rmse(truth, later).overall
    assert error < 0.5 * rmse(paint(coarse.values, 4), later).overall
    np.testing.assert_allclose(_blocks(mean, 4), coarse.values, atol=0.01)
