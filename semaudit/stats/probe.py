r"""Bias probe: cross-validated linear probe on embeddings, and correlations with class statistics.

A multinomial logistic regression (softmax) on standardised features, fitted per fold with
L-BFGS-B and an analytic gradient, in numpy: for fold training data (X, y) with n rows

.. math::  \min_{W, b}\ \frac1n \sum_i \Big[\log \sum_k e^{x_i W_k + b_k} - (x_i W_{y_i} + b_{y_i})
           \Big] + \frac{\lambda}{2} \lVert W \rVert^2 ,

(bias unpenalised; equals scikit-learn's ``LogisticRegression(C=1/(λ n))``). The optimiser works
in preconditioned coordinates ``W = E diag(s) V`` (E: covariance eigenvectors, so the problem
is unchanged) with float32 products. Loss, gradient and predictions run over blocks of
``_CHUNK_ROWS`` rows (float64 sums), so memory grows with ``_CHUNK_ROWS × k``, not ``n × k``.
Out-of-fold predictions give per-class accuracy, which :func:`correlate` relates to counts and
scales.
"""

from __future__ import annotations

import contextlib
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

from semaudit.errors import UsageError
from semaudit.stats.defaults import METHOD
from semaudit.stats.scale import check_labelled, l2_normalize
from semaudit.values import finite

__all__ = ["ProbeResult", "correlate", "linear_probe", "stratified_folds"]


@dataclass(frozen=True)
class ProbeResult:
    """Out-of-fold probe results. ``per_class_accuracy`` is NaN only for classes with no sample;
    ``predictions`` holds -1 where no model could be trained (an empty training fold)."""

    per_class_accuracy: np.ndarray  # (K,)
    macro_accuracy: float
    folds: int
    predictions: np.ndarray  # (N,)


def stratified_folds(labels: np.ndarray, folds: int, seed: int = 0) -> np.ndarray:
    """Fold id per sample: each class shuffled (seeded) and dealt round-robin over the folds.

    The dealing continues where the previous class stopped, so fold sizes differ by at most one
    and a class with fewer members than folds lands in distinct folds.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    fold = np.empty(labels.shape[0], dtype=np.int64)
    start = 0
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        fold[members] = (start + np.arange(members.size)) % folds
        start = (start + members.size) % folds
    return fold


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def _single_threaded_blas() -> contextlib.AbstractContextManager[object]:
    """One BLAS thread per fold worker: threaded skinny products (k columns) are slower than
    one thread, badly so on a busy machine. A no-op without ``threadpoolctl``."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _check_probe_inputs(
    features: np.ndarray, labels: np.ndarray, n_classes: int, folds: int, l2: float, max_iter: int
) -> tuple[np.ndarray, np.ndarray]:
    x, y = check_labelled(features, labels, n_classes)
    if n_classes < 0:
        raise UsageError(f"n_classes must be >= 0; received {n_classes}.")
    if folds < 2:
        raise UsageError(f"folds must be >= 2; received {folds}.")
    if not (math.isfinite(l2) and l2 > 0):
        raise UsageError(f"l2 must be a positive number; received {l2!r}.")
    if max_iter < 1:
        raise UsageError(f"max_iter must be >= 1; received {max_iter}.")
    return x, y.astype(np.int64)


def _standardise(x: np.ndarray) -> np.ndarray:
    """Columns centred and scaled to unit std (constant columns keep scale 1), float32.

    Statistics accumulate in float64; float32 products run twice as fast in the fit.
    """
    mean = x.mean(axis=0, dtype=np.float64)
    std = x.std(axis=0, dtype=np.float64)
    scale = (1.0 / np.where(std > 1e-12, std, 1.0)).astype(np.float32)
    out = x - mean.astype(np.float32)
    out *= scale
    return out


def _rows_float32(x: np.ndarray, normalize: bool) -> np.ndarray:
    """``x`` as float32, rows L2-normalised (in float64) if ``normalize``, in row blocks."""
    if not normalize:
        return x.astype(np.float32)
    out = np.empty(x.shape, dtype=np.float32)
    for start in range(0, x.shape[0], _CHUNK_ROWS):
        out[start : start + _CHUNK_ROWS] = l2_normalize(x[start : start + _CHUNK_ROWS])
    return out


