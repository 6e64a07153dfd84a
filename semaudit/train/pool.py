r"""The dssb storage pool: the latest (pooled) feature of every training sample, and the per-class
sufficient statistics that make a per-iteration refresh of the weights cheap.

Each write replaces the rows of a batch's samples. The pool keeps, per class and in float64 at the
pooled width w, ``(count, Σz, Σzzᵀ)``: a write subtracts the replaced rows' terms and adds the new
ones (``O(B·w²)`` per step, independent of N), and :meth:`FeaturePool.recompute` rebuilds them
from the rows (done once per epoch, so round-off cannot drift). Writes are applied to the
statistics lazily, when they are read (every step with ``refresh_every = 1``; once per refresh
otherwise; never during the warm-up, whose statistics the next epoch's rebuild supersedes) or
after 65,536 pending rows. The weights then come from
:func:`semaudit.stats.dsb.weights_from_moments`, the function behind the public
:func:`semaudit.dsb_weights`: the same numbers for the same rows.

Rows are ``adaptive_avg_pool1d`` of the pre-classifier embedding to ``pool_dim`` columns
(:func:`semaudit.stats.dsb.pool_width`), L2-normalised only when ``normalize`` (the earlier
variant). The pool lives on the training device (a GPU write is an asynchronous copy).

Distributed (``torchrun``): each rank trains on its own share of every batch, so every write is
shared: :meth:`update` all-gathers the batch's ``(ids, rows)`` of every rank (padded to the
largest batch) and each rank applies the same writes in rank order, so the rows and statistics
stay identical on all ranks. A sample written by two ranks in one step (DistributedSampler's
padding) keeps the last rank's row. The collectives go through :mod:`semaudit.distributed`
(timeouts, one-line errors for a lost rank).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from semaudit.distributed import SETTINGS, Dist
from semaudit.stats.dsb import pool_width, weights_from_moments

__all__ = ["FeaturePool"]


@functools.cache
def _blas_controller() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


_FLUSH_ROWS = 65_536  # pending writes applied at the latest after this many rows


def _world() -> int:
    return Dist.current().world


class FeaturePool:
    """``N × w`` float32 rows by sample id, plus per-class float64 moments (see the module doc).

    ``dim`` is the width of the features written (the embedding); ``pool_dim`` the paper's
    pooled width (0: keep ``dim``); ``normalize`` L2-normalises the pooled rows.
    """

    def __init__(
        self,
        labels: np.ndarray,
        dim: int,
        n_classes: int,
        *,
        pool_dim: int = 0,
        normalize: bool = False,
        device: str = "cpu",
    ) -> None:
        self.labels = np.asarray(labels, dtype=np.int64)
        self.label_ids = torch.as_tensor(self.labels, device=device)
        self.n_classes = int(n_classes)
        self.device = device
        self.dim = int(dim)
        self.width = pool_width(self.dim, pool_dim)
        self.normalize = normalize
        n = self.labels.size
        self.features = torch.zeros((n, self.width), dtype=torch.float32, device=device)
        self.seen = torch.zeros(n, dtype=torch.bool, device=device)
        self._world: int | None = None
        self._pending: list[tuple[torch.Tensor, ...]] = []
        self._pending_rows = 0
        self._zero_moments()

    def _zero_moments(self) -> None:
        k, w, dev = self.n_classes, self.width, self.device
        self.count = torch.zeros(k, dtype=torch.float64, device=dev)
        self.total = torch.zeros((k, w), dtype=torch.float64, device=dev)
        self.outer = torch.zeros((k, w, w), dtype=torch.float64, device=dev)

    @property
    def nbytes(self) -> int:
        """Bytes of the rows (the moments add ``K·w²·8``)."""
        return self.features.numel() * self.features.element_size()

    @property
    def full(self) -> bool:
        return bool(self.seen.all())

    def rows(self, features: torch.Tensor) -> torch.Tensor:
        """What the pool stores for a batch of embeddings: pooled (and normalised) float32."""
        z = features.detach().float()
        if self.width != z.shape[1]:
            z = F.adaptive_avg_pool1d(z[:, None, :], self.width)[:, 0, :]
        if self.normalize:
            z = F.normalize(z, dim=1)
        return z

    def update(self, ids: torch.Tensor, features: torch.Tensor) -> None:
        """Replace the rows of samples ``ids`` with ``features``' and update the moments."""
        ids = ids.detach().to(self.device, non_blocking=True).long()
        new = self.rows(features).to(self.device, non_blocking=True)
        if self._world is None:
            self._world = _world()  # fixed for a run; looked up once
        if self._world > 1:
            ids, new = self._gather(ids, new)
        if ids.numel() == 0:
            return
        self._pending.append((self.label_ids[ids], new, self.features[ids], ~self.seen[ids]))
        self._pending_rows += int(ids.numel())
        self.features[ids] = new
        self.seen[ids] = True
        if self._pending_rows >= _FLUSH_ROWS:
            self._flush()

    def _flush(self) -> None:
        """Apply the writes since the last flush to the moments, all at once (in write order,
        so a sample written twice telescopes correctly)."""
        if not self._pending:
            return
        labels, new, old, added = (torch.cat(parts) for parts in zip(*self._pending, strict=True))
        self._pending, self._pending_rows = [], 0
        self._apply(labels, new.double(), old.double(), added)

    def _apply(
        self, labels: torch.Tensor, new: torch.Tensor, old: torch.Tensor, added: torch.Tensor
    ) -> None:
        """Moments += the new rows' terms − the replaced rows' (unseen rows are zero):
        ``Σzzᵀ_c += [new; old]ᵀ [new; −old]`` over the class's rows, one GEMM per class."""
        self.count.index_add_(0, labels, added.double())
        both = torch.cat([labels, labels])
        order = torch.argsort(both)
        z = torch.cat([new, old])[order]
        signed = torch.cat([new, -old])[order]
        self.total.index_add_(0, both[order], signed)
        start = 0
        for c, m in enumerate(torch.bincount(labels, minlength=self.n_classes).tolist()):
            if m:
                self.outer[c].addmm_(z[start : start + 2 * m].T, signed[start : start + 2 * m])
                start += 2 * m

    def _gather(self, ids: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Every rank's ``(ids, rows)`` of this step, in rank order; a duplicate id keeps its
        last row."""
        dist = Dist.current(rerun=SETTINGS.rerun_train)
        size = torch.tensor([ids.numel()], device=self.device)
        sizes = dist.all_gather_tensors(size)
        top = int(max(int(s) for s in sizes))
        pad_ids = torch.full((top,), -1, dtype=torch.long, device=self.device)
        pad_rows = torch.zeros((top, self.width), dtype=rows.dtype, device=self.device)
        pad_ids[: ids.numel()] = ids
        pad_rows[: ids.numel()] = rows
        all_ids = dist.all_gather_tensors(pad_ids)
        all_rows = dist.all_gather_tensors(pad_rows)
        ids_cat, rows_cat = torch.cat(all_ids), torch.cat(all_rows)
        flat = ids_cat.cpu().numpy()
        keep = np.zeros(flat.size, dtype=bool)
        last: dict[int, int] = {}
        for i, sample in enumerate(flat):
            if sample >= 0:
                last[int(sample)] = i
        keep[list(last.values())] = True
        index = torch.as_tensor(np.flatnonzero(keep), device=self.device)
        return ids_cat[index], rows_cat[index]

    def recompute(self) -> None:
        """The moments from the rows, from scratch (float64), one class at a time."""
        self._pending, self._pending_rows = [], 0
        self._zero_moments()
        seen = self.seen
        self.count.copy_(torch.bincount(self.label_ids[seen], minlength=self.n_classes).double())
        for c in np.flatnonzero(self.count.cpu().numpy()):
            z = self.features[(self.label_ids == int(c)) & seen].double()
            self.total[c] = z.sum(dim=0)
            self.outer[c] = z.T @ z

    def moments(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(count, Σz, Σzzᵀ)`` as float64 numpy arrays (a view on a CPU pool)."""
        self._flush()
        return (
            self.count.cpu().numpy(),
            self.total.cpu().numpy(),
            self.outer.cpu().numpy(),
        )

    def dsb_weights(
        self,
        *,
        interclass_alpha: float,
        gamma: float = 1.0,
        coding_alpha: float | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(weights summing to 1, S)`` of the rows in the pool (:func:`weights_from_moments`).

        LAPACK runs on one thread: K small Cholesky factorisations gain nothing from more, and
        BLAS threads left spinning after each call take the cores from torch's next step (the
        per-step refresh cost several times more without the limit on 2 cores)."""
        with _blas_controller().limit(limits=1):
            return weights_from_moments(
                *self.moments(),
                interclass_alpha=interclass_alpha,
                gamma=gamma,
                coding_alpha=coding_alpha,
            )

    def state(self) -> dict[str, torch.Tensor]:
        return {"pool.features": self.features, "pool.seen": self.seen}

    def load_state(self, tensors: dict[str, Any]) -> None:
        self.features = tensors["pool.features"].to(self.device).clone()
        self.seen = tensors["pool.seen"].to(self.device).clone().bool()
        self.recompute()
