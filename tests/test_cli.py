"""The command line: exit codes, one-line errors without tracebacks, config precedence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import assert_one_line_error, semaudit_cli
from fmnist import write_image_folder


@pytest.fixture(scope="module")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_image_folder(tmp_path_factory.mktemp("data"), [12, 8], seed=5)


def test_scan_json_output_and_exit_0(small_data: Path, tmp_path: Path) -> None:
    result = semaudit_cli("scan", str(small_data), "--out", str(tmp_path), "-b", "pixels", "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["images"] == 20 and payload["classes"] == 2
    assert payload["summary"]["n_eligible"] == 2


def test_scan_table_output_lists_classes_and_recommendations(
    small_data: Path, tmp_path: Path
) -> None:
    result = semaudit_cli("scan", str(small_data), "--out", str(tmp_path), "-b", "pixels")
    assert result.returncode == 0, result.stderr
    assert "t-shirt" in result.stdout and "trouser" in result.stdout
    assert "Audit written to" in result.stdout


def test_folder_without_images_exits_3_naming_where_and_extensions(tmp_path: Path) -> None:
    (tmp_path / "cats").mkdir()
    (tmp_path / "cats" / "notes.txt").write_text("no images here")
    result = semaudit_cli("scan", str(tmp_path), "--out", str(tmp_path / "audit"), "-b", "pixels")
    assert_one_line_error(result, 3, str(tmp_path), ".jpg", ".png")


def test_missing_folder_exits_3(tmp_path: Path) -> None:
    result = semaudit_cli("scan", str(tmp_path / "nope"), "--out", str(tmp_path / "a"))
    assert_one_line_error(result, 3, "does not exist")


def test_bad_option_value_exits_2(small_data: Path) -> None:
    result = semaudit_cli("scan", str(small_data), "--alpha", "wide")
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_out_of_range_setting_exits_2(small_data: Path, tmp_path: Path) -> None:
    result = semaudit_cli(
        "scan", str(small_data), "--out", str(tmp_path), "--target-saturation", "1.5"
    )
    assert_one_line_error(result, 2, "target_saturation")


def test_unknown_backbone_exits_3_listing_the_known_ones(small_data: Path, tmp_path: Path) -> None:
    result = semaudit_cli("scan", str(small_data), "--out", str(tmp_path), "-b", "resnet9000")
    assert_one_line_error(result, 3, "resnet9000", "efficientnet-lite0", "openclip:MODEL/TAG")


def test_openclip_weights_missing_offline_exits_3_naming_both_fixes(
    small_data: Path, tmp_path: Path
) -> None:
    result = semaudit_cli(
        "scan",
        str(small_data),
        "--out",
        str(tmp_path),
        "-b",
        "openclip:ViT-B-32/openai",
        env={"HF_HUB_CACHE": str(tmp_path / "empty-cache")},
    )
    assert_one_line_error(result, 3, "--weights", "efficientnet-lite0")


def test_missing_weights_file_exits_3(small_data: Path, tmp_path: Path) -> None:
    result = semaudit_cli(
        "scan",
        str(small_data),
        "--out",
        str(tmp_path),
        "--weights",
        "nope.pt",
        "-b",
        "efficientnet-lite0",
    )
    assert_one_line_error(result, 3, "nope.pt")


def test_config_file_then_env_then_flag_precedence(small_data: Path, tmp_path: Path) -> None:
    (tmp_path / "semaudit.toml").write_text(
        "[scan]\nbackbone = 'pixels'\nmin_images = 10\ndraws = 3\n"
    )
    (tmp_path / ".git").mkdir()
    out = tmp_path / "audit"
    result = semaudit_cli(
        "scan",
        str(small_data),
        "--out",
        str(out),
        "--draws",
        "4",
        cwd=tmp_path,
        env={"SEMAUDIT_SCAN_MIN_IMAGES": "9"},
    )
    assert result.returncode == 0, result.stderr
    settings = json.loads((out / "audit.json").read_text())["settings"]
    assert (settings["min_images"], settings["draws"]) == (9, 4)
    assert json.loads((out / "audit.json").read_text())["backbone"]["id"] == "pixels"


def test_unknown_config_key_exits_3_naming_it(small_data: Path, tmp_path: Path) -> None:
    (tmp_path / "semaudit.toml").write_text("[scan]\nbackbone = 'pixels'\nmin_imgs = 3\n")
    (tmp_path / ".git").mkdir()
    result = semaudit_cli("scan", str(small_data), "--out", str(tmp_path / "a"), cwd=tmp_path)
    assert_one_line_error(result, 3, "scan.min_imgs", "semaudit.toml")


def test_models_lists_the_bundled_backbone_with_weights_present() -> None:
    result = semaudit_cli("models", "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["id"]: row for row in json.loads(result.stdout)}
    assert rows["efficientnet-lite0"]["weights_present"] is True
    assert rows["efficientnet-lite0"]["dim"] == 1280
    assert "openclip:ViT-B-32/laion2b_s34b_b79k" in rows


def test_auto_backbone_offline_falls_back_with_one_warning(
    small_data: Path, tmp_path: Path
) -> None:
    result = semaudit_cli(
        "scan",
        str(small_data),
        "--out",
        str(tmp_path),
        "--no-probe",
        env={"HF_HUB_CACHE": str(tmp_path / "empty-cache")},
    )
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "efficientnet-lite0" in warnings[0]
    assert (
        json.loads((tmp_path / "audit.json").read_text())["backbone"]["id"] == "efficientnet-lite0"
    )
