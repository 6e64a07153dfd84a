"""``focal`` (Lin et al. 2017): ``ℓ = −(1 − p_y)^γ_f log p_y``."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from semaudit.train.config import TrainConfig
from semaudit.train.losses.base import LongTailLoss


class FocalLoss(LongTailLoss):
    name = "focal"

    def __init__(self, counts: np.ndarray, *, gamma: float = 1.0) -> None:
        super().__init__(counts)
        self.gamma = gamma

    @classmethod
    def config_kwargs(cls, config: TrainConfig) -> dict[str, Any]:
        return {"gamma": config.focal_gamma}

    def per_sample(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        log_p = F.log_softmax(logits.float(), dim=1).gather(1, targets[:, None]).squeeze(1)
        return -((1.0 - log_p.exp()).clamp_min(0.0) ** self.gamma) * log_p


LOSS = FocalLoss
