"""``semaudit scan``: embed a dataset and write its audit directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from semaudit.cli._app import app, class_column_width, out, plain, print_json
from semaudit.cli._options import scan_config
from semaudit.cli._progress import ScanProgress
from semaudit.values import finite


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
        )


def _fmt(value: Any, spec: str = ".2f") -> str:
    number = finite(value)
    return "" if number is None else format(number, spec)


def show_result(result: Any, json_output: bool) -> None:
    """Per-class table and recommendations on stdout (or the summary as JSON)."""
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
    from rich.table import Table

    table = Table(
        title=plain(f"semantic scale per class ({result.backbone})"), title_justify="left"
    )
    for name in ("class", "n", "scale", "matched", "saturation", "need more", "probe acc", "flags"):
        table.add_column(name, justify="left" if name in ("class", "flags") else "right")
    table.columns[0].min_width = class_column_width(analysis.classes["class"])
    for row in analysis.classes.itertuples(index=False):
        table.add_row(
            plain(row[0]),
            str(row.n),
            _fmt(row.scale),
            _fmt(row.scale_matched),
            _fmt(row.saturation, ".0%"),
            _fmt(row.need_more, ".0f"),
            _fmt(row.probe_accuracy, ".0%"),
            str(row.flags or ""),
        )
    out.print(table)
    recs = analysis.summary.get("recommendations") or []
    if recs:
        rec_table = Table(title="recommendations", title_justify="left", show_header=False)
        rec_table.add_column("#", justify="right")
        rec_table.add_column("what to do")
        for i, rec in enumerate(recs, 1):
            rec_table.add_row(str(i), plain(rec["text"]))
        out.print(rec_table)
    s = analysis.summary
    out.print(
        f"{result.n_images} images in {result.n_classes} classes, {result.n_skipped} skipped; "
        f"{result.n_embedded} embedded, {result.n_reused} reused. "
        f"count ratio {_fmt((s.get('count') or {}).get('max_min_ratio'))}, "
        f"scale ratio {_fmt((s.get('scale') or {}).get('max_min_ratio'))}. "
        f"Audit written to {result.out}",
        markup=False,
    )


@app.command()
def scan(
    data: Path | None = typer.Argument(
        None, help="Folder with one sub-folder per class.", show_default=False
    ),
    out_dir: Path = typer.Option(Path("audit"), "--out", "-o", help="Audit directory to write."),
    manifest: Path | None = typer.Option(
        None,
        "--manifest",
        help="CSV/parquet with path,label[,split] (DATA is then the root for relative paths).",
    ),
    split: str | None = typer.Option(
        None, "--split", help="Use only manifest rows whose split column equals this."
    ),
    allow_outside_root: bool = typer.Option(
        False, "--allow-outside-root", help="Accept manifest paths outside the data root."
    ),
    backbone: str | None = typer.Option(
        None,
        "--backbone",
        "-b",
        help="auto | efficientnet-lite0 | openclip:MODEL/TAG | torchvision:NAME | pixels.",
    ),
    weights: str | None = typer.Option(
        None, "--weights", help="Local .pt / .safetensors weights for the backbone."
    ),
    device: str | None = typer.Option(None, "--device", help="auto | cpu | cuda[:N]."),
    batch_size: int | None = typer.Option(
        None,
        "--batch-size",
        help="Images per forward pass [default: GPU 256; CPU 8 for CNNs, 64 for ViTs].",
    ),
    workers: int | None = typer.Option(
        None, "--workers", help="Decoding processes [default: spare cores, ≤ 8]."
    ),
    alpha: float | None = typer.Option(
        None,
        "--alpha",
        help="Coding-rate α [default: d]; 1 with --no-normalize is the authors' volume.",
    ),
    normalize: bool | None = typer.Option(
        None, "--normalize/--no-normalize", help="L2-normalise features [default: on]."
    ),
    min_images: int | None = typer.Option(
        None, "--min-images", help="Classes with fewer images are flagged [default: 5]."
    ),
    draws: int | None = typer.Option(
        None, "--draws", help="Random subsets per curve point and for matched scale [default: 10]."
    ),
    target_saturation: float | None = typer.Option(
        None, "--target-saturation", help="Saturation that need_more aims at [default: 0.9]."
    ),
    matched_m: int | None = typer.Option(
        None,
        "--matched-m",
        help="Subset size m* for matched scale [default: smallest eligible class].",
    ),
    gamma: float | None = typer.Option(
        None, "--gamma", help="Exponent of the balanced weights (1/S)^γ [default: 1]."
    ),
    probe: bool | None = typer.Option(
        None, "--probe/--no-probe", help="Cross-validated linear probe [default: on]."
    ),
    seed: int | None = typer.Option(None, "--seed", help="Seed of every random draw [default: 0]."),
    dtype: str | None = typer.Option(
        None, "--dtype", help="Stored embeddings: float16 | float32 [default: float16]."
    ),
    config_file: Path | None = typer.Option(
        None, "--config", help="TOML file with a [scan] table."
    ),
    json_output: bool = typer.Option(False, "--json", help="Machine-readable summary on stdout."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Embed every image and write per-class semantic-scale statistics to an audit directory."""
    flags = {
        "backbone": backbone,
        "weights": weights,
        "device": device,
        "batch_size": batch_size,
        "workers": workers,
        "alpha": alpha,
        "normalize": normalize,
        "min_images": min_images,
        "draws": draws,
        "target_saturation": target_saturation,
        "matched_m": matched_m,
        "gamma": gamma,
        "probe": probe,
        "seed": seed,
        "dtype": dtype,
    }
    result = run_scan(
        data,
        out_dir,
        flags,
        config_file=config_file,
        manifest=manifest,
        split=split,
        allow_outside_root=allow_outside_root,
        quiet=quiet,
    )
    show_result(result, json_output)
