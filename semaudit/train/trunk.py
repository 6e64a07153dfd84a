"""``--finetune last`` without augmentation: the frozen trunk runs once, its output is cached.

A backbone that declares ``split = (trunk, tail)`` (``model(x) == tail(trunk(x))``, the tail
holding ``last_block``) lets an epoch cost only the tail. With ``augment = false`` every image
of a split goes through the frozen trunk once, in eval mode with the evaluation transform, and
the output is stored as float16 in the audit directory, ``cache/trunk-<key>.npy``. The key is a
digest of the backbone id and weights digest, its preprocessing, and the content hashes of the
split's images in order: a changed image, weights file or transform gives another file, the way
the embedding cache is invalidated (docs/train.md, "Cached last").
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from semaudit.backbones import Backbone
from semaudit.data import ImageItem
from semaudit.data.hashing import hash_items
from semaudit.errors import BackboneError, InputError
from semaudit.store.io import atomic_write_bytes

__all__ = ["CACHE_FOLDER", "TrunkOutputs", "cache_key", "split_backbone", "trunk_outputs"]

CACHE_FOLDER = "cache"


@dataclasses.dataclass(frozen=True)
class TrunkOutputs:
    """A split's trunk outputs ``(n_kept, …)`` float16 and the item rows they belong to."""

    values: np.ndarray
    kept: np.ndarray  # (n_kept,) int64 rows of the split's items
    path: Path
    reused: bool


def split_backbone(backbone: Backbone) -> tuple[nn.Module, nn.Module]:
    """The backbone's ``(trunk, tail)``, or a ``BackboneError`` saying how to go without it."""
    if backbone.split is None:
        raise BackboneError(
            f"backbone {backbone.spec.id} does not declare a trunk/tail split, so its trunk "
            "cannot be cached; set augment = true (or use --finetune head)."
        )
    trunk, tail = backbone.split
    return trunk, tail


def cache_key(backbone: Backbone, hashes: Sequence[str]) -> str:
    """Digest of what the cached outputs depend on (backbone, weights, transform, images)."""
    identity = {
        "backbone": backbone.spec.id,
        "weights_digest": backbone.weights_digest,
        "preprocessing": backbone.preprocessing,
        "split": "last_block",
    }
    digest = hashlib.blake2b(json.dumps(identity, sort_keys=True).encode(), digest_size=16)
    for h in hashes:
        digest.update(h.encode())
    return digest.hexdigest()


def _content_hashes(items: Sequence[ImageItem]) -> list[str]:
    hashes = hash_items(items)
    missing = [item.path for item, h in zip(items, hashes, strict=True) if h is None]
    if missing:
        raise InputError(
            f"{len(missing)} images cannot be read to cache the trunk's output (e.g. "
            f"{missing[0]}); restore them or rescan."
        )
    return [h for h in hashes if h is not None]


def _compute(
    items: Sequence[ImageItem],
    backbone: Backbone,
    trunk: nn.Module,
    workers: int | None,
    on_progress: Callable[[int], None] | None,
) -> tuple[np.ndarray, np.ndarray]:
    from semaudit.scanner.embed import embed_items

    trunk.eval()
    runner = dataclasses.replace(backbone, model=trunk)
    values: list[np.ndarray] = []
    kept: list[int] = []
    offset = 0
    for chunk in embed_items(items, runner, workers=workers, on_progress=on_progress):
        if len(chunk.features):
            values.append(chunk.features.astype(np.float16))
        kept.extend(offset + i for i, reason in enumerate(chunk.reasons) if not reason)
        offset += len(chunk.reasons)
    if not values:
        raise InputError("no image of the split could be decoded to cache the trunk's output.")
    return np.concatenate(values), np.asarray(kept, dtype=np.int64)


def trunk_outputs(
    items: Sequence[ImageItem],
    backbone: Backbone,
    audit_dir: Path,
    *,
    workers: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> TrunkOutputs:
    """The trunk's output for every decodable item, read from the cache or computed once."""
    trunk, _ = split_backbone(backbone)
    key = cache_key(backbone, _content_hashes(items))
    path = Path(audit_dir) / CACHE_FOLDER / f"trunk-{key}.npz"
    if path.is_file():
        with np.load(path) as stored:
            return TrunkOutputs(stored["values"], stored["kept"], path, True)
    with torch.no_grad():
        values, kept = _compute(items, backbone, trunk, workers, on_progress)
    buffer = io.BytesIO()
    np.savez(buffer, values=values, kept=kept)
    atomic_write_bytes(path, buffer.getvalue())
    return TrunkOutputs(values, kept, path, False)


class CachedTail(nn.Module):
    """``forward(trunk output) -> (logits, pooled features)``: the tail and a classifier.

    The trainable part of ``--finetune last`` on cached trunk outputs; ``tail`` shares its
    parameters with the backbone, so saving the backbone saves what was trained.
    """

    def __init__(self, tail: nn.Module, classifier: nn.Module) -> None:
        super().__init__()
        self.tail = tail
        self.classifier = classifier

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.tail(x.float()).float()
        return self.classifier(features), features


def describe(outputs: TrunkOutputs) -> dict[str, Any]:
    """What a run records about its cache: file, shape, reused or computed."""
    return {
        "file": outputs.path.name,
        "shape": list(outputs.values.shape),
        "reused": outputs.reused,
    }
