"""Malicious sources and faulty sensors (sagsim.fusion.sensing.attacks), each against its
definition."""

import math

import numpy as np
import pytest

from sagsim import envs
from sagsim.envs.scenario.schema.mission import BAD_SOURCE_DEFAULTS
from sagsim.fusion.observation import Observation
from sagsim.fusion.sensing import attacks
from sagsim.fusion.sensing.scene import BANDS, FLOOD_SPEC, N_REFLECTANCE, SCAR_SPEC, Scene
from sagsim.fusion.sensing.sensor_model import DROPPED_FILL, SensorSpec, acquire
from tests.conftest import SCENARIOS

NDWI, BURN = BANDS.index("ndwi"), BANDS.index("burn")
Z = 5.0  # statistical tolerances: 5 standard errors
EXACT = 1e-6


def make_obs(h=200, w=200, value=0.2, factor=1, t_s=0.0, kind="optical", window=None):
    n = len(BANDS) if kind == "optical" else 1
    r0, c0 = window or (0, 0)
    return Observation(
        values=np.full((n, h, w), value, np.float32), valid=np.ones((h, w), bool),
        window=(r0, r0 + h * factor, c0, c0 + w * factor), factor=factor,
        band_index=np.arange(n) if kind == "optical" else np.array([NDWI]),
        noise_variance=np.full(n, 1e-4), t_s=t_s, source=3, kind=kind,
    )  # fmt: skip


@pytest.fixture(scope="module")
def minimal():
    scenario = envs.load_scenario(SCENARIOS / "minimal.yaml")
    return Scene.from_scenario(scenario), scenario


def test_tags_and_parameters():
    assert attacks.tag_for("bias") == "malicious:bias"
    assert attacks.tag_for("stale_replay") == "malicious:stale_replay"
    assert attacks.tag_for("stuck") == "faulty:stuck"
    assert set(attacks.KINDS) == set(attacks.DEFAULTS)
    assert attacks.DEFAULTS is BAD_SOURCE_DEFAULTS  # one table, the scenario schema's
    with pytest.raises(ValueError, match="unknown attack"):
        attacks.tag_for("jamming")
    with pytest.raises(ValueError, match="unknown parameter"):
        attacks.Adversary("bias", std=0.1)


@pytest.mark.parametrize("fraction, n, k", [(0.0, 18, 0), (0.1, 18, 2), (0.3, 18, 5),
                                            (0.3, 11, 3), (1.0, 7, 7)])  # fmt: skip
def test_a_fraction_of_sources_drawn_with_the_seed(fraction, n, k):
    sources = range(100, 100 + n)
    chosen = attacks.choose_sources(sources, fraction, np.random.default_rng(1))
    assert len(chosen) == k == round(fraction * n) and len(set(chosen)) == k
    assert set(chosen) <= set(sources)
    again = attacks.choose_sources(sources, fraction, np.random.default_rng(1))
    np.testing.assert_array_equal(chosen, again)
    bad = attacks.assign(sources, np.random.default_rng(1), fraction=fraction, attack="noise")
    assert sorted(bad) == list(chosen) and set(bad.values()) <= {"noise"}
    with pytest.raises(ValueError):
        attacks.choose_sources(sources, 1.5, np.random.default_rng(1))


def test_per_agent_assignment():
    bad = attacks.assign(range(5), np.random.default_rng(0), per_agent={2: "stuck", 4: "bias"})
    assert bad == {2: "stuck", 4: "bias"}
    with pytest.raises(ValueError):
        attacks.assign(range(5), np.random.default_rng(0), per_agent={1: "nope"})


def test_bias_adds_a_constant_offset_to_every_band():
    obs = make_obs()
    obs.values[:, 5:9, 5:9] = 0.7
    out = attacks.bias(obs, 0.08)
    np.testing.assert_allclose(out.values - obs.values, 0.08, atol=EXACT)
    np.testing.assert_array_equal(out.noise_variance, obs.noise_variance)
    assert out.tag == "malicious:bias" and obs.tag == ""  # the original is not touched
    adv = attacks.Adversary("bias", offset=0.08)
    assert adv.acquire_kwargs == {"bias": 0.08}


def test_bias_hook_matches_the_function(minimal):
    scene, _ = minimal
    spec = SensorSpec(gsd_m=10.0)
    kw = attacks.sensor_faults("bias", offset=-0.03)
    clean = acquire(scene, 100.0, (0, 40, 0, 40), spec, np.random.default_rng(2))
    hooked = acquire(scene, 100.0, (0, 40, 0, 40), spec, np.random.default_rng(2), **kw)
    np.testing.assert_allclose(hooked.values, attacks.bias(clean, -0.03).values, atol=EXACT)


@pytest.mark.parametrize("kind", ["optical", "sar"])
def test_noise_is_extra_gaussian_at_the_stated_scale_with_the_nominal_variance(kind):
    obs = make_obs(kind=kind)
    out = attacks.noise(obs, np.random.default_rng(3), std=0.04)
    diff = (out.values - obs.values).reshape(obs.values.shape[0], -1).astype(float)
    n = diff.shape[1]
    for row, band in enumerate(obs.band_index):
        sd = 0.04 * (1.0 if band < N_REFLECTANCE else 2.0)  # × the band's data range
        assert diff[row].mean() == pytest.approx(0.0, abs=Z * sd / math.sqrt(n))
        assert diff[row].std() == pytest.approx(sd, rel=Z * math.sqrt(2.0 / n))
    np.testing.assert_array_equal(out.noise_variance, obs.noise_variance)  # still claims it
    assert out.tag == "malicious:noise"


