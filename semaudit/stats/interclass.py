r"""Semantic scale with inter-class interference, S (Ma et al., ICLR 2023, Sec. 3.4.1).

A class whose centre lies close to the other classes' centres is harder to separate, so its
scale is shrunk. With class centres ``o_c`` (the means of the same features S′ uses) over the
K classes that have at least one image,

.. math::  w_c = \frac{1}{K-1}\sum_{j \ne c} \lVert o_c - o_j \rVert_2, \qquad
           W'_c = w_c / \max_j w_j, \qquad W_c = \log_2(\alpha + W'_c),

.. math::  S_c = \frac{S'_c}{\max_j S'_j}\, W_c ,

with S′ the semantic scale without interference (:mod:`semaudit.stats.scale`) and ``α ≥ 1``
(the paper: 2 on long-tailed data, 1 on sample-balanced data). Ours, where the paper is silent
(docs/method.md): classes without images take no part and get ``NaN``; with fewer than two
classes, or when every centre coincides (``max w = 0``), ``W′ = 1`` (no interference can be
measured); ``max S′ = 0`` gives ``S = 0``. ``alpha="auto"`` resolves to 2 when the largest class
has at least :data:`LONG_TAIL_RATIO` times the images of the smallest, else 1.
"""

from __future__ import annotations

import math

import numpy as np

from semaudit.errors import UsageError
from semaudit.stats.defaults import METHOD
from semaudit.stats.scale import ClassMoments, check_labelled, l2_normalize, semantic_scale

__all__ = [
    "ALPHA_GRID",
    "LONG_TAIL_RATIO",
    "auto_interclass_alpha",
    "centre_distances",
    "class_centres",
    "interclass_from_distances",
    "interclass_from_moments",
    "interclass_from_scales",
    "interclass_scale",
    "interference",
    "resolve_interclass_alpha",
]

ALPHA_GRID = (1.0, 1.5, 2.0, 2.5, 3.0)
"""The α values of the paper's Table 1 (Pearson r of per-class accuracy with S)."""

LONG_TAIL_RATIO = 2.0
"""``alpha="auto"``: a dataset whose max/min class count reaches this is long-tailed (α = 2)."""


def auto_interclass_alpha(counts: np.ndarray) -> float:
    """The paper's α for these class counts: 2 when long-tailed, 1 when sample-balanced.

    >>> auto_interclass_alpha(np.array([100, 10])), auto_interclass_alpha(np.array([50, 40]))
    (2.0, 1.0)
    """
    n = np.asarray(counts, dtype=np.float64)
    n = n[n > 0]
    if n.size < 2:
        return 1.0
    return 2.0 if n.max() / n.min() >= LONG_TAIL_RATIO else 1.0


def resolve_interclass_alpha(alpha: float | str, counts: np.ndarray) -> float:
    """``alpha`` as a number ≥ 1: ``"auto"`` by :func:`auto_interclass_alpha`, else checked."""
    if isinstance(alpha, str):
        if alpha.strip().lower() == "auto":
            return auto_interclass_alpha(counts)
        try:
            alpha = float(alpha)
        except ValueError:
            raise UsageError(
                f"interclass_alpha must be 'auto' or a number ≥ 1; received {alpha!r}."
            ) from None
    value = float(alpha)
    if not (math.isfinite(value) and value >= 1.0):
        raise UsageError(f"interclass_alpha must be 'auto' or a number ≥ 1; received {alpha!r}.")
    return value


def class_centres(
    features: np.ndarray, labels: np.ndarray, n_classes: int, *, normalize: bool = METHOD.normalize
) -> tuple[np.ndarray, np.ndarray]:
    """``(centres (K, d), counts (K,))``: the mean feature of each class (rows L2-normalised
    first when ``normalize``, as S′ does); a class without rows has a NaN centre."""
    features, labels = check_labelled(features, labels, n_classes)
    z = l2_normalize(features) if normalize else features.astype(np.float64)
    counts = np.bincount(labels, minlength=n_classes)
    sums = np.zeros((n_classes, z.shape[1]))
    np.add.at(sums, labels, z)
    with np.errstate(invalid="ignore", divide="ignore"):
        centres = sums / counts[:, None]
    return centres, counts


