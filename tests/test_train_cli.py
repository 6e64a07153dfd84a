"""``semaudit train`` through the real CLI: a small run, a comparison, and bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from cli_support import assert_one_line_error, semaudit_cli
from fmnist import write_image_folder

COUNTS = [40, 25, 12, 6]


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real Fashion-MNIST images (4 long-tailed classes), a test folder, a fast pixels audit."""
    root = tmp_path_factory.mktemp("train")
    data = write_image_folder(root / "data", COUNTS, seed=0)
    test = write_image_folder(root / "test", [10] * 4, seed=1, split="train")  # disjoint
    audit = root / "audit"
    from semaudit.scanner.run import scan

    scan(data, out=audit, backbone="pixels", probe=False)
    return {"root": root, "data": data, "test": test, "audit": audit}


def test_train_head_dssb_writes_a_run(scanned: dict[str, Path], tmp_path: Path) -> None:
    run = tmp_path / "run"
    result = semaudit_cli(
        "train",
        str(scanned["data"]),
        "--audit",
        str(scanned["audit"]),
        "--out",
        str(run),
        "--test",
        str(scanned["test"]),
        "--val-fraction",
        "0.2",
        "--weighting",
        "dssb",
        "--epochs",
        "4",
        "--warmup-epochs",
        "1",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    assert "dssb feature pool:" in result.stderr and "MiB" in result.stderr
    payload = json.loads(result.stdout)
    assert payload["method"] == "dssb" and payload["evaluated_on"] == "test"
    assert payload["selection"] == "val" and payload["n_eval"] == 40
    assert 0.25 < payload["macro_acc"] <= 1.0  # 4 classes: chance is 0.25
    per_class = pd.read_csv(run / "per_class.csv")
    assert sorted(per_class["class"]) == ["dress", "pullover", "t-shirt", "trouser"]
    assert per_class.set_index("class")["n_train"].to_dict() == {
        "t-shirt": 32,
        "trouser": 20,
        "pullover": 10,
        "dress": 5,
    }  # DATA minus the stratified 20 % validation share (round(0.2 n), at least 1)
    assert (run / "curves.png").stat().st_size > 1000
    report = semaudit_cli("report", str(run))
    assert report.returncode == 0, report.stderr
    assert (run / "report" / "report.md").is_file()
    text = (run / "report" / "report.md").read_text(encoding="utf-8")
    assert "dssb" in text and "macro" in text


def test_compare_runs_every_method_and_seed(scanned: dict[str, Path], tmp_path: Path) -> None:
    run = tmp_path / "cmp"
    result = semaudit_cli(
        "train",
        str(scanned["data"]),
        "--audit",
        str(scanned["audit"]),
        "--out",
        str(run),
        "--compare",
        "ce,focal+dssb",
        "--seeds",
        "2",
        "--epochs",
        "2",
    )
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(run / "comparison.csv")
    assert table[["method", "seed"]].values.tolist() == [
        ["ce", 0],
        ["ce", 1],
        ["focal+dssb", 0],
        ["focal+dssb", 1],
    ]
    assert {"macro_acc", "many", "medium", "few"} <= set(table.columns)
    assert (run / "comparison.png").is_file()
    assert "focal+dssb" in result.stdout
    report = semaudit_cli("report", str(run), "--format", "md")
    assert report.returncode == 0, report.stderr
    text = (run / "report" / "report.md").read_text(encoding="utf-8")
    assert "| focal+dssb | 2 |" in text


def test_no_audit_is_a_one_line_error(scanned: dict[str, Path], tmp_path: Path) -> None:
    result = semaudit_cli(
        "train",
        str(scanned["data"]),
        "--audit",
        str(tmp_path / "nope"),
        "--out",
        str(tmp_path / "run"),
    )
    assert_one_line_error(result, 3, "no audit directory", "semaudit scan")


def test_audit_of_other_data_is_refused(scanned: dict[str, Path], tmp_path: Path) -> None:
    other = write_image_folder(tmp_path / "other", COUNTS[:3], seed=5)  # one class fewer
    result = semaudit_cli(
        "train", str(other), "--audit", str(scanned["audit"]), "--out", str(tmp_path / "run")
    )
    assert_one_line_error(result, 3, "was made from other data", "only in the audit: dress")
    same_classes = write_image_folder(tmp_path / "same", COUNTS, seed=7)  # other images
    result = semaudit_cli(
        "train", str(same_classes), "--audit", str(scanned["audit"]), "--out", str(tmp_path / "run")
    )
    assert_one_line_error(result, 3, "was made from other data", "then pass --audit")


def test_images_changed_since_the_audit_are_refused(
    scanned: dict[str, Path], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(scanned["data"], data)
    first = sorted((data / "dress").iterdir())[0]
    first.write_bytes(first.read_bytes() + b"\0" * 16)  # same path, other content and size
    result = semaudit_cli(
        "train", str(data), "--audit", str(scanned["audit"]), "--out", str(tmp_path / "run")
    )
    assert_one_line_error(result, 3, "1 of the images under", "changed since audit", first.name)


def test_class_missing_from_validation_folder(scanned: dict[str, Path], tmp_path: Path) -> None:
    val = tmp_path / "val"
    shutil.copytree(scanned["test"], val)
    shutil.rmtree(val / "dress")
    result = semaudit_cli(
        "train",
        str(scanned["data"]),
        "--audit",
        str(scanned["audit"]),
        "--out",
        str(tmp_path / "run"),
        "--val",
        str(val),
    )
    assert_one_line_error(
        result, 3, "class 'dress' is missing from the --val folder", "1 class has"
    )


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--compare", "ce,dsbb"], "unknown training method 'dsbb'"),
        (["--weighting", "dynamic"], "train setting weighting must be"),
        (["--seeds", "3"], "--seeds needs --compare"),
    ],
)
def test_usage_errors(
    scanned: dict[str, Path], tmp_path: Path, args: list[str], needle: str
) -> None:
    result = semaudit_cli(
        "train",
        str(scanned["data"]),
        "--audit",
        str(scanned["audit"]),
        "--out",
        str(tmp_path / "run"),
        *args,
    )
    assert_one_line_error(result, 2, needle)


