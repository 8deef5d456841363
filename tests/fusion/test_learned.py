"""LearnedFuser: Kalman plus a zero-initialised U-Net correction; its training CLI."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from scipy import ndimage

from sagsim.envs.scenario.shipped import resolve_scenario
from sagsim.fusion.fidelity import IDEAL_MIN_PSNR_DB, ideal_snapshot
from sagsim.fusion.fusers import KalmanFuser, make_fuser
from sagsim.fusion.learned import DEFAULT_CHECKPOINT, LearnedFuser, LearnedModel
from sagsim.fusion.observation import Observation
from sagsim.fusion.sensing.scene import Scene
from sagsim.fusion.sensing.sensor_model import SensorSpec, acquire
from sagsim.fusion.simulate import archive_map, fuser_kwargs
from sagsim.fusion.train import main as train_main
from sagsim.fusion.train import validate

torch.set_num_threads(1)
N_BANDS, SHAPE = 3, (24, 20)
PRIOR, Q_PER_S = 0.01, 1e-6
# The shipped weights on noiseless, registered, fresh images (every band over its range):
# the guard sagsim.fusion.train selects checkpoints with.
TRAINED_MIN_PSNR_DB = IDEAL_MIN_PSNR_DB


def field(seed: int, shape=SHAPE) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.stack(
        [ndimage.gaussian_filter(rng.standard_normal(shape), 2.0) for _ in range(N_BANDS)]
    )
    return 0.2 + 0.05 * out / out.std()


def observe(truth, window, factor, t_s, rng, noise_std=0.01, valid=None, source=0):
    r0, r1, c0, c1 = window
    f = factor
    h, w = (r1 - r0) // f, (c1 - c0) // f
    values = truth[:, r0:r1, c0:c1].reshape(N_BANDS, h, f, w, f).mean(axis=(2, 4))
    values = values + rng.normal(0.0, noise_std, values.shape)
    return Observation(
        values=values.astype(np.float32),
        valid=np.ones((h, w), bool) if valid is None else valid,
        window=window,
        factor=f,
        band_index=np.arange(N_BANDS),
        noise_variance=np.full(N_BANDS, noise_std**2),
        t_s=t_s,
        source=source,
    )


def stream(rng):
    """Coarse and fine images with clouds, a moving truth and one late delivery."""
    out = []
    for k in range(8):
        truth = field(k // 3)
        valid = rng.random((6, 5)) > 0.3
        out.append(observe(truth, (0, 24, 0, 20), 4, 100.0 * k, rng, valid=valid, source=0))
        r0, c0 = rng.integers(0, 14), rng.integers(0, 10)
        out.append(observe(truth, (r0, r0 + 10, c0, c0 + 10), 1, 100.0 * k + 50, rng, source=1))
    out.append(observe(field(0), (4, 12, 4, 12), 1, 120.0, rng, source=2))  # late
    return out


def untrained(n_bands=N_BANDS) -> LearnedModel:
    return LearnedModel.new(n_bands, np.full(n_bands, 0.2), np.ones(n_bands), width=4)


def test_untrained_network_reproduces_the_kalman_estimate():
    learned = LearnedFuser(model=untrained(), prior_variance=PRIOR, process_noise_per_s=Q_PER_S)
    kalman = KalmanFuser(prior_variance=PRIOR, process_noise_per_s=Q_PER_S)
    for fuser in (learned, kalman):
        fuser.reset(N_BANDS, SHAPE, prior_mean=[0.1, 0.2, 0.3])
    np.testing.assert_array_equal(learned.estimate()[0][:, 0, 0], [0.1, 0.2, 0.3])
    for obs in stream(np.random.default_rng(0)):
        for fuser in (learned, kalman):
            fuser.update(obs)
    for fuser in (learned, kalman):
        fuser.predict(1000.0)
    (m_l, v_l), (m_k, v_k) = learned.estimate(), kalman.estimate()
    np.testing.assert_array_equal(m_l, m_k)
    np.testing.assert_array_equal(v_l, v_k)  # the variance is always the Kalman variance
    assert m_l.dtype == v_l.dtype == np.float64


def test_features_track_latest_fine_and_coarse_values_with_ages():
    fuser = LearnedFuser(model=untrained(), prior_variance=PRIOR, process_noise_per_s=Q_PER_S)
    fuser.reset(N_BANDS, SHAPE)
    rng = np.random.default_rng(1)
    truth = field(0)
    fuser.update(observe(truth, (0, 24, 0, 20), 4, 100.0, rng, noise_std=0.0))
    cloudy = np.ones((8, 8), bool)
    cloudy[0, 0] = False
    fuser.update(observe(truth, (0, 8, 0, 8), 1, 3700.0, rng, noise_std=0.0, valid=cloudy))
    fuser.predict(7300.0)
    stack, seen, _, _ = fuser.features()
    f = stack.reshape(N_BANDS, 12, *SHAPE)
    assert seen.all()
    np.testing.assert_allclose(fuser.fine[:, 1, 1], truth[:, 1, 1], atol=1e-6)
    mean = fuser.kalman.estimate()[0]
    np.testing.assert_allclose(f[:, 0, 1, 1], mean[:, 1, 1] - 0.2, rtol=1e-6)  # over offset
    np.testing.assert_allclose(f[:, 2, 1, 1], 0.0, atol=1e-5)  # noiseless fine = Kalman
    np.testing.assert_allclose(f[:, 3, 1, 1], np.log1p(1.0), rtol=1e-6)  # fine age 1 h
    assert f[:, 4, 1, 1].all() and not f[:, 4, 0, 0].any() and not f[:, 4, 10, 10].any()
    np.testing.assert_allclose(f[:, 6, 10, 10], np.log1p(2.0), rtol=1e-6)  # coarse age 2 h
    assert f[:, 7].all()
    np.testing.assert_allclose(f[:, 8], (0.0 - mean) * 10.0, rtol=1e-6)  # prior (0) − Kalman
    # A late coarse image taken before the current one changes nothing it is older than.
    before = fuser.coarse.copy()
    fuser.update(observe(truth + 1.0, (0, 24, 0, 20), 4, 50.0, rng, noise_std=0.0))
    np.testing.assert_array_equal(fuser.coarse, before)


def test_fine_images_carry_their_misregistration_against_the_prior():
    """A fine image shifted by one row: estimated against the (textured) prior mean; a small
    image, or a flat prior, gives none."""
    truth = field(0)
    shifted = ndimage.shift(truth, (0, 1.0, 0.0), order=1, mode="nearest")
    rng = np.random.default_rng(2)
    fuser = LearnedFuser(model=untrained(), prior_variance=PRIOR, process_noise_per_s=Q_PER_S)
    fuser.reset(N_BANDS, SHAPE, prior_mean=truth)
    fuser.update(observe(shifted, (2, 22, 2, 18), 1, 10.0, rng, noise_std=0.0))
    f = fuser.features()[0].reshape(N_BANDS, 12, *SHAPE)
    assert f[:, 11, 2:22, 2:18].all() and not f[:, 11, :2].any()
    np.testing.assert_allclose(f[:, 9, 10, 10], 1.0, atol=0.2)
    np.testing.assert_allclose(f[:, 10, 10, 10], 0.0, atol=0.2)
    fuser.update(observe(truth, (0, 4, 0, 4), 1, 20.0, rng, noise_std=0.0))  # 4 × 4: none
    f = fuser.features()[0].reshape(N_BANDS, 12, *SHAPE)
    assert not f[:, 11, :4, :4].any() and f[:, 11, 10, 10].all()
    fuser.reset(N_BANDS, SHAPE, prior_mean=0.2)  # flat prior: no reference
    fuser.update(observe(shifted, (2, 22, 2, 18), 1, 10.0, rng, noise_std=0.0))
    assert not fuser.features()[0].reshape(N_BANDS, 12, *SHAPE)[:, 11].any()


def test_noiseless_cloudless_registered_inputs_reproduce_the_truth():
    """Untrained: the Kalman map, exact. The shipped weights (if present): close to it, with
    the benchmark's archive base map as the prior (the network's training setting)."""
    sc = resolve_scenario("minimal")
    scene = Scene.from_scenario(sc)
    rows, cols = scene.shape[1:]
    models = [untrained(len(scene.bands))]
    if DEFAULT_CHECKPOINT.is_file():
        models.append(LearnedModel.load(DEFAULT_CHECKPOINT))
    spec = SensorSpec(gsd_m=1.0, noise_std=0.0, psf_sigma_per_gsd=0.0)
    for k, model in enumerate(models):
        fuser = LearnedFuser(model=model, **fuser_kwargs(sc, scene))
        fuser.reset(len(scene.bands), (rows, cols), prior_mean=archive_map(scene))
        rng = np.random.default_rng(0)
        for r0 in range(0, rows, 25):
            for c0 in range(0, cols, 24):
                window = (r0, min(r0 + 25, rows), c0, min(c0 + 24, cols))
                fuser.update(acquire(scene, 600.0, window, spec, rng, shift_cells=(0.0, 0.0)))
        mean, variance = fuser.estimate()
        truth = scene.truth_at(600.0)
        err = (mean - truth) / scene.data_range[:, None, None]
        if k == 0:
            np.testing.assert_allclose(mean, truth, atol=1e-6)
        else:
            assert 10 * np.log10(1 / np.mean(err**2)) > TRAINED_MIN_PSNR_DB
        assert np.all(variance < 1e-6)


def test_checkpoint_round_trip_and_errors(tmp_path):
    model = untrained()
    torch.nn.init.normal_(model.net.head.weight, std=0.1)
    path = tmp_path / "w.pt"
    model.save(path)
    loaded = make_fuser("learned", checkpoint=path).model
    x = torch.randn(1, N_BANDS * 12, 12, 10)
    torch.testing.assert_close(loaded.net(x), model.net(x))
    np.testing.assert_array_equal(loaded.offset, model.offset)
    with pytest.raises(FileNotFoundError, match=r"python -m sagsim\.fusion\.train"):
        LearnedFuser(checkpoint=tmp_path / "missing.pt")
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a learned-fuser checkpoint"):
        LearnedFuser(checkpoint=tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="3 bands"):
        LearnedFuser(checkpoint=path).reset(7, SHAPE)


def test_short_training_run_lowers_the_loss_and_writes_a_loadable_checkpoint(tmp_path, capsys):
    out = tmp_path / "m.pt"
    rc = train_main(["minimal", "--episodes", "2", "--val-episodes", "1", "--snapshots", "4",
                     "--crops", "4", "--crop", "32", "--batch", "2", "--steps", "20",
                     "--width", "4", "--lr", "3e-3", "--threads", "1",
                     "--seed", "3", "--quiet", "--out", str(out)])  # fmt: skip
    assert rc == 0
    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["steps"] == 20
    assert summary["train_loss_after"] < summary["train_loss_before"]
    assert "validation PSNR learned" in capsys.readouterr().out
    model = LearnedModel.load(out)
    assert model.meta["scenario"] == "minimal" and model.config["width"] == 4
    fuser = LearnedFuser(checkpoint=out)
    fuser.reset(7, (100, 96))
    assert np.isfinite(fuser.estimate()[0]).all()


@pytest.mark.parametrize(
    "argv, message",
    [(["minimal", "--episodes", "0"], "--episodes: must be an integer in [1, 10000]"),
     (["minimal", "--minutes", "nan"], "--minutes"),
     (["no_such_scenario"], "no_such_scenario"),
     (["minimal", "--duration-s", "1e6"], "--duration-s"),
     (["minimal", "--frobnicate"], "unrecognized arguments")],
)  # fmt: skip
def test_bad_cli_input_is_one_line_and_exit_2(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as e:
        raise SystemExit(train_main([*argv, "--out", str(tmp_path / "x.pt")]))
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("sagsim.fusion.train: ") and message in err
    assert not (tmp_path / "x.pt").exists()


def test_an_unwritable_out_is_refused_before_training(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert train_main(["minimal", "--out", str(blocker / "x.pt")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a folder" in err


def test_cli_as_a_module_exits_2_with_one_line():
    command = [sys.executable, "-m", "sagsim.fusion.train", "minimal", "--epochs", "-1"]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "--epochs" in proc.stderr


def test_ideal_snapshot_is_the_truth_for_the_kalman_map():
    """Complete, fresh, perfect coverage: the Kalman map is the truth (target 0 everywhere,
    every cell seen), so an untrained network scores infinitely and any correction is
    error; the shipped weights pass the training guard."""
    sc = resolve_scenario("minimal")
    model = untrained(7)
    label, stack, target, seen = ideal_snapshot(model, sc, 3)
    assert label == "ideal" and seen.all()
    np.testing.assert_allclose(target, 0.0, atol=1e-6)
    assert validate(model, [(label, stack, target, seen)])["psnr_all_learned_db"] > 100
    torch.nn.init.normal_(model.net.head.weight, std=1.0)  # a network that corrects anyway
    assert validate(model, [(label, stack, target, seen)])["psnr_all_learned_db"] < 40
    if DEFAULT_CHECKPOINT.is_file():
        shipped = LearnedModel.load(DEFAULT_CHECKPOINT)
        snap = ideal_snapshot(shipped, sc, 3)
        assert validate(shipped, [snap])["psnr_all_learned_db"] >= IDEAL_MIN_PSNR_DB
