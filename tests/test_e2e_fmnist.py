"""End to end with the bundled real backbone on a long-tailed real Fashion-MNIST folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fmnist import CLASS_NAMES, write_image_folder

import semaudit
from semaudit.store import load_audit

COUNTS = [240, 120, 60, 30, 15]  # head … tail


@pytest.fixture(scope="module")
def long_tailed_audit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = write_image_folder(tmp_path_factory.mktemp("data"), COUNTS, seed=7)
    out = tmp_path_factory.mktemp("audit")
    semaudit.scan(data, out=out, backbone="efficientnet-lite0")
    return out


@pytest.mark.slow
def test_head_class_is_more_saturated_than_tail_class(long_tailed_audit: Path) -> None:
    classes = load_audit(long_tailed_audit).classes.set_index("class")
    head, tail = classes.loc[CLASS_NAMES[0]], classes.loc[CLASS_NAMES[4]]
    assert head["saturation"] > tail["saturation"]
    assert tail["need_more"] > 0
    by_count = classes.loc[list(CLASS_NAMES[:5]), "scale"]  # COUNTS order: largest first
    assert by_count.is_monotonic_decreasing  # S grows with m by construction


@pytest.mark.slow
def test_probe_correlations_are_reported(long_tailed_audit: Path) -> None:
    summary = json.loads((long_tailed_audit / "summary.json").read_text())
    correlations = summary["correlations"]["probe_accuracy"]
    grid = correlations.pop("scale_interclass_alpha")
    assert set(correlations) == {"count", "effective_number", "scale", "scale_matched",
                                 "centre_distance", "scale_interclass"}  # fmt: skip
    assert set(grid) == {"1", "1.5", "2", "2.5", "3"}
    for stats in [*correlations.values(), *grid.values()]:
        assert set(stats) == {"pearson", "p_pearson", "spearman", "p_spearman"}
    assert 0.6 < summary["probe"]["macro_accuracy"] <= 1.0  # ImageNet features on Fashion-MNIST
    assert summary["count"]["max_min_ratio"] == pytest.approx(16.0)


@pytest.mark.slow
def test_matched_scale_removes_most_of_the_count_effect(long_tailed_audit: Path) -> None:
    summary = json.loads((long_tailed_audit / "summary.json").read_text())
    assert summary["scale_matched"]["max_min_ratio"] < summary["scale"]["max_min_ratio"]
