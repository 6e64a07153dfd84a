"""The recommendations and the per-class labels as people read them.

``semaudit.stats.recommend`` decides which findings the numbers support (typed records); this
module reads the classes table into its inputs (flags through ``store.Flag``) and words the
records: summary.json's ``recommendations`` entries (``text``, ``kind``, ``classes``), and the
``saturation`` / ``need more`` labels of the scan table and the report. Class names are quoted
in sentences (``class '9'``), so a numeric name never reads as a count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from semaudit.errors import UsageError
from semaudit.stats.recommend import (
    ClassStats,
    Finding,
    Kind,
    NeedMore,
    Recommendation,
    need_more_range,
    recommend,
)
from semaudit.store.schema import Flag
from semaudit.values import finite, plural

__all__ = [
    "class_stats",
    "need_more_label",
    "quote",
    "recommendations",
    "saturation_label",
    "sentence",
]

_REQUIRED = ("class", "n", "scale", "saturation", "need_more", "flags")
_LOW = frozenset({Flag.FEW_IMAGES, Flag.EMPTY})
_SHOWN = 3  # classes named (with their numbers) before "…" in a group's sentence


def quote(name: object) -> str:
    """A class name inside a sentence: ``'9'``, never a bare ``9``."""
    return f"'{name}'"


def _ordinal(k: int) -> str:
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"


def approx(count: float) -> str:
    """An estimate as people say it: exact below 100, two significant digits above."""
    count = int(count)
    if count < 100:
        return str(count)
    return f"{round(count, -(len(str(count)) - 2)):,}"


def class_stats(classes: pd.DataFrame) -> list[ClassStats]:
    """The recommendation inputs of a ``classes.csv`` table (missing values NaN)."""
    missing = [c for c in _REQUIRED if c not in classes.columns]
    if missing:
        raise UsageError(f"classes table lacks columns {missing}; pass classes.csv as loaded.")
    rows = []
    for record in classes.to_dict("records"):
        n = int(finite(record["n"]) or 0)
        flags = Flag.parse(record["flags"])
        rows.append(
            ClassStats(
                name=str(record["class"]),
                n=n,
                scale=finite(record["scale"]),
                saturation=finite(record["saturation"]),
                need_more=finite(record["need_more"]),
                low=n <= 0 or bool(flags & _LOW),
                scale_matched=finite(record.get("scale_matched")),
                scale_matched_std=finite(record.get("scale_matched_std")),
                accuracy=finite(record.get("probe_accuracy")),
                capped=Flag.NEED_MORE_CAPPED in flags,
            )
        )
    return rows


def need_more_label(row: Mapping[str, Any]) -> str:
    """``need_more`` of one ``classes.csv`` row as a range, not a count: ``190–420``, ``≥ 32``."""
    need, saturation = finite(row.get("need_more")), finite(row.get("saturation"))
    if need is None or saturation is None:
        return ""
    n = int(finite(row.get("n")) or 0)
    capped = Flag.NEED_MORE_CAPPED in Flag.parse(row.get("flags"))
    return _range(need_more_range(int(need), saturation, n, capped=capped))


def _range(need: NeedMore) -> str:
    if need.need <= 0:
        return "0"
    if need.reliability == "far":
        return f"≫ {approx(need.low)}"
    if need.high is None:
        return f"≥ {approx(need.low)}"
    return f"{approx(need.low)}–{approx(need.high)}"


def saturation_label(row: Mapping[str, Any]) -> str:
    """``saturation`` of one ``classes.csv`` row, no more precise than its fit: ``97%``,
    ``~55%`` (a factor-2 fit, rounded to 5 %), ``< 50%`` (the asymptote is not identified)."""
    saturation, need = finite(row.get("saturation")), finite(row.get("need_more"))
    if saturation is None:
        return ""
    if saturation < 0.5:
        return "< 50%"
    n = int(finite(row.get("n")) or 0)
    capped = Flag.NEED_MORE_CAPPED in Flag.parse(row.get("flags"))
    fit = need_more_range(int(need or 0), saturation, n, capped=capped)
    return _about(saturation, "~") if fit.reliability == "fair" else f"{saturation:.0%}"


def _about(saturation: float, mark: str = "about ") -> str:
    return f"{mark}{5 * round(saturation * 20)}%"


def _where(f: Finding) -> str:
    """Where a class stands, no more precise than the fit: "about 65%", "under half"."""
    head = f"class {quote(f.name)} ({plural(f.n, 'image')})"
    reliability = f.need.reliability if f.need else "good"
    if reliability == "far":
        return f"{head} is far from the ceiling of its semantic scale"
    if reliability == "weak":
        return f"{head} is under half of its semantic scale"
    saturation = f.saturation or 0.0
    about = _about(saturation) if reliability == "fair" else f"{saturation:.0%}"
    return f"{head} is at {about} of its semantic scale"


def _need_more(rec: Recommendation, f: Finding) -> str:
    assert f.need is not None
    where, need, target = _where(f), f.need, f"{rec.target:.0%}"
    if need.reliability == "far":
        text = (
            f"{where} and its curve has barely started to level off: it needs far more "
            f"diverse images (over ~{approx(need.need)})."
        )
    elif need.high is None:
        text = (
            f"{where}: at least ~{approx(need.need)} more diverse images to reach {target} "
            "(an order of magnitude: the curve is too far from its ceiling to place it)."
        )
    else:
        text = (
            f"{where}: ~{approx(need.low)}–{approx(need.high)} more diverse images would "
            f"reach {target}."
        )
    if f.low_accuracy and rec.median_accuracy is not None:
        text += (
            f" The linear probe recognises only {f.accuracy:.0%} of it (median class "
            f"{rec.median_accuracy:.0%})."
        )
    return text


def _scale_text(rec: Recommendation, f: Finding) -> str:
    """``14.0 ± 0.8 vs a median 21.0 ± 0.9`` (± when the stds are known)."""
    own = f"{f.scale:.2f}" + (f" ± {f.scale_std:.2f}" if f.scale_std is not None else "")
    ref = f"{rec.reference:.2f}" + (
        f" ± {rec.reference_std:.2f}" if rec.reference_std is not None else ""
    )
    return f"{own} vs a median {ref}"


def _narrow(rec: Recommendation, f: Finding) -> str:
    median = rec.median_n or 0.0
    if abs(f.n - median) <= 0.1 * median:
        count_text = "as many images as the median class"
    else:
        count_text = f"more images than the median class ({f.n:,} vs {median:g})"
    rank = f.scale_rank or 1
    which = "smallest" if rank == 1 else f"{_ordinal(rank)}-smallest"
    basis = " at equal image counts" if rec.matched else ""
    return (
        f"class {quote(f.name)} has {count_text} but the {which} semantic scale{basis} "
        f"({_scale_text(rec, f)}): balanced by count, narrow by meaning."
    )


def _one(rec: Recommendation, f: Finding) -> str:
    """The sentence of a one-class recommendation."""
    name = f"class {quote(f.name)}"
    if rec.kind is Kind.FEW_IMAGES:
        if f.n <= 0:
            return f"{name} has no images: add some or remove the class."
        return (
            f"{name} has only {plural(f.n, 'image')}: too few to measure its semantic "
            "scale; add more before trusting its numbers."
        )
    if rec.kind is Kind.NEED_MORE:
        return _need_more(rec, f)
    if rec.kind is Kind.NARROW_BY_SCALE:
        return _narrow(rec, f)
    if rec.kind is Kind.LOW_ACCURACY:
        return (
            f"{name}: the linear probe recognises only {f.accuracy:.0%} of its images "
            f"(median class {rec.median_accuracy:.0%}); it overlaps other classes: check "
            "its labels and add images that tell it apart."
        )
    return (
        f"{name} is saturated ({f.saturation:.0%}): more of the same images will not "
        "widen it; add different ones or stop collecting."
    )


def _detail(rec: Recommendation, f: Finding) -> str:
    """A group member's number in brackets: its range, accuracy or scale."""
    if rec.kind is Kind.NEED_MORE and f.need is not None:
        return f" ({plural(f.n, 'image')}, {_range(f.need)} more)"
    if rec.kind is Kind.NARROW_BY_SCALE:
        return f" ({f.scale:.2f}" + (f" ± {f.scale_std:.2f})" if f.scale_std is not None else ")")
    if rec.kind is Kind.LOW_ACCURACY:
        return f" ({f.accuracy:.0%})"
    return ""


