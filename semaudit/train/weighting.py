r"""Per-class loss weights: none, inverse, cb, ssb (static) and dssb (dynamic, from a feature pool).

All weights are normalised to mean 1 over the classes they apply to.

- ``inverse``: ``w_c ∝ 1 / n_c``.
- ``cb`` (Cui et al. 2019): ``w_c ∝ (1 − β) / (1 − β^{n_c})``, the inverse effective number.
- ``ssb``: ``w_c ∝ (1 / S_c)^γ`` with ``S_c`` the audit's semantic scale of class c.
- ``dssb``: the same formula with ``S_c`` recomputed every ``refresh_every`` iterations from a
  storage pool holding the latest feature of every training sample (:class:`FeaturePool`); the
  plain loss is used during the warm-up epochs and until every sample is in the pool.
LDAM defers any weighting to its DRW epoch (Cao et al. 2019).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from semaudit.errors import UsageError
from semaudit.stats.imbalance import balanced_weights, effective_number
from semaudit.stats.scale import gram_scale
from semaudit.train.config import TrainConfig

__all__ = ["ClassWeighting", "FeaturePool", "static_weights"]


def _mean_one(raw: np.ndarray, used: np.ndarray) -> np.ndarray:
    weights = np.ones_like(raw, dtype=np.float64)
    if used.any():
        weights[used] = raw[used] / raw[used].mean()
    return weights


def static_weights(
    kind: str,
    counts: np.ndarray,
    *,
    beta: float = 0.999,
    scales: np.ndarray | None = None,
    gamma: float = 1.0,
) -> np.ndarray | None:
    """Weights of a count- or audit-based scheme (``None`` for ``none``; ``dssb`` starts there)."""
    n = np.asarray(counts, dtype=np.float64)
    used = n > 0
    if kind in ("none", "dssb"):
        return None
    if kind == "inverse":
        return _mean_one(1.0 / np.maximum(n, 1.0), used)
    if kind == "cb":
        return _mean_one(1.0 / np.maximum(effective_number(n, beta), 1e-12), used)
    if kind == "ssb":
        if scales is None:
            raise UsageError("ssb weighting needs the audit's per-class scales.")
        s = np.asarray(scales, dtype=np.float64)
        return balanced_weights(s, used & np.isfinite(s) & (s > 0), gamma)
    raise UsageError(f"unknown weighting {kind!r}; use none, inverse, cb, ssb or dssb.")


@functools.cache
def _blas_controller() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


class FeaturePool:
    """The latest feature of every training sample, by sample id (``N × d`` float32).

    The pool lives on the training device: on a GPU, writing a batch's rows is then an
    asynchronous copy instead of a wait for the GPU at every step (with a CPU pool dssb took
    +34 % per epoch over ce on an H200, cb +6 %), and NCCL can gather it; rows go to the CPU
    only when scales are computed.

    ``update`` overwrites the rows of a batch after each forward pass; ``class_scales`` computes
    ``S_c`` of every class from the rows seen so far (``class_scale``: L2-normalised, α = d by
    default). In distributed training each rank fills the rows of its own samples and
    ``gather`` (an ``all_reduce`` of rows and seen-flags) gives every rank the whole pool.
    """

    def __init__(
        self, labels: np.ndarray, dim: int, n_classes: int, *, device: str = "cpu"
    ) -> None:
        self.labels = np.asarray(labels, dtype=np.int64)
        self.label_ids = torch.as_tensor(self.labels, device=device)  # on the pool's device
        self.n_classes = int(n_classes)
        self.device = device
        n = self.labels.size
        self.features = torch.zeros((n, dim), dtype=torch.float32, device=device)
        self.seen = torch.zeros(n, dtype=torch.bool, device=device)
        self.fresh = torch.zeros(n, dtype=torch.bool, device=device)  # updated since gather

    @property
    def nbytes(self) -> int:
        return self.features.numel() * self.features.element_size()

    @property
    def full(self) -> bool:
        return bool(self.seen.all())

    def update(self, ids: torch.Tensor, features: torch.Tensor) -> None:
        ids = ids.detach().to(self.device, non_blocking=True).long()
        self.features[ids] = features.detach().float().to(self.device, non_blocking=True)
        self.seen[ids] = True
        self.fresh[ids] = True

    def gather(self) -> None:
        """Share the rows each rank wrote since the last gather (``all_reduce``; a sample that
        two ranks saw, DistributedSampler's padding, gets the mean). No-op in one process."""
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return
        fresh = self.fresh.to(torch.float32)
        rows = self.features * fresh[:, None]
        dist.all_reduce(rows)
        dist.all_reduce(fresh)
        got = fresh > 0
        self.features[got] = rows[got] / fresh[got][:, None]
        self.seen |= got
        self.fresh.zero_()

    def class_scales(self, alpha: float | None = None) -> np.ndarray:
        """``S_c`` per class from the seen rows (0 for a class with fewer than two).

        The definition of ``class_scale`` (rows L2-normalised, centred, smaller Gram side),
        with the Grams formed in float32 where the pool lives: on a GPU only K small matrices
        leave the device, and on a CPU torch's threads do the one large product per class. The
        log-det of each SPD matrix runs in float64 with LAPACK on one thread (BLAS threads
        spinning against torch's made it ~10× slower; docs/train.md)."""
        dim = self.features.shape[1]
        a_used = float(dim if alpha is None else alpha)
        z = torch.nn.functional.normalize(self.features, dim=1)
        grams: list[tuple[int, int, np.ndarray]] = []
        for c in range(self.n_classes):
            zc = z[(self.label_ids == c) & self.seen]
            m = zc.shape[0]
            if m > 1:
                a = zc - zc.mean(dim=0)
                small = a @ a.T if m <= dim else a.T @ a
                grams.append((c, m, small.double().cpu().numpy()))
        scales = np.zeros(self.n_classes)
        with _blas_controller().limit(limits=1):
            for c, m, gram in grams:
                scales[c] = gram_scale(gram, m, a_used)
        return scales

    def state(self) -> dict[str, torch.Tensor]:
        return {"pool.features": self.features, "pool.seen": self.seen}

    def load_state(self, tensors: dict[str, torch.Tensor]) -> None:
        self.features = tensors["pool.features"].to(self.device).clone()
        self.seen = tensors["pool.seen"].to(self.device).clone().bool()
        self.fresh = torch.zeros_like(self.seen)


@dataclass
class ClassWeighting:
    """Which per-class weights the loss gets at a given epoch and iteration.

    ``history`` records ``(iteration, weights)`` each time dssb recomputes them (for the figure
    of weights over time); ``current``/``last_refresh`` are saved in checkpoints.
    """

    kind: str
    start_epoch: int
    fixed: np.ndarray | None = None
    pool: FeaturePool | None = None
    gamma: float = 1.0
    alpha: float | None = None
    refresh_every: int = 10
    current: np.ndarray | None = None
    last_refresh: int = -1
    history: list[tuple[int, list[float]]] = field(default_factory=list)

    @classmethod
    def from_config(
        cls,
        config: TrainConfig,
        counts: np.ndarray,
        audit_scales: np.ndarray | None,
        pool: FeaturePool | None,
    ) -> ClassWeighting:
        if config.loss == "ldam":
            start = config.drw_epoch
        elif config.weighting == "dssb":
            start = config.warmup_epochs
        else:
            start = 0
        fixed = static_weights(
            config.weighting, counts, beta=config.beta, scales=audit_scales, gamma=config.gamma
        )
        return cls(
            config.weighting,
            start,
            fixed,
            pool,
            config.gamma,
            config.alpha,
            config.refresh_every,
        )

    def weights(self, epoch: int, iteration: int) -> np.ndarray | None:
        """Weights for this step, refreshing dssb's from the pool when due."""
        if self.kind == "none" or epoch < self.start_epoch:
            return None
        if self.kind != "dssb":
            return self.fixed
        assert self.pool is not None
        due = self.current is None or iteration - self.last_refresh >= self.refresh_every
        if due:
            self.pool.gather()
            if self.pool.full:
                self.refresh(iteration)
        return self.current

    def refresh(self, iteration: int) -> None:
        assert self.pool is not None
        scales = self.pool.class_scales(self.alpha)
        present = np.bincount(self.pool.labels, minlength=self.pool.n_classes) >= 2
        self.current = balanced_weights(scales, present & (scales > 0), self.gamma)
        self.last_refresh = iteration
        self.history.append((iteration, [float(w) for w in self.current]))

    def state(self) -> dict[str, Any]:
        return {
            "current": None if self.current is None else [float(w) for w in self.current],
            "last_refresh": self.last_refresh,
            "history": self.history,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        current = state.get("current")
        self.current = None if current is None else np.asarray(current, dtype=np.float64)
        self.last_refresh = int(state.get("last_refresh", -1))
        self.history = [(int(i), [float(x) for x in w]) for i, w in state.get("history", [])]
