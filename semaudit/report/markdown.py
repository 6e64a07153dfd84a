"""``report.md``: the verdict, key numbers and top recommendations, sized for a PR comment."""

from __future__ import annotations

import re
from typing import Any

from semaudit.report import facts
from semaudit.report.table1 import table1_rows, table1_text
from semaudit.stats.table1 import format_p
from semaudit.store import Audit

__all__ = ["md", "render_markdown"]

MAX_ITEMS = 5
_SPECIAL = re.compile(r"([\\`*_\[\]|~])")  # inline markup; line starts are ours


def md(value: Any) -> str:
    """Text safe in Markdown and in GitHub's HTML: markup escaped, one line."""
    text = " ".join(str(value).split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SPECIAL.sub(r"\\\1", text)


def render_markdown(audit: Audit, *, version: str, html_name: str | None = "report.html") -> str:
    """A short Markdown summary of ``audit``."""
    numbers = facts.key_numbers(audit)
    lines = [
        f"### {md(facts.title(audit))}",
        "",
        md(facts.verdict(audit)),
        "",
        "| " + " | ".join(md(k.label) for k in numbers) + " |",
        "|" + "---:|" * len(numbers),
        "| " + " | ".join(md(k.value) for k in numbers) + " |",
        "",
    ]
    recs = audit.overview.recommendations
    if recs:
        lines.append("**Recommendations**")
        lines.append("")
        lines += [f"{i}. {md(r.get('text', ''))}" for i, r in enumerate(recs[:MAX_ITEMS], 1)]
        if len(recs) > MAX_ITEMS:
            lines.append(f"\n… and {len(recs) - MAX_ITEMS} more in the full report.")
        lines.append("")
    ranks = audit.overview.rank_disagreement
    if ranks:
        shown = ", ".join(
            f"{md(r.get('class'))} (#{r.get('count_rank')} → #{r.get('scale_rank')})"
            for r in ranks[:MAX_ITEMS]
        )
        lines += [f"**Rank disagreements** (rank by images → rank by scale): {shown}", ""]
    lines += _table1(audit)
    backbone = audit.backbone.id
    settings = audit.settings
    tail = [
        f"backbone {md(backbone)}",
        f"alpha {md(facts.fmt_num(settings.alpha_used, 1))}",
        "normalised" if settings.normalize else "raw features",
        f"semaudit {md(version)}",
        f"audit {md(audit.meta.get('created', '?'))}",
    ]
    if html_name:
        tail.append(f"full report: {md(html_name)}")
    lines.append("<sub>" + " · ".join(tail) + "</sub>")
    return "\n".join(lines) + "\n"


def _table1(audit: Audit) -> list[str]:
    """The paper's Table 1 on this data: the verdict, then the measures (α grid on one line)."""
    rows = table1_rows(audit)
    if not rows:
        return []

    def num(value: float | None, spec: str) -> str:
        return "–" if value is None else format(value, spec)

    lines = [
        "**Which measure tracks per-class accuracy** (the paper's Table 1)",
        "",
        md(table1_text(audit) or ""),
        "",
        "| measure | Pearson r | p | Spearman ρ | p | |",
        "|---|---:|---:|---:|---:|---|",
    ]
    lines += [
        f"| {md(r.label)} | {num(r.pearson, '+.2f')} | {md(format_p(r.p_pearson))} | "
        f"{num(r.spearman, '+.2f')} | {md(format_p(r.p_spearman))} | {md(r.note)} |"
        for r in rows
        if not r.grid
    ]
    grid = [f"α {r.key}: {num(r.pearson, '+.2f')}" for r in rows if r.grid]
    if grid:
        lines += ["", "Pearson r of S over the α grid: " + md(", ".join(grid))]
    return [*lines, ""]
