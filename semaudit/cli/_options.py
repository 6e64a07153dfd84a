"""Scan options shared by ``scan`` and ``demo``: the resolved ``ScanConfig``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from semaudit.config import resolve_config
from semaudit.scanner.config import ScanConfig


def scan_config(flags: dict[str, Any], config_file: Path | None) -> ScanConfig:
    """Defaults < ``[scan]`` in the config file < ``SEMAUDIT_SCAN_*`` < flags (non-None)."""
    return resolve_config(ScanConfig, "scan", flags, config_file)
