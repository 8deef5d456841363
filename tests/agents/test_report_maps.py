"""The report's map comparison (sagsim.agents.report_maps: the best single observation) and episode
animation (sagsim.agents.animation, ``evaluate.py --animate``)."""

from __future__ import annotations

import io
import json
import re
import zlib
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image, ImageSequence

from evaluate import main as evaluate_main
from sagsim import envs
from sagsim.agents.animation import GifRecorder, auto_every, file_label, file_names
from sagsim.agents.report_maps import BestObservation, single_image_map, source_name
from sagsim.fusion.metrics import psnr
from sagsim.fusion.observation import Observation
from sagsim.fusion.sensing.scene import N_REFLECTANCE

N_BANDS, ROWS, COLS = 7, 12, 16


class ChangingScene:
    """A synthetic truth that changes once, at ``change_t_s``, in the left half of the grid
    (its cells shuffled: the same values, so an image's gain over the prior is alike before
    and after, but an image of the left half taken before goes stale)."""

    def __init__(self, rng, change_t_s: float = 500.0) -> None:
        self.before = rng.uniform(0.02, 0.4, (N_BANDS, ROWS, COLS)).astype(np.float32)
        self.after = self.before.copy()
        left = self.after[:, :, : COLS // 2].reshape(N_BANDS, -1)
        self.after[:, :, : COLS // 2] = left[:, rng.permutation(left.shape[1])].reshape(
            N_BANDS, ROWS, COLS // 2)  # fmt: skip
        self.change_t_s = change_t_s

    def truth_at(self, t_s):
        return (self.before if t_s < self.change_t_s else self.after).copy()

    def truth_window(self, t_s, r0, r1, c0, c1):
        return self.truth_at(t_s)[:, r0:r1, c0:c1]


def fake_perception(scene) -> SimpleNamespace:
    prior = scene.truth_at(0.0).reshape(N_BANDS, -1).mean(axis=1)
    world = SimpleNamespace(grid=SimpleNamespace(shape=(ROWS, COLS)))
    return SimpleNamespace(scene=scene, prior_mean=prior, world=world)


def image_of(scene, t_s, window, factor, noise, rng, valid_fraction=1.0, bands=None, source=0):
    """An observation of ``scene`` at ``t_s``: block means plus Gaussian ``noise``."""
    r0, r1, c0, c1 = window
    truth = scene.truth_window(t_s, *window)
    h, w = (r1 - r0) // factor, (c1 - c0) // factor
    blocks = truth.reshape(N_BANDS, h, factor, w, factor).mean(axis=(2, 4))
    bands = np.arange(N_BANDS) if bands is None else np.asarray(bands)
    values = (blocks[bands] + rng.normal(0.0, noise, (len(bands), h, w))).astype(np.float32)
    valid = rng.random((h, w)) < valid_fraction
    return Observation(values=values, valid=valid, window=window, factor=factor,
                       band_index=bands, noise_variance=np.full(len(bands), noise**2),
                       t_s=t_s, source=source)  # fmt: skip


def brute_force_psnr(obs, prior, truth) -> float:
    """The single-image map built cell by cell, scored as the fused map is."""
    alone = np.broadcast_to(prior[:, None, None], truth.shape).copy()
    r0, _, c0, _ = obs.window
    f = obs.factor
    for row, band in enumerate(obs.band_index):
        for i, j in np.argwhere(obs.valid):
            alone[band, r0 + i * f : r0 + (i + 1) * f, c0 + j * f : c0 + (j + 1) * f] = (
                obs.values[row, i, j])  # fmt: skip
    return psnr(alone[:N_REFLECTANCE], truth[:N_REFLECTANCE], 1.0)


def test_single_image_map_paints_valid_pixels_and_keeps_the_prior_elsewhere():
    rng = np.random.default_rng(0)
    scene = ChangingScene(rng)
    obs = image_of(scene, 0.0, (2, 6, 4, 10), 2, 0.0, rng, bands=[0, 1, 2])
    obs.valid[0, 1] = False
    prior = np.arange(N_BANDS, dtype=float)
    alone, covered = single_image_map(obs, prior, (ROWS, COLS))
    assert alone.shape == (N_BANDS, ROWS, COLS) and covered.sum() == (2 * 3 - 1) * 4
    assert not covered[2:4, 6:8].any() and covered[4:6, 6:8].all()
    np.testing.assert_array_equal(alone[1, 4:6, 8:10], obs.values[1, 1, 2])
    for band in (3, 4, 5, 6):  # not measured: the prior, even where the image sees
        np.testing.assert_array_equal(alone[band], prior[band])
    np.testing.assert_array_equal(alone[0, ~covered], prior[0])


def test_best_observation_has_the_highest_psnr_against_the_truth_at_the_end():
    """Of images of every kind (wide and coarse, small and perfect, cloudy, an index band
    only, one perfect when taken but stale by the end), the one picked has the maximum PSNR
    at the end among all of them, computed independently, although the stale one gained the
    most when it was taken; the tracker keeps only ``keep`` images."""
    rng = np.random.default_rng(1)
    scene = ChangingScene(rng, change_t_s=500.0)
    perception = fake_perception(scene)
    stale = image_of(scene, 60.0, (0, 12, 0, 16), 1, 0.001, rng)  # sharp, before the change
    fresh = image_of(scene, 980.0, (0, 12, 0, 16), 1, 0.02, rng, valid_fraction=0.9)
    images = [
        image_of(scene, 100.0, (0, 12, 8, 16), 1, 0.0, rng),  # perfect, the unchanged half
        image_of(scene, 900.0, (0, 12, 0, 16), 4, 0.02, rng),  # whole grid, coarse
        image_of(scene, 950.0, (0, 12, 8, 16), 1, 0.005, rng, valid_fraction=0.7),  # cloudy
        stale,
        image_of(scene, 990.0, (4, 6, 4, 6), 1, 0.0, rng),  # tiny and perfect
        image_of(scene, 600.0, (0, 12, 0, 16), 1, 0.01, rng, bands=[5]),  # an index only
        fresh,
    ]
    tracker = BestObservation(perception, keep=3)
    for obs in images:
        tracker(obs)
    assert tracker.candidates[0] is stale  # the largest gain against its own time's truth
    t_end = 1000.0
    truth_end = scene.truth_at(t_end).astype(float)
    scores = [brute_force_psnr(o, perception.prior_mean, truth_end) for o in images]
    best = tracker.result(t_end)
    assert tracker.n_seen == best["seen"] == len(images) and best["candidates"] == 3
    assert len(tracker.candidates) == 3  # bounded memory
    assert best["observation"] is images[int(np.argmax(scores))] is fresh
    assert best["psnr_db"] == pytest.approx(max(scores))
    assert best["coverage"] == pytest.approx(best["covered"].mean())
    covered = best["covered"]
    seen = psnr(best["map"][:N_REFLECTANCE], truth_end[:N_REFLECTANCE], 1.0, valid=covered)
    assert best["psnr_seen_db"] == pytest.approx(seen) and seen > best["psnr_db"]


def test_no_image_fused_gives_no_best_observation():
    rng = np.random.default_rng(2)
    tracker = BestObservation(fake_perception(ChangingScene(rng)))
    assert tracker.result(10.0) is None


def test_source_names_follow_the_agents_then_open_data(minimal_dict):
    """The perception's observers see open-data images too (source ids after the agents'),
    named by their mission's satellite; the agents by the scenario's names and their ids."""
    from sagsim.envs.sag_env import SagEnv

    minimal_dict["open_data"] = [{
        "name": "terra_modis", "latency_s": 600,
        "walker": {"planes": 1, "per_plane": 1, "altitude_m": 705000, "sun_synchronous": True,
                   "raan0_deg": 272.1},
        "sensor": {"kind": "optical", "gsd_nadir_m": 500, "swath_m": 2330000,
                   "max_off_nadir_deg": 55, "noise_std": 0.01, "bands": 7}}]  # fmt: skip
    env = SagEnv(envs.load_scenario(minimal_dict), perception="imagery",
                 fusion={"fuser": "kalman"})  # fmt: skip
    seen = []
    env.world.perception.observers.append(seen.append)
    env.reset(seed=1)
    idle = env.n_actions - 1
    while env.agents:
        env.step(dict.fromkeys(env.agents, idle))
    w = env.world
    assert [source_name(w, s) for s in (0, 1)] == ["eo-P1-S1 (sat_0)", "uav-0 (uav_0)"]
    opened = [o for o in seen if o.source >= w.n_agents]
    assert opened and len(opened) == w.perception.open_data_fused
    assert source_name(w, opened[0].source).startswith("terra_modis")


def test_gif_frames_decode_to_the_recorded_frames():
    """Frames with few colours survive the shared palette and the transparent 'unchanged'
    pixels exactly: the decoded animation is the frames as recorded."""
    rng = np.random.default_rng(3)
    colours = rng.integers(0, 256, (40, 3), dtype=np.uint8)
    base = colours[rng.integers(0, 40, (48, 48))]
    frames = []
    for k in range(5):
        frame = base.copy()
        frame[k * 8 : k * 8 + 10, 5:30] = colours[k]  # a moving bar
        frames.append(frame)
    rec = GifRecorder(1, size_px=48)
    rec.frames = [zlib.compress(f.tobytes()) for f in frames]
    gif = Image.open(io.BytesIO(rec.gif_bytes()))
    decoded = [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(gif)]
    assert len(decoded) == 5
    for got, want in zip(decoded, frames, strict=True):
        np.testing.assert_array_equal(got, want)
    assert GifRecorder(1).gif_bytes() is None


def test_frame_spacing_and_file_names():
    assert auto_every(720, 60) == 12 and auto_every(60, 60) == 1 and auto_every(61, 60) == 2
    assert file_label("run/best+kalman") == "run_best+kalman"
    assert file_names(["run/best", "run_best", "greedy"]) == [
        "episode_run_best.gif", "episode_run_best_2.gif", "episode_greedy.gif"]  # fmt: skip


def test_a_gif_too_large_to_embed_is_linked(monkeypatch):
    from sagsim.agents import animation
    from sagsim.agents.report import animation as animation_html

    capture = {"policy": "run/best", "animation_gif": b"GIF89a" + bytes(100),
               "animation_file": "episode_run_best.gif", "animation_every_steps": 4,
               "animation_frames": 3, "step_s": 30.0}  # fmt: skip
    assert "data:image/gif;base64," in animation_html(capture)
    monkeypatch.setattr(animation, "MAX_EMBED_BYTES", 10)
    page = animation_html(capture)
    assert 'src="episode_run_best.gif"' in page and "too large to embed" in page


def test_evaluate_animates_and_compares_maps(tmp_path):
    """``--animate-every 40`` on 120 steps: one GIF per policy with frames at steps 0, 40,
    80 and the last, 480 px, written beside the report and embedded in it; the map
    comparison is in the report and its fused PSNR is metrics.json's. The metrics are
    those of the same run without the animation (drawing changes nothing)."""
    out, plain = tmp_path / "report", tmp_path / "plain"
    flags = ["minimal", "--policy", "greedy", "--fuser", "kalman", "--seeds", "1",
             "--max-cycles", "120", "--jobs", "1", "--quiet"]  # fmt: skip
    assert evaluate_main([*flags, "--out", str(out), "--animate-every", "40"]) == 0
    assert evaluate_main([*flags, "--out", str(plain)]) == 0
    gif = Image.open(out / "episode_greedy+kalman.gif")
    assert gif.n_frames == 4 and gif.size == (480, 480)
    page = (out / "report.html").read_text()
    assert page.count("data:image/gif;base64,") == 1
    assert 'alt="truth, fused map and best single observation"' in page
    data = json.loads((out / "metrics.json").read_text())
    shown = re.search(r"the fused map \(PSNR ([0-9.]+) dB\)", page).group(1)
    assert float(shown) == pytest.approx(data["episodes"][0]["fusion_psnr_db"], abs=0.05)
    assert "Best single observation" in page and "uav_0" in page  # the drone's images
    assert data["episodes"] == json.loads((plain / "metrics.json").read_text())["episodes"]
    assert not list(plain.glob("*.gif"))
