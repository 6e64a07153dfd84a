"""The frozen trunk of `--finetune last`, computed once and cached (docs/train.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from fmnist import write_image_folder

from semaudit.backbones import create_backbone, resolve_backbone
from semaudit.data import discover_folder
from semaudit.errors import BackboneError
from semaudit.train.trunk import split_backbone, trunk_outputs


@pytest.fixture(scope="module")
def lite0():
    spec, _ = resolve_backbone("efficientnet-lite0", None)
    return create_backbone(spec, "cpu")


def test_the_tail_of_the_trunk_is_the_model(lite0):
    trunk, tail = split_backbone(lite0)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        whole = lite0.model(x)
        parts = tail(trunk(x))
    assert parts.shape == whole.shape == (2, 1280)
    torch.testing.assert_close(parts, whole, rtol=0, atol=1e-5)
    tail_params = {id(p) for p in tail.parameters()}
    assert all(id(p) in tail_params for p in lite0.last_block.parameters())


def test_outputs_are_cached_by_content_and_recomputed_when_an_image_changes(lite0, tmp_path):
    data = write_image_folder(tmp_path / "data", [3, 2])
    items = discover_folder(data).items
    audit = tmp_path / "audit"
    first = trunk_outputs(items, lite0, audit, workers=0)
    assert not first.reused and first.values.dtype == np.float16
    assert first.values.shape == (5, 192, 7, 7)
    np.testing.assert_array_equal(first.kept, np.arange(5))
    again = trunk_outputs(items, lite0, audit, workers=0)
    assert again.reused and again.path == first.path
    np.testing.assert_array_equal(again.values, first.values)

    changed = Path(items[0].abspath)
    changed.write_bytes((tmp_path / "data" / items[-1].path).read_bytes())
    third = trunk_outputs(discover_folder(data).items, lite0, audit, workers=0)
    assert not third.reused and third.path != first.path
    np.testing.assert_array_equal(third.values[0], third.values[-1])


def test_a_backbone_without_a_split_says_how_to_train_without_the_cache(lite0):
    import dataclasses

    bare = dataclasses.replace(lite0, split=None)
    with pytest.raises(BackboneError, match="augment = true"):
        split_backbone(bare)


@pytest.mark.slow
def test_cached_last_trains_the_backbone_and_reuses_the_trunk_across_runs(tmp_path):
    """``--finetune last --no-augment`` through the CLI: two seeds, one trunk pass."""
    import json

    from cli_support import semaudit_cli

    from semaudit.scanner.run import scan

    data = write_image_folder(tmp_path / "data", [8, 6, 4], seed=0)
    audit = tmp_path / "audit"
    scan(data, out=audit, backbone="efficientnet-lite0", probe=False)
    args = ["--audit", str(audit), "--finetune", "last", "--no-augment", "--weighting", "dssb"]
    args += ["--warmup-epochs", "0", "--epochs", "2", "--batch-size", "6", "--workers", "0"]
    runs = []
    for seed in (0, 1):
        run = tmp_path / f"run{seed}"
        result = semaudit_cli("train", str(data), *args, "--out", str(run), "--seed", str(seed))
        assert result.returncode == 0, result.stderr
        runs.append(run)
        cached = sorted((audit / "cache").glob("trunk-*.npz"))
        assert len(cached) == 1
        if seed == 0:
            stamp = cached[0].stat().st_mtime_ns
    assert cached[0].stat().st_mtime_ns == stamp  # the second run read it, did not rewrite it
    metrics = json.loads((runs[0] / "metrics.json").read_text())
    assert metrics["dssb_refreshes"] >= 1 and metrics["model_files"] == [
        "model.safetensors",
        "classifier.safetensors",
    ]
    from safetensors.torch import load_file

    trained = load_file(str(runs[0] / "model.safetensors"))
    spec, _ = resolve_backbone("efficientnet-lite0", None)
    fresh = create_backbone(spec, "cpu").model.state_dict()
    last = [k for k in trained if k.startswith("blocks.6.")]
    frozen = [k for k in trained if k.startswith("blocks.0.") and k.endswith("weight")]
    assert last and any(not torch.equal(trained[k], fresh[k]) for k in last)
    assert all(torch.equal(trained[k], fresh[k]) for k in frozen)
