"""Tests for sagsim.envs.physics.clouds.CloudField: statistics of the latent field, edge
cases, helpers."""

from __future__ import annotations

import copy
import math
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sagsim.envs.physics.clouds import CloudField
from sagsim.envs.physics.region_grid import RegionGrid

# The grid below is 134 × 116 cells of 250 m. With L = 2000 m a coarse cell is 500 m = L/4,
# so a lag of 4 coarse cells is exactly L; the coarse grid is 67 × 58.
L_M = 2000.0
LAG_L_CELLS = 4
STEP_S = 60.0

# Tolerances are ≈ 4 standard deviations of each estimator, measured over 40 seeds
# (σ ≈ 0.007 for the cover over 500 steps, 0.009 for the spatial correlation over 200 fields,
# 0.012 for the temporal correlation over 1000 steps): fields are correlated, so these
# estimators average far fewer independent samples than cells.
COVER_TOL = 0.03
SPATIAL_CORR_TOL = 0.04
TEMPORAL_CORR_TOL = 0.05


@pytest.fixture(scope="module")
def grid():
    return RegionGrid((114.0, 30.0, 114.3, 30.3), 250.0)


def make(grid, cover=0.3, tau_s=300.0, **kw):
    return CloudField(grid, cover, L_M, tau_s, STEP_S, **kw)


def test_coarse_grid_layout(grid):
    cf = make(grid)
    assert cf.coarse_cell_m == pytest.approx(L_M / 4)
    assert cf.coarse_shape == (67, 58)
    assert cf.coarse_row_of.shape == (grid.shape[0],)
    assert cf.coarse_col_of.shape == (grid.shape[1],)
    assert cf.coarse_row_of[-1] == cf.coarse_shape[0] - 1
    assert cf.coarse_col_of[-1] == cf.coarse_shape[1] - 1
    assert np.all(np.diff(cf.coarse_row_of) >= 0)
    # Never finer than the fine grid, and capped per side by enlarging the coarse cell.
    tiny_l = CloudField(grid, 0.3, 10.0, 300.0, STEP_S, max_coarse_cells_per_side=1000)
    assert tiny_l.coarse_cell_m == grid.resolution_m
    capped = make(grid, max_coarse_cells_per_side=16)
    assert max(capped.coarse_shape) <= 16
    assert capped.coarse_cell_m > L_M / 4


@pytest.mark.parametrize("cover", [0.1, 0.3, 0.8])
def test_mean_cover_matches_cover_fraction(grid, cover):
    cf = make(grid, cover)
    rng = np.random.default_rng(11)
    cf.reset(rng)
    fractions = [cf.cloudy_coarse.mean()]
    for _ in range(500):
        cf.step(rng)
        fractions.append(cf.cloudy_coarse.mean())
    assert np.mean(fractions) == pytest.approx(cover, abs=COVER_TOL)


def test_spatial_correlation_at_correlation_length(grid):
    cf = make(grid)
    rng = np.random.default_rng(5)
    corr, var = [], []
    for _ in range(200):
        cf.reset(rng)
        z, k = cf.z, LAG_L_CELLS
        corr += [np.mean(z[:, :-k] * z[:, k:]), np.mean(z[:-k] * z[k:])]
        var.append(np.mean(z**2))
    assert np.mean(corr) == pytest.approx(math.exp(-0.5), abs=SPATIAL_CORR_TOL)
    assert np.mean(var) == pytest.approx(1.0, abs=SPATIAL_CORR_TOL)


def test_temporal_correlation_at_decorrelation_time(grid):
    tau_s = 10 * STEP_S
    cf = make(grid, tau_s=tau_s)
    rng = np.random.default_rng(7)
    cf.reset(rng)
    history = [cf.z]
    for _ in range(1000):
        cf.step(rng)
        history.append(cf.z)
    zs = np.array(history)
    assert cf.step_correlation == pytest.approx(math.exp(-STEP_S / tau_s))
    assert np.mean(zs[:-10] * zs[10:]) == pytest.approx(math.exp(-1.0), abs=TEMPORAL_CORR_TOL)


def test_slow_clouds_are_held_between_redraws_with_the_right_lag_correlation(grid):
    tau_s = 400 * STEP_S  # hold = τ ln(1/0.95) ≈ 20.5 steps → 20
    cf = make(grid, tau_s=tau_s)
    assert cf.refresh_steps == math.floor(tau_s * math.log(1 / 0.95) / STEP_S) == 20
    rng = np.random.default_rng(3)
    cf.reset(rng)
    history = [cf.z]
    for _ in range(4000):
        cf.step(rng)
        history.append(cf.z)
    zs = np.array(history)
    n = cf.refresh_steps
    # Held between redraws, changed at each redraw.
    assert all(np.array_equal(zs[i], zs[0]) for i in range(n))
    assert not np.array_equal(zs[n], zs[n - 1])
    # Stationary, and the lag-τ correlation is still exp(-1) on the held grid of times.
    lag = 400
    assert np.mean(zs**2) == pytest.approx(1.0, abs=TEMPORAL_CORR_TOL)
    assert np.mean(zs[:-lag] * zs[lag:]) == pytest.approx(math.exp(-1.0), abs=TEMPORAL_CORR_TOL)


