"""Bootstrap intervals and paired differences (sagsim.agents.stats) against known values."""

import math

import numpy as np
import pytest

from sagsim.agents.stats import bootstrap_ci, paired_difference


def test_interval_matches_the_normal_theory_on_a_large_sample():
    """400 draws of N(10, 2²): the 95 % interval of the mean is ≈ mean ± 1.96·2/√400."""
    x = np.random.default_rng(1).normal(10.0, 2.0, 400)
    ci = bootstrap_ci(x)
    half = 1.96 * x.std(ddof=1) / math.sqrt(x.size)
    assert ci["n"] == 400 and ci["mean"] == pytest.approx(x.mean())
    assert ci["ci_low"] == pytest.approx(x.mean() - half, abs=0.1 * half)
    assert ci["ci_high"] == pytest.approx(x.mean() + half, abs=0.1 * half)


def test_degenerate_samples():
    assert bootstrap_ci([3.0]) == {"n": 1, "mean": 3.0, "ci_low": 3.0, "ci_high": 3.0}
    assert bootstrap_ci([2.0, 2.0, 2.0]) == {"n": 3, "mean": 2.0, "ci_low": 2.0, "ci_high": 2.0}
    empty = bootstrap_ci([math.nan])
    assert empty["n"] == 0 and math.isnan(empty["mean"])
    assert bootstrap_ci([1.0, math.nan, 3.0])["n"] == 2  # NaN (no fused map) is left out


def test_paired_difference_removes_the_shared_seed_effect():
    """Per-seed returns vary a lot, but a policy that is always 1.0 better is exactly so."""
    base = np.random.default_rng(2).normal(50.0, 20.0, 10)
    d = paired_difference(base + 1.0, base)
    assert d["mean"] == pytest.approx(1.0) and d["ci_low"] == pytest.approx(1.0)
    assert d["ci_high"] == pytest.approx(1.0)
    unpaired = bootstrap_ci(base + 1.0)
    assert unpaired["ci_high"] - unpaired["ci_low"] > 10.0
    with pytest.raises(ValueError, match="same seeds"):
        paired_difference([1.0, 2.0], [1.0])


def test_interval_is_reproducible():
    x = [1.0, 4.0, 2.0, 8.0, 5.0]
    assert bootstrap_ci(x) == bootstrap_ci(x)
    assert bootstrap_ci(x)["ci_low"] < np.mean(x) < bootstrap_ci(x)["ci_high"]
