r"""Semantic scale: the log-det volume of a class's features (Ma et al., ICLR 2023).

For the m features of one class, L2-normalised per row (optional) and centred on their mean,
``A = Z - mean(Z)`` (m × d),

.. math::  S = \tfrac12 \log_2 \det\!\big(I + \tfrac{\alpha}{m} A^\top A\big)
             = \tfrac12 \sum_i \log_2\!\big(1 + \tfrac{\alpha}{m}\lambda_i\big),

with λ the eigenvalues of the smaller of ``AᵀA`` (d × d) and ``AAᵀ`` (m × m); both share their
non-zero spectrum. ``I + (α/m) G`` is SPD with eigenvalues ≥ 1, so the log-det is taken from
its Cholesky factor, ``log det = 2 Σ log L_ii`` (faster than the eigenvalues: ``G`` is
symmetrised, never diagonalised). ``alpha`` defaults to d (the MCR² coding rate); ``alpha=1``
with ``normalize=False`` is the first author's published volume. Units are bits; ``m <= 1``
gives 0.

Streaming uses the mergeable sufficient statistics (count, Σz, Σzzᵀ) in float64, since
``AᵀA = Σ z zᵀ − m μ μᵀ``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from semaudit.errors import UsageError
from semaudit.stats.defaults import METHOD

__all__ = [
    "ClassMoments",
    "check_features",
    "check_labelled",
    "class_scale",
    "gram_scale",
    "l2_normalize",
    "logdet_spd",
    "semantic_scale",
    "spectrum_scale",
]


def l2_normalize(features: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm, in float64; all-zero rows stay zero."""
    z = np.asarray(features, dtype=np.float64)
    norms = np.linalg.norm(z, axis=1, keepdims=True)
    return z / np.where(norms > 0, norms, 1.0)


def spectrum_scale(eigenvalues: np.ndarray, m: int, alpha: float) -> float:
    """``½ Σ log2(1 + alpha/m · λ)`` with negative round-off clipped to 0."""
    if m <= 1:
        return 0.0
    lam = np.clip(np.asarray(eigenvalues, dtype=np.float64), 0.0, None)
    return float(0.5 * np.sum(np.log2(1.0 + (alpha / m) * lam)))


def logdet_spd(matrix: np.ndarray) -> np.ndarray:
    """Natural ``log det`` of an SPD matrix (or a stack) by Cholesky; eigenvalues if that fails."""
    try:
        chol = np.linalg.cholesky(matrix)
        return 2.0 * np.log(np.diagonal(chol, axis1=-2, axis2=-1)).sum(axis=-1)
    except np.linalg.LinAlgError:  # pragma: no cover - I + cG has eigenvalues >= 1
        lam = np.clip(np.linalg.eigvalsh(matrix), 1.0, None)
        return np.log(lam).sum(axis=-1)


def gram_scale(gram: np.ndarray, m: int, alpha: float) -> np.ndarray:
    """``½ log2 det(I + alpha/m · G)`` of a centred Gram or scatter ``G`` (or a stack of them,
    every one of m rows), floored at 0; 0 for ``m <= 1``. Only the symmetric part of G counts."""
    if m <= 1:
        return np.zeros(gram.shape[:-2])
    kernel = (gram + np.swapaxes(gram, -1, -2)) * (0.5 * alpha / m)
    k = kernel.shape[-1]
    kernel[..., np.arange(k), np.arange(k)] += 1.0
    return np.maximum(0.0, 0.5 * logdet_spd(kernel) / np.log(2.0))


def class_scale(
    features: np.ndarray, *, alpha: float | None = None, normalize: bool = METHOD.normalize
) -> float:
    """Semantic scale of one class from its (m, d) features, via the smaller Gram side."""
    z = l2_normalize(features) if normalize else np.asarray(features, dtype=np.float64)
    m, d = z.shape
    if m <= 1:
        return 0.0
    a = z - z.mean(axis=0)
    gram = a @ a.T if m <= d else a.T @ a
    return float(gram_scale(gram, m, float(d if alpha is None else alpha)))