@pytest.mark.slow
def test_torchrun_two_gloo_processes(scanned: dict[str, Path], tmp_path: Path) -> None:
    """DDP: two CPU ranks (gloo) share each epoch; the dssb pool is merged across ranks (it is
    only full, and dssb only refreshes, once rows of both ranks are gathered)."""
    import os
    import subprocess
    import sys

    run = tmp_path / "ddp"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "-m",
        "semaudit",
        "train",
        str(scanned["data"]),
        "--audit",
        str(scanned["audit"]),
        "--out",
        str(run),
        "--weighting",
        "dssb",
        "--warmup-epochs",
        "1",
        "--epochs",
        "3",
        "--batch-size",
        "16",
        "--device",
        "cpu",
        "--json",
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["dssb_refreshes"] > 0
    assert result.stderr.count("dssb feature pool") == 1  # rank 0 alone prints


def test_finetune_last_needs_a_backbone_with_a_last_block(
    scanned: dict[str, Path], tmp_path: Path
) -> None:
    result = semaudit_cli(
        "train",
        str(scanned["data"]),
        "--audit",
        str(scanned["audit"]),
        "--out",
        str(tmp_path / "run"),
        "--finetune",
        "last",
        "--device",
        "cpu",
    )
    assert_one_line_error(result, 3, "backbone pixels has no last block")


