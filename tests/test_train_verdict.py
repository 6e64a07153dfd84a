"""The verdict of a comparison (``stats/verdict.py``), checked against hand-computed values."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from semaudit.stats.verdict import (
    audit_finding,
    comparison_verdict,
    is_scale_method,
    paired_difference,
    seeds_needed,
)

COUNT_DRIVEN = {
    "recommendations": [
        {
            "kind": "count_driven",
            "text": "The scale imbalance is mostly count-driven: …",
            "scale_ratio": 6.23,
            "matched_scale_ratio": 1.09,
            "spearman_count_scale": 0.99,
        }
    ],
    "spearman_count_scale": {"rho": 0.99, "p": 0.0},
}


def test_scale_methods_are_those_weighting_by_scale() -> None:
    assert is_scale_method("dssb") and is_scale_method("focal+ssb")
    assert not is_scale_method("cb") and not is_scale_method("ce")
    assert not is_scale_method("ldam+cb")


def test_paired_difference_by_hand() -> None:
    a = {0: 0.80, 1: 0.84, 2: 0.79}
    b = {0: 0.70, 1: 0.78, 2: 0.74, 3: 0.9}  # seed 3 has no partner: left out
    found = paired_difference(a, b)
    d = [0.10, 0.06, 0.05]
    mean, sd = sum(d) / 3, math.sqrt(sum((x - sum(d) / 3) ** 2 for x in d) / 2)
    t = mean / (sd / math.sqrt(3))
    assert found["seeds"] == 3
    assert found["diff"] == pytest.approx(0.07)
    assert found["sd"] == pytest.approx(sd)
    assert found["p"] == pytest.approx(2 * stats.t.sf(t, 2))
    assert found["beyond_noise"] is True  # t = 4.58, p = 0.044


def test_seeds_needed_is_the_smallest_powered_sample() -> None:
    # effect 1 (mean = sd): a paired t-test needs 10 pairs for 80 % power at α = 0.05
    assert seeds_needed(0.02, 0.02) == 10
    assert seeds_needed(0.02, 0.0) is None and seeds_needed(0.0, 0.02) is None
    assert seeds_needed(0.0001, 1.0) == 1001  # more than the search limit


def test_two_seeds_within_noise_say_how_many_would_tell() -> None:
    scores = {"ce": {0: 0.70, 1: 0.74}, "cb": {0: 0.73, 1: 0.75}, "dssb": {0: 0.72, 1: 0.74}}
    verdict = comparison_verdict(scores, audit_finding(COUNT_DRIVEN), evaluated_on="test")
    assert verdict["best"] == "cb" and verdict["best_mean"] == pytest.approx(0.74)
    assert verdict["vs_ce"]["diff"] == pytest.approx(0.02)
    assert verdict["vs_ce"]["beyond_noise"] is False
    assert verdict["vs_other"]["method"] == "dssb"
    assert verdict["vs_other"]["family"] == "semantic-scale"
    text = verdict["text"]
    assert text.startswith("cb has the best macro accuracy on the test split (74.0 %)")
    assert "+2.0 points over ce" in text and "within seed noise" in text
    assert f"about {verdict['vs_ce']['seeds_needed']} seeds" in text
    assert "dssb, the best semantic-scale method" in text
    assert "mostly count-driven (ρ(count, S) = 0.99" in text
    assert "count-based weights (cb, inverse) are expected to do as well" in text


def test_scale_winner_is_compared_with_the_best_baseline() -> None:
    scores = {"ce": {0: 0.6, 1: 0.6}, "cb": {0: 0.7, 1: 0.71}, "dssb": {0: 0.8, 1: 0.82}}
    verdict = comparison_verdict(scores, audit_finding({"spearman_count_scale": {"rho": 0.3}}))
    assert verdict["best"] == "dssb"
    assert verdict["vs_other"]["method"] == "cb" and verdict["vs_other"]["family"] == "baseline"
    assert "cb, the best baseline" in verdict["text"]
    assert "scale not merely restating counts (ρ(count, S) = 0.30)" in verdict["text"]


def test_ce_as_the_best_baseline_is_named_once() -> None:
    verdict = comparison_verdict({"ce": {0: 0.6, 1: 0.62}, "ssb": {0: 0.7, 1: 0.69}})
    assert verdict["text"].count("over ce") == 1
    assert "over ce, the best baseline" in verdict["text"]


def test_one_seed_has_no_test_and_says_so() -> None:
    verdict = comparison_verdict({"ce": {0: 0.8}, "dssb": {0: 0.7}})
    assert verdict["best"] == "ce" and verdict["vs_ce"] is None
    assert verdict["vs_other"]["p"] is None and verdict["vs_other"]["beyond_noise"] is None
    assert "one seed" in verdict["text"] and "--seeds 3" in verdict["text"]


def test_missing_scores_and_no_audit() -> None:
    assert comparison_verdict({"ce": {0: None}})["best"] is None
    verdict = comparison_verdict({"ce": {0: 0.5, 1: float("nan")}, "cb": {0: 0.6, 1: 0.7}})
    assert verdict["vs_ce"]["seeds"] == 1 and "audit" not in verdict["text"]
    assert audit_finding(None) is None
    finding = audit_finding({"spearman_count_scale": {"rho": 0.5}})
    assert finding is not None and finding["count_driven"] is False
