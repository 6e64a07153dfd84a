"""Report of a ``semaudit train`` run directory (one run or a ``--compare``): Markdown, HTML, PNG.

Reads the run's files only (metrics.json, per_class.csv, comparison_summary.csv and the PNGs
training wrote); never imports torch or the training package.
"""

from __future__ import annotations

import base64
import html
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from semaudit.errors import AuditError
from semaudit.store.io import atomic_write_bytes, read_json

__all__ = ["is_training_run", "render_training_report"]

_FIGURES = ("curves.png", "weights.png", "comparison.png")


def is_training_run(path: str | os.PathLike[str]) -> bool:
    """A directory written by ``semaudit train`` (and not an audit)."""
    root = Path(path)
    return not (root / "audit.json").exists() and (
        (root / "run.json").is_file() or (root / "comparison.json").is_file()
    )


def _pct(value: Any, std: Any = None) -> str:
    if value is None or pd.isna(value):
        return "–"
    text = f"{100 * float(value):.1f}"
    return text if std is None or pd.isna(std) else f"{text} ± {100 * float(std):.1f}"


def _rows_single(root: Path, metrics: dict[str, Any]) -> tuple[str, list[list[str]], list[str]]:
    title = f"Training run: {metrics.get('method')} ({metrics.get('finetune')})"
    lines = [
        f"Evaluated on the **{metrics.get('evaluated_on')}** split; model: "
        + (
            f"best validation epoch {metrics.get('selected_epoch')}"
            if metrics.get("selection") == "val"
            else f"final epoch {metrics.get('selected_epoch')}"
        )
        + f"; seed {metrics.get('seed')}.",
        f"Shot groups: many {metrics.get('thresholds', {}).get('many')} training images, few "
        f"{metrics.get('thresholds', {}).get('few')}, medium in between.",
    ]
    rho = (metrics.get("spearman_acc_scale") or {}).get("rho")
    if rho is not None:
        lines.append(
            f"Spearman correlation of per-class accuracy with the audit's scale: {rho:.2f}."
        )
    table = [
        ["macro acc %", "many %", "medium %", "few %", "accuracy %"],
        [_pct(metrics.get(k)) for k in ("macro_acc", "many", "medium", "few", "accuracy")],
    ]
    per_class = root / "per_class.csv"
    if per_class.is_file():
        frame = pd.read_csv(per_class, keep_default_na=False, dtype={"class": str})
        table += [["class", "train images", "shot", "accuracy %", "audit scale"]]
        table += [
            [
                str(r["class"]),
                str(r["n_train"]),
                str(r["shot"]),
                _pct(None if r["accuracy"] == "" else r["accuracy"]),
                f"{float(r['audit_scale']):.2f}" if r["audit_scale"] != "" else "–",
            ]
            for r in frame.to_dict("records")
        ]
    return title, table, lines


def _rows_comparison(root: Path, metrics: dict[str, Any]) -> tuple[str, list[list[str]], list[str]]:
    summary = pd.read_csv(root / "comparison_summary.csv")
    overhead = metrics.get("epoch_time_overhead_vs_ce") or {}
    table = [["method", "seeds", "macro acc %", "many %", "medium %", "few %", "time vs ce"]]
    for r in summary.to_dict("records"):
        over = overhead.get(r["method"])
        table.append(
            [str(r["method"]), str(r["seeds"])]
            + [_pct(r[f"{k}_mean"], r[f"{k}_std"]) for k in ("macro_acc", "many", "medium", "few")]
            + ["–" if over is None else f"{100 * over:+.0f} %"]
        )
    lines = [
        f"Mean ± std over seeds {metrics.get('seeds')}, evaluated on the "
        f"**{metrics.get('evaluated_on')}** split, model selection: {metrics.get('selection')}.",
    ]
    return "Training comparison", table, lines


def _markdown(title: str, table: list[list[str]], lines: list[str]) -> str:
    out = [f"# {title}", "", *lines, ""]
    header_rows = [i for i, row in enumerate(table) if i == 0 or row[0] == "class"]
    for n, start in enumerate(header_rows):
        end = header_rows[n + 1] if n + 1 < len(header_rows) else len(table)
        block = table[start:end]
        out.append("| " + " | ".join(block[0]) + " |")
        out.append("|" + "---|" * len(block[0]))
        out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in block[1:]]
        out.append("")
    return "\n".join(out)


def _html(title: str, table: list[list[str]], lines: list[str], figures: list[Path]) -> str:
    def cells(row: list[str], tag: str) -> str:
        return "<tr>" + "".join(f"<{tag}>{html.escape(c)}</{tag}>" for c in row) + "</tr>"

    body = [f"<h1>{html.escape(title)}</h1>"]
    body += [f"<p>{html.escape(line.replace('**', ''))}</p>" for line in lines]
    header_rows = [i for i, row in enumerate(table) if i == 0 or row[0] == "class"]
    for n, start in enumerate(header_rows):
        end = header_rows[n + 1] if n + 1 < len(header_rows) else len(table)
        block = table[start:end]
        body.append(
            "<table>"
            + cells(block[0], "th")
            + "".join(cells(r, "td") for r in block[1:])
            + "</table>"
        )
    for path in figures:
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        body.append(
            f'<figure><img alt="{html.escape(path.stem)}" '
            f'src="data:image/png;base64,{data}"></figure>'
        )
    style = (
        "body{font-family:sans-serif;max-width:60rem;margin:2rem auto}"
        "table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;"
        "padding:.2rem .5rem;text-align:right}img{max-width:100%}"
    )
    return (
        f'<!doctype html><html lang="en"><meta charset="utf-8"><title>{html.escape(title)}'
        f"</title><style>{style}</style><body>{''.join(body)}</body></html>"
    )


def render_training_report(
    run_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str], *, formats: Iterable[str]
) -> tuple[Path | None, Path | None, list[Path]]:
    """Write ``report.html`` / ``report.md`` / ``figures/*.png`` of a run; return their paths."""
    root, out = Path(run_dir), Path(out_dir)
    metrics_path = root / "metrics.json"
    if not metrics_path.is_file():
        raise AuditError(
            f"{root} holds an unfinished training run (no metrics.json); finish it with "
            "`semaudit train ... --resume`."
        )
    metrics = read_json(metrics_path)
    comparison = (root / "comparison.json").is_file()
    title, table, lines = (_rows_comparison if comparison else _rows_single)(root, metrics)
    found = [root / name for name in _FIGURES if (root / name).is_file()]
    wanted = set(formats)
    figures: list[Path] = []
    if "png" in wanted:
        (out / "figures").mkdir(parents=True, exist_ok=True)
        for path in found:
            shutil.copyfile(path, out / "figures" / path.name)
            figures.append(out / "figures" / path.name)
    html_path = md_path = None
    if "html" in wanted:
        html_path = out / "report.html"
        atomic_write_bytes(html_path, _html(title, table, lines, found).encode("utf-8"))
    if "md" in wanted:
        md_path = out / "report.md"
        atomic_write_bytes(md_path, _markdown(title, table, lines).encode("utf-8"))
    return html_path, md_path, figures
