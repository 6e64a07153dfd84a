"""``semaudit compare``: per-class drift between two audits of one dataset."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from semaudit.cli._app import app, examples, out, plain, print_json, print_table, warn

if TYPE_CHECKING:
    from semaudit.compare import Delta


def _cell(delta: Delta, *, percent: bool = True) -> str:
    from semaudit.gate import format_number

    if delta.old is None and delta.new is None:
        return "—"
    text = f"{format_number(delta.old)} → {format_number(delta.new)}"
    if percent and delta.relative is not None:
        text += f" ({delta.relative:+.1%})"
    elif delta.delta is not None and delta.delta != 0:
        text += f" ({delta.delta:+.3g})"
    return text


@app.command(
    epilog=examples("semaudit compare audit-v1 audit", "semaudit compare audit-v1 audit --json")
)
def compare(
    old: Path = typer.Argument(..., help="The older audit directory (baseline)."),
    new: Path = typer.Argument(..., help="The newer audit directory."),
    json_output: bool = typer.Option(False, "--json", help="Machine-readable deltas on stdout."),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="No notes on stderr (what differs between the audits)."
    ),
) -> None:
    """Per-class deltas (n, scale, matched scale, saturation), largest scale change first."""
    from semaudit.compare import compare_audits
    from semaudit.store import load_audit

    result = compare_audits(load_audit(old), load_audit(new))
    for note in [] if quiet else result.notes:
        warn(note)
    if json_output:
        print_json(result.to_dict())
        return
    print_table(
        f"semaudit compare {old} → {new}",
        ("class", "status", "n", "scale (bits)", "matched scale", "saturation"),
        [
            (
                plain(c.name),
                c.status,
                _cell(c.metrics["n"]),
                _cell(c.metrics["scale"]),
                _cell(c.metrics["scale_matched"]),
                _cell(c.metrics["saturation"], percent=False),
            )
            for c in result.classes
        ],
    )
    summary = ", ".join(
        f"{name.replace('_', ' ')} {_cell(delta)}" for name, delta in result.dataset.items()
    )
    out.print(f"dataset: {summary}", markup=False)
    for label, names in (("added", result.added), ("removed", result.removed)):
        if names:
            out.print(f"{label}: {', '.join(names)}", markup=False)
