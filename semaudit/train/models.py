"""What a run trains: the head or the image model, its batches, and how it is saved.

``build_model`` returns a :class:`BuiltModel`: the module, the dimension of the features the
dssb pool stores, the training batches, a factory of evaluation batches, and a ``save`` that
writes the model files of the run (``head.safetensors``, or ``model.safetensors`` with the
backbone's own key names plus ``classifier.safetensors``). Under ``torchrun``,
:func:`wrap_distributed` wraps the module in DistributedDataParallel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from semaudit.distributed import SETTINGS, Dist
from semaudit.errors import BackboneError, InputError
from semaudit.store.io import atomic_write_bytes
from semaudit.train.config import TrainConfig
from semaudit.train.head import MLPHead
from semaudit.train.loop import ImageBatches, TensorBatches
from semaudit.train.losses import get_loss_class
from semaudit.train.protocol import Split, TrainInputs

__all__ = [
    "BuiltModel",
    "build_model",
    "is_main",
    "save_safetensors",
    "train_dist",
    "wrap_distributed",
]


@dataclass
class BuiltModel:
    """The trainable model, its batches and what to save."""

    module: nn.Module
    pool_dim: int
    train: TensorBatches | ImageBatches
    make_eval: Callable[[Split], TensorBatches | ImageBatches]
    save: Callable[[nn.Module, Path], list[Path]]


def train_dist() -> Dist:
    """This process's place in the job (``semaudit.distributed``), with ``train``'s rerun hint."""
    return Dist.current(rerun=SETTINGS.rerun_train)


def is_main() -> bool:
    """Rank 0 of a torchrun job, or a single process: the one that writes."""
    return train_dist().is_main


def wrap_distributed(model: nn.Module, device: str, dist: Dist | None = None) -> nn.Module:
    """``model`` wrapped in DistributedDataParallel under ``torchrun``, else itself."""
    dist = dist or train_dist()
    if not dist.enabled:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [torch.device(device).index or 0] if device.startswith("cuda") else None
    with dist.guard():  # the wrapper broadcasts rank 0's parameters
        return DistributedDataParallel(model, device_ids=ids)


def save_safetensors(path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, str]) -> Path:
    """Write ``tensors`` to ``path`` through the store's atomic writer (fsync, rename)."""
    from safetensors.torch import save

    state = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    atomic_write_bytes(path, save(state, metadata=meta))
    return path


def _build_head(inputs: TrainInputs, config: TrainConfig, device: str) -> BuiltModel:
    assert inputs.train.features is not None
    k = len(inputs.class_names)
    cosine = get_loss_class(config.loss).needs_cosine_classifier
    head = MLPHead(inputs.dim, config.hidden_dim, k, cosine=cosine)
    head.set_standardization(torch.as_tensor(inputs.train.features, dtype=torch.float32))
    head.to(device)

    def make_eval(split: Split) -> TensorBatches:
        assert split.features is not None
        return TensorBatches(split.features, split.labels, 1024, device=device, shuffle=False)

    def save(module: nn.Module, out: Path) -> list[Path]:
        backbone = inputs.audit.backbone
        meta = {
            "format": "semaudit-head",
            "backbone": backbone.id,
            "weights_digest": str(backbone.weights_digest),
            "classes": "\n".join(inputs.class_names),
            "input_dim": str(inputs.dim),
            "hidden_dim": str(config.hidden_dim),
        }
        return [save_safetensors(out / "head.safetensors", module.state_dict(), meta)]

    batches = TensorBatches(
        inputs.train.features,
        inputs.train.labels,
        config.batch_size,
        seed=config.seed,
        device=device,
    )
    return BuiltModel(head, config.hidden_dim, batches, make_eval, save)


