"""Linear probe (against scikit-learn as an oracle) and the correlation helper."""

from __future__ import annotations

import time

import numpy as np
import pytest
from scipy import stats

from semaudit.errors import UsageError
from semaudit.stats import probe
from semaudit.stats.probe import (
    _fit_softmax,
    _SoftmaxObjective,
    _standardise,
    correlate,
    linear_probe,
    stratified_folds,
)


def _blobs(seed: int, counts: list[int], d: int, spread: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(counts)), counts)
    centres = rng.standard_normal((len(counts), d)) * 3
    features = centres[labels] + spread * rng.standard_normal((labels.size, d))
    return features, labels


def test_stratified_folds_spread_every_class() -> None:
    labels = np.repeat(np.arange(4), [23, 7, 3, 1])
    fold = stratified_folds(labels, 5, seed=0)
    np.testing.assert_array_equal(fold, stratified_folds(labels, 5, seed=0))
    sizes = np.bincount(fold, minlength=5)
    assert sizes.max() - sizes.min() <= 1
    for c in range(4):
        per_fold = np.bincount(fold[labels == c], minlength=5)
        assert per_fold.max() - per_fold.min() <= 1  # small classes land in distinct folds


def test_well_separated_classes_are_probed_perfectly() -> None:
    features, labels = _blobs(0, [60, 40, 25, 80], 16, spread=0.3)
    result = linear_probe(features, labels, 4)
    np.testing.assert_array_equal(result.per_class_accuracy, np.ones(4))
    assert result.macro_accuracy == 1.0
    assert result.folds == 5
    np.testing.assert_array_equal(result.predictions, labels)


def test_small_and_empty_classes() -> None:
    features, labels = _blobs(1, [30, 30, 3, 1], 8, spread=0.2)
    result = linear_probe(features, labels, 5)  # class 4 has no samples
    assert np.isnan(result.per_class_accuracy[4])
    # the 3-image class is still predicted out of fold; the 1-image one never trains
    assert result.per_class_accuracy[2] == 1.0
    assert result.per_class_accuracy[3] == 0.0
    assert result.macro_accuracy == pytest.approx(np.nanmean(result.per_class_accuracy))
    assert np.all(result.predictions >= 0)


@pytest.mark.parametrize("d", [20, 400])  # preconditioned on the d × d and the n × n side
def test_softmax_fit_matches_scikit_learn(d: int) -> None:
    linear_model = pytest.importorskip("sklearn.linear_model")
    features, labels = _blobs(2, [120, 90, 60], d, spread=3.0)
    x = _standardise(features.astype(np.float32))
    l2 = 1e-2
    n, k = x.shape[0], 3
    theta = _fit_softmax(x, labels, k, l2, max_iter=1000, tol=1e-9)
    reference = linear_model.LogisticRegression(C=1 / (l2 * n), tol=1e-10, max_iter=5000)
    reference.fit(x.astype(np.float64), labels)
    w, b = theta[: d * k].reshape(d, k), theta[d * k :]
    # softmax parameters are defined up to a shift shared by the classes
    ours = w - w.mean(axis=1, keepdims=True)
    theirs = reference.coef_.T - reference.coef_.T.mean(axis=1, keepdims=True)
    np.testing.assert_allclose(ours, theirs, atol=2e-3 * np.abs(theirs).max())
    their_b = reference.intercept_ - reference.intercept_.mean()
    np.testing.assert_allclose(b - b.mean(), their_b, atol=2e-3 * max(1.0, np.abs(their_b).max()))
    agree = np.mean(np.argmax(x @ w + b, axis=1) == reference.predict(x))
    assert agree >= 0.99


def test_cross_validated_accuracy_matches_scikit_learn() -> None:
    linear_model = pytest.importorskip("sklearn.linear_model")
    features, labels = _blobs(3, [150, 100, 60, 40], 30, spread=4.0)
    l2 = 1e-3
    ours = linear_probe(features, labels, 4, l2=l2, seed=5)
    z = features / np.linalg.norm(features, axis=1, keepdims=True)
    z = (z - z.mean(axis=0)) / z.std(axis=0)
    fold = stratified_folds(labels, 5, seed=5)
    predictions = np.empty_like(labels)
    for f in range(5):
        test = fold == f
        model = linear_model.LogisticRegression(C=1 / (l2 * (~test).sum()), max_iter=5000)
        model.fit(z[~test], labels[~test])
        predictions[test] = model.predict(z[test])
    theirs = np.array([np.mean(predictions[labels == c] == c) for c in range(4)])
    assert 0.4 < ours.macro_accuracy < 1.0  # a non-trivial problem
    assert np.mean(ours.predictions == predictions) >= 0.97
    np.testing.assert_allclose(ours.per_class_accuracy, theirs, atol=0.05)


def _unchunked_loss_grad(
    xp: np.ndarray, y: np.ndarray, k: int, penalty: np.ndarray, theta: np.ndarray
) -> tuple[float, np.ndarray]:
    """The softmax objective written out on all rows at once (the reference)."""
    n, r = xp.shape
    v = theta[: r * k].reshape(r, k)
    logits = xp @ v + theta[r * k :]
    logits = logits - logits.max(axis=1, keepdims=True)
    log_total = np.log(np.exp(logits).sum(axis=1))
    loss = np.mean(log_total - logits[np.arange(n), y]) + 0.5 * np.sum(penalty * v * v)
    resid = np.exp(logits - log_total[:, None])
    resid[np.arange(n), y] -= 1.0
    resid /= n
    return float(loss), np.concatenate([(xp.T @ resid + penalty * v).ravel(), resid.sum(axis=0)])


