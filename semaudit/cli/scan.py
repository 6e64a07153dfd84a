"""``semaudit scan``: embed a dataset and write its audit directory.

Every ``ScanConfig`` field made with ``setting()`` is a flag, built by ``cli/_settings.py`` as for
``train``: its help, panel and shown default live with the field, so a new setting touches
``ScanConfig`` alone (or ``CONFIG_ONLY``, for tuning that has no flag).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from semaudit.cli._app import app, examples, out, plain, print_json, print_table
from semaudit.cli._options import scan_config
from semaudit.cli._progress import ScanProgress
from semaudit.cli._settings import flagged_fields, with_settings
from semaudit.scanner.config import CONFIG_ONLY, INPUT, ScanConfig
from semaudit.store.schema import CLASSES_CSV
from semaudit.values import format_number, plural

OUTPUT = "Output"


def _backbone_help() -> str:
    """``auto`` and each registered family's name syntax: a new family module shows up here."""
    from semaudit.backbones.registry import families

    names = " | ".join(["auto", *(family.syntax for family in families().values())])
    return f"{names} (list: semaudit models)."


def run_scan(
    data: Path | None,
    out_dir: Path,
    flags: dict[str, Any],
    *,
    config_file: Path | None = None,
    manifest: Path | None = None,
    split: str | None = None,
    allow_outside_root: bool = False,
    quiet: bool = False,
    overwrite: bool = False,
) -> Any:
    """Shared by ``scan`` and ``demo``: resolve settings, scan with progress, return the result."""
    from semaudit.scanner.run import scan

    config = scan_config(flags, config_file)
    with ScanProgress(quiet) as progress:
        return scan(
            data,
            out=out_dir,
            manifest=manifest,
            split=split,
            allow_outside_root=allow_outside_root,
            config=config,
            on_event=progress,
            overwrite=overwrite,
        )


def _fmt(value: Any, spec: str = ".2f") -> str:
    return format_number(value, spec, missing="n/a")


def _cell(value: Any, spec: str = ".2f") -> str:
    return format_number(value, spec, missing="")


SCREENFUL = 25
"""Up to this many classes the scan table shows them all; above, the first ``SHOWN_ROWS``."""
SHOWN_ROWS = 20


