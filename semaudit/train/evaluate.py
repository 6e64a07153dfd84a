"""Metrics of a run: per-class and macro accuracy, many / medium / few shots, correlations.

Shot groups follow the long-tail literature (Liu et al. 2019, OLTR): *many* classes have more
than ``many_threshold`` (100) training images, *few* fewer than ``few_threshold`` (20), *medium*
the rest; both thresholds are settings. A group with no class is ``None``, never NaN.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from semaudit.stats.imbalance import spearman
from semaudit.stats.interclass import resolve_interclass_alpha
from semaudit.stats.table1 import accuracy_correlations, table1_verdict
from semaudit.store import Audit
from semaudit.values import finite

__all__ = [
    "accuracy_table",
    "audit_interclass",
    "per_class_accuracy",
    "run_metrics",
    "shot_groups",
]


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
    audit_distances: np.ndarray | None = None,
    interclass_alpha: float | str = "auto",
) -> dict[str, Any]:
    """Accuracy overall and per class, macro and per shot group, how per-class accuracy
    correlates (Spearman) with training counts and with the audit's semantic scale, and the
    paper's Table 1 against the test accuracy (``correlations``, see :func:`accuracy_table`)."""
    k = len(train_counts)
    acc = per_class_accuracy(preds, labels, k)
    groups = shot_groups(train_counts, many, few)
    return {
        "correlations": accuracy_table(
            acc, train_counts, audit_scales, audit_distances, interclass_alpha
        ),
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


def accuracy_table(
    accuracy: np.ndarray,
    train_counts: np.ndarray,
    audit_scales: np.ndarray,
    audit_distances: np.ndarray | None = None,
    interclass_alpha: float | str = "auto",
) -> dict[str, Any]:
    """Table 1 against a model's per-class accuracy, in the shape of ``summary.json
    correlations`` (:func:`semaudit.stats.table1.accuracy_correlations`):
    ``{"test_accuracy": {measure: {pearson, p_pearson, spearman, p_spearman}, …,
    "scale_interclass_alpha": {"1": …}}, "interclass_alpha": α, "verdict": {…, "text"}}``.

    Counts are the training images per class; ``audit_distances`` the audit's
    ``centre_distance`` column in class order (None: w and S are undefined, ``None`` entries).
    """
    n = np.asarray(train_counts, dtype=np.float64)
    scales = np.asarray(audit_scales, dtype=np.float64)
    w = np.full(n.size, np.nan) if audit_distances is None else np.asarray(audit_distances)
    alpha = resolve_interclass_alpha(interclass_alpha, n)
    table = accuracy_correlations(accuracy, n, scales, w, alpha, use=n > 0)
    k = int((np.isfinite(np.asarray(accuracy, dtype=np.float64)) & (n > 0)).sum())
    return {"test_accuracy": table, "interclass_alpha": alpha, "verdict": table1_verdict(table, k)}


def audit_interclass(audit: Audit, class_names: list[str]) -> dict[str, Any]:
    """``run_metrics`` keywords from an audit: its w_c in class order and its resolved α
    (NaN and ``"auto"`` for an audit written before S was)."""
    classes = audit.classes.set_index("class").reindex(class_names)
    alpha = finite(audit.settings.raw.get("interclass_alpha"))
    return {
        "audit_distances": classes["centre_distance"].to_numpy(dtype=float),
        "interclass_alpha": alpha if alpha is not None else "auto",
    }
