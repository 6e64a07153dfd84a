"""Imbalance statistics, effective numbers, rank agreement and balanced weights."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from semaudit.errors import UsageError
from semaudit.stats.imbalance import (
    balanced_weights,
    default_beta,
    effective_number,
    imbalance_stats,
    rank_disagreement,
    spearman,
)

PROPERTY = settings(max_examples=60, deadline=None)
positive_lists = st.lists(st.floats(0.01, 1e4), min_size=2, max_size=30)


def test_equal_values_are_perfectly_balanced() -> None:
    assert imbalance_stats(np.array([7, 7, 7, 7])) == {
        "max_min_ratio": 1.0,
        "cv": 0.0,
        "gini": 0.0,
        "entropy": 1.0,
    }


def test_known_values() -> None:
    out = imbalance_stats(np.array([1.0, 3.0]))
    assert out["max_min_ratio"] == pytest.approx(3.0)
    assert out["cv"] == pytest.approx(0.5)  # population std 1, mean 2
    assert out["gini"] == pytest.approx(0.25)  # (|1-3| + |3-1|) / (2 · 2² · 2)
    p = np.array([0.25, 0.75])
    assert out["entropy"] == pytest.approx(-(p * np.log(p)).sum() / np.log(2))


def test_undefined_statistics_are_none() -> None:
    empty = dict.fromkeys(("max_min_ratio", "cv", "gini", "entropy"))
    assert imbalance_stats(np.array([5.0])) == empty
    assert imbalance_stats(np.array([])) == empty
    assert imbalance_stats(np.array([0.0, 0.0])) == empty
    with_zero = imbalance_stats(np.array([0.0, 4.0]))
    assert with_zero["max_min_ratio"] is None
    assert with_zero["gini"] == pytest.approx(0.5)
    assert with_zero["entropy"] == 0.0
    # missing values are ignored
    assert imbalance_stats(np.array([2.0, np.nan, 2.0]))["cv"] == 0.0
    with pytest.raises(UsageError):
        imbalance_stats(np.array([1.0, -1.0]))
    with pytest.raises(UsageError):
        imbalance_stats(np.ones((2, 2)))


@PROPERTY
@given(positive_lists)
def test_gini_matches_pairwise_definition(values: list[float]) -> None:
    x = np.array(values)
    pairwise = np.abs(x[:, None] - x[None, :]).sum() / (2 * x.size**2 * x.mean())
    gini = imbalance_stats(x)["gini"]
    assert gini is not None
    assert gini == pytest.approx(pairwise, abs=1e-9)
    assert 0.0 <= gini < 1.0


@PROPERTY
@given(positive_lists, st.floats(0.1, 100.0))
def test_statistics_are_scale_free_and_bounded(values: list[float], factor: float) -> None:
    x = np.array(values)
    a, b = imbalance_stats(x), imbalance_stats(factor * x)
    for key in a:
        assert a[key] is not None and b[key] is not None
        assert a[key] == pytest.approx(b[key], rel=1e-7, abs=1e-9)
    entropy, ratio = a["entropy"], a["max_min_ratio"]
    assert entropy is not None and 0.0 <= entropy <= 1.0
    assert ratio is not None and ratio >= 1.0
    assert a["cv"] == pytest.approx(x.std() / x.mean())


def test_default_beta() -> None:
    assert default_beta(np.array([10, 30])) == pytest.approx(39 / 40)
    assert default_beta(np.array([1])) == 0.0
    assert default_beta(np.array([])) == 0.0


def test_effective_number_known_values() -> None:
    np.testing.assert_allclose(
        effective_number(np.array([0, 1, 2, 3]), beta=0.5), [0.0, 1.0, 1.5, 1.75]
    )
    np.testing.assert_array_equal(effective_number(np.array([0, 4]), beta=0.0), [0.0, 1.0])
    np.testing.assert_array_equal(effective_number(np.array([0, 4]), beta=1.0), [0.0, 4.0])
    counts = np.array([10, 30])
    np.testing.assert_allclose(
        effective_number(counts), effective_number(counts, beta=default_beta(counts))
    )
    with pytest.raises(UsageError):
        effective_number(np.array([1]), beta=1.5)
    with pytest.raises(UsageError):
        effective_number(np.array([-1]))


def test_effective_number_is_accurate_near_beta_one() -> None:
    # naive (1 - β^n) / (1 - β) loses ~8 digits here; the series n - n²(1-β)/2 + … does not.
    eps, n = 1e-12, 1e6
    x = n * eps
    series = n * (1 - x / 2 + x**2 / 6)
    assert effective_number(np.array([n]), beta=1 - eps)[0] == pytest.approx(series, rel=1e-9)


@PROPERTY
@given(
    st.lists(st.integers(0, 100_000), min_size=1, max_size=20),
    st.floats(0.0, 1.0, exclude_max=True),
)
def test_effective_number_properties(counts: list[int], beta: float) -> None:
    n = np.array(counts, dtype=float)
    e = effective_number(n, beta)
    assert np.all(np.isfinite(e))
    assert np.all(e <= n + 1e-9)
    assert np.all(e <= 1 / (1 - beta) * (1 + 1e-12))
    assert np.all(e[n == 0] == 0)
    order = np.argsort(n, kind="stable")
    assert np.all(np.diff(e[order]) >= -1e-9)


def test_spearman() -> None:
    a = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    out = spearman(a, a**2)
    assert out["rho"] == pytest.approx(1.0)
    assert out["p"] is not None and out["p"] < 0.05
    assert spearman(a, -a)["rho"] == pytest.approx(-1.0)
    b = np.array([2.0, 1.0, 4.0, 3.0, 5.0])
    expected = stats.spearmanr(a, b)
    assert spearman(a, b) == pytest.approx({"rho": expected.statistic, "p": expected.pvalue})
    none = {"rho": None, "p": None}
    assert spearman(a[:2], a[:2]) == none
    assert spearman(a, np.ones(5)) == none
    assert spearman(np.array([1.0, np.nan, 2.0, 3.0]), np.array([1.0, 5.0, np.inf, 2.0])) == none


def test_rank_disagreement() -> None:
    names = ["a", "b", "c", "d", "e"]
    counts = np.array([500, 400, 300, 200, 100])
    scales = np.array([10.0, 2.0, 9.0, 8.0, 7.0])
    # count ranks 1..5; scale ranks a1 b5 c2 d3 e4
    assert rank_disagreement(names, counts, scales) == [
        {"class": "b", "count_rank": 2, "scale_rank": 5, "delta": 3},
        {"class": "c", "count_rank": 3, "scale_rank": 2, "delta": -1},
        {"class": "d", "count_rank": 4, "scale_rank": 3, "delta": -1},
        {"class": "e", "count_rank": 5, "scale_rank": 4, "delta": -1},
    ]
    assert [r["class"] for r in rank_disagreement(names, counts, scales, top=2)] == ["b", "c"]
    assert rank_disagreement(names, counts, counts.astype(float)) == []


def test_rank_disagreement_ties_use_min_rank() -> None:
    out = rank_disagreement(["x", "y", "z"], np.array([5, 5, 1]), np.array([1.0, 3.0, 2.0]))
    # counts: x1 y1 z3; scales: y1 z2 x3
    assert out == [
        {"class": "x", "count_rank": 1, "scale_rank": 3, "delta": 2},
        {"class": "z", "count_rank": 3, "scale_rank": 2, "delta": -1},
    ]
    with pytest.raises(UsageError):
        rank_disagreement(["x"], np.array([1, 2]), np.array([1.0, 2.0]))


def test_balanced_weights() -> None:
    scales = np.array([1.0, 2.0, 4.0, 0.0, 8.0])
    eligible = np.array([True, True, True, True, False])
    w = balanced_weights(scales, eligible)
    used = w[:3]
    assert used.mean() == pytest.approx(1.0)
    assert used[0] / used[1] == pytest.approx(2.0)
    assert w[3] == 1.0 and w[4] == 1.0  # zero scale, ineligible
    w2 = balanced_weights(scales, eligible, gamma=2.0)
    assert w2[0] / w2[1] == pytest.approx(4.0)
    np.testing.assert_array_equal(balanced_weights(scales, eligible, gamma=0.0), np.ones(5))
    np.testing.assert_array_equal(balanced_weights(scales, np.zeros(5, bool)), np.ones(5))
    with pytest.raises(UsageError):
        balanced_weights(scales, eligible, gamma=-1.0)
    with pytest.raises(UsageError):
        balanced_weights(scales, eligible[:2])


@PROPERTY
@given(st.lists(st.floats(1e-3, 1e4), min_size=1, max_size=20), st.floats(0.0, 500.0))
def test_balanced_weights_never_overflow(scales: list[float], gamma: float) -> None:
    s = np.array(scales)
    w = balanced_weights(s, np.ones(s.size, dtype=bool), gamma)
    assert np.all(np.isfinite(w)) and np.all(w >= 0)
    assert w.mean() == pytest.approx(1.0)
    # smaller scale, larger weight
    order = np.argsort(s, kind="stable")
    assert np.all(np.diff(w[order]) <= 1e-9 * max(1.0, math.fsum(w)))
