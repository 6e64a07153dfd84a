"""The entry point: imports every command module (each registers itself on ``app`` from
``cli/_app.py``) and runs the app behind the error boundary.

``_app`` never imports this module nor any command module, so there is no import cycle:
``_app`` ← each command module ← ``commands`` ← ``cli/__init__`` (tests/test_architecture.py).
"""

from __future__ import annotations

import sys

import typer

from semaudit.cli import check, compare, demo, models, report, scan, train
from semaudit.cli._app import app, broken_torch, err
from semaudit.errors import (
    EXIT_INPUT,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    SemauditError,
)

COMMAND_MODULES = (check, compare, demo, models, report, scan, train)


def _is_click_error(exc: BaseException) -> bool:
    """Click's (or Typer's vendored click's) usage errors: they know how to show themselves."""
    return hasattr(exc, "show") and isinstance(getattr(exc, "exit_code", None), int)


_RESUME = "interrupted; rerun the same command to resume"


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit code (0 ok, 1 gate failed, 2 usage, 3 input, 4 internal)."""
    try:
        result = app(args=argv, prog_name="semaudit", standalone_mode=False)
    except SemauditError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        return exc.exit_code
    except typer.Exit as exc:
        return int(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err.print(_RESUME, markup=False)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if _is_click_error(exc):
            exc.show(file=sys.stderr)  # type: ignore[attr-defined]
            return EXIT_USAGE if exc.exit_code == 2 else int(exc.exit_code)  # type: ignore[attr-defined]
        broken = broken_torch(exc)
        if broken is not None:  # the install, not semaudit: name both versions, exit 3
            err.print(f"error: {broken}", markup=False, highlight=False)
            return EXIT_INPUT
        import traceback  # a bug: keep the traceback, it is what a bug report needs

        traceback.print_exc()
        err.print("internal error: please report it with the traceback above", markup=False)
        return EXIT_INTERNAL
    if result == EXIT_INTERRUPTED:  # Typer turns KeyboardInterrupt (Ctrl-C, SIGTERM) into 130
        err.print(_RESUME, markup=False)
    return int(result) if isinstance(result, int) else EXIT_OK
