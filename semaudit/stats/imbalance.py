r"""Dataset-level imbalance statistics, effective numbers, rank agreement and class weights.

Everything here takes per-class arrays (indexed by class id) and returns plain Python values:
``None`` wherever a statistic is undefined, never NaN or inf. Definitions: ``docs/method.md``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

from semaudit.errors import UsageError
from semaudit.values import finite

__all__ = [
    "balanced_weights",
    "default_beta",
    "effective_number",
    "imbalance_stats",
    "rank_disagreement",
    "spearman",
]


def _vector(values: Any, name: str) -> np.ndarray:
    """A 1-D float64 array, or ``UsageError`` naming the argument."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise UsageError(f"{name} must be a 1-D array; received shape {array.shape}.")
    return array


def _gini(x: np.ndarray) -> float:
    """Gini ``Σ_ij |x_i − x_j| / (2 K² mean)`` via sorted values: in [0, (K−1)/K]."""
    k = x.size
    ranks = np.arange(1, k + 1)
    return float(2.0 * np.sum(ranks * np.sort(x)) / (k * x.sum()) - (k + 1) / k)


def _entropy(x: np.ndarray) -> float:
    """Shannon entropy of ``p = x / Σx`` divided by ``log K`` (0 log 0 = 0): 1 means equal."""
    p = x[x > 0] / x.sum()
    return float(min(1.0, max(0.0, -np.sum(p * np.log(p)) / math.log(x.size))))


def imbalance_stats(values: np.ndarray) -> dict[str, float | None]:
    """``max_min_ratio``, ``cv`` (population std / mean), ``gini`` and normalised ``entropy``.

    Non-finite entries are ignored (missing). Every statistic is ``None`` with fewer than two
    values or a zero total; ``max_min_ratio`` is also ``None`` when the minimum is 0. Values
    must be non-negative (counts, scales).

    >>> imbalance_stats(np.array([10, 10, 10]))
    {'max_min_ratio': 1.0, 'cv': 0.0, 'gini': 0.0, 'entropy': 1.0}
    """
    x = _vector(values, "values")
    x = x[np.isfinite(x)]
    if np.any(x < 0):
        raise UsageError("imbalance statistics need non-negative values (counts or scales).")
    out: dict[str, float | None] = dict.fromkeys(("max_min_ratio", "cv", "gini", "entropy"))
    if x.size < 2 or x.sum() <= 0:
        return out
    if np.ptp(x) == 0:  # exactly balanced: skip the round-off of the general formulas
        return {"max_min_ratio": 1.0, "cv": 0.0, "gini": 0.0, "entropy": 1.0}
    out["max_min_ratio"] = finite(x.max() / x.min()) if x.min() > 0 else None
    out["cv"] = finite(x.std() / x.mean())
    out["gini"] = finite(max(0.0, _gini(x)))
    out["entropy"] = finite(_entropy(x))
    return out


def default_beta(counts: np.ndarray) -> float:
    """β = (N − 1) / N with N the total number of images (our choice); 0 when N ≤ 1."""
    total = float(np.sum(_vector(counts, "counts")))
    return (total - 1.0) / total if total > 1 else 0.0


def effective_number(counts: np.ndarray, beta: float | None = None) -> np.ndarray:
    r"""Effective number of samples ``(1 − βⁿ) / (1 − β)`` per class (Cui et al., CVPR 2019).

    Computed as ``−expm1(n · log β) / (1 − β)`` with ``log β = log1p(β − 1)``, so β → 1 stays
    accurate (the limit is n itself); n = 0 gives 0. ``beta`` defaults to :func:`default_beta`.

    >>> effective_number(np.array([0, 1, 2]), beta=0.5)
    array([0. , 1. , 1.5])
    """
    n = _vector(counts, "counts")
    if np.any(~np.isfinite(n)) or np.any(n < 0):
        raise UsageError("counts must be finite and non-negative.")
    b = default_beta(n) if beta is None else float(beta)
    if not 0.0 <= b <= 1.0:
        raise UsageError(f"beta must lie in [0, 1]; received {beta!r}.")
    if b == 1.0:
        return n.copy()
    if b == 0.0:
        return (n > 0).astype(np.float64)
    log_beta = math.log1p(b - 1.0) if b > 0.5 else math.log(b)  # b - 1 is exact for b > 0.5
    return -np.expm1(n * log_beta) / (1.0 - b)


