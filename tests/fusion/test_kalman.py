"""Per-cell Kalman variance grid: update rule, lazy process noise, late data, masks, edges."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sagsim.fusion.kalman import KalmanGrid, observation_variance

SHAPE = (6, 8)
PRIOR = 0.04
Q_PER_S = 1e-5
# Float rounding of a handful of multiply/add/divide steps on O(0.04) values.
REL_TOL = 1e-12
# Absolute slack for "never above the prior / below zero" after many float updates.
BOUND_ATOL = 1e-15


def test_inverse_variance_update_is_exact():
    grid = KalmanGrid(SHAPE, PRIOR, process_noise_per_s=0.0)
    r = 0.01
    red = grid.update_window(1, 3, 2, 5, obs_variance=r, t_obs_s=0.0)
    expected = 1.0 / (1.0 / PRIOR + 1.0 / r)
    np.testing.assert_allclose(grid.variance()[1:3, 2:5], expected, rtol=REL_TOL)
    np.testing.assert_allclose(red, PRIOR - expected, rtol=REL_TOL)
    # Untouched cells stay at the prior.
    outside = np.ones(SHAPE, bool)
    outside[1:3, 2:5] = False
    assert np.all(grid.variance()[outside] == PRIOR)
    # A second observation adds its information: 1/P = 1/prior + 1/r + 1/r2.
    r2 = 0.02
    grid.update_window(1, 3, 2, 5, obs_variance=r2, t_obs_s=0.0)
    expected2 = 1.0 / (1.0 / PRIOR + 1.0 / r + 1.0 / r2)
    np.testing.assert_allclose(grid.variance()[1:3, 2:5], expected2, rtol=REL_TOL)


@pytest.mark.parametrize("dt_s", [0.0, 10.0, 500.0, 1e4, 1e6])
def test_lazy_process_noise_grows_to_the_prior(dt_s):
    grid = KalmanGrid(SHAPE, PRIOR, Q_PER_S)
    grid.update_window(0, 2, 0, 2, obs_variance=0.001, t_obs_s=0.0)
    p0 = grid.variance()[0, 0]
    grid.predict(dt_s)
    expected = min(p0 + Q_PER_S * dt_s, PRIOR)
    np.testing.assert_allclose(grid.variance()[:2, :2], expected, rtol=REL_TOL)
    np.testing.assert_allclose(grid.variance_at(np.array([0, 1]), np.array([1, 0])), expected)
    np.testing.assert_allclose(grid.variance_window(0, 2, 0, 2), expected, rtol=REL_TOL)


def test_late_observation_adds_process_noise_to_r():
    r, t_obs, t_now = 0.002, 100.0, 400.0
    late = KalmanGrid(SHAPE, PRIOR, Q_PER_S)
    late.predict(t_now)
    late.update_window(0, 1, 0, 1, obs_variance=r, t_obs_s=t_obs)
    fresh = KalmanGrid(SHAPE, PRIOR, Q_PER_S)
    fresh.predict(t_now)
    fresh.update_window(0, 1, 0, 1, obs_variance=r + Q_PER_S * (t_now - t_obs), t_obs_s=t_now)
    np.testing.assert_allclose(late.variance(), fresh.variance(), rtol=REL_TOL)
    # Staleness costs information: a fresh observation with the same r reduces more.
    on_time = KalmanGrid(SHAPE, PRIOR, Q_PER_S)
    on_time.predict(t_now)
    on_time.update_window(0, 1, 0, 1, obs_variance=r, t_obs_s=t_now)
    assert late.variance()[0, 0] > on_time.variance()[0, 0]
    r_eff = r + Q_PER_S * (t_now - t_obs)
    np.testing.assert_allclose(late.variance()[0, 0], PRIOR * r_eff / (PRIOR + r_eff))


def test_valid_mask_leaves_masked_cells_unchanged():
    grid = KalmanGrid(SHAPE, PRIOR, Q_PER_S)
    grid.update_window(0, 3, 0, 3, obs_variance=0.003, t_obs_s=0.0)
    grid.predict(50.0)
    before = grid.variance()
    valid = np.array([[True, False, True], [False, False, True], [True, True, False]])
    red = grid.update_window(0, 3, 0, 3, obs_variance=0.01, t_obs_s=50.0, valid=valid)
    after = grid.variance()
    assert np.all(red[~valid] == 0.0)
    assert np.all(red[valid] > 0.0)
    np.testing.assert_array_equal(after[:3, :3][~valid], before[:3, :3][~valid])
    # Masked cells keep growing afterwards exactly as if never touched.
    grid.predict(150.0)
    expected = np.minimum(before[:3, :3] + Q_PER_S * 100.0, PRIOR)
    np.testing.assert_allclose(grid.variance()[:3, :3][~valid], expected[~valid], rtol=REL_TOL)


def test_windows_are_clipped_at_grid_edges():
    grid = KalmanGrid(SHAPE, PRIOR, 0.0)
    red = grid.update_window(-3, 2, 6, 20, obs_variance=0.01, t_obs_s=0.0)
    assert red.shape == (2, 2)
    changed = grid.variance() < PRIOR
    expected = np.zeros(SHAPE, bool)
    expected[0:2, 6:8] = True
    np.testing.assert_array_equal(changed, expected)
    assert grid.variance_window(-5, 100, -5, 100).shape == SHAPE
    assert grid.variance_window(4, 100, -2, 3).shape == (2, 3)
    # Entirely outside: an empty window, nothing changes.
    assert grid.update_window(10, 12, 0, 3, obs_variance=0.01, t_obs_s=0.0).size == 0
    assert grid.update_window(-4, -1, 0, 3, obs_variance=0.01, t_obs_s=0.0).size == 0
    np.testing.assert_array_equal(grid.variance() < PRIOR, expected)


def test_observation_from_the_future_raises():
    grid = KalmanGrid(SHAPE, PRIOR, Q_PER_S)
    grid.predict(10.0)
    with pytest.raises(ValueError, match="future"):
        grid.update_window(0, 1, 0, 1, obs_variance=0.01, t_obs_s=11.0)
    with pytest.raises(ValueError, match="forward"):
        grid.predict(5.0)


def test_reset_returns_to_the_prior():
    grid = KalmanGrid(SHAPE, PRIOR, Q_PER_S)
    grid.update_window(0, 6, 0, 8, obs_variance=0.001, t_obs_s=0.0)
    grid.reset(t_s=20.0)
    assert grid.t_s == 20.0
    assert np.all(grid.variance() == PRIOR)


@pytest.mark.parametrize("kwargs", [{"prior_variance": 0.0}, {"process_noise_per_s": -1.0}])
def test_bad_parameters_raise(kwargs):
    args = {"prior_variance": PRIOR, "process_noise_per_s": Q_PER_S} | kwargs
    with pytest.raises(ValueError):
        KalmanGrid(SHAPE, **args)


_update = st.tuples(
    st.just("update"),
    st.integers(-3, 8),  # r0
    st.integers(0, 6),  # rows
    st.integers(-3, 10),  # c0
    st.integers(0, 6),  # cols
    st.floats(0.0, 1.0),  # obs variance
    st.floats(0.0, 300.0),  # lateness
    st.booleans(),  # with a random valid mask
)
_predict = st.tuples(st.just("predict"), st.floats(0.0, 2000.0))


@given(ops=st.lists(st.one_of(_update, _predict), max_size=25), seed=st.integers(0, 2**16))
def test_variance_bounds_under_random_sequences(ops, seed):
    rng = np.random.default_rng(seed)
    grid = KalmanGrid(SHAPE, PRIOR, Q_PER_S)
    for op in ops:
        if op[0] == "predict":
            grid.predict(grid.t_s + op[1])
        else:
            _, r0, nr, c0, nc, r, late, masked = op
            rr0, rr1 = min(max(r0, 0), SHAPE[0]), min(max(r0 + nr, 0), SHAPE[0])
            cc0, cc1 = min(max(c0, 0), SHAPE[1]), min(max(c0 + nc, 0), SHAPE[1])
            win_shape = (max(rr1 - rr0, 0), max(cc1 - cc0, 0))
            valid = rng.random(win_shape) < 0.5 if masked else None
            before = grid.variance()
            t_obs = max(grid.t_s - late, 0.0)
            red = grid.update_window(r0, r0 + nr, c0, c0 + nc, r, t_obs, valid=valid)
            after = grid.variance()
            assert red.shape == win_shape
            assert np.all(red >= 0.0)
            np.testing.assert_allclose(
                before[rr0:rr1, cc0:cc1] - after[rr0:rr1, cc0:cc1], red, atol=BOUND_ATOL
            )
            # Cells outside the window are untouched.
            outside = np.ones(SHAPE, bool)
            outside[rr0:rr1, cc0:cc1] = False
            np.testing.assert_array_equal(after[outside], before[outside])
        v = grid.variance()
        assert np.all(v >= 0.0)
        assert np.all(v <= PRIOR + BOUND_ATOL)


def test_observation_variance_fine_and_coarse_gsd():
    cell_m = 10.0
    # Finer than the cell: (10/2)² = 25 pixels average, r = σ² (gsd/cell)².
    np.testing.assert_allclose(observation_variance(0.02, 2.0, cell_m), 0.02**2 * 0.04)
    # Coarser: one 30 m pixel spreads over 9 cells, r = σ² × 9.
    np.testing.assert_allclose(observation_variance(0.02, 30.0, cell_m), 0.02**2 * 9.0)
    # Same GSD as the cell: the pixel noise itself.
    np.testing.assert_allclose(observation_variance(0.05, cell_m, cell_m), 0.05**2)
    # Vectorised over GSD; a noise-free sensor is floored to stay finite and positive.
    out = observation_variance(np.array([0.01, 0.0]), np.array([5.0, 5.0]), cell_m)
    np.testing.assert_allclose(out, [0.01**2 * 0.25, 1e-12])


def test_a_changed_cell_returns_to_the_prior_and_forgets_older_images():
    grid = KalmanGrid(SHAPE, PRIOR, Q_PER_S)
    grid.update_window(0, 3, 0, 3, obs_variance=0.001, t_obs_s=0.0)
    grid.predict(100.0)
    changed = np.ravel_multi_index(([1, 2], [1, 2]), SHAPE)
    grid.mark_changed(changed)
    variance = grid.variance()
    assert variance[1, 1] == variance[2, 2] == PRIOR
    assert variance[0, 0] < PRIOR  # not changed: keeps what it knew
    # An image taken before the change (delivered now) shows the old ground: it informs
    # only the unchanged cells of its window.
    reduction = grid.update_window(0, 3, 0, 3, obs_variance=0.001, t_obs_s=50.0)
    assert reduction[1, 1] == reduction[2, 2] == 0.0 and reduction[0, 0] > 0.0
    assert grid.variance()[1, 1] == PRIOR
    # One taken at or after the change informs them.
    reduction = grid.update_window(0, 3, 0, 3, obs_variance=0.001, t_obs_s=100.0)
    assert reduction[1, 1] > 0.0
    # reset forgets the changes too.
    grid.reset()
    assert np.all(grid.t_changed_s == -np.inf)


def test_a_coarse_pixel_over_a_changed_cell_is_not_fused_when_older():
    from sagsim.fusion.kalman import KalmanMeanGrid

    grid = KalmanMeanGrid((4, 4), PRIOR, Q_PER_S)
    grid.predict(100.0)
    grid.mark_changed(np.ravel_multi_index(([0], [1]), (4, 4)))  # in the top-left pixel
    values = np.ones((2, 2))
    reduction = grid.update_blocks(0, 4, 0, 4, 2, values, 0.001, t_obs_s=50.0)
    assert np.all(reduction[:2, :2] == 0.0) and np.all(grid.mean[:2, :2] == 0.0)
    assert np.all(reduction[2:, 2:] > 0.0) and np.all(grid.mean[2:, 2:] > 0.0)
