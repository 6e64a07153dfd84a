"""What a newcomer meets first: help text, CLI conventions, output at 80 columns, wrong folders.

Each test runs the real app: in-process through Typer's runner for the help of every command,
in a subprocess (``python -m semaudit``, stdout piped) for scans and tables.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import typer
from cli_support import assert_one_line_error, semaudit_cli
from fmnist import CLASS_NAMES, write_image_folder
from typer.testing import CliRunner

from semaudit import __version__
from semaudit.cli import commands  # noqa: F401  (registers the commands)
from semaudit.cli._app import COMMAND_ORDER, app
from semaudit.cli._settings import flag_of, flagged_fields, shown_default
from semaudit.scanner.config import CONFIG_ONLY, ScanConfig

WIDE = {"COLUMNS": "300", "NO_COLOR": "1"}


def _help(*args: str, env: dict[str, str] | None = None) -> str:
    result = CliRunner().invoke(app, [*args], env=env or WIDE)
    assert result.exit_code == 0, result.output
    return result.output


def _commands() -> dict[str, Any]:
    return typer.main.get_command(app).commands  # type: ignore[attr-defined,no-any-return]


def _row(text: str, option: str) -> str:
    """The help row of ``option`` (its first name), at a width where rows do not wrap."""
    rows = [line for line in text.splitlines() if re.match(rf"│[ *]+{re.escape(option)}\b", line)]
    assert len(rows) == 1, (option, text)
    return rows[0]


def _has_default(param: Any) -> bool:
    if param.name == "help" or param.param_type_name != "option":
        return False
    if "[default:" in (param.help or ""):
        return True
    shown = getattr(param, "show_default", None) is not False
    return shown and param.default not in (None, False) and not param.is_eager


@pytest.mark.parametrize("name", COMMAND_ORDER)
def test_help_of_every_command_shows_every_default(name: str) -> None:
    command = _commands()[name]
    text = _help(name, "--help")
    with_default = [p for p in command.params if _has_default(p)]
    for param in with_default:
        assert "[default: " in _row(text, param.opts[0]), (name, param.opts[0])
    assert not re.search(r" \.\s", text)  # markup never eats a bracketed default ("pass .")
    assert "<bool>" not in text and "{" + command.params[0].name + "}" not in text


def test_scan_help_shows_scan_config_defaults_in_panels() -> None:
    text = _help("scan", "-h")
    fields = flagged_fields(ScanConfig, CONFIG_ONLY)
    assert len(fields) >= 14
    for field in fields:
        flag = flag_of(field).split("/")[0].split(" ")[0]
        assert f"[default: {shown_default(field)}]" in _row(text, flag), flag
    assert "[default: 5]" in _row(text, "--min-images")
    assert ScanConfig().min_images == 5 and "[default: 0.9]" in _row(text, "--target-saturation")
    assert "TOML file with a [scan] table" in _row(text, "--config")
    for panel in ("Input", "Backbone and speed", "Statistics", "Output"):
        assert f"─ {panel} ─" in text
    assert "Usage: semaudit scan [OPTIONS] [DATA]" in text
    assert "Examples:" in text and "semaudit scan data/train --out audit" in text


def test_scan_settings_come_from_one_table() -> None:
    """Every ScanConfig field a user sets per run has exactly one flag, made from the field."""
    params = {p.name: p for p in _commands()["scan"].params}
    fields = [f.name for f in flagged_fields(ScanConfig, CONFIG_ONLY)]
    assert not set(fields) & CONFIG_ONLY
    # a new ScanConfig field needs one decision: its help in setting(...), or CONFIG_ONLY
    assert set(fields) | CONFIG_ONLY == set(ScanConfig().to_dict())
    helpless = [f.name for f in flagged_fields(ScanConfig, CONFIG_ONLY) if "help" not in f.metadata]
    assert helpless == []
    for field in fields:
        assert params[field].default is None  # None: the config file / env / default decide


def test_scan_help_through_the_real_cli_at_80_columns() -> None:
    result = semaudit_cli("scan", "--help", env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    assert "Images per forward pass." in result.stdout
    assert "[default: GPU 256" in result.stdout and "<bool>" not in result.stdout


def test_conventions_version_short_help_and_workflow_order() -> None:
    assert _help("--version").strip() == f"semaudit {__version__}"
    assert _help("-V").strip() == f"semaudit {__version__}"
    assert _help("-h") == _help("--help")
    text = _help("--help")
    listed = [
        m.group(1) for m in re.finditer(r"^│ (\w+) ", text, re.M) if m.group(1) in _commands()
    ]
    assert listed == [name for name in COMMAND_ORDER if name in _commands()]
    assert _help("report", "-h").count("Usage: semaudit report [OPTIONS] AUDIT") == 1
    assert "Usage: semaudit compare [OPTIONS] OLD NEW" in _help("compare", "-h")
    for name in ("scan", "report", "compare", "models", "demo"):
        assert "Examples:" in _help(name, "-h"), name
    for name in ("scan", "report", "compare", "demo"):
        assert re.search(r"--quiet\s+-q", _help(name, "-h")), name


@pytest.fixture(scope="module")
def long_tail(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_image_folder(tmp_path_factory.mktemp("lt"), [60, 30, 15, 8], seed=3)


@pytest.fixture(scope="module")
def scanned(long_tail: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    audit = tmp_path_factory.mktemp("audit") / "audit"
    result = semaudit_cli(
        "scan", str(long_tail), "--out", str(audit), "-b", "pixels", env={"COLUMNS": "80"}
    )
    assert result.returncode == 0, result.stderr
    return audit, result


def test_scan_at_80_columns_keeps_headers_and_names_and_says_what_next(
    scanned: tuple[Path, Any],
) -> None:
    audit, result = scanned
    assert "…" not in result.stdout
    table = result.stdout.split("recommendations")[0]
    assert all(len(line) <= 80 for line in table.splitlines()), table
    for header in ("saturation", "need more", "probe acc"):
        assert header in table
    for name in CLASS_NAMES[:4]:
        assert re.search(rf"\b{re.escape(name)}\b", table)
    assert result.stdout.rstrip().endswith(f"Next: semaudit report {audit}")


def test_models_at_80_columns_never_truncates_ids() -> None:
    result = semaudit_cli("models", env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    assert "openclip:ViT-B-32/laion2b_s34b_b79k" in result.stdout and "…" not in result.stdout
    assert all(len(line) <= 80 for line in result.stdout.splitlines()[:-1])
    every = semaudit_cli("models", "--all", env={"COLUMNS": "80"})
    assert every.returncode == 0 and "…" not in every.stdout
    ids = [line.split()[0] for line in every.stdout.splitlines()[1:-1] if line.strip()]
    assert "openclip:ViT-B-32/laion2b_s34b_b79k" in ids


def test_compare_at_80_columns_prints_one_line_per_class(scanned: tuple[Path, Any]) -> None:
    audit, _ = scanned
    result = semaudit_cli("compare", str(audit), str(audit), env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    assert "…" not in result.stdout
    for name in CLASS_NAMES[:4]:
        lines = [line for line in result.stdout.splitlines() if line.startswith(name + " ")]
        assert len(lines) == 1 and "→" in lines[0], result.stdout
    wide = semaudit_cli("compare", str(audit), str(audit), env={"COLUMNS": "200"})
    assert "┃ class" in wide.stdout  # a boxed table when it fits


def test_split_root_is_refused_naming_the_split_to_scan(long_tail: Path, tmp_path: Path) -> None:
    shutil.copytree(long_tail, tmp_path / "data" / "train")
    shutil.copytree(long_tail / CLASS_NAMES[0], tmp_path / "data" / "val" / CLASS_NAMES[0])
    result = semaudit_cli("scan", str(tmp_path / "data"), "-o", str(tmp_path / "a"), "-b", "pixels")
    assert_one_line_error(result, 3, "split folders (train, val)", str(tmp_path / "data" / "train"))


def test_class_folder_given_as_data_is_refused_naming_the_parent(long_tail: Path) -> None:
    one_class = long_tail / CLASS_NAMES[2]
    result = semaudit_cli("scan", str(one_class), "-o", str(long_tail.parent / "a"), "-b", "pixels")
    assert_one_line_error(result, 3, "15 images but no class folders", f"({long_tail})")
