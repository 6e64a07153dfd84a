"""Image models for ``--finetune last|full``: the audit's backbone plus a classifier.

``last`` trains the backbone's last block (``Backbone.last_block``) and the classifier, with the
frozen layers kept in eval mode (their BatchNorm statistics do not move); ``full`` trains every
layer. Training images go through ``Backbone.train_transform`` (augmentation), evaluation
images through ``Backbone.transform``. The pooled backbone feature is the dssb pool feature.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from semaudit.errors import BackboneError
from semaudit.store import Audit
from semaudit.train.head import make_classifier
from semaudit.train.protocol import audit_backbone

__all__ = ["ImageClassifier", "load_image_backbone"]


class ImageClassifier(nn.Module):
    """``forward(x) -> (logits, pooled features)``; ``backbone`` returns pooled (B, d)."""

    def __init__(
        self,
        backbone: nn.Module,
        dim: int,
        n_classes: int,
        *,
        mode: str,
        last_block: nn.Module | None,
        cosine: bool,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.classifier = make_classifier(dim, n_classes, cosine)
        self.mode = mode
        self.last_block = last_block
        for p in self.backbone.parameters():
            p.requires_grad = mode == "full"
        if mode == "last":
            if last_block is None:
                raise BackboneError(
                    "this backbone names no last block to unfreeze; use --finetune full or head."
                )
            for p in last_block.parameters():
                p.requires_grad = True

    def train(self, mode: bool = True) -> ImageClassifier:
        super().train(mode)
        if mode and self.mode == "last":
            self.backbone.eval()
            assert self.last_block is not None
            self.last_block.train()
        return self

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.backbone(x)
        return self.classifier(features.float()), features.float()


def load_image_backbone(audit: Audit, device: str) -> Any:
    """The audit's backbone (same id and weights), loaded for training."""
    backbone = audit_backbone(audit, device)
    if backbone.model is None or not isinstance(backbone.model, nn.Module):
        raise BackboneError(
            f"backbone {backbone.spec.id} has no trainable model; use --finetune head or "
            "another backbone."
        )
    return backbone