def check_features(features: np.ndarray) -> np.ndarray:
    """An (N, d) array of finite numbers, or ``UsageError`` saying what was received."""
    features = np.asarray(features)
    if features.ndim != 2:
        raise UsageError(f"features must be a 2-D (N, d) array; received shape {features.shape}.")
    if not np.all(np.isfinite(features)):
        raise UsageError("features contain NaN or inf; check the backbone output.")
    return features


def check_labelled(
    features: np.ndarray, labels: np.ndarray, n_classes: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Features (see :func:`check_features`) with one integer class id per row, in [0, K)."""
    features = check_features(features)
    labels = np.asarray(labels)
    if labels.shape != (features.shape[0],):
        raise UsageError(
            f"labels must have shape ({features.shape[0]},) to match features; "
            f"received {labels.shape}."
        )
    if labels.size and (not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0):
        raise UsageError("labels must be non-negative integer class ids (index into class names).")
    if n_classes is not None and labels.size and labels.max() >= n_classes:
        raise UsageError(f"labels must be integer class ids in [0, {n_classes}).")
    return features, labels


def semantic_scale(
    features: np.ndarray,
    labels: np.ndarray,
    *,
    alpha: float | None = None,
    normalize: bool = METHOD.normalize,
    n_classes: int | None = None,
) -> np.ndarray:
    """Semantic scale of every class, shape ``(K,)`` in label order (K = max label + 1).

    >>> z = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]); semantic_scale(z, np.array([0, 0, 1]))
    array([0.5, 0. ])
    """
    features, labels = check_labelled(features, labels)
    k = int(n_classes if n_classes is not None else (labels.max() + 1 if labels.size else 0))
    return np.array(
        [class_scale(features[labels == c], alpha=alpha, normalize=normalize) for c in range(k)]
    )


@dataclass
class ClassMoments:
    """Per-class (count, Σz, Σzzᵀ) in float64: mergeable across batches, shards and ranks.

    Memory is K · d² · 8 bytes (100 classes × 512-d: 210 MB).
    """

    count: np.ndarray  # (K,)
    total: np.ndarray  # (K, d)
    outer: np.ndarray  # (K, d, d)
    normalize: bool = METHOD.normalize

    @classmethod
    def zeros(cls, n_classes: int, dim: int, *, normalize: bool = METHOD.normalize) -> ClassMoments:
        return cls(
            np.zeros(n_classes, dtype=np.int64),
            np.zeros((n_classes, dim)),
            np.zeros((n_classes, dim, dim)),
            normalize,
        )

    def update(self, features: np.ndarray, labels: np.ndarray) -> ClassMoments:
        """Add a batch in place (normalising rows first when ``normalize``); returns self."""
        features, labels = check_labelled(features, labels)
        z = l2_normalize(features) if self.normalize else features.astype(np.float64)
        for c in np.unique(labels):
            zc = z[labels == c]
            self.count[c] += zc.shape[0]
            self.total[c] += zc.sum(axis=0)
            self.outer[c] += zc.T @ zc
        return self

    def merge(self, other: ClassMoments) -> ClassMoments:
        """Sum of two statistics over disjoint data (the all-reduce of distributed scans)."""
        if self.normalize != other.normalize or self.outer.shape != other.outer.shape:
            raise UsageError("cannot merge moments of different shapes or normalisation.")
        return ClassMoments(
            self.count + other.count,
            self.total + other.total,
            self.outer + other.outer,
            self.normalize,
        )

    def scale(self, alpha: float | None = None) -> np.ndarray:
        """Semantic scale per class from the moments: the scatter ``Σzzᵀ − m μμᵀ``."""
        dim = self.total.shape[1]
        a = float(dim if alpha is None else alpha)
        out = np.zeros(self.count.shape[0])
        for c, m in enumerate(self.count):
            if m <= 1:
                continue
            mu = self.total[c] / m
            scatter = self.outer[c] - m * np.outer(mu, mu)
            out[c] = gram_scale(scatter, int(m), a)
        return out
