"""Input at scale: WebDataset ``.tar`` shards give the same audit as the same images in a folder;
every extension torchvision's ``ImageFolder`` reads is read here, with the same classes/counts."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fmnist import write_image_folder
from PIL import Image

import semaudit
from semaudit.data import discover_folder
from semaudit.data.tar import discover_tars, is_tar_input
from semaudit.errors import AuditError

COUNTS = [20, 12, 7]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_image_folder(tmp_path_factory.mktemp("tar") / "folder", COUNTS, seed=8)


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


@pytest.fixture(scope="module")
def shards(folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same images as two shards: one labelled by ``<key>.cls``, one by class folders."""
    root = tmp_path_factory.mktemp("tar") / "shards"
    root.mkdir()
    files = sorted(p for p in folder.rglob("*.png"))
    with tarfile.open(root / "part-000.tar", "w") as tar:
        for k, path in enumerate(files[::2]):
            _add(tar, f"{k:06d}.png", path.read_bytes())
            _add(tar, f"{k:06d}.cls", path.parent.name.encode())
    with tarfile.open(root / "part-001.tar", "w") as tar:
        for path in files[1::2]:
            _add(tar, f"{path.parent.name}/{path.stem}.png", path.read_bytes())
            _add(tar, f"{path.parent.name}/{path.stem}.json", b"{}")  # ignored sidecar
    return root


def test_shards_are_indexed_like_the_folder(folder: Path, shards: Path) -> None:
    assert is_tar_input(shards) and is_tar_input(shards / "part-000.tar")
    assert not is_tar_input(folder)
    tars, files = discover_tars(shards), discover_folder(folder)
    assert tars.classes == files.classes
    assert pd.Series([i.label for i in tars.items]).value_counts().sort_index().tolist() == (
        pd.Series([i.label for i in files.items]).value_counts().sort_index().tolist()
    )
    assert all(i.offset > 0 and i.abspath.suffix == ".tar" for i in tars.items)


def test_tar_scan_equals_folder_scan_and_shares_its_cache(
    folder: Path, shards: Path, tmp_path: Path
) -> None:
    from_folder = semaudit.scan(folder, out=tmp_path / "folder", backbone="pixels")
    from_tars = semaudit.scan(shards, out=tmp_path / "tars", backbone="pixels")
    assert from_tars.n_images == from_folder.n_images == sum(COUNTS)
    a = pd.read_csv(tmp_path / "folder" / "classes.csv").set_index("class")
    b = pd.read_csv(tmp_path / "tars" / "classes.csv").set_index("class")
    assert a["n"].tolist() == b["n"].tolist()
    # the same images in another order (the sum of log-dets is order-free up to rounding)
    np.testing.assert_allclose(a["scale"], b["scale"], rtol=1e-6)
    hashes_a = set(pd.read_parquet(tmp_path / "folder" / "embeddings" / "index.parquet")["hash"])
    hashes_b = set(pd.read_parquet(tmp_path / "tars" / "embeddings" / "index.parquet")["hash"])
    assert hashes_a == hashes_b  # the content hash of a member is the hash of its bytes
    kinds = [semaudit.load_audit(tmp_path / f).meta["source"]["kind"] for f in ("folder", "tars")]
    assert kinds == ["folder", "tar"]
    again = semaudit.scan(shards, out=tmp_path / "tars", backbone="pixels")
    assert again.n_embedded == 0 and again.n_reused == sum(COUNTS)  # resume from shards
    with pytest.raises(AuditError, match="--overwrite"):  # another data root: not silently
        semaudit.scan(shards, out=tmp_path / "folder", backbone="pixels")
    mixed = semaudit.scan(shards, out=tmp_path / "folder", backbone="pixels", overwrite=True)
    assert mixed.n_embedded == 0  # embeddings cached from the folder serve the shards


def test_bad_members_are_skipped_with_a_reason(folder: Path, tmp_path: Path) -> None:
    png = next(folder.rglob("*.png")).read_bytes()
    with tarfile.open(tmp_path / "one.tar", "w") as tar:
        _add(tar, "a/good.png", png)
        _add(tar, "a/broken.png", png[: len(png) // 2])
        _add(tar, "nolabel.png", png)
        _add(tar, "b/also-good.png", png)
    result = semaudit.scan(tmp_path / "one.tar", out=tmp_path / "audit", backbone="pixels")
    skipped = dict(pd.read_csv(tmp_path / "audit" / "skipped.csv").itertuples(index=False))
    assert result.n_images == 2
    assert skipped["one.tar/a/broken.png"].startswith(("truncated", "unreadable"))
    assert "no class" in skipped["one.tar/nolabel.png"]


def test_every_imagefolder_extension_gives_imagefolders_classes_and_counts(
    folder: Path, tmp_path: Path
) -> None:
    from torchvision.datasets import ImageFolder
    from torchvision.datasets.folder import IMG_EXTENSIONS

    root = tmp_path / "mixed"
    sources = sorted(folder.rglob("*.png"))
    for k, path in enumerate(sources):
        ext = IMG_EXTENSIONS[k % len(IMG_EXTENSIONS)]
        target = root / path.parent.name / f"{path.stem}{ext}"
        target.parent.mkdir(parents=True, exist_ok=True)
        with Image.open(path) as image:
            image.convert("RGB" if ext in (".ppm", ".jpg", ".jpeg") else "L").save(target)
    reference = ImageFolder(root)
    ours = discover_folder(root)
    assert ours.classes == reference.classes
    assert len(ours.items) == len(reference.samples) == len(sources)
    theirs = pd.Series([reference.classes[c] for _, c in reference.samples]).value_counts()
    mine = pd.Series([i.label for i in ours.items]).value_counts()
    assert theirs.sort_index().equals(mine.sort_index())
    result = semaudit.scan(root, out=tmp_path / "audit", backbone="pixels")
    assert result.n_images == len(sources) and result.n_skipped == 0  # every one decodes
