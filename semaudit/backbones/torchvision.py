"""``torchvision:NAME``: torchvision classifiers with their last linear layer removed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from semaudit.backbones.base import Backbone, BackboneSpec, ListedBackbone, register
from semaudit.backbones.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    last_child_with_parameters,
    random_crop,
    resize_crop,
)
from semaudit.backbones.weights import file_digest, load_state_dict
from semaudit.errors import BackboneError

PREFIX = "torchvision:"


def _cached_weights(model: str) -> Path:
    import torch
    import torchvision

    weights = torchvision.models.get_model_weights(model).DEFAULT
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name


def _drop_classifier(model: Any) -> int:
    """Replace the last ``nn.Linear`` by ``Identity``; return its input width (the feature dim)."""
    import torch

    linears = [(n, m) for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)]
    name, last = linears[-1]
    parent = model.get_submodule(name.rpartition(".")[0]) if "." in name else model
    setattr(parent, name.rpartition(".")[2], torch.nn.Identity())
    return int(last.in_features)


class Torchvision:
    name = "torchvision"
    syntax = "torchvision:NAME"

    def parse(self, name: str, weights: Path | None) -> BackboneSpec | None:
        if not name.startswith(PREFIX):
            return None
        import torchvision

        model = name.removeprefix(PREFIX)
        if model not in torchvision.models.list_models(module=torchvision.models):
            raise BackboneError(
                f"unknown torchvision model {model!r}; see `semaudit models --all` for the list."
            )
        return BackboneSpec(
            name, self.name, model, weights=weights, description="torchvision classifier"
        )

    def listing(self) -> list[ListedBackbone]:
        return []  # hundreds of models: named by `torchvision:NAME`, not listed one by one

    def digest(self, spec: BackboneSpec) -> str:
        return file_digest(spec.weights) if spec.weights is not None else spec.id

    def create(self, spec: BackboneSpec, device: str) -> Backbone:
        import torchvision

        model = torchvision.models.get_model(spec.model, weights=None)
        path = spec.weights or _cached_weights(spec.model)
        if not path.is_file():
            raise BackboneError(
                f"weights for {spec.id} are not in {path.parent}; download them once online, "
                "or pass local weights (--weights PATH), or use the bundled efficientnet-lite0."
            )
        model.load_state_dict(load_state_dict(path))
        dim = _drop_classifier(model)
        model.eval().to(device)
        return Backbone(
            spec,
            model,
            resize_crop(224, IMAGENET_MEAN, IMAGENET_STD),
            random_crop(224, IMAGENET_MEAN, IMAGENET_STD),
            dim,
            file_digest(path),
            {"size": 224, "resize": "shorter side, bicubic", "crop": "center", "norm": "imagenet"},
            device,
            last_block=last_child_with_parameters(model),
            cpu_batch=8,
        )


register(Torchvision())
