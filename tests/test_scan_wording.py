"""What a scan says, through the real CLI: a screenful of classes, recommendations grouped by
finding and typed in summary.json, no "narrow" claim inside the noise, quoted class names,
"1 class", one OpenCLIP notice per cache state, and a broken torch install named as such."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np
import pytest
from cli_support import assert_one_line_error, semaudit_cli
from PIL import Image

FAST = ("-b", "pixels", "--no-probe", "-q")


def _write(
    folder: Path, n: int, rng: np.random.Generator, spread: float = 60.0, base: int | None = None
) -> None:
    """``n`` tiny PNGs of noise around one colour (random unless ``base``)."""
    folder.mkdir(parents=True, exist_ok=True)
    base = rng.integers(0, 255, (1, 1, 3)) if base is None else np.full((1, 1, 3), base)
    for i in range(n):
        pixels = np.clip(base + rng.normal(0, spread, (8, 8, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"{i}.png")


@pytest.mark.slow  # 15,000 images in 1,000 classes: about 75 s on two shared cores
def test_a_thousand_classes_fit_a_screen_and_say_different_things(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for c in range(1000):
        n = 4 if c >= 948 else int(rng.integers(8, 24))
        _write(tmp_path / "data" / f"class-{c:04d}", n, rng, 40.0 + c % 7 * 10)
    started = time.perf_counter()
    scan = semaudit_cli("scan", "data", "--out", "audit", *FAST, cwd=tmp_path,
                        env={"COLUMNS": "100"})  # fmt: skip
    scan_s = time.perf_counter() - started
    assert scan.returncode == 0, scan.stderr
    table, _, recs = scan.stdout.partition("recommendations\n")
    assert len(scan.stdout.splitlines()) < 40  # was 1,014 lines: one per class
    assert "… 980 more; full table in audit/classes.csv" in table
    assert sum(1 for line in table.splitlines() if line.startswith("class-")) == 20
    lines = [line for line in recs.splitlines() if re.match(r"\s+\d+\. ", line)]
    assert "52 classes have only 4 images each: 'class-0948', 'class-0949'" in lines[0]
    assert "'class-0999'" in lines[0]
    summary = json.loads((tmp_path / "audit" / "summary.json").read_text())
    kinds = [rec["kind"] for rec in summary["recommendations"]]
    assert len(kinds) == len(set(kinds)) == len(lines)  # each line a different finding
    assert all(rec["text"] and rec["classes"] for rec in summary["recommendations"])
    few = summary["recommendations"][0]
    assert few["kind"] == "few_images" and len(few["classes"]) == 52
    # the first screen shows the weakest class of each finding, not 20 copies of one
    shown = {line.split()[0] for line in table.splitlines() if line.startswith("class-")}
    for rec in summary["recommendations"]:
        assert (rec["classes"][0] in shown) is (rec["kind"] != "saturated")
    started = time.perf_counter()
    report = semaudit_cli("report", "audit", "--format", "md", cwd=tmp_path)
    report_s = time.perf_counter() - started
    assert report.returncode == 0, report.stderr
    print(f"\n1,000 classes, {15_000:,}± images: scan {scan_s:.1f} s, report (md) {report_s:.1f} s")


@pytest.mark.slow  # two scans: ~30 s on two shared cores
def test_narrow_by_meaning_only_beyond_the_noise_and_names_are_quoted(tmp_path: Path) -> None:
    """Classes drawn from one distribution differ only by noise: no class is called narrow
    (before, the bottom quarter always was); a truly narrow class is. Numeric names are quoted."""
    rng = np.random.default_rng(1)
    for c in range(8):
        _write(tmp_path / "alike" / str(c), 20 + 2 * c, rng, base=128)
    alike = semaudit_cli("scan", "alike", "--out", "a", *FAST, cwd=tmp_path)
    assert alike.returncode == 0, alike.stderr
    assert "narrow by meaning" not in alike.stdout
    _write(tmp_path / "alike" / "9", 30, rng, spread=8.0, base=128)  # far less variety
    narrow = semaudit_cli("scan", "alike", "--out", "a", *FAST, cwd=tmp_path)
    assert narrow.returncode == 0, narrow.stderr
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    (rec,) = [r for r in summary["recommendations"] if r["kind"] == "narrow_by_scale"]
    assert rec["classes"] == ["9"] and rec["text"].startswith("class '9' has")
    assert rec["median_scale"] - rec["scale"] > rec["scale_std"]
    assert " ± " in rec["text"] and "balanced by count, narrow by meaning" in rec["text"]


@pytest.mark.slow  # a scan and a report: ~25 s
def test_one_class_is_said_in_the_singular(tmp_path: Path) -> None:
    _write(tmp_path / "one" / "9", 12, np.random.default_rng(2))
    scan = semaudit_cli("scan", "one", "--out", "a", *FAST, cwd=tmp_path)
    assert scan.returncode == 0, scan.stderr
    assert "12 images in 1 class," in scan.stdout and "class '9' (12 images)" in scan.stdout
    report = semaudit_cli("report", "a", "--format", "md", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    text = (tmp_path / "a" / "report" / "report.md").read_text()
    assert "1 classes" not in text and "The audit has 1 class," in text


@pytest.mark.slow  # two scans with the bundled CNN: ~50 s
def test_openclip_not_cached_notice_is_one_line_once_per_cache_state(tmp_path: Path) -> None:
    _write(tmp_path / "d" / "a", 6, np.random.default_rng(3))
    _write(tmp_path / "d" / "b", 6, np.random.default_rng(4))
    env = {"SEMAUDIT_CACHE_DIR": str(tmp_path / "cache"), "HF_HOME": str(tmp_path / "hf")}
    args = ("scan", "d", "--out", "a", "-b", "auto", "--no-probe", "-q")
    first = semaudit_cli(*args, cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    notices = [line for line in first.stderr.splitlines() if "OpenCLIP" in line]
    assert len(notices) == 1 and notices[0].startswith("warning: ")
    second = semaudit_cli(*args, cwd=tmp_path, env=env)
    assert second.returncode == 0 and "OpenCLIP" not in second.stderr


_BROKEN_TORCHVISION = """
import sys


class _Mismatch:  # what a torchvision built for another torch raises on import
    def find_spec(self, name, path=None, target=None):
        if name == "torchvision" or name.startswith("torchvision."):
            raise RuntimeError("operator torchvision::nms does not exist")
        return None


sys.meta_path.insert(0, _Mismatch())
"""


@pytest.mark.parametrize("command", [("demo", "-q"), ("models",)])
def test_a_torch_torchvision_mismatch_is_named_not_blamed_on_semaudit(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    from importlib import metadata

    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(_BROKEN_TORCHVISION)
    work = tmp_path / "work"
    work.mkdir()
    result = semaudit_cli(*command, cwd=work, env={"PYTHONPATH": str(shim)})
    assert_one_line_error(
        result, 3, "torchvision::nms", f"torchvision {metadata.version('torchvision')}",
        "pip install", "matching pair",
    )  # fmt: skip
    assert "internal error" not in result.stderr
    assert list(work.iterdir()) == []  # demo removed the semaudit-demo/ it had created
