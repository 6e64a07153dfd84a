"""The CI gate: evaluate configured rules on an audit (and a baseline), suggest a config.

Pure: no printing, no exit codes. Every configured rule yields one outcome per subject (the
dataset, or each class): PASS, WARN, FAIL, or SKIP with a reason. A rule that could not be
evaluated is a SKIP that says why, never a silent pass; a gate whose every outcome is a SKIP
has checked nothing, and does not pass unless ``allow_skipped`` says so.

The parts live in their own modules and are re-exported here: the rule registry, which carries
each rule's measure and suggestion policy (:mod:`semaudit.gate.rules`), thresholds
(:mod:`semaudit.gate.thresholds`); the JSON / JUnit serialisers (:mod:`semaudit.gate.output`,
which imports this module) are re-exported by the package.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from semaudit.compare import ensure_comparable
from semaudit.gate.measures import Measure as _Measure
from semaudit.gate.measures import finite as _finite
from semaudit.gate.measures import format_number
from semaudit.gate.rules import Rule, get_rule, list_rules, rules_markdown
from semaudit.gate.thresholds import Threshold, Thresholds, parse_thresholds, resolve_thresholds

if TYPE_CHECKING:
    from semaudit.store import Audit

__all__ = [
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
    "rules_markdown",
    "suggest_config",
    "suggest_thresholds",
]

Status = Literal["PASS", "WARN", "FAIL", "SKIP"]
STATUSES: tuple[Status, ...] = ("FAIL", "WARN", "PASS", "SKIP")
NO_BASELINE = "no baseline audit given"


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
    """All outcomes of one ``check``.

    ``status`` is the worst of FAIL > WARN > PASS among the evaluated outcomes, or SKIP when
    every outcome is a SKIP: the gate checked nothing (a one-class dataset under ratio rules,
    baseline rules without a baseline). ``passed``: no FAIL, and something was checked unless
    ``allow_skipped``.
    """

    audit: str
    baseline: str | None
    outcomes: tuple[Outcome, ...]
    thresholds: Thresholds
    not_configured: tuple[str, ...]
    warn_only: bool
    allow_skipped: bool = False

    @property
    def evaluated(self) -> int:
        """How many outcomes were evaluated (not SKIP)."""
        return sum(o.status != "SKIP" for o in self.outcomes)

    @property
    def status(self) -> Status:
        statuses = {o.status for o in self.outcomes}
        if not statuses - {"SKIP"}:
            return "SKIP"
        return "FAIL" if "FAIL" in statuses else "WARN" if "WARN" in statuses else "PASS"

    @property
    def passed(self) -> bool:
        """No FAIL (warnings and skips allowed), and not everything skipped unless allowed."""
        status = self.status
        return status in ("PASS", "WARN") or (status == "SKIP" and self.allow_skipped)

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
        return [Outcome(name, None, "SKIP", None, None, NO_BASELINE, placeholder)]
    outcomes = []
    seen = set()
    for measure in rule.measure(audit, baseline):
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
    allow_skipped: bool = False,
) -> GateResult:
    """Evaluate every configured rule; ``thresholds`` may be a ``[check]``-style mapping.

    ``warn_only`` / ``allow_skipped`` (or the same keys of ``thresholds``) report failures as
    warnings / let a gate whose every outcome is a SKIP pass. Raises ``AuditError`` when
    ``baseline`` was made with another backbone or settings.
    """
    if not isinstance(thresholds, Thresholds):
        thresholds = parse_thresholds(thresholds)
    warn_only = warn_only or thresholds.warn_only
    allow_skipped = allow_skipped or thresholds.allow_skipped
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
        allow_skipped=allow_skipped,
    )


# ------------------------------------------------------------------------------ suggestions


def _worst(rule: Rule, audit: Audit) -> tuple[float | None, str]:
    """A non-baseline rule's worst value on ``audit``, or None and why there is none."""
    measures = rule.measure(audit, None)
    values = [m.value for m in measures if m.value is not None]
    if not values:
        return None, next((m.skip for m in measures if m.skip), "no value")
    return (max(values) if rule.direction == "max" else min(values)), ""


def suggest_thresholds(audit: Audit) -> tuple[dict[str, dict[str, float]], dict[str, str]]:
    """A ``[check]`` table that this audit passes with headroom, and why rules were left out.

    Each rule's ``suggest`` policy picks its levels from its current worst value (ratios: warn
    +10 %, fail +25 %; minimums: warn −5 %, fail −15 %; see :mod:`semaudit.gate.suggest`);
    baseline rules get fixed starting points.
    """
    settings = audit.settings
    table: dict[str, dict[str, float]] = {}
    left_out: dict[str, str] = {}
    for rule in list_rules():
        current: float | None = None
        if not rule.baseline:
            current, why = _worst(rule, audit)
            if current is None:
                left_out[rule.name] = why
                continue
        table[rule.name] = rule.suggest(current, settings)
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
            note = f"now {format_number(_worst(rule, audit)[0])}"
        lines.append(f"{name} = {{ {inner} }}  # {note}")
    lines += [f"# {name}: left out ({reason})" for name, reason in left_out.items()]
    return "\n".join(lines) + "\n"