class _BasisNoise:
    """A stand-in generator whose 'noise' is the i-th unit vector."""

    def __init__(self, i: int):
        self.i = i

    def standard_normal(self, size):
        out = np.zeros(size)
        out.ravel()[self.i] = 1.0
        return out


def test_marginal_variance_is_exactly_one(grid):
    # z is linear in the noise, so var(z) = Σ_i (response to unit vector i)².
    cf = CloudField(grid, 0.5, 8000.0, 300.0, STEP_S)
    n_noise = cf._kept.size * 2  # complex noise: two reals per kept frequency
    total = np.zeros(cf.coarse_shape)
    for i in range(n_noise):
        cf.reset(_BasisNoise(i))
        total += cf.z**2
    np.testing.assert_allclose(total, 1.0, rtol=1e-9)


@pytest.mark.parametrize(("cover", "expected"), [(0.0, False), (1.0, True)])
def test_cover_edge_cases(grid, cover, expected):
    cf = make(grid, cover)
    assert math.isinf(cf.threshold)
    rng = np.random.default_rng(0)
    cf.reset(rng)
    for _ in range(5):
        assert np.all(cf.cloudy_coarse == expected)
        assert cf.cloud_fraction_window(0, 10**6, 0, 10**6) == float(expected)
        cf.step(rng)


def _run(grid, seed, n=5):
    cf = make(grid)
    rng = np.random.default_rng(seed)
    cf.reset(rng)
    out = [cf.z.copy()]
    for _ in range(n):
        cf.step(rng)
        out.append(cf.z.copy())
    return np.array(out)


def test_same_seed_same_fields_different_seed_differs(grid):
    np.testing.assert_array_equal(_run(grid, 3), _run(grid, 3))
    assert not np.allclose(_run(grid, 3), _run(grid, 4))


@settings(max_examples=60, deadline=None)
@given(
    r0=st.integers(-20, 160),
    r1=st.integers(-20, 160),
    c0=st.integers(-20, 140),
    c1=st.integers(-20, 140),
)
def test_window_clips_and_agrees_with_cells(grid, r0, r1, c0, c1):
    cf = make(grid)
    cf.reset(np.random.default_rng(1))
    n_rows, n_cols = grid.shape
    rows = np.arange(max(r0, 0), min(r1, n_rows))
    cols = np.arange(max(c0, 0), min(c1, n_cols))
    mask = cf.cloudy_window(r0, r1, c0, c1)
    assert mask.shape == (rows.size, cols.size)
    rr, cc = np.meshgrid(rows, cols, indexing="ij")
    np.testing.assert_array_equal(mask, cf.cloudy_at_cells(rr, cc))
    fraction = cf.cloud_fraction_window(r0, r1, c0, c1)
    assert fraction == (float(mask.mean()) if mask.size else 0.0)


def test_cells_follow_coarse_map_and_reject_bad_indices(grid):
    cf = make(grid)
    cf.reset(np.random.default_rng(2))
    rows = np.array([0, 5, grid.shape[0] - 1])
    cols = np.array([grid.shape[1] - 1, 7, 0])
    expected = cf.cloudy_coarse[cf.coarse_row_of[rows], cf.coarse_col_of[cols]]
    np.testing.assert_array_equal(cf.cloudy_at_cells(rows, cols), expected)
    with pytest.raises(IndexError):
        cf.cloudy_at_cells([grid.shape[0]], [0])
    with pytest.raises(IndexError):
        cf.cloudy_at_cells([0], [-1])


@pytest.mark.parametrize("clone", [lambda cf: pickle.loads(pickle.dumps(cf)), copy.deepcopy])
def test_pickle_and_deepcopy_round_trip(grid, clone):
    cf = make(grid)
    rng = np.random.default_rng(9)
    cf.reset(rng)
    cf.step(rng)
    twin, twin_rng = clone(cf), copy.deepcopy(rng)
    np.testing.assert_array_equal(twin.z, cf.z)
    cf.step(rng)
    twin.step(twin_rng)
    np.testing.assert_array_equal(twin.z, cf.z)
    np.testing.assert_array_equal(twin.cloudy_coarse, cf.cloudy_coarse)


def test_step_before_reset_raises(grid):
    with pytest.raises(RuntimeError, match="reset"):
        make(grid).step(np.random.default_rng(0))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"cover_fraction": 1.5},
        {"cover_fraction": float("nan")},
        {"correlation_length_m": 0.0},
        {"decorrelation_time_s": -1.0},
        {"step_s": 0.0},
    ],
)
def test_bad_parameters_raise(grid, kwargs):
    args = {
        "cover_fraction": 0.3,
        "correlation_length_m": L_M,
        "decorrelation_time_s": 300.0,
        "step_s": STEP_S,
    } | kwargs
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        CloudField(grid, **args)
