r"""The paper's Table 1 on the user's data: how well each class measure tracks per-class accuracy.

Ma et al. (ICLR 2023, Table 1) correlate per-class accuracy with the image count N, the effective
number E_n, the inter-class term W, the scale S′ and the interference-corrected scale S (Pearson
r). :func:`accuracy_correlations` computes the same for one dataset: Pearson r and Spearman ρ,
each with its two-sided p-value (:func:`semaudit.stats.probe.correlate`), for

- ``count`` (N), ``effective_number`` (E_n, Cui et al.), ``scale`` (S′),
- ``centre_distance`` (w_c, the paper's W before normalisation: the same ranking),
- ``scale_interclass`` (S at the resolved α) and, under ``scale_interclass_alpha``, S at each α
  of :data:`~semaudit.stats.interclass.ALPHA_GRID` (keys ``"1"``, ``"1.5"``, …),

plus any caller's extra measures. :func:`table1_verdict` words the result (docs/method.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import stats

from semaudit.stats.imbalance import effective_number
from semaudit.stats.interclass import ALPHA_GRID, interclass_from_distances
from semaudit.stats.probe import correlate

__all__ = [
    "LABELS",
    "SIGNIFICANCE",
    "VERDICT_MEASURES",
    "accuracy_correlations",
    "alpha_key",
    "critical_r",
    "format_p",
    "row_note",
    "table1_verdict",
]

SIGNIFICANCE = 0.05
"""A Pearson r counts as significant when its two-sided p-value is below this."""

LABELS = {
    "count": "image count N",
    "effective_number": "effective number E_n",
    "scale": "semantic scale S′",
    "scale_matched": "matched scale",
    "centre_distance": "centre distance w",
    "scale_interclass": "scale with interference S",
}
"""Plain names of the measures, for reports and terminals."""

VERDICT_MEASURES = tuple(LABELS)
"""The measures the verdict ranks (the α grid is shown, not ranked: it would pick the best α)."""


def alpha_key(alpha: float) -> str:
    """The JSON key of one α of the grid: ``1.0 → "1"``, ``1.5 → "1.5"``."""
    return format(float(alpha), "g")


def accuracy_correlations(
    accuracy: np.ndarray,
    counts: np.ndarray,
    scales: np.ndarray,
    distances: np.ndarray,
    alpha: float,
    *,
    use: np.ndarray | None = None,
    extra: Mapping[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Correlations of per-class ``accuracy`` with every measure, over the classes in ``use``
    (default: all with a finite accuracy). ``distances`` are the centre distances w_c
    (:func:`~semaudit.stats.interclass.centre_distances`, over every class with images); S is
    computed from them and ``scales`` (S′) at ``alpha`` and at each α of the grid."""
    acc = np.asarray(accuracy, dtype=np.float64)
    n = np.asarray(counts, dtype=np.float64)
    keep = np.isfinite(acc) if use is None else np.asarray(use, dtype=bool) & np.isfinite(acc)
    w = np.asarray(distances, dtype=np.float64)
    measures: dict[str, np.ndarray] = {
        "count": n,
        "effective_number": effective_number(n),
        "scale": np.asarray(scales, dtype=np.float64),
        **dict(extra or {}),
        "centre_distance": w,
        "scale_interclass": interclass_from_distances(scales, w, n, alpha),
    }
    table: dict[str, Any] = {
        k: correlate(np.asarray(v, dtype=np.float64)[keep], acc[keep]) for k, v in measures.items()
    }
    table["scale_interclass_alpha"] = {
        alpha_key(a): correlate(interclass_from_distances(scales, w, n, a)[keep], acc[keep])
        for a in ALPHA_GRID
    }
    return table


def format_p(p: float | None) -> str:
    """A p-value for people: ``0.14``, ``0.004``, ``< 0.001``; ``–`` when undefined."""
    if p is None:
        return "–"
    if p < 0.001:
        return "< 0.001"
    return f"{p:.3f}" if p < 0.01 else f"{p:.2f}"