def _names(rec: Recommendation) -> str:
    """``'a' (…), 'b' (…), 'c' (…), … 'z'``: the first few with numbers, then the last."""
    found = rec.classes
    shown = [quote(f.name) + _detail(rec, f) for f in found[: _SHOWN + 1]]
    if len(found) <= _SHOWN + 1:
        return ", ".join(shown)
    return f"{', '.join(shown[:_SHOWN])}, … {quote(found[-1].name)}"


def _group(rec: Recommendation) -> str:
    """The sentence of a recommendation about several classes, weakest first."""
    k, names = len(rec.classes), _names(rec)
    if rec.kind is Kind.FEW_IMAGES:
        if rec.classes[0].n <= 0:
            return f"{k:,} classes have no images: {names}; add some or remove them."
        few, most = min(f.n for f in rec.classes), max(f.n for f in rec.classes)
        counts = f"{few}–{most}" if few < most else f"{most}"
        return (
            f"{k:,} classes have only {counts} images each: {names}; too few to "
            "measure their semantic scale: add more before trusting their numbers."
        )
    if rec.kind is Kind.NEED_MORE:
        overlap = (
            f"; the linear probe also recognises them poorly (median class "
            f"{rec.median_accuracy:.0%}): check their labels"
            if rec.classes[0].low_accuracy and rec.median_accuracy is not None
            else ""
        )
        return (
            f"{k:,} classes are below {rec.target:.0%} of their semantic scale, weakest "
            f"first: {names}; add diverse images to them (need_more in classes.csv){overlap}."
        )
    if rec.kind is Kind.NARROW_BY_SCALE:
        basis = " at equal image counts" if rec.matched else ""
        return (
            f"{k:,} classes have at least the median count but a bottom-quarter semantic "
            f"scale{basis}, below the median {rec.reference:.2f} beyond its uncertainty: "
            f"{names}; balanced by count, narrow by meaning."
        )
    if rec.kind is Kind.LOW_ACCURACY:
        return (
            f"{k:,} classes are recognised by the linear probe far less often than the "
            f"median class ({rec.median_accuracy:.0%}): {names}; they overlap other "
            "classes: check their labels and add images that tell them apart."
        )
    low = min(f.saturation or 0.0 for f in rec.classes)
    return (
        f"{k:,} classes are saturated (at least {low:.0%}): {names}; more of the same "
        "images will not widen them: add different ones or stop collecting."
    )


