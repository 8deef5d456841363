"""Ground-truth scene: determinism, ranges, spectra, events against their discs, windows,
drift and multi-scale structure."""

from pathlib import Path

import numpy as np
import pytest
import yaml

from sagsim import envs
from sagsim.envs.physics.region_grid import RegionGrid
from sagsim.envs.scenario.loader import region_grid
from sagsim.envs.tasks import EVENT_KINDS, TaskSet
from sagsim.fusion.sensing.scene import (
    BANDS,
    CLASSES,
    DATA_RANGE,
    FIRE_ACTIVE_S,
    N_REFLECTANCE,
    Scene,
)

MINIMAL = Path(__file__).resolve().parents[3] / "scenarios" / "minimal.yaml"
# A 40 km × 40 km box near Wuhan: 160 × 162 cells at 250 m, every land cover present.
BOX = (114.0, 30.4, 114.42, 30.76)
FIRE = {"name": "fire", "kind": "fire", "start_s": 1800.0, "lat_deg": 30.55, "lon_deg": 114.25,
        "initial_radius_m": 300.0, "growth_mps": 0.5, "max_radius_m": 3000.0}  # fmt: skip
DAY_S = 86_400.0
WATER, CROP, FOREST, BARE, URBAN = range(len(CLASSES))
FLOOD_K, FIRE_K = EVENT_KINDS.index("flood"), EVENT_KINDS.index("fire")


@pytest.fixture(scope="module")
def plain():
    """A scene without events on the 40 km box."""
    return Scene(RegionGrid(BOX, 250.0), [], seed=3)


@pytest.fixture(scope="module")
def scenario():
    """The minimal scenario (one flood) plus a fire."""
    d = yaml.safe_load(MINIMAL.read_text())
    d["events"] = [*d["events"], FIRE]
    return envs.load_scenario(d)


@pytest.fixture(scope="module")
def eventful(scenario):
    grid = region_grid(scenario)
    return Scene(grid, TaskSet.from_scenario(scenario, grid), seed=scenario.seed)


def event_index(scene, kind):
    return int(np.flatnonzero(scene.tasks.kind == kind)[0])


def ground_distance_m(scene, k):
    """Ground distance (m) of every cell centre from task k's centre, computed here."""
    g, t = scene.grid, scene.tasks
    dx = (g.x_m[None, :] - t.x_m[k]) / t.scale_x[k]
    dy = (g.y_m[:, None] - t.y_m[k]) / t.scale_y[k]
    return np.hypot(dx, dy)


def autocorrelation(a, lag):
    a = a - a.mean()
    return float(((a[:, :-lag] * a[:, lag:]).mean() + (a[:-lag] * a[lag:]).mean()) / (2 * a.var()))


def test_layout_ranges_and_indices(eventful):
    s = eventful
    assert s.bands == BANDS and len(BANDS) == 7 and s.band("ndwi") == 5
    np.testing.assert_array_equal(s.data_range, DATA_RANGE)
    for t_s in (0.0, 3 * 3600.0, 8 * 3600.0, 20 * DAY_S):
        x = s.truth_at(t_s)
        assert x.shape == s.shape == (7, *s.grid.shape) and x.dtype == np.float32
        assert np.isfinite(x).all()
        assert x[:N_REFLECTANCE].min() > 0.0 and x[:N_REFLECTANCE].max() <= 1.0
        assert np.abs(x[N_REFLECTANCE:]).max() <= 1.0
        g, n, sw = (x[s.band(b)].astype(float) for b in ("green", "nir", "swir2"))
        np.testing.assert_allclose(x[s.band("ndwi")], (g - n) / (g + n), atol=1e-6)
        np.testing.assert_allclose(x[s.band("burn")], (sw - n) / (sw + n), atol=1e-6)


