"""Gate thresholds: the ``warn`` / ``fail`` levels of each rule, validated and overlaid.

Each rule can have a ``warn`` and a ``fail`` level, set dataset-wide (config table,
``SEMAUDIT_CHECK_<RULE>``, command-line flags) or, for class rules, per class
(``[check.classes."name"]``). A rule with no level anywhere is not configured and not
evaluated. Two switches sit beside the rules: ``warn_only`` (report failures as warnings) and
``allow_skipped`` (accept a gate whose every result was skipped). Precedence: config file <
environment < flags.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from semaudit.config import check_keys, parse_value, section_prefix
from semaudit.errors import ConfigError, SemauditError, UsageError
from semaudit.gate.rules import ENV_PREFIX, Rule, get_rule, list_rules

__all__ = [
    "SWITCHES",
    "Threshold",
    "Thresholds",
    "parse_threshold",
    "parse_thresholds",
    "resolve_thresholds",
]

SWITCHES = ("warn_only", "allow_skipped")
"""The boolean keys of a ``[check]`` table beside the rules (also ``SEMAUDIT_CHECK_<KEY>``)."""


@dataclass(frozen=True)
class Threshold:
    """The ``warn`` and ``fail`` levels of one rule (either may be unset) and where they came from.

    ``exempt`` marks a class taken out of a rule by a per-class ``rule = false``.
    """

    warn: float | None = None
    fail: float | None = None
    source: str = ""
    exempt: bool = False

    def overlay(self, other: Threshold) -> Threshold:
        """Levels set in ``other`` replace ours; the others are kept."""
        sources = [s for s in (self.source, other.source) if s]
        return Threshold(
            warn=other.warn if other.warn is not None else self.warn,
            fail=other.fail if other.fail is not None else self.fail,
            source=" < ".join(dict.fromkeys(sources)),
        )

    def to_dict(self) -> dict[str, Any]:
        return {"warn": self.warn, "fail": self.fail, "source": self.source, "exempt": self.exempt}


@dataclass(frozen=True)
class Thresholds:
    """Resolved gate configuration: dataset-wide levels, per-class overrides and switches.

    ``warn_only`` reports every FAIL as a WARN; ``allow_skipped`` lets a gate pass when every
    one of its results is a SKIP (otherwise such a gate has checked nothing and does not pass).
    """

    rules: Mapping[str, Threshold] = field(default_factory=dict)
    classes: Mapping[str, Mapping[str, Threshold]] = field(default_factory=dict)
    warn_only: bool = False
    allow_skipped: bool = False

    def configured(self) -> list[str]:
        """Rule names with a level somewhere, in registry order."""
        named = set(self.rules) | {rule for table in self.classes.values() for rule in table}
        return [r.name for r in list_rules() if r.name in named]

    def for_class(self, rule: str, name: str) -> Threshold | None:
        """The threshold that applies to class ``name``: its override, else the rule's."""
        override = self.classes.get(name, {}).get(rule)
        return override if override is not None else self.rules.get(rule)

    def overlay(
        self,
        rules: Mapping[str, Threshold],
        *,
        warn_only: bool | None = None,
        allow_skipped: bool | None = None,
    ) -> Thresholds:
        """Levels and switches from a higher-precedence source (env, flags) laid over ours.

        A switch left at None keeps our value; True or False replaces it.
        """
        merged = dict(self.rules)
        for name, threshold in rules.items():
            merged[name] = merged[name].overlay(threshold) if name in merged else threshold
        return replace(
            self,
            rules=merged,
            warn_only=self.warn_only if warn_only is None else warn_only,
            allow_skipped=self.allow_skipped if allow_skipped is None else allow_skipped,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "rules": {name: t.to_dict() for name, t in self.rules.items()},
            "classes": {
                c: {name: t.to_dict() for name, t in table.items()}
                for c, table in self.classes.items()
            },
            "warn_only": self.warn_only,
            "allow_skipped": self.allow_skipped,
        }


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_level(rule: Rule, value: Any, where: str, error: type[SemauditError]) -> float:
    if not _is_number(value) or not math.isfinite(value):
        raise error(f"{where} must be a number; received {value!r}.")
    low, high = rule.bounds
    if (low is not None and value < low) or (high is not None and value > high):
        span = f"[{low if low is not None else '-inf'}, {high if high is not None else 'inf'}]"
        raise error(f"{where} must be in {span} ({rule.unit}); received {value!r}.")
    if rule.integer and value != int(value):
        raise error(f"{where} must be a whole number of {rule.unit}; received {value!r}.")
    return float(value)