def _index(a, b):
    return (a - b) / (a + b)


@pytest.mark.parametrize("event, spec", [("flood", FLOOD_SPEC), ("fire", SCAR_SPEC)])
def test_false_event_paints_the_signature_in_a_disc_outside_the_true_events(minimal, event,
                                                                            spec):  # fmt: skip
    scene, _ = minimal
    t_s = 20_000.0  # the minimal scenario's flood is well under way
    rows, cols = scene.shape[1:]
    spec_sensor = SensorSpec(gsd_m=10.0, noise_std=0.0, position_error_m=0.0,
                             pointing_error_deg=0.0)  # fmt: skip
    obs = acquire(scene, t_s, (0, rows, 0, cols), spec_sensor, np.random.default_rng(0))
    true_event = scene.event_mask_at(t_s)
    assert true_event.any()
    cell_m, radius_m = float(scene.grid.resolution_m), 1_000.0
    for seed in range(5):
        out = attacks.false_event(obs, np.random.default_rng(seed), cell_m=cell_m, event=event,
                                  radius_m=radius_m, scene=scene)  # fmt: skip
        changed = np.any(out.values != obs.values, axis=0)
        painted = np.all(np.isclose(out.values[:N_REFLECTANCE], spec[:, None, None]), axis=0)
        assert changed.any() and not (changed & ~painted).any()  # only the disc changes
        # The disc: π r² in cells (within its rim), centred off the true extent.
        area = math.pi * (radius_m / cell_m) ** 2
        assert painted.sum() == pytest.approx(area, rel=0.15)
        rr, cc = np.nonzero(painted)
        assert not true_event[round(rr.mean()), round(cc.mean())]
        ndwi = _index(spec[1], spec[3])
        burn = _index(spec[4], spec[3])
        np.testing.assert_allclose(out.values[NDWI][painted], ndwi, atol=1e-5)
        np.testing.assert_allclose(out.values[BURN][painted], burn, atol=1e-5)
        assert out.tag == "malicious:false_event"
    assert (ndwi > 0.3) if event == "flood" else (burn > 0.3)  # it reads as the event


def test_false_event_on_sar_sets_the_flood_water_index():
    obs = make_obs(kind="sar", value=-0.5)
    out = attacks.false_event(obs, np.random.default_rng(0), cell_m=250.0, radius_m=1_000.0)
    painted = out.values[0] != obs.values[0]
    assert painted.sum() == pytest.approx(math.pi * 4.0**2, rel=0.25)
    np.testing.assert_allclose(out.values[0][painted], _index(FLOOD_SPEC[1], FLOOD_SPEC[3]))
    fire = attacks.false_event(obs, np.random.default_rng(0), cell_m=250.0, event="fire")
    np.testing.assert_array_equal(fire.values, obs.values)  # SAR does not see the burn index


def test_stale_replay_resends_an_old_observation_with_a_new_time():
    adv = attacks.Adversary("stale_replay", min_age_s=6 * 3600.0)
    rng = np.random.default_rng(0)
    first = make_obs(value=0.1, t_s=1_000.0, window=(0, 0))
    second = make_obs(value=0.2, t_s=5_000.0, window=(10, 10))
    third = make_obs(value=0.3, t_s=1_000.0 + 6 * 3600.0, window=(20, 20))
    a, b, c = (adv.apply(o, rng) for o in (first, second, third))
    # Until it has an old enough image the source sends honest data (tagged).
    np.testing.assert_array_equal(a.values, first.values)
    np.testing.assert_array_equal(b.values, second.values)
    # Then: the oldest image, where it was taken, stamped with the new time.
    np.testing.assert_array_equal(c.values, first.values)
    assert c.window == first.window and c.t_s == third.t_s
    assert {a.tag, b.tag, c.tag} == {"malicious:stale_replay"}
    assert attacks.stale_replay(first, 9.0).t_s == 9.0


def test_stuck_and_dropped_use_the_sensor_hooks(minimal):
    scene, _ = minimal
    spec, window = SensorSpec(gsd_m=10.0), (0, 100, 0, 96)
    n = 100 * 96
    clean = acquire(scene, 50.0, window, spec, np.random.default_rng(4))
    stuck_kw = attacks.Adversary("stuck", fraction=0.2, value=0.5).acquire_kwargs
    stuck = acquire(scene, 50.0, window, spec, np.random.default_rng(4), **stuck_kw)
    is_stuck = (stuck.values == np.float32(0.5)).all(axis=0)
    assert is_stuck.mean() == pytest.approx(0.2, abs=Z * math.sqrt(0.16 / n))
    assert stuck.valid.all()
    np.testing.assert_array_equal(stuck.values[:, ~is_stuck], clean.values[:, ~is_stuck])
    adv = attacks.Adversary("dropped", fraction=0.3)
    dropped = adv.apply(acquire(scene, 50.0, window, spec, np.random.default_rng(4),
                                **adv.acquire_kwargs), np.random.default_rng(0))  # fmt: skip
    assert (1 - dropped.valid.mean()) == pytest.approx(0.3, abs=Z * math.sqrt(0.21 / n))
    assert (dropped.values[:, ~dropped.valid] == DROPPED_FILL).all()
    assert dropped.tag == "faulty:dropped"
