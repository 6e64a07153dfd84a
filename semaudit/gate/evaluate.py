"""The CI gate: evaluate configured rules on an audit (and a baseline), suggest a config.

Pure: no printing, no exit codes. Every configured rule yields one outcome per subject (the
dataset, or each class): PASS, WARN, FAIL, or SKIP with a reason. A rule that could not be
evaluated is a SKIP that says why, never a silent pass.

The parts live in their own modules and are re-exported here: the rule registry
(:mod:`semaudit.gate.rules`), thresholds (:mod:`semaudit.gate.thresholds`), per-rule measurements
(:mod:`semaudit.gate.measures`) and the JSON / JUnit serialisers (:mod:`semaudit.gate.output`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from semaudit.compare import ensure_comparable
from semaudit.gate.measures import MEASURES as _MEASURES
from semaudit.gate.measures import Measure as _Measure
from semaudit.gate.measures import finite as _finite
from semaudit.gate.measures import format_number
from semaudit.gate.output import CHECK_SCHEMA_VERSION, result_to_dict, to_json, to_junit
from semaudit.gate.rules import Rule, get_rule, list_rules, rules_markdown
from semaudit.gate.thresholds import Threshold, Thresholds, parse_thresholds, resolve_thresholds

if TYPE_CHECKING:
    from semaudit.store import Audit

__all__ = [
    "CHECK_SCHEMA_VERSION",
    "GateResult",
    "Outcome",
    "Rule",
    "Threshold",
    "Thresholds",
    "evaluate",
    "format_number",
    "get_rule",
    "list_rules",
    "parse_thresholds",
    "resolve_thresholds",
    "result_to_dict",
    "rules_markdown",
    "suggest_config",
    "suggest_thresholds",
    "to_json",
    "to_junit",
]

Status = Literal["PASS", "WARN", "FAIL", "SKIP"]
STATUSES: tuple[Status, ...] = ("FAIL", "WARN", "PASS", "SKIP")


@dataclass(frozen=True)
class Outcome:
    """The verdict of one rule on one subject (``class_name`` None: the whole dataset).

    ``message`` stands alone (JUnit, annotations); ``detail`` is its context part ("40 → 6
    images"); ``demoted`` marks a FAIL reported as WARN under warn-only.
    """

    rule: str
    class_name: str | None
    status: Status
    value: float | None
    limit: float | None
    message: str
    threshold: Threshold
    detail: str = ""
    demoted: bool = False

    def to_dict(self) -> dict[str, Any]:
        rule = get_rule(self.rule)
        return {
            "rule": self.rule,
            "class": self.class_name,
            "status": self.status,
            "value": _finite(self.value),
            "limit": self.limit,
            "comparator": rule.comparator,
            "warn": self.threshold.warn,
            "fail": self.threshold.fail,
            "source": self.threshold.source,
            "unit": rule.unit,
            "message": self.message,
            "detail": self.detail,
            "demoted": self.demoted,
        }


@dataclass(frozen=True)
class GateResult:
    """All outcomes of one ``check``; ``status`` is the worst of FAIL > WARN > PASS."""

    audit: str
    baseline: str | None
    outcomes: tuple[Outcome, ...]
    thresholds: Thresholds
    not_configured: tuple[str, ...]
    warn_only: bool

    @property
    def status(self) -> Literal["PASS", "WARN", "FAIL"]:
        statuses = {o.status for o in self.outcomes}
        return "FAIL" if "FAIL" in statuses else "WARN" if "WARN" in statuses else "PASS"

    @property
    def passed(self) -> bool:
        """No FAIL (warnings and skips allowed)."""
        return self.status != "FAIL"

    def counts(self) -> dict[str, int]:
        tally = Counter(o.status for o in self.outcomes)
        return {status: tally.get(status, 0) for status in STATUSES}

    def by_status(self, status: Status) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == status]


# ------------------------------------------------------------------------------ evaluation


def _judge(
    rule: Rule, measure: _Measure, threshold: Threshold, warn_only: bool
) -> tuple[Status, float | None, str, bool]:
    who = f"class {measure.class_name!r}: " if measure.class_name is not None else ""
    value = measure.value
    assert value is not None
    status: Status = "PASS"
    limit, kind = threshold.fail, "fail"
    if threshold.fail is not None and rule.breaches(value, threshold.fail):
        status = "FAIL"
    elif threshold.warn is not None and rule.breaches(value, threshold.warn):
        status, limit, kind = "WARN", threshold.warn, "warn"
    elif threshold.fail is None:
        limit, kind = threshold.warn, "warn"
    assert limit is not None
    breach = ">" if rule.direction == "max" else "<"
    symbol = rule.comparator if status == "PASS" else breach
    shown, bound = format_number(value), format_number(limit)
    message = f"{who}{rule.label or rule.name} {shown} {symbol} {kind} level {bound}"
    if measure.detail:
        message += f" ({measure.detail})"
    demoted = status == "FAIL" and warn_only
    if demoted:
        status = "WARN"
        message += " [warn-only: not failing]"
    return status, limit, message, demoted


def _outcome(rule: Rule, measure: _Measure, threshold: Threshold, warn_only: bool) -> Outcome:
    if threshold.exempt:
        reason = f'exempted by check.classes."{measure.class_name}"'
        return Outcome(
            rule.name, measure.class_name, "SKIP", measure.value, None, reason, threshold
        )
    if measure.value is None:
        return Outcome(rule.name, measure.class_name, "SKIP", None, None, measure.skip, threshold)
    status, limit, message, demoted = _judge(rule, measure, threshold, warn_only)
    return Outcome(
        rule.name,
        measure.class_name,
        status,
        measure.value,
        limit,
        message,
        threshold,
        detail=measure.detail,
        demoted=demoted,
    )


def _evaluate_rule(
    rule: Rule, audit: Audit, baseline: Audit | None, thresholds: Thresholds, warn_only: bool
) -> list[Outcome]:
    name = rule.name
    placeholder = thresholds.rules.get(name) or Threshold(source="per-class")
    if rule.baseline and baseline is None:
        reason = "no baseline audit given (check --baseline OLD_AUDIT)"
        return [Outcome(name, None, "SKIP", None, None, reason, placeholder)]
    outcomes = []
    seen = set()
    for measure in _MEASURES[name](audit, baseline):
        if rule.level == "dataset":
            threshold = thresholds.rules[name]
        elif measure.class_name is None:  # a rule-wide skip ("probe not run")
            threshold = placeholder
        else:
            seen.add(measure.class_name)
            found = thresholds.for_class(name, measure.class_name)
            if found is None:
                continue  # configured for other classes only
            threshold = found
        outcomes.append(_outcome(rule, measure, threshold, warn_only))
    if seen:
        for class_name, table in thresholds.classes.items():
            if name in table and class_name not in seen:
                reason = f"class {class_name!r} (a per-class override) is not in the audit"
                outcomes.append(Outcome(name, class_name, "SKIP", None, None, reason, table[name]))
    return outcomes


def evaluate(
    audit: Audit,
    thresholds: Thresholds | Mapping[str, Any],
    baseline: Audit | None = None,
    warn_only: bool = False,
) -> GateResult:
    """Evaluate every configured rule; ``thresholds`` may be a ``[check]``-style mapping.

    Raises ``AuditError`` when ``baseline`` was made with another backbone or settings.
    """
    if not isinstance(thresholds, Thresholds):
        thresholds = parse_thresholds(thresholds)
    warn_only = warn_only or thresholds.warn_only
    if baseline is not None:
        ensure_comparable(baseline, audit)
    configured = thresholds.configured()
    outcomes: list[Outcome] = []
    for name in configured:
        found = _evaluate_rule(get_rule(name), audit, baseline, thresholds, warn_only)
        if not found:  # never a silent pass, even on an audit without classes
            placeholder = thresholds.rules.get(name) or Threshold(source="per-class")
            reason = "nothing to evaluate: the audit has no classes"
            found = [Outcome(name, None, "SKIP", None, None, reason, placeholder)]
        outcomes += found
    not_configured = tuple(r.name for r in list_rules() if r.name not in configured)
    return GateResult(
        audit=str(audit.path),
        baseline=str(baseline.path) if baseline is not None else None,
        outcomes=tuple(outcomes),
        thresholds=thresholds,
        not_configured=not_configured,
        warn_only=warn_only,
    )


# ------------------------------------------------------------------------------ suggestions

_BASELINE_SUGGESTIONS: dict[str, dict[str, float]] = {
    "max_scale_drop": {"warn": 0.05, "fail": 0.1},
    "max_count_drop": {"warn": 0.1, "fail": 0.25},
    "max_classes_removed": {"fail": 0},
    "max_classes_added": {"warn": 0},
}


def _up(value: float, digits: int) -> float:
    return math.ceil(value * 10**digits - 1e-9) / 10**digits


def _down(value: float, digits: int) -> float:
    return math.floor(value * 10**digits + 1e-9) / 10**digits


def _suggest(rule: Rule, current: float, min_images: int) -> dict[str, float]:
    if rule.unit == "ratio":
        return {"warn": _up(current * 1.1, 2), "fail": _up(current * 1.25, 2)}
    if rule.unit == "images":
        fail = min(current, max(min_images, math.floor(current * 0.75)))
        return {"warn": min(current, max(fail, math.floor(current * 0.9))), "fail": fail}
    if rule.direction == "max":  # fractions: skipped files
        warn = min(1.0, max(0.01, _up(current * 1.5, 3)))
        return {"warn": warn, "fail": min(1.0, max(0.02, warn, _up(current * 2, 3)))}
    return {"warn": _down(current * 0.95, 2), "fail": _down(current * 0.85, 2)}


def suggest_thresholds(audit: Audit) -> tuple[dict[str, dict[str, float]], dict[str, str]]:
    """A ``[check]`` table that this audit passes with headroom, and why rules were left out.

    Dataset statistics get their current worst value plus headroom (ratios: warn +10 %, fail
    +25 %; minimums: warn −5 %, fail −15 %); baseline rules get fixed starting points.
    """
    min_images = int(audit.meta.get("settings", {}).get("min_images") or 5)
    table: dict[str, dict[str, float]] = {}
    left_out: dict[str, str] = {}
    for rule in list_rules():
        if rule.baseline:
            table[rule.name] = dict(_BASELINE_SUGGESTIONS[rule.name])
            continue
        measures = _MEASURES[rule.name](audit, None)
        values = [m.value for m in measures if m.value is not None]
        if not values:
            left_out[rule.name] = next((m.skip for m in measures if m.skip), "no value")
            continue
        current = max(values) if rule.direction == "max" else min(values)
        table[rule.name] = _suggest(rule, current, min_images)
    return table, left_out


def suggest_config(audit: Audit, *, section: str = "check") -> str:
    """:func:`suggest_thresholds` as commented TOML, ready for ``semaudit.toml``."""
    table, left_out = suggest_thresholds(audit)
    lines = [
        f"# Suggested by `semaudit check --suggest` from {audit.path}: current values plus",
        "# headroom. Tighten them as the dataset improves; see docs/ci.md.",
        f"[{section}]",
    ]
    for name, levels in table.items():
        rule = get_rule(name)
        inner = ", ".join(f"{k} = {format_number(v)}" for k, v in levels.items())
        note = "starting point for baseline comparisons"
        if not rule.baseline:
            values = [m.value for m in _MEASURES[name](audit, None) if m.value is not None]
            worst = max(values) if rule.direction == "max" else min(values)
            note = f"now {format_number(worst)}"
        lines.append(f"{name} = {{ {inner} }}  # {note}")
    lines += [f"# {name}: left out ({reason})" for name, reason in left_out.items()]
    return "\n".join(lines) + "\n"
