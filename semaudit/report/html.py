"""The self-contained HTML page: one file, figures and thumbnails inlined, no network.

Every piece of text from the audit (class names, paths, messages) goes through ``esc``. The
page's only script is inline and allowed by its SHA-256 in a Content-Security-Policy, so even a
mis-escaped string could not run code or load anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from semaudit.report import facts
from semaudit.report.page import data_uri, esc, figure, numbers, page, paragraph
from semaudit.report.table1 import table1_rows, table1_text
from semaudit.report.thumbnails import ThumbnailSet
from semaudit.stats.table1 import format_p
from semaudit.store import Audit, Flag
from semaudit.values import format_number

__all__ = ["FigureBlock", "esc", "render_html"]

PAGE_SIZE = 50
MAX_SKIPPED_ROWS = 5000
MAX_RECOMMENDATIONS = 10


@dataclass(frozen=True)
class FigureBlock:
    """One rendered figure: file stem, section it belongs to, PNG bytes, alt text, caption."""

    key: str
    section: str
    png: bytes
    alt: str
    caption: str


def _figure(block: FigureBlock) -> str:
    return figure(block.key, block.png, block.alt, block.caption)


def _header(audit: Audit) -> str:
    tiles = numbers((k.label, k.value, k.hint) for k in facts.key_numbers(audit))
    rows = "".join(f"<dt>{esc(a)}</dt><dd>{esc(b)}</dd>" for a, b in facts.provenance(audit))
    return (
        f"<h1>{esc(facts.title(audit))}</h1>"
        f'<p class="verdict">{esc(facts.verdict(audit))}</p>'
        f"{tiles}"
        f'<details class="provenance"><summary>Provenance: backbone, settings, versions</summary>'
        f"<dl>{rows}</dl></details>"
    )


_p = paragraph


def _recommendations(audit: Audit) -> str:
    recs = audit.overview.recommendations
    if not recs:
        return _p("The audit makes no recommendations.", "muted")
    items = [f"<li>{esc(r.get('text', ''))}</li>" for r in recs if isinstance(r, dict)]
    shown = f'<ol class="recs">{"".join(items[:MAX_RECOMMENDATIONS])}</ol>'
    rest = items[MAX_RECOMMENDATIONS:]
    if rest:
        shown += (
            f'<details class="more"><summary>{len(rest):,} more recommendations</summary>'
            f'<ol class="recs" start="{MAX_RECOMMENDATIONS + 1}">{"".join(rest)}</ol></details>'
        )
    return shown


def _disagreement(audit: Audit) -> str:
    rows = audit.overview.rank_disagreement
    if not rows:
        return ""
    body = "".join(
        f'<tr><td class="name">{esc(r.get("class"))}</td><td>{esc(r.get("count_rank"))}</td>'
        f"<td>{esc(r.get('scale_rank'))}</td><td>{esc(r.get('delta'))}</td></tr>"
        for r in rows
    )
    return (
        "<h3>Rank disagreements</h3>"
        + _p(
            "Classes ranked very differently by images and by semantic scale (1 = largest). "
            "A positive delta means the class is narrower in meaning than its image count suggests."
        )
        + '<div class="table-wrap compact"><table class="compact"><thead><tr><th>class</th>'
        "<th>rank by images</th>"
        f"<th>rank by scale</th><th>delta</th></tr></thead><tbody>{body}</tbody></table></div>"
    )


def _table1(audit: Audit) -> str:
    """The paper's Table 1 on this data: correlations with per-class probe accuracy."""
    rows = table1_rows(audit)
    if not rows:
        return ""
    body = "".join(
        ('<tr class="grid">' if r.grid else "<tr>")
        + f'<td class="name">{esc(r.label)}</td>'
        + _cell(r.pearson, format_number(r.pearson, "+.2f", missing="–"))
        + _cell(r.p_pearson, format_p(r.p_pearson))
        + _cell(r.spearman, format_number(r.spearman, "+.2f", missing="–"))
        + _cell(r.p_spearman, format_p(r.p_spearman))
        + f'<td class="text">{esc(r.note)}</td></tr>'
        for r in rows
    )
    head = "".join(f"<th>{h}</th>" for h in ("measure", "Pearson r", "p", "Spearman ρ", "p", ""))
    return (
        "<h3>Which measure tracks per-class accuracy? (the paper's Table 1)</h3>"
        + _p(table1_text(audit) or "", "verdict")
        + '<div class="table-wrap compact"><table class="compact" id="table1">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
        + _p(
            "Correlation across classes between each measure and the linear probe's per-class "
            "accuracy (docs/method.md). S is the semantic scale with inter-class interference; "
            "the α rows show S for each α of the paper's grid.",
            "muted",
        )
    )


