"""The backbone registry's verbs, and backbones as trainable modules (what `train` needs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from semaudit.backbones import (
    Backbone,
    BackboneSpec,
    ListedBackbone,
    create_backbone,
    families,
    get_backbone,
    list_backbones,
    register,
)
from semaudit.backbones.base import FAMILIES
from semaudit.errors import BackboneError


def test_families_in_listing_order_and_each_parses_its_own_names() -> None:
    assert list(families())[:4] == ["efficientnet-lite0", "pixels", "openclip", "torchvision"]
    assert get_backbone("pixels").family == "pixels"
    assert get_backbone("efficientnet-lite0").family == "efficientnet-lite0"
    assert get_backbone("torchvision:resnet18").model == "resnet18"
    assert get_backbone("openclip:ViT-B-32/laion2b_s34b_b79k").tag == "laion2b_s34b_b79k"


def test_unknown_name_lists_every_family_syntax() -> None:
    with pytest.raises(BackboneError) as info:
        get_backbone("resnet9000")
    for family in families().values():
        assert family.syntax in str(info.value)


def test_missing_weights_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(BackboneError, match="does not exist"):
        get_backbone("efficientnet-lite0", weights=tmp_path / "nope.safetensors")


def test_a_registered_family_is_listed_parsed_and_created() -> None:
    """Adding a family is one module calling ``register``: nothing else is edited."""

    class Ones:
        name = "ones"
        syntax = "ones"

        def parse(self, name: str, weights: Path | None) -> BackboneSpec | None:
            return BackboneSpec("ones", "ones") if name == "ones" else None

        def listing(self) -> list[ListedBackbone]:
            return [ListedBackbone("ones", 3, True, "constant features")]

        def digest(self, spec: BackboneSpec) -> str:
            return "ones"

        def create(self, spec: BackboneSpec, device: str) -> Backbone:
            model = torch.nn.Linear(1, 3)
            return Backbone(spec, model, lambda x: x, lambda x: x, 3, "ones")

    register(Ones())
    try:
        assert any(row["id"] == "ones" for row in list_backbones())
        spec = get_backbone("ones")
        assert create_backbone(spec).embed(torch.ones(2, 1)).shape == (2, 3)
    finally:
        del FAMILIES["ones"]


def test_lite0_is_a_trainable_module_with_a_last_block() -> None:
    backbone = create_backbone(get_backbone("efficientnet-lite0"))
    assert isinstance(backbone.model, torch.nn.Module) and not backbone.model.training
    assert backbone.default_batch_size("cpu") == 8 and backbone.default_batch_size("cuda") == 256
    owned = {id(p) for p in backbone.model.parameters()}
    last = list(backbone.last_block.parameters())
    assert last and all(id(p) in owned for p in last)
    for p in backbone.model.parameters():
        p.requires_grad_(False)
    for p in last:
        p.requires_grad_(True)
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 60, 3), np.uint8))
    batch = torch.stack([backbone.train_transform(image) for _ in range(2)])
    assert batch.shape == (2, 3, 224, 224)
    backbone.model.train()
    backbone.embed(batch).sum().backward()
    trained = [p for p in backbone.model.parameters() if p.grad is not None]
    assert {id(p) for p in trained} == {id(p) for p in last}


def test_train_transform_augments_and_eval_transform_does_not() -> None:
    backbone = create_backbone(get_backbone("efficientnet-lite0"))
    image = Image.fromarray(np.random.default_rng(1).integers(0, 255, (64, 64, 3), np.uint8))
    torch.manual_seed(0)
    a, b = backbone.train_transform(image), backbone.train_transform(image)
    assert not torch.equal(a, b)
    assert torch.equal(backbone.transform(image), backbone.transform(image))


def test_pixels_has_nothing_to_train() -> None:
    backbone = create_backbone(get_backbone("pixels"))
    assert backbone.last_block is None
    assert not list(backbone.model.parameters())
