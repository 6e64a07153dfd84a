r"""Long-tail losses with a per-class weight vector ``w`` (implemented here, in torch).

Every loss is a per-sample term ``ℓ_i`` reduced as ``Σ_i w_{y_i} ℓ_i / Σ_i w_{y_i}`` (torch's
``cross_entropy(weight=w)`` convention: the weights change the balance between classes, not the
step size); ``w = None`` is the plain mean.

- ``ce``: ``ℓ = −log softmax(z)_y``.
- ``focal`` (Lin et al. 2017): ``ℓ = −(1 − p_y)^γ_f log p_y``.
- ``ldam`` (Cao et al. 2019): margin ``Δ_c = C / n_c^{1/4}`` with the largest ``Δ`` equal to
  ``max_margin``; ``ℓ = CE(s · (z − Δ_y e_y))``, on a cosine classifier (logits in [−1, 1]).
- ``balanced-softmax`` (Ren et al. 2020): ``ℓ = CE(z + log π)``, π the class prior.
- ``logit-adjust`` (Menon et al. 2021): ``ℓ = CE(z + τ log π)``.
Predictions always use the raw logits ``z``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from semaudit.errors import UsageError
from semaudit.train.config import LOSSES, TrainConfig

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
    """``loss(logits, targets, weights)`` for one of :data:`LOSSES`."""

    def __init__(
        self,
        kind: str,
        counts: np.ndarray,
        *,
        focal_gamma: float = 1.0,
        ldam_max_margin: float = 0.5,
        ldam_s: float = 30.0,
        logit_tau: float = 1.0,
    ) -> None:
        super().__init__()
        if kind not in LOSSES:
            raise UsageError(f"unknown loss {kind!r}; use one of {', '.join(LOSSES)}.")
        self.kind = kind
        self.focal_gamma = focal_gamma
        self.ldam_s = ldam_s
        self.logit_tau = logit_tau
        self.register_buffer("log_prior", log_prior(counts))
        self.register_buffer("margins", ldam_margins(counts, ldam_max_margin))

    @classmethod
    def from_config(cls, config: TrainConfig, counts: np.ndarray) -> LongTailLoss:
        return cls(
            config.loss,
            counts,
            focal_gamma=config.focal_gamma,
            ldam_max_margin=config.ldam_max_margin,
            ldam_s=config.ldam_s,
            logit_tau=config.logit_tau,
        )

    def per_sample(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The unreduced ``ℓ_i`` (float32 whatever the logits' precision)."""
        z = logits.float()
        prior: Any = self.log_prior
        if self.kind == "balanced-softmax":
            z = z + prior
        elif self.kind == "logit-adjust":
            z = z + self.logit_tau * prior
        elif self.kind == "ldam":
            margin = self.margins[targets]  # type: ignore[index]
            z = self.ldam_s * (z - F.one_hot(targets, z.shape[1]).to(z.dtype) * margin[:, None])
        if self.kind == "focal":
            log_p = F.log_softmax(z, dim=1).gather(1, targets[:, None]).squeeze(1)
            return -((1.0 - log_p.exp()).clamp_min(0.0) ** self.focal_gamma) * log_p
        return F.cross_entropy(z, targets, reduction="none")

    def forward(
        self, logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor | None = None
    ) -> torch.Tensor:
        return reduce_weighted(self.per_sample(logits, targets), targets, weights)
