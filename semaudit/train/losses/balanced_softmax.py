"""``balanced-softmax`` (Ren et al. 2020): ``ℓ = CE(z + log π)``, π the class prior."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from semaudit.train.losses.base import LongTailLoss, log_prior


class BalancedSoftmax(LongTailLoss):
    name = "balanced-softmax"
    log_prior: torch.Tensor

    def __init__(self, counts: np.ndarray) -> None:
        super().__init__(counts)
        self.register_buffer("log_prior", log_prior(counts))

    def per_sample(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits.float() + self.log_prior, targets, reduction="none")


LOSS = BalancedSoftmax