def sentence(rec: Recommendation) -> str:
    """What a recommendation says, in one paragraph."""
    if rec.kind is Kind.COUNT_DRIVEN:
        c = rec.count_driven
        assert c is not None
        return (
            f"The scale imbalance is mostly count-driven: the scale ratio of "
            f"{c.scale_ratio:.2f}× falls to {c.matched_ratio:.2f}× at equal image counts "
            f"and ρ(count, S) = {c.spearman:.2f}, so balancing image counts addresses most "
            "of it."
        )
    if len(rec.classes) == 1:
        return _one(rec, rec.classes[0])
    return _group(rec)


def _numbers(rec: Recommendation) -> dict[str, Any]:
    """The first (weakest) class's numbers, under the keys summary.json has always used."""
    f = rec.classes[0]
    out: dict[str, Any] = {"n": f.n}
    if rec.kind is Kind.NEED_MORE and f.need is not None:
        out.update(
            need_more=f.need.need,
            need_more_low=f.need.low,
            need_more_high=f.need.high,
            reliability=f.need.reliability,
            saturation=f.saturation,
            probe_accuracy=f.accuracy,
        )
    elif rec.kind is Kind.NARROW_BY_SCALE:
        out.update(
            scale=f.scale,
            scale_std=f.scale_std,
            scale_rank=f.scale_rank,
            basis="scale_matched" if rec.matched else "scale",
            median_scale=rec.reference,
            median_scale_std=rec.reference_std,
        )
    elif rec.kind is Kind.LOW_ACCURACY:
        out["probe_accuracy"] = f.accuracy
    elif rec.kind is Kind.SATURATED:
        out.update(need_more=0, saturation=f.saturation)
    return out


def as_dict(rec: Recommendation) -> dict[str, Any]:
    """A summary.json ``recommendations`` entry: ``kind``, ``text``; for class findings also
    ``class`` (the first, weakest), ``classes`` (all) and the first class's numbers."""
    entry: dict[str, Any] = {"kind": str(rec.kind), "text": sentence(rec)}
    if rec.kind is Kind.COUNT_DRIVEN:
        c = rec.count_driven
        assert c is not None
        entry.update(
            scale_ratio=c.scale_ratio,
            matched_scale_ratio=c.matched_ratio,
            spearman_count_scale=c.spearman,
        )
        return entry
    entry["class"] = rec.classes[0].name
    entry["classes"] = [f.name for f in rec.classes]
    return {**entry, **_numbers(rec)}


def recommendations(
    classes: pd.DataFrame, *, target: float = 0.9, limit: int = 10, matched_m: int | None = None
) -> list[dict[str, Any]]:
    """summary.json's ``recommendations`` from a ``classes.csv`` table (see ``as_dict``)."""
    found = recommend(class_stats(classes), target=target, limit=limit, matched_m=matched_m)
    return [as_dict(rec) for rec in found]


def attention_order(recs: Sequence[Mapping[str, Any]]) -> list[str]:
    """Class names as the recommendations name them, taking the weakest of each finding in
    turn (so a screenful shows every finding, not only the first); saturated classes last."""
    seen: dict[str, None] = {}
    for saturated in (False, True):
        lists = [
            [str(n) for n in rec.get("classes") or ([rec["class"]] if "class" in rec else [])]
            for rec in recs
            if (rec.get("kind") == Kind.SATURATED) is saturated
        ]
        for i in range(max((len(names) for names in lists), default=0)):
            for names in lists:
                if i < len(names):
                    seen.setdefault(names[i], None)
    return list(seen)
