"""Report of a ``semaudit train`` run directory (one run or a ``--compare``): HTML, Markdown, PNG.

Reads the run's files only (run.json / comparison.json, metrics.json, the CSVs, and the audit's
summary.json when the audit is still where the run found it); never imports torch or the
training package. The page is the audit report's page (``report/page.py``: same template,
stylesheet and script); the figures are drawn in the report's style
(``report/training_figures.py``). What is said is built in ``report/training_facts.py``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from semaudit import __version__
from semaudit.errors import AuditError
from semaudit.report import page as P
from semaudit.report.training_facts import RunView, load_run
from semaudit.store.io import atomic_write_bytes
from semaudit.store.schema import AUDIT_JSON

__all__ = ["is_training_run", "render_training_report"]


def is_training_run(path: str | os.PathLike[str]) -> bool:
    """A directory written by ``semaudit train`` (and not an audit)."""
    root = Path(path)
    return not (root / AUDIT_JSON).exists() and (
        (root / "run.json").is_file() or (root / "comparison.json").is_file()
    )


def _header(view: RunView) -> str:
    rows = "".join(f"<dt>{P.esc(a)}</dt><dd>{P.esc(b)}</dd>" for a, b in view.settings())
    return (
        f"<h1>{P.esc(view.title())}</h1>"
        f'<p class="verdict" id="verdict">{P.esc(view.verdict_text())}</p>'
        + P.numbers(view.key_numbers())
        + '<details class="provenance" open><summary>Settings and data</summary>'
        f"<dl>{rows}</dl></details>"
    )


def _sections(view: RunView, figures: dict[str, tuple[bytes, str, str]]) -> list[tuple[str, ...]]:
    def fig(key: str) -> str:
        if key not in figures:
            return ""
        png, alt, caption = figures[key]
        return P.figure(key, png, alt, caption)

    headers, rows = view.results_table()
    results = P.paragraph(view.results_note()) + P.simple_table(headers, rows, tid="results")
    shots = P.paragraph(view.shot_definition())
    correlations = view.correlations()
    corr_html = P.paragraph(
        "The run's metrics hold no correlations of per-class accuracy (runs written before "
        "they were added).",
        "muted",
    )
    if correlations is not None:
        text, c_headers, c_rows = correlations
        corr_html = P.paragraph(text) + P.simple_table(c_headers, c_rows, tid="correlations")
    per_headers, per_rows = view.class_table()
    sections = [
        ("results", "Results", results + fig("comparison")),
        ("shots", "Many, medium and few classes", shots),
        ("training", "Training", fig("curves") + fig("weights")),
        ("correlations", "Does accuracy follow counts or scale?", corr_html),
        ("classes", "Per class", P.simple_table(per_headers, per_rows, tid="per-class")),
    ]
    return [s for s in sections if s[2]]


def render_training_report(
    run_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str], *, formats: Iterable[str]
) -> tuple[Path | None, Path | None, list[Path]]:
    """Write ``report.html`` / ``report.md`` / ``figures/*.png`` of a run; return their paths."""
    root, out = Path(run_dir), Path(out_dir)
    if not (root / "metrics.json").is_file():
        raise AuditError(
            f"{root} holds an unfinished training run (no metrics.json); finish it with "
            "`semaudit train ... --resume`."
        )
    view = load_run(root)
    wanted = set(formats)
    figures = view.figures() if wanted & {"html", "png"} else {}
    written: list[Path] = []
    if "png" in wanted:
        (out / "figures").mkdir(parents=True, exist_ok=True)
        for key, (png, _, _) in figures.items():
            atomic_write_bytes(out / "figures" / f"{key}.png", png)
            written.append(out / "figures" / f"{key}.png")
    html_path = md_path = None
    if "html" in wanted:
        html_path = out / "report.html"
        text = P.page(
            title=view.title(),
            header=_header(view),
            sections=[(s[0], s[1], s[2]) for s in _sections(view, figures)],
            footer=P.paragraph(f"Written by semaudit {__version__} from the run at {root}."),
            version=__version__,
        )
        atomic_write_bytes(html_path, text.encode("utf-8"))
    if "md" in wanted:
        md_path = out / "report.md"
        atomic_write_bytes(md_path, view.markdown().encode("utf-8"))
    return html_path, md_path, written
