"""Hugging Face ``datasets`` as input: parquet shards, ``save_to_disk`` folders and ``hf:`` names
in the local hub cache give the same audit as the same images in a class-per-folder tree, and
share its cached embeddings. The datasets are built with the real ``datasets`` library."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from cli_support import assert_one_line_error, semaudit_cli
from fmnist import CLASS_NAMES, write_image_folder

import semaudit
from semaudit.data import Inventory, discover_folder, discover_source, file_hash
from semaudit.errors import InputError

datasets = pytest.importorskip("datasets")

COUNTS = [20, 12, 7]
NAMES = list(CLASS_NAMES[:3])  # ClassLabel order: t-shirt, trouser, pullover (not sorted)


def _rows(folder: Path) -> tuple[list[bytes], list[int]]:
    files = sorted(folder.rglob("*.png"), key=lambda p: p.name)  # classes interleaved
    return [p.read_bytes() for p in files], [NAMES.index(p.parent.name) for p in files]


def _dataset(
    images: list[bytes], labels: Sequence[object], label: Any = None, **more: list[bytes]
) -> Any:
    """An ``Image`` + label dataset; ``label`` is the label feature (default: ClassLabel)."""
    features = {"image": datasets.Image(), "label": label or datasets.ClassLabel(names=NAMES)}
    columns = {"image": [{"bytes": b, "path": None} for b in images], "label": list(labels)}
    for name, values in more.items():
        features[name] = datasets.Image()
        columns[name] = [{"bytes": b, "path": None} for b in values]
    return datasets.Dataset.from_dict(columns, features=datasets.Features(features))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_image_folder(tmp_path_factory.mktemp("hf") / "folder", COUNTS, seed=8)


@pytest.fixture(scope="module")
def forms(folder: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The folder's images as two parquet shards (row groups of 8) and as save_to_disk."""
    root = tmp_path_factory.mktemp("hf")
    ds = _dataset(*_rows(folder))
    (root / "parquet").mkdir()
    for k in range(2):
        part = ds.shard(2, k, contiguous=True)
        part.to_parquet(str(root / "parquet" / f"train-0000{k}-of-00002.parquet"), batch_size=8)
    ds.save_to_disk(str(root / "saved"), num_shards=2)
    return {"parquet": root / "parquet", "saved": root / "saved"}


def _counts(inventory: Inventory) -> dict[str, int]:
    return {str(k): int(n) for k, n in Counter(i.label for i in inventory.items).items()}


def test_parquet_and_saved_datasets_are_indexed_like_the_folder(
    folder: Path, forms: dict[str, Path]
) -> None:
    import pyarrow.parquet as pq

    files = discover_folder(folder)
    hashes = {file_hash(i.abspath) for i in files.items}
    shard = forms["parquet"] / "train-00000-of-00002.parquet"
    assert pq.ParquetFile(shard).num_row_groups > 1  # row groups are read one at a time
    for form in ("parquet", "saved"):
        found = discover_source(forms[form])
        assert found.classes == files.classes and _counts(found) == _counts(files)
        assert {i.digest for i in found.items} == hashes  # the hash of the bytes, as for files
        assert not found.skipped
    first = discover_source(shard).items[:2]
    assert [i.path for i in first] == ["train-00000-of-00002.parquet#0",
                                       "train-00000-of-00002.parquet#1"]  # fmt: skip


def test_a_class_folder_tree_with_a_parquet_file_stays_a_folder(
    folder: Path, tmp_path: Path
) -> None:
    tree = shutil.copytree(folder, tmp_path / "tree")
    pd.DataFrame({"path": ["a.png"], "label": ["x"]}).to_parquet(tree / "manifest.parquet")
    assert discover_source(tree).classes == discover_folder(folder).classes