def critical_r(n_classes: int) -> float | None:
    """The |r| a Pearson correlation over ``n_classes`` pairs needs for two-sided p <
    :data:`SIGNIFICANCE`: ``t / √(t² + K − 2)`` with t the Student quantile (K − 2 df)."""
    if n_classes < 3:
        return None
    t = float(stats.t.ppf(1 - SIGNIFICANCE / 2, n_classes - 2))
    return t / math.sqrt(t * t + n_classes - 2)


def _line(name: str, r: float, p: float | None, k: int) -> str:
    label = LABELS.get(name, name)
    if p is None or p >= SIGNIFICANCE:
        shown = f"p = {format_p(p)}" if p is not None else "p unknown"
        return f"{label}: r = {r:+.2f}, not significant with {k} classes ({shown})"
    return f"{label}: r = {r:+.2f} (p {'' if p < 0.001 else '= '}{format_p(p)})"


def table1_verdict(table: Mapping[str, Any], n_classes: int) -> dict[str, Any]:
    """Which measure tracks accuracy best (largest Pearson r), whether it beats counts, and
    whether it is significant with ``n_classes`` classes; ``text`` says it in one paragraph.

    Returns ``best``, ``r``, ``p``, ``significant``, ``beats_count`` (None when undefined) and
    ``text``. A significant negative r is named and explained, never left bare.
    """
    rows = {
        k: table[k]
        for k in VERDICT_MEASURES
        if isinstance(table.get(k), Mapping) and table[k].get("pearson") is not None
    }
    out: dict[str, Any] = dict.fromkeys(("best", "r", "p", "significant", "beats_count"))
    if not rows:
        out["text"] = "Too few classes with a probe accuracy to correlate (at least 3 needed)."
        return out
    best = max(rows, key=lambda k: rows[k]["pearson"])
    r, p = rows[best]["pearson"], rows[best].get("p_pearson")
    count_r = rows["count"]["pearson"] if "count" in rows else None
    out.update(best=best, r=r, p=p, significant=p is not None and p < SIGNIFICANCE and r > 0)
    out["beats_count"] = None if count_r is None or best == "count" else bool(r > count_r)
    parts = [f"Best tracker of per-class accuracy here: {_line(best, r, p, n_classes)}."]
    if count_r is not None and best != "count" and out["significant"]:
        parts.append(f"It beats image counts (r = {count_r:+.2f}).")
    elif count_r is not None and best != "count":
        parts.append(f"Ahead of image counts (r = {count_r:+.2f}), but within noise here.")
    elif best == "count":
        parts.append("No semantic measure beats image counts on this data.")
    if r <= 0:
        parts.append("No measure rises with accuracy: the premise that larger measures mean "
                     "easier classes does not hold on this data.")  # fmt: skip
    against = [
        k for k, v in rows.items()
        if v["pearson"] < 0 and (v.get("p_pearson") or 1.0) < SIGNIFICANCE
    ]  # fmt: skip
    if against:
        names = ", ".join(LABELS.get(k, k) for k in against)
        parts.append(f"Significantly negative: {names} — classes with larger values are "
                     "recognised worse here, the opposite of the paper's premise.")  # fmt: skip
    out["text"] = " ".join(parts)
    return out


def row_note(stats: Mapping[str, Any] | None, n_classes: int) -> str:
    """A table cell's note: ``"not significant with K classes"`` when p ≥ the level, a named
    opposite sign when a negative r is significant, else empty."""
    if not stats or stats.get("pearson") is None:
        return "undefined"
    p = stats.get("p_pearson")
    if p is None or p >= SIGNIFICANCE:
        return f"not significant with {n_classes} classes"
    if stats["pearson"] < 0:
        return "significant, opposite sign: larger values, lower accuracy"
    return "significant"
