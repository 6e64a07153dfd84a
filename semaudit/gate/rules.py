"""Gate rules: the registry every consumer reads (gate, CLI flags and env vars, docs table).

A rule is one statistic with a direction: ``max`` rules fail when the value is above their
limit, ``min`` rules when it is below. Its record carries everything about it: how its value is
read from an audit (``measure``, built from :mod:`semaudit.gate.measures`), how ``check
--suggest`` picks its levels (``suggest``, from :mod:`semaudit.gate.suggest`), its bounds, unit
and wording. Adding a rule is adding one record here (and its test); the CLI flag, the
``SEMAUDIT_CHECK_<RULE>`` variable, the config key and the docs table follow from it. Its levels
live in :mod:`semaudit.gate.thresholds`, which imports this module (never the reverse).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from semaudit.errors import ConfigError
from semaudit.gate import measures
from semaudit.gate import suggest as policy
from semaudit.gate.measures import MeasureFn
from semaudit.gate.suggest import SuggestFn

__all__ = [
    "ENV_PREFIX",
    "Rule",
    "get_rule",
    "list_rules",
    "rules_markdown",
]

ENV_PREFIX = "SEMAUDIT_CHECK_"

Direction = Literal["max", "min"]
Level = Literal["dataset", "class"]


@dataclass(frozen=True)
class Rule:
    """One gated statistic and everything needed to gate, document and report it.

    ``measure`` reads its values from an audit (and the baseline, for ``baseline`` rules);
    ``suggest`` picks the levels ``check --suggest`` proposes from its current worst value.
    """

    name: str
    statistic: str
    direction: Direction
    unit: str
    description: str
    level: Level
    measure: MeasureFn
    suggest: SuggestFn
    baseline: bool = False
    bounds: tuple[float | None, float | None] = (0.0, None)
    integer: bool = False
    label: str = ""

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @property
    def comparator(self) -> str:
        """How a passing value relates to its limit."""
        return "≤" if self.direction == "max" else "≥"

    def breaches(self, value: float, limit: float) -> bool:
        """Whether ``value`` is on the wrong side of ``limit`` (equal passes)."""
        return value > limit if self.direction == "max" else value < limit


_RULES: tuple[Rule, ...] = (
    Rule(
        "max_count_ratio",
        "summary.json count.max_min_ratio",
        "max",
        "ratio",
        "Largest over smallest image count among eligible classes.",
        "dataset",
        measure=measures.summary_value("count", "max_min_ratio"),
        suggest=policy.ratio_headroom,
        bounds=(1.0, None),
        label="count ratio",
    ),
    Rule(
        "max_scale_ratio",
        "summary.json scale.max_min_ratio",
        "max",
        "ratio",
        "Largest over smallest semantic scale among eligible classes.",
        "dataset",
        measure=measures.summary_value("scale", "max_min_ratio"),
        suggest=policy.ratio_headroom,
        bounds=(1.0, None),
        label="scale ratio",
    ),
    Rule(
        "max_matched_scale_ratio",
        "summary.json scale_matched.max_min_ratio",
        "max",
        "ratio",
        "Largest over smallest count-matched semantic scale (every class at m* images): "
        "the scale imbalance that counts do not explain.",
        "dataset",
        measure=measures.summary_value("scale_matched", "max_min_ratio"),
        suggest=policy.ratio_headroom,
        bounds=(1.0, None),
        label="matched scale ratio",
    ),
    Rule(
        "min_images_per_class",
        "classes.csv n",
        "min",
        "images",
        "Images in each class.",
        "class",
        measure=measures.class_column("n"),
        suggest=policy.image_floor,
        integer=True,
        label="images",
    ),
    Rule(
        "min_saturation",
        "classes.csv saturation",
        "min",
        "fraction",
        "Each class's S(n)/S∞: how close its semantic scale is to its fitted asymptote.",
        "class",
        measure=measures.saturation,
        suggest=policy.fraction_floor,
        bounds=(0.0, 1.0),
        label="saturation",
    ),
    Rule(
        "max_skipped_fraction",
        "summary.json skipped_fraction",
        "max",
        "fraction",
        "Share of files the scan skipped (unreadable, truncated, not an image, …).",
        "dataset",
        measure=measures.summary_value("skipped_fraction"),
        suggest=policy.fraction_ceiling,
        bounds=(0.0, 1.0),
        label="skipped fraction",
    ),
    Rule(
        "max_scale_drop",
        "classes.csv scale, (baseline − audit) / baseline",
        "max",
        "fraction",
        "Each class's relative loss of semantic scale since the baseline; "
        "a removed class has lost 1.",
        "class",
        measure=measures.drop_since_baseline("scale", "bits"),
        suggest=policy.fixed(warn=0.05, fail=0.1),
        baseline=True,
        bounds=(0.0, 1.0),
        label="scale drop",
    ),
    Rule(
        "max_count_drop",
        "classes.csv n, (baseline − audit) / baseline",
        "max",
        "fraction",
        "Each class's relative loss of images since the baseline; a removed class has lost 1.",
        "class",
        measure=measures.drop_since_baseline("n", "images"),
        suggest=policy.fixed(warn=0.1, fail=0.25),
        baseline=True,
        bounds=(0.0, 1.0),
        label="count drop",
    ),
    Rule(
        "max_classes_removed",
        "classes in the baseline, not in the audit",
        "max",
        "classes",
        "Classes removed since the baseline.",
        "dataset",
        measure=measures.class_set_change(removed=True),
        suggest=policy.fixed(fail=0),
        baseline=True,
        integer=True,
        label="classes removed",
    ),
    Rule(
        "max_classes_added",
        "classes in the audit, not in the baseline",
        "max",
        "classes",
        "Classes added since the baseline.",
        "dataset",
        measure=measures.class_set_change(removed=False),
        suggest=policy.fixed(warn=0),
        baseline=True,
        integer=True,
        label="classes added",
    ),
    Rule(
        "min_probe_accuracy",
        "classes.csv probe_accuracy",
        "min",
        "fraction",
        "Each class's cross-validated linear-probe accuracy (needs `scan --probe`).",
        "class",
        measure=measures.probe_accuracy,
        suggest=policy.fraction_floor,
        bounds=(0.0, 1.0),
        label="probe accuracy",
    ),
    Rule(
        "max_interclass_scale_ratio",
        "summary.json scale_interclass.max_min_ratio",
        "max",
        "ratio",
        "Largest over smallest semantic scale with inter-class interference, S (the paper's "
        "measure: S′ shrunk for classes whose centres crowd the others).",
        "dataset",
        measure=measures.summary_value("scale_interclass", "max_min_ratio"),
        suggest=policy.ratio_headroom,
        bounds=(1.0, None),
        label="interclass scale ratio",
    ),
)
_BY_NAME = {rule.name: rule for rule in _RULES}


def list_rules(*, level: Level | None = None, baseline: bool | None = None) -> list[Rule]:
    """Registered rules in registry order, optionally filtered."""
    return [
        r
        for r in _RULES
        if (level is None or r.level == level) and (baseline is None or r.baseline == baseline)
    ]


def get_rule(name: str) -> Rule:
    """The rule called ``name``; an unknown name fails by listing the rules."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ConfigError(f"unknown rule {name!r}; rules: {', '.join(_BY_NAME)}.") from None


def rules_markdown() -> str:
    """The rules table of ``docs/ci.md``, generated from the registry."""
    lines = [
        "| rule (config key) | flag | scope | passes when | unit | statistic | description |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in _RULES:
        scope = f"{r.level}, baseline" if r.baseline else r.level
        lines.append(
            f"| `{r.name}` | `{r.flag}` | {scope} | value {r.comparator} limit | {r.unit} "
            f"| {r.statistic} | {r.description} |"
        )
    return "\n".join(lines) + "\n"
