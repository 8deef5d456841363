"""Across-seed statistics for evaluation reports: the mean with a 95 % bootstrap confidence
interval, and paired differences against a baseline on the same seeds.

Bootstrap: :func:`scipy.stats.bootstrap` (BCa, :data:`N_RESAMPLES` resamples, a fixed seed so
a report is reproducible). Paired: the same seed gives every policy the same clouds, events
and landscape, so the per-seed difference removes that shared variation; its interval is the
bootstrap interval of the mean difference.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import stats

__all__ = ["CONFIDENCE", "N_RESAMPLES", "bootstrap_ci", "finite_mean", "paired_difference"]

CONFIDENCE = 0.95
N_RESAMPLES = 9_999
BOOTSTRAP_SEED = 0


def finite_mean(values) -> float:
    """The mean of the finite ``values``; NaN when none is (a metric no episode measured)."""
    x = np.asarray(values, float)
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else math.nan


def bootstrap_ci(values) -> dict[str, float]:
    """``{"n", "mean", "ci_low", "ci_high"}`` of the per-seed ``values`` (NaN ignored): the
    mean and its BCa bootstrap interval at :data:`CONFIDENCE`. One value: the interval is
    that value; identical values: a zero-width interval; none: NaN."""
    x = np.asarray(values, float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return {"n": 0, "mean": math.nan, "ci_low": math.nan, "ci_high": math.nan}
    mean = float(x.mean())
    if x.size == 1 or np.ptp(x) == 0.0:
        return {"n": int(x.size), "mean": mean, "ci_low": mean, "ci_high": mean}
    lo, hi = _interval(x, "BCa")
    if not (math.isfinite(lo) and math.isfinite(hi)):  # degenerate BCa: use percentiles
        lo, hi = _interval(x, "percentile")
    return {"n": int(x.size), "mean": mean, "ci_low": lo, "ci_high": hi}


def _interval(x: np.ndarray, method: str) -> tuple[float, float]:
    with warnings.catch_warnings():  # BCa warns on tiny samples; the interval stays valid
        warnings.simplefilter("ignore")
        res = stats.bootstrap((x,), np.mean, confidence_level=CONFIDENCE, n_resamples=N_RESAMPLES,
                              method=method, rng=np.random.default_rng(BOOTSTRAP_SEED))  # fmt: skip
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def paired_difference(values, baseline) -> dict[str, float]:
    """:func:`bootstrap_ci` of ``values − baseline`` seed by seed (equal lengths, the same
    seeds in the same order); pairs with a NaN on either side are dropped."""
    a, b = np.asarray(values, float), np.asarray(baseline, float)
    if a.shape != b.shape:
        raise ValueError(f"paired values need the same seeds: {a.shape} vs {b.shape}")
    return bootstrap_ci(a - b)
