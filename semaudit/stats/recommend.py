"""Which findings the per-class numbers support, as typed records; the words live in
``semaudit/wording.py`` (docs/architecture.md).

Kinds (each class appears under at most one, the first that applies):

1. ``few_images``: flagged few images or empty; too few images to trust any number.
2. ``need_more``: below the target saturation; how many more *diverse* images the fit says
   would reach it, as a range that widens as the fit weakens.
3. ``narrow_by_scale``: at least the median count but a bottom-quarter semantic scale,
   count-matched when available, lower than the median scale by more than its uncertainty
   (docs/decisions.md): "balanced by count, narrow by meaning".
4. ``low_accuracy``: a linear-probe accuracy under 80 % of the median class's.
5. ``saturated``: at or above the target; more of the same images will not widen the class.

Order (our choice): what most improves the weakest classes comes first. ``few_images`` first;
then kinds 2 to 4 together by a weakness score, the weighted mean of each class's rank by image
count (weight 2), by count-matched semantic scale (when those differ by 1.25× or more) and by
probe accuracy (when probed), each scaled to [0, 1], weakest first; ``saturated`` last. A
dataset-level ``count_driven`` record (no class) opens the list when the scale imbalance mostly
restates the count imbalance. Classes sharing a finding form one record when there are
``GROUP_AT`` or more of them (empty classes apart from merely small ones), so a long list says
different things. Ties break on the class name, so the list is deterministic.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from semaudit.errors import UsageError
from semaudit.values import finite

__all__ = [
    "GROUP_AT",
    "ClassStats",
    "CountDriven",
    "Finding",
    "Kind",
    "NeedMore",
    "Recommendation",
    "need_more_range",
    "recommend",
]

GROUP_AT = 4  # this many classes sharing a finding are said in one record
_FAR = 100  # need_more at or above this multiple of n: the curve has barely bent
_FEW_POINTS = 20  # below this many images the curve has too few points to place its ceiling
_LOW_ACCURACY = 0.8  # probe accuracy under this share of the median class's is "low"
_COUNT_DRIVEN = (1.5, 0.25, 0.7)  # scale ratio ≥, share of it left at equal counts ≤, rho ≥
_SPREAD = 1.25  # matched scales closer than this max/min ratio do not rank classes
_RELATIVE_GAP = 0.1  # without a std, a scale must be this share under the median to be narrow


class Kind(enum.StrEnum):
    """What a recommendation is about (summary.json's ``kind``)."""

    COUNT_DRIVEN = "count_driven"
    FEW_IMAGES = "few_images"
    NEED_MORE = "need_more"
    NARROW_BY_SCALE = "narrow_by_scale"
    LOW_ACCURACY = "low_accuracy"
    SATURATED = "saturated"


@dataclass(frozen=True)
class ClassStats:
    """One class's numbers, as read from ``classes.csv`` (None: missing)."""

    name: str
    n: int
    scale: float | None = None
    saturation: float | None = None
    need_more: float | None = None
    low: bool = False  # too few images (flagged few_images or empty, or n = 0)
    scale_matched: float | None = None
    scale_matched_std: float | None = None
    accuracy: float | None = None
    capped: bool = False  # need_more hit its cap


@dataclass(frozen=True)
class NeedMore:
    """``need_more`` with how far to trust it: ``low``–``high`` (``high`` None: open above)."""

    need: int
    reliability: str  # good | fair | weak | far
    low: int
    high: int | None


@dataclass(frozen=True)
class Finding:
    """One class inside a recommendation, with the numbers that support it."""

    name: str
    n: int
    saturation: float | None = None
    need: NeedMore | None = None
    accuracy: float | None = None
    scale: float | None = None  # narrow_by_scale: the scale compared
    scale_std: float | None = None  # … and its sampling std (``_uncertainty``; None: unknown)
    scale_rank: int | None = None  # … and its rank, 1 = smallest
    low_accuracy: bool = False  # the probe recognises it under 80 % as well as the median


@dataclass(frozen=True)
class CountDriven:
    """The scale imbalance mostly restates the count imbalance."""

    scale_ratio: float
    matched_ratio: float
    spearman: float


@dataclass(frozen=True)
class Recommendation:
    """One thing to do: a kind, the classes it concerns (weakest first) and the context."""

    kind: Kind
    classes: tuple[Finding, ...] = ()
    target: float = 0.9
    median_accuracy: float | None = None  # low accuracy: the median class's
    median_n: float | None = None  # narrow_by_scale: the median count …
    reference: float | None = None  # … the median scale compared with …
    reference_std: float | None = None  # … its std (median of the classes' stds)
    matched: bool = False  # … whether scales are count-matched
    count_driven: CountDriven | None = None


def need_more_range(need: int, saturation: float, n: int, *, capped: bool = False) -> NeedMore:
    """How far to trust ``need_more``.

    ``capped`` (or ≥ 100·n): the curve has barely bent, "far". Saturation under 0.5: the
    asymptote is not identified and the fit underestimates it (docs/method.md), so ``need`` is
    a floor, "weak". Under 0.8, or fewer than 20 images: within a factor 2, "fair". Otherwise a
    factor 1.5, "good".
    """
    if need <= 0:
        return NeedMore(need, "good", 0, 0)
    if capped or need >= _FAR * max(n, 1):
        return NeedMore(need, "far", need, None)
    if saturation < 0.5:
        return NeedMore(need, "weak", need, None)
    factor = 2.0 if saturation < 0.8 or n < _FEW_POINTS else 1.5
    reliability = "fair" if factor == 2.0 else "good"
    return NeedMore(need, reliability, max(1, math.floor(need / factor)), math.ceil(need * factor))


def _eligible(rows: Sequence[ClassStats]) -> list[ClassStats]:
    return [row for row in rows if not row.low and row.scale is not None]


def _ratio(values: Sequence[float | None]) -> float | None:
    found = [v for v in values if v is not None]
    if len(found) < 2 or min(found) <= 0:
        return None
    return max(found) / min(found)


def _weakness(rows: Sequence[ClassStats]) -> dict[str, float]:
    """Weighted mean of each class's rank by count (×2), by count-matched scale and by probe
    accuracy, each in [0, 1]; 0 = weakest. Matched scales count only when they differ by
    ``_SPREAD`` or more (below that their order is noise); missing accuracies are left out."""
    eligible = _eligible(rows)
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


def _uncertainty(eligible: Sequence[ClassStats], matched_m: int | None) -> list[float] | None:
    """Each matched scale's sampling std: its std over random m*-subsets ÷ √(1 − m*/n) (the
    subsets of one class overlap, and all are the class itself when n = m*), never below the
    median of these over the classes with n > m*. None when a std is missing or no class has
    more than m* images."""
    stds = [row.scale_matched_std for row in eligible]
    if any(s is None for s in stds):
        return None
    m = matched_m or min(row.n for row in eligible)
    own = [
        s / math.sqrt(1.0 - m / row.n) if row.n > m else None  # type: ignore[operator]
        for row, s in zip(eligible, stds, strict=True)
    ]
    known = [u for u in own if u is not None]
    if not known:
        return None
    floor = float(np.median(known))
    return [floor if u is None else max(u, floor) for u in own]


def _narrow(
    rows: Sequence[ClassStats], matched_m: int | None
) -> tuple[dict[str, Finding], Recommendation | None]:
    """Classes with n ≥ the median count, a bottom-quarter scale and a gap to the median scale
    larger than its uncertainty: the combined sampling std of the two (``_uncertainty``,
    docs/decisions.md), or, where none is known, ``_RELATIVE_GAP`` of the median. Count-matched
    scales when every eligible class has one (S grows with n, so raw scales would mostly point
    at small classes)."""
    eligible = _eligible(rows)
    if len(eligible) < 3:
        return {}, None
    matched = all(row.scale_matched is not None for row in eligible)
    scales = np.array([row.scale_matched if matched else row.scale for row in eligible], float)
    spread = _uncertainty(eligible, matched_m) if matched else None
    median_n = float(np.median([row.n for row in eligible]))
    reference = float(np.median(scales))
    reference_std = float(np.median(spread)) if spread else None
    bottom = max(1, len(eligible) // 4)
    found = {}
    for i, (row, scale) in enumerate(zip(eligible, scales, strict=True)):
        rank = 1 + int(np.sum(scales < scale))  # 1 = smallest; ties share the smallest rank
        std = spread[i] if spread else None
        noise = (
            math.hypot(std, reference_std)
            if std is not None and reference_std is not None
            else _RELATIVE_GAP * reference
        )
        if row.n < median_n or rank > bottom or reference - scale <= noise:
            continue
        found[row.name] = Finding(
            row.name, row.n, scale=float(scale), scale_std=std, scale_rank=rank
        )
    context = Recommendation(
        Kind.NARROW_BY_SCALE,
        median_n=median_n,
        reference=reference,
        reference_std=reference_std,
        matched=matched,
    )
    return found, context


def _count_driven(rows: Sequence[ClassStats]) -> CountDriven | None:
    """When the scale imbalance mostly restates the count imbalance."""
    eligible = _eligible(rows)
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
    return CountDriven(scale_ratio, matched_ratio, rho)


def _finding(
    row: ClassStats, narrow: dict[str, Finding], low_cut: float | None
) -> tuple[Kind, Finding] | None:
    """The class's one finding and its kind (the first that applies), or None."""
    if row.low:
        return Kind.FEW_IMAGES, Finding(row.name, row.n)
    if row.saturation is not None and row.need_more is not None and row.need_more > 0:
        need = need_more_range(int(row.need_more), row.saturation, row.n, capped=row.capped)
        weak = row.accuracy is not None and low_cut is not None and row.accuracy < low_cut
        finding = Finding(row.name, row.n, row.saturation, need, row.accuracy, low_accuracy=weak)
        return Kind.NEED_MORE, finding
    if row.name in narrow:
        return Kind.NARROW_BY_SCALE, narrow[row.name]
    if row.accuracy is not None and low_cut is not None and row.accuracy < low_cut:
        finding = Finding(row.name, row.n, row.saturation, accuracy=row.accuracy, low_accuracy=True)
        return Kind.LOW_ACCURACY, finding
    if row.saturation is not None and row.need_more is not None:
        return Kind.SATURATED, Finding(row.name, row.n, row.saturation)
    return None  # no fit and nothing else to say


def _group_key(kind: Kind, finding: Finding) -> tuple[Kind, bool, bool]:
    """Classes that share a finding: same kind; empty apart from small; a need_more class the
    probe also recognises poorly apart from the others."""
    return kind, kind is Kind.FEW_IMAGES and finding.n == 0, finding.low_accuracy


def _sort_key(kind: Kind, finding: Finding, weakness: dict[str, float]) -> tuple[int, float, str]:
    if kind is Kind.FEW_IMAGES:
        return 0, float(finding.n), finding.name
    if kind is Kind.SATURATED:
        return 2, -float(finding.saturation or 0.0), finding.name
    return 1, weakness.get(finding.name, 0.0), finding.name


def recommend(
    rows: Sequence[ClassStats],
    *,
    target: float = 0.9,
    limit: int = 10,
    matched_m: int | None = None,
) -> list[Recommendation]:
    """A ranked short list of findings (see the module docstring); ``limit`` caps it.
    ``matched_m`` is m* of the matched scales (default: the smallest eligible class)."""
    if not 0.0 < target < 1.0:
        raise UsageError(f"target must lie in (0, 1); received {target!r}.")
    if limit < 0:
        raise UsageError(f"limit must be >= 0; received {limit}.")
    rows = sorted(rows, key=lambda row: row.name)
    accuracies = [row.accuracy for row in rows if not row.low and row.accuracy is not None]
    median_accuracy = float(np.median(accuracies)) if accuracies else None
    low_cut = None if median_accuracy is None else _LOW_ACCURACY * median_accuracy
    weakness = _weakness(rows)
    narrow, narrow_context = _narrow(rows, matched_m)
    ranked = []
    for row in rows:
        found = _finding(row, narrow, low_cut)
        if found is not None:
            kind, finding = found
            ranked.append((_sort_key(kind, finding, weakness), kind, finding))
    ranked.sort(key=lambda entry: entry[0])
    groups: dict[tuple[Kind, bool, bool], list[Finding]] = {}
    for _, kind, finding in ranked:
        groups.setdefault(_group_key(kind, finding), []).append(finding)
    shared = {"target": target, "median_accuracy": median_accuracy}
    out: list[Recommendation] = []
    for _, kind, finding in ranked:
        members = groups[_group_key(kind, finding)]
        if len(members) >= GROUP_AT and finding is not members[0]:
            continue  # said by the group's record, at its weakest member's place
        classes = tuple(members) if len(members) >= GROUP_AT else (finding,)
        base = narrow_context if kind is Kind.NARROW_BY_SCALE else None
        out.append(_record(kind, classes, base, shared))
    dataset = _count_driven(rows)
    head = [Recommendation(Kind.COUNT_DRIVEN, count_driven=dataset)] if dataset else []
    return [*head, *out][:limit]


def _record(
    kind: Kind, classes: tuple[Finding, ...], base: Recommendation | None, shared: dict[str, Any]
) -> Recommendation:
    if base is not None:
        return Recommendation(
            kind,
            classes,
            shared["target"],
            shared["median_accuracy"],
            base.median_n,
            base.reference,
            base.reference_std,
            base.matched,
        )
    return Recommendation(kind, classes, shared["target"], shared["median_accuracy"])
