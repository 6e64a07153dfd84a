"""Gate measurements: read each rule's value from an audit (and a baseline), per subject.

One function per rule, registered in ``MEASURES`` under the rule's name. A measurement is a
value for the dataset or for one class, or a ``skip`` reason when there is none, so the gate
never passes a rule silently. Reads ``summary.json`` and ``classes.csv`` through the ``Audit``
the caller loaded; imports nothing heavy.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from semaudit.values import finite

if TYPE_CHECKING:
    from semaudit.store import Audit

__all__ = ["MEASURES", "Measure", "finite", "format_number"]


@dataclass(frozen=True)
class Measure:
    """A measured value for one subject, or why there is none (``skip``)."""

    class_name: str | None
    value: float | None
    detail: str = ""
    skip: str = ""


def format_number(value: float | None) -> str:
    """Compact display of a statistic: integers bare, others to 4 significant digits."""
    if value is None:
        return "—"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4g}"


def _summary_measure(*path: str) -> Callable[[Audit, Audit | None], list[Measure]]:
    def measure(audit: Audit, baseline: Audit | None) -> list[Measure]:
        value: Any = audit.summary
        for part in path:
            if not isinstance(value, dict) or part not in value:
                dotted = ".".join(path)
                return [Measure(None, None, skip=f"summary.json has no {dotted}")]
            value = value[part]
        number = finite(value)
        if number is not None:
            return [Measure(None, number)]
        eligible = audit.summary.get("n_eligible")
        reason = "undefined in summary.json"
        if isinstance(eligible, int) and eligible < 2:
            reason += f": fewer than two eligible classes (n_eligible = {eligible})"
        return [Measure(None, None, skip=reason)]

    return measure


def _class_rows(audit: Audit) -> list[dict[Hashable, Any]]:
    return sorted(audit.classes.to_dict(orient="records"), key=lambda row: str(row["class"]))


def _flags(row: Mapping[Hashable, Any]) -> list[str]:
    return [f for f in str(row.get("flags") or "").split(";") if f]


def _measure_images(audit: Audit, baseline: Audit | None) -> list[Measure]:
    return [Measure(str(row["class"]), finite(row["n"])) for row in _class_rows(audit)]


def _measure_saturation(audit: Audit, baseline: Audit | None) -> list[Measure]:
    target = audit.meta.get("settings", {}).get("target_saturation")
    measures = []
    for row in _class_rows(audit):
        value, flags = finite(row["saturation"]), _flags(row)
        if value is None:
            if "empty" in flags:
                reason = "class is empty: saturation not fitted"
            elif "few_images" in flags:
                reason = "class flagged few_images: saturation not fitted"
            elif "no_fit" in flags:
                reason = "curve fit failed (no_fit): saturation unknown"
            else:
                reason = "no saturation in classes.csv"
            measures.append(Measure(str(row["class"]), None, skip=reason))
            continue
        need = finite(row.get("need_more"))
        detail = ""
        if need and target:
            detail = f"~{int(need)} more diverse images would reach {target:.0%}"
        measures.append(Measure(str(row["class"]), value, detail=detail))
    return measures


def _measure_probe(audit: Audit, baseline: Audit | None) -> list[Measure]:
    if not audit.summary.get("probe") or audit.classes["probe_accuracy"].isna().all():
        return [Measure(None, None, skip="probe not run (scan with --probe)")]
    measures = []
    for row in _class_rows(audit):
        value = finite(row["probe_accuracy"])
        reason = "" if value is not None else "no probe accuracy for this class"
        flagged = sorted({"few_images", "empty"} & set(_flags(row)))
        if value is None and flagged:
            reason = f"class flagged {flagged[0]}: not probed"
        measures.append(Measure(str(row["class"]), value, skip=reason))
    return measures


def _drop(column: str, unit: str) -> Callable[[Audit, Audit | None], list[Measure]]:
    def measure(audit: Audit, baseline: Audit | None) -> list[Measure]:
        assert baseline is not None
        new = {str(r["class"]): finite(r[column]) for r in _class_rows(audit)}
        measures = []
        for row in _class_rows(baseline):
            name, before = str(row["class"]), finite(row[column])
            if name not in new:
                was = f"; baseline {format_number(before)} {unit}" if before is not None else ""
                measures.append(Measure(name, 1.0, detail=f"class removed{was}"))
            elif before is None or new[name] is None:
                measures.append(Measure(name, None, skip=f"{column} missing in an audit"))
            elif before <= 0:
                measures.append(Measure(name, None, skip=f"baseline {column} is 0"))
            else:
                after = new[name]
                assert after is not None
                detail = f"{format_number(before)} → {format_number(after)} {unit}"
                measures.append(Measure(name, (before - after) / before, detail=detail))
        for name in sorted(new.keys() - {str(r["class"]) for r in _class_rows(baseline)}):
            measures.append(Measure(name, None, skip="class added since the baseline"))
        return sorted(measures, key=lambda m: str(m.class_name))

    return measure


def _class_set_change(removed: bool) -> Callable[[Audit, Audit | None], list[Measure]]:
    def measure(audit: Audit, baseline: Audit | None) -> list[Measure]:
        assert baseline is not None
        now = {str(c) for c in audit.classes["class"]}
        before = {str(c) for c in baseline.classes["class"]}
        changed = sorted(before - now if removed else now - before)
        verb = "removed" if removed else "added"
        detail = f"{verb}: {', '.join(changed)}" if changed else ""
        return [Measure(None, float(len(changed)), detail=detail)]

    return measure


MEASURES: dict[str, Callable[[Audit, Audit | None], list[Measure]]] = {
    "max_count_ratio": _summary_measure("count", "max_min_ratio"),
    "max_scale_ratio": _summary_measure("scale", "max_min_ratio"),
    "max_matched_scale_ratio": _summary_measure("scale_matched", "max_min_ratio"),
    "min_images_per_class": _measure_images,
    "min_saturation": _measure_saturation,
    "max_skipped_fraction": _summary_measure("skipped_fraction"),
    "max_scale_drop": _drop("scale", "bits"),
    "max_count_drop": _drop("n", "images"),
    "max_classes_removed": _class_set_change(removed=True),
    "max_classes_added": _class_set_change(removed=False),
    "min_probe_accuracy": _measure_probe,
}
