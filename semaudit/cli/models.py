"""``semaudit models``: the backbone registry."""

from __future__ import annotations

import typer

from semaudit.cli._app import app, out, print_json


@app.command()
def models(
    show_all: bool = typer.Option(
        False, "--all", help="Every OpenCLIP tag, not only those present here."
    ),
    json_output: bool = typer.Option(False, "--json", help="Machine-readable list on stdout."),
) -> None:
    """List backbones with their embedding dimension and whether their weights are here."""
    from rich.table import Table

    from semaudit.backbones import DEFAULT_CLIP, list_backbones

    rows = list_backbones()
    shown = [r for r in rows if show_all or r["weights_present"] or r["id"] == DEFAULT_CLIP]
    if json_output:
        print_json(shown)
        return
    table = Table(title="backbones (--backbone NAME)", title_justify="left")
    for name in ("id", "dim", "weights here", "description"):
        table.add_column(name)
    for row in shown:
        table.add_row(
            row["id"],
            str(row["dim"]),
            "yes" if row["weights_present"] else "no",
            row["description"],
        )
    out.print(table)
    if not show_all:
        out.print(
            f"{len(rows) - len(shown)} more OpenCLIP tags: semaudit models --all; "
            "torchvision:NAME takes any torchvision classifier.",
            markup=False,
        )
