r"""The base of every class weighting: which per-class loss weights apply at a step.

A weighting returns ``None`` (the plain loss) before its ``start_epoch``, else its weights. The
static ones (``inverse``, ``cb``, ``ssb``) are normalised to mean 1 over the classes with images;
``dssb``'s sum to 1 (the paper's). Under the loss's ``Σ w ℓ / Σ w`` reduction only ratios count.

A weighting declares what it needs: ``context`` names the keywords that
:func:`~semaudit.train.weightings.create_weighting` passes it besides the counts (``scales``:
the audit's per-class semantic scales; ``labels``, ``feature_dim``, ``device``: for a pool).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from semaudit.train.config import TrainConfig

__all__ = ["Weighting", "mean_one"]


def mean_one(raw: np.ndarray, used: np.ndarray) -> np.ndarray:
    """``raw`` scaled to mean 1 over ``used``; 1 elsewhere."""
    weights = np.ones_like(raw, dtype=np.float64)
    if used.any():
        weights[used] = raw[used] / raw[used].mean()
    return weights


class Weighting:
    """Fixed weights (``fixed``; None: the plain loss) from ``start_epoch`` on."""

    name: ClassVar[str] = ""
    context: ClassVar[tuple[str, ...]] = ()
    uses_pool: ClassVar[bool] = False

    def __init__(self, counts: np.ndarray, *, start_epoch: int = 0) -> None:
        self.counts = np.asarray(counts, dtype=np.float64)
        self.start_epoch = int(start_epoch)
        self.fixed: np.ndarray | None = None
        self.history: list[tuple[int, list[float]]] = []

    @classmethod
    def config_kwargs(cls, config: TrainConfig) -> dict[str, Any]:
        """The constructor keywords this weighting takes from a :class:`TrainConfig`."""
        return {}

    def begin_epoch(self, epoch: int) -> None:
        """Called at the start of each epoch (a pool rebuilds its statistics)."""

    def observe(self, ids: Any, features: Any) -> None:
        """Called after each step with the batch's sample ids and pre-classifier features."""

    def current(self, iteration: int) -> np.ndarray | None:
        return self.fixed

    def weights(self, epoch: int, iteration: int) -> np.ndarray | None:
        """The per-class weights of this step (None: the plain loss)."""
        if epoch < self.start_epoch:
            return None
        return self.current(iteration)

    def state(self) -> dict[str, Any]:
        return {}

    def load_state(self, state: dict[str, Any]) -> None:
        pass
