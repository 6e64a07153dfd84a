"""``inverse``: ``w_c ∝ 1 / n_c`` (mean 1 over the classes with images)."""

from __future__ import annotations

import numpy as np

from semaudit.train.weightings.base import Weighting, mean_one


class InverseFrequency(Weighting):
    name = "inverse"

    def __init__(self, counts: np.ndarray, *, start_epoch: int = 0) -> None:
        super().__init__(counts, start_epoch=start_epoch)
        n = self.counts
        self.fixed = mean_one(1.0 / np.maximum(n, 1.0), n > 0)


WEIGHTING = InverseFrequency