def _shown(classes: Any, recs: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """The table's rows: every class up to a screenful, else those that need attention first
    (in the recommendations' order, then by name); and how many are left out."""
    from semaudit.wording import attention_order

    records = classes.to_dict("records")
    if len(records) <= SCREENFUL:
        return records, 0
    rank = {name: i for i, name in enumerate(attention_order(recs))}
    records.sort(key=lambda r: (rank.get(str(r["class"]), len(rank)), str(r["class"])))
    return records[:SHOWN_ROWS], len(records) - SHOWN_ROWS


def show_result(result: Any, json_output: bool) -> None:
    """Per-class table (a screenful) and recommendations on stdout (or the summary as JSON)."""
    from semaudit.wording import need_more_label, saturation_label

    analysis = result.analysis
    if json_output:
        print_json(
            {
                "out": str(result.out),
                "backbone": result.backbone,
                "images": result.n_images,
                "classes": result.n_classes,
                "skipped": result.n_skipped,
                "embedded": result.n_embedded,
                "reused": result.n_reused,
                "summary": analysis.summary,
            }
        )
        return
    recs = analysis.summary.get("recommendations") or []
    records, hidden = _shown(analysis.classes, recs)
    rows = [
        (
            plain(record["class"]),
            str(record["n"]),
            _cell(record["scale"]),
            _cell(record["scale_matched"]),
            saturation_label(record),
            need_more_label(record),
            _cell(record["probe_accuracy"], ".0%"),
            str(record["flags"] if isinstance(record["flags"], str) else ""),
        )
        for record in records
    ]
    first = " (those needing attention first)" if hidden else ""
    print_table(
        f"semantic scale per class ({result.backbone}){first}",
        ("class", "n", "scale", "matched", "saturation", "need more", "probe acc", "flags"),
        rows,
        right=(1, 2, 3, 4, 5, 6),
        wrap=(7,),
    )
    if hidden:
        out.print(f"… {hidden:,} more; full table in {result.out / CLASSES_CSV}", markup=False)
    if recs:
        out.print("recommendations", markup=False)
        for i, rec in enumerate(recs, 1):
            out.print(f"{i:>3}. ", plain(rec["text"]), sep="")
    _show_table1(analysis)
    s = analysis.summary
    out.print(
        f"{plural(result.n_images, 'image')} in {plural(result.n_classes, 'class')}, "
        f"{result.n_skipped} skipped; "
        f"{result.n_embedded:,} embedded, {result.n_reused:,} reused. "
        f"count ratio {_fmt((s.get('count') or {}).get('max_min_ratio'))}, "
        f"scale ratio {_fmt((s.get('scale') or {}).get('max_min_ratio'))}. "
        f"Audit written to {result.out}",
        markup=False,
    )


def _show_table1(analysis: Any) -> None:
    """Pearson r of per-class probe accuracy with each measure (the paper's Table 1), and the
    verdict in words; nothing when the probe did not run."""
    from semaudit.stats.table1 import critical_r, table1_verdict

    table = (analysis.summary.get("correlations") or {}).get("probe_accuracy")
    if not table:
        return
    names = {
        "count": "N",
        "effective_number": "E_n",
        "scale": "S′",
        "scale_matched": "matched",
        "centre_distance": "w",
        "scale_interclass": f"S (α {analysis.interclass_alpha:g})",
    }
    cells = [
        f"{label} {_fmt((table.get(key) or {}).get('pearson'), '+.2f')}"
        for key, label in names.items()
        if key in table
    ]
    k = int(analysis.summary.get("n_eligible") or 0)  # every eligible class is probed
    bar = critical_r(k)
    noise = f" (|r| < {bar:.2f} is not significant with {k} classes)" if bar else ""
    out.print(
        "accuracy vs measure, Pearson r (the paper's Table 1): " + ", ".join(cells) + noise,
        markup=False,
    )
    out.print("  " + table1_verdict(table, k)["text"], markup=False)


_DATA = typer.Argument(
    None,
    metavar="DATA",
    help="Folder with one sub-folder per class, .tar shards, a Hugging Face dataset "
    "(.parquet, save_to_disk folder, hf:OWNER/NAME[@SPLIT]) or the root of --manifest "
    "paths.",
    show_default=False,
)
_MANIFEST = typer.Option(
    None,
    "--manifest",
    help="CSV/parquet with path,label[,split] (DATA is then the root for relative paths).",
    rich_help_panel=INPUT,
    show_default=False,
)
_SPLIT = typer.Option(
    None,
    "--split",
    help="Use only manifest rows whose split column equals this.",
    rich_help_panel=INPUT,
    show_default=False,
)
_OUTSIDE = typer.Option(
    False,
    "--allow-outside-root",
    help="Accept manifest paths outside the data root.",
    rich_help_panel=INPUT,
)
_CONFIG = typer.Option(
    None,
    "--config",
    help="TOML file with a [scan] table [default: semaudit.toml, or pyproject.toml with "
    "[tool.semaudit.scan], found from the working directory up].",
    rich_help_panel=INPUT,
    show_default=False,
)
_OUT = typer.Option(
    Path("audit"), "--out", "-o", help="Audit directory to write.", rich_help_panel=OUTPUT
)
_OVERWRITE = typer.Option(
    False,
    "--overwrite",
    help="Replace an audit in --out that was made from other data (another data root or "
    "manifest); without it such a scan is refused.",
    rich_help_panel=OUTPUT,
)
_JSON = typer.Option(
    False, "--json", help="Machine-readable summary on stdout.", rich_help_panel=OUTPUT
)
_QUIET = typer.Option(False, "--quiet", "-q", help="No progress bar.", rich_help_panel=OUTPUT)


def _scan(
    data: Path | None = _DATA,
    manifest: Path | None = _MANIFEST,
    split: str | None = _SPLIT,
    allow_outside_root: bool = _OUTSIDE,
    config_file: Path | None = _CONFIG,
    out_dir: Path = _OUT,
    overwrite: bool = _OVERWRITE,
    json_output: bool = _JSON,
    quiet: bool = _QUIET,
    **settings: Any,
) -> None:
    """Embed every image and write per-class semantic-scale statistics to an audit directory."""
    result = run_scan(
        data,
        out_dir,
        {f.name: settings.get(f.name) for f in flagged_fields(ScanConfig, CONFIG_ONLY)},
        config_file=config_file,
        manifest=manifest,
        split=split,
        allow_outside_root=allow_outside_root,
        quiet=quiet,
        overwrite=overwrite,
    )
    if result.analysis is None:  # a torchrun rank other than 0: rank 0 reports the audit
        return
    show_result(result, json_output)
    if not json_output:
        out.print(f"Next: semaudit report {result.out}", markup=False)


scan = app.command(
    "scan",
    epilog=examples(
        "semaudit scan data/train --out audit",
        "semaudit scan --manifest train.csv --split train --out audit",
        "semaudit scan hf:zalando-datasets/fashion_mnist@train --out audit   # cached dataset",
        "semaudit scan data/train -b openclip:ViT-B-32/laion2b_s34b_b79k --device cuda",
        "semaudit scan data/train --alpha 1 --no-normalize   # the first author's volume",
    ),
)(
    with_settings(
        _scan,
        ScanConfig,
        before="out_dir",
        config_only=CONFIG_ONLY,
        helps={"backbone": _backbone_help()},
    )
)