def _thumbnails(thumbs: ThumbnailSet | None) -> str:
    if thumbs is None:
        return _p("Thumbnails were not requested.", "muted")
    note = _p(thumbs.note, "note") if thumbs.note else ""
    cards = []
    for group in thumbs.classes:
        strips = []
        for kind, items in (("typical", group.typical), ("atypical", group.atypical)):
            if not items:
                continue
            imgs = "".join(
                f'<img src="{data_uri("image/jpeg", t.jpeg)}" alt="{kind} image {i} of '
                f'{esc(group.name)}: {esc(t.path)}" '
                f'title="{esc(t.path)} (cosine to the class mean {t.similarity:.3f})">'
                for i, t in enumerate(items, 1)
            )
            odd = " odd" if kind == "atypical" else ""
            strips.append(f'<div class="strip{odd}"><span>most {kind}</span>{imgs}</div>')
        cards.append(
            f"<figure><figcaption>{esc(group.name)}</figcaption>{''.join(strips)}</figure>"
        )
    return note + (f'<div class="thumbs">{"".join(cards)}</div>' if cards else "")


def _cell(value: Any, text: str | None = None, cls: str = "") -> str:
    number = facts.finite(value)
    shown = text if text is not None else facts.fmt_num(value, 2)
    attr = f' class="{cls}"' if cls else ""
    return f'<td{attr} data-v="{"" if number is None else repr(number)}">{esc(shown)}</td>'


def _class_row(row: pd.Series, marked: set[str]) -> str:
    name = str(row["class"])
    sat = facts.finite(row["saturation"])
    meter = (
        f'<span class="meter" style="--v:{min(max(sat, 0), 1):.3f}"></span>'
        if sat is not None
        else ""
    )
    matched = facts.fmt_num(row["scale_matched"], 2)
    if facts.finite(row["scale_matched_std"]) is not None:
        matched += f" ± {facts.fmt_num(row['scale_matched_std'], 2)}"
    flags = "".join(f'<span class="flag">{esc(f)}</span>' for f in sorted(Flag.parse(row["flags"])))
    cells = [
        f'<td class="name">{esc(name)}</td>',
        _cell(row["n"], facts.fmt_num(row["n"])),
        _cell(row["count_rank"], str(row["count_rank"])),
        _cell(row["scale"]),
        _cell(row["scale_rank"], str(row["scale_rank"])),
        _cell(row["scale_matched"], matched),
        _cell(row["scale_inf"]),
        _cell(row["saturation"], facts.fmt_pct(row["saturation"])).replace(
            "</td>", meter + "</td>"
        ),
        _cell(row["need_more"], facts.fmt_num(row["need_more"])),
        _cell(row["effective_number"], facts.fmt_num(row["effective_number"], 1)),
        _cell(row["weight"], facts.fmt_num(row["weight"], 3)),
        _cell(row["probe_accuracy"], facts.fmt_pct(row["probe_accuracy"])),
        f'<td class="text">{flags}</td>',
    ]
    hot = ' class="hot"' if name in marked else ""
    return f"<tr{hot}>{''.join(cells)}</tr>"


