"""Configuration: one resolver for every command's settings dataclass (stdlib only).

Where settings come from, highest precedence first (docs/cli.md, "Configuration"), as
:func:`resolve_config` applies them to a frozen dataclass of defaults (``ScanConfig``,
``TrainConfig``, …):

1. command-line flags (the CLI applies them last);
2. environment variables ``SEMAUDIT_<SECTION>_<KEY>`` (:func:`env_overrides`);
3. a file: ``--config FILE``, else the nearest ``semaudit.toml`` or ``pyproject.toml`` with a
   ``[tool.semaudit]`` table, found by walking up from the working directory
   (:func:`find_project_config`); the walk stops at the first folder holding ``.git``;
4. the defaults in the code.

In ``semaudit.toml`` the whole file is the semaudit table (``[check]``, ``[scan]``, …); in
``pyproject.toml`` it is ``[tool.semaudit]`` (``[tool.semaudit.check]``, …).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import os
import tomllib
import types
import typing
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, TypeVar

from semaudit.errors import ConfigError, UsageError

__all__ = [
    "CONFIG_NAMES",
    "check_keys",
    "env_overrides",
    "find_project_config",
    "is_device",
    "load_config_file",
    "load_section",
    "overlay",
    "parse_value",
    "require",
    "resolve_config",
    "section_prefix",
    "setting",
]

T = TypeVar("T")
FLAGS = "command-line options"
"""The ``where`` of values given on the command line (or as arguments of a library call)."""

CONFIG_NAMES = ("semaudit.toml", "pyproject.toml")
WILDCARD = "*"
"""In an ``allowed`` mapping of :func:`check_keys`, the key that matches any name (class names)."""


def setting(
    default: Any,
    help: str,
    *,
    panel: str | None = None,
    shown: str | None = None,
    flag: str | None = None,
) -> Any:
    """A field of a settings dataclass (``ScanConfig``, ``TrainConfig``) with its flag: ``help``
    (no default in it), help ``panel``, ``shown`` (the default as a user reads it when the value
    is ``None``), ``flag`` (default ``--field-name``; ``--x/--no-x`` for booleans; short names
    after a space, ``"--backbone -b"``). ``semaudit.cli._settings`` builds the flags."""
    meta = {"help": help, "panel": panel, "shown": shown, "flag": flag}
    return dataclasses.field(default=default, metadata=meta)


def load_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse a TOML file; raise ``ConfigError`` naming the file (and line) when it cannot."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(
            f"config file {path} does not exist; check the path (--config)."
        ) from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a directory; pass a TOML file.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}; fix that line.") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text; save it as UTF-8 TOML.") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}.") from None


def _semaudit_table(path: Path, document: dict[str, Any]) -> dict[str, Any] | None:
    """The semaudit table of a parsed file: the whole ``semaudit.toml``, or ``tool.semaudit``."""
    if path.name != "pyproject.toml":
        return document
    tool = document.get("tool")
    table = tool.get("semaudit") if isinstance(tool, dict) else None
    if table is None:
        return None
    if not isinstance(table, dict):
        raise ConfigError(f"tool.semaudit in {path} must be a table; received {table!r}.")
    return table


def find_project_config(start: Path | None = None) -> tuple[Path, dict[str, Any]] | None:
    """Nearest project config from ``start`` (default: cwd) upwards, as ``(file, semaudit table)``.

    In each folder ``semaudit.toml`` wins over ``pyproject.toml``; a ``pyproject.toml`` without
    ``[tool.semaudit]`` is passed over. The walk ends after the first folder holding ``.git``
    (the repository root), so a checkout never picks up a file from above it.
    """
    folder = Path.cwd() if start is None else Path(start)
    folder = folder.resolve()
    for candidate in (folder, *folder.parents):
        for name in CONFIG_NAMES:
            path = candidate / name
            if path.is_file():
                table = _semaudit_table(path, load_config_file(path))
                if table is not None:
                    return path, table
        if (candidate / ".git").exists():
            return None
    return None


def section_prefix(section: str, source: Path | None) -> str:
    """Dotted path of a section as a user sees it in ``source`` (for messages)."""
    if source is not None and source.name == "pyproject.toml":
        return f"tool.semaudit.{section}"
    return section


def load_section(
    section: str, explicit: Path | None = None, *, start: Path | None = None
) -> tuple[dict[str, Any], Path | None]:
    """The ``[section]`` table and the file it came from; ``({}, None)`` when there is no file.

    ``explicit`` (``--config FILE``) is used as is: a ``semaudit.toml``-style file, or a
    ``pyproject.toml`` whose ``[tool.semaudit]`` is read. Otherwise the project config is looked
    up from ``start`` (default: cwd). A file without the section gives ``({}, file)``.
    """
    if explicit is not None:
        source = Path(explicit)
        table = _semaudit_table(source, load_config_file(source))
        if table is None:
            raise ConfigError(
                f"{source} has no [tool.semaudit] table; add [tool.semaudit.{section}]."
            )
    else:
        found = find_project_config(start)
        if found is None:
            return {}, None
        source, table = found
    value = table.get(section, {})
    if not isinstance(value, dict):
        where = section_prefix(section, source)
        raise ConfigError(f"{where} in {source} must be a table; received {value!r}.")
    return value, source


def parse_value(raw: str) -> Any:
    """A string read as a TOML value (``10``, ``0.5``, ``true``, ``{warn = 1, fail = 2}``).

    Text that is not a TOML value (``efficientnet-lite0``) is returned unchanged.
    """
    try:
        return tomllib.loads(f"value = {raw}")["value"]
    except tomllib.TOMLDecodeError:
        return raw


def env_overrides(
    prefix: str = "SEMAUDIT_",
    known: Collection[str] = (),
    *,
    environ: Mapping[str, str] | None = None,
    strict: bool = False,
) -> dict[str, str]:
    """Raw values of the variables ``<prefix><KEY>`` for each key in ``known``.

    ``SEMAUDIT_CHECK_MAX_COUNT_RATIO=10`` with ``prefix="SEMAUDIT_CHECK_"`` gives
    ``{"max_count_ratio": "10"}``; the caller types the strings (or uses :func:`parse_value`).
    With ``strict``, any other variable under ``prefix`` is a ``ConfigError`` naming it (a
    misspelt variable must not be silently ignored).
    """
    environ = os.environ if environ is None else environ
    by_var = {f"{prefix}{key.upper()}": key for key in known}
    found: dict[str, str] = {}
    for var, raw in environ.items():
        if not var.startswith(prefix):
            continue
        key = by_var.get(var)
        if key is None:
            if strict:
                raise ConfigError(_unknown(f"environment variable {var}", sorted(by_var), var))
            continue
        found[key] = raw
    return found


def _unknown(what: str, known: list[str], received: str) -> str:
    close = difflib.get_close_matches(received, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown {what}{hint}; known: {', '.join(known) or 'none'}."


def check_keys(
    table: Mapping[str, Any],
    allowed: Collection[str] | Mapping[str, Any],
    where: str,
    *,
    source: Path | None = None,
) -> None:
    """Raise ``ConfigError`` for the first key of ``table`` not in ``allowed``, naming its path.

    ``allowed`` is a set of key names, or a mapping from key name to what is allowed inside
    that key's table (``None``: anything, a leaf); the key ``"*"`` matches any name.
    ``where`` is the dotted path of ``table`` (``"check"``), ``source`` the file it came from.
    """
    names = sorted(k for k in allowed if k != WILDCARD)
    for key, value in table.items():
        if key in allowed:
            inner = allowed[key] if isinstance(allowed, Mapping) else None
        elif WILDCARD in allowed:
            inner = allowed[WILDCARD] if isinstance(allowed, Mapping) else None
        else:
            in_file = f" in {source}" if source is not None else ""
            raise ConfigError(_unknown(f"key '{_join(where, key)}'{in_file}", names, key))
        if inner is not None and isinstance(value, Mapping):
            check_keys(value, inner, _join(where, key), source=source)


def _join(where: str, key: str) -> str:
    """``where.key`` as written in TOML: the key bare when it can be, quoted otherwise."""
    bare = key and all((c.isascii() and c.isalnum()) or c in "-_" for c in key)
    quoted = key if bare else '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{where}.{quoted}" if where else quoted


@functools.cache
def _field_types(cls: type) -> dict[str, tuple[type, bool]]:
    """Each field's type and whether it is optional (``int | None`` gives ``(int, True)``)."""
    hints = typing.get_type_hints(cls)
    found: dict[str, tuple[type, bool]] = {}
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        args = typing.get_args(hint) if isinstance(hint, types.UnionType) else ()
        inner = [a for a in args if a is not type(None)]
        found[f.name] = (inner[0], True) if args and len(inner) == 1 else (hint, False)
    return found


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _coerce(key: str, value: Any, target: type, optional: bool, where: str) -> Any:
    """Env vars arrive as strings; TOML brings typed values. Both are checked against the field."""
    if value is None:
        return None
    if isinstance(value, str) and target is not str:
        text = value.strip().lower()
        if optional and text in ("", "none", "auto"):
            return None
        try:
            if target is bool:
                if text not in _TRUE + _FALSE:
                    raise ValueError(text)
                return text in _TRUE
            return target(text)
        except ValueError:
            raise ConfigError(
                f"{key} in {where} must be a {target.__name__}; received {value!r}."
            ) from None
    if target is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if target is str and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)  # `interclass_alpha = 1.5` in TOML: the field also takes "auto"
    if not isinstance(value, target) or (target is int and isinstance(value, bool)):
        raise ConfigError(f"{key} in {where} must be a {target.__name__}; received {value!r}.")
    return value