def _finite_pairs(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    x, y = _vector(a, "a"), _vector(b, "b")
    if x.shape != y.shape:
        raise UsageError(f"paired arrays must have one length; received {x.size} and {y.size}.")
    keep = np.isfinite(x) & np.isfinite(y)
    return x[keep], y[keep]


def spearman(a: np.ndarray, b: np.ndarray) -> dict[str, float | None]:
    """Spearman's ρ and its two-sided p-value over finite pairs.

    ``None`` for both with fewer than 3 finite pairs or when either side is constant.
    """
    x, y = _finite_pairs(a, b)
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return {"rho": None, "p": None}
    result = stats.spearmanr(x, y)
    return {
        "rho": finite(float(result.statistic)),
        "p": finite(float(result.pvalue)),
    }


def _descending_ranks(values: np.ndarray) -> np.ndarray:
    """Rank 1 = largest; ties share the smallest rank (``method="min"``)."""
    return stats.rankdata(-values, method="min").astype(np.int64)


def rank_disagreement(
    names: list[str], counts: np.ndarray, scales: np.ndarray, top: int = 10
) -> list[dict[str, Any]]:
    """Classes whose rank by scale differs most from their rank by count.

    Each entry is ``{"class", "count_rank", "scale_rank", "delta"}`` with ``delta =
    scale_rank − count_rank`` (positive: narrower than its count suggests). Only ``delta ≠ 0``,
    sorted by ``|delta|`` descending then name, at most ``top``.
    """
    n, s = _vector(counts, "counts"), _vector(scales, "scales")
    if not len(names) == n.size == s.size:
        raise UsageError(
            f"names, counts and scales must have one length; received "
            f"{len(names)}, {n.size} and {s.size}."
        )
    if not (np.all(np.isfinite(n)) and np.all(np.isfinite(s))):
        raise UsageError("counts and scales must be finite to be ranked.")
    if top < 0:
        raise UsageError(f"top must be >= 0; received {top}.")
    count_rank, scale_rank = _descending_ranks(n), _descending_ranks(s)
    rows: list[dict[str, Any]] = [
        {"class": str(name), "count_rank": int(cr), "scale_rank": int(sr), "delta": int(sr - cr)}
        for name, cr, sr in zip(names, count_rank, scale_rank, strict=True)
        if sr != cr
    ]
    rows.sort(key=lambda row: (-abs(row["delta"]), row["class"]))
    return rows[:top]


def balanced_weights(scales: np.ndarray, eligible: np.ndarray, gamma: float = 1.0) -> np.ndarray:
    r"""Semantic-scale-balanced class weights ``w_c ∝ (1 / S_c)^γ``, mean 1 over the used classes.

    Used classes are ``eligible`` ones with a finite ``S_c > 0``; every other class gets 1.
    Computed in log space (``−γ log S``) so large γ cannot overflow.

    >>> balanced_weights(np.array([1.0, 3.0, 0.0]), np.array([True, True, True]))
    array([1.5, 0.5, 1. ])
    """
    s = _vector(scales, "scales")
    mask = np.asarray(eligible, dtype=bool)
    if mask.shape != s.shape:
        raise UsageError(f"eligible must have shape {s.shape}; received {mask.shape}.")
    if not (math.isfinite(gamma) and gamma >= 0):
        raise UsageError(f"gamma must be a finite number >= 0; received {gamma!r}.")
    weights = np.ones_like(s)
    used = mask & np.isfinite(s) & (s > 0)
    if not used.any():
        return weights
    log_w = -gamma * np.log(s[used])
    w = np.exp(log_w - log_w.max())
    weights[used] = w / w.mean()
    return weights
