"""``compare_audits`` and ``semaudit compare``: deltas, ordering, refusals."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
from factories import make_audit

from semaudit.cli import main
from semaudit.compare import COMPARE_SCHEMA_VERSION, Delta, compare_audits
from semaudit.errors import AuditError
from semaudit.store import Audit, load_audit


@pytest.fixture
def versions(tmp_path: Path) -> tuple[Audit, Audit]:
    """v1 → v2: dress cut from 90 to 10 images, coat 60 → 50, hat removed, shoe added."""
    old = make_audit(tmp_path / "v1", counts=[120, 60, 90, 40],
                     names=["bag", "coat", "dress", "hat"])  # fmt: skip
    new = make_audit(tmp_path / "v2", counts=[120, 50, 10, 30],
                     names=["bag", "coat", "dress", "shoe"])  # fmt: skip
    return load_audit(old), load_audit(new)


def test_deltas_per_class(versions: tuple[Audit, Audit]) -> None:
    old, new = versions
    result = compare_audits(old, new)
    by_name = {c.name: c for c in result.classes}
    dress = by_name["dress"]
    assert dress.status == "kept"
    assert (dress.metrics["n"].old, dress.metrics["n"].new) == (90, 10)
    assert dress.metrics["n"].delta == -80
    assert dress.metrics["n"].relative == pytest.approx(-80 / 90)
    scale_old = old.classes.set_index("class").loc["dress", "scale"]
    scale_new = new.classes.set_index("class").loc["dress", "scale"]
    assert dress.metrics["scale"].relative == pytest.approx((scale_new - scale_old) / scale_old)
    assert set(dress.metrics) == {"n", "scale", "scale_matched", "saturation"}
    assert by_name["bag"].metrics["scale"].relative == 0
    assert result.added == ["shoe"] and result.removed == ["hat"]
    hat = by_name["hat"]
    assert (
        hat.status == "removed" and hat.metrics["n"].new is None and hat.metrics["n"].delta is None
    )


def test_sorted_by_largest_relative_scale_change(versions: tuple[Audit, Audit]) -> None:
    result = compare_audits(*versions)
    assert [c.name for c in result.classes] == ["shoe", "hat", "dress", "coat", "bag"]
    changes = [c.scale_change for c in result.classes]
    assert changes == sorted(changes, reverse=True)
    assert changes[0] == math.inf and changes[1] == 1.0


def test_dataset_deltas_and_matched_m_note(versions: tuple[Audit, Audit]) -> None:
    result = compare_audits(*versions)
    assert (result.dataset["n_images"].old, result.dataset["n_images"].new) == (310, 210)
    assert result.dataset["n_classes"].delta == 0
    assert len(result.notes) == 1 and "m* = 40" in result.notes[0] and "10" in result.notes[0]


def test_delta_edges() -> None:
    assert Delta(0.0, 3.0).relative is None and Delta(0.0, 3.0).delta == 3.0
    assert Delta(None, 3.0).delta is None and Delta(2.0, None).relative is None
    assert Delta(-2.0, -1.0).relative == 0.5


def test_incompatible_audits_are_refused(tmp_path: Path) -> None:
    a = load_audit(make_audit(tmp_path / "a", counts=[10, 20]))
    b = load_audit(make_audit(tmp_path / "b", counts=[10, 20], backbone="torchvision:resnet50"))
    with pytest.raises(AuditError) as info:
        compare_audits(a, b)
    message = str(info.value)
    assert "efficientnet-lite0" in message and "torchvision:resnet50" in message
    assert str(a.path) in message and str(b.path) in message


def test_json_document_is_finite_and_versioned(versions: tuple[Audit, Audit]) -> None:
    doc = compare_audits(*versions).to_dict()
    text = json.dumps(doc, allow_nan=False)
    assert json.loads(text)["schema_version"] == COMPARE_SCHEMA_VERSION == 1
    assert doc["kind"] == "semaudit-compare"
    assert doc["classes"][0]["class"] == "shoe" and doc["classes"][0]["n"]["old"] is None


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in os.environ:
        if var.startswith("SEMAUDIT_"):
            monkeypatch.delenv(var)


@pytest.mark.usefixtures("cli_env")
def test_cli_table_and_json(
    versions: tuple[Audit, Audit], capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = versions
    assert main(["compare", str(old.path), str(new.path)]) == 0
    captured = capsys.readouterr()
    assert "dress" in captured.out and "-88.9%" in captured.out
    assert "added: shoe" in captured.out and "removed: hat" in captured.out
    assert "m* = 40" in " ".join(captured.err.split())
    assert main(["compare", str(old.path), str(new.path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [c["class"] for c in doc["classes"]] == ["shoe", "hat", "dress", "coat", "bag"]


@pytest.mark.usefixtures("cli_env")
def test_cli_errors_exit_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = make_audit(tmp_path / "a", counts=[10, 20])
    b = make_audit(tmp_path / "b", counts=[10, 20], backbone="torchvision:resnet50")
    assert main(["compare", str(a), str(b)]) == 3
    assert "cannot compare" in capsys.readouterr().err
    assert main(["compare", str(a), str(tmp_path / "missing")]) == 3
    assert main(["compare", str(a)]) == 2
