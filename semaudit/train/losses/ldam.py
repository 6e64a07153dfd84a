"""``ldam`` (Cao et al. 2019): margin ``Δ_c = C / n_c^{1/4}`` with the largest ``Δ`` equal to
``max_margin``; ``ℓ = CE(s · (z − Δ_y e_y))`` on a cosine classifier (logits in [−1, 1]).
With a weighting, LDAM-DRW: the weights switch on at the DRW epoch (``drw_fraction`` of the
epochs)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from semaudit.train.config import TrainConfig
from semaudit.train.losses.base import LongTailLoss, ldam_margins


class LDAMLoss(LongTailLoss):
    name = "ldam"
    needs_cosine_classifier = True
    margins: torch.Tensor

    def __init__(
        self,
        counts: np.ndarray,
        *,
        max_margin: float = 0.5,
        s: float = 30.0,
        drw_epoch: int | None = None,
    ) -> None:
        super().__init__(counts)
        self.s = s
        self.drw_epoch = drw_epoch
        self.register_buffer("margins", ldam_margins(counts, max_margin))

    @classmethod
    def config_kwargs(cls, config: TrainConfig) -> dict[str, Any]:
        return {
            "max_margin": config.ldam_max_margin,
            "s": config.ldam_s,
            "drw_epoch": config.drw_epoch,
        }

    def per_sample(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        z = logits.float()
        margin = self.margins[targets]
        z = self.s * (z - F.one_hot(targets, z.shape[1]).to(z.dtype) * margin[:, None])
        return F.cross_entropy(z, targets, reduction="none")


LOSS = LDAMLoss