def centre_distances(centres: np.ndarray, present: np.ndarray) -> np.ndarray:
    """``w_c``: mean Euclidean distance from each present class's centre to the other present
    centres (``1/(K−1) Σ_j ‖o_c − o_j‖``); NaN for absent classes, 0 when K < 2."""
    o = np.asarray(centres, dtype=np.float64)
    used = np.asarray(present, dtype=bool)
    w = np.full(used.shape, np.nan)
    k = int(used.sum())
    if k == 0:
        return w
    if k == 1:
        w[used] = 0.0
        return w
    p = o[used]
    sq = np.einsum("ij,ij->i", p, p)
    dist2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * (p @ p.T), 0.0)
    np.fill_diagonal(dist2, 0.0)
    w[used] = np.sqrt(dist2).sum(axis=1) / (k - 1)
    return w


def interference(distances: np.ndarray, alpha: float) -> np.ndarray:
    """``W_c = log2(α + w_c / max w)``; ``W′ = 1`` everywhere when ``max w`` is 0 or undefined."""
    w = np.asarray(distances, dtype=np.float64)
    top = np.nanmax(w) if np.isfinite(w).any() else 0.0
    relative = w / top if top > 0 else np.where(np.isfinite(w), 1.0, np.nan)
    return np.log2(alpha + relative)


def interclass_from_scales(
    scales: np.ndarray, centres: np.ndarray, counts: np.ndarray, alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    """``(S, w)`` from per-class S′, centres and counts (the step shared by the audit, the
    public :func:`interclass_scale` and the training pool's sufficient statistics)."""
    w = centre_distances(centres, np.asarray(counts) > 0)
    return interclass_from_distances(scales, w, counts, alpha), w


def interclass_from_distances(
    scales: np.ndarray, distances: np.ndarray, counts: np.ndarray, alpha: float
) -> np.ndarray:
    """S from per-class S′ and centre distances w (what an audit stores: any α without the
    features); NaN for classes without images."""
    s_prime = np.asarray(scales, dtype=np.float64)
    present = np.asarray(counts) > 0
    w = np.where(present, np.asarray(distances, dtype=np.float64), np.nan)
    top = np.nanmax(s_prime[present]) if present.any() else 0.0
    relative = s_prime / top if top > 0 else np.zeros_like(s_prime)
    return np.where(present, relative * interference(w, alpha), np.nan)


def interclass_scale(
    features: np.ndarray,
    labels: np.ndarray,
    *,
    alpha: float | str = "auto",
    coding_alpha: float | None = None,
    normalize: bool = METHOD.normalize,
    n_classes: int | None = None,
) -> np.ndarray:
    """S of every class, shape ``(K,)`` in label order (NaN for a class without rows).

    ``alpha`` is the interference α (``"auto"``: see the module doc); ``coding_alpha`` and
    ``normalize`` are those of :func:`semaudit.stats.scale.semantic_scale` (S′).

    >>> z = np.array([[0., 0.], [1., 0.], [5., 5.], [5., 6.]])
    >>> interclass_scale(z, np.array([0, 0, 1, 1]), alpha=1.0, normalize=False).round(3)
    array([1., 1.])
    """
    features, labels = check_labelled(features, labels, n_classes)
    k = int(n_classes if n_classes is not None else (labels.max() + 1 if labels.size else 0))
    s_prime = semantic_scale(features, labels, alpha=coding_alpha, normalize=normalize, n_classes=k)
    centres, counts = class_centres(features, labels, k, normalize=normalize)
    resolved = resolve_interclass_alpha(alpha, counts)
    return interclass_from_scales(s_prime, centres, counts, resolved)[0]


def interclass_from_moments(
    moments: ClassMoments, alpha: float | str = "auto", *, coding_alpha: float | None = None
) -> tuple[np.ndarray, np.ndarray, float]:
    """``(S, w, α)`` from streamed :class:`~semaudit.stats.scale.ClassMoments`: S′ from the
    scatters, centres ``o_c = Σz / n_c`` from the same sums (no second pass over the data)."""
    counts = np.asarray(moments.count)
    with np.errstate(invalid="ignore", divide="ignore"):
        centres = moments.total / counts[:, None]
    resolved = resolve_interclass_alpha(alpha, counts)
    s, w = interclass_from_scales(moments.scale(coding_alpha), centres, counts, resolved)
    return s, w, resolved
