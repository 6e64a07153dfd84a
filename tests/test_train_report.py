"""``semaudit train`` → verdict, evaluation-folder checks, and ``semaudit report RUN`` through the
real CLI, on real Fashion-MNIST images (a fast ``pixels`` audit), the page checked in Chromium."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_support import assert_one_line_error, semaudit_cli
from fmnist import write_image_folder
from PIL import Image
from report_support import chromium, chromium_available

COUNTS = [60, 25, 12, 6]
Compared = tuple[Path, "subprocess.CompletedProcess[str]"]


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("train-report")
    data = write_image_folder(root / "data", COUNTS, seed=0)
    test = write_image_folder(root / "test", [8] * 4, seed=1, split="train")  # other images
    from semaudit.scanner.run import scan

    scan(data, out=root / "audit", backbone="pixels", probe=False)
    return {"root": root, "data": data, "test": test, "audit": root / "audit"}


def _train(s: dict[str, Path], out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return semaudit_cli(
        "train", str(s["data"]), "--audit", str(s["audit"]), "--out", str(out), "--epochs", "3",
        "--warmup-epochs", "1", *args,
    )  # fmt: skip


@pytest.fixture(scope="module")
def comparison(scanned: dict[str, Path]) -> Compared:
    run = scanned["root"] / "cmp"
    result = _train(scanned, run, "--test", str(scanned["test"]), "--compare", "ce,cb,dssb",
                    "--seeds", "2")  # fmt: skip
    return run, result


@pytest.mark.slow
def test_comparison_prints_and_records_a_verdict(comparison: Compared) -> None:
    run, result = comparison
    assert result.returncode == 0, result.stderr
    stdout, stderr = result.stdout, result.stderr
    verdict = json.loads((run / "metrics.json").read_text())["verdict"]
    assert verdict["best"] in {"ce", "cb", "dssb"} and verdict["metric"] == "macro_acc"
    assert verdict["evaluated_on"] == "test"
    assert {"diff", "p", "beyond_noise", "seeds_needed", "seeds"} <= set(verdict["vs_other"])
    assert verdict["vs_other"]["seeds"] == 2
    assert verdict["audit"] is not None and verdict["audit"]["spearman_count_scale"] is not None
    assert "verdict: " in stdout
    assert "has the best macro accuracy on the test split" in stdout
    assert "The audit found" in stdout
    assert stderr.count("dssb feature pool:") == 1  # once per comparison, not per seed
    assert "--compare ran 1 seed" not in stderr


@pytest.mark.slow
def test_report_of_a_comparison_reads_like_the_audits(comparison: Compared, tmp_path: Path) -> None:
    run, _ = comparison
    report = semaudit_cli("report", str(run), "--out", str(tmp_path / "r"))
    assert report.returncode == 0, report.stderr
    page = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    verdict = json.loads((run / "metrics.json").read_text())["verdict"]["text"]
    assert page.index('class="verdict"') < page.index('id="results"')  # verdict first
    assert "Content-Security-Policy" in page and "prefers-color-scheme" in page  # shared page
    for needle in ("Settings and data", str(run.parent / "data"), "Many, medium and few",
                   "more than 100 images", "fewer than 20", 'id="fig-comparison"',
                   "Does accuracy follow counts or scale?", "Pearson r"):  # fmt: skip
        assert needle in page, needle
    md = (tmp_path / "r" / "report.md").read_text(encoding="utf-8")
    assert verdict.split(":")[0] in md and "| dssb | 2 |" in md
    assert (tmp_path / "r" / "figures" / "comparison.png").stat().st_size > 5000


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.skipif(not chromium_available(), reason="headless Chromium is not installed")
def test_run_report_renders_in_chromium(comparison: Compared, tmp_path: Path) -> None:
    run, _ = comparison
    assert semaudit_cli("report", str(run), "--out", str(tmp_path / "r")).returncode == 0
    page = tmp_path / "r" / "report.html"
    dom = chromium("--dump-dom", page.as_uri(), profile=tmp_path / "profile")
    for section in ("verdict", "results", "shots", "correlations", "classes"):
        assert f'id="{section}' in dom.stdout, section
    shot = tmp_path / "shot.png"
    chromium(f"--screenshot={shot}", "--window-size=1280,1600", page.as_uri(),
             profile=tmp_path / "profile")  # fmt: skip
    with Image.open(shot) as image:
        pixels = np.asarray(image.convert("L"))
    assert pixels.std() > 20  # text and figures, not a blank page


@pytest.mark.slow
def test_test_folder_sharing_images_with_data_is_refused(
    scanned: dict[str, Path], tmp_path: Path
) -> None:
    result = _train(scanned, tmp_path / "run", "--test", str(scanned["data"]))
    assert_one_line_error(result, 3, f"{sum(COUNTS)} of the {sum(COUNTS)} images of the --test "
                          "folder", "also in DATA", "--allow-overlap")  # fmt: skip
    ok = _train(scanned, tmp_path / "run2", "--test", str(scanned["data"]), "--allow-overlap")
    assert ok.returncode == 0, ok.stderr
    assert "kept because of --allow-overlap" in ok.stderr
    inputs = json.loads((tmp_path / "run2" / "run.json").read_text())["inputs"]
    assert inputs["overlap"] == {"test_in_data": sum(COUNTS)}


def test_val_and_test_sharing_images_are_refused(scanned: dict[str, Path], tmp_path: Path) -> None:
    mixed = tmp_path / "val"
    shutil.copytree(scanned["test"], mixed)
    result = _train(scanned, tmp_path / "run", "--val", str(mixed), "--test", str(scanned["test"]))
    assert_one_line_error(result, 3, "32 of the 32 images of the --test folder",
                          "also in the --val folder")  # fmt: skip


@pytest.mark.slow
def test_class_missing_from_test_and_a_wrong_test_path(
    scanned: dict[str, Path], tmp_path: Path
) -> None:
    partial = tmp_path / "test"
    shutil.copytree(scanned["test"], partial)
    shutil.rmtree(partial / "dress")
    result = _train(scanned, tmp_path / "run", "--test", str(partial))
    assert_one_line_error(result, 3, "'dress' is missing from the --test folder", "1 class has",
                          "--eval-present-classes")  # fmt: skip
    ok = _train(scanned, tmp_path / "run2", "--test", str(partial), "--eval-present-classes")
    assert ok.returncode == 0, ok.stderr
    assert "1 class has no test images and is left out" in ok.stderr and "dress" in ok.stderr
    metrics = json.loads((tmp_path / "run2" / "metrics.json").read_text())
    assert metrics["classes_left_out"] == ["dress"] and metrics["evaluated_on"] == "test"
    per_class = pd.read_csv(tmp_path / "run2" / "per_class.csv").set_index("class")
    assert per_class["accuracy"].isna().tolist() == [c == "dress" for c in per_class.index]
    assert metrics["macro_acc"] == pytest.approx(per_class["accuracy"].dropna().mean())
    report = semaudit_cli("report", str(tmp_path / "run2"), "--format", "md")
    assert report.returncode == 0, report.stderr
    md = (tmp_path / "run2" / "report" / "report.md").read_text(encoding="utf-8")
    assert "1 class had no evaluation images and is left out of the macro accuracy: dress" in md
    wrong = _train(scanned, tmp_path / "run3", "--test", str(tmp_path / "nope"))
    assert_one_line_error(wrong, 3, "the --test folder", "does not exist")


@pytest.mark.slow
def test_compare_without_seeds_says_how_many_ran(scanned: dict[str, Path], tmp_path: Path) -> None:
    result = _train(scanned, tmp_path / "cmp", "--compare", "ce,dssb", "--seed", "2")
    assert result.returncode == 0, result.stderr
    assert "--compare ran 1 seed per method (seed 2" in result.stderr
    assert "--seeds 3 or more" in result.stderr
    assert result.stderr.count("no --test folder") == 1  # once, not once per method


def test_comparison_legend_sits_outside_the_bars() -> None:
    """The legend's box lies right of the axes: it can cover no bar, whatever the values."""
    from semaudit.report.style import style
    from semaudit.report.training_figures import comparison_figure

    summary = pd.DataFrame(
        {"method": ["ce", "cb", "dssb", "focal+dssb"], "seeds": [2] * 4}
        | {f"{k}_{s}": [1.0, 0.98, 0.95, 1.0] if s == "mean" else [0.0] * 4
           for k in ("macro_acc", "many", "medium", "few") for s in ("mean", "std")}
    )  # fmt: skip
    with style():
        fig = comparison_figure(summary, "ce")
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        (ax,) = fig.axes
        legend = ax.get_legend().get_window_extent(renderer)
        axes = ax.get_window_extent(renderer)
    assert legend.x0 >= axes.x1  # entirely right of the plotting area
    assert legend.x1 <= fig.bbox.x1 + 1  # and still inside the figure