def _preconditioner(x: np.ndarray, l2: float) -> tuple[np.ndarray, np.ndarray]:
    """``(P, s)`` with ``P = E diag(s)``: E the eigenvectors of ``XᵀX/n`` spanning the rows of X
    (orthonormal columns), ``s = (eigenvalue + 10·l2)^(-1/2)``.

    Fitting ``W = P V`` over V is the same problem (the optimum lies in the row space, and
    ``‖W‖² = Σ_j s_j² ‖V_j‖²``) with a near-isotropic Hessian: L-BFGS needs ~3× fewer steps on
    correlated features. Eigen-decomposes the smaller of ``XᵀX`` (d × d) and ``XXᵀ`` (n × n).
    """
    n, d = x.shape
    if d <= n:
        gram = np.asarray(x.T @ x, dtype=np.float64) / n
        eigenvalues, basis = np.linalg.eigh((gram + gram.T) / 2)
        eigenvalues = np.clip(eigenvalues, 0.0, None)
    else:
        x64 = x.astype(np.float64)
        eigenvalues, u = np.linalg.eigh(x64 @ x64.T / n)
        keep = eigenvalues > 1e-10 * max(float(eigenvalues.max()), np.finfo(float).tiny)
        eigenvalues, u = eigenvalues[keep], u[:, keep]
        basis = (x64.T @ u) / np.sqrt(n * eigenvalues)  # right singular vectors of X
    s = 1.0 / np.sqrt(eigenvalues + 10.0 * l2)
    return basis * s, s


#: Rows per block of the softmax loss, gradient and prediction: memory is bounded by a few
#: ``_CHUNK_ROWS × k`` buffers per fold worker (8192 × 1000 classes: 32 MiB float32 and 64 MiB
#: float64) instead of ``n × k``. Blocks of this size keep the products as fast as one big one.
_CHUNK_ROWS = 8192


class _SoftmaxObjective:
    """Mean cross-entropy of ``xp V + b`` plus ``l2/2 Σ s_j² ‖V_j‖²`` and its gradient, summed
    over blocks of ``chunk`` rows in float64 (products in ``xp.dtype``), reusing its buffers."""

    def __init__(
        self, xp: np.ndarray, y: np.ndarray, k: int, penalty: np.ndarray, chunk: int
    ) -> None:
        self.xp, self.y, self.k, self.penalty = xp, y, k, penalty
        self.chunk = max(1, int(chunk))
        m = min(self.chunk, xp.shape[0])
        self._logits = np.empty((m, k), dtype=xp.dtype)
        self._prob = np.empty((m, k), dtype=np.float64)
        self._rows = np.arange(m)

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        xp, y, k = self.xp, self.y, self.k
        n, r = xp.shape
        v = theta[: r * k].reshape(r, k)
        bias = theta[r * k :]
        v_low = v.astype(xp.dtype)
        data_loss = 0.0
        grad_v = np.zeros((r, k), dtype=np.float64)
        grad_b = np.zeros(k, dtype=np.float64)
        for start in range(0, n, self.chunk):
            stop = min(start + self.chunk, n)
            m = stop - start
            block, labels, rows = xp[start:stop], y[start:stop], self._rows[:m]
            logits_low = np.matmul(block, v_low, out=self._logits[:m])
            prob = np.add(logits_low, bias, out=self._prob[:m])  # float64 logits
            prob -= prob.max(axis=1, keepdims=True)
            picked = prob[rows, labels]
            np.exp(prob, out=prob)
            total = prob.sum(axis=1)
            data_loss += float(np.sum(np.log(total) - picked))
            prob /= total[:, None]
            prob[rows, labels] -= 1.0
            prob /= n
            grad_b += prob.sum(axis=0)
            resid_low = self._logits[:m]  # logits no longer needed: reuse for the residual
            resid_low[...] = prob
            grad_v += block.T @ resid_low
        loss = data_loss / n + 0.5 * float(np.sum(self.penalty * v * v))
        grad_v += self.penalty * v
        return loss, np.concatenate([grad_v.ravel(), grad_b])


def _fit_preconditioned(
    xp: np.ndarray, s: np.ndarray, y: np.ndarray, k: int, l2: float, max_iter: int, tol: float
) -> np.ndarray:
    """``[V (r·k), b (k)]`` minimising mean cross-entropy of ``xp V + b`` + ``l2/2 Σ s_j² ‖V_j‖²``.

    L-BFGS-B from zeros, stopping at a projected gradient ≤ ``tol`` or after ``max_iter`` steps.
    Loss and gradient stream over blocks of :data:`_CHUNK_ROWS` rows.
    """
    penalty = (l2 * s**2)[:, None]
    loss_grad = _SoftmaxObjective(xp, y, k, penalty, _CHUNK_ROWS)
    res = optimize.minimize(
        loss_grad,
        np.zeros(xp.shape[1] * k + k),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": max_iter, "gtol": tol, "ftol": 64 * np.finfo(float).eps},
    )
    return np.asarray(res.x)


