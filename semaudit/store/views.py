"""Typed views of ``audit.json`` and ``summary.json``: what readers use instead of ``.get`` chains.

The files were validated on load (``schema``), so a view only fills in what a file may lack
(fields added later, hand-made audits) from the method's defaults, once, here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from semaudit.stats.defaults import METHOD
from semaudit.values import finite


def _int(value: Any) -> int | None:
    number = finite(value)
    return int(number) if number is not None else None


def _table(doc: Any, key: str) -> dict[str, Any]:
    value = doc.get(key) if isinstance(doc, dict) else None
    return value if isinstance(value, dict) else {}


def _rows(doc: dict[str, Any], key: str) -> list[dict[str, Any]]:
    return [r for r in doc.get(key) or [] if isinstance(r, dict)]


@dataclass(frozen=True)
class BackboneInfo:
    """The backbone an audit was made with (``audit.json`` ``backbone``)."""

    id: str = "?"
    weights_digest: str | None = None
    embed_dim: int | None = None
    preprocessing: Any = None
    weights_path: str | None = None

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> BackboneInfo:
        b = _table(meta, "backbone")
        return cls(
            str(b.get("id", "?")),
            b.get("weights_digest"),
            _int(b.get("embed_dim")),
            b.get("preprocessing"),
            b.get("weights_path"),
        )


@dataclass(frozen=True)
class AuditSettings:
    """The statistics' settings an audit was made with (``audit.json`` ``settings``)."""

    min_images: int = METHOD.min_images
    target_saturation: float = METHOD.target_saturation
    draws: int = METHOD.draws
    gamma: float = METHOD.gamma
    seed: int = 0
    normalize: bool = True
    alpha: float | None = None
    alpha_used: float | None = None
    matched_m: int | None = None
    probe: bool = True
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> AuditSettings:
        s = _table(meta, "settings")
        d = cls()
        gamma = finite(s.get("gamma"))
        return cls(
            min_images=_int(s.get("min_images")) or d.min_images,
            target_saturation=finite(s.get("target_saturation")) or d.target_saturation,
            draws=_int(s.get("draws")) or d.draws,
            gamma=d.gamma if gamma is None else gamma,
            seed=_int(s.get("seed")) or 0,
            normalize=bool(s.get("normalize", True)),
            alpha=finite(s.get("alpha")),
            alpha_used=finite(s.get("alpha_used")),
            matched_m=_int(s.get("matched_m")),
            probe=bool(s.get("probe", True)),
            raw=s,
        )


@dataclass(frozen=True)
class Summary:
    """Dataset-level statistics (``summary.json``), typed; ``imbalance(kind)`` for the blocks."""

    n_classes: int | None = None
    n_images: int | None = None
    n_skipped: int | None = None
    skipped_fraction: float | None = None
    n_eligible: int | None = None
    matched_m: int | None = None
    spearman_rho: float | None = None
    spearman_p: float | None = None
    probe_macro_accuracy: float | None = None
    recommendations: list[dict[str, Any]] = field(default_factory=list)
    rank_disagreement: list[dict[str, Any]] = field(default_factory=list)
    correlations: dict[str, dict[str, Any]] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Summary:
        rho = _table(doc, "spearman_count_scale")
        return cls(
            n_classes=_int(doc.get("n_classes")),
            n_images=_int(doc.get("n_images")),
            n_skipped=_int(doc.get("n_skipped")),
            skipped_fraction=finite(doc.get("skipped_fraction")),
            n_eligible=_int(doc.get("n_eligible")),
            matched_m=_int(doc.get("matched_m")),
            spearman_rho=finite(rho.get("rho")),
            spearman_p=finite(rho.get("p")),
            probe_macro_accuracy=finite(_table(doc, "probe").get("macro_accuracy")),
            recommendations=_rows(doc, "recommendations"),
            rank_disagreement=_rows(doc, "rank_disagreement"),
            correlations=_table(doc, "correlations"),
            raw=doc,
        )

    def imbalance(self, kind: str) -> dict[str, float | None]:
        """The imbalance block of ``count``, ``scale`` or ``scale_matched`` (max_min_ratio, cv,
        gini, entropy), each value a finite float or None."""
        block = _table(self.raw, kind)
        return {k: finite(block.get(k)) for k in ("max_min_ratio", "cv", "gini", "entropy")}

    def ratio(self, kind: str) -> float | None:
        """Largest over smallest of ``count``, ``scale`` or ``scale_matched``."""
        return self.imbalance(kind)["max_min_ratio"]

    def probe_correlations(self) -> dict[str, Any]:
        """Correlations of per-class probe accuracy with count, scale, … (empty if no probe)."""
        value = self.correlations.get("probe_accuracy")
        return value if isinstance(value, dict) else {}
