"""``semaudit.scan`` end to end with the fast deterministic ``pixels`` backbone on real images."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fmnist import CLASS_NAMES, write_image_folder
from PIL import Image

import semaudit
from semaudit.store import CLASSES_COLUMNS, load_audit

COUNTS = [40, 25, 12, 3]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_image_folder(tmp_path_factory.mktemp("data"), COUNTS, seed=1)
    (root / "empty-class").mkdir()
    return root


@pytest.fixture(scope="module")
def audit_dir(dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("audit")
    semaudit.scan(dataset, out=out, backbone="pixels")
    return out


def test_audit_directory_follows_the_contract(audit_dir: Path) -> None:
    audit = load_audit(audit_dir)
    assert list(audit.classes.columns) == CLASSES_COLUMNS
    assert sorted(audit.classes["class"]) == sorted([*CLASS_NAMES[:4], "empty-class"])
    by_class = audit.classes.set_index("class")
    assert by_class.loc["empty-class", "n"] == 0
    assert "empty" in by_class.loc["empty-class", "flags"]
    assert "few_images" in by_class.loc[CLASS_NAMES[3], "flags"]
    assert by_class["n"].sum() == sum(COUNTS) == audit.meta["counts"]["images"]
    assert audit.meta["backbone"]["id"] == "pixels"
    assert audit.meta["settings"]["alpha_used"] == 256.0
    for name in ("classes.csv", "curves.csv", "summary.json", "audit.json", "weights.json"):
        assert "nan" not in (audit_dir / name).read_text().lower()
    eligible = by_class[by_class["n"] >= 5]
    assert eligible["weight"].mean() == pytest.approx(1.0)
    assert json.loads((audit_dir / "weights.json").read_text())["weights"].keys() == set(
        audit.classes["class"]
    )


def test_audit_records_how_the_scan_used_the_cpu(dataset: Path, tmp_path: Path) -> None:
    """audit.json's environment holds the decoding workers and torch threads the scan chose
    (semaudit.runtime.cpu_plan); the caller's torch thread count is restored afterwards."""
    import torch

    from semaudit.runtime import cpu_plan

    before = torch.get_num_threads()
    semaudit.scan(dataset, out=tmp_path / "a", backbone="pixels", workers=0)
    env = load_audit(tmp_path / "a").meta["environment"]
    assert (env["workers"], env["threads"]) == (0, cpu_plan(0, "cpu").threads)
    assert torch.get_num_threads() == before


def test_scale_in_audit_equals_semantic_scale_of_stored_embeddings(audit_dir: Path) -> None:
    features, labels, paths, names = semaudit.load_embeddings(audit_dir)
    assert features.shape == (sum(COUNTS), 256)
    assert paths == sorted(paths)
    assert all(Path(p).parts[0] == names[label] for p, label in zip(paths, labels, strict=True))
    expected = semaudit.semantic_scale(features, labels, n_classes=len(names))
    got = load_audit(audit_dir).classes.set_index("class").loc[names, "scale"].to_numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_authors_volume_reproduced_with_alpha_1_and_raw_features(
    dataset: Path, tmp_path: Path
) -> None:
    semaudit.scan(dataset, out=tmp_path, backbone="pixels", alpha=1.0, normalize=False, probe=False)
    features, labels, _, names = semaudit.load_embeddings(tmp_path)
    classes = load_audit(tmp_path).classes.set_index("class")
    for c, name in enumerate(names):
        z = features[labels == c].astype(np.float64)
        if len(z) < 2:
            continue
        a = z - z.mean(0)
        authors = 0.5 * math.log2(np.linalg.det(np.eye(a.shape[1]) + a.T @ a / len(z)))
        assert classes.loc[name, "scale"] == pytest.approx(authors, rel=1e-9)


def test_rescan_reuses_everything_and_loads_no_model(
    dataset: Path, audit_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = (audit_dir / "classes.csv").read_bytes()

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a model was loaded although nothing changed")

    monkeypatch.setattr("semaudit.backbones.load_backbone", refuse)
    result = semaudit.scan(dataset, out=audit_dir, backbone="pixels")
    assert (result.n_embedded, result.n_reused) == (0, sum(COUNTS))
    assert (audit_dir / "classes.csv").read_bytes() == before


def test_rescan_embeds_only_new_or_changed_files(dataset: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_image_folder(data, [10, 10], seed=3)
    out = tmp_path / "audit"
    assert semaudit.scan(data, out=out, backbone="pixels").n_embedded == 20
    changed = next((data / CLASS_NAMES[0]).iterdir())
    Image.fromarray(np.full((28, 28), 200, np.uint8)).save(changed)
    Image.fromarray(np.full((28, 28), 50, np.uint8)).save(data / CLASS_NAMES[1] / "new.png")
    result = semaudit.scan(data, out=out, backbone="pixels")
    assert (result.n_embedded, result.n_reused) == (2, 19)
    index = pd.read_parquet(out / "embeddings" / "index.parquet")
    assert len(index) == 21


def test_manifest_gives_the_same_audit_as_the_folder(
    dataset: Path, audit_dir: Path, tmp_path: Path
) -> None:
    rows = [
        (p.relative_to(dataset).as_posix(), p.parent.name) for p in sorted(dataset.rglob("*.png"))
    ]
    manifest = tmp_path / "manifest.csv"
    pd.DataFrame(rows, columns=["path", "label"]).to_csv(manifest, index=False)
    semaudit.scan(dataset, manifest=manifest, out=tmp_path / "audit", backbone="pixels")
    folder = load_audit(audit_dir).classes
    listed = load_audit(tmp_path / "audit").classes
    folder = folder[folder["n"] > 0].reset_index(drop=True)  # a manifest has no empty classes
    pd.testing.assert_frame_equal(folder.drop(columns="weight"), listed.drop(columns="weight"))


def test_curves_end_at_n_for_every_class(audit_dir: Path) -> None:
    audit = load_audit(audit_dir)
    last = audit.curves.groupby("class")["m"].max()
    n = audit.classes.set_index("class")["n"]
    for name, m in last.items():
        assert m == n[name]


def test_calibration_estimates_time_and_disk_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before a long run the scan sends one estimate from the measured rate (issue 11, item 6)."""
    import semaudit.scanner.job as job

    clock = iter([0.0, 1.0, 2.5, 4.0, 5.0])  # batch 1 at t=0 (warm-up excluded), then 16 in 2.5 s
    monkeypatch.setattr(job.time, "perf_counter", lambda: next(clock))
    events: list[tuple[str, object]] = []
    calibrate = job.Calibration(1000, 1000, 512, "float16", lambda k, p: events.append((k, p)))
    for _ in range(5):
        calibrate(8)
    estimates = [p for k, p in events if k == "estimate"]
    assert len(estimates) == 1 and sum(p for k, p in events if k == "embed_progress") == 40
    estimate = estimates[0]
    assert isinstance(estimate, dict)
    assert estimate["seconds"] == pytest.approx((1000 - 24) / (16 / 2.5))  # at 6.4 img/s
    assert estimate["bytes"] == 1000 * (512 * 2 + job.Calibration.ROW_BYTES)


def test_long_scan_prints_its_estimate_short_one_does_not(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from semaudit.cli._progress import ScanProgress

    with ScanProgress() as progress:
        progress("estimate", {"images": 2_000_000, "seconds": 5400.0, "bytes": 2.3e9})
        progress("estimate", {"images": 50, "seconds": 3.0, "bytes": 5e4})
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert lines == ["estimated: 1.5 h to embed 2,000,000 images; about 2 GB of embeddings on disk"]
