"""``render_report``: audit directory → report.html, figures/*.png, report.md.

Reads the audit directory only (never torch); every file is written atomically.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from semaudit.errors import InputError, UsageError
from semaudit.report import facts
from semaudit.report.html import FigureBlock
from semaudit.store import Audit, atomic_write_bytes, load_audit
from semaudit.values import plural
from semaudit.wording import quote

__all__ = ["FORMATS", "ReportResult", "build_figures", "parse_formats", "render_report"]

FORMATS = ("html", "png", "md")


@dataclass(frozen=True)
class ReportResult:
    """Paths written: ``html`` / ``markdown`` are None when their format was not asked for."""

    html: Path | None
    markdown: Path | None
    figures: list[Path] = field(default_factory=list)

    def paths(self) -> list[Path]:
        return [p for p in (self.html, self.markdown) if p is not None] + list(self.figures)


def parse_formats(formats: str | Iterable[str]) -> tuple[str, ...]:
    """``"html,png"`` or ``("html", "png")`` → validated, de-duplicated, in FORMATS order."""
    items = formats.split(",") if isinstance(formats, str) else list(formats)
    wanted = {str(f).strip().lower() for f in items if str(f).strip()}
    unknown = sorted(wanted - set(FORMATS))
    if unknown or not wanted:
        received = ", ".join(unknown) if unknown else "nothing"
        raise UsageError(
            f"report format must be one or more of {', '.join(FORMATS)} (comma-separated); "
            f"received {received}."
        )
    return tuple(f for f in FORMATS if f in wanted)


def _target(audit: Audit) -> float:
    return facts.target_saturation(audit)


def _alt_counts(audit: Audit) -> str:
    c = audit.classes
    if c.empty:
        return "Empty chart: the audit has no classes."
    order = c.sort_values(["n", "class"], ascending=[False, True])
    big, small = order.iloc[0], order.iloc[-1]
    marked = [str(r.get("class")) for r in audit.overview.rank_disagreement][:5]
    text = (
        f"Bar charts of images (left) and semantic scale (right) per class, sorted by images. "
        f"{plural(len(c), 'class')}; the largest, class {quote(big['class'])}, has "
        f"{plural(int(big['n']), 'image')} and the smallest, class {quote(small['class'])}, "
        f"{int(small['n']):,}. Semantic scale ranges from "
        f"{c['scale'].min():.1f} to {c['scale'].max():.1f} bits."
    )
    return text + (f" Rank disagreements: {', '.join(map(quote, marked))}." if marked else "")


def _alt_curves(audit: Audit) -> str:
    below = facts.below_target(audit)
    fitted = int(audit.classes["saturation"].notna().sum())
    return (
        "Line chart: each class's semantic scale as a share of its fitted asymptote against the "
        f"number of images (log scale). {len(below):,} of {fitted:,} fitted classes are below "
        f"the {_target(audit):.0%} target at their current size."
    )


def _alt_multiples(audit: Audit) -> str:
    from semaudit.report.curve_figures import extreme_classes

    most, least = extreme_classes(audit.classes)
    return (
        f"Small multiples of measured marginal-effect curves with their asymptote and current "
        f"image count. Most saturated: {', '.join(most) or 'none'}. Least saturated: "
        f"{', '.join(least) or 'none'}."
    )


def _alt_scatter(audit: Audit) -> str:
    rho = audit.overview.spearman_rho
    tail = f" Spearman correlation of images and scale: {rho:.2f}." if rho is not None else ""
    return (
        "Scatter plot of images per class (log scale) against semantic scale, all images "
        "(hollow) and at a matched number of images with error bars (filled)." + tail
    )


def _alt_probe(audit: Audit) -> str:
    corr = audit.overview.probe_correlations()
    parts = [
        f"{name} r = {corr[key]['pearson']:.2f}"
        for key, name in (("count", "images"), ("scale", "scale"), ("scale_matched", "matched"))
        if isinstance(corr.get(key), dict) and corr[key].get("pearson") is not None
    ]
    return (
        "Scatter plots of linear-probe accuracy per class against images, semantic scale and "
        "matched scale, with a least-squares line. Pearson correlations: "
        + ("; ".join(parts) or "not computed")
        + "."
    )


_CAPTIONS = {
    "counts-scale": (
        "Left: images per class. Right: semantic scale S with all images (bar) and at an equal "
        "number of images (diamond ± std). Hatched bars are classes whose rank by scale differs "
        "most from their rank by images."
    ),
    "curves": (
        "Each line is one class: S on random subsets of m images, divided by the class's fitted "
        "asymptote S∞. Lines that flatten near 1 are saturated (more of the same images barely "
        "helps); steep lines ending low need more diverse images. The dot is the current size."
    ),
    "curves-extremes": (
        "Measured S(m) (line, ± std band), fitted asymptote (dashed), current n (grey) and the "
        "size that would reach the target saturation (dotted)."
    ),
    "count-vs-scale": (
        "If scale only restated counts, the points would lie on one rising curve; classes far "
        "below it are narrow for their size. Matched-size scale removes the count effect."
    ),
    "probe-vs-scale": (
        "Per-class accuracy of a cross-validated linear probe on the embeddings. A stronger "
        "correlation with scale than with images means semantic scale, not count, explains the "
        "bias on this data."
    ),
}


def build_figures(audit: Audit) -> list[FigureBlock]:
    """Render every figure the audit supports, as PNG bytes with alt text and caption."""
    from semaudit.report import curve_figures as cf
    from semaudit.report import figures as fg
    from semaudit.report.style import save_png

    classes, curves, summary = audit.classes, audit.curves, audit.overview
    target = _target(audit)
    specs: list[tuple[str, str, Callable[[], Any], Callable[[Audit], str]]] = [
        ("counts-scale", "scale", lambda: fg.counts_and_scale(
            classes, summary.rank_disagreement, matched_m=summary.matched_m),
         _alt_counts),
        ("curves", "curves", lambda: cf.curves_overview(classes, curves, target=target),
         _alt_curves),
        ("curves-extremes", "curves", lambda: cf.curves_multiples(classes, curves, target=target),
         _alt_multiples),
        ("count-vs-scale", "scatter", lambda: fg.count_scale_scatter(classes, summary),
         _alt_scatter),
    ]  # fmt: skip
    if classes["probe_accuracy"].notna().any():
        specs.append(
            (
                "probe-vs-scale",
                "probe",
                lambda: fg.probe_vs_scale(classes, summary),
                _alt_probe,
            )
        )
    return [
        FigureBlock(key, section, save_png(make()), alt(audit), _CAPTIONS[key])
        for key, section, make, alt in specs
    ]


def _write(path: Path, data: bytes) -> Path:
    try:
        atomic_write_bytes(path, data)
    except OSError as exc:
        raise InputError(
            f"cannot write {path} ({exc.strerror or exc}); choose another output folder."
        ) from None
    return path


def render_report(
    audit_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    formats: str | Iterable[str] = FORMATS,
) -> ReportResult:
    """Write the report of the audit at ``audit_dir`` into ``out_dir``.

    ``formats``: any of ``html`` (one self-contained file), ``png`` (figures/*.png) and ``md``
    (a short summary). Raises ``AuditError`` for a missing or corrupt audit, ``UsageError``
    for an unknown format and ``InputError`` for an unwritable ``out_dir`` (exit 3, as
    ``check --junit``).
    """
    from semaudit import __version__

    wanted = parse_formats(formats)
    from semaudit.report.training import is_training_run, render_training_report

    if is_training_run(audit_dir):  # a `semaudit train` run directory
        return ReportResult(*render_training_report(audit_dir, out_dir, formats=wanted))
    audit = load_audit(audit_dir)
    out = Path(out_dir)
    blocks = build_figures(audit) if {"html", "png"} & set(wanted) else []
    figures = []
    if "png" in wanted:
        figures = [_write(out / "figures" / f"{b.key}.png", b.png) for b in blocks]
        for stale in set(_CAPTIONS) - {b.key for b in blocks}:  # e.g. the probe figure
            (out / "figures" / f"{stale}.png").unlink(missing_ok=True)
    html_path = markdown_path = None
    if "html" in wanted:
        from semaudit.report.html import render_html
        from semaudit.report.thumbnails import load_thumbnails

        page = render_html(audit, blocks, load_thumbnails(audit), version=__version__)
        html_path = _write(out / "report.html", page.encode("utf-8"))
    if "md" in wanted:
        from semaudit.report.markdown import render_markdown

        text = render_markdown(
            audit, version=__version__, html_name="report.html" if html_path else None
        )
        markdown_path = _write(out / "report.md", text.encode("utf-8"))
    return ReportResult(html_path, markdown_path, figures)
