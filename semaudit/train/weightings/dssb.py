r"""``dssb``: dynamic semantic-scale-balanced weights, the paper's DSB (Ma et al., ICLR 2023,
Sec. 4 and App. D), from a storage pool of the latest feature of every training sample.

- Pool rows: the pre-classifier embedding average-pooled to ``pool_dim`` (64) columns, centred,
  not L2-normalised, coding factor d/m with d the pooled width (:mod:`semaudit.stats.dsb`).
- ``S_c`` with inter-class interference, α = ``interclass_alpha`` (``"auto"``: 2 on
  long-tailed, 1 on balanced training counts; 0: none).
- ``w_c ∝ (1/S_c)^γ`` summing to 1 (γ = 1: the paper's ``1/S``).
- Stages: epoch 0 fills the pool (plain loss); then the plain loss until ``warmup_epochs``
  while every step replaces its batch's rows; from then on ``S`` is recomputed every
  ``refresh_every`` (1) steps from the pool's running per-class statistics.

The earlier variant (L2-normalised rows, full width, no interference, every 10 steps) is
``pool_dim=0, normalize=True, interclass_alpha=0, refresh_every=10``.

``history`` (``weights_history.csv``, the checkpoint) keeps at most :data:`HISTORY_ROWS` of the
refreshes, evenly spaced: when full, every other row is dropped and from then on every second
refresh is recorded (a per-step refresh on ImageNet-LT would otherwise add ~40,000 rows of
1,000 weights). ``refreshes`` counts them all.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from semaudit.stats.dsb import DEFAULT_POOL_DIM
from semaudit.stats.interclass import resolve_interclass_alpha
from semaudit.train.config import TrainConfig
from semaudit.train.pool import FeaturePool
from semaudit.train.weightings.base import Weighting

HISTORY_ROWS = 2048


def interclass_alpha_value(alpha: float | str | None, counts: np.ndarray) -> float:
    """A number: 0 for no interference (``0``, ``"none"``, None), ``"auto"`` resolved on the
    counts, else a number ≥ 1."""
    if alpha is None or (isinstance(alpha, str) and alpha.strip().lower() == "none"):
        return 0.0
    try:
        if float(alpha) == 0:
            return 0.0
    except ValueError:
        pass  # "auto", or a wrong value resolve_interclass_alpha names
    return resolve_interclass_alpha(alpha, counts)


class DynamicSSB(Weighting):
    name = "dssb"
    context = ("labels", "feature_dim", "device")
    uses_pool = True

    def __init__(
        self,
        counts: np.ndarray,
        *,
        labels: np.ndarray,
        feature_dim: int | None = None,
        device: str = "cpu",
        pool_dim: int = DEFAULT_POOL_DIM,
        interclass_alpha: float | str | None = "auto",
        gamma: float = 1.0,
        coding_alpha: float | None = None,
        normalize: bool = False,
        warmup_epochs: int = 5,
        refresh_every: int = 1,
        start_epoch: int | None = None,
    ) -> None:
        super().__init__(counts, start_epoch=warmup_epochs if start_epoch is None else start_epoch)
        self.labels = np.asarray(labels, dtype=np.int64)
        self.device = device
        self.pool_dim = int(pool_dim)
        self.normalize = normalize
        self.alpha = interclass_alpha_value(interclass_alpha, self.counts)
        self.gamma = gamma
        self.coding_alpha = coding_alpha
        self.refresh_every = int(refresh_every)
        self.pool: FeaturePool | None = None
        self.current_weights: np.ndarray | None = None
        self.last_refresh = -1
        self.refreshes = 0
        self.history_stride = 1  # record every k-th refresh (doubles when the history is full)
        if feature_dim is not None:
            self.make_pool(feature_dim)

    @classmethod
    def config_kwargs(cls, config: TrainConfig) -> dict[str, Any]:
        return {
            "pool_dim": config.pool_dim,
            "interclass_alpha": config.interclass_alpha,
            "gamma": config.gamma,
            "coding_alpha": config.alpha,
            "normalize": config.pool_normalize,
            "warmup_epochs": config.warmup_epochs,
            "refresh_every": config.refresh_every,
        }

    def make_pool(self, feature_dim: int) -> FeaturePool:
        self.pool = FeaturePool(
            self.labels,
            feature_dim,
            self.counts.size,
            pool_dim=self.pool_dim,
            normalize=self.normalize,
            device=self.device,
        )
        return self.pool

    def begin_epoch(self, epoch: int) -> None:
        if self.pool is not None:
            self.pool.recompute()  # from scratch once per epoch: no drift of the running sums

    def observe(self, ids: Any, features: Any) -> None:
        features = torch.as_tensor(features)
        pool = self.pool if self.pool is not None else self.make_pool(int(features.shape[1]))
        pool.update(torch.as_tensor(ids), features)

    def current(self, iteration: int) -> np.ndarray | None:
        due = self.current_weights is None or iteration - self.last_refresh >= self.refresh_every
        if due and self.pool is not None and self.pool.full:
            self.refresh(iteration)
        return self.current_weights

    def refresh(self, iteration: int) -> None:
        assert self.pool is not None
        self.current_weights = self.pool.dsb_weights(
            interclass_alpha=self.alpha, gamma=self.gamma, coding_alpha=self.coding_alpha
        )[0]
        self.last_refresh = iteration
        if self.refreshes % self.history_stride == 0:
            self.history.append((iteration, [float(w) for w in self.current_weights]))
            if len(self.history) > HISTORY_ROWS:
                self.history = self.history[::2]
                self.history_stride *= 2
        self.refreshes += 1

    def state(self) -> dict[str, Any]:
        current = self.current_weights
        return {
            "current": None if current is None else [float(w) for w in current],
            "last_refresh": self.last_refresh,
            "history": self.history,
            "refreshes": self.refreshes,
            "history_stride": self.history_stride,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        current = state.get("current")
        self.current_weights = None if current is None else np.asarray(current, dtype=np.float64)
        self.last_refresh = int(state.get("last_refresh", -1))
        self.history = [(int(i), [float(x) for x in w]) for i, w in state.get("history", [])]
        self.refreshes = int(state.get("refreshes", len(self.history)))
        self.history_stride = int(state.get("history_stride", 1))


WEIGHTING = DynamicSSB
