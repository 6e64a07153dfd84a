"""The baseline gate on a real two-version dataset (Fashion-MNIST, Debian package).

Version 2 keeps 6 of the 40 pullovers of version 1 and every other image. The second scan
starts from a copy of the first audit, as a CI job restoring its embedding cache would.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from fmnist import CLASS_NAMES, write_image_folder

import semaudit
from semaudit.cli import main

PER_CLASS = 40
CUT_CLASS = 2  # pullover
KEPT = 6
Run = Callable[..., tuple[int, str]]


@pytest.fixture(
    scope="module",
    params=["pixels", pytest.param("efficientnet-lite0", marks=pytest.mark.slow)],
)
def versions(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """(audit of v1, audit of v2) scanned with one backbone."""
    backbone = request.param
    root = tmp_path_factory.mktemp(f"fmnist-{backbone}")
    v1 = write_image_folder(root / "v1", dict.fromkeys(range(4), PER_CLASS), seed=7)
    v2 = write_image_folder(root / "v2", {**dict.fromkeys(range(4), PER_CLASS), CUT_CLASS: KEPT},
                            seed=7)  # fmt: skip
    semaudit.scan(v1, out=root / "a1", backbone=backbone)
    shutil.copytree(root / "a1", root / "a2")  # the embedding cache kept between CI runs
    # another data folder into a kept audit: --overwrite says so (docs/decisions.md)
    second = semaudit.scan(v2, out=root / "a2", backbone=backbone, overwrite=True)
    assert second.n_embedded == 0 and second.n_reused == 3 * PER_CLASS + KEPT
    return root / "a1", root / "a2"


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Run:
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)

    def run(*args: str | Path) -> tuple[int, str]:
        code = main([str(a) for a in args])
        return code, capsys.readouterr().out

    return run


def test_baseline_gate_fails_and_names_the_cut_class(versions: tuple[Path, Path], cli: Run) -> None:
    old, new = versions
    code, out = cli("check", new, "--baseline", old, "--max-scale-drop", "0.1",
                    "--max-count-drop", "0.5", "--max-classes-removed", "0", "--json")  # fmt: skip
    assert code == 1
    doc = json.loads(out)
    failed = {(r["rule"], r["class"]) for r in doc["results"] if r["status"] == "FAIL"}
    pullover = CLASS_NAMES[CUT_CLASS]
    assert failed == {("max_scale_drop", pullover), ("max_count_drop", pullover)}
    drop = next(
        r for r in doc["results"] if r["rule"] == "max_scale_drop" and r["class"] == pullover
    )
    assert drop["value"] > 0.3 and "bits" in drop["detail"]


def test_same_version_passes_the_baseline_gate(versions: tuple[Path, Path], cli: Run) -> None:
    old, _ = versions
    code, out = cli("check", old, "--baseline", old, "--max-scale-drop", "0.0", "--json")
    assert code == 0 and json.loads(out)["counts"]["PASS"] == 4


def test_compare_puts_the_cut_class_first(versions: tuple[Path, Path], cli: Run) -> None:
    old, new = versions
    code, out = cli("compare", old, new, "--json")
    assert code == 0
    first = json.loads(out)["classes"][0]
    assert first["class"] == CLASS_NAMES[CUT_CLASS]
    assert first["n"]["old"] == PER_CLASS and first["n"]["new"] == KEPT
    assert first["scale"]["relative"] < -0.3
