"""The Typer application, the two consoles and the error boundary shared by every command.

Results go to stdout (``out``), messages and progress to stderr (``err``). Commands raise
``SemauditError``; ``main`` turns it into one line on stderr and the error's exit code.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from semaudit.errors import EXIT_INTERNAL, EXIT_USAGE, SemauditError

app = typer.Typer(
    name="semaudit",
    help="Audit image-classification datasets for semantic scale imbalance.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def print_json(payload: Any) -> None:
    """Machine output: one JSON document on stdout, nothing else."""
    sys.stdout.write(json.dumps(payload, indent=2, allow_nan=False, default=str) + "\n")
    sys.stdout.flush()


_CONTROL = dict.fromkeys([*range(0, 32), 127], None)


def plain(text: object) -> Text:
    """User text (class names, paths) for Rich: never parsed as markup, control chars removed."""
    return Text(str(text).translate(_CONTROL))


def class_column_width(names: Any) -> int:
    """Width that keeps class names on one line, up to 40 characters."""
    return min(max((len(str(n)) for n in names), default=5), 40)


def warn(message: str) -> None:
    err.print(f"[yellow]warning:[/] {escape(str(message).translate(_CONTROL))}", highlight=False)


def _is_click_error(exc: BaseException) -> bool:
    """Click's (or Typer's vendored click's) usage errors: they know how to show themselves."""
    return hasattr(exc, "show") and isinstance(getattr(exc, "exit_code", None), int)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit code (0 ok, 1 gate failed, 2 usage, 3 input, 4 internal)."""
    from semaudit.cli import commands  # noqa: F401  (registers every command on ``app``)

    try:
        result = app(args=argv, prog_name="semaudit", standalone_mode=False)
    except SemauditError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        return exc.exit_code
    except typer.Exit as exc:
        return int(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err.print("interrupted; rerun the same command to resume", markup=False)
        return 130
    except Exception as exc:
        if _is_click_error(exc):
            exc.show(file=sys.stderr)  # type: ignore[attr-defined]
            return EXIT_USAGE if exc.exit_code == 2 else int(exc.exit_code)  # type: ignore[attr-defined]
        import traceback  # a bug: keep the traceback, it is what a bug report needs

        traceback.print_exc()
        err.print("internal error: please report it with the traceback above", markup=False)
        return EXIT_INTERNAL
    return int(result) if isinstance(result, int) else 0
