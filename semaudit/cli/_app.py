"""The Typer application and the two consoles shared by every command.

Results go to stdout (``out``), messages and progress to stderr (``err``). Commands raise
``SemauditError``; ``main`` (in ``cli/commands.py``, which imports every command module) turns
it into one line on stderr and the error's exit code. This module imports no command module.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Collection, Sequence
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text

COMMAND_ORDER = ("scan", "report", "check", "compare", "train", "models", "demo")
"""Workflow order in ``semaudit --help``: measure, look, gate, diff, act; then the helpers."""


_UNESCAPED_TAG = re.compile(r"(?<!\\)\[(?=[a-z#/@])")


def _help_conventions(params: list[Any]) -> list[Any]:
    """Help conventions of every parameter, whoever wrote it.

    Help text is plain: ``[default: 5]`` or ``[scan]`` would otherwise be read as Rich markup
    and vanish. Flags take no value: no ``<bool>``. Arguments read ``DATA``, not ``data``.
    """
    for param in params:
        if getattr(param, "help", None):
            param.help = _UNESCAPED_TAG.sub(r"\\[", param.help)
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
        elif param.param_type_name == "argument" and param.metavar is None:
            param.metavar = param.name.upper()
    return params


class _Group(typer.core.TyperGroup):
    """Lists commands in workflow order (``COMMAND_ORDER``), unknown ones last."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _help_conventions(super().get_params(ctx))

    def list_commands(self, ctx: Any) -> list[str]:
        rank = {name: i for i, name in enumerate(COMMAND_ORDER)}
        names = super().list_commands(ctx)
        return sorted(names, key=lambda name: (rank.get(name, len(rank)), names.index(name)))


class _Command(typer.core.TyperCommand):
    """Help conventions of every command: flags shown without a type, ``AUDIT`` / ``[DATA]``."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _help_conventions(super().get_params(ctx))

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                name = param.metavar or param.name.upper()
                pieces.append(name if param.required else f"[{name}]")
        return pieces


class _App(typer.Typer):
    """Every command gets ``_Command`` (help conventions) unless it asks for another class."""

    def command(self, *args: Any, cls: Any = None, **kwargs: Any) -> Any:
        return super().command(*args, cls=cls or _Command, **kwargs)


def _show_version(value: bool) -> None:
    if value:
        from semaudit import __version__

        sys.stdout.write(f"semaudit {__version__}\n")
        raise typer.Exit(0)


app = _App(
    name="semaudit",
    help="Audit image-classification datasets for semantic scale imbalance.",
    epilog="Start here: semaudit demo (offline; a CPU is enough), then semaudit scan DATA. "
    "Each command's -h ends with examples.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    cls=_Group,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root(
    version: bool = typer.Option(
        False,
        "--version",
        "-V",
        help="Print the version and exit.",
        is_eager=True,
        callback=_show_version,
    ),
) -> None:
    """Audit image-classification datasets for semantic scale imbalance."""


def examples(*lines: str) -> str:
    """A help epilog: ``Examples:`` then one command per line (Rich markup escaped)."""
    body = "\n".join(f"  {escape(line)}" for line in lines)
    return f"[bold]Examples:[/]\n{body}"


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


def print_table(
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[str | Text]],
    *,
    right: Collection[int] = (),
    wrap: Collection[int] = (),
) -> None:
    """A table on stdout that never cuts what users copy (ids, class names, headers).

    Boxed when it fits the console width, borderless when that fits, otherwise one plain line
    per row (``first cell  header value; header value``). Only the ``wrap`` columns (free
    text) may wrap; every other cell keeps its full width.
    """
    from rich import box
    from rich.cells import cell_len
    from rich.table import Table

    texts = [[str(cell) for cell in row] for row in rows]
    widths = [
        max([cell_len(name), *(cell_len(row[i]) for row in texts)])
        for i, name in enumerate(columns)
    ]
    words = [max((cell_len(word) for row in texts for word in row[i].split()), default=0)
             for i in range(len(columns))]  # fmt: skip
    needed = [max(min(w, 16), words[i]) if i in wrap else w for i, w in enumerate(widths)]
    compact = {"box": None, "pad_edge": False, "padding": (0, 1)}
    n = len(columns)
    for style, frame in (({"box": box.HEAVY_HEAD}, 3 * n + 1), (compact, 2 * (n - 1))):
        if sum(needed) + frame > out.width:
            continue
        table = Table(title=plain(title), title_justify="left", **style)
        for i, name in enumerate(columns):
            table.add_column(
                name,
                justify="right" if i in right else "left",
                no_wrap=i not in wrap,
                min_width=needed[i],
                overflow="fold",
            )
        for row in rows:
            table.add_row(*(cell if isinstance(cell, Text) else plain(cell) for cell in row))
        out.print(table)
        return
    out.print(plain(title))
    for row in texts:
        rest = "; ".join(
            f"{name} {cell}" for name, cell in zip(columns[1:], row[1:], strict=True) if cell
        )
        out.print(plain(f"{row[0]}  {rest}" if rest else row[0]))


def warn(message: str) -> None:
    err.print(f"[yellow]warning:[/] {escape(str(message).translate(_CONTROL))}", highlight=False)


_BROKEN_TORCH = ("torchvision::", "torch::", "undefined symbol")


def _version(name: str) -> str:
    """An installed distribution's version, without importing it."""
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "(not installed)"


def broken_torch(exc: BaseException) -> str | None:
    """The one-line message for a torch / torchvision pair that does not work together (an
    operator missing, a symbol undefined), or None when ``exc`` is something else."""
    if not isinstance(exc, RuntimeError | ImportError | OSError):
        return None
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if not any(mark in text for mark in _BROKEN_TORCH):
        return None
    torch = sys.modules.get("torch")
    torch_version = getattr(torch, "__version__", None) or _version("torch")
    return (
        f"torch {torch_version} and torchvision {_version('torchvision')} do not work together "
        f"({text}); install a matching pair, e.g. `pip install --upgrade torch torchvision` "
        "(pytorch.org lists the pairs), then rerun."
    )
