"""The trainable head on stored embeddings (``--finetune head``) and the cosine classifier.

``MLPHead``: standardise the backbone feature (train mean / std, kept as buffers so the saved
head is self-contained) → Linear(d, h) → BatchNorm → ReLU → classifier. The hidden activation
(``h``-d) is what the dssb storage pool holds. ``forward`` returns ``(logits, features)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["MLPHead", "NormedLinear", "make_classifier"]


class NormedLinear(nn.Module):
    """Cosine classifier: ``normalize(x) · normalize(W)ᵀ`` in [−1, 1] (LDAM's, Cao et al.)."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        nn.init.kaiming_uniform_(self.weight, a=5**0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=1) @ F.normalize(self.weight, dim=1).t()


def make_classifier(in_features: int, n_classes: int, cosine: bool) -> nn.Module:
    return NormedLinear(in_features, n_classes) if cosine else nn.Linear(in_features, n_classes)


class MLPHead(nn.Module):
    """Head on frozen backbone features: ``forward(x) -> (logits (B, K), hidden (B, h))``."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, in_dim: int, hidden_dim: int, n_classes: int, *, cosine: bool = False):
        super().__init__()
        self.register_buffer("mean", torch.zeros(in_dim))
        self.register_buffer("std", torch.ones(in_dim))
        self.hidden = nn.Sequential(
            nn.Linear(in_dim, hidden_dim), nn.BatchNorm1d(hidden_dim), nn.ReLU()
        )
        self.classifier = make_classifier(hidden_dim, n_classes, cosine)

    def set_standardization(self, features: torch.Tensor) -> None:
        """Mean and std (floored at 1e-6) of the training features, per dimension."""
        self.mean.copy_(features.mean(dim=0))
        self.std.copy_(features.std(dim=0).clamp_min(1e-6))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.hidden((x - self.mean) / self.std)
        return self.classifier(hidden), hidden
