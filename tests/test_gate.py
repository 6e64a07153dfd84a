"""The gate: rules × directions × thresholds, skips with reasons, overrides, serialisers."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from factories import make_audit

from semaudit import gate
from semaudit.errors import AuditError, ConfigError, UsageError
from semaudit.gate.rules import get_rule, list_rules
from semaudit.gate.thresholds import Threshold, Thresholds, parse_thresholds, resolve_thresholds
from semaudit.store import CLASSES_COLUMNS, Audit, load_audit, write_csv, write_json

ROOT = Path(__file__).resolve().parents[1]
NAMES = ["bag", "coat", "dress", "shirt"]


def patch_audit(path: Path, *, classes: Callable[[pd.DataFrame], Any] | None = None,
                summary: dict[str, Any] | None = None) -> Audit:  # fmt: skip
    """Edit a factory audit in place: classes.csv by a callback (editing the frame or returning
    a new one), summary.json by update."""
    audit = load_audit(path)
    if classes is not None:
        frame = audit.classes.copy()
        returned = classes(frame)
        frame = returned if isinstance(returned, pd.DataFrame) else frame
        write_csv(path / "classes.csv", frame, CLASSES_COLUMNS)
    if summary is not None:
        write_json(path / "summary.json", {**audit.summary, **summary})
    return load_audit(path)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Audit, Audit]:
    """(audit, baseline): the same classes; bag and dress lost images since the baseline."""
    root = tmp_path_factory.mktemp("pair")
    new = make_audit(root / "new", counts=[120, 60, 30, 12], names=NAMES,
                     skipped=[("x.png", "truncated"), ("y.png", "empty file")])  # fmt: skip
    old = make_audit(root / "old", counts=[150, 60, 40, 12], names=NAMES)
    return load_audit(new), load_audit(old)


@pytest.fixture(scope="module")
def reshaped(tmp_path_factory: pytest.TempPathFactory) -> tuple[Audit, Audit]:
    """(audit, baseline): two classes removed and one added since the baseline."""
    root = tmp_path_factory.mktemp("reshaped")
    new = make_audit(root / "new", counts=[120, 60, 30, 12], names=NAMES)
    old = make_audit(root / "old", counts=[120, 60, 30, 12, 50, 70],
                     names=["bag", "coat", "dress", "hat", "sock", "tie"])  # fmt: skip
    return load_audit(new), load_audit(old)


def worst(rule_name: str, audit: Audit, baseline: Audit | None) -> float:
    """The worst value of a rule, found by evaluating it with no breachable level."""
    rule = get_rule(rule_name)
    lax = rule.bounds[1] if rule.direction == "max" else rule.bounds[0]
    limit = 1e9 if lax is None else lax
    result = gate.evaluate(audit, {rule_name: limit}, baseline=baseline)
    values = [o.value for o in result.outcomes if o.value is not None]
    assert values, result.outcomes
    return max(values) if rule.direction == "max" else min(values)


# A case: (levels as a function of tight / loose / exact, warn_only, expected worst status).
# "tight" is just on the failing side of the worst value, "loose" just on the passing side.
CASES = {
    "fail at the value passes": (lambda t, lo, v: v, False, "PASS"),
    "fail beyond the value fails": (lambda t, lo, v: t, False, "FAIL"),
    "fail above the value passes": (lambda t, lo, v: lo, False, "PASS"),
    "warn beyond, fail above warns": (lambda t, lo, v: {"warn": t, "fail": lo}, False, "WARN"),
    "warn level only, beyond: warns": (lambda t, lo, v: {"warn": t}, False, "WARN"),
    "warn level only, above: passes": (lambda t, lo, v: {"warn": lo}, False, "PASS"),
    "fail beyond with warn-only warns": (lambda t, lo, v: t, True, "WARN"),
    "warn and fail beyond fails": (lambda t, lo, v: {"warn": t, "fail": t}, False, "FAIL"),
}
FIXTURE = {
    "max_classes_removed": "reshaped",
    "max_classes_added": "reshaped",
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("rule_name", [r.name for r in list_rules()])
def test_rule_direction_and_levels(
    rule_name: str, case: str, request: pytest.FixtureRequest
) -> None:
    audit, baseline = request.getfixturevalue(FIXTURE.get(rule_name, "pair"))
    rule = get_rule(rule_name)
    value = worst(rule_name, audit, baseline)
    step = 1.0 if rule.integer else 1e-6
    tight = value - step if rule.direction == "max" else value + step
    loose = value + step if rule.direction == "max" else value - step
    make, warn_only, expected = CASES[case]
    result = gate.evaluate(audit, {rule_name: make(tight, loose, value)}, baseline, warn_only)
    worst_outcome = next(o for o in result.outcomes if o.value == value)
    assert worst_outcome.status == expected, worst_outcome.message
    assert result.status == expected
    assert result.passed == (expected != "FAIL")
    assert worst_outcome.demoted == (warn_only and expected == "WARN")
    if expected != "PASS":
        assert worst_outcome.limit == tight


def test_registry_records_are_complete() -> None:
    rules = list_rules()
    assert len({r.name for r in rules}) == len(rules)
    issue_flags = [
        "--max-count-ratio", "--max-scale-ratio", "--max-matched-scale-ratio",
        "--min-images-per-class", "--min-saturation", "--max-skipped-fraction", "--max-scale-drop",
    ]  # fmt: skip
    assert [r.flag for r in rules][: len(issue_flags)] == issue_flags
    for rule in rules:
        assert rule.direction in ("max", "min")
        assert rule.level in ("dataset", "class")
        assert rule.name.startswith(rule.direction + "_")
        assert rule.unit and rule.description.endswith(".") and rule.statistic and rule.label
        assert rule.env == "SEMAUDIT_CHECK_" + rule.name.upper()
        assert not hasattr(rule, "default")  # levels live in gate/thresholds.py
        assert callable(rule.measure) and callable(rule.suggest)


def test_unknown_rule_lists_the_rules() -> None:
    with pytest.raises(ConfigError, match="unknown rule 'max_ratio'; rules: max_count_ratio"):
        get_rule("max_ratio")


def test_docs_rules_table_is_generated_from_the_registry() -> None:
    text = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    start, end = "<!-- rules:start -->\n", "<!-- rules:end -->"
    assert start in text and end in text
    current = text.split(start, 1)[1].split(end, 1)[0]
    assert current == gate.rules_markdown(), "regenerate with gate.rules_markdown()"


# ----------------------------------------------------------------------- skips with reasons


def test_baseline_rules_without_a_baseline_skip_once_each(pair: tuple[Audit, Audit]) -> None:
    audit, _ = pair
    result = gate.evaluate(audit, {"max_scale_drop": 0.1, "max_classes_added": 0})
    assert [(o.rule, o.class_name, o.status) for o in result.outcomes] == [
        ("max_scale_drop", None, "SKIP"),
        ("max_classes_added", None, "SKIP"),
    ]
    assert all("no baseline" in o.message for o in result.outcomes)
    assert result.counts()["SKIP"] == 2 and result.evaluated == 0
    assert result.status == "SKIP" and not result.passed  # nothing was checked


def test_probe_not_run_is_a_skip(tmp_path: Path) -> None:
    audit = load_audit(make_audit(tmp_path / "a", counts=[20, 10], probe=False))
    (outcome,) = gate.evaluate(audit, {"min_probe_accuracy": 0.5}).outcomes
    assert outcome.status == "SKIP" and "probe not run" in outcome.message


def test_unfitted_saturation_skips_with_the_class_flag(tmp_path: Path) -> None:
    def unfit(frame: pd.DataFrame) -> None:
        frame.loc[frame["class"] == "shirt", ["saturation", "flags"]] = (np.nan, "few_images")
        frame.loc[frame["class"] == "dress", ["saturation", "flags"]] = (np.nan, "no_fit")

    audit = patch_audit(make_audit(tmp_path / "a", counts=[50, 40, 30, 3], names=NAMES),
                        classes=unfit)  # fmt: skip
    result = gate.evaluate(audit, {"min_saturation": 0.01})
    by_class = {o.class_name: o for o in result.outcomes}
    assert by_class["shirt"].status == "SKIP"
    assert by_class["shirt"].message == "class flagged few_images: saturation not fitted"
    assert by_class["dress"].status == "SKIP" and "no_fit" in by_class["dress"].message
    assert by_class["bag"].status == "PASS"


def test_undefined_dataset_statistic_skips(tmp_path: Path) -> None:
    path = make_audit(tmp_path / "a", counts=[50, 3])
    audit = patch_audit(path, summary={"n_eligible": 1, "scale_matched": {"max_min_ratio": None}})
    (outcome,) = gate.evaluate(audit, {"max_matched_scale_ratio": 2}).outcomes
    assert outcome.status == "SKIP"
    assert "fewer than two eligible classes (n_eligible = 1)" in outcome.message
    audit = patch_audit(path, summary={"scale_matched": None})
    (outcome,) = gate.evaluate(audit, {"max_matched_scale_ratio": 2}).outcomes
    assert outcome.status == "SKIP" and "summary.json has no" in outcome.message


def test_audit_without_classes_still_reports_every_rule(tmp_path: Path) -> None:
    def drop_all(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.iloc[0:0]

    audit = patch_audit(make_audit(tmp_path / "a", counts=[20, 10]), classes=drop_all)
    (outcome,) = gate.evaluate(audit, {"min_images_per_class": 5}).outcomes
    assert outcome.status == "SKIP" and "no classes" in outcome.message


# ----------------------------------------------------------------------- baseline rules


def test_scale_drop_names_the_class_and_the_change(pair: tuple[Audit, Audit]) -> None:
    audit, baseline = pair
    result = gate.evaluate(audit, {"max_scale_drop": 0.01}, baseline=baseline)
    failed = {o.class_name for o in result.by_status("FAIL")}
    assert failed == {"bag", "dress"}
    dress = next(o for o in result.outcomes if o.class_name == "dress")
    old = baseline.classes.set_index("class").loc["dress", "scale"]
    new = audit.classes.set_index("class").loc["dress", "scale"]
    assert dress.value == pytest.approx((old - new) / old)
    assert "bits" in dress.detail and dress.message.startswith("class 'dress': scale drop")


def test_removed_and_added_classes(reshaped: tuple[Audit, Audit]) -> None:
    audit, baseline = reshaped
    rules = {"max_scale_drop": 0.5, "max_count_drop": 0.5, "max_classes_removed": 0,
             "max_classes_added": 0}  # fmt: skip
    result = gate.evaluate(audit, rules, baseline=baseline)
    got = {(o.rule, o.class_name): o for o in result.outcomes}
    for rule in ("max_scale_drop", "max_count_drop"):
        for name in ("hat", "sock", "tie"):
            assert got[rule, name].status == "FAIL" and got[rule, name].value == 1.0
            assert "class removed" in got[rule, name].detail
        assert got[rule, "shirt"].status == "SKIP"
        assert got[rule, "shirt"].message == "class added since the baseline"
    removed = got["max_classes_removed", None]
    assert (removed.status, removed.value, removed.detail) == ("FAIL", 3, "removed: hat, sock, tie")
    assert got["max_classes_added", None].detail == "added: shirt"


def test_incompatible_baseline_is_refused(tmp_path: Path) -> None:
    audit = load_audit(make_audit(tmp_path / "new", counts=[20, 10]))
    other = load_audit(make_audit(tmp_path / "old", counts=[20, 10], backbone="openclip:ViT-B-32"))
    with pytest.raises(AuditError) as info:
        gate.evaluate(audit, {"max_scale_drop": 0.1}, baseline=other)
    message = str(info.value)
    assert "openclip:ViT-B-32" in message and "efficientnet-lite0" in message


# ----------------------------------------------------------------------- per-class overrides


def test_per_class_override_replaces_the_rule_for_that_class(pair: tuple[Audit, Audit]) -> None:
    audit, _ = pair
    table = {
        "min_images_per_class": {"warn": 50, "fail": 40},
        "classes": {
            "shirt": {"min_images_per_class": 10},
            "dress": {"min_images_per_class": False},
        },
    }
    result = gate.evaluate(audit, table)
    got = {o.class_name: o for o in result.outcomes}
    assert got["shirt"].status == "PASS" and got["shirt"].limit == 10  # 12 ≥ 10, no warn level
    assert got["dress"].status == "SKIP" and "exempted" in got["dress"].message
    assert got["coat"].status == "PASS" and got["bag"].status == "PASS"
    result = gate.evaluate(audit, {"min_images_per_class": {"warn": 61, "fail": 40}})
    assert {o.class_name: o.status for o in result.outcomes}["coat"] == "WARN"


def test_override_only_rule_and_unknown_class(pair: tuple[Audit, Audit]) -> None:
    audit, _ = pair
    table = {"classes": {"shirt": {"min_saturation": 0.99}, "shrit": {"min_saturation": 0.5}}}
    result = gate.evaluate(audit, table)
    got = {o.class_name: o for o in result.outcomes}
    assert set(got) == {"shirt", "shrit"}
    assert got["shirt"].status == "FAIL"
    assert got["shrit"].status == "SKIP" and "not in the audit" in got["shrit"].message


def test_dataset_rule_cannot_be_set_per_class() -> None:
    with pytest.raises(ConfigError, match="max_count_ratio is a dataset-wide rule"):
        parse_thresholds({"classes": {"bag": {"max_count_ratio": 2}}})


# ----------------------------------------------------------------------- threshold parsing


@pytest.mark.parametrize(
    ("table", "match"),
    [
        ({"max_count_ratoi": 3}, r"unknown key 'check\.max_count_ratoi'.*did you mean"),
        ({"min_saturation": {"warn": 0.4, "fail": 0.6}}, r"warn \(0\.4\) must be at least fail"),
        ({"max_count_ratio": {"warn": 5, "fail": 3}}, r"warn \(5\) must be at most fail"),
        ({"min_saturation": 1.5}, r"check\.min_saturation must be in \[0\.0, 1\.0\]"),
        ({"max_count_ratio": 0.5}, r"must be in \[1\.0, inf\]"),
        ({"max_count_ratio": True}, "must be a number"),
        ({"max_count_ratio": "3"}, "must be a number"),
        ({"max_count_ratio": math.nan}, "must be a number"),
        ({"min_images_per_class": 2.5}, "whole number of images"),
        ({"max_count_ratio": {}}, "empty table"),
        ({"max_count_ratio": {"fial": 3}}, r"unknown key 'check\.max_count_ratio\.fial'"),
        ({"warn_only": "yes"}, "must be true or false"),
        ({"classes": {"bag": 3}}, "must be a table of rule = level"),
    ],
)
def test_bad_tables_name_the_key(table: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_thresholds(table)


def test_precedence_flag_over_env_over_file_per_level(tmp_path: Path) -> None:
    source = tmp_path / "semaudit.toml"
    file_table = {"max_count_ratio": {"warn": 4, "fail": 8}, "min_saturation": 0.3,
                  "max_scale_ratio": 2}  # fmt: skip
    env = {"max_count_ratio": "6", "min_saturation": "{warn = 0.6, fail = 0.4}", "warn_only": "1"}
    flags: dict[str, float | None] = {"max_count_ratio": 5.0, "max_scale_ratio": None}
    t = resolve_thresholds(file_table, source=source, env=env, flags=flags,
                           flag_label=lambda rule: rule.flag)  # fmt: skip
    assert (t.rules["max_count_ratio"].warn, t.rules["max_count_ratio"].fail) == (4, 5)
    assert t.rules["max_count_ratio"].source == (
        "semaudit.toml < SEMAUDIT_CHECK_MAX_COUNT_RATIO < --max-count-ratio"
    )
    assert (t.rules["min_saturation"].warn, t.rules["min_saturation"].fail) == (0.6, 0.4)
    assert t.rules["max_scale_ratio"] == Threshold(fail=2, source="semaudit.toml")
    assert t.warn_only


def test_bad_env_is_a_config_error_and_bad_flag_a_usage_error() -> None:
    with pytest.raises(ConfigError, match="SEMAUDIT_CHECK_MIN_SATURATION must be in"):
        resolve_thresholds({}, env={"min_saturation": "2"})
    with pytest.raises(ConfigError, match="SEMAUDIT_CHECK_WARN_ONLY"):
        resolve_thresholds({}, env={"warn_only": "maybe"})
    with pytest.raises(UsageError, match="--min-saturation must be in"):
        resolve_thresholds({}, flags={"min_saturation": 2.0}, flag_label=lambda rule: rule.flag)
    with pytest.raises(UsageError) as info:  # from Python: named by its key, not a CLI flag
        resolve_thresholds({}, flags={"min_saturation": 2.0})
    assert str(info.value).startswith("min_saturation must be in") and "--" not in str(info.value)


def test_unconfigured_rules_are_listed_not_evaluated(pair: tuple[Audit, Audit]) -> None:
    audit, _ = pair
    result = gate.evaluate(audit, Thresholds(rules={"max_count_ratio": Threshold(fail=100)}))
    assert [o.rule for o in result.outcomes] == ["max_count_ratio"]
    assert "max_count_ratio" not in result.not_configured
    assert len(result.not_configured) == len(list_rules()) - 1


# ----------------------------------------------------------------------- serialisers


def test_json_document(pair: tuple[Audit, Audit]) -> None:
    audit, baseline = pair
    table = {"max_count_ratio": 2, "min_saturation": {"warn": 0.9, "fail": 0.1},
             "max_scale_drop": 0.02, "min_probe_accuracy": 0.5}  # fmt: skip
    result = gate.evaluate(audit, table, baseline=baseline)
    doc = json.loads(gate.to_json(result, config="semaudit.toml"))
    assert doc["schema_version"] == gate.CHECK_SCHEMA_VERSION == 1
    assert doc["kind"] == "semaudit-check" and doc["status"] == "FAIL" and not doc["passed"]
    assert doc["config"] == "semaudit.toml" and doc["baseline"] == str(baseline.path)
    assert sum(doc["counts"].values()) == len(doc["results"]) == len(result.outcomes)
    keys = {"rule", "class", "status", "value", "limit", "comparator", "warn", "fail", "source",
            "unit", "message", "detail", "demoted"}  # fmt: skip
    assert all(set(r) == keys for r in doc["results"])
    assert doc["thresholds"]["rules"]["min_saturation"]["warn"] == 0.9


def test_junit_parses_with_one_case_per_rule_and_subject(pair: tuple[Audit, Audit]) -> None:
    audit, _ = pair
    table = {"max_count_ratio": 2, "min_saturation": {"warn": 0.9, "fail": 0.1},
             "max_scale_drop": 0.02, "max_classes_added": 0}  # fmt: skip
    result = gate.evaluate(audit, table, baseline=None)
    root = ET.fromstring(gate.to_junit(result))
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    cases = suite.findall("testcase")
    counts = result.counts()
    assert len(cases) == int(suite.get("tests", "")) == len(result.outcomes)
    assert int(suite.get("failures", "")) == counts["FAIL"] == len(suite.findall("*/failure"))
    assert int(suite.get("skipped", "")) == counts["SKIP"] == len(suite.findall("*/skipped")) == 2
    by_name = {(c.get("classname"), c.get("name")): c for c in cases}
    failure = by_name["semaudit.max_count_ratio", "dataset"].find("failure")
    assert failure is not None and "count ratio" in failure.get("message", "")
    warned = [c for c in cases if c.find("system-out") is not None]
    assert len(warned) == counts["WARN"] > 0
    assert all((c.findtext("system-out") or "").startswith("WARN: ") for c in warned)
    skipped = by_name["semaudit.max_scale_drop", "dataset"].find("skipped")
    assert skipped is not None and "no baseline" in skipped.get("message", "")
    assert {p.get("name") for p in suite.iter("property")} == {"audit", "baseline"}


def test_suggested_thresholds_pass_the_audit_they_came_from(tmp_path: Path) -> None:
    import tomllib

    rng = np.random.default_rng(3)
    for i in range(5):
        counts = rng.integers(3, 500, size=int(rng.integers(2, 9))).tolist()
        audit = load_audit(make_audit(tmp_path / f"a{i}", counts=counts, seed=i))
        table = tomllib.loads(gate.suggest_config(audit))["check"]
        result = gate.evaluate(audit, table, baseline=audit)
        assert result.counts()["FAIL"] == result.counts()["WARN"] == 0, result.outcomes
        assert set(parse_thresholds(table).configured()) == {r.name for r in list_rules()}


# ----------------------------------------------------------------------- nothing checked


def test_a_gate_whose_every_outcome_is_skipped_does_not_pass(tmp_path: Path) -> None:
    path = make_audit(tmp_path / "a", counts=[50, 3])
    audit = patch_audit(path, summary={"n_eligible": 1, "scale": {"max_min_ratio": None}})
    result = gate.evaluate(audit, {"max_scale_ratio": 2})
    assert (result.status, result.passed, result.evaluated) == ("SKIP", False, 0)
    assert gate.result_to_dict(result)["status"] == "SKIP"
    assert gate.evaluate(audit, {"max_scale_ratio": 2}, allow_skipped=True).passed
    assert gate.evaluate(audit, {"max_scale_ratio": 2, "allow_skipped": True}).passed
    mixed = gate.evaluate(audit, {"max_scale_ratio": 2, "min_images_per_class": 1})
    assert (mixed.status, mixed.passed, mixed.evaluated) == ("PASS", True, 2)


def test_exempting_every_class_checks_nothing(pair: tuple[Audit, Audit]) -> None:
    audit, _ = pair
    table = {"classes": {name: {"min_saturation": False} for name in NAMES}}
    result = gate.evaluate(audit, table)
    assert result.status == "SKIP" and not result.passed


def test_switches_follow_precedence(tmp_path: Path) -> None:
    source = tmp_path / "semaudit.toml"
    table = {"max_count_ratio": 3, "warn_only": True, "allow_skipped": True}
    t = resolve_thresholds(table, source=source, env={"warn_only": "false"})
    assert (t.warn_only, t.allow_skipped) == (False, True)  # the environment beats the file
    t = resolve_thresholds({"max_count_ratio": 3}, env={"allow_skipped": "1"})
    assert t.allow_skipped and t.to_dict()["allow_skipped"] is True
    with pytest.raises(ConfigError, match=r"check\.allow_skipped must be true or false"):
        parse_thresholds({"allow_skipped": "yes"})


def test_library_messages_name_config_keys_not_cli_flags(
    pair: tuple[Audit, Audit], tmp_path: Path
) -> None:
    audit, _ = pair
    no_probe = load_audit(make_audit(tmp_path / "p", counts=[20, 10], probe=False))
    table = {r.name: r.bounds[1] or 1e9 for r in list_rules() if r.direction == "max"}
    outcomes = [
        *gate.evaluate(audit, table).outcomes,
        *gate.evaluate(no_probe, {"min_probe_accuracy": 0.5}).outcomes,
    ]
    skipped = [o.message for o in outcomes if o.status == "SKIP"]
    assert "no baseline audit given" in skipped
    assert "probe not run (the audit was scanned with probe off)" in skipped
    assert not [m for m in (o.message for o in outcomes) if "--" in m]
