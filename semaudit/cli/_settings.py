"""Flags generated from a settings dataclass whose fields carry their help (``ScanConfig``,
``TrainConfig``).

A field's ``metadata`` holds ``help``, ``panel``, ``shown`` (the default as a user reads it, for
``None`` values) and ``flag`` (default ``--field-name``, ``--x/--no-x`` for booleans). The flag,
its help panel and its shown default follow from the field alone; the values reach
:func:`semaudit.config.resolve_config` as ``{field: value or None}``.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from typing import Any

import typer


def flag_of(field: dataclasses.Field[Any]) -> str:
    """The field's flag: its own, else ``--name`` (``--name/--no-name`` for a boolean)."""
    given = field.metadata.get("flag")
    if given:
        return str(given)
    name = "--" + field.name.replace("_", "-")
    return f"{name}/--no-{name[2:]}" if isinstance(field.default, bool) else name


def shown_default(field: dataclasses.Field[Any]) -> str:
    """The default a user sees: the field's ``shown`` text, else its value in the dataclass."""
    if field.metadata.get("shown") is not None:
        return str(field.metadata["shown"])
    if isinstance(field.default, bool):
        on, _, off = flag_of(field).partition("/")
        if not off:  # a one-sided switch (--allow-overlap)
            return "on" if field.default else "off"
        return (on if field.default else off).lstrip("-")
    return str(field.default)


def flagged_fields(cls: type, config_only: frozenset[str] = frozenset()) -> list[Any]:
    """The fields of ``cls`` that are flags: every one but those in ``config_only``."""
    return [f for f in dataclasses.fields(cls) if f.name not in config_only]


def setting_parameter(
    cls: type, field: dataclasses.Field[Any], help_text: str | None = None
) -> inspect.Parameter:
    """One keyword parameter Typer reads as the field's flag (``None``: not given);
    ``help_text`` replaces the field's own (a help built at run time)."""
    hint = typing.get_type_hints(cls)[field.name]
    annotation = hint if type(None) in typing.get_args(hint) else hint | None
    help_text = help_text or field.metadata.get("help") or field.name.replace("_", " ") + "."
    return inspect.Parameter(
        field.name,
        inspect.Parameter.KEYWORD_ONLY,
        annotation=annotation,
        default=typer.Option(
            None,
            *flag_of(field).split(" "),
            help=f"{help_text} [default: {shown_default(field)}]",  # _app escapes brackets
            rich_help_panel=field.metadata.get("panel"),
            show_default=False,
        ),
    )


def with_settings(
    func: Any,
    cls: type,
    *,
    before: str,
    config_only: frozenset[str],
    helps: dict[str, str] | None = None,
) -> Any:
    """``func`` with one keyword parameter per flagged field of ``cls``, placed before the
    parameter ``before``; ``func`` takes them as ``**settings``. ``helps`` overrides the help
    of some fields."""
    signature = inspect.signature(func)
    fixed = [
        p.replace(kind=p.KEYWORD_ONLY)
        for p in signature.parameters.values()
        if p.kind != p.VAR_KEYWORD
    ]
    at = [p.name for p in fixed].index(before)
    helps = helps or {}
    fields = flagged_fields(cls, config_only)
    settings = [setting_parameter(cls, f, helps.get(f.name)) for f in fields]
    func.__signature__ = signature.replace(parameters=[*fixed[:at], *settings, *fixed[at:]])
    return func
