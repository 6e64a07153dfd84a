"""``scan``: data → embeddings (cached, resumable) → statistics → audit directory.

Steps: discover images; hash their bytes; reuse every stored embedding with the same content
hash and backbone key; embed the rest chunk by chunk (each chunk is a durable shard); analyse
class by class from the shards; write the audit files atomically, ``audit.json`` last.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from semaudit.backbones import backbone_key, resolve_backbone
from semaudit.data import (
    ImageItem,
    Inventory,
    discover_source,
    hash_items,
    is_transient,
    read_manifest,
)
from semaudit.distributed import Dist, split_evenly
from semaudit.errors import LockedError, SemauditError, UsageError
from semaudit.runtime import CpuPlan, cpu_plan, resolve_device
from semaudit.scanner.analysis import AnalysisResult, analyse
from semaudit.scanner.config import ScanConfig
from semaudit.scanner.job import (
    Calibration,
    check_out,
    job_lock,
    remove_unfinished,
    sigterm_as_interrupt,
)
from semaudit.scanner.writer import write_audit
from semaudit.store import (
    AUDIT_JSON,
    EMBEDDINGS_DIR,
    remove_file,
    remove_stale_temps,
)
from semaudit.store.shards import RankShards, ShardStore, iter_class_features

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
    config: ScanConfig,
) -> Inventory:
    if manifest is not None:
        return read_manifest(
            manifest, root=data, split=split, allow_outside_root=allow_outside_root
        )
    if data is None:
        raise UsageError("give a data folder or a manifest (a CSV/parquet of path,label).")
    return discover_source(data, image_column=config.image_column, label_column=config.label_column)


def scan(
    data: str | os.PathLike[str] | None = None,
    *,
    out: str | os.PathLike[str] = "audit",
    manifest: str | os.PathLike[str] | None = None,
    split: str | None = None,
    allow_outside_root: bool = False,
    config: ScanConfig | None = None,
    on_event: Event | None = None,
    overwrite: bool = False,
    **overrides: Any,
) -> ScanResult:
    """Audit a dataset. ``overrides`` are ``ScanConfig`` fields (``backbone="pixels"``, …).

    ``out`` must not be the data, lie inside it, or hold an audit of other data (unless
    ``overwrite``): see ``scanner.job.check_out``.

    ``on_event(kind, payload)`` receives ``("warning", str)``, ``("stage", str)``,
    ``("embed_start", n)`` and ``("embed_progress", n)``; the library itself never prints.

    Under ``torchrun`` (``WORLD_SIZE`` > 1) the ranks split the images to embed; rank 0 holds
    the audit's lock, merges the ranks' shards and writes the audit; the other ranks return a
    result without ``analysis`` and send no events. SIGTERM (Slurm, CI) is handled like
    Ctrl-C: the batches embedded so far are stored, then ``KeyboardInterrupt`` propagates.
    """
    config = (config or ScanConfig()).overlay(overrides, "scan() arguments")
    dist = Dist.from_env()
    emit: Event = (on_event if dist.is_main else None) or (lambda kind, payload: None)
    started = time.perf_counter()
    inventory = _inventory(data, manifest, split, allow_outside_root, config)
    out = Path(out)
    check_out(out, inventory.root, manifest, overwrite=overwrite, scanned=data)
    created = not out.exists() and dist.is_main
    try:
        with sigterm_as_interrupt():
            if dist.enabled:
                dist.start(_dist_device(config, dist))
            try:
                return _scan_locked(inventory, out, manifest, config, dist, emit, started)
            finally:
                dist.stop()
    except LockedError:
        raise  # the folder is another scan's: touch nothing
    except BaseException:
        if created:
            remove_unfinished(out)
        raise


def _scan_locked(
    inventory: Inventory,
    out: Path,
    manifest: str | os.PathLike[str] | None,
    config: ScanConfig,
    dist: Dist,
    emit: Event,
    started: float,
) -> ScanResult:
    with job_lock(out, dist):
        if dist.is_main:
            remove_stale_temps(out)
        emit("stage", f"hashing {len(inventory.items)} files")
        items, item_hashes, skipped = _hash_usable(inventory, dist)
        spec, warning = resolve_backbone(config.backbone, config.weights)
        warnings = [warning] if warning else []
        if warning:
            emit("warning", warning)
        key = backbone_key(spec)
        store, cached, plan = _open_store(out, key, config, item_hashes, dist, emit)
        pending, first_id = dist.broadcast(plan)
        embedded = _Embedded()
        if pending:
            tick = time.perf_counter()
            writer: ShardStore | RankShards
            if dist.enabled:
                writer = RankShards(out / EMBEDDINGS_DIR, key, config.dtype, dist.rank,
                                    dist.world, first_id)  # fmt: skip
            else:
                assert store is not None
                writer = store
            embedded = _embed_pending(items, item_hashes, pending, spec, writer, config, emit, dist)
            embedded.seconds = time.perf_counter() - tick
        if dist.enabled:
            dist.gather(embedded.dim)  # every rank has stored its shards (or the job fails)
            if not dist.is_main:
                return ScanResult(out, 0, len(inventory.classes), 0, 0, 0, spec.id, warnings, None)
        assert store is not None
        if pending:
            store.merge_rank_listings()
            cached = store.cached_rows().set_index("hash")
        done = _analyse_and_write(
            inventory, out, manifest, config, store, cached, items, item_hashes, skipped,
            spec.id, key, embedded, emit, started,
        )  # fmt: skip
    n_images, n_skipped, result = done
    return ScanResult(
        out, n_images, len(inventory.classes), n_skipped, len(pending),
        len(items) - len(pending), spec.id, warnings, result,
    )  # fmt: skip


@dataclass
class _Embedded:
    """What the embedding stage of a scan did: for audit.json (nothing embedded: defaults)."""

    device: str = "none"
    dim: int | None = None
    seconds: float = 0.0
    cpu: CpuPlan | None = None


def _hash_usable(
    inventory: Inventory, dist: Dist
) -> tuple[list[ImageItem], list[str], list[tuple[str, str]]]:
    """The items whose bytes could be read, their hashes, and the skipped ``(path, reason)``."""
    hashes = _hash(inventory.items, dist)
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
    return items, item_hashes, skipped


def _open_store(
    out: Path, key: Any, config: ScanConfig, item_hashes: list[str], dist: Dist, emit: Event
) -> tuple[ShardStore | None, pd.DataFrame, tuple[list[int], int] | SemauditError]:
    """On the main process: the shard store, its stored rows by hash, and what to embed (rows
    pending, first shard id).

    Under torchrun an error is returned (to be broadcast, so every rank raises it) not raised.
    """
    if not dist.is_main:
        return None, pd.DataFrame(), ([], 0)
    try:
        # audit.json is the commit mark: gone from the first change to the directory, written
        # last, so a reader never takes a mix of two scans (or an interrupted one) as an audit.
        remove_file(out / AUDIT_JSON)
        store = ShardStore(out / EMBEDDINGS_DIR, key, config.dtype)
        for what in store.discarded:
            emit("warning", f"discarded stored embeddings: {what}; recomputing them")
        cached = store.cached_rows().set_index("hash")
        return store, cached, (_pending(item_hashes, cached), store.next_id())
    except SemauditError as exc:
        if not dist.enabled:
            raise
        return None, pd.DataFrame(), exc


def _analyse_and_write(
    inventory: Inventory,
    out: Path,
    manifest: str | os.PathLike[str] | None,
    config: ScanConfig,
    store: ShardStore,
    cached: pd.DataFrame,
    items: list[ImageItem],
    item_hashes: list[str],
    skipped: list[tuple[str, str]],
    backbone_id: str,
    key: Any,
    embedded: _Embedded,
    emit: Event,
    started: float,
) -> tuple[int, int, AnalysisResult]:
    """Index the live items, analyse class by class, write the audit; (images, skipped, result)."""
    index, failures = _live_index(items, item_hashes, cached)
    skipped = skipped + failures
    store.write_index(index)
    class_names = list(inventory.classes)
    counts = index["label"].value_counts().reindex(class_names, fill_value=0).to_numpy()
    emit("stage", "computing statistics")
    tick = time.perf_counter()
    result = analyse(
        iter_class_features(out, class_names), class_names, counts, config,
        n_skipped=len(skipped),
    )  # fmt: skip
    timings = {"embed_s": embedded.seconds, **result.timings,
               "analysis_s": time.perf_counter() - tick}  # fmt: skip
    timings["total_s"] = time.perf_counter() - started
    write_audit(out, inventory, manifest, backbone_id, key, config, result, skipped, timings,
                embedded.device, embedded.dim or _stored_dim(store), cpu=embedded.cpu)  # fmt: skip
    return int(counts.sum()), len(skipped), result


def _dist_device(config: ScanConfig, dist: Dist) -> str:
    return dist.device(resolve_device(config.device))


def _hash(items: list[ImageItem], dist: Dist) -> list[str | None]:
    """Content hashes; under torchrun each rank hashes every world-th file, then all share."""
    if not dist.enabled:
        return hash_items(items)
    parts = dist.gather(hash_items(items[dist.rank :: dist.world]))
    hashes: list[str | None] = [None] * len(items)
    for rank, part in enumerate(parts):
        hashes[rank :: dist.world] = part
    return hashes


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
    store: ShardStore | RankShards,
    config: ScanConfig,
    emit: Event,
    dist: Dist,
) -> _Embedded:
    from semaudit.backbones import load_backbone
    from semaudit.scanner.embed import default_batch_size, embed_items

    device = dist.device(resolve_device(config.device))
    cpu = cpu_plan(config.workers, device)
    emit("stage", f"loading {spec.id} on {device}")
    backbone = load_backbone(spec, device)
    batch_size = config.batch_size or default_batch_size(backbone)
    n_pending = len(pending)
    if dist.enabled:  # this rank's block of whole batches: the batches one process would form
        block = split_evenly(len(pending), dist.world, batch_size)[dist.rank]
        pending = pending[block.start : block.stop]
    todo = [items[i] for i in pending]
    todo_hashes = [hashes[i] for i in pending]
    emit("embed_start", len(todo))
    done = 0
    calibrate = Calibration(n_pending, len(todo), backbone.embed_dim, config.dtype, emit)
    chunks = embed_items(
        todo, backbone, batch_size=batch_size, shard_size=config.shard_size,
        workers=cpu.workers, threads=cpu.threads, on_progress=calibrate,
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
    return _Embedded(device, backbone.embed_dim, cpu=cpu)


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
