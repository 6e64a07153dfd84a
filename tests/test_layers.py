"""The layering of docs/architecture.md: light modules never pull in torch, open_clip or
matplotlib."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("torch", "open_clip", "timm", "matplotlib")


def _imported_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return {m.split(".")[0] for m in out.stdout.split()}


@pytest.mark.parametrize(
    "module",
    [
        "semaudit",
        "semaudit.stats.defaults",
        "semaudit.store.views",
        "semaudit.backbones",
        "semaudit.checksum",
        "semaudit.stats.scale",
        "semaudit.stats.imbalance",
        "semaudit.stats.marginal",
        "semaudit.store",
        "semaudit.data",
        "semaudit.store.shards",
        "semaudit.scanner.analysis",
        "semaudit.config",
        "semaudit.gate",
        "semaudit.runtime",
        "semaudit.distributed",
        "semaudit.cli.commands",
    ],
)
def test_light_modules_import_no_heavy_library(module: str) -> None:
    loaded = _imported_after(f"import {module}")
    assert not loaded & set(HEAVY), f"{module} imported {loaded & set(HEAVY)}"


def test_cli_help_imports_no_torch() -> None:
    code = (
        "import sys; from semaudit.cli import main; rc = main(['--help']); "
        "print('TORCH' if 'torch' in sys.modules else 'LIGHT', rc)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("LIGHT 0")


def test_report_module_imports_no_torch() -> None:
    loaded = _imported_after("import semaudit.report, semaudit.cli.report")
    assert "torch" not in loaded
