r"""Dynamic semantic-scale-balanced (DSB) class weights, as Ma et al. (ICLR 2023, Sec. 4, App. D)
define them, from a snapshot of the pre-classifier features of the training set.

1. Each feature (the embedding the classifier reads) is reduced to ``pool_dim`` dimensions by
   1-D average pooling over the feature axis (:func:`pool_features`, the bins of torch's
   ``adaptive_avg_pool1d``; ``pool_dim = 0`` or ≥ d keeps the full width).
2. Per class, the semantic scale without interference ``S′_c`` of the pooled features, centred
   and *not* L2-normalised (``normalize=False``), coding factor ``d/m`` with d the pooled width
   (``coding_alpha=None``), from the per-class sufficient statistics (count, Σz, Σzzᵀ) in
   float64: the scatter is ``Σzzᵀ − m μμᵀ`` (:func:`class_moments`, :func:`moment_scales`).
3. ``S_c`` with inter-class interference (:func:`semaudit.stats.interclass.interclass_from_scales`,
   α = ``interclass_alpha``; ``0`` means none: ``S = S′``).
4. ``w_c ∝ (1/S_c)^γ`` normalised to sum 1 over the classes present (γ = 1 is the paper's).

Ours, where the paper is silent (docs/decisions.md): a present class whose ``S_c`` is not > 0 (a
single image: ``S′ = 0``; every row identical) gets the largest weight of the other classes
(it is as narrow as a class can be; never ``inf``/``NaN``); if no class has ``S > 0`` every
present class gets the same weight. Classes without images get weight 0.

The training pool (:class:`semaudit.train.pool.FeaturePool`) keeps the same statistics
incrementally and calls :func:`weights_from_moments`, so its weights are these.
"""

from __future__ import annotations

import math

import numpy as np

from semaudit.errors import UsageError
from semaudit.stats.interclass import interclass_from_scales
from semaudit.stats.scale import check_labelled, l2_normalize, logdet_spd

__all__ = [
    "class_moments",
    "dsb_weights",
    "moment_scales",
    "pool_bins",
    "pool_features",
    "pool_width",
    "scale_weights",
    "weights_from_moments",
]

DEFAULT_POOL_DIM = 64
"""The paper's pooled width (App. D: 1-D average pooling of the embedding to 64 dimensions)."""


def pool_width(dim: int, pool_dim: int) -> int:
    """The width after pooling: ``pool_dim``, or ``dim`` when ``pool_dim`` is 0 or larger."""
    if pool_dim < 0:
        raise UsageError(f"pool_dim must be an integer ≥ 0 (0: full width); received {pool_dim}.")
    return dim if pool_dim == 0 or pool_dim >= dim else int(pool_dim)


