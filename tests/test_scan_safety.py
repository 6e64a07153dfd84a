"""A scan never destroys work: not another dataset's audit, not the data, not a data folder;
and the commands semaudit suggests are safe to paste (docs/decisions.md)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import numpy as np
import pytest
from cli_support import assert_one_line_error, semaudit_cli
from PIL import Image

FAST = ("-b", "pixels", "--no-probe", "-q")


def _folder(root: Path, classes: dict[str, int], seed: int = 0) -> Path:
    """A class-per-folder tree of tiny random PNGs."""
    rng = np.random.default_rng(seed)
    for name, n in classes.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            pixels = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


@pytest.mark.slow  # four scans, ~40 s on two shared cores
def test_scan_refuses_to_replace_an_audit_of_other_data(tmp_path: Path) -> None:
    train = _folder(tmp_path / "data" / "train", {"cat": 8, "dog": 8})
    test = _folder(tmp_path / "data" / "test", {"cat": 6, "dog": 6}, seed=1)
    assert semaudit_cli("scan", str(train), "--out", "audit", *FAST, cwd=tmp_path).returncode == 0
    before = (tmp_path / "audit" / "audit.json").read_bytes()
    refused = semaudit_cli("scan", str(test), "--out", "audit", *FAST, cwd=tmp_path)
    assert_one_line_error(refused, 3, "holds an audit of other data", "--overwrite", "test-audit")
    assert (tmp_path / "audit" / "audit.json").read_bytes() == before  # untouched
    # the same data again is a normal rescan (cache reused); --overwrite replaces on purpose
    again = semaudit_cli("scan", str(train), "--out", "audit", *FAST, cwd=tmp_path)
    assert again.returncode == 0 and "0 embedded, 16 reused" in again.stdout
    forced = semaudit_cli("scan", str(test), "--out", "audit", "--overwrite", *FAST, cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    source = json.loads((tmp_path / "audit" / "audit.json").read_text())["source"]
    assert source["root"] == str(test.resolve())


def test_scan_refuses_an_out_inside_the_data_or_holding_images(tmp_path: Path) -> None:
    data = _folder(tmp_path / "data", {"cat": 6, "dog": 6})
    inside = semaudit_cli("scan", "data", "--out", "data/audit", *FAST, cwd=tmp_path)
    assert_one_line_error(inside, 3, "lies inside the data it scans", "--out data-audit")
    assert not (data / "audit").exists()
    other = _folder(tmp_path / "other", {"bird": 3})
    onto = semaudit_cli("scan", "data", "--out", "other", *FAST, cwd=tmp_path)
    assert_one_line_error(onto, 3, "holds class folders of images")
    assert sorted(p.name for p in other.iterdir()) == ["bird"]


@pytest.mark.slow  # two scans and a refused train, ~40 s
def test_train_suggests_a_new_audit_and_the_suggestion_is_safe(tmp_path: Path) -> None:
    """`train data/test --audit audit` (audit of data/train) suggests a command; pasting it
    leaves the training audit as it was."""
    train = _folder(tmp_path / "data" / "train", {"cat": 8, "dog": 8})
    _folder(tmp_path / "data" / "test", {"cat": 6, "dog": 5, "eel": 5}, seed=1)
    assert semaudit_cli("scan", str(train), "--out", "audit", *FAST, cwd=tmp_path).returncode == 0
    before = (tmp_path / "audit" / "audit.json").read_bytes()
    refused = semaudit_cli("train", "data/test", "--audit", "audit", "--out", "run", cwd=tmp_path)
    assert refused.returncode == 3, refused.stderr
    suggested = refused.stderr.split("`")[1]
    assert suggested.startswith("semaudit scan ") and "--out audit" not in suggested
    pasted = semaudit_cli(*shlex.split(suggested)[1:], *FAST, cwd=tmp_path)
    assert pasted.returncode == 0, pasted.stderr
    assert (tmp_path / "audit" / "audit.json").read_bytes() == before
    assert (tmp_path / "data" / "test-audit" / "audit.json").is_file()