def overlay(config: T, values: Mapping[str, Any], where: str) -> T:
    """A copy of the dataclass ``config`` with ``values`` applied, typed and validated.

    Unknown keys and wrong types are ``ConfigError`` naming ``where``; a value the dataclass's
    own validation refuses is a ``UsageError`` from flags or arguments, a ``ConfigError`` (naming
    ``where``) from a file or the environment.
    """
    types_ = _field_types(type(config))  # type: ignore[arg-type]
    for key in values:
        if key not in types_:
            raise ConfigError(_unknown(f"key {key!r} in {where}", sorted(types_), key))
    coerced = {k: _coerce(k, v, *types_[k], where) for k, v in values.items()}
    try:
        return dataclasses.replace(config, **coerced)  # type: ignore[type-var]
    except UsageError as exc:
        if where == FLAGS or where.endswith("arguments"):
            raise
        raise ConfigError(f"{exc} (from {where})") from None


def resolve_config(
    cls: type[T],
    section: str,
    flags: Mapping[str, Any] | None = None,
    config_file: Path | None = None,
    *,
    start: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> T:
    """Defaults of ``cls`` < ``[section]`` of the config file < ``SEMAUDIT_<SECTION>_*`` < flags.

    ``flags`` holding ``None`` are not given. Every source is checked for unknown keys.
    """
    config = cls()
    known = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    table, source = load_section(section, config_file, start=start)
    if table:
        check_keys(table, known, section_prefix(section, source), source=source)
        config = overlay(config, table, str(source))
    prefix = f"SEMAUDIT_{section.upper()}_"
    env = env_overrides(prefix, known, environ=environ, strict=True)
    if env:
        config = overlay(config, env, f"{prefix}* environment variables")
    given = {k: v for k, v in (flags or {}).items() if v is not None}
    return overlay(config, given, FLAGS)


def is_device(value: str) -> bool:
    """``auto``, ``cpu``, ``cuda`` or ``cuda:N``: what every command's ``device`` accepts."""
    return value in ("auto", "cpu") or value.startswith("cuda")


def require(section: str, config: Any, checks: Collection[tuple[bool, str, str]]) -> None:
    """Validate a settings dataclass: the first ``(ok, field, expected)`` that fails raises
    ``UsageError("<section> setting <field> must be <expected>; received <value>.")``."""
    for ok, name, expected in checks:
        if not ok:
            raise UsageError(
                f"{section} setting {name} must be {expected}; received {getattr(config, name)!r}."
            )