_CLASS_HEADERS = (
    "class", "images", "rank n", "S (bits)", "rank S", "S matched", "S∞", "saturation",
    "need more", "eff. n", "weight", "probe acc.", "flags",
)  # fmt: skip


def _paged_table(tid: str, headers: Iterable[str], rows: list[str], label: str) -> str:
    head = "".join(f'<th scope="col"><button type="button">{esc(h)}</button></th>' for h in headers)
    body = "".join(
        r if i < PAGE_SIZE else r.replace("<tr", "<tr hidden", 1) for i, r in enumerate(rows)
    )
    controls = (
        f'<div class="controls" id="{tid}-controls" hidden><input type="search" '
        f'aria-label="Filter {esc(label)}" placeholder="filter {esc(label)}…">'
        '<button type="button" data-prev>‹ previous</button><output aria-live="polite"></output>'
        "<button type=button data-next>next ›</button></div>"
    )
    return (
        f'{controls}<div class="table-wrap"><table id="{tid}" data-pager="{PAGE_SIZE}">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )


def _classes(audit: Audit) -> str:
    table = facts.class_table(audit)
    marked = {str(r.get("class")) for r in audit.overview.rank_disagreement}
    rows = [_class_row(row, marked) for _, row in table.iterrows()]
    return _p(
        "One row per class, sorted by images. Click a column to sort; bold rows are rank "
        "disagreements. S matched is the scale at an equal number of images per class."
    ) + _paged_table("classes-table", _CLASS_HEADERS, rows, "classes")


def _skipped(audit: Audit) -> str:
    skipped = audit.skipped
    if skipped.empty:
        return _p("No files were skipped.", "muted")
    shown = skipped.head(MAX_SKIPPED_ROWS)
    rows = [
        f'<tr><td class="name">{esc(p)}</td><td class="text">{esc(r)}</td></tr>'
        for p, r in zip(shown["path"], shown["reason"], strict=True)
    ]
    more = ""
    if len(skipped) > len(shown):
        more = _p(
            f"Showing {len(shown):,} of {len(skipped):,}; skipped.csv lists them all.", "muted"
        )
    return more + _paged_table("skipped-table", ("path", "reason"), rows, "skipped files")


def _figures_of(figures: list[FigureBlock], section: str) -> str:
    return "".join(_figure(b) for b in figures if b.section == section)


def render_html(
    audit: Audit, figures: list[FigureBlock], thumbs: ThumbnailSet | None, *, version: str
) -> str:
    """The whole page as a string."""
    probe = _figures_of(figures, "probe") or _p(
        "The scan ran without the linear probe (scan --probe), so there is no accuracy to show.",
        "muted",
    )
    sections = [
        ("recommendations", "Recommendations", _recommendations(audit)),
        ("scale", "Images and semantic scale per class",
         _figures_of(figures, "scale") + _disagreement(audit)),
        ("curves", "Marginal effect", _figures_of(figures, "curves")),
        ("scatter", "Images vs semantic scale", _figures_of(figures, "scatter")),
        ("probe", "Does scale explain accuracy?", probe + _table1(audit)),
        ("thumbnails", "Typical and atypical images", _THUMBS_INTRO + _thumbnails(thumbs)),
        ("classes", "All classes", _classes(audit)),
        ("skipped", f"Skipped files ({len(audit.skipped):,})", _skipped(audit)),
    ]  # fmt: skip
    return page(
        title=facts.title(audit),
        header=_header(audit),
        sections=sections,
        footer=_p(f"Written by semaudit {version} from the audit at {audit.path}."),
        version=version,
    )


_THUMBS_INTRO = _p(
    "For each class, the images nearest to (most typical) and farthest from (most atypical) the "
    "class mean of the backbone's normalised features. Atypical images are where mislabelled, "
    "corrupt or out-of-scope images tend to hide; a class whose typical images all look alike "
    "and whose atypical images are odd is narrow in meaning."
)
