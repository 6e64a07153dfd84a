"""Plain-language recommendations from the per-class table (``classes.csv``).

Four kinds, ranked by how much a dataset owner can act on them:

1. ``need_more``: below the target saturation; the fit says how many more *diverse* images
   would reach it (largest first).
2. ``narrow_by_scale``: at least the median count but a bottom-quarter semantic scale,
   count-matched when available ("balanced by count, narrow by meaning"; narrowest first).
3. ``saturated``: at or above the target; more of the same images will not widen the class
   (most saturated first).
4. ``few_images``: too few images (flag ``few_images`` or ``empty``) to trust any number
   (fewest first).

Each class appears at most once, under its highest-ranked kind; flagged classes only as
``few_images``. Ties break on the class name, so the list is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from semaudit.errors import UsageError
from semaudit.values import finite

__all__ = ["recommendations"]

_REQUIRED = ("class", "n", "scale", "saturation", "need_more", "flags")
_LOW_FLAGS = frozenset({"few_images", "empty"})
_FAR = 100  # need_more at or above this multiple of n: the curve has barely bent


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


def _need_more_item(
    name: str, n: int, saturation: float, need: int, target: float
) -> dict[str, Any]:
    if need >= _FAR * max(n, 1):
        text = (
            f"{name} is at {saturation:.0%} of its semantic scale and its curve has barely "
            f"started to level off: it needs many more diverse images (over ~{_approx(need)})."
        )
    else:
        text = (
            f"{name} is at {saturation:.0%} of its semantic scale: ~{_approx(need)} more "
            f"diverse images would reach {target:.0%}."
        )
    return {
        "kind": "need_more",
        "class": name,
        "text": text,
        "need_more": need,
        "saturation": saturation,
        "n": n,
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


@dataclass(frozen=True)
class _Row:
    name: str
    n: int
    scale: float | None
    saturation: float | None
    need_more: float | None
    low: bool  # flagged few_images / empty, or no images
    scale_matched: float | None = None


def _rows(classes: pd.DataFrame) -> list[_Row]:
    rows = []
    for record in classes.to_dict("records"):
        n = int(finite(record["n"]) or 0)
        rows.append(
            _Row(
                name=str(record["class"]),
                n=n,
                scale=finite(record["scale"]),
                saturation=finite(record["saturation"]),
                need_more=finite(record["need_more"]),
                low=n <= 0 or bool(_flags(record["flags"]) & _LOW_FLAGS),
                scale_matched=finite(record.get("scale_matched")),
            )
        )
    return sorted(rows, key=lambda row: row.name)


def _narrow_basis(rows: list[_Row]) -> tuple[list[_Row], np.ndarray, str]:
    """Eligible rows and the scale to rank them by: count-matched when every one has it."""
    eligible = [row for row in rows if not row.low and row.scale is not None]
    if eligible and all(row.scale_matched is not None for row in eligible):
        return eligible, np.array([row.scale_matched for row in eligible]), " at equal image counts"
    return eligible, np.array([row.scale for row in eligible], dtype=np.float64), ""


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
    items.sort(key=lambda item: (item["scale"], item["class"]))
    return items


def recommendations(
    classes: pd.DataFrame, *, target: float = 0.9, limit: int = 10
) -> list[dict[str, Any]]:
    """A ranked short list of ``{"kind", "class", "text", ...}`` from ``classes.csv`` columns.

    Missing values are NaN (as ``store.load_audit`` reads them). ``target`` is the saturation
    the fit aimed at; ``limit`` caps the list.
    """
    missing = [c for c in _REQUIRED if c not in classes.columns]
    if missing:
        raise UsageError(f"classes table lacks columns {missing}; pass classes.csv as loaded.")
    if not 0.0 < target < 1.0:
        raise UsageError(f"target must lie in (0, 1); received {target!r}.")
    if limit < 0:
        raise UsageError(f"limit must be >= 0; received {limit}.")
    rows = _rows(classes)
    need, saturated, few = [], [], []
    for row in rows:
        if row.low:
            few.append(_few_item(row.name, row.n))
        elif row.saturation is None or row.need_more is None:
            continue  # no fit: nothing to say about saturation
        elif row.need_more > 0:
            need.append(
                _need_more_item(row.name, row.n, row.saturation, int(row.need_more), target)
            )
        else:
            saturated.append(_saturated_item(row.name, row.n, row.saturation))
    need.sort(key=lambda item: (-item["need_more"], item["class"]))
    saturated.sort(key=lambda item: (-item["saturation"], item["class"]))
    few.sort(key=lambda item: (item["n"], item["class"]))
    ranked: list[dict[str, Any]] = []
    seen: set[str] = set()
    for item in [*need, *_narrow_items(rows), *saturated, *few]:
        if item["class"] not in seen:
            seen.add(item["class"])
            ranked.append(item)
    return ranked[:limit]
