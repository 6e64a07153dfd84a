"""Batched embedding of image files with a loaded backbone (torch imported lazily).

A DataLoader decodes ahead of the model (``workers`` processes); a bad image yields a reason
instead of a tensor. Work is cut into chunks of ``shard_size`` images (a multiple of the batch
size) so that a resumed scan recomputes exactly the batches an uninterrupted one would.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from semaudit.backbones import Backbone
from semaudit.data import ImageItem


@dataclass(frozen=True)
class EmbeddedChunk:
    """One chunk: ``features`` for the items whose ``reasons`` entry is empty, in order."""

    items: list[ImageItem]
    features: np.ndarray  # (n_ok, d) float32
    reasons: list[str]  # "" for embedded items, else why it was skipped


def default_workers() -> int:
    """Decoding processes: one core is left to the model (our choice)."""
    return max(0, min(8, (os.cpu_count() or 1) - 1))


def default_batch_size(backbone: Backbone) -> int:
    """Large batches on a GPU; on a CPU the family's measured best (docs/performance.md)."""
    return backbone.default_batch_size()


def compute_dtype(device: str) -> str:
    """What the model computes in: bf16 autocast on a GPU (recorded in audit.json)."""
    return "bfloat16" if device.startswith("cuda") else "float32"


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        from semaudit.errors import UsageError

        raise UsageError(
            f"device {device!r} requested but no CUDA device is visible; use device cpu or auto."
        )
    return device


def embed_items(
    items: Sequence[ImageItem],
    backbone: Backbone,
    *,
    batch_size: int | None = None,
    shard_size: int = 4096,
    workers: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> Iterator[EmbeddedChunk]:
    """Yield one ``EmbeddedChunk`` per ``shard_size`` items, in item order.

    On ``KeyboardInterrupt`` (Ctrl-C, or SIGTERM turned into one by the scan) the batches
    embedded so far are yielded as a last, shorter chunk before the interrupt propagates, so
    the caller can store them and a rerun resumes from there: a whole number of batches, so
    the rerun cuts the same batches as an uninterrupted scan.
    """
    import torch
    from torch.utils.data import DataLoader

    from semaudit.data.dataset import Collated, ImageDataset, collate_images, init_worker

    batch_size = batch_size or default_batch_size(backbone)
    shard_size = max(batch_size, shard_size - shard_size % batch_size)
    workers = default_workers() if workers is None else workers
    cuda = backbone.device.startswith("cuda")
    classes = sorted({item.label for item in items})
    loader: DataLoader[Collated] = DataLoader(
        ImageDataset(items, classes, backbone.transform),  # type: ignore[arg-type]
        batch_size=batch_size,
        shuffle=False,
        num_workers=workers,
        collate_fn=collate_images,
        worker_init_fn=init_worker if workers else None,
        pin_memory=cuda,
        prefetch_factor=4 if workers else None,
        persistent_workers=False,
    )
    if backbone.model is not None:  # channels_last: ~2× faster convolutions on CPU too
        backbone.model.to(memory_format=torch.channels_last)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if cuda else _null()  # compute_dtype
    start: int = 0
    rows: list[np.ndarray] = []
    reasons: list[str] = []
    try:
        with torch.inference_mode(), autocast:
            for batch in loader:
                if batch.images is not None:
                    x = batch.images.to(backbone.device, non_blocking=True)
                    if x.ndim == 4:
                        x = x.contiguous(memory_format=torch.channels_last)
                    rows.append(backbone.embed(x).float().cpu().numpy())
                reasons.extend(_batch_reasons(batch, start + len(reasons)))
                if on_progress is not None:
                    on_progress(batch.n_items)
                if len(reasons) == shard_size:
                    yield _chunk(
                        items[start : start + shard_size], rows, reasons, backbone.embed_dim
                    )
                    start, rows, reasons = start + shard_size, [], []
    except KeyboardInterrupt:
        if reasons:  # flush the whole batches done so far, then let the interrupt through
            done = len(reasons)
            chunk = _chunk(items[start : start + done], rows, reasons, backbone.embed_dim)
            rows, reasons = [], []
            yield chunk
        raise
    if reasons:
        yield _chunk(items[start:], rows, reasons, backbone.embed_dim)


def _batch_reasons(batch: Any, first: int) -> list[str]:
    """One reason per item of the batch, in order ("" for the embedded ones)."""
    reasons = [""] * batch.n_items
    for sample_id, reason in batch.reasons:
        reasons[sample_id - first] = reason
    return reasons


def _chunk(
    items: Sequence[ImageItem], rows: list[np.ndarray], reasons: list[str], dim: int
) -> EmbeddedChunk:
    features = np.concatenate(rows) if rows else np.zeros((0, dim), dtype=np.float32)
    # an interrupt between a batch's features and its reasons leaves rows no reason accounts for
    features = features[: sum(r == "" for r in reasons)]
    return EmbeddedChunk(list(items), features.astype(np.float32, copy=False), reasons)


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *args: object) -> None:
        return None
