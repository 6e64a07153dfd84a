"""Scan options shared by ``scan`` and ``demo``, and their overlay on config files and env vars."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from semaudit.config import check_keys, env_overrides, load_section, section_prefix
from semaudit.scanner.config import ScanConfig


def scan_config(flags: dict[str, Any], config_file: Path | None) -> ScanConfig:
    """Defaults < ``[scan]`` in the config file < ``SEMAUDIT_SCAN_*`` < flags (non-None)."""
    config = ScanConfig()
    known = set(config.to_dict())
    table, source = load_section("scan", config_file)
    if table:
        check_keys(table, known, section_prefix("scan", source), source=source)
        config = config.overlay(table, f"{source}")
    env = env_overrides("SEMAUDIT_SCAN_", known, strict=True)
    if env:
        config = config.overlay(env, "SEMAUDIT_SCAN_* environment variables")
    given = {k: v for k, v in flags.items() if v is not None}
    return config.overlay(given, "command-line options")