def _build_image_model(inputs: TrainInputs, config: TrainConfig, device: str) -> BuiltModel:
    from semaudit.train.finetune import ImageClassifier, load_image_backbone

    backbone = load_image_backbone(inputs.audit, device)
    if config.finetune == "last" and backbone.last_block is None:
        raise BackboneError(
            f"backbone {backbone.spec.id} has no last block to unfreeze for --finetune last; "
            "use --finetune full or head."
        )
    model = ImageClassifier(
        backbone.model,
        backbone.embed_dim,
        len(inputs.class_names),
        mode=config.finetune,
        last_block=backbone.last_block,
        cosine=get_loss_class(config.loss).needs_cosine_classifier,
    ).to(device)
    if device.startswith("cuda"):
        model = model.to(memory_format=torch.channels_last)
    train_transform = backbone.train_transform if config.augment else backbone.transform
    assert inputs.train.items is not None

    def make_eval(split: Split) -> ImageBatches:
        assert split.items is not None
        return ImageBatches(
            split.items,
            inputs.class_names,
            backbone.transform,
            config.batch_size,
            device=device,
            shuffle=False,
            workers=config.workers,
        )

    def save(module: nn.Module, out: Path) -> list[Path]:
        assert isinstance(module, ImageClassifier)
        meta = {"backbone": backbone.spec.id}
        return [
            save_safetensors(out / f"{name}.safetensors", part.state_dict(), meta)
            for name, part in (("model", module.backbone), ("classifier", module.classifier))
        ]

    batches = ImageBatches(
        inputs.train.items,
        inputs.class_names,
        train_transform,
        config.batch_size,
        seed=config.seed,
        device=device,
        workers=config.workers,
    )
    return BuiltModel(model, backbone.embed_dim, batches, make_eval, save)


def build_model(inputs: TrainInputs, config: TrainConfig, device: str) -> BuiltModel:
    """The model of ``config.finetune``, on ``device``."""
    if config.finetune == "head":
        return _build_head(inputs, config, device)
    if config.finetune == "last" and not config.augment:
        from semaudit.train.finetune import load_image_backbone

        backbone = load_image_backbone(inputs.audit, device)
        if backbone.split is not None:
            return _build_cached_last(inputs, config, backbone, device)
    return _build_image_model(inputs, config, device)


def _build_cached_last(
    inputs: TrainInputs, config: TrainConfig, backbone: Any, device: str
) -> BuiltModel:
    """``last`` without augmentation: the tail and classifier on cached trunk outputs."""
    from semaudit.train.head import make_classifier
    from semaudit.train.trunk import CachedTail, split_backbone, trunk_outputs

    _, tail = split_backbone(backbone)
    for p in backbone.model.parameters():
        p.requires_grad = False
    for p in backbone.last_block.parameters():
        p.requires_grad = True
    cosine = get_loss_class(config.loss).needs_cosine_classifier
    classifier = make_classifier(backbone.embed_dim, len(inputs.class_names), cosine)
    model = CachedTail(tail, classifier).to(device)

    def outputs(split: Split) -> tuple[np.ndarray, np.ndarray]:
        assert split.items is not None
        found = trunk_outputs(split.items, backbone, inputs.audit.path, workers=config.workers)
        return found.values, split.labels[found.kept]

    values, labels = outputs(inputs.train)
    if len(labels) != len(inputs.train):
        raise InputError(
            f"{len(inputs.train) - len(labels)} training images of {inputs.data} can no longer "
            "be decoded; rescan DATA, or train with --augment."
        )

    def make_eval(split: Split) -> TensorBatches:
        x, y = outputs(split)
        return TensorBatches(x, y, config.batch_size, device=device, shuffle=False)

    def save(module: nn.Module, out: Path) -> list[Path]:
        meta = {"backbone": backbone.spec.id}
        return [
            save_safetensors(out / f"{name}.safetensors", part.state_dict(), meta)
            for name, part in (("model", backbone.model), ("classifier", classifier))
        ]

    batches = TensorBatches(values, labels, config.batch_size, seed=config.seed, device=device)
    return BuiltModel(model, backbone.embed_dim, batches, make_eval, save)
