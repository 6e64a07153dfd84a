"""``logit-adjust`` (Menon et al. 2021): ``ℓ = CE(z + τ log π)``, π the class prior."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from semaudit.train.config import TrainConfig
from semaudit.train.losses.base import LongTailLoss, log_prior


class LogitAdjustedLoss(LongTailLoss):
    name = "logit-adjust"
    log_prior: torch.Tensor

    def __init__(self, counts: np.ndarray, *, tau: float = 1.0) -> None:
        super().__init__(counts)
        self.tau = tau
        self.register_buffer("log_prior", log_prior(counts))

    @classmethod
    def config_kwargs(cls, config: TrainConfig) -> dict[str, Any]:
        return {"tau": config.logit_tau}

    def per_sample(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        z = logits.float() + self.tau * self.log_prior
        return F.cross_entropy(z, targets, reduction="none")


LOSS = LogitAdjustedLoss
