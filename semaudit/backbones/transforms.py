"""Preprocessing shared by families: resize-and-crop to evaluate, random crops to train."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

IMAGENET_MEAN = [0.485 * 255, 0.456 * 255, 0.406 * 255]
IMAGENET_STD = [0.229 * 255, 0.224 * 255, 0.225 * 255]


def resize_crop(size: int, mean: list[float], std: list[float]) -> Callable[[Any], Any]:
    """Shorter side to ``size`` (bicubic, antialiased), centre crop, normalise on 0–255 values."""
    import torch
    from torchvision.transforms import v2

    return v2.Compose(
        [
            v2.PILToTensor(),
            v2.Resize(size, interpolation=v2.InterpolationMode.BICUBIC, antialias=True),
            v2.CenterCrop(size),
            v2.ToDtype(torch.float32),
            v2.Normalize(mean, std),
        ]
    )


def random_crop(size: int, mean: list[float], std: list[float]) -> Callable[[Any], Any]:
    """Training augmentation: random resized crop (35–100 % of the area) and horizontal flip."""
    import torch
    from torchvision.transforms import v2

    return v2.Compose(
        [
            v2.PILToTensor(),
            v2.RandomResizedCrop(
                size, scale=(0.35, 1.0), interpolation=v2.InterpolationMode.BICUBIC, antialias=True
            ),
            v2.RandomHorizontalFlip(),
            v2.ToDtype(torch.float32),
            v2.Normalize(mean, std),
        ]
    )


def last_child_with_parameters(module: Any) -> Any:
    """The last direct child holding parameters: the block ``--finetune last`` unfreezes."""
    children = [c for c in module.children() if any(True for _ in c.parameters())]
    return children[-1] if children else None