@pytest.mark.slow
def test_finetune_last_on_cpu_and_scan_with_the_result(tmp_path: Path) -> None:
    """The bundled Lite0 with its last block unfrozen, on real images, then audited again."""
    from semaudit.scanner.run import scan

    data = write_image_folder(tmp_path / "data", [8, 6, 4], seed=0)
    scan(data, out=tmp_path / "audit", backbone="efficientnet-lite0", probe=False)
    run = tmp_path / "run"
    result = semaudit_cli(
        "train",
        str(data),
        "--audit",
        str(tmp_path / "audit"),
        "--out",
        str(run),
        "--finetune",
        "last",
        "--weighting",
        "dssb",
        "--warmup-epochs",
        "0",
        "--epochs",
        "2",
        "--batch-size",
        "6",
        "--workers",
        "0",
        "--device",
        "cpu",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads((run / "metrics.json").read_text())["dssb_refreshes"] >= 1
    rescan = semaudit_cli(
        "scan",
        str(data),
        "--out",
        str(tmp_path / "audit2"),
        "-b",
        "efficientnet-lite0",
        "--weights",
        str(run / "model.safetensors"),
        "--no-probe",
        "--json",
    )
    assert rescan.returncode == 0, rescan.stderr


# --- settings: one table, TrainConfig ------------------------------------------------------


def _train_params() -> dict[str, object]:
    import typer

    from semaudit.cli import commands  # noqa: F401
    from semaudit.cli._app import app

    group = typer.main.get_command(app)
    command = group.commands["train"]  # type: ignore[attr-defined]
    return {p.name: p for p in command.params}


def test_every_train_setting_has_a_flag_with_help_and_its_default() -> None:
    """A ``TrainConfig`` field is a flag (or config-only), with its help and its real default."""
    import dataclasses

    from semaudit.cli._settings import flag_of, shown_default
    from semaudit.cli.train import CONFIG_ONLY
    from semaudit.train.config import TrainConfig

    params = _train_params()
    for field in dataclasses.fields(TrainConfig):
        assert field.metadata.get("help"), f"{field.name}: make it with setting(default, help)"
        if field.name in CONFIG_ONLY:
            assert field.name not in params
            continue
        param = params[field.name]
        assert flag_of(field).split("/")[0] in param.opts  # type: ignore[attr-defined]
        assert f"[default: {shown_default(field)}]" in param.help  # type: ignore[attr-defined]
    gamma = params["gamma"].help  # type: ignore[attr-defined]
    assert f"[default: {TrainConfig().gamma}]" in gamma and gamma.count("default") == 1
    for kept in ("--finetune", "--loss", "--weighting", "--epochs", "--batch-size", "--lr",
                 "--gamma", "--beta", "--warmup-epochs", "--refresh-every", "--seed",
                 "--device", "--workers", "--val-fraction", "--audit", "--out", "--val",
                 "--test", "--resume", "--compare", "--seeds", "--config", "--json",
                 "--quiet"):  # fmt: skip
        assert any(kept in p.opts for p in params.values()), kept  # type: ignore[attr-defined]


def test_a_new_setting_gets_its_flag_variable_and_key_by_itself(tmp_path: Path) -> None:
    """One field added to the dataclass: flag, shown default, env variable and config key."""
    import dataclasses
    import inspect

    import typer
    from typer.testing import CliRunner

    from semaudit.cli._settings import with_settings
    from semaudit.config import resolve_config
    from semaudit.train.config import TrainConfig, setting

    extended = dataclasses.make_dataclass(
        "Extended",
        [("pool_knob", int, setting(7, "A new knob.", panel="dssb"))],
        bases=(TrainConfig,),
        frozen=True,
    )
    seen: dict[str, object] = {}

    def command(out_dir: Path = typer.Option(..., "--out"), **settings: object) -> None:
        seen.update(settings)

    app = typer.Typer()
    app.command()(with_settings(command, extended, before="out_dir", config_only=frozenset()))
    assert "pool_knob" in inspect.signature(command).parameters
    knob = {p.name: p for p in typer.main.get_command(app).params}["pool_knob"]
    assert knob.opts == ["--pool-knob"] and knob.help == "A new knob. [default: 7]"  # type: ignore[attr-defined]
    assert CliRunner().invoke(app, ["--out", "x", "--pool-knob", "3"]).exit_code == 0
    assert seen["pool_knob"] == 3 and seen["epochs"] is None
    env = {"SEMAUDIT_TRAIN_POOL_KNOB": "9"}
    assert resolve_config(extended, "train", {}, start=tmp_path, environ=env).pool_knob == 9
    (tmp_path / "semaudit.toml").write_text("[train]\npool_knob = 11\n")
    assert resolve_config(extended, "train", {}, start=tmp_path, environ={}).pool_knob == 11


def test_settings_reach_the_run_from_flags_and_the_environment(
    scanned: dict[str, Path], tmp_path: Path
) -> None:
    """A flag that was config-only before (--hidden-dim) and a variable both reach run.json."""
    run = tmp_path / "run"
    result = semaudit_cli(
        "train", str(scanned["data"]), "--audit", str(scanned["audit"]), "--out", str(run),
        "--epochs", "1", "--hidden-dim", "8", "--no-amp", "--device", "cpu", "--quiet",
        env={"SEMAUDIT_TRAIN_FOCAL_GAMMA": "2.5"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    config = json.loads((run / "run.json").read_text())["config"]
    assert (config["hidden_dim"], config["focal_gamma"], config["amp"]) == (8, 2.5, False)
