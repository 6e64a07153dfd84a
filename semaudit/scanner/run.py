"""``scan``: data → embeddings (cached, resumable) → statistics → audit directory.

Steps: discover images; hash their bytes; reuse every stored embedding with the same content
hash and backbone key; embed the rest chunk by chunk (each chunk is a durable shard); analyse
class by class from the shards; write the audit files atomically, ``audit.json`` last.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from semaudit import __version__
from semaudit.backbones import backbone_key, resolve_backbone
from semaudit.data import (
    ImageItem,
    Inventory,
    discover_folder,
    hash_items,
    is_transient,
    read_manifest,
)
from semaudit.errors import UsageError
from semaudit.scanner.analysis import AnalysisResult, analyse
from semaudit.scanner.config import ScanConfig
from semaudit.store import (
    CLASSES_COLUMNS,
    CURVES_COLUMNS,
    SCHEMA_VERSION,
    SKIPPED_COLUMNS,
    remove_file,
    remove_stale_temps,
    write_csv,
    write_json,
)
from semaudit.store.lock import AuditLock
from semaudit.store.shards import ShardStore, iter_class_features

Event = Callable[[str, Any], None]


@dataclass(frozen=True)
class ScanResult:
    """What a scan did and where it wrote it."""

    out: Path
    n_images: int
    n_classes: int
    n_skipped: int
    n_embedded: int
    n_reused: int
    backbone: str
    warnings: list[str] = field(default_factory=list)
    analysis: AnalysisResult | None = None


def _inventory(
    data: str | os.PathLike[str] | None,
    manifest: str | os.PathLike[str] | None,
    split: str | None,
    allow_outside_root: bool,
) -> Inventory:
    if manifest is not None:
        return read_manifest(
            manifest, root=data, split=split, allow_outside_root=allow_outside_root
        )
    if data is None:
        raise UsageError("give a data folder (semaudit scan DATA) or --manifest FILE.")
    return discover_folder(data)


def scan(
    data: str | os.PathLike[str] | None = None,
    *,
    out: str | os.PathLike[str] = "audit",
    manifest: str | os.PathLike[str] | None = None,
    split: str | None = None,
    allow_outside_root: bool = False,
    config: ScanConfig | None = None,
    on_event: Event | None = None,
    **overrides: Any,
) -> ScanResult:
    """Audit a dataset. ``overrides`` are ``ScanConfig`` fields (``backbone="pixels"``, …).

    ``on_event(kind, payload)`` receives ``("warning", str)``, ``("stage", str)``,
    ``("embed_start", n)`` and ``("embed_progress", n)``; the library itself never prints.
    """
    config = (config or ScanConfig()).overlay(overrides, "scan() arguments")
    emit: Event = on_event or (lambda kind, payload: None)
    started = time.perf_counter()
    inventory = _inventory(data, manifest, split, allow_outside_root)
    out = Path(out)
    with AuditLock(out):
        remove_stale_temps(out)
        emit("stage", f"hashing {len(inventory.items)} files")
        hashes = hash_items(inventory.items)
        skipped = list(inventory.skipped)
        items: list[ImageItem] = []
        item_hashes: list[str] = []
        for item, digest in zip(inventory.items, hashes, strict=True):
            if digest is None:
                gone = not os.path.lexists(item.abspath)
                skipped.append((item.path, "missing: file disappeared after it was listed" if gone
                                else "i/o error: the file could not be read"))  # fmt: skip
            else:
                items.append(item)
                item_hashes.append(digest)
        spec, warning = resolve_backbone(config.backbone, config.weights)
        warnings = [warning] if warning else []
        if warning:
            emit("warning", warning)
        key = backbone_key(spec)
        # audit.json is the commit mark: gone from the first change to the directory, written
        # last, so a reader never takes a mix of two scans (or an interrupted one) as an audit.
        remove_file(out / "audit.json")
        store = ShardStore(out / "embeddings", key, config.dtype)
        for what in store.discarded:
            emit("warning", f"discarded stored embeddings: {what}; recomputing them")
        cached = store.cached_rows().set_index("hash")
        pending = _pending(item_hashes, cached)
        embed_s, device, embed_dim = 0.0, "none", None
        if pending:
            tick = time.perf_counter()
            device, embed_dim = _embed_pending(
                items, item_hashes, pending, spec, store, config, emit
            )
            embed_s = time.perf_counter() - tick
            cached = store.cached_rows().set_index("hash")
        index, failures = _live_index(items, item_hashes, cached)
        skipped += failures
        store.write_index(index)
        class_names = list(inventory.classes)
        counts = index["label"].value_counts().reindex(class_names, fill_value=0).to_numpy()
        emit("stage", "computing statistics")
        tick = time.perf_counter()
        result = analyse(
            iter_class_features(out, class_names), class_names, counts, config,
            n_skipped=len(skipped),
        )  # fmt: skip
        timings = {"embed_s": embed_s, **result.timings, "analysis_s": time.perf_counter() - tick}
        timings["total_s"] = time.perf_counter() - started
        _write_audit(out, inventory, manifest, spec.id, key, config, result, skipped, timings,
                     device, embed_dim or _stored_dim(store))  # fmt: skip
    return ScanResult(
        out, int(counts.sum()), len(class_names), len(skipped), len(pending),
        len(items) - len(pending), spec.id, warnings, result,
    )  # fmt: skip


def _pending(hashes: list[str], cached: pd.DataFrame) -> list[int]:
    """Items to embed: each content not stored yet (or stored as a transient failure), once.

    Embedding every content once, in path order, makes a resumed scan cut the same batches as
    an uninterrupted one, whichever twin files landed in the finished shards.
    """
    retry = set(cached.index[[is_transient(r) for r in cached["reason"].fillna("")]])
    pending, queued = [], set()
    for i, digest in enumerate(hashes):
        if (digest not in cached.index or digest in retry) and digest not in queued:
            pending.append(i)
            queued.add(digest)
    return pending


def _embed_pending(
    items: list[ImageItem],
    hashes: list[str],
    pending: list[int],
    spec: Any,
    store: ShardStore,
    config: ScanConfig,
    emit: Event,
) -> tuple[str, int]:
    from semaudit.backbones import load_backbone
    from semaudit.scanner.embed import embed_items, resolve_device

    device = resolve_device(config.device)
    emit("stage", f"loading {spec.id} on {device}")
    backbone = load_backbone(spec, device)
    todo = [items[i] for i in pending]
    todo_hashes = [hashes[i] for i in pending]
    emit("embed_start", len(todo))
    done = 0
    chunks = embed_items(
        todo, backbone, batch_size=config.batch_size, shard_size=config.shard_size,
        workers=config.workers, on_progress=lambda n: emit("embed_progress", n),
    )  # fmt: skip
    for chunk in chunks:
        ok = np.array([r == "" for r in chunk.reasons])
        rows = pd.DataFrame({
            "path": [i.path for i in chunk.items],
            "label": [i.label for i in chunk.items],
            "size": [i.size for i in chunk.items],
            "mtime": [i.mtime for i in chunk.items],
            "hash": todo_hashes[done : done + len(chunk.items)],
            "row": np.where(ok, np.cumsum(ok) - 1, -1),
            "reason": chunk.reasons,
        })  # fmt: skip
        store.add_shard(chunk.features, rows)
        done += len(chunk.items)
    return device, backbone.embed_dim


def _live_index(
    items: list[ImageItem], hashes: list[str], cached: pd.DataFrame
) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """Current items → stored rows by content hash; failed decodes become skipped entries."""
    hit = cached.loc[hashes]
    ok = hit["row"].to_numpy() >= 0
    failures = [
        (i.path, r) for i, r, good in zip(items, hit["reason"], ok, strict=True) if not good
    ]
    index = pd.DataFrame({
        "path": [i.path for i in items],
        "label": [i.label for i in items],
        "size": [i.size for i in items],
        "mtime": [i.mtime for i in items],
        "hash": hashes,
        "shard": hit["shard"].to_numpy(dtype=np.int64),
        "row": hit["row"].to_numpy(dtype=np.int64),
    })[ok]  # fmt: skip
    return index, failures


def _stored_dim(store: ShardStore) -> int | None:
    for shard in store.shards:
        return int(np.load(store.folder / shard["file"], mmap_mode="r").shape[1])
    return None


def _write_audit(
    out: Path,
    inventory: Inventory,
    manifest: str | os.PathLike[str] | None,
    backbone_id: str,
    key: dict[str, Any],
    config: ScanConfig,
    result: AnalysisResult,
    skipped: list[tuple[str, str]],
    timings: dict[str, float],
    device: str,
    embed_dim: int | None,
) -> None:
    import torch

    write_csv(out / "classes.csv", result.classes, CLASSES_COLUMNS)
    write_csv(out / "curves.csv", result.curves, CURVES_COLUMNS)
    write_csv(out / "skipped.csv", pd.DataFrame(sorted(skipped), columns=SKIPPED_COLUMNS))
    write_json(out / "weights.json", result.weights)
    write_json(out / "summary.json", result.summary)
    settings = {
        **{k: v for k, v in config.to_dict().items() if k not in ("backbone", "weights")},
        "alpha_used": result.alpha_used,
        "matched_m": result.matched_m,
    }
    meta = {
        "schema_version": SCHEMA_VERSION,
        "semaudit_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": {
            "kind": "manifest" if manifest is not None else "folder",
            "root": str(inventory.root.resolve()),
            "manifest": str(Path(manifest).resolve()) if manifest is not None else None,
        },
        "backbone": {
            "id": backbone_id,
            "weights_digest": key["weights_digest"],
            "embed_dim": embed_dim,
            "preprocessing": {"version": key["preprocessing_version"]},
            "weights_path": config.weights,
        },
        "settings": settings,
        "counts": {
            "images": int(result.classes["n"].sum()),
            "classes": len(result.classes),
            "skipped": len(skipped),
        },
        "timings": {k: round(v, 3) for k, v in timings.items()},
        "environment": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "device": device,
        },
    }
    write_json(out / "audit.json", meta)
