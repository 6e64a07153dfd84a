"""``semaudit demo``: the whole flow, offline, on the bundled long-tailed sample."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

import typer

from semaudit.backbones import BUNDLED
from semaudit.cli._app import app, examples, out
from semaudit.cli.scan import run_scan, show_result


def sample_root() -> Path:
    """The bundled Fashion-MNIST long-tailed sample (434 images, 10 classes)."""
    return Path(str(resources.files("semaudit") / "sample" / "fashion-mnist-lt"))


@app.command(
    epilog=examples("semaudit demo", "semaudit demo --out /tmp/demo -q"),
)
def demo(
    out_dir: Path = typer.Option(
        Path("semaudit-demo"), "--out", "-o", help="Where to write the audit and report."
    ),
    backbone: str = typer.Option(
        BUNDLED, "--backbone", "-b", help="Backbone to use (the bundled one works offline)."
    ),
    json_output: bool = typer.Option(False, "--json", help="Machine-readable summary on stdout."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Scan the bundled sample with the bundled backbone, then render its report."""
    audit_dir = out_dir / "audit"
    created = not out_dir.exists()
    try:
        result = run_scan(sample_root(), audit_dir, {"backbone": backbone}, quiet=quiet)
        show_result(result, json_output)
        from semaudit.report import render_report

        report = render_report(audit_dir, out_dir / "report")
    except BaseException:
        if created:  # a failed demo leaves nothing behind; only a folder it made is removed
            shutil.rmtree(out_dir, ignore_errors=True)
        raise
    if not json_output:
        out.print(
            f"Report: {report.html}\nNext: semaudit check {audit_dir} --suggest",
            markup=False,
        )