def _fit_softmax(
    x: np.ndarray, y: np.ndarray, k: int, l2: float, max_iter: int, tol: float = 1e-4
) -> np.ndarray:
    """``[W (d·k), b (k)]`` minimising mean cross-entropy of ``xW + b`` + ``l2/2 ‖W‖²``."""
    p_mat, s = _preconditioner(x, l2)
    r = s.size
    theta = _fit_preconditioned(x @ p_mat.astype(x.dtype), s, y, k, l2, max_iter, tol)
    w = p_mat @ theta[: r * k].reshape(r, k)
    return np.concatenate([w.ravel(), theta[r * k :]])


def _predict_fold(
    xp: np.ndarray, s: np.ndarray, y: np.ndarray, test: np.ndarray, l2: float, max_iter: int
) -> np.ndarray:
    """Labels of the ``test`` rows from a probe fitted on the others (classes present only)."""
    train_y = y[~test]
    present = np.unique(train_y)
    if present.size == 0:
        return np.full(int(test.sum()), -1, dtype=np.int64)
    if present.size == 1:
        return np.full(int(test.sum()), present[0], dtype=np.int64)
    local = np.searchsorted(present, train_y)
    k, r = present.size, s.size
    theta = _fit_preconditioned(xp[~test], s, local, k, l2, max_iter, tol=1e-4)
    v = theta[: r * k].reshape(r, k).astype(np.float32)
    bias = theta[r * k :]
    rows = np.flatnonzero(test)
    local_pred = np.empty(rows.size, dtype=np.int64)
    for start in range(0, rows.size, _CHUNK_ROWS):
        block = rows[start : start + _CHUNK_ROWS]
        local_pred[start : start + block.size] = np.argmax(xp[block] @ v + bias, axis=1)
    return present[local_pred]


def linear_probe(
    features: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    *,
    folds: int = METHOD.probe_folds,
    seed: int = 0,
    normalize: bool = METHOD.normalize,
    l2: float = 1e-3,
    max_iter: int = 200,
) -> ProbeResult:
    """Stratified k-fold linear probe: out-of-fold per-class accuracy of a softmax classifier.

    Rows are L2-normalised (``normalize``, as for the scale), then every column standardised
    over all rows (label-free, so no label leaks across folds). Folds come from
    :func:`stratified_folds`; a class with fewer members than folds still has each member
    predicted once (a class with one member is never in its own training set, so its accuracy
    is 0). Folds are fitted in parallel threads. Macro accuracy averages the classes that have
    samples.
    """
    x, y = _check_probe_inputs(features, labels, n_classes, folds, l2, max_iter)
    predictions = np.full(y.shape[0], -1, dtype=np.int64)
    if y.size:
        z = _standardise(_rows_float32(x, normalize))
        p_mat, s = _preconditioner(z, l2)
        xp = z @ p_mat.astype(np.float32)
        del z
        fold = stratified_folds(y, folds, seed)

        def run(f: int) -> None:
            test = fold == f
            if test.any():
                predictions[test] = _predict_fold(xp, s, y, test, l2, max_iter)

        workers = max(1, min(folds, _cpu_count()))
        with _single_threaded_blas(), ThreadPoolExecutor(workers) as pool:
            list(pool.map(run, range(folds)))
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    hits = np.bincount(y[predictions == y], minlength=n_classes).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(counts > 0, hits / np.maximum(counts, 1), np.nan)
    macro = float(np.nanmean(per_class)) if np.any(counts > 0) else float("nan")
    return ProbeResult(per_class, macro, folds, predictions)


def correlate(x: np.ndarray, y: np.ndarray) -> dict[str, float | None]:
    """Pearson r and Spearman ρ with their two-sided p-values (``p_pearson``, ``p_spearman``)
    over the finite pairs of ``x`` and ``y``.

    All ``None`` with fewer than 3 finite pairs or a constant side.
    """
    a = np.asarray(x, dtype=np.float64).ravel()
    b = np.asarray(y, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise UsageError(f"x and y must have one length; received {a.size} and {b.size}.")
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    out: dict[str, float | None] = dict.fromkeys(("pearson", "p_pearson", "spearman", "p_spearman"))
    if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return out
    rho, r = stats.spearmanr(a, b), stats.pearsonr(a, b)
    out["pearson"] = finite(r.statistic)
    out["p_pearson"] = finite(r.pvalue)
    out["spearman"] = finite(rho.statistic)
    out["p_spearman"] = finite(rho.pvalue)
    return out