def parse_threshold(
    rule: Rule,
    value: Any,
    key: str,
    *,
    in_file: str = "",
    source: str = "",
    error: type[SemauditError] = ConfigError,
) -> Threshold:
    """A threshold from a number (the fail level) or a table ``{warn = X, fail = Y}``.

    ``key`` names the value for messages (``"check.min_saturation"``), ``in_file`` says where
    it was read (``" in semaudit.toml"``), ``source`` is recorded on the threshold.
    """
    if not isinstance(value, Mapping):
        return Threshold(fail=_check_level(rule, value, key + in_file, error), source=source)
    unknown = [k for k in value if k not in ("warn", "fail")]
    if unknown:
        raise error(f"unknown key '{key}.{unknown[0]}'{in_file}; a level table has warn, fail.")
    if not value:
        raise error(f"{key}{in_file} is an empty table; give warn = X and/or fail = Y.")
    levels = {
        name: _check_level(rule, value[name], f"{key}.{name}{in_file}", error)
        for name in ("warn", "fail")
        if name in value
    }
    warn, fail = levels.get("warn"), levels.get("fail")
    if warn is not None and fail is not None and rule.breaches(warn, fail):
        order = "at most" if rule.direction == "max" else "at least"
        raise error(
            f"{key}{in_file}: warn ({warn:.10g}) must be {order} fail ({fail:.10g}) for a "
            f"{rule.direction} rule, so that a warning comes before a failure."
        )
    return Threshold(warn=warn, fail=fail, source=source)


def _allowed_keys() -> dict[str, Any]:
    levels = {"warn": None, "fail": None}
    per_class = {r.name: levels for r in list_rules()}
    return {
        **{r.name: levels for r in list_rules()},
        "classes": {"*": per_class},
        **dict.fromkeys(SWITCHES),
    }


def parse_thresholds(
    table: Mapping[str, Any], *, where: str = "check", source: Path | str | None = None
) -> Thresholds:
    """Validate a ``[check]`` table (keys, types, bounds, level order) into ``Thresholds``.

    Raises ``ConfigError`` naming the dotted key and the file.
    """
    origin = Path(source) if source is not None else None
    label = origin.name if origin is not None else "config"
    in_file = f" in {origin}" if origin is not None else ""
    check_keys(table, _allowed_keys(), where, source=origin)
    known = {r.name for r in list_rules()}
    rules = {
        name: parse_threshold(
            get_rule(name), value, f"{where}.{name}", in_file=in_file, source=label
        )
        for name, value in table.items()
        if name in known
    }
    switches = {key: table.get(key, False) for key in SWITCHES}
    for key, value in switches.items():
        if not isinstance(value, bool):
            raise ConfigError(f"{where}.{key}{in_file} must be true or false; received {value!r}.")
    classes_table = table.get("classes", {})
    if not isinstance(classes_table, Mapping):
        raise ConfigError(f"{where}.classes{in_file} must be a table of class names.")
    classes: dict[str, dict[str, Threshold]] = {}
    for class_name, overrides in classes_table.items():
        at = f'{where}.classes."{class_name}"'
        if not isinstance(overrides, Mapping):
            raise ConfigError(f"{at}{in_file} must be a table of rule = level.")
        classes[class_name] = {
            name: _parse_override(get_rule(name), value, f"{at}.{name}", in_file, label)
            for name, value in overrides.items()
        }
    return Thresholds(rules=rules, classes=classes, **switches)


def _parse_override(rule: Rule, value: Any, key: str, in_file: str, source: str) -> Threshold:
    if rule.level != "class":
        raise ConfigError(
            f"{key}{in_file}: {rule.name} is a dataset-wide rule; set it in the check table, "
            "not per class."
        )
    if value is False:
        return Threshold(source=source, exempt=True)
    return parse_threshold(rule, value, key, in_file=in_file, source=source)


def resolve_thresholds(
    table: Mapping[str, Any],
    *,
    source: Path | None = None,
    env: Mapping[str, str] | None = None,
    flags: Mapping[str, float | None] | None = None,
    flag_label: Callable[[Rule], str] = lambda rule: rule.name,
) -> Thresholds:
    """Overlay file < environment < flags into one ``Thresholds`` (no I/O).

    ``table`` is the ``[check]`` table read from ``source``; ``env`` maps rule names (and the
    ``SWITCHES``) to raw ``SEMAUDIT_CHECK_*`` strings, each a number (the fail level) or an
    inline table ``{warn = X, fail = Y}``; ``flags`` maps rule names to fail levels (None: not
    given), named in messages and sources by ``flag_label`` (the rule name unless the caller,
    the CLI, names its flags). Bad file or env values raise ``ConfigError``, bad flags
    ``UsageError``.
    """
    thresholds = parse_thresholds(table, where=section_prefix("check", source), source=source)
    env_rules: dict[str, Threshold] = {}
    env_switches: dict[str, bool] = {}
    for key, raw in (env or {}).items():
        var = ENV_PREFIX + key.upper()
        value = parse_value(raw)
        if key in SWITCHES:
            if value not in (True, False, 0, 1):
                raise ConfigError(f"{var} must be true, false, 1 or 0; received {raw!r}.")
            env_switches[key] = bool(value)
            continue
        env_rules[key] = parse_threshold(get_rule(key), value, var, source=var)
    thresholds = thresholds.overlay(env_rules, **env_switches)
    flag_rules = {
        name: parse_threshold(rule, value, label, source=label, error=UsageError)
        for name, value in (flags or {}).items()
        if value is not None
        for rule in (get_rule(name),)
        for label in (flag_label(rule),)
    }
    return thresholds.overlay(flag_rules)