def test_same_seed_same_scene_other_seed_differs(plain):
    again = Scene(plain.grid, [], seed=3)
    np.testing.assert_array_equal(again.truth_at(1234.0), plain.truth_at(1234.0))
    np.testing.assert_array_equal(again.land_cover, plain.land_cover)
    other = Scene(plain.grid, [], seed=4)
    diff = np.abs(other.truth_at(1234.0) - plain.truth_at(1234.0))[:N_REFLECTANCE]
    assert diff.mean() > 0.02
    assert np.mean(other.land_cover != plain.land_cover) > 0.2


def test_every_land_cover_has_its_spectral_signature(plain):
    x = plain.truth_at(0.0)
    pure = (plain.water_fraction < 0.01) & (plain.road_fraction < 0.01)
    med = {}
    for c in range(len(CLASSES)):
        cells = plain.water_fraction > 0.99 if c == WATER else (plain.land_cover == c) & pure
        assert cells.sum() > 200, CLASSES[c]
        med[c] = dict(zip(BANDS, np.median(x[:, cells], axis=1), strict=True))
    assert med[WATER]["nir"] < 0.04 and med[WATER]["ndwi"] > 0.3
    assert med[FOREST]["red"] < 0.08 and med[FOREST]["nir"] > 0.35
    assert med[FOREST]["ndwi"] < -0.5 and med[FOREST]["burn"] < -0.4
    assert med[WATER]["nir"] < med[FOREST]["red"] < med[FOREST]["nir"]
    assert med[FOREST]["nir"] > med[CROP]["nir"] > med[BARE]["nir"]
    for c in (BARE, URBAN):  # bright and nearly flat
        assert 0.12 < med[c]["red"] < 0.35 and 0.15 < med[c]["nir"] < 0.35
        assert abs(med[c]["nir"] - med[c]["red"]) < 0.1


def test_flood_grows_monotonically_inside_its_disc(eventful):
    s = eventful
    k = event_index(s, FLOOD_K)
    start = s.tasks.start_s[k]
    dist = ground_distance_m(s, k)
    assert not s.event_mask_at(0.0, ("flood",)).any()
    assert not s.event_mask_at(start - 1.0, ("flood",)).any()
    previous = np.zeros(s.grid.shape, bool)
    irregular = False
    for t_s in start + np.array([0.0, 600.0, 3600.0, 7200.0, 12_000.0, 18_000.0, 40_000.0]):
        mask = s.event_mask_at(t_s, ("flood",))
        radius = s.tasks.radius_m(t_s)[k]
        assert mask.any()
        assert not (previous & ~mask).any(), "a flooded cell dried up"
        assert (dist[mask] <= radius + 1e-6).all(), "flood outside the event's disc"
        disc = dist <= radius
        # Not a disc: some flooded cell lies farther out than some dry cell of the disc.
        irregular |= mask.sum() < 0.95 * disc.sum() and dist[mask].max() > dist[disc & ~mask].min()
        x = s.truth_at(t_s)
        assert (x[s.band("ndwi")][mask] > 0.3).all() and (x[s.band("nir")][mask] < 0.06).all()
        previous = mask
    assert irregular


def test_fire_front_passes_and_leaves_a_scar(eventful):
    s = eventful
    k = event_index(s, FIRE_K)
    start = s.tasks.start_s[k]
    before = s.truth_at(start - 1.0)
    assert before[s.band("burn")].max() < 0.2  # no fire signature before the fire
    t1 = start + 2 * 3600.0
    x1 = s.truth_at(t1)
    burn, nir = x1[s.band("burn")], x1[s.band("nir")]
    mask = s.event_mask_at(t1, ("fire",))
    front = mask & (burn > 0.6)
    scar = mask & (burn > 0.2) & (burn < 0.6) & (nir < 0.12)
    assert front.sum() >= 3 and scar.sum() >= 3
    assert (front | scar).sum() == mask.sum()  # every burnt cell is front or scar
    assert not (mask & (s.land_cover == WATER)).any()  # water does not burn
    assert (ground_distance_m(s, k)[mask] <= s.tasks.radius_m(t1)[k] + 1e-6).all()
    # Once the front has moved on, the cells it held are scar: low NIR, burn index high.
    x2 = s.truth_at(t1 + 2 * FIRE_ACTIVE_S)
    assert (x2[s.band("burn")][front] < 0.6).all() and (x2[s.band("burn")][front] > 0.2).all()
    assert (x2[s.band("nir")][front] < 0.12).all()
    assert (s.event_mask_at(t1 + 2 * FIRE_ACTIVE_S, ("fire",)) >= mask).all()


