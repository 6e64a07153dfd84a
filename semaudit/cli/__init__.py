"""Command-line interface: one module per command, registered on one Typer app."""

from semaudit.cli._app import app
from semaudit.cli.commands import main

__all__ = ["app", "main", "main_exit"]


def main_exit() -> None:
    """Console-script entry point."""
    import sys

    sys.exit(main())
