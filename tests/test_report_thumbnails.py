"""Typical / atypical thumbnails: pure selection, robust encoding, graceful absence."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from factories import make_audit
from PIL import Image
from report_support import OUTLIER_ROW, add_images_and_embeddings

from semaudit.report.thumbnails import (
    encode_thumbnail,
    load_thumbnails,
    pick_extremes,
    select_thumbnails,
    thumbnail_classes,
    typicality,
)
from semaudit.store import load_audit, write_json


def test_typicality_is_cosine_to_the_class_mean() -> None:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(30, 8)) + 5.0
    labels = np.repeat([0, 1, 2], 10)
    sim = typicality(features * rng.uniform(0.5, 3.0, size=(30, 1)), labels)  # scale-free
    z = features / np.linalg.norm(features, axis=1, keepdims=True)
    for c in range(3):
        mean = z[labels == c].mean(axis=0)
        expected = z[labels == c] @ (mean / np.linalg.norm(mean))
        np.testing.assert_allclose(sim[labels == c], expected, rtol=1e-10)


def test_outlier_is_most_atypical_and_lists_never_overlap() -> None:
    rng = np.random.default_rng(1)
    features = np.vstack([rng.normal(size=(9, 6)) * 0.1 + 1.0, -np.ones((1, 6))])
    labels = np.array(["cat"] * 10)
    picks = select_thumbnails(features, labels, k=3)
    typical, atypical = picks["cat"]
    assert atypical[0] == 9
    assert not set(typical) & set(atypical)
    assert len(typical) <= 6 and len(atypical) <= 6


@pytest.mark.parametrize("n", [1, 2, 3])
def test_tiny_classes(n: int) -> None:
    typical, atypical = pick_extremes(np.linspace(1, 0, n), np.zeros(n, dtype=int), k=3)[0]
    assert len(typical) + len(atypical) == n
    assert typical[0] == 0


def _save(image: Image.Image, path: Path, **kwargs: object) -> Path:
    image.save(path, **kwargs)
    return path


def test_encode_handles_odd_images(tmp_path: Path) -> None:
    rgba = Image.new("RGBA", (300, 200), (255, 0, 0, 0))
    exif = Image.new("RGB", (400, 100), "blue")
    exif_data = exif.getexif()
    exif_data[0x0112] = 6  # rotate 90°: the thumbnail must come out portrait
    cases = {
        "rgba.png": _save(rgba, tmp_path / "rgba.png"),
        "palette.gif": _save(Image.new("P", (50, 50), 3), tmp_path / "palette.gif"),
        "cmyk.jpg": _save(Image.new("CMYK", (64, 64), (0, 50, 50, 0)), tmp_path / "cmyk.jpg"),
        "16bit.png": _save(
            Image.fromarray(np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) * 16),
            tmp_path / "16bit.png",
        ),
        "exif.jpg": _save(exif, tmp_path / "exif.jpg", exif=exif_data),
        "tiny.png": _save(Image.new("L", (28, 28), 200), tmp_path / "tiny.png"),
    }
    for name, path in cases.items():
        jpeg = encode_thumbnail(path, size=80)
        assert jpeg is not None, name
        with Image.open(io.BytesIO(jpeg)) as thumb:
            assert thumb.format == "JPEG" and max(thumb.size) <= 80, name
            if name == "exif.jpg":
                assert thumb.height > thumb.width
            if name == "tiny.png":
                assert thumb.size == (56, 56)  # enlarged ×2, crisp
            if name == "rgba.png":
                assert thumb.getpixel((5, 5)) > (240, 240, 240)  # transparent → white
            if name == "16bit.png":
                low, high = thumb.convert("L").getextrema()
                assert high - low > 200  # stretched, not clipped to white


def test_thumbnails_decode_as_the_scan_does(tmp_path: Path) -> None:
    """One decoder: a dim 16-bit image is not stretched, a 1×400 strip is refused like a bomb."""
    from semaudit.data import load_image

    dim = np.full((64, 64), 4000, dtype=np.uint16)
    dim[:32] = 8000
    path = _save(Image.fromarray(dim), tmp_path / "dim16.png")
    jpeg = encode_thumbnail(path, size=64)
    assert jpeg is not None
    scanned, _ = load_image(path)
    assert scanned is not None
    with Image.open(io.BytesIO(jpeg)) as thumb:
        low, high = thumb.convert("L").getextrema()
    expected_low, expected_high = scanned.convert("L").getextrema()
    assert abs(low - expected_low) <= 3 and abs(high - expected_high) <= 3
    assert high < 60  # 8000 / 65535 of white, as the scan sees it
    strip = _save(Image.new("L", (1, 400), 128), tmp_path / "strip.png")
    assert load_image(strip)[0] is None and encode_thumbnail(strip) is None


def test_encode_returns_none_for_unreadable_files(tmp_path: Path) -> None:
    (tmp_path / "text.jpg").write_text("not an image")
    good = _save(Image.new("RGB", (200, 200), "red"), tmp_path / "good.jpg")
    (tmp_path / "cut.jpg").write_bytes(good.read_bytes()[:200])
    assert encode_thumbnail(tmp_path / "text.jpg") is None
    assert encode_thumbnail(tmp_path / "missing.png") is None
    assert encode_thumbnail(tmp_path / "cut.jpg") is None


@pytest.fixture()
def audit_with_images(tmp_path: Path) -> tuple[Path, Path]:
    names = ["<b>bold</b>", "cat", "dog"]
    audit_dir = make_audit(tmp_path / "audit", counts=[8, 8, 8], names=names)
    data = tmp_path / "data"
    add_images_and_embeddings(audit_dir, data, per_class=8)
    return audit_dir, data


def test_load_thumbnails_picks_the_outlier_as_atypical(
    audit_with_images: tuple[Path, Path],
) -> None:
    audit_dir, _ = audit_with_images
    result = load_thumbnails(load_audit(audit_dir), k=3)
    assert result.note is None
    assert [c.name for c in result.classes] == ["<b>bold</b>", "cat", "dog"]
    for group in result.classes:
        assert len(group.typical) == 3 and len(group.atypical) == 3
        assert group.atypical[0].path.endswith(f"img_{OUTLIER_ROW:02d}.png")
        assert group.typical[0].similarity > group.atypical[0].similarity
        assert all(t.jpeg[:2] == b"\xff\xd8" for t in group.typical + group.atypical)


def test_unreadable_images_are_replaced_by_spares(audit_with_images: tuple[Path, Path]) -> None:
    audit_dir, data = audit_with_images
    first = load_thumbnails(load_audit(audit_dir)).classes[1]
    (data / "cat" / Path(first.typical[0].path).name).write_bytes(b"broken")
    result = load_thumbnails(load_audit(audit_dir))
    cat = result.classes[1]
    assert len(cat.typical) == 3 and first.typical[0].path not in [t.path for t in cat.typical]
    assert result.note is not None and "1 image could not be read" in result.note


def test_moved_dataset_is_explained(audit_with_images: tuple[Path, Path]) -> None:
    audit_dir, data = audit_with_images
    shutil.move(data, data.with_name("elsewhere"))
    result = load_thumbnails(load_audit(audit_dir))
    assert result.classes == []
    assert result.note is not None and "no longer at" in result.note and str(data) in result.note


def test_missing_embeddings_are_explained(audit_with_images: tuple[Path, Path]) -> None:
    audit_dir, _ = audit_with_images
    (audit_dir / "embeddings" / "shard-00001.npy").unlink()
    result = load_thumbnails(load_audit(audit_dir))
    assert result.classes == [] and result.note is not None and "shard" in result.note
    shutil.rmtree(audit_dir / "embeddings")
    result = load_thumbnails(load_audit(audit_dir))
    assert result.note is not None and "index.parquet" in result.note


def test_all_images_unreadable(audit_with_images: tuple[Path, Path]) -> None:
    audit_dir, data = audit_with_images
    for path in data.rglob("*.png"):
        path.write_bytes(b"")
    result = load_thumbnails(load_audit(audit_dir))
    assert result.classes == [] and result.note is not None and "could be read" in result.note


def test_thumbnail_classes_over_the_limit(tmp_path: Path) -> None:
    audit_dir = make_audit(tmp_path, n_classes=30)
    summary = json.loads((audit_dir / "summary.json").read_text())
    summary["rank_disagreement"] = [{"class": "class_029", "count_rank": 1, "scale_rank": 9}]
    write_json(audit_dir / "summary.json", summary)
    audit = load_audit(audit_dir)
    names, note = thumbnail_classes(audit, limit=5)
    assert len(names) == 5 and names == sorted(names)
    assert {"class_000", "class_029"} <= set(names)  # recommended, rank disagreement
    assert note is not None and "5 of 30" in note
    assert thumbnail_classes(audit, limit=30) == (sorted(audit.classes["class"]), None)
