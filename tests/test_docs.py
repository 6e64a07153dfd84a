"""Docs are tested: the CLI reference is generated from the app and must be current."""

from __future__ import annotations

from pathlib import Path

from semaudit.cli._docs import cli_reference_markdown

ROOT = Path(__file__).resolve().parents[1]


def test_cli_reference_in_docs_is_current() -> None:
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    between = text.split("<!-- cli:start -->\n", 1)[1].split("<!-- cli:end -->", 1)[0]
    assert between == cli_reference_markdown(), (
        "docs/cli.md is stale: regenerate with `python -m semaudit.cli._docs` and paste it "
        "between the cli markers"
    )


def test_every_command_appears_in_the_readme_or_cli_docs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for command in ("scan", "report", "check", "compare", "models", "demo"):
        assert f"semaudit {command}" in readme


def test_changelog_has_an_unreleased_section() -> None:
    assert "## [Unreleased]" in (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
