"""Batched embedding of image files with a loaded backbone (torch imported lazily).

A DataLoader decodes ahead of the model (``workers`` processes; none on a small CPU machine,
``semaudit.runtime.cpu_plan``); a bad image yields a reason instead of a tensor. Work is cut
into chunks of ``shard_size`` images (a multiple of the batch size) so that a resumed scan
recomputes exactly the batches an uninterrupted one would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from semaudit.backbones import Backbone
from semaudit.data import ImageItem
from semaudit.runtime import apply_threads, cpu_plan, default_workers, resolve_device

__all__ = [
    "EmbeddedChunk",
    "compute_dtype",
    "default_batch_size",
    "default_workers",  # moved to semaudit.runtime; re-exported for callers of this module
    "embed_items",
    "resolve_device",  # likewise
]


@dataclass(frozen=True)
class EmbeddedChunk:
    """One chunk: ``features`` for the items whose ``reasons`` entry is empty, in order."""

    items: list[ImageItem]
    features: np.ndarray  # (n_ok, d) float32
    reasons: list[str]  # "" for embedded items, else why it was skipped


def default_batch_size(backbone: Backbone) -> int:
    """Large batches on a GPU; on a CPU the family's measured best (docs/performance.md)."""
    return backbone.default_batch_size()


def compute_dtype(device: str) -> str:
    """What the model computes in: bf16 autocast on a GPU (recorded in audit.json)."""
    return "bfloat16" if device.startswith("cuda") else "float32"


def embed_items(
    items: Sequence[ImageItem],
    backbone: Backbone,
    *,
    batch_size: int | None = None,
    shard_size: int = 4096,
    workers: int | None = None,
    threads: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> Iterator[EmbeddedChunk]:
    """Yield one ``EmbeddedChunk`` per ``shard_size`` items, in item order.

    ``workers`` decoding processes and ``threads`` torch threads for the model (None: the plan
    of ``semaudit.runtime.cpu_plan`` for this machine); torch's thread count is restored after.
    On ``KeyboardInterrupt`` (Ctrl-C, or SIGTERM turned into one by the scan) the batches
    embedded so far are yielded as a last, shorter chunk before the interrupt propagates, so
    the caller can store them and a rerun resumes from there: a whole number of batches, so
    the rerun cuts the same batches as an uninterrupted scan.
    """
    batch_size = batch_size or default_batch_size(backbone)
    shard_size = max(batch_size, shard_size - shard_size % batch_size)
    plan = cpu_plan(workers, backbone.device)
    before = apply_threads(plan.threads if threads is None else threads)
    try:
        loader = _loader(items, backbone, batch_size, plan.workers)
        yield from _embed_batches(items, backbone, loader, shard_size, on_progress)
    finally:
        apply_threads(before)


def _loader(items: Sequence[ImageItem], backbone: Backbone, batch_size: int, workers: int) -> Any:
    """Batches in item order, decoded by ``workers`` processes (0: in this process)."""
    from torch.utils.data import DataLoader

    from semaudit.data.dataset import ImageDataset, collate_images, init_worker

    classes = sorted({item.label for item in items})
    return DataLoader(
        ImageDataset(items, classes, backbone.transform),
        batch_size=batch_size,
        shuffle=False,
        num_workers=workers,
        collate_fn=collate_images,
        worker_init_fn=init_worker if workers else None,
        pin_memory=backbone.device.startswith("cuda"),
        prefetch_factor=4 if workers else None,
        persistent_workers=False,
    )


def _embed_batches(
    items: Sequence[ImageItem],
    backbone: Backbone,
    loader: Any,
    shard_size: int,
    on_progress: Callable[[int], None] | None,
) -> Iterator[EmbeddedChunk]:
    """Run the model over the loader's batches; chunk, and flush on an interrupt."""
    import torch

    if backbone.model is not None:  # channels_last: ~2× faster convolutions on CPU too
        backbone.model.to(memory_format=torch.channels_last)
    cuda = backbone.device.startswith("cuda")
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if cuda else _null()  # compute_dtype
    start: int = 0
    rows: list[np.ndarray] = []
    reasons: list[str] = []
    try:
        with torch.inference_mode(), autocast:
            for batch in loader:
                if batch.images is not None:
                    rows.append(_forward(backbone, batch.images))
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


def _forward(backbone: Backbone, images: Any) -> np.ndarray:
    import torch

    x = images.to(backbone.device, non_blocking=True)
    if x.ndim == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return backbone.embed(x).float().cpu().numpy()


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