def pool_bins(dim: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """``(start, end)`` of each output bin: ``⌊i·d/w⌋`` to ``⌈(i+1)·d/w⌉`` (torch's rule)."""
    i = np.arange(width)
    return (i * dim) // width, -((-(i + 1) * dim) // width)


def pool_features(features: np.ndarray, pool_dim: int = DEFAULT_POOL_DIM) -> np.ndarray:
    """Rows average-pooled over the feature axis to :func:`pool_width` columns (float64),
    the bins and arithmetic of ``torch.nn.functional.adaptive_avg_pool1d``.

    >>> pool_features(np.array([[1.0, 3.0, 5.0, 7.0]]), 2)
    array([[2., 6.]])
    """
    z = np.asarray(features, dtype=np.float64)
    width = pool_width(z.shape[1], pool_dim)
    if width == z.shape[1]:
        return z
    start, end = pool_bins(z.shape[1], width)
    sums = np.concatenate([np.zeros((z.shape[0], 1)), np.cumsum(z, axis=1)], axis=1)
    return (sums[:, end] - sums[:, start]) / (end - start)


def class_moments(
    features: np.ndarray, labels: np.ndarray, n_classes: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(count (K,), Σz (K, d), Σzzᵀ (K, d, d))`` in float64, by class."""
    z = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    count = np.bincount(labels, minlength=n_classes).astype(np.float64)
    total = np.zeros((n_classes, z.shape[1]))
    outer = np.zeros((n_classes, z.shape[1], z.shape[1]))
    for c in np.flatnonzero(count):
        zc = z[labels == c]
        total[c] = zc.sum(axis=0)
        outer[c] = zc.T @ zc
    return count, total, outer


def moment_scales(
    count: np.ndarray, total: np.ndarray, outer: np.ndarray, coding_alpha: float | None = None
) -> np.ndarray:
    """``S′_c = ½ log2 det(I + α/m · (Σzzᵀ − m μμᵀ))`` per class (0 when ``m ≤ 1``); α = d by
    default. All classes' log-dets in one stacked Cholesky."""
    m = np.asarray(count, dtype=np.float64)
    dim = total.shape[1]
    a = float(dim if coding_alpha is None else coding_alpha)
    out = np.zeros(m.shape[0])
    used = np.flatnonzero(m > 1)
    if used.size == 0:
        return out
    # I + α/m (Σzzᵀ − Σz Σzᵀ / m); Cholesky reads the lower triangle only
    scale = a / m[used]
    kernel = outer[used] * scale[:, None, None]
    t = total[used] * np.sqrt(scale / m[used])[:, None]
    kernel -= t[:, :, None] * t[:, None, :]
    kernel[:, np.arange(dim), np.arange(dim)] += 1.0
    out[used] = np.maximum(0.0, 0.5 * logdet_spd(kernel) / math.log(2.0))
    return out


def scale_weights(scales: np.ndarray, count: np.ndarray, gamma: float = 1.0) -> np.ndarray:
    """``w_c ∝ (1/S_c)^γ`` summing to 1 over the present classes (see the module doc for the
    classes without a positive scale); computed in log space so large γ cannot overflow."""
    s = np.asarray(scales, dtype=np.float64)
    present = np.asarray(count) > 0
    weights = np.zeros_like(s)
    if not present.any():
        return weights
    usable = present & np.isfinite(s) & (s > 0)
    if usable.any():
        log_w = -gamma * np.log(s[usable])
        raw = np.zeros_like(s)
        raw[usable] = np.exp(log_w - log_w.max())
        raw[present & ~usable] = 1.0  # the largest usable weight, after the shift above
        weights = raw
    else:
        weights[present] = 1.0
    return weights / weights.sum()


def weights_from_moments(
    count: np.ndarray,
    total: np.ndarray,
    outer: np.ndarray,
    *,
    interclass_alpha: float = 2.0,
    gamma: float = 1.0,
    coding_alpha: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(weights (K,), S (K,))`` from per-class moments: the step shared by :func:`dsb_weights`
    and the training pool. ``interclass_alpha = 0``: no interference (``S = S′``)."""
    s_prime = moment_scales(count, total, outer, coding_alpha)
    if interclass_alpha:
        with np.errstate(invalid="ignore", divide="ignore"):
            centres = total / np.asarray(count, dtype=np.float64)[:, None]
        scales = interclass_from_scales(s_prime, centres, count, float(interclass_alpha))[0]
    else:
        scales = np.where(np.asarray(count) > 0, s_prime, np.nan)
    return scale_weights(scales, count, gamma), scales


def dsb_weights(
    features: np.ndarray,
    labels: np.ndarray,
    *,
    pool_dim: int = DEFAULT_POOL_DIM,
    interclass_alpha: float = 2.0,
    gamma: float = 1.0,
    n_classes: int | None = None,
    normalize: bool = False,
    coding_alpha: float | None = None,
) -> np.ndarray:
    """The paper's DSB per-class weights (shape ``(K,)``, sum 1) for a snapshot of
    pre-classifier ``features`` (N, d) with integer ``labels``.

    ``pool_dim``: pooled width (0: full); ``interclass_alpha``: α of the interference (2 on
    long-tailed data, 1 on balanced data; 0: none); ``gamma``: ``w ∝ (1/S)^γ``; ``normalize``:
    L2-normalise the pooled rows first (our earlier variant, not the paper's); ``coding_alpha``:
    the coding factor of S′ (None: the pooled width).

    >>> z = np.array([[0., 0.], [2., 0.], [9., 9.], [9., 10.]])
    >>> dsb_weights(z, np.array([0, 0, 1, 1]), interclass_alpha=0).round(3)
    array([0.27, 0.73])
    """
    features, labels = check_labelled(features, labels, n_classes)
    k = int(n_classes if n_classes is not None else (labels.max() + 1 if labels.size else 0))
    if not (math.isfinite(interclass_alpha) and (interclass_alpha == 0 or interclass_alpha >= 1)):
        raise UsageError(f"interclass_alpha must be 0 or ≥ 1; received {interclass_alpha!r}.")
    z = pool_features(features, pool_dim)
    if normalize:
        z = l2_normalize(z)
    count, total, outer = class_moments(z, labels, k)
    return weights_from_moments(
        count,
        total,
        outer,
        interclass_alpha=interclass_alpha,
        gamma=gamma,
        coding_alpha=coding_alpha,
    )[0]
