"""The standalone observation stream (sagsim.fusion.simulate) on the minimal scenario: determinism,
arrival order and latency, the cloud-fraction override, forced misregistration, the bad
sources' count and tags, the oracle stream and the replay/score helpers."""

import math

import numpy as np
import pytest
import yaml

from sagsim import envs
from sagsim.fusion import make_fuser
from sagsim.fusion.simulate import (
    LATENCY_JITTER,
    archive_map,
    fuser_kwargs,
    observation_stream,
    replay,
    scene_for,
    score,
    simulate,
)
from tests.conftest import SCENARIOS

# Clones of the minimal scenario's satellite and drone: enough data for statistics, fast.
N_SOURCES = 12
# A clouds section with short correlation: many independent cloud cells over the region.
FINE_CLOUDS = {"cover_fraction": 0.3, "correlation_length_m": 1_000.0,
               "decorrelation_time_s": 1_800.0}  # fmt: skip


@pytest.fixture(scope="module")
def minimal():
    data = yaml.safe_load((SCENARIOS / "minimal.yaml").read_text())
    data["clouds"] = FINE_CLOUDS
    return envs.load_scenario(data)


def _same(a, b) -> bool:
    if len(a) != len(b):
        return False
    for (ta, oa), (tb, ob) in zip(a, b, strict=True):
        if ta != tb or oa.window != ob.window or oa.source != ob.source or oa.tag != ob.tag:
            return False
        if not (np.array_equal(oa.values, ob.values) and np.array_equal(oa.valid, ob.valid)):
            return False
    return True


def test_deterministic_per_seed(minimal):
    kw = {"n_sources": N_SOURCES, "malicious_fraction": 0.25, "attack": "noise"}
    a = observation_stream(minimal, 3, **kw)
    assert len(a) > 20
    assert _same(a, observation_stream(minimal, 3, **kw))
    assert not _same(a, observation_stream(minimal, 4, **kw))


def test_arrivals_sorted_and_not_before_acquisition_plus_latency(minimal):
    latency = 5_400.0
    stream = observation_stream(minimal, 1, latency_s=latency, n_sources=N_SOURCES)
    arrivals = np.array([t for t, _ in stream])
    taken = np.array([o.t_s for _, o in stream])
    assert np.all(np.diff(arrivals) >= 0)
    assert np.all(arrivals >= taken + latency)
    assert np.all(arrivals <= taken + latency * (1 + LATENCY_JITTER))
    assert np.all((taken >= 0) & (taken < minimal.duration_s))
    # Jitter reorders late data: arrival order is not acquisition order everywhere.
    assert np.any(np.diff(taken) < 0)
    zero = observation_stream(minimal, 1, n_sources=N_SOURCES)
    assert all(t == o.t_s for t, o in zero)


def _invalid_fraction(stream) -> float:
    optical = [o for _, o in stream if o.kind == "optical"]
    return sum((~o.valid).sum() for o in optical) / sum(o.valid.size for o in optical)


def test_cloud_fraction_override_sets_the_invalid_optical_fraction(minimal):
    kw = {"n_sources": 2 * N_SOURCES}
    assert _invalid_fraction(observation_stream(minimal, 2, cloud_fraction=0.0, **kw)) == 0.0
    assert _invalid_fraction(observation_stream(minimal, 2, cloud_fraction=1.0, **kw)) == 1.0
    got = {f: np.mean([_invalid_fraction(observation_stream(minimal, s, cloud_fraction=f, **kw))
                       for s in range(3)]) for f in (0.3, 0.7)}  # fmt: skip
    # Clouds are spatially and temporally correlated: a loose tolerance on 3 seeds.
    assert got[0.3] == pytest.approx(0.3, abs=0.06)
    assert got[0.7] == pytest.approx(0.7, abs=0.06)
    assert got[0.7] > got[0.3] + 0.2


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.25, 0.5])
def test_malicious_fraction_tags_the_right_number_of_sources(minimal, fraction):
    stream = simulate(minimal, 5, n_sources=N_SOURCES, malicious_fraction=fraction)
    active = {o.source for _, o in stream.observations}
    tagged = {o.source for _, o in stream.observations if o.tag}
    assert len(active) == N_SOURCES
    assert len(tagged) == round(fraction * N_SOURCES) == len(stream.malicious)
    assert tagged == set(stream.malicious)
    for _, o in stream.observations:  # every observation of a bad source, and only those
        assert o.tag == ("malicious:bias" if o.source in tagged else "")


def test_attack_per_agent_and_faults(minimal):
    stream = simulate(minimal, 5, n_sources=4, attack={1: "dropped", 2: "stuck"})
    tags = {o.source: o.tag for _, o in stream.observations}
    assert tags[1] == "faulty:dropped" and tags[2] == "faulty:stuck"
    assert tags[0] == tags[3] == ""


@pytest.mark.parametrize("shift_px", [0.0, 1.0, 3.0])
def test_forced_misregistration_has_the_requested_magnitude(minimal, shift_px):
    stream = observation_stream(minimal, 0, shift_px=shift_px, n_sources=4)
    for _, o in stream:
        assert math.hypot(*o.true_shift_cells) == pytest.approx(shift_px * o.factor, abs=1e-9)
    native = observation_stream(minimal, 0, n_sources=4)
    assert any(math.hypot(*o.true_shift_cells) > 0 for _, o in native)


def test_source_subset_and_clones(minimal):
    one = simulate(minimal, 0, n_sources=1)
    assert len(one.sources) == 1 and {o.source for _, o in one.observations} <= {0}
    many = simulate(minimal, 0, n_sources=5)
    assert many.sources[:2] == ["sat0", "uav/0"] and len(many.sources) == 5
    with pytest.raises(ValueError):
        simulate(minimal, 0, n_sources=0)


def test_oracle_is_the_same_acquisitions_ideal(minimal):
    stream = simulate(minimal, 7, n_sources=6, cloud_fraction=0.5, shift_px=2.0,
                      malicious_fraction=0.5, oracle=True)  # fmt: skip
    assert len(stream.oracle) == len(stream.observations)
    for (ta, a), (tb, b) in zip(stream.observations, stream.oracle, strict=True):
        assert ta == tb and a.t_s == b.t_s and a.source == b.source
        assert b.valid.all() and b.true_shift_cells == (0.0, 0.0) and b.tag == ""
        if not a.tag:
            assert a.window == b.window


def test_replay_and_score(minimal):
    stream = simulate(minimal, 0, n_sources=6, cloud_fraction=0.0, oracle=True)
    scene = scene_for(minimal, 0)
    assert scene is stream.scene
    end = stream.duration_s
    scores = {}
    for name, obs in (("stream", stream.observations), ("oracle", stream.oracle)):
        fuser = make_fuser("kalman", **fuser_kwargs(minimal, scene))
        fuser.reset(len(scene.bands), scene.shape[1:], 0.0, prior_mean=archive_map(scene))
        n, _ = replay(fuser, obs, end)
        assert n == len(obs) and fuser.t_s == end
        scores[name] = score(fuser.estimate()[0], scene, end)
    prior = score(archive_map(scene), scene, end)
    assert set(prior) == {"rmse", "psnr_db", "ssim", "psnr_refl_db", "event_iou"}
    # Fresh, cloud-free images beat the 10-day-old base map; the ideal stream does best.
    assert prior["psnr_db"] < scores["stream"]["psnr_db"] <= scores["oracle"]["psnr_db"] + 0.1
    assert 0.0 <= scores["oracle"]["event_iou"] <= 1.0
