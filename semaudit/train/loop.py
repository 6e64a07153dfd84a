"""The training loop, shared by the head and the image models, and batch iteration.

Determinism: the sample order of epoch e is a permutation seeded by ``(seed, e)`` (a
``DistributedSampler`` with ``set_epoch``: the same order whether one process or several, and
whether the run was resumed or not), and torch's global RNG is re-seeded from ``(seed, e)`` at
the start of each epoch (dropout, augmentation). The learning rate is a cosine of the epoch.
Under ``torchrun`` each rank takes its share of every epoch's permutation.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from semaudit.distributed import Dist
from semaudit.train.reweighter import Reweighter

__all__ = ["EpochRecord", "ImageBatches", "TensorBatches", "epoch_seed", "predict", "run_epoch"]

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def epoch_seed(seed: int, epoch: int) -> int:
    return (seed * 1_000_003 + epoch * 7_919 + 17) % (2**31 - 1)


def _sampler(n: int, seed: int, shuffle: bool) -> Any:
    """Training (``shuffle``) splits each epoch across ranks; evaluation sees every row."""
    from torch.utils.data import DistributedSampler

    dist = Dist.current() if shuffle else Dist()
    rank, world = dist.rank, dist.world
    return DistributedSampler(
        range(n),  # type: ignore[arg-type]
        num_replicas=world,
        rank=rank,
        shuffle=shuffle,
        seed=seed,
        drop_last=False,
    )


class TensorBatches:
    """Mini-batches ``(x, y, sample ids)`` of in-memory features (``--finetune head``)."""

    def __init__(
        self,
        features: np.ndarray,
        labels: np.ndarray,
        batch_size: int,
        *,
        seed: int = 0,
        device: str = "cpu",
        shuffle: bool = True,
    ) -> None:
        self.x = torch.as_tensor(np.asarray(features, dtype=np.float32)).to(device)
        self.y = torch.as_tensor(np.asarray(labels, dtype=np.int64)).to(device)
        self.batch_size = batch_size
        self.sampler = _sampler(len(self.y), seed, shuffle)

    def __len__(self) -> int:
        n = len(self.sampler)
        return max(1, n // self.batch_size + (n % self.batch_size > 1))

    def epoch(self, epoch: int) -> Iterator[Batch]:
        self.sampler.set_epoch(epoch)
        order = torch.as_tensor(list(iter(self.sampler)), dtype=torch.long)
        starts = list(range(0, len(order), self.batch_size))
        if len(starts) > 1 and len(order) - starts[-1] == 1:
            starts.pop()  # a last batch of one joins the previous one (BatchNorm needs two)
        for i, start in enumerate(starts):
            end = starts[i + 1] if i + 1 < len(starts) else len(order)
            ids = order[start:end].to(self.x.device)
            yield self.x[ids], self.y[ids], ids


def _collate(batch: list[tuple[Any, int, int, str]]) -> Batch | None:
    kept = [b for b in batch if b[0] is not None]
    if not kept:
        return None
    return (
        torch.stack([b[0] for b in kept]),
        torch.as_tensor([b[1] for b in kept], dtype=torch.long),
        torch.as_tensor([b[2] for b in kept], dtype=torch.long),
    )


class ImageBatches:
    """Mini-batches decoded from image files by DataLoader workers (``last`` / ``full``)."""

    def __init__(
        self,
        items: Sequence[Any],
        class_names: list[str],
        transform: Callable[[Any], Any],
        batch_size: int,
        *,
        seed: int = 0,
        device: str = "cpu",
        shuffle: bool = True,
        workers: int | None = None,
    ) -> None:
        from torch.utils.data import DataLoader

        from semaudit.data.dataset import ImageDataset, init_worker
        from semaudit.runtime import default_workers

        self.device = device
        self.batch_size = batch_size
        dataset = ImageDataset(list(items), class_names, transform)
        self.sampler = _sampler(len(dataset), seed, shuffle)
        workers = default_workers(device) if workers is None else workers
        self.loader: Any = DataLoader(
            dataset,
            batch_size=batch_size,
            sampler=self.sampler,
            num_workers=workers,
            collate_fn=_collate,
            worker_init_fn=init_worker if workers else None,
            pin_memory=device.startswith("cuda"),
            persistent_workers=False,
            prefetch_factor=4 if workers else None,
        )

    def __len__(self) -> int:
        return math.ceil(len(self.sampler) / self.batch_size)

    def epoch(self, epoch: int) -> Iterator[Batch]:
        self.sampler.set_epoch(epoch)
        for batch in self.loader:
            if batch is None:
                continue
            x, y, ids = batch
            x = x.to(self.device, non_blocking=True)
            if x.ndim == 4:
                x = x.contiguous(memory_format=torch.channels_last)
            yield x, y.to(self.device, non_blocking=True), ids


@dataclass(frozen=True)
class EpochRecord:
    """One finished epoch: what the curves and the history show."""

    epoch: int
    lr: float
    loss: float
    train_acc: float
    seconds: float  # training time of the epoch (evaluation excluded)
    val_macro_acc: float | None = None
    weights: list[float] | None = None  # per-class weights in force at the end of the epoch

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def cosine_lr(base: float, epoch: int, epochs: int) -> float:
    return base * 0.5 * (1.0 + math.cos(math.pi * epoch / epochs))


def _autocast(device: str, amp: bool) -> Any:
    if amp and device.startswith("cuda"):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    import contextlib

    return contextlib.nullcontext()


def run_epoch(
    model: nn.Module,
    weighting: Reweighter,
    batches: TensorBatches | ImageBatches,
    optimizer: torch.optim.Optimizer,
    *,
    epoch: int,
    epochs: int,
    base_lr: float,
    seed: int,
    device: str,
    amp: bool = False,
    on_step: Callable[[int], None] | None = None,
) -> EpochRecord:
    """Train one epoch; iteration numbers are ``epoch · len(batches) + step`` (resumable)."""
    torch.manual_seed(epoch_seed(seed, epoch))
    lr = cosine_lr(base_lr, epoch, epochs)
    for group in optimizer.param_groups:
        group["lr"] = lr
    model.train()
    iteration = epoch * len(batches)
    weighting.set_epoch(epoch, iteration)
    total_loss, right, seen = 0.0, 0, 0
    start = time.perf_counter()
    for x, y, ids in batches.epoch(epoch):
        with _autocast(device, amp):
            logits, features = model(x)
        loss = weighting.loss(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        weighting.step(ids, features)
        total_loss += float(loss.detach()) * len(y)
        right += int((logits.detach().argmax(1) == y).sum())
        seen += len(y)
        iteration += 1
        if on_step is not None:
            on_step(1)
    seconds = time.perf_counter() - start
    return EpochRecord(
        epoch,
        lr,
        total_loss / max(seen, 1),
        right / max(seen, 1),
        seconds,
        weights=None if (w := weighting.last_weights) is None else [float(v) for v in w],
    )


@torch.no_grad()
def predict(
    model: nn.Module, batches: TensorBatches | ImageBatches, *, device: str, amp: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """``(predictions, labels)`` over a whole split (raw logits: no prior adjustment)."""
    model.eval()
    preds, labels = [], []
    with _autocast(device, amp):
        for x, y, _ in batches.epoch(0):
            logits, _ = model(x)
            preds.append(logits.float().argmax(1).cpu().numpy())
            labels.append(y.cpu().numpy())
    if not preds:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(preds), np.concatenate(labels)
