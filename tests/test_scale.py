"""Semantic scale against a slow log-det oracle, plus its invariances and streaming identities."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from semaudit.stats.scale import (
    ClassMoments,
    class_scale,
    l2_normalize,
    semantic_scale,
    spectrum_scale,
)

PROPERTY = settings(max_examples=40, deadline=None)


def _oracle(features: np.ndarray, labels: np.ndarray, alpha: float | None, normalize: bool):
    """``½ log2 det(I + α/m AᵀA)`` per class by ``slogdet`` on the d × d side."""
    z = l2_normalize(features) if normalize else features.astype(np.float64)
    d = z.shape[1]
    a_used = float(d if alpha is None else alpha)
    out = []
    for c in range(int(labels.max()) + 1):
        zc = z[labels == c]
        m = zc.shape[0]
        if m <= 1:
            out.append(0.0)
            continue
        a = zc - zc.mean(axis=0)
        sign, logdet = np.linalg.slogdet(np.eye(d) + a_used / m * a.T @ a)
        assert sign > 0
        out.append(0.5 * logdet / np.log(2))
    return np.array(out)


def _class(seed: int, m: int, d: int, *, offset: float = 0.5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((m, d)) * rng.uniform(0.2, 2.0, size=d) + offset


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("alpha", [None, 1.0, 37.5])
@pytest.mark.parametrize(("n", "d"), [(60, 8), (60, 40), (200, 16)])
def test_matches_slogdet_oracle(n: int, d: int, alpha: float | None, normalize: bool) -> None:
    rng = np.random.default_rng(n + d)
    labels = rng.integers(0, 4, size=n)
    features = rng.standard_normal((n, d)) + labels[:, None]
    expected = _oracle(features, labels, alpha, normalize)
    got = semantic_scale(features, labels, alpha=alpha, normalize=normalize)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize(("m", "d"), [(10, 30), (30, 10), (20, 20)])
def test_both_gram_sides_match_oracle(m: int, d: int) -> None:
    # m <= d uses AAᵀ (m × m), m > d uses AᵀA (d × d): they share the non-zero spectrum.
    z = _class(m * d, m, d)
    expected = _oracle(z, np.zeros(m, dtype=int), None, True)[0]
    assert class_scale(z, normalize=True) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize(("m", "d"), [(10, 30), (30, 10), (300, 64)])
def test_cholesky_log_det_equals_the_eigenvalue_sum(m: int, d: int) -> None:
    # docs/method.md §1's formula, ½ Σ log2(1 + α/m · λ) over the eigenvalues of the larger Gram
    # side, against the Cholesky factor of the smaller side that class_scale uses.
    z = l2_normalize(_class(m + d, m, d))
    a = z - z.mean(axis=0)
    spectrum = np.linalg.eigvalsh(a.T @ a if m <= d else a @ a.T)
    assert class_scale(z) == pytest.approx(spectrum_scale(spectrum, m, float(d)), abs=1e-11)


@PROPERTY
@given(st.integers(0, 10_000), st.integers(2, 25), st.integers(1, 12), st.booleans())
def test_invariant_to_sample_order(seed: int, m: int, d: int, normalize: bool) -> None:
    z = _class(seed, m, d)
    order = np.random.default_rng(seed + 1).permutation(m)
    assert class_scale(z[order], normalize=normalize) == pytest.approx(
        class_scale(z, normalize=normalize), rel=1e-9, abs=1e-9
    )


@PROPERTY
@given(st.integers(0, 10_000), st.integers(2, 25), st.integers(1, 12), st.booleans())
def test_invariant_to_common_rotation(seed: int, m: int, d: int, normalize: bool) -> None:
    z = _class(seed, m, d)
    q, _ = np.linalg.qr(np.random.default_rng(seed + 2).standard_normal((d, d)))
    assert class_scale(z @ q, normalize=normalize) == pytest.approx(
        class_scale(z, normalize=normalize), rel=1e-8, abs=1e-9
    )


@PROPERTY
@given(st.integers(0, 10_000), st.integers(2, 25), st.integers(1, 12), st.floats(1.05, 10.0))
def test_inflating_spread_increases_scale(seed: int, m: int, d: int, factor: float) -> None:
    z = _class(seed, m, d)
    mean = z.mean(axis=0)
    inflated = mean + factor * (z - mean)
    assert class_scale(inflated, normalize=False) > class_scale(z, normalize=False)


@PROPERTY
@given(st.integers(0, 10_000), st.integers(1, 80), st.integers(1, 10), st.integers(1, 6))
def test_streaming_batches_equal_one_pass(seed: int, n: int, d: int, batches: int) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, size=n)
    features = rng.standard_normal((n, d)) + labels[:, None]
    one = ClassMoments.zeros(3, d).update(features, labels)
    streamed = ClassMoments.zeros(3, d)
    for part in np.array_split(np.arange(n), batches):
        streamed.update(features[part], labels[part])
    np.testing.assert_array_equal(streamed.count, one.count)
    np.testing.assert_allclose(streamed.scale(), one.scale(), rtol=1e-8, atol=1e-8)
    direct = semantic_scale(features, labels, n_classes=3)
    np.testing.assert_allclose(one.scale(), direct, rtol=1e-7, atol=1e-7)


@PROPERTY
@given(st.integers(0, 10_000), st.integers(2, 80), st.integers(1, 10), st.booleans())
def test_merge_of_halves_equals_one_pass(seed: int, n: int, d: int, normalize: bool) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, size=n)
    features = rng.standard_normal((n, d)) * 3 + labels[:, None]
    half = n // 2
    left = ClassMoments.zeros(3, d, normalize=normalize).update(features[:half], labels[:half])
    right = ClassMoments.zeros(3, d, normalize=normalize).update(features[half:], labels[half:])
    one = ClassMoments.zeros(3, d, normalize=normalize).update(features, labels)
    merged = left.merge(right)
    np.testing.assert_array_equal(merged.count, one.count)
    np.testing.assert_allclose(merged.scale(alpha=2.0), one.scale(alpha=2.0), rtol=1e-8, atol=1e-8)


@PROPERTY
@given(st.integers(0, 10_000), st.integers(1, 50), st.booleans())
def test_single_image_has_zero_scale(seed: int, d: int, normalize: bool) -> None:
    z = _class(seed, 1, d)
    assert class_scale(z, normalize=normalize) == 0.0
    labels = np.zeros(1, dtype=np.int64)
    assert ClassMoments.zeros(1, d, normalize=normalize).update(z, labels).scale()[0] == 0.0


@PROPERTY
@given(st.integers(0, 10_000), st.integers(0, 4), st.integers(1, 30))
def test_tiny_and_degenerate_classes_are_finite(seed: int, m: int, d: int) -> None:
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((m, d))
    labels = np.zeros(m, dtype=np.int64)
    # an empty class (id 1), a duplicated-row class and an all-zero class
    scales = semantic_scale(z, labels, n_classes=2)
    assert np.all(np.isfinite(scales)) and np.all(scales >= 0)
    assert scales[1] == 0.0
    assert class_scale(np.repeat(z[:1], 3, axis=0)) == pytest.approx(0.0, abs=1e-12)
    assert class_scale(np.zeros((3, d))) == 0.0


@PROPERTY
@given(st.integers(0, 10_000), st.integers(2, 30), st.integers(1, 8))
def test_alpha_one_raw_equals_first_author_det_formula(seed: int, m: int, d: int) -> None:
    z = np.random.default_rng(seed).uniform(-1, 1, size=(m, d))
    a = z - z.mean(axis=0)
    first_author = 0.5 * np.log2(np.linalg.det(np.eye(d) + (1 / m) * a.T @ a))
    assert class_scale(z, alpha=1.0, normalize=False) == pytest.approx(first_author, rel=1e-9)


def _overflow_case(m: int, d: int) -> None:
    a = np.random.default_rng(0).standard_normal((m, d))
    a -= a.mean(axis=0)
    with np.errstate(over="ignore"):
        naive = np.linalg.det(np.eye(d) + d / m * a.T @ a)
    assert np.isinf(naive)
    scale = class_scale(a, normalize=False)
    assert np.isfinite(scale)
    _, logdet = np.linalg.slogdet(np.eye(d) + d / m * a.T @ a)
    assert scale == pytest.approx(0.5 * logdet / np.log(2), rel=1e-10)


def test_naive_det_overflows_where_scale_is_finite() -> None:
    # d = 512 is already enough: det ≈ 2^(several thousand) > float64's 2^1024.
    _overflow_case(1300, 512)


@pytest.mark.slow
def test_naive_det_overflows_at_design_size() -> None:
    _overflow_case(1300, 2048)  # docs/method.md §1's example: m = 1300, d = 2048


def test_bad_inputs_raise_usage_error() -> None:
    from semaudit.errors import UsageError

    with pytest.raises(UsageError):
        semantic_scale(np.zeros(3), np.zeros(3, dtype=int))
    with pytest.raises(UsageError):
        semantic_scale(np.zeros((3, 2)), np.zeros(2, dtype=int))
    with pytest.raises(UsageError):
        semantic_scale(np.full((3, 2), np.nan), np.zeros(3, dtype=int))
