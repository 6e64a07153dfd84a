"""``cb`` (Cui et al. 2019): ``w_c ∝ (1 − β) / (1 − β^{n_c})``, the inverse effective number."""

from __future__ import annotations

from typing import Any

import numpy as np

from semaudit.stats.imbalance import effective_number
from semaudit.train.config import TrainConfig
from semaudit.train.weightings.base import Weighting, mean_one


class ClassBalanced(Weighting):
    name = "cb"

    def __init__(self, counts: np.ndarray, *, beta: float = 0.999, start_epoch: int = 0) -> None:
        super().__init__(counts, start_epoch=start_epoch)
        n = self.counts
        self.fixed = mean_one(1.0 / np.maximum(effective_number(n, beta), 1e-12), n > 0)

    @classmethod
    def config_kwargs(cls, config: TrainConfig) -> dict[str, Any]:
        return {"beta": config.beta}


WEIGHTING = ClassBalanced
