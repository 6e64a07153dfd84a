"""``ce``: cross-entropy, ``ℓ = −log softmax(z)_y``."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from semaudit.train.losses.base import LongTailLoss


class CrossEntropy(LongTailLoss):
    name = "ce"

    def per_sample(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits.float(), targets, reduction="none")


LOSS = CrossEntropy