@pytest.mark.parametrize("chunk", [1, 7, 64, 10_000])
def test_chunked_objective_matches_unchunked(chunk: int) -> None:
    rng = np.random.default_rng(3)
    n, r, k = 103, 9, 6
    xp = rng.standard_normal((n, r))
    y = rng.integers(0, k, n)
    penalty = rng.uniform(1e-4, 1e-2, (r, 1))
    objective = _SoftmaxObjective(xp, y, k, penalty, chunk)
    for scale in (0.0, 1.0, 5.0):
        theta = scale * rng.standard_normal(r * k + k)
        want_loss, want_grad = _unchunked_loss_grad(xp, y, k, penalty, theta)
        for _ in range(2):  # buffers are reused between evaluations
            loss, grad = objective(theta)
            assert loss == pytest.approx(want_loss, rel=1e-12)
            np.testing.assert_allclose(
                grad, want_grad, rtol=1e-12, atol=1e-15 * np.abs(want_grad).max()
            )
    # float32 products (as the probe runs them): equal up to float32 rounding
    xp32 = xp.astype(np.float32)
    theta = rng.standard_normal(r * k + k)
    loss, grad = _SoftmaxObjective(xp32, y, k, penalty, chunk)(theta)
    want_loss, want_grad = _unchunked_loss_grad(xp32.astype(np.float64), y, k, penalty, theta)
    assert loss == pytest.approx(want_loss, rel=1e-5)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-4, atol=1e-6)


def test_probe_predictions_do_not_depend_on_chunk_size(monkeypatch: pytest.MonkeyPatch) -> None:
    features, labels = _blobs(5, [60, 45, 30, 20, 9, 3], 24, 5.0)
    default = linear_probe(features, labels, 7, folds=4, seed=1)
    monkeypatch.setattr(probe, "_CHUNK_ROWS", 7)
    chunked = linear_probe(features, labels, 7, folds=4, seed=1)
    np.testing.assert_array_equal(chunked.predictions, default.predictions)
    np.testing.assert_array_equal(chunked.per_class_accuracy, default.per_class_accuracy)
    assert 0.3 < default.macro_accuracy < 1.0  # classes overlap: not a trivial probe


def test_probe_rejects_bad_arguments() -> None:
    features, labels = _blobs(4, [10, 10], 4, spread=1.0)
    with pytest.raises(UsageError):
        linear_probe(features, labels, 1)  # label 1 out of range
    with pytest.raises(UsageError):
        linear_probe(features, labels, 2, folds=1)
    with pytest.raises(UsageError):
        linear_probe(features[:5], labels, 2)
    with pytest.raises(UsageError):
        linear_probe(features, labels.astype(float), 2)


@pytest.mark.slow
def test_probe_speed_at_design_size() -> None:
    # 5,000 × 1280, 10 classes: a few seconds on 2 cores (measured ~1.5-3 s).
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 5000)
    centres = rng.standard_normal((10, 1280)) * 0.012
    decay = np.arange(1, 1281) ** -0.3
    features = np.maximum(centres[labels] + rng.standard_normal((5000, 1280)) * decay, 0)
    start = time.perf_counter()
    result = linear_probe(features, labels, 10)
    assert time.perf_counter() - start < 15
    assert 0.3 < result.macro_accuracy <= 1.0


def test_correlate() -> None:
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    y = np.array([1.1, 1.9, 3.5, 3.9, 6.0, 5.5])
    out = correlate(x, y)
    assert out["pearson"] == pytest.approx(stats.pearsonr(x, y).statistic)
    assert out["spearman"] == pytest.approx(stats.spearmanr(x, y).statistic)
    assert out["p_spearman"] == pytest.approx(stats.spearmanr(x, y).pvalue)
    assert out["p_pearson"] == pytest.approx(stats.pearsonr(x, y).pvalue)
    perfect = {"pearson": 1.0, "p_pearson": 0, "spearman": 1.0, "p_spearman": 0}
    assert correlate(x, 2 * x) == pytest.approx(perfect)


def test_correlate_edge_cases() -> None:
    none = {"pearson": None, "p_pearson": None, "spearman": None, "p_spearman": None}
    assert correlate(np.array([1.0, 2.0]), np.array([2.0, 1.0])) == none
    assert correlate(np.array([1.0, 2.0, 3.0]), np.array([5.0, 5.0, 5.0])) == none
    assert correlate(np.array([]), np.array([])) == none
    # non-finite pairs are dropped: three pairs remain
    x = np.array([1.0, np.nan, 2.0, 3.0, np.inf])
    y = np.array([1.0, 2.0, 2.0, 3.5, 1.0])
    expected = correlate(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.5]))
    assert correlate(x, y) == expected
    assert expected["spearman"] == pytest.approx(1.0)
    # only two finite pairs left
    assert correlate(np.array([1.0, 2.0, np.nan]), np.array([1.0, 2.0, 3.0])) == none
    with pytest.raises(UsageError):
        correlate(np.ones(3), np.ones(4))
