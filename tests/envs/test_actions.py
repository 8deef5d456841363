"""top_k: the K best finite scores per row, best first, -1 padded."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sagsim.envs.actions import top_k

_score = st.one_of(st.just(-np.inf), st.floats(-1e6, 1e6, allow_nan=False))


def brute_force_scores(score: np.ndarray, k: int) -> np.ndarray:
    """Per row, the k largest finite scores in decreasing order, -inf padded."""
    out = np.full((score.shape[0], k), -np.inf)
    for i, row in enumerate(score):
        best = np.sort(row[np.isfinite(row)])[::-1][:k]
        out[i, : best.size] = best
    return out


@given(
    score=hnp.arrays(float, st.tuples(st.integers(0, 6), st.integers(0, 40)), elements=_score),
    k=st.integers(1, 12),
)
def test_matches_brute_force(score, k):
    idx = top_k(score, k)
    n = score.shape[0]
    assert idx.shape == (n, k)
    assert idx.dtype == np.int64
    ref = brute_force_scores(score, k)
    n_finite = np.isfinite(score).sum(axis=1)
    for i in range(n):
        m_i = min(int(n_finite[i]), k)
        # Filled slots first, then -1 padding.
        assert np.all(idx[i, :m_i] >= 0)
        assert np.all(idx[i, m_i:] == -1)
        # Distinct columns whose scores are the k best, best first (ties in any order).
        assert len(set(idx[i, :m_i].tolist())) == m_i
        np.testing.assert_array_equal(score[i, idx[i, :m_i]], ref[i, :m_i])


def test_unique_scores_match_argsort_exactly():
    rng = np.random.default_rng(0)
    score = rng.permutation(40).reshape(5, 8).astype(float)
    score[score < 6] = -np.inf
    idx = top_k(score, 4)
    ref = np.argsort(-score, axis=1, kind="stable")[:, :4]
    ref = np.where(np.isfinite(np.take_along_axis(score, ref, axis=1)), ref, -1)
    np.testing.assert_array_equal(idx, ref)


def test_padding_when_fewer_finite_scores_than_k():
    score = np.array([[0.5, -np.inf, 2.0], [-np.inf, -np.inf, -np.inf]])
    np.testing.assert_array_equal(top_k(score, 5), [[2, 0, -1, -1, -1], [-1] * 5])


def test_no_columns_or_rows():
    np.testing.assert_array_equal(top_k(np.zeros((3, 0)), 4), np.full((3, 4), -1))
    assert top_k(np.zeros((0, 5)), 2).shape == (0, 2)
