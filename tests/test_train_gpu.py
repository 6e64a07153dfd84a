"""``--finetune last|full`` on a GPU with the bundled Lite0: trains, and closes the loop."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import semaudit_cli
from fmnist import write_image_folder

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.gpu


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("mode", ["last", "full"])
def test_finetune_on_gpu_and_scan_with_the_result(tmp_path: Path, mode: str) -> None:
    from semaudit.scanner.run import scan

    data = write_image_folder(tmp_path / "data", [40, 20, 10], seed=0)
    test = write_image_folder(tmp_path / "test", [20] * 3, seed=1, split="train")  # disjoint
    scan(data, out=tmp_path / "audit", backbone="efficientnet-lite0", probe=False)
    run = tmp_path / "run"
    result = semaudit_cli(
        "train",
        str(data),
        "--audit",
        str(tmp_path / "audit"),
        "--out",
        str(run),
        "--test",
        str(test),
        "--finetune",
        mode,
        "--weighting",
        "dssb",
        "--warmup-epochs",
        "1",
        "--epochs",
        "3",
        "--batch-size",
        "16",
        "--device",
        "cuda",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert metrics["macro_acc"] > 1 / 3 and metrics["dssb_refreshes"] > 0
    assert "1280 floats" in result.stderr
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
    before = json.loads((tmp_path / "audit" / "audit.json").read_text())["backbone"]
    after = json.loads((tmp_path / "audit2" / "audit.json").read_text())["backbone"]
    assert before["weights_digest"] != after["weights_digest"]