def test_scans_equal_the_folder_scan_and_share_its_embeddings(
    folder: Path, forms: dict[str, Path], tmp_path: Path
) -> None:
    from_folder = semaudit.scan(folder, out=tmp_path / "folder", backbone="pixels")
    from_parquet = semaudit.scan(forms["parquet"], out=tmp_path / "pq", backbone="pixels")
    assert from_parquet.n_images == from_folder.n_images == sum(COUNTS)
    assert from_parquet.n_embedded == sum(COUNTS) and from_parquet.n_skipped == 0
    a = pd.read_csv(tmp_path / "folder" / "classes.csv").set_index("class")
    b = pd.read_csv(tmp_path / "pq" / "classes.csv").set_index("class")
    assert a.index.tolist() == b.index.tolist() and a["n"].tolist() == b["n"].tolist()
    np.testing.assert_allclose(a["scale"], b["scale"], rtol=1e-6)  # same images, other order
    index = pd.read_parquet(tmp_path / "pq" / "embeddings" / "index.parquet")
    assert index["path"].str.fullmatch(r"train-0000[01]-of-00002\.parquet#\d+").all()
    # another source into the same audit (overwrite: it records one data root): no new embedding
    saved = semaudit.scan(forms["saved"], out=tmp_path / "pq", backbone="pixels", overwrite=True)
    assert saved.n_embedded == 0 and saved.n_reused == sum(COUNTS)  # Arrow rows reuse parquet's
    assert semaudit.load_audit(tmp_path / "pq").meta["source"]["kind"] == "arrow"
    mixed = semaudit.scan(forms["parquet"], out=tmp_path / "folder", backbone="pixels",
                          overwrite=True)  # fmt: skip
    assert mixed.n_embedded == 0  # embeddings cached from the files serve the rows


def test_two_image_columns_need_a_choice_and_the_config_makes_it(
    folder: Path, tmp_path: Path
) -> None:
    images, labels = _rows(folder)
    flipped = images[::-1]
    (tmp_path / "data").mkdir()  # the audit may not lie inside the data's folder
    two = tmp_path / "data" / "two.parquet"
    _dataset(images, labels, thumb=flipped).to_parquet(str(two))
    with pytest.raises(InputError, match=r"several image columns \(image, thumb\).*--image-column"):
        discover_source(two)
    result = semaudit.scan(two, out=tmp_path / "audit", backbone="pixels",
                           image_column="thumb")  # fmt: skip
    assert result.n_images == sum(COUNTS)
    settings = json.loads((tmp_path / "audit" / "audit.json").read_text())["settings"]
    assert settings["image_column"] == "thumb"
    by_env = semaudit_cli("scan", str(two), "--out", str(tmp_path / "b"),
                          "-b", "pixels", "--json", "--quiet", "--no-probe",
                          env={"SEMAUDIT_SCAN_IMAGE_COLUMN": "thumb"})  # fmt: skip
    assert by_env.returncode == 0, by_env.stderr
    wrong = semaudit_cli("scan", str(two), "--image-column", "nope",
                         "--out", str(tmp_path / "c"), "-b", "pixels")  # fmt: skip
    assert_one_line_error(wrong, 3, "--image-column 'nope' is not a column", "image, label, thumb")


def test_string_and_unnamed_integer_labels_name_the_classes(folder: Path, tmp_path: Path) -> None:
    images, labels = _rows(folder)
    text = [NAMES[k] for k in labels]
    string = _dataset(images, text, label=datasets.Value("string"))
    string = string.rename_column("label", "category")
    string.to_parquet(str(tmp_path / "string.parquet"))
    with pytest.raises(InputError, match=r"no ClassLabel column.*--label-column NAME"):
        discover_source(tmp_path / "string.parquet")
    found = discover_source(tmp_path / "string.parquet", label_column="category")
    assert found.classes == sorted(NAMES) and _counts(found) == _counts(discover_folder(folder))
    _dataset(images, labels, label=datasets.Value("int64")).save_to_disk(str(tmp_path / "ints"))
    numbers = discover_source(tmp_path / "ints")  # a column named "label" without names
    assert numbers.classes == ["0", "1", "2"]
    assert _counts(numbers) == {str(k): n for k, n in enumerate(COUNTS)}


