"""Gate measurements: how a rule reads its value from an audit (and a baseline), per subject.

A measure is a function ``(audit, baseline) -> list[Measure]``; each rule of the registry
(:mod:`semaudit.gate.rules`) carries one. This module holds the building blocks the registry
composes: a dataset statistic from ``summary.json``, a per-class column, a change since the
baseline, the set of classes. A measurement is a value for the dataset or for one class, or a
``skip`` reason when there is none, so the gate never passes a rule silently. Imports nothing
heavy.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from semaudit.values import finite, format_number

if TYPE_CHECKING:
    from semaudit.store import Audit, Flag

__all__ = [
    "Measure",
    "MeasureFn",
    "class_column",
    "class_rows",
    "class_set_change",
    "drop_since_baseline",
    "finite",
    "flags_of",
    "format_number",
    "probe_accuracy",
    "saturation",
    "summary_value",
]


@dataclass(frozen=True)
class Measure:
    """A measured value for one subject, or why there is none (``skip``)."""

    class_name: str | None
    value: float | None
    detail: str = ""
    skip: str = ""


MeasureFn = Callable[["Audit", "Audit | None"], list[Measure]]
"""How a rule reads its values: ``(audit, baseline or None) -> one Measure per subject``."""


def class_rows(audit: Audit) -> list[dict[Hashable, Any]]:
    """``classes.csv`` as records, sorted by class name."""
    return sorted(audit.classes.to_dict(orient="records"), key=lambda row: str(row["class"]))


def flags_of(row: Mapping[Hashable, Any]) -> set[Flag]:
    """The flags of a ``classes.csv`` row (``few_images;no_fit`` → two flags)."""
    from semaudit.store import Flag  # pandas: only when an audit is read anyway

    return Flag.parse(row.get("flags"))


# ------------------------------------------------------------------------------ building blocks


def summary_value(*path: str) -> MeasureFn:
    """One dataset value at ``path`` in ``summary.json``; undefined values skip with the reason."""

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
        eligible = audit.overview.n_eligible
        reason = "undefined in summary.json"
        if eligible is not None and eligible < 2:
            reason += f": fewer than two eligible classes (n_eligible = {eligible})"
        return [Measure(None, None, skip=reason)]

    return measure


def class_column(column: str, *, missing: str = "") -> MeasureFn:
    """One value per class from ``classes.csv``; a missing value skips (``missing`` says why)."""

    def measure(audit: Audit, baseline: Audit | None) -> list[Measure]:
        found = []
        for row in class_rows(audit):
            value = finite(row.get(column))
            skip = "" if value is not None else missing or f"no {column} in classes.csv"
            found.append(Measure(str(row["class"]), value, skip=skip))
        return found

    return measure


def saturation(audit: Audit, baseline: Audit | None) -> list[Measure]:
    """Each class's S(n)/S∞, with the images it needs to reach the target saturation."""
    from semaudit.store import Flag

    target = audit.settings.target_saturation
    measures = []
    for row in class_rows(audit):
        value, flags = finite(row["saturation"]), flags_of(row)
        if value is None:
            if Flag.EMPTY in flags:
                reason = "class is empty: saturation not fitted"
            elif Flag.FEW_IMAGES in flags:
                reason = f"class flagged {Flag.FEW_IMAGES}: saturation not fitted"
            elif Flag.NO_FIT in flags:
                reason = f"curve fit failed ({Flag.NO_FIT}): saturation unknown"
            else:
                reason = "no saturation in classes.csv"
            measures.append(Measure(str(row["class"]), None, skip=reason))
            continue
        need = finite(row.get("need_more"))
        detail = ""
        if need:
            detail = f"~{int(need)} more diverse images would reach {target:.0%}"
        measures.append(Measure(str(row["class"]), value, detail=detail))
    return measures


def probe_accuracy(audit: Audit, baseline: Audit | None) -> list[Measure]:
    """Each class's probe accuracy; one rule-wide skip when the scan ran without the probe."""
    from semaudit.store import Flag

    probed = audit.overview.probe_macro_accuracy is not None
    if not probed or audit.classes["probe_accuracy"].isna().all():
        eligible = audit.overview.n_eligible
        if not audit.settings.probe:
            reason = "probe not run (the audit was scanned with probe off)"
        elif eligible is not None and eligible < 2:
            reason = f"probe not run: fewer than two eligible classes (n_eligible = {eligible})"
        else:
            reason = "probe not run: the audit has no probe results"
        return [Measure(None, None, skip=reason)]
    measures = []
    for row in class_rows(audit):
        value = finite(row["probe_accuracy"])
        reason = "" if value is not None else "no probe accuracy for this class"
        flagged = sorted({Flag.FEW_IMAGES, Flag.EMPTY} & flags_of(row))
        if value is None and flagged:
            reason = f"class flagged {flagged[0].value}: not probed"
        measures.append(Measure(str(row["class"]), value, skip=reason))
    return measures


def drop_since_baseline(column: str, unit: str) -> MeasureFn:
    """Each class's relative loss of ``column`` since the baseline; a removed class lost 1."""

    def measure(audit: Audit, baseline: Audit | None) -> list[Measure]:
        assert baseline is not None
        new = {str(r["class"]): finite(r.get(column)) for r in class_rows(audit)}
        measures = []
        for row in class_rows(baseline):
            name, before = str(row["class"]), finite(row.get(column))
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
        for name in sorted(new.keys() - {str(r["class"]) for r in class_rows(baseline)}):
            measures.append(Measure(name, None, skip="class added since the baseline"))
        return sorted(measures, key=lambda m: str(m.class_name))

    return measure


def class_set_change(*, removed: bool) -> MeasureFn:
    """How many classes were removed (or added) since the baseline, naming them."""

    def measure(audit: Audit, baseline: Audit | None) -> list[Measure]:
        assert baseline is not None
        now = {str(c) for c in audit.classes["class"]}
        before = {str(c) for c in baseline.classes["class"]}
        changed = sorted(before - now if removed else now - before)
        verb = "removed" if removed else "added"
        detail = f"{verb}: {', '.join(changed)}" if changed else ""
        return [Measure(None, float(len(changed)), detail=detail)]

    return measure
