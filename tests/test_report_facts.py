"""The report's headline sentence follows the recommendations' ranking and their ranges."""

from __future__ import annotations

import json
from pathlib import Path

from factories import make_audit

from semaudit.report import facts
from semaudit.store import load_audit


def _with_recommendations(path: Path, recs: list[dict[str, object]]) -> Path:
    audit_dir = make_audit(path, counts=[300, 40, 12], names=["big", "mid", "small"])
    summary_path = audit_dir / "summary.json"
    summary = json.loads(summary_path.read_text())
    summary["recommendations"] = recs
    summary_path.write_text(json.dumps(summary))
    return audit_dir


def test_headline_names_the_first_recommended_class_with_its_range(tmp_path: Path) -> None:
    recs: list[dict[str, object]] = [
        {"kind": "count_driven", "text": "mostly count-driven"},
        {"kind": "need_more", "class": "small", "text": "…", "need_more_low": 16},
        {"kind": "need_more", "class": "mid", "text": "…", "need_more_low": 30,
         "need_more_high": 120},
    ]  # fmt: skip
    audit = load_audit(_with_recommendations(tmp_path / "a", recs))
    assert {"small", "mid"} <= set(facts.below_target(audit)["class"])
    sentence = facts.verdict(audit)
    assert sentence.endswith("led by class 'small' (at least ~16 more diverse images).")
    recs[1], recs[2] = recs[2], recs[1]
    audit = load_audit(_with_recommendations(tmp_path / "b", recs))
    assert facts.verdict(audit).endswith("led by class 'mid' (~30–120 more diverse images).")