def test_bad_rows_are_skipped_with_their_reason(folder: Path, tmp_path: Path) -> None:
    images, labels = _rows(folder)
    images[3] = images[3][: len(images[3]) // 2]  # truncated PNG
    images[5] = b"this is not an image"
    labels[7] = -1  # datasets' mark of an unlabelled row
    (tmp_path / "data").mkdir()
    bad = tmp_path / "data" / "bad.parquet"
    _dataset(images, labels).to_parquet(str(bad), batch_size=8)
    result = semaudit.scan(
        tmp_path / "data" / "bad.parquet", out=tmp_path / "audit", backbone="pixels"
    )
    skipped: dict[str, str] = dict(
        pd.read_csv(tmp_path / "audit" / "skipped.csv").itertuples(index=False)
    )
    assert result.n_images == sum(COUNTS) - 3 and len(skipped) == 3
    assert skipped["bad.parquet#3"].startswith(("truncated", "unreadable"))
    assert skipped["bad.parquet#5"].startswith("not an image")
    assert skipped["bad.parquet#7"].startswith("no class: label -1")


def _hub_repo(cache: Path, name: str, shards: dict[str, Path]) -> Path:
    """The hub cache layout: snapshot files are symlinks into blobs/."""
    repo = cache / f"datasets--{name.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0123abcd")
    (repo / "blobs").mkdir()
    for rel, source in shards.items():
        blob = repo / "blobs" / source.name
        shutil.copy(source, blob)
        link = repo / "snapshots" / "0123abcd" / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    return repo


def test_hub_names_resolve_in_the_local_cache(
    forms: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shard = forms["parquet"] / "train-00000-of-00002.parquet"
    other = forms["parquet"] / "train-00001-of-00002.parquet"
    _hub_repo(tmp_path / "hub", "someone/fmnist", {
        "data/train-00000-of-00001.parquet": shard, "data/test-00000-of-00001.parquet": other,
    })  # fmt: skip
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    train = discover_source("hf:someone/fmnist")  # train by default
    test = discover_source("hf:someone/fmnist@test")
    assert len(train.items) == len(discover_source(shard).items)
    assert len(test.items) == len(discover_source(other).items)
    assert train.items[0].path == "data/train-00000-of-00001.parquet#0"
    with pytest.raises(InputError, match=r"has no split 'validation' \(it has: test, train\)"):
        discover_source("hf:someone/fmnist@validation")
    _hub_repo(tmp_path / "hub", "someone/two-configs", {
        "small/train/0000.parquet": other, "large/train/0000.parquet": shard,
    })  # the layout of the hub's parquet conversion: CONFIG/SPLIT/NNNN.parquet  # fmt: skip
    with pytest.raises(InputError, match=r"several splits \(it has: large/train, small/train\)"):
        discover_source("hf:someone/two-configs")
    small = discover_source("hf:someone/two-configs@small/train")
    assert small.items[0].path == "small/train/0000.parquet#0"
    monkeypatch.delenv("HF_HUB_CACHE")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    missing = semaudit_cli("scan", "hf:someone/fmnist", "--out", str(tmp_path / "a"))
    fix = "hf download --repo-type dataset someone/fmnist"
    assert_one_line_error(missing, 3, str(tmp_path / "home" / "hub"), fix)


def test_saved_dataset_dicts_name_their_splits(forms: dict[str, Path], tmp_path: Path) -> None:
    saved = datasets.load_from_disk(str(forms["saved"]))
    both = datasets.DatasetDict({"train": saved, "test": saved.select(range(10))})
    both.save_to_disk(str(tmp_path / "dict"))
    assert len(discover_source(tmp_path / "dict").items) == sum(COUNTS)
    assert len(discover_source(f"{tmp_path / 'dict'}@test").items) == 10


def test_reading_holds_one_row_group_at_a_time(tmp_path: Path) -> None:
    """40 MB of image bytes in row groups of 100 × 20 kB: Arrow's peak stays near one group."""
    rng = np.random.default_rng(0)
    blobs = [rng.bytes(20_000) for _ in range(2000)]
    ds = _dataset(blobs, [k % 3 for k in range(2000)])
    ds.to_parquet(str(tmp_path / "big.parquet"), batch_size=100)
    code = (
        "import pyarrow as pa, sys; from semaudit.data import discover_source; "
        "inv = discover_source(sys.argv[1]); "
        "print(len(inv.items), pa.default_memory_pool().max_memory())"
    )
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "big.parquet")],
                          capture_output=True, text=True, check=True)  # fmt: skip
    n, peak = map(int, done.stdout.split())
    assert n == 2000 and peak < 10_000_000  # the whole column would be 40 MB


