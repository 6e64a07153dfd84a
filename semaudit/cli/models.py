"""``semaudit models``: the backbone registry."""

from __future__ import annotations

import typer

from semaudit.cli._app import app, examples, out, print_json, print_table


@app.command(epilog=examples("semaudit models", "semaudit models --all --json"))
def models(
    show_all: bool = typer.Option(
        False, "--all", help="Every OpenCLIP tag, not only those present here."
    ),
    json_output: bool = typer.Option(False, "--json", help="Machine-readable list on stdout."),
) -> None:
    """List backbones with their embedding dimension and whether their weights are here."""
    from semaudit.backbones import DEFAULT_CLIP, list_backbones

    rows = list_backbones()
    shown = [r for r in rows if show_all or r["weights_present"] or r["id"] == DEFAULT_CLIP]
    if json_output:
        print_json(shown)
        return
    print_table(
        "backbones (--backbone NAME)",
        ("id", "dim", "weights here", "description"),
        [
            (
                row["id"],
                str(row["dim"]),
                "yes" if row["weights_present"] else "no",
                row["description"],
            )
            for row in shown
        ],
        right=(1,),
        wrap=(3,),
    )
    if not show_all:
        out.print(
            f"{len(rows) - len(shown)} more OpenCLIP tags: semaudit models --all; "
            "torchvision:NAME takes any torchvision classifier.",
            markup=False,
        )
