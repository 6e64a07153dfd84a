"""``ssb``: ``w_c ∝ (1 / S_c)^γ`` with ``S_c`` the audit's semantic scale of class c (static)."""

from __future__ import annotations

from typing import Any

import numpy as np

from semaudit.errors import UsageError
from semaudit.stats.imbalance import balanced_weights
from semaudit.train.config import TrainConfig
from semaudit.train.weightings.base import Weighting


class StaticSSB(Weighting):
    name = "ssb"
    context = ("scales",)

    def __init__(
        self,
        counts: np.ndarray,
        *,
        scales: np.ndarray | None = None,
        gamma: float = 1.0,
        start_epoch: int = 0,
    ) -> None:
        super().__init__(counts, start_epoch=start_epoch)
        if scales is None:
            raise UsageError("ssb weighting needs the audit's per-class scales.")
        s = np.asarray(scales, dtype=np.float64)
        self.fixed = balanced_weights(s, (self.counts > 0) & np.isfinite(s) & (s > 0), gamma)

    @classmethod
    def config_kwargs(cls, config: TrainConfig) -> dict[str, Any]:
        return {"gamma": config.gamma}


WEIGHTING = StaticSSB
