"""Precomputed episode geometry on the minimal scenario, checked against independent paths."""

from functools import lru_cache

import numpy as np

from sagsim import envs
from sagsim.envs.physics.geodesy import look_angles
from sagsim.envs.physics.orbits import sun_elevation_deg
from sagsim.envs.platforms.assembly import build_satellites
from sagsim.envs.scenario.loader import region_grid
from sagsim.envs.tasks import TaskSet
from sagsim.envs.world.ephemeris import NO_CONTACT_S, EpisodeGeometry
from tests.conftest import SCENARIOS

# Same formula family (arcsin of d·up vs arctan2 in ENU); the stored array is float32
# (~1e-5° resolution at 90°), so well below a millidegree.
ELEVATION_TOL_DEG = 1e-4
# Visibility is compared only away from the mask, where the two paths cannot disagree.
MASK_MARGIN_DEG = 1e-3
# Acceptance criterion: the task sun elevation is stored as float32.
SUN_ELEVATION_TOL_DEG = 1e-3


@lru_cache(maxsize=1)
def geometry():
    scenario = envs.load_scenario(SCENARIOS / "minimal.yaml")
    tasks = TaskSet.from_scenario(scenario, region_grid(scenario))
    geom = EpisodeGeometry.compute(scenario, build_satellites(scenario), tasks, scenario.n_steps)
    return scenario, tasks, geom


def test_shapes():
    scenario, tasks, geom = geometry()
    n_t, n_sat, n_gs = scenario.n_steps + 1, 1, len(scenario.ground_stations)
    np.testing.assert_allclose(geom.t_s, np.arange(n_t) * scenario.step_s)
    assert geom.sat_r_ecef_m.shape == geom.sat_nadir.shape == (n_t, n_sat, 3)
    for name in ("sat_altitude_m", "sat_lat_deg", "sat_lon_deg", "sat_sunlit", "next_contact_s"):
        assert getattr(geom, name).shape == (n_t, n_sat), name
    for name in ("gs_visible", "gs_elevation_deg", "gs_bits_per_step"):
        assert getattr(geom, name).shape == (n_t, n_sat, n_gs), name
    assert geom.gs_visible.dtype == bool
    assert geom.gs_r_ecef_m.shape == (n_gs, 3)
    assert geom.task_sun_elevation_deg.shape == (n_t, tasks.n)
    np.testing.assert_allclose(np.linalg.norm(geom.sat_nadir, axis=-1), 1.0)
    # A 500 km orbit: altitude within eccentricity and ellipsoid-flattening slack.
    assert np.all((geom.sat_altitude_m > 450e3) & (geom.sat_altitude_m < 550e3))


def test_gs_visibility_matches_look_angles():
    scenario, _, geom = geometry()
    assert geom.gs_visible.any() and not geom.gs_visible.all()  # both cases are exercised
    for g, gs in enumerate(scenario.ground_stations):
        _, el, _ = look_angles(gs.lat_deg, gs.lon_deg, gs.alt_m, geom.sat_r_ecef_m)
        vis = geom.gs_visible[:, :, g]
        clear = np.abs(el - gs.min_elevation_deg) > MASK_MARGIN_DEG
        np.testing.assert_array_equal(vis[clear], (el >= gs.min_elevation_deg)[clear])
        np.testing.assert_allclose(geom.gs_elevation_deg[:, :, g][vis], el[vis],
                                   atol=ELEVATION_TOL_DEG)  # fmt: skip
        assert np.all(geom.gs_elevation_deg[:, :, g][~vis] == 0.0)


def test_bits_positive_exactly_where_visible():
    _, _, geom = geometry()
    np.testing.assert_array_equal(geom.gs_bits_per_step > 0.0, geom.gs_visible)
    assert np.all(np.isfinite(geom.gs_bits_per_step))


def test_next_contact():
    scenario, _, geom = geometry()
    in_contact = geom.gs_visible.any(axis=2)
    nxt = geom.next_contact_s
    assert np.all(nxt[in_contact] == 0.0)
    assert np.all(nxt[~in_contact] > 0.0)
    known = nxt < NO_CONTACT_S
    assert known[:-1].any() and (~in_contact).any()
    # Between consecutive out-of-contact steps (with a contact ahead) it counts down by step_s.
    pair = ~in_contact[:-1] & ~in_contact[1:] & known[1:]
    np.testing.assert_allclose((nxt[:-1] - nxt[1:])[pair], scenario.step_s)
    # The step before a contact is one step away from it.
    before = ~in_contact[:-1] & in_contact[1:]
    np.testing.assert_allclose(nxt[:-1][before], scenario.step_s)
    # After the last contact there is none to come.
    for s in range(in_contact.shape[1]):
        hits = np.flatnonzero(in_contact[:, s])
        after = hits[-1] + 1 if hits.size else 0
        assert np.all(nxt[after:, s] == NO_CONTACT_S)


def test_sat_sunlit_is_a_fraction():
    _, _, geom = geometry()
    assert np.all((geom.sat_sunlit >= 0.0) & (geom.sat_sunlit <= 1.0))
    assert (geom.sat_sunlit == 0.0).any() and (geom.sat_sunlit == 1.0).any()


def test_task_sun_elevation_matches_orbits():
    scenario, tasks, geom = geometry()
    ref = sun_elevation_deg(tasks.lat_deg, tasks.lon_deg, epoch_utc=scenario.epoch_utc,
                            t_s=geom.t_s)  # fmt: skip
    np.testing.assert_allclose(geom.task_sun_elevation_deg, ref.T, atol=SUN_ELEVATION_TOL_DEG)