def test_shuffled_reads_stay_within_the_row_group_budget(
    folder: Path, forms: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from semaudit.data.hf import read_row, rows

    items = discover_source(forms["parquet"]).items
    by_hash = {file_hash(i.abspath): i.abspath.read_bytes() for i in discover_folder(folder).items}
    monkeypatch.setattr(rows, "GROUP_CACHE_BYTES", 1)  # keep one row group only
    for i in np.random.default_rng(0).permutation(len(items)):
        assert read_row(items[i]) == by_hash[items[i].digest]
        assert len(rows._GROUPS) == 1


def test_train_reads_the_dataset_its_audit_was_made_from(
    folder: Path, forms: dict[str, Path], tmp_path: Path
) -> None:
    both = tmp_path / "both"  # one folder, two splits: DATA is its train split, --test @test
    both.mkdir()
    _dataset(*_rows(folder)).to_parquet(str(both / "train-00000-of-00001.parquet"))
    unseen = write_image_folder(tmp_path / "unseen", [5, 5, 5], seed=1, offset=300)
    _dataset(*_rows(unseen)).to_parquet(str(both / "test-00000-of-00001.parquet"))
    semaudit.scan(both, out=tmp_path / "audit", backbone="pixels", probe=False)
    run = semaudit_cli("train", str(both), "--audit", str(tmp_path / "audit"),
                       "--out", str(tmp_path / "run"), "--test", f"{both}@test",
                       "--epochs", "2", "--warmup-epochs", "0", "--json")  # fmt: skip
    assert run.returncode == 0, run.stderr
    payload = json.loads(run.stdout)
    assert payload["evaluated_on"] == "test" and payload["n_eval"] == 15
    other = semaudit_cli("train", str(forms["saved"]), "--audit", str(tmp_path / "audit"),
                         "--out", str(tmp_path / "run2"))  # fmt: skip
    assert_one_line_error(other, 3, "was made from other data")  # other ids: other shards


@pytest.mark.slow
def test_train_last_decodes_rows_through_the_scans_dataset(
    forms: dict[str, Path], tmp_path: Path
) -> None:
    semaudit.scan(forms["saved"], out=tmp_path / "audit", backbone="efficientnet-lite0",
                  probe=False)  # fmt: skip
    run = semaudit_cli("train", str(forms["saved"]), "--audit", str(tmp_path / "audit"),
                       "--out", str(tmp_path / "run"), "--finetune", "last", "--epochs", "1",
                       "--warmup-epochs", "0", "--batch-size", "8", "--workers", "0",
                       "--device", "cpu", "--json")  # fmt: skip
    assert run.returncode == 0, run.stderr


@pytest.mark.slow
def test_interrupted_parquet_scan_resumes(tmp_path: Path) -> None:
    from test_interrupt import N_IMAGES, _scan_until, _stored_rows

    folder = write_image_folder(tmp_path / "folder", [N_IMAGES // 3] * 3, seed=4)
    images, labels = _rows(folder)
    data = tmp_path / "hf" / "train.parquet"  # the audit may not lie inside the data's folder
    data.parent.mkdir()
    _dataset(images, labels).to_parquet(str(data), batch_size=32)
    out = tmp_path / "audit"
    code, stderr = _scan_until(data, out, signal.SIGINT, after=16)
    assert code == 130 and "rerun the same command to resume" in stderr, stderr
    kept = _stored_rows(out)
    assert 16 <= kept < N_IMAGES and kept % 8 == 0
    rerun = semaudit_cli("scan", str(data), "--out", str(out), "-b",
                         "efficientnet-lite0", "--json", "--quiet",
                         env={"SEMAUDIT_SCAN_BATCH_SIZE": "8"})  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr
    result = json.loads(rerun.stdout)
    assert result["reused"] == kept and result["embedded"] == N_IMAGES - kept


@pytest.mark.slow
def test_two_torchrun_processes_equal_one_on_parquet(
    forms: dict[str, Path], tmp_path: Path
) -> None:
    from test_distributed import _single, _torchrun, assert_same_result

    one, two = tmp_path / "one", tmp_path / "two"
    assert _single(str(forms["parquet"]), "--out", str(one), "-b", "pixels").returncode == 0
    job = _torchrun(str(forms["parquet"]), "--out", str(two), "--backbone", "pixels", "--json")
    assert job.returncode == 0, job.stderr
    assert json.loads(job.stdout)["embedded"] == sum(COUNTS)
    assert_same_result(one, two)
