"""Metrics of a run: per-class and macro accuracy, many / medium / few shots, correlations.

Shot groups follow the long-tail literature (Liu et al. 2019, OLTR): *many* classes have more
than ``many_threshold`` (100) training images, *few* fewer than ``few_threshold`` (20), *medium*
the rest; both thresholds are settings. A group with no class is ``None``, never NaN.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from semaudit.stats.imbalance import spearman
from semaudit.values import finite

__all__ = ["per_class_accuracy", "run_metrics", "shot_groups"]


def per_class_accuracy(preds: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Accuracy of each class over its evaluation images; NaN for a class with none."""
    preds, labels = np.asarray(preds), np.asarray(labels)
    total = np.bincount(labels, minlength=n_classes).astype(np.float64)
    right = np.bincount(labels[preds == labels], minlength=n_classes).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, right / np.maximum(total, 1), np.nan)


def shot_groups(train_counts: np.ndarray, many: int = 100, few: int = 20) -> np.ndarray:
    """``"many"`` (n > many), ``"few"`` (n < few) or ``"medium"`` per class."""
    n = np.asarray(train_counts)
    return np.where(n > many, "many", np.where(n < few, "few", "medium"))


def _mean(values: np.ndarray) -> float | None:
    values = values[np.isfinite(values)]
    return finite(values.mean()) if values.size else None


def run_metrics(
    preds: np.ndarray,
    labels: np.ndarray,
    train_counts: np.ndarray,
    audit_scales: np.ndarray,
    *,
    many: int = 100,
    few: int = 20,
) -> dict[str, Any]:
    """Accuracy overall and per class, macro and per shot group, and how per-class accuracy
    correlates (Spearman) with training counts and with the audit's semantic scale."""
    k = len(train_counts)
    acc = per_class_accuracy(preds, labels, k)
    groups = shot_groups(train_counts, many, few)
    return {
        "accuracy": finite(np.mean(np.asarray(preds) == np.asarray(labels)))
        if len(labels)
        else None,
        "macro_acc": _mean(acc),
        "many": _mean(acc[groups == "many"]),
        "medium": _mean(acc[groups == "medium"]),
        "few": _mean(acc[groups == "few"]),
        "n_eval": len(labels),
        "groups": {g: int((groups == g).sum()) for g in ("many", "medium", "few")},
        "spearman_acc_scale": spearman(acc, np.asarray(audit_scales, dtype=np.float64)),
        "spearman_acc_count": spearman(acc, np.asarray(train_counts, dtype=np.float64)),
        "per_class": acc,
        "shot": groups,
    }
