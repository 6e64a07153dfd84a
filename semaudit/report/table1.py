"""The paper's Table 1 on this audit: which class measure tracks per-class probe accuracy.

Plain rows and a verdict from ``summary.json correlations.probe_accuracy`` (written by
:func:`semaudit.stats.table1.accuracy_correlations`), shared by the HTML and Markdown writers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from semaudit.stats.interclass import ALPHA_GRID
from semaudit.stats.table1 import LABELS, alpha_key, row_note, table1_verdict
from semaudit.store import Audit
from semaudit.values import finite

__all__ = ["Table1Row", "correlated_classes", "table1_rows", "table1_text"]


@dataclass(frozen=True)
class Table1Row:
    """One measure: its label, Pearson r and p, Spearman ρ and p, and a plain note."""

    key: str
    label: str
    pearson: float | None
    p_pearson: float | None
    spearman: float | None
    p_spearman: float | None
    note: str
    grid: bool = False  # one α of the grid, not a measure the verdict ranks


def _table(audit: Audit) -> Mapping[str, Any] | None:
    found = (audit.summary.get("correlations") or {}).get("probe_accuracy")
    return found if isinstance(found, Mapping) else None


def correlated_classes(audit: Audit) -> int:
    """K: the classes the correlations ran over (eligible, with a probe accuracy)."""
    classes = audit.classes
    eligible = classes["n"] >= audit.settings.min_images
    return int((eligible & classes["probe_accuracy"].notna()).sum())


def _row(key: str, label: str, stats: Any, k: int, grid: bool = False) -> Table1Row:
    stats = stats if isinstance(stats, Mapping) else {}
    return Table1Row(
        key,
        label,
        pearson=finite(stats.get("pearson")),
        p_pearson=finite(stats.get("p_pearson")),
        spearman=finite(stats.get("spearman")),
        p_spearman=finite(stats.get("p_spearman")),
        note=row_note(stats, k),
        grid=grid,
    )


def table1_rows(audit: Audit) -> list[Table1Row]:
    """The measures of Table 1 in order, then S at each α of the grid; empty without a probe."""
    table = _table(audit)
    if table is None:
        return []
    k = correlated_classes(audit)
    alpha = finite(audit.settings.raw.get("interclass_alpha"))
    rows = []
    for key, label in LABELS.items():
        if key in table:
            shown = f"{label} (α = {alpha:g})" if key == "scale_interclass" and alpha else label
            rows.append(_row(key, shown, table[key], k))
    grid = table.get("scale_interclass_alpha")
    if isinstance(grid, Mapping):
        for a in ALPHA_GRID:
            if alpha_key(a) in grid:
                rows.append(_row(alpha_key(a), f"S at α = {a:g}", grid[alpha_key(a)], k, True))
    return rows


def table1_text(audit: Audit) -> str | None:
    """The verdict in one paragraph (stats.table1.table1_verdict); None without a probe."""
    table = _table(audit)
    return None if table is None else table1_verdict(table, correlated_classes(audit))["text"]
