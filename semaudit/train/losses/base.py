r"""The base of every long-tail loss: a per-sample term reduced with per-class weights.

Every loss is a per-sample term ``ℓ_i`` reduced as ``Σ_i w_{y_i} ℓ_i / Σ_i w_{y_i}`` (torch's
``cross_entropy(weight=w)`` convention: the weights change the balance between classes, not the
step size); ``w = None`` is the plain mean. Predictions always use the raw logits ``z``.

A loss declares what the rest of training must do for it, instead of name checks elsewhere:

- ``needs_cosine_classifier``: the model's last layer is a cosine classifier (logits in [−1, 1]);
- ``drw_epoch``: not None when the loss defers any class weighting to that (0-based) epoch
  (``defers_weighting``; LDAM-DRW).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from semaudit.train.config import TrainConfig

__all__ = ["LongTailLoss", "ldam_margins", "log_prior", "reduce_weighted"]


def reduce_weighted(
    per_sample: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor | None
) -> torch.Tensor:
    """``Σ w_y ℓ / Σ w_y`` (or the mean when ``weights`` is None)."""
    if weights is None:
        return per_sample.mean()
    w = weights.to(per_sample.dtype)[targets]
    return (w * per_sample).sum() / w.sum().clamp_min(torch.finfo(per_sample.dtype).tiny)


def log_prior(counts: np.ndarray) -> torch.Tensor:
    """``log(n_c / N)``; empty classes get the log of half an image (finite, very unlikely)."""
    n = np.maximum(np.asarray(counts, dtype=np.float64), 0.5)
    return torch.as_tensor(np.log(n / n.sum()), dtype=torch.float32)


def ldam_margins(counts: np.ndarray, max_margin: float = 0.5) -> torch.Tensor:
    """``Δ_c ∝ n_c^(−1/4)`` scaled so that the largest margin is ``max_margin``."""
    n = np.maximum(np.asarray(counts, dtype=np.float64), 1.0)
    m = n**-0.25
    return torch.as_tensor(m * (max_margin / m.max()), dtype=torch.float32)


class LongTailLoss(torch.nn.Module):
    """``loss(logits, targets, weights=None)``; subclasses implement :meth:`per_sample`.

    A subclass owns its hyper-parameters (constructor keywords) and maps the
    :class:`TrainConfig` fields onto them in :meth:`from_config`.
    """

    name: ClassVar[str] = ""
    needs_cosine_classifier: ClassVar[bool] = False

    def __init__(self, counts: np.ndarray) -> None:
        super().__init__()
        self.n_classes = int(np.asarray(counts).shape[0])
        self.drw_epoch: int | None = None

    @property
    def defers_weighting(self) -> bool:
        """Whether class weights only apply from :attr:`drw_epoch` on."""
        return self.drw_epoch is not None

    @classmethod
    def config_kwargs(cls, config: TrainConfig) -> dict[str, Any]:
        """The constructor keywords this loss takes from a :class:`TrainConfig`."""
        return {}

    @classmethod
    def from_config(cls, config: TrainConfig, counts: np.ndarray) -> LongTailLoss:
        return cls(counts, **cls.config_kwargs(config))

    def per_sample(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The unreduced ``ℓ_i`` (float32 whatever the logits' precision)."""
        raise NotImplementedError

    def forward(
        self, logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor | None = None
    ) -> torch.Tensor:
        return reduce_weighted(self.per_sample(logits, targets), targets, weights)
