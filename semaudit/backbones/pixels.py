"""``pixels``: raw 16×16 grey pixels, 256-d. A no-semantics baseline and the fast test embedder."""

from __future__ import annotations

from pathlib import Path

from semaudit.backbones.base import Backbone, BackboneSpec, ListedBackbone, register

NAME = "pixels"


class Pixels:
    name = NAME
    syntax = NAME

    def parse(self, name: str, weights: Path | None) -> BackboneSpec | None:
        if name != NAME:
            return None
        return BackboneSpec(NAME, NAME, description="raw 16×16 grey pixels, 256-d (baseline)")

    def listing(self) -> list[ListedBackbone]:
        return [ListedBackbone(NAME, 256, True, "raw 16×16 grey pixels: a no-semantics baseline")]

    def digest(self, spec: BackboneSpec) -> str:
        return spec.id

    def create(self, spec: BackboneSpec, device: str) -> Backbone:
        import torch
        from torchvision.transforms import v2

        transform = v2.Compose(
            [
                v2.Grayscale(),
                v2.Resize((16, 16), antialias=True),
                v2.PILToTensor(),
                v2.ToDtype(torch.float32, scale=True),
            ]
        )
        return Backbone(
            spec,
            torch.nn.Flatten(1),
            transform,
            transform,
            256,
            "none",
            {"size": 16, "grey": True},
            device,
            cpu_batch=256,
        )


register(Pixels())
