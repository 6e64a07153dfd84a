"""The paper's Table 1 on the user's data: correlations, verdict, audit, gate, report, train."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from factories import make_audit
from scipy import stats

from semaudit import gate
from semaudit.report.markdown import render_markdown
from semaudit.report.table1 import table1_rows
from semaudit.scanner.analysis import analyse
from semaudit.scanner.config import ScanConfig
from semaudit.stats.imbalance import effective_number
from semaudit.stats.interclass import ALPHA_GRID, interclass_from_distances, interclass_scale
from semaudit.stats.probe import correlate
from semaudit.stats.table1 import accuracy_correlations, row_note, table1_verdict
from semaudit.store import load_audit
from semaudit.train.evaluate import run_metrics

COUNTS = np.array([60, 40, 25, 15, 10, 6])
SCALES = np.array([9.0, 8.0, 6.5, 5.0, 4.2, 3.0])
DISTANCES = np.array([1.0, 1.2, 0.8, 1.1, 0.9, 1.3])
ACCURACY = np.array([0.95, 0.9, 0.7, 0.72, 0.5, 0.4])


def test_correlate_gives_both_p_values() -> None:
    x, y = np.array([1.0, 2, 3, 4, 5]), np.array([2.0, 1, 4, 3, 5])
    out = correlate(x, y)
    assert out["pearson"] == pytest.approx(stats.pearsonr(x, y).statistic)
    assert out["p_pearson"] == pytest.approx(stats.pearsonr(x, y).pvalue)
    assert out["spearman"] == pytest.approx(stats.spearmanr(x, y).statistic)
    assert out["p_spearman"] == pytest.approx(stats.spearmanr(x, y).pvalue)


def test_every_measure_and_alpha_matches_scipy() -> None:
    table = accuracy_correlations(ACCURACY, COUNTS, SCALES, DISTANCES, 2.0)
    measures = {
        "count": COUNTS,
        "effective_number": effective_number(COUNTS),
        "scale": SCALES,
        "centre_distance": DISTANCES,
        "scale_interclass": interclass_from_distances(SCALES, DISTANCES, COUNTS, 2.0),
    }
    for key, values in measures.items():
        assert table[key]["pearson"] == pytest.approx(stats.pearsonr(values, ACCURACY)[0]), key
    assert list(table["scale_interclass_alpha"]) == ["1", "1.5", "2", "2.5", "3"]
    for alpha in ALPHA_GRID:
        s = interclass_from_distances(SCALES, DISTANCES, COUNTS, alpha)
        got = table["scale_interclass_alpha"][format(alpha, "g")]["p_pearson"]
        assert got == pytest.approx(stats.pearsonr(s, ACCURACY).pvalue)
    assert table["scale_interclass_alpha"]["2"] == table["scale_interclass"]


def test_use_mask_drops_classes() -> None:
    use = np.array([True, True, True, True, False, False])
    table = accuracy_correlations(ACCURACY, COUNTS, SCALES, DISTANCES, 1.0, use=use)
    assert table["count"]["pearson"] == pytest.approx(stats.pearsonr(COUNTS[:4], ACCURACY[:4])[0])


def test_verdict_names_the_best_measure_and_the_count_baseline() -> None:
    table = accuracy_correlations(ACCURACY, COUNTS, SCALES, DISTANCES, 2.0)
    verdict = table1_verdict(table, 6)
    rs = {k: table[k]["pearson"] for k in ("count", "effective_number", "scale",
                                           "centre_distance", "scale_interclass")}  # fmt: skip
    assert verdict["best"] == max(rs, key=rs.__getitem__)
    assert verdict["beats_count"] == (verdict["best"] != "count")
    assert verdict["significant"] == (verdict["p"] < 0.05)


def test_verdict_says_not_significant_and_explains_a_negative_r() -> None:
    weak = {
        "count": {"pearson": 0.3, "p_pearson": 0.4},
        "scale": {"pearson": 0.5, "p_pearson": 0.14},
        "centre_distance": {"pearson": -0.8, "p_pearson": 0.005},
    }
    verdict = table1_verdict(weak, 10)
    assert verdict["best"] == "scale" and verdict["beats_count"] is True
    assert verdict["significant"] is False
    assert "not significant with 10 classes (p = 0.14)" in verdict["text"]
    assert "Ahead of image counts (r = +0.30), but within noise here." in verdict["text"]
    assert "Significantly negative: centre distance w" in verdict["text"]
    assert "recognised worse" in verdict["text"]
    assert row_note(weak["count"], 10) == "not significant with 10 classes"
    assert row_note(weak["centre_distance"], 10).startswith("significant, opposite sign")
    assert table1_verdict({}, 2)["best"] is None


def test_verdict_when_a_significant_measure_beats_counts() -> None:
    table = {
        "count": {"pearson": 0.1, "p_pearson": 0.7},
        "scale": {"pearson": 0.8, "p_pearson": 0.01},
    }
    verdict = table1_verdict(table, 10)
    assert verdict["significant"] is True and verdict["beats_count"] is True
    assert verdict["text"] == (
        "Best tracker of per-class accuracy here: semantic scale S′: r = +0.80 (p = 0.01). "
        "It beats image counts (r = +0.10)."
    )


def test_critical_r_matches_the_pearson_p_value() -> None:
    from semaudit.stats.table1 import critical_r

    bar = critical_r(10)
    assert bar is not None and bar == pytest.approx(0.632, abs=1e-3)  # 2.306 / √(2.306² + 8)
    x = np.arange(10.0) - 4.5
    e = x**2 - np.mean(x**2)  # orthogonal to x and to 1
    y = bar * x / np.linalg.norm(x) + math.sqrt(1 - bar**2) * e / np.linalg.norm(e)
    assert stats.pearsonr(x, y).pvalue == pytest.approx(0.05, rel=1e-6)
    assert critical_r(2) is None


def test_verdict_when_counts_win() -> None:
    table = {"count": {"pearson": 0.9, "p_pearson": 0.001}, "scale": {"pearson": 0.2}}
    verdict = table1_verdict(table, 8)
    assert verdict["best"] == "count" and verdict["beats_count"] is None
    assert "No semantic measure beats image counts" in verdict["text"]


def _features(rng: np.random.Generator) -> dict[int, np.ndarray]:
    centres = rng.normal(size=(4, 8)) * 1.5
    return {c: rng.normal(size=(n, 8)) + centres[c] for c, n in enumerate([30, 20, 12, 6])}


def test_analyse_writes_w_s_alpha_and_table1() -> None:
    feats = _features(np.random.default_rng(0))
    names, counts = list("abcd"), np.array([30, 20, 12, 6])
    result = analyse(iter(feats.items()), names, counts, ScanConfig(draws=2))
    z = np.concatenate(list(feats.values()))
    y = np.repeat(np.arange(4), counts)
    assert result.interclass_alpha == 2.0  # auto: 30 / 6 ≥ 2
    np.testing.assert_allclose(
        result.classes["scale_interclass"], interclass_scale(z, y, alpha=2.0), rtol=1e-9
    )
    table = result.summary["correlations"]["probe_accuracy"]
    assert {"count", "scale", "scale_matched", "centre_distance", "scale_interclass"} <= set(table)
    assert set(table["scale_interclass_alpha"]) == {"1", "1.5", "2", "2.5", "3"}
    assert result.summary["scale_interclass"]["max_min_ratio"] == pytest.approx(
        result.classes["scale_interclass"].max() / result.classes["scale_interclass"].min()
    )
    fixed = analyse(iter(feats.items()), names, counts, ScanConfig(draws=2, interclass_alpha="1"))
    assert fixed.interclass_alpha == 1.0


def _audit_with_table1(tmp_path: Path, alpha: float = 2.0) -> tuple[Path, dict[str, Any]]:
    names = ["a", "b", "c", "d", "e", "f"]
    root = make_audit(tmp_path / "audit", names=names, counts=COUNTS.tolist())
    classes = pd.read_csv(root / "classes.csv")
    classes["probe_accuracy"] = ACCURACY
    classes["centre_distance"] = DISTANCES
    classes["scale_interclass"] = interclass_from_distances(SCALES, DISTANCES, COUNTS, alpha)
    classes.to_csv(root / "classes.csv", index=False)
    summary = json.loads((root / "summary.json").read_text())
    table = accuracy_correlations(ACCURACY, COUNTS, SCALES, DISTANCES, alpha)
    summary["correlations"] = {"probe_accuracy": table}
    summary["scale_interclass"] = {"max_min_ratio": 4.5, "cv": 0.1, "gini": 0.1, "entropy": 0.9}
    (root / "summary.json").write_text(json.dumps(summary))
    meta = json.loads((root / "audit.json").read_text())
    meta["settings"]["interclass_alpha"] = alpha
    (root / "audit.json").write_text(json.dumps(meta))
    return root, table


def test_audit_reads_the_table_and_the_gate_reads_the_ratio(tmp_path: Path) -> None:
    root, table = _audit_with_table1(tmp_path)
    audit = load_audit(root)
    rows = table1_rows(audit)
    assert [r.key for r in rows][:5] == ["count", "effective_number", "scale",
                                         "centre_distance", "scale_interclass"]  # fmt: skip
    assert rows[4].label == "scale with interference S (α = 2)"
    assert [r.key for r in rows if r.grid] == ["1", "1.5", "2", "2.5", "3"]
    assert rows[2].pearson == pytest.approx(table["scale"]["pearson"])
    (outcome,) = gate.evaluate(audit, {"max_interclass_scale_ratio": 4}).outcomes
    assert outcome.value == pytest.approx(4.5) and outcome.status == "FAIL"


def test_markdown_report_shows_the_table_and_verdict(tmp_path: Path) -> None:
    root, table = _audit_with_table1(tmp_path)
    text = render_markdown(load_audit(root), version="test")
    assert "the paper's Table 1" in text
    assert "| scale with interference S (α = 2) |" in text
    assert f"{table['scale']['pearson']:+.2f}" in text
    assert "not significant with 6 classes" in text
    assert "Pearson r of S over the α grid: α 1:" in text


def test_old_audit_without_the_new_columns_still_loads(tmp_path: Path) -> None:
    root = make_audit(tmp_path / "audit", names=["a", "b", "c"], counts=[9, 7, 5])
    classes = pd.read_csv(root / "classes.csv")
    classes.drop(columns=["centre_distance", "scale_interclass"], errors="ignore").to_csv(
        root / "classes.csv", index=False
    )
    summary = json.loads((root / "summary.json").read_text())
    del summary["scale_interclass"]
    (root / "summary.json").write_text(json.dumps(summary))
    audit = load_audit(root)
    assert audit.classes["scale_interclass"].isna().all()
    (outcome,) = gate.evaluate(audit, {"max_interclass_scale_ratio": 4}).outcomes
    assert outcome.status == "SKIP"


def test_run_metrics_adds_table1_against_test_accuracy() -> None:
    rng = np.random.default_rng(3)
    labels = np.repeat(np.arange(6), 50)
    preds = np.where(rng.random(labels.size) < np.repeat(ACCURACY, 50), labels, (labels + 1) % 6)
    found = run_metrics(preds, labels, COUNTS, SCALES, audit_distances=DISTANCES)
    corr = found["correlations"]
    acc = found["per_class"]
    assert corr["interclass_alpha"] == 2.0
    assert corr["test_accuracy"]["count"]["pearson"] == pytest.approx(
        stats.pearsonr(COUNTS, acc)[0]
    )
    s = interclass_from_distances(SCALES, DISTANCES, COUNTS, 2.0)
    assert corr["test_accuracy"]["scale_interclass"]["pearson"] == pytest.approx(
        stats.pearsonr(s, acc)[0]
    )
    assert corr["verdict"]["text"]
    bare = run_metrics(preds, labels, COUNTS, SCALES)["correlations"]["test_accuracy"]
    assert bare["scale_interclass"]["pearson"] is None and bare["scale"]["pearson"] is not None
    assert not math.isnan(bare["count"]["pearson"])


def test_scan_summary_prints_table1_and_its_noise_bar(capsys: pytest.CaptureFixture[str]) -> None:
    from types import SimpleNamespace

    from semaudit.cli.scan import _show_table1

    table = accuracy_correlations(ACCURACY, COUNTS, SCALES, DISTANCES, 2.0)
    summary = {"correlations": {"probe_accuracy": table}, "n_eligible": 6}
    _show_table1(SimpleNamespace(summary=summary, interclass_alpha=2.0))
    text = capsys.readouterr().out
    assert "Pearson r (the paper's Table 1): N " + f"{table['count']['pearson']:+.2f}" in text
    assert "S (α 2)" in text and "(|r| < 0.81 is not significant with 6 classes)" in text
    assert table1_verdict(table, 6)["text"] in " ".join(text.split())
    _show_table1(SimpleNamespace(summary={"correlations": None}, interclass_alpha=1.0))
    assert capsys.readouterr().out == ""
