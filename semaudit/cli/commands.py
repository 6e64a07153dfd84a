"""Imports every command module so that each registers itself on ``app``."""

from semaudit.cli import check, compare, demo, models, report, scan, train  # noqa: F401
