"""Per-class drift between two audits of one dataset (two versions, same backbone and settings)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from semaudit.errors import AuditError
from semaudit.values import finite, json_safe

if TYPE_CHECKING:
    from semaudit.store import Audit

__all__ = [
    "COMPARE_SCHEMA_VERSION",
    "METRICS",
    "ClassDelta",
    "CompareResult",
    "Delta",
    "compare_audits",
    "ensure_comparable",
]

COMPARE_SCHEMA_VERSION = 1
METRICS = ("n", "scale", "scale_matched", "saturation")
_DATASET_METRICS = {
    "n_classes": ("n_classes",),
    "n_images": ("n_images",),
    "skipped_fraction": ("skipped_fraction",),
    "count_ratio": ("count", "max_min_ratio"),
    "scale_ratio": ("scale", "max_min_ratio"),
    "matched_scale_ratio": ("scale_matched", "max_min_ratio"),
}
_KEY_LABELS = {
    "backbone": "backbone",
    "weights_digest": "weights",
    "preprocessing": "preprocessing",
    "alpha_used": "alpha",
    "normalize": "normalize",
}


@dataclass(frozen=True)
class Delta:
    """One statistic in both audits: ``delta = new − old``, ``relative = delta / |old|``.

    ``None`` where a side is missing; ``relative`` is ``None`` when ``old`` is 0.
    """

    old: float | None
    new: float | None

    @property
    def delta(self) -> float | None:
        if self.old is None or self.new is None:
            return None
        return self.new - self.old

    @property
    def relative(self) -> float | None:
        if self.old is None or self.new is None or self.old == 0:
            return None
        return (self.new - self.old) / abs(self.old)

    def to_dict(self) -> dict[str, float | None]:
        return {"old": self.old, "new": self.new, "delta": self.delta, "relative": self.relative}


@dataclass(frozen=True)
class ClassDelta:
    """One class across the two audits; ``status``: ``kept`` (in both), ``added``, ``removed``."""

    name: str
    status: Literal["kept", "added", "removed"]
    metrics: dict[str, Delta]

    @property
    def scale_change(self) -> float:
        """|relative scale change| used for sorting: 1 for a removed class, inf for an added."""
        if self.status == "added":
            return math.inf
        if self.status == "removed":
            return 1.0
        scale = self.metrics["scale"]
        if scale.relative is not None:
            return abs(scale.relative)
        return math.inf if scale.new else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "class": self.name,
            "status": self.status,
            **{name: delta.to_dict() for name, delta in self.metrics.items()},
        }


@dataclass(frozen=True)
class CompareResult:
    """Two audits side by side: classes sorted by largest relative scale change first."""

    old: str
    new: str
    key: dict[str, Any]
    classes: tuple[ClassDelta, ...]
    dataset: dict[str, Delta]
    notes: tuple[str, ...]

    @property
    def added(self) -> list[str]:
        return sorted(c.name for c in self.classes if c.status == "added")

    @property
    def removed(self) -> list[str]:
        return sorted(c.name for c in self.classes if c.status == "removed")

    def to_dict(self) -> dict[str, Any]:
        """The ``compare --json`` document (schema ``COMPARE_SCHEMA_VERSION``)."""
        return json_safe(
            {
                "schema_version": COMPARE_SCHEMA_VERSION,
                "kind": "semaudit-compare",
                "old": self.old,
                "new": self.new,
                "comparability_key": self.key,
                "added": self.added,
                "removed": self.removed,
                "dataset": {name: d.to_dict() for name, d in self.dataset.items()},
                "classes": [c.to_dict() for c in self.classes],
                "notes": list(self.notes),
            }
        )


def _describe(audit: Audit, fields: list[str]) -> str:
    key = audit.comparability_key
    return ", ".join(f"{_KEY_LABELS.get(f, f)} {key.get(f)!r}" for f in fields)


def ensure_comparable(old: Audit, new: Audit) -> None:
    """Raise ``AuditError`` unless both share backbone, weights, preprocessing and settings."""
    old_key, new_key = old.comparability_key, new.comparability_key
    differ = [f for f in old_key if old_key[f] != new_key.get(f)]
    if differ:
        raise AuditError(
            f"cannot compare {old.path} ({_describe(old, differ)}) with {new.path} "
            f"({_describe(new, differ)}): semantic scales are only comparable under one backbone "
            "and settings. Rescan one dataset version with the other's --backbone and settings."
        )


def _rows(audit: Audit) -> dict[str, dict[str, float | None]]:
    frame = audit.classes
    return {
        str(row["class"]): {m: finite(row[m]) for m in METRICS}
        for row in frame.to_dict(orient="records")
    }


def _lookup(summary: dict[str, Any], path: tuple[str, ...]) -> float | None:
    value: Any = summary
    for part in path:
        value = value.get(part) if isinstance(value, dict) else None
    return finite(value)


def compare_audits(old: Audit, new: Audit) -> CompareResult:
    """Per-class deltas of n, scale, matched scale and saturation from ``old`` to ``new``.

    Raises ``AuditError`` when the audits' comparability keys differ.
    """
    ensure_comparable(old, new)
    old_rows, new_rows = _rows(old), _rows(new)
    empty = dict.fromkeys(METRICS)
    deltas = []
    for name in sorted(old_rows.keys() | new_rows.keys()):
        status: Literal["kept", "added", "removed"] = (
            "added" if name not in old_rows else "removed" if name not in new_rows else "kept"
        )
        before, after = old_rows.get(name, empty), new_rows.get(name, empty)
        metrics = {m: Delta(before[m], after[m]) for m in METRICS}
        deltas.append(ClassDelta(name, status, metrics))
    deltas.sort(key=lambda c: -c.scale_change)  # stable: ties stay in name order
    dataset = {
        name: Delta(_lookup(old.summary, path), _lookup(new.summary, path))
        for name, path in _DATASET_METRICS.items()
    }
    notes = []
    old_m, new_m = old.overview.matched_m, new.overview.matched_m
    if old_m != new_m:
        notes.append(
            f"matched scale uses m* = {old_m} images in {old.path} and {new_m} in {new.path}: "
            "its deltas mix the change of m* with the change of the data."
        )
    return CompareResult(
        old=str(old.path),
        new=str(new.path),
        key=old.comparability_key,
        classes=tuple(deltas),
        dataset=dataset,
        notes=tuple(notes),
    )
