"""Training runs through the library: resume equals an uninterrupted run; outputs; protocol."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from factories import make_audit
from safetensors.torch import load_file

from semaudit.store import load_audit
from semaudit.train.compare import compare_methods
from semaudit.train.config import TrainConfig
from semaudit.train.evaluate import run_metrics, shot_groups
from semaudit.train.protocol import Split, TrainInputs, stratified_split
from semaudit.train.run import train_run

COUNTS = [120, 60, 30, 12, 6]


def _inputs(tmp_path: Path, *, val: bool = True) -> TrainInputs:
    """Gaussian clusters (one per class, overlapping) behind a contract-correct audit."""
    rng = np.random.default_rng(0)
    k, d = len(COUNTS), 12
    centres = rng.normal(size=(k, d)) * 1.2

    def draw(counts: list[int]) -> tuple[np.ndarray, np.ndarray]:
        labels = np.repeat(np.arange(k), counts)
        return (centres[labels] + rng.normal(size=(labels.size, d))).astype(np.float32), labels

    names = [f"c{i}" for i in range(k)]
    audit = load_audit(make_audit(tmp_path / "audit", counts=COUNTS, names=names))
    x, y = draw(COUNTS)
    tx, ty = draw([40] * k)
    train = Split("train", y, x)
    val_split = None
    if val:
        held = stratified_split(y, 0.2, 0)
        val_split = train.subset(np.flatnonzero(held), "val")
        train = train.subset(np.flatnonzero(~held), "train")
    scales = audit.classes.set_index("class").reindex(names)["scale"].to_numpy(float)
    return TrainInputs(tmp_path, audit, names, scales, train, val_split, Split("test", ty, tx), d)


class _Stop(Exception):
    pass


def _stop_after(epoch: int) -> Callable[[str, object], None]:
    def on_event(kind: str, payload: object) -> None:
        if kind == "epoch" and payload.epoch == epoch:  # type: ignore[attr-defined]
            raise _Stop

    return on_event


@pytest.mark.parametrize("method", [("ce", "dssb"), ("ldam", "cb")])
def test_resume_equals_an_uninterrupted_run(tmp_path: Path, method: tuple[str, str]) -> None:
    inputs = _inputs(tmp_path)
    config = TrainConfig(
        loss=method[0],
        weighting=method[1],
        epochs=6,
        batch_size=32,
        warmup_epochs=1,
        refresh_every=3,
        hidden_dim=16,
    )
    whole = train_run(inputs, config, tmp_path / "whole", figures=False)
    with pytest.raises(_Stop):
        train_run(inputs, config, tmp_path / "cut", on_event=_stop_after(2), figures=False)
    assert not (tmp_path / "cut" / "metrics.json").exists()
    resumed = train_run(inputs, config, tmp_path / "cut", resume=True, figures=False)
    a = load_file(str(tmp_path / "whole" / "head.safetensors"))
    b = load_file(str(tmp_path / "cut" / "head.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    for key in ("macro_acc", "many", "medium", "few", "selected_epoch", "dssb_refreshes"):
        assert whole.metrics[key] == resumed.metrics[key]
    losses = [r["loss"] for r in whole.history]
    assert losses == [r["loss"] for r in resumed.history]
    if method[1] == "dssb":
        w1 = pd.read_csv(tmp_path / "whole" / "weights_history.csv")
        w2 = pd.read_csv(tmp_path / "cut" / "weights_history.csv")
        pd.testing.assert_frame_equal(w1, w2)


def test_a_run_writes_its_outputs_and_learns(tmp_path: Path) -> None:
    inputs = _inputs(tmp_path)
    config = TrainConfig(weighting="dssb", epochs=8, batch_size=32, warmup_epochs=2, hidden_dim=16)
    result = train_run(inputs, config, tmp_path / "run")
    run = tmp_path / "run"
    for name in (
        "metrics.json",
        "per_class.csv",
        "history.csv",
        "weights_history.csv",
        "curves.png",
        "weights.png",
        "head.safetensors",
        "checkpoint.safetensors",
    ):
        assert (run / name).is_file(), name
    m = result.metrics
    assert m["evaluated_on"] == "test" and m["selection"] == "val"
    assert 0 <= m["selected_epoch"] < 8
    assert m["macro_acc"] > 0.5  # 5 separable-ish clusters: far above chance (0.2)
    assert m["pool_bytes"] == len(inputs.train) * 16 * 4
    per_class = pd.read_csv(run / "per_class.csv")
    assert per_class["n_train"].tolist() == inputs.counts.tolist()
    assert per_class["final_weight"].sum() == pytest.approx(1.0)  # dssb: the paper's, sum 1
    # dssb: the rarest class ends with the largest weight (smallest pool scale)
    assert per_class["final_weight"].idxmax() == 4


def test_rerun_without_resume_is_refused(tmp_path: Path) -> None:
    from semaudit.errors import UsageError

    inputs = _inputs(tmp_path)
    config = TrainConfig(epochs=1, hidden_dim=8)
    train_run(inputs, config, tmp_path / "run", figures=False)
    with pytest.raises(UsageError, match="pass --resume"):
        train_run(inputs, config, tmp_path / "run", figures=False)
    with pytest.raises(UsageError, match="other settings"):
        train_run(inputs, replace(config, epochs=2), tmp_path / "run", resume=True)


def test_compare_writes_every_method_and_seed(tmp_path: Path) -> None:
    inputs = _inputs(tmp_path, val=False)
    base = TrainConfig(epochs=3, batch_size=32, hidden_dim=8, warmup_epochs=1)
    _, summary = compare_methods(
        inputs, base, [("ce", "none"), ("ce", "dssb")], 2, tmp_path / "cmp"
    )
    saved = pd.read_csv(tmp_path / "cmp" / "comparison.csv")
    assert saved[["method", "seed"]].values.tolist() == [
        ["ce", 0],
        ["ce", 1],
        ["dssb", 0],
        ["dssb", 1],
    ]
    for col in ("macro_acc", "many", "medium", "few"):
        assert saved[col].notna().all()
    assert (tmp_path / "cmp" / "comparison.png").is_file()
    # identical splits: every run trained on the same images and was tested on the same ones
    assert set(saved["evaluated_on"]) == {"test"}
    assert summary["seeds"].tolist() == [2, 2]
    runs = sorted((tmp_path / "cmp" / "runs").iterdir())
    assert [r.name for r in runs] == ["ce-seed0", "ce-seed1", "dssb-seed0", "dssb-seed1"]
    n_train = {tuple(pd.read_csv(r / "per_class.csv")["n_train"]) for r in runs}
    assert n_train == {tuple(inputs.counts)}


def test_shot_groups_and_metrics() -> None:
    assert shot_groups(np.array([101, 100, 20, 19])).tolist() == ["many", "medium", "medium", "few"]
    preds = np.array([0, 0, 1, 0, 2, 2])
    labels = np.array([0, 0, 1, 1, 2, 2])
    m = run_metrics(preds, labels, np.array([200, 50, 5]), np.array([3.0, 2.0, 1.0]))
    assert m["macro_acc"] == pytest.approx((1 + 0.5 + 1) / 3)
    assert (m["many"], m["medium"], m["few"]) == (1.0, 0.5, 1.0)
    assert m["accuracy"] == pytest.approx(5 / 6)


def test_stratified_split_keeps_a_training_image_per_class() -> None:
    labels = np.repeat([0, 1, 2], [10, 2, 1])
    held = stratified_split(labels, 0.5, seed=0)
    assert held[labels == 0].sum() == 5 and held[labels == 1].sum() == 1
    assert held[labels == 2].sum() == 0
    assert (held == stratified_split(labels, 0.5, seed=0)).all()


def test_the_train_command_and_run_reports_import_no_torch() -> None:
    """Registering ``train`` on the CLI and reading a run for ``report`` stay light."""
    import subprocess
    import sys

    code = (
        "import sys, semaudit.cli.train, semaudit.report.training; "
        "print('torch' in sys.modules, 'semaudit.train.run' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_model_files_go_through_the_atomic_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """head/model/classifier files: safetensors bytes, then the store's fsync + rename."""
    from safetensors import safe_open

    from semaudit.train import models
    from semaudit.train.head import MLPHead

    written: list[str] = []
    real = models.atomic_write_bytes

    def spy(path: Path, data: bytes) -> None:
        written.append(path.name)
        real(path, data)

    monkeypatch.setattr(models, "atomic_write_bytes", spy)
    head = MLPHead(4, 3, 2)
    path = models.save_safetensors(tmp_path / "head.safetensors", head.state_dict(), {"k": "v"})
    assert written == ["head.safetensors"] and sorted(p.name for p in tmp_path.iterdir()) == [
        "head.safetensors"
    ]
    with safe_open(str(path), framework="pt") as fh:
        assert fh.metadata() == {"k": "v"}
    assert set(load_file(str(path))) == set(head.state_dict())


def test_the_audit_backbone_is_resolved_once_and_its_digest_checked(tmp_path: Path) -> None:
    """One function gives val/test embedding and --finetune last|full the audit's backbone."""
    import json

    from semaudit.errors import BackboneError
    from semaudit.train import finetune, protocol

    audit_dir = make_audit(tmp_path / "audit", counts=[5, 5], names=["a", "b"])
    meta = json.loads((audit_dir / "audit.json").read_text())
    meta["backbone"] = {**meta.get("backbone", {}), "id": "pixels", "weights_digest": "other"}
    (audit_dir / "audit.json").write_text(json.dumps(meta))
    audit = load_audit(audit_dir)
    with pytest.raises(BackboneError, match=r"differ from those audit .* was made with"):
        protocol.audit_backbone(audit, "cpu")
    with pytest.raises(BackboneError, match="differ from those audit"):
        finetune.load_image_backbone(audit, "cpu")
