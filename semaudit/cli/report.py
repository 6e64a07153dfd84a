"""``semaudit report``: HTML report, PNG figures and a Markdown summary of an audit."""

from __future__ import annotations

from pathlib import Path

import typer

from semaudit.cli._app import app, examples, out, print_json


@app.command(
    epilog=examples(
        "semaudit report audit",
        "semaudit report audit --out report --format html,png",
        "semaudit report audit --format md -q   # report.md for a pull-request comment",
    )
)
def report(
    audit: Path = typer.Argument(
        ..., help="Audit directory of `semaudit scan` (or run directory of `semaudit train`)."
    ),
    out_dir: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        help="Where to write the report \\[default: AUDIT/report].",
        show_default=False,
    ),
    formats: str = typer.Option(
        "html,png,md",
        "--format",
        "-f",
        help="Comma-separated: html (one offline file), "
        "png (figures/*.png), md (short summary for a pull request).",
    ),
    json_output: bool = typer.Option(False, "--json", help="Written paths as JSON on stdout."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing unless it fails."),
) -> None:
    """Render a self-contained HTML report, PNG figures and a Markdown summary of an audit."""
    from semaudit.report import render_report

    result = render_report(
        audit, out_dir if out_dir is not None else audit / "report", formats=formats
    )
    if json_output:
        print_json({
            "html": str(result.html) if result.html else None,
            "markdown": str(result.markdown) if result.markdown else None,
            "figures": [str(p) for p in result.figures],
        })  # fmt: skip
        return
    if quiet:
        return
    for path in result.paths():
        out.print(str(path), markup=False, highlight=False)
