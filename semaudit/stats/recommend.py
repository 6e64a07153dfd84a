"""Plain-language recommendations from the per-class table (``classes.csv``).

Kinds (each class appears at most once, under the first kind that applies):

1. ``few_images``: flag ``few_images`` or ``empty``; too few images to trust any number.
2. ``need_more``: below the target saturation; how many more *diverse* images the fit says
   would reach it, as a range that widens as the fit weakens ("at least ~N", "far more").
3. ``narrow_by_scale``: at least the median count but a bottom-quarter semantic scale,
   count-matched when available ("balanced by count, narrow by meaning").
4. ``low_accuracy``: a linear-probe accuracy under 80 % of the median class's.
5. ``saturated``: at or above the target; more of the same images will not widen the class.

Order (our choice): what most improves the weakest classes comes first. ``few_images`` first;
then kinds 2 to 4 together by a weakness score, the weighted mean of each class's rank by image
count (weight 2), by count-matched semantic scale (when those differ by 1.25× or more) and by
probe accuracy (when probed), each scaled to [0, 1], weakest first; ``saturated`` last. A
dataset-level ``count_driven`` item (no ``class`` key) opens the list when the scale imbalance
mostly restates the count imbalance. Ties break on the class name, so the list is deterministic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from semaudit.errors import UsageError
from semaudit.values import finite

__all__ = ["need_more_label", "need_more_range", "recommendations", "saturation_label"]

_REQUIRED = ("class", "n", "scale", "saturation", "need_more", "flags")
_LOW_FLAGS = frozenset({"few_images", "empty"})
_FAR = 100  # need_more at or above this multiple of n: the curve has barely bent
_FEW_POINTS = 20  # below this many images the curve has too few points to place its ceiling
_LOW_ACCURACY = 0.8  # probe accuracy under this share of the median class's is "low"
_COUNT_DRIVEN = (1.5, 0.25, 0.7)  # scale ratio ≥, share of it left at equal counts ≤, rho ≥
_SPREAD = 1.25  # matched scales closer than this max/min ratio do not rank classes


def _flags(value: Any) -> set[str]:
    if not isinstance(value, str):
        return set()
    return {flag.strip() for flag in value.split(";") if flag.strip()}


def _ordinal(k: int) -> str:
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"


def _approx(count: int) -> str:
    """An estimate as people say it: exact below 100, two significant digits above."""
    if count < 100:
        return str(count)
    digits = len(str(count)) - 2
    return f"{round(count, -digits):,}"


def need_more_range(
    need: int, saturation: float, n: int, *, capped: bool = False
) -> tuple[str, int, int | None]:
    """How far to trust ``need_more``: ``(reliability, low, high)``; ``high`` None = open.

    ``capped`` (or ≥ 100·n): the curve has barely bent, "far more". Saturation under 0.5: the
    asymptote is not identified and the fit underestimates it (docs/method.md), so ``need`` is
    a floor. Under 0.8, or fewer than 20 images: within a factor 2. Otherwise a factor 1.5.
    """
    if need <= 0:
        return "good", 0, 0
    if capped or need >= _FAR * max(n, 1):
        return "far", need, None
    if saturation < 0.5:
        return "weak", need, None
    factor = 2.0 if saturation < 0.8 or n < _FEW_POINTS else 1.5
    reliability = "fair" if factor == 2.0 else "good"
    return reliability, max(1, math.floor(need / factor)), math.ceil(need * factor)


def need_more_label(row: dict[str, Any]) -> str:
    """``need_more`` of one ``classes.csv`` row as the scan table shows it: a range, not a count."""
    need, saturation = finite(row.get("need_more")), finite(row.get("saturation"))
    if need is None or saturation is None:
        return ""
    n = int(finite(row.get("n")) or 0)
    kind, low, high = need_more_range(
        int(need), saturation, n, capped="need_more_capped" in _flags(row.get("flags"))
    )
    if need <= 0:
        return "0"
    if kind == "far":
        return f"≫ {_approx(low)}"
    if high is None:
        return f"≥ {_approx(low)}"
    return f"{_approx(low)}–{_approx(high)}"


def saturation_label(row: dict[str, Any]) -> str:
    """``saturation`` of one ``classes.csv`` row, no more precise than its fit: ``97%``,
    ``~55%`` (a factor-2 fit, rounded to 5 %), ``< 50%`` (the asymptote is not identified)."""
    saturation, need = finite(row.get("saturation")), finite(row.get("need_more"))
    if saturation is None:
        return ""
    if saturation < 0.5:
        return "< 50%"
    n = int(finite(row.get("n")) or 0)
    capped = "need_more_capped" in _flags(row.get("flags"))
    reliability, _, _ = need_more_range(int(need or 0), saturation, n, capped=capped)
    return f"~{5 * round(saturation * 20)}%" if reliability == "fair" else f"{saturation:.0%}"


def _where(name: str, n: int, saturation: float, reliability: str) -> str:
    """Where a class stands, no more precise than the fit: "about 65%", "under half"."""
    head = f"{name} ({n:,} image{'s' if n != 1 else ''})"
    if reliability == "far":
        return f"{head} is far from the ceiling of its semantic scale"
    if reliability == "weak":
        return f"{head} is under half of its semantic scale"
    about = f"about {5 * round(saturation * 20)}%" if reliability == "fair" else f"{saturation:.0%}"
    return f"{head} is at {about} of its semantic scale"


@dataclass(frozen=True)
class _Row:
    name: str
    n: int
    scale: float | None
    saturation: float | None
    need_more: float | None
    low: bool  # flagged few_images / empty, or no images
    scale_matched: float | None = None
    accuracy: float | None = None
    capped: bool = False


def _rows(classes: pd.DataFrame) -> list[_Row]:
    rows = []
    for record in classes.to_dict("records"):
        n = int(finite(record["n"]) or 0)
        flags = _flags(record["flags"])
        rows.append(
            _Row(
                name=str(record["class"]),
                n=n,
                scale=finite(record["scale"]),
                saturation=finite(record["saturation"]),
                need_more=finite(record["need_more"]),
                low=n <= 0 or bool(flags & _LOW_FLAGS),
                scale_matched=finite(record.get("scale_matched")),
                accuracy=finite(record.get("probe_accuracy")),
                capped="need_more_capped" in flags,
            )
        )
    return sorted(rows, key=lambda row: row.name)


def _narrow_basis(rows: list[_Row]) -> tuple[list[_Row], np.ndarray, str]:
    """Eligible rows and the scale to rank them by: count-matched when every one has it."""
    eligible = [row for row in rows if not row.low and row.scale is not None]
    if eligible and all(row.scale_matched is not None for row in eligible):
        return eligible, np.array([row.scale_matched for row in eligible]), " at equal image counts"
    return eligible, np.array([row.scale for row in eligible], dtype=np.float64), ""


def _weakness(rows: list[_Row]) -> dict[str, float]:
    """Weighted mean of each class's rank by count (×2), by count-matched scale and by probe
    accuracy, each in [0, 1]; 0 = weakest. Matched scales count only when they differ by
    ``_SPREAD`` or more (below that their order is noise); missing accuracies are left out."""
    eligible = [row for row in rows if not row.low and row.scale is not None]
    if not eligible:
        return {}
    matched = [row.scale_matched for row in eligible]
    spread = all(m is not None for m in matched) and (_ratio(matched) or 0.0) >= _SPREAD
    frame = pd.DataFrame(
        {
            "n": [row.n for row in eligible],
            "scale": [m if spread else np.nan for m in matched],
            "accuracy": [np.nan if row.accuracy is None else row.accuracy for row in eligible],
        },
        index=[row.name for row in eligible],
        dtype=float,
    )
    ranks = frame.rank(method="average")
    ranks = (ranks - 1) / max(len(frame) - 1, 1)
    weights = pd.Series({"n": 2.0, "scale": 1.0, "accuracy": 1.0})
    present = ranks.notna().astype(float) * weights
    score = (ranks.fillna(0.0) * weights).sum(axis=1) / present.sum(axis=1)
    return {str(name): float(value) for name, value in score.items()}


def _accuracy_note(row: _Row, median: float | None) -> str:
    if row.accuracy is None or median is None or row.accuracy >= _LOW_ACCURACY * median:
        return ""
    return (
        f" The linear probe recognises only {row.accuracy:.0%} of it (median class {median:.0%})."
    )


def _need_more_item(row: _Row, target: float, median_accuracy: float | None) -> dict[str, Any]:
    need, saturation = int(row.need_more or 0), float(row.saturation or 0.0)
    reliability, low, high = need_more_range(need, saturation, row.n, capped=row.capped)
    where = _where(row.name, row.n, saturation, reliability)
    if reliability == "far":
        text = (
            f"{where} and its curve has barely started to level off: it needs far more diverse "
            f"images (over ~{_approx(need)})."
        )
    elif high is None:
        text = (
            f"{where}: at least ~{_approx(need)} more diverse images to reach {target:.0%} "
            "(an order of magnitude: the curve is too far from its ceiling to place it)."
        )
    else:
        text = (
            f"{where}: ~{_approx(low)}–{_approx(high)} more diverse images would reach "
            f"{target:.0%}."
        )
    return {
        "kind": "need_more",
        "class": row.name,
        "text": text + _accuracy_note(row, median_accuracy),
        "need_more": need,
        "need_more_low": low,
        "need_more_high": high,
        "reliability": reliability,
        "saturation": saturation,
        "n": row.n,
        "probe_accuracy": row.accuracy,
    }


def _saturated_item(name: str, n: int, saturation: float) -> dict[str, Any]:
    text = (
        f"{name} is saturated ({saturation:.0%}): more of the same images will not widen it; "
        "add different ones or stop collecting."
    )
    return {
        "kind": "saturated",
        "class": name,
        "text": text,
        "need_more": 0,
        "saturation": saturation,
        "n": n,
    }


def _few_item(name: str, n: int) -> dict[str, Any]:
    if n <= 0:
        text = f"{name} has no images: add some or remove the class."
    else:
        text = (
            f"{name} has only {n} image{'s' if n != 1 else ''}: too few to measure its "
            "semantic scale; add more before trusting its numbers."
        )
    return {"kind": "few_images", "class": name, "text": text, "n": n}


def _low_accuracy_item(row: _Row, median: float) -> dict[str, Any]:
    text = (
        f"{row.name}: the linear probe recognises only {row.accuracy:.0%} of its images "
        f"(median class {median:.0%}); it overlaps other classes: check its labels and add "
        "images that tell it apart."
    )
    return {
        "kind": "low_accuracy",
        "class": row.name,
        "text": text,
        "n": row.n,
        "probe_accuracy": row.accuracy,
    }


def _narrow_items(rows: list[_Row]) -> list[dict[str, Any]]:
    """Classes with n ≥ the median count and a scale in the bottom quarter (at least one).

    Scales are the count-matched ones when every eligible class has one (S grows with n, so raw
    scales would mostly point at small classes), the raw ones otherwise.
    """
    eligible, scales, basis = _narrow_basis(rows)
    if len(eligible) < 3:
        return []
    median = float(np.median([row.n for row in eligible]))
    bottom = max(1, len(eligible) // 4)
    items = []
    for row, scale in zip(eligible, scales, strict=True):
        rank = 1 + int(np.sum(scales < scale))  # 1 = smallest; ties share the smallest rank
        if row.n < median or rank > bottom:
            continue
        if abs(row.n - median) <= 0.1 * median:
            count_text = "as many images as the median class"
        else:
            count_text = f"more images than the median class ({row.n} vs {median:g})"
        which = "smallest" if rank == 1 else f"{_ordinal(rank)}-smallest"
        text = (
            f"{row.name} has {count_text} but the {which} semantic scale{basis}: "
            "balanced by count, narrow by meaning."
        )
        items.append(
            {
                "kind": "narrow_by_scale",
                "class": row.name,
                "text": text,
                "n": row.n,
                "scale": float(scale),
                "scale_rank": rank,
                "basis": "scale_matched" if basis else "scale",
            }
        )
    return items


def _ratio(values: list[float | None]) -> float | None:
    found = [v for v in values if v is not None]
    if len(found) < 2 or min(found) <= 0:
        return None
    return max(found) / min(found)


def _count_driven_item(rows: list[_Row]) -> dict[str, Any] | None:
    """One sentence when the scale imbalance mostly restates the count imbalance."""
    eligible = [row for row in rows if not row.low and row.scale is not None]
    if len(eligible) < 3 or any(row.scale_matched is None for row in eligible):
        return None
    scale_ratio = _ratio([row.scale for row in eligible])
    matched_ratio = _ratio([row.scale_matched for row in eligible])
    n = pd.Series([row.n for row in eligible], dtype=float)
    s = pd.Series([row.scale for row in eligible], dtype=float)
    rho = finite(n.rank().corr(s.rank()))
    low_ratio, left, low_rho = _COUNT_DRIVEN
    if scale_ratio is None or matched_ratio is None or rho is None:
        return None
    if scale_ratio < low_ratio or (matched_ratio - 1) > left * (scale_ratio - 1) or rho < low_rho:
        return None
    text = (
        f"The scale imbalance is mostly count-driven: the scale ratio of {scale_ratio:.2f}× "
        f"falls to {matched_ratio:.2f}× at equal image counts and ρ(count, S) = {rho:.2f}, "
        "so balancing image counts addresses most of it."
    )
    return {
        "kind": "count_driven",
        "text": text,
        "scale_ratio": scale_ratio,
        "matched_scale_ratio": matched_ratio,
        "spearman_count_scale": rho,
    }


def recommendations(
    classes: pd.DataFrame, *, target: float = 0.9, limit: int = 10
) -> list[dict[str, Any]]:
    """A ranked short list of ``{"kind", "class", "text", ...}`` from ``classes.csv`` columns.

    Missing values are NaN (as ``store.load_audit`` reads them); ``scale_matched`` and
    ``probe_accuracy`` are used when present. ``target`` is the saturation the fit aimed at;
    ``limit`` caps the list.
    """
    missing = [c for c in _REQUIRED if c not in classes.columns]
    if missing:
        raise UsageError(f"classes table lacks columns {missing}; pass classes.csv as loaded.")
    if not 0.0 < target < 1.0:
        raise UsageError(f"target must lie in (0, 1); received {target!r}.")
    if limit < 0:
        raise UsageError(f"limit must be >= 0; received {limit}.")
    rows = _rows(classes)
    accuracies = [row.accuracy for row in rows if not row.low and row.accuracy is not None]
    median_accuracy = float(np.median(accuracies)) if accuracies else None
    weakness = _weakness(rows)
    by_class: dict[str, dict[str, Any]] = {}
    narrow = {item["class"]: item for item in _narrow_items(rows)}
    for row in rows:
        if row.low:
            item = _few_item(row.name, row.n)
        elif row.saturation is not None and row.need_more is not None and row.need_more > 0:
            item = _need_more_item(row, target, median_accuracy)
        elif row.name in narrow:
            item = narrow[row.name]
        elif _accuracy_note(row, median_accuracy):
            item = _low_accuracy_item(row, median_accuracy)  # type: ignore[arg-type]
        elif row.saturation is not None and row.need_more is not None:
            item = _saturated_item(row.name, row.n, row.saturation)
        else:
            continue  # no fit and nothing else to say
        by_class[row.name] = item

    def order(item: dict[str, Any]) -> tuple[int, float, str]:
        name = item["class"]
        if item["kind"] == "few_images":
            return 0, float(by_class[name]["n"]), name
        if item["kind"] == "saturated":
            return 2, -float(item["saturation"]), name
        return 1, weakness.get(name, 0.0), name

    ranked = sorted(by_class.values(), key=order)
    dataset = _count_driven_item(rows)
    head = [dataset] if dataset is not None else []
    return [*head, *ranked][:limit]