def test_event_masks_by_kind_add_up(eventful):
    t_s = 3 * 3600.0
    both = eventful.event_mask_at(t_s)
    flood, fire = (eventful.event_mask_at(t_s, (k,)) for k in ("flood", "fire"))
    assert flood.any() and fire.any()
    np.testing.assert_array_equal(both, flood | fire)


@pytest.mark.parametrize(
    "window",
    [(30, 70, 20, 60), (-5, 12, 80, 500), (0, 100, 0, 96), (50, 50, 3, 9), (90, 99, -3, 2)],
)
def test_window_is_the_slice_of_the_full_truth(eventful, window):
    for t_s in (0.0, 3 * 3600.0, 5 * 3600.0):
        full = eventful.truth_at(t_s)
        r0, r1, c0, c1 = window
        rows, cols = eventful.grid.shape
        expected = full[:, max(r0, 0) : min(r1, rows), max(c0, 0) : min(c1, cols)]
        got = eventful.truth_window(t_s, *window)
        assert got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)


def test_scenario_events_and_taskset_give_one_scene(scenario, eventful):
    from_events = Scene.from_scenario(scenario)
    for t_s in (3000.0, 3 * 3600.0):
        np.testing.assert_array_equal(from_events.event_mask_at(t_s), eventful.event_mask_at(t_s))
        np.testing.assert_array_equal(from_events.truth_at(t_s), eventful.truth_at(t_s))


def test_an_event_adds_its_river_and_leaves_the_rest(scenario, eventful):
    quiet = Scene(eventful.grid, [], seed=scenario.seed)
    np.testing.assert_array_equal(quiet.parcel, eventful.parcel)
    changed = np.any(quiet.truth_at(0.0) != eventful.truth_at(0.0), axis=0)
    assert 0.0 < changed.mean() < 0.3


def test_drift_is_slow_per_step_and_visible_over_days(plain):
    t0 = 2 * DAY_S
    refl = slice(0, N_REFLECTANCE)
    step = np.abs(plain.truth_at(t0 + 30.0)[refl] - plain.truth_at(t0)[refl])
    assert 0.0 < step.max() < 1e-4
    days = np.abs(plain.truth_at(t0 + 5 * DAY_S)[refl] - plain.truth_at(t0)[refl])
    assert np.percentile(days, 95) > 0.02
    # Phenology: cropland NIR moves more than urban NIR.
    nir = plain.band("nir")
    assert (
        days[nir][plain.land_cover == CROP].mean() > 2 * days[nir][plain.land_cover == URBAN].mean()
    )


def test_structure_at_several_scales_in_physical_units(plain):
    nir = plain.truth_at(0.0)[plain.band("nir")]
    r1, r10, r40 = (autocorrelation(nir, lag) for lag in (1, 10, 40))
    assert 0.5 < r1 < 0.98  # parcels and texture: neighbours alike, not equal
    assert 0.1 < r10 < r1 - 0.2  # land-cover zones: still correlated at 2.5 km
    assert r40 < r10
    # Parcels have one size in metres whatever the grid's resolution (≈ 800 m × 800 m).
    for res in (200.0, 250.0):
        s = plain if res == 250.0 else Scene(RegionGrid(BOX, res), [], seed=3)
        area_km2 = s.grid.shape[0] * s.grid.shape[1] * res**2 / 1e6
        mean_parcel_km2 = area_km2 / np.unique(s.parcel).size
        assert 0.45 < mean_parcel_km2 < 0.8, res
