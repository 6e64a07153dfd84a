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
from semaudit.data import ImageItem, load_image


@dataclass(frozen=True)
class EmbeddedChunk:
    """One chunk: ``features`` for the items whose ``reasons`` entry is empty, in order."""

    items: list[ImageItem]
    features: np.ndarray  # (n_ok, d) float32
    reasons: list[str]  # "" for embedded items, else why it was skipped


def default_workers() -> int:
    """Decoding processes: one core is left to the model (our choice)."""
    return max(0, min(8, (os.cpu_count() or 1) - 1))


_CPU_BATCH = {"efficientnet-lite0": 8, "torchvision": 8, "openclip": 64, "pixels": 256}


def default_batch_size(backbone: Backbone) -> int:
    """Large batches on a GPU; on a CPU what measured fastest (our choice, docs/performance.md):
    convolutional nets run best at 8 (activations stay in cache), ViTs at 64."""
    if backbone.device.startswith("cuda"):
        return 256
    return _CPU_BATCH.get(backbone.spec.family, 32)


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        from semaudit.errors import UsageError

        raise UsageError("--device cuda requested but no CUDA device is visible; use --device cpu.")
    return device


class _Images:
    """Map-style dataset: index → (tensor or None, index, reason)."""

    def __init__(self, items: Sequence[ImageItem], transform: Callable[[Any], Any]) -> None:
        self.items = items
        self.transform = transform

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[Any, int, str]:
        image, reason = load_image(self.items[i].abspath)
        if image is None:
            return None, i, reason
        try:
            return self.transform(image), i, ""
        except Exception as exc:  # a transform failing on one odd image must not stop the scan
            return None, i, f"unreadable: preprocessing failed ({type(exc).__name__}: {exc})"


def _one_thread(worker_id: int) -> None:
    """Decoding workers use one thread each: the model's threads keep the cores."""
    import torch

    torch.set_num_threads(1)


def _collate(batch: list[tuple[Any, int, str]]) -> tuple[Any, list[int], list[str]]:
    import torch

    tensors = [t for t, _, _ in batch if t is not None]
    stacked = torch.stack(tensors) if tensors else None
    return stacked, [i for _, i, _ in batch], [r for _, _, r in batch]


def embed_items(
    items: Sequence[ImageItem],
    backbone: Backbone,
    *,
    batch_size: int | None = None,
    shard_size: int = 4096,
    workers: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> Iterator[EmbeddedChunk]:
    """Yield one ``EmbeddedChunk`` per ``shard_size`` items, in item order."""
    import torch
    from torch.utils.data import DataLoader

    batch_size = batch_size or default_batch_size(backbone)
    shard_size = max(batch_size, shard_size - shard_size % batch_size)
    workers = default_workers() if workers is None else workers
    cuda = backbone.device.startswith("cuda")
    loader: DataLoader[tuple[Any, int, str]] = DataLoader(
        _Images(items, backbone.transform),  # type: ignore[arg-type]
        batch_size=batch_size,
        shuffle=False,
        num_workers=workers,
        collate_fn=_collate,
        worker_init_fn=_one_thread if workers else None,
        pin_memory=cuda,
        prefetch_factor=4 if workers else None,
        persistent_workers=False,
    )
    if backbone.model is not None:  # channels_last: ~2× faster convolutions on CPU too
        backbone.model.to(memory_format=torch.channels_last)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if cuda else _null()
    start, rows, reasons = 0, [], []
    with torch.inference_mode(), autocast:
        for batch, _, batch_reasons in loader:
            if batch is not None:
                x = batch.to(backbone.device, non_blocking=True)
                if x.ndim == 4:
                    x = x.contiguous(memory_format=torch.channels_last)
                rows.append(backbone.embed(x).float().cpu().numpy())
            reasons.extend(batch_reasons)
            if on_progress is not None:
                on_progress(len(batch_reasons))
            if len(reasons) == shard_size:
                yield _chunk(items[start : start + shard_size], rows, reasons, backbone.embed_dim)
                start, rows, reasons = start + shard_size, [], []
    if reasons:
        yield _chunk(items[start:], rows, reasons, backbone.embed_dim)


def _chunk(
    items: Sequence[ImageItem], rows: list[np.ndarray], reasons: list[str], dim: int
) -> EmbeddedChunk:
    features = np.concatenate(rows) if rows else np.zeros((0, dim), dtype=np.float32)
    return EmbeddedChunk(list(items), features.astype(np.float32, copy=False), reasons)


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *args: object) -> None:
        return None
