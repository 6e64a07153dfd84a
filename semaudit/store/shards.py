"""Embedding shards: content-addressed, crash-safe, resumable (numpy + pandas only).

``embeddings/`` holds ``shard-NNNNN.npy`` (rows × d raw features) with ``shard-NNNNN.parquet``
(those rows' path, label, size, mtime, hash). ``shards.json`` lists the finished shards with
their SHA-256 (features and rows) and the backbone key; it is rewritten atomically *after* a
shard's files, so a crash leaves at most an unlisted shard, which is deleted. A listed shard
whose files are missing or fail their checksum is deleted and recomputed, never used.
``index.parquet`` maps every live image to ``(shard, row)``. A re-scan reuses any row whose
content hash is already stored.

In a multi-process scan (``torchrun``) every rank writes through a ``RankShards``: shard ids
``first + k × world + rank`` cannot collide, and each rank lists its finished shards in its own
``shards-rankNNN.json``. Rank 0 folds those listings into ``shards.json`` when the ranks are
done, and when a store is opened (so the shards of a rank that died are resumed, not lost).
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from semaudit.checksum import file_checksum
from semaudit.errors import AuditError
from semaudit.store.io import atomic_write_bytes, read_json, write_json
from semaudit.store.schema import CLASSES_CSV, EMBEDDINGS_DIR, INDEX_PARQUET

INDEX_COLUMNS = ["path", "label", "size", "mtime", "hash", "shard", "row"]
_ROW_COLUMNS = ["path", "label", "size", "mtime", "hash", "row", "reason"]
_RANK_LISTING = "shards-rank{rank:03d}.json"


def _sha256(path: Path) -> str:
    return file_checksum(path, "sha256")


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def _intact(folder: Path, shard: dict[str, Any]) -> bool:
    """A listed shard is used only if its entry is well-formed and both files match their sums."""
    shard_id = shard.get("id")
    if not isinstance(shard_id, int) or isinstance(shard_id, bool) or shard_id < 0:
        return False
    name = f"shard-{shard_id:05d}"
    if shard.get("file") != f"{name}.npy" or shard.get("rows_file") != f"{name}.parquet":
        return False  # also refuses names that point outside the folder
    npy, rows = folder / f"{name}.npy", folder / f"{name}.parquet"
    return (
        npy.is_file() and rows.is_file()
        and _sha256(npy) == shard.get("sha256") and _sha256(rows) == shard.get("rows_sha256")
    )  # fmt: skip


class ShardStore:
    """The ``embeddings/`` folder of one audit, for one backbone key."""

    def __init__(self, folder: Path, key: dict[str, Any], dtype: str = "float16") -> None:
        self.folder = Path(folder)
        self.key = key
        self.dtype = np.dtype(dtype)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.shards: list[dict[str, Any]] = []
        self.discarded: list[str] = []
        self._row_frames: dict[int, pd.DataFrame] = {}
        self._open()

    def _open(self) -> None:
        manifest = self.folder / "shards.json"
        self.shards = self._read_listing(manifest) if manifest.exists() else []
        merged = self.merge_rank_listings(write=False)
        keep = {s["file"] for s in self.shards} | {s["rows_file"] for s in self.shards}
        for path in self.folder.iterdir():
            if path.name.startswith(("shard-", ".shard-")) and path.name not in keep:
                path.unlink(missing_ok=True)
        if self.discarded or merged or not manifest.exists():
            self._write_manifest()
        for listing in self._rank_listings():
            listing.unlink(missing_ok=True)  # folded in (or unusable) once shards.json is written

    def _rank_listings(self) -> list[Path]:
        return sorted(self.folder.glob("shards-rank*.json"))

    def merge_rank_listings(self, *, write: bool = True) -> int:
        """Fold the listings of a multi-process scan's ranks into ``shards.json``; return how
        many shards were added. Rank listings are deleted once ``shards.json`` holds them."""
        listings = self._rank_listings()
        added = 0
        for listing in listings:
            for shard in self._read_listing(listing, known=self.shards):
                self.shards.append(shard)
                added += 1
        self.shards.sort(key=lambda s: s["id"])
        if write and listings:
            self._write_manifest()
            for listing in listings:
                listing.unlink(missing_ok=True)
        return added

    def next_id(self) -> int:
        return max((s["id"] for s in self.shards), default=-1) + 1

    def _read_listing(
        self, manifest: Path, known: list[dict[str, Any]] | None = None
    ) -> list[dict[str, Any]]:
        """The intact shards a listing names; everything unusable goes to ``discarded``."""
        name = manifest.name
        try:
            doc = read_json(manifest)
        except AuditError:
            self.discarded.append(f"{name} (corrupt)")
            return []
        if not isinstance(doc, dict) or not isinstance(doc.get("shards"), list):
            self.discarded.append(f"{name} (malformed)")
            return []
        if doc.get("key") != self.key or doc.get("dtype") != self.dtype.name:
            which = "all shards" if known is None else f"all shards of {name}"
            self.discarded.append(f"{which} (backbone, preprocessing or dtype changed)")
            return []
        valid: list[dict[str, Any]] = []
        for shard in doc["shards"]:
            if known and shard in known:
                continue  # folded in already (rank 0 stopped before deleting the listing)
            if not isinstance(shard, dict) or not _intact(self.folder, shard):
                file = shard.get("file") if isinstance(shard, dict) else None
                self.discarded.append(
                    f"{file} (malformed entry, missing file or checksum mismatch)"
                )
            elif any(s["id"] == shard["id"] for s in [*valid, *(known or [])]):
                self.discarded.append(f"{shard['file']} (listed twice)")
            else:
                valid.append(shard)
        return valid

    def _write_manifest(self) -> None:
        write_json(
            self.folder / "shards.json",
            {"key": self.key, "dtype": self.dtype.name, "shards": self.shards},
        )

    def cached_rows(self) -> pd.DataFrame:
        """Every stored outcome by content hash: ``(shard, row)``, or ``row = -1`` and a reason."""
        frames = [self._rows(shard) for shard in self.shards]
        if not frames:
            return pd.DataFrame(columns=[*_ROW_COLUMNS, "shard"])
        rows = pd.concat(frames, ignore_index=True)
        failed = (rows["row"] < 0).to_numpy()
        order = np.argsort(failed, kind="stable")  # an embedding wins over a stored failure
        return rows.iloc[order].drop_duplicates("hash").sort_index()

    def _rows(self, shard: dict[str, Any]) -> pd.DataFrame:
        """A shard's rows with its id, read from disk once per store (new shards never)."""
        if shard["id"] not in self._row_frames:
            rows = pd.read_parquet(self.folder / shard["rows_file"])
            rows["shard"] = shard["id"]
            self._row_frames[shard["id"]] = rows
        return self._row_frames[shard["id"]]

    def add_shard(self, features: np.ndarray, rows: pd.DataFrame) -> int:
        """Store one finished chunk (files first, then the manifest); return its shard id.

        ``rows`` has one entry per image of the chunk, ``row`` = its feature row or -1 with a
        ``reason`` (decoding failures are cached too: unchanged bytes fail the same way).
        """
        shard_id = self.next_id()
        self.shards.append(_write_shard(self.folder, self.dtype, shard_id, features, rows))
        self._write_manifest()
        self._row_frames[shard_id] = rows[_ROW_COLUMNS].assign(shard=shard_id)
        return shard_id

    def write_index(self, index: pd.DataFrame) -> None:
        """The live index (sorted by path); shards no live row points to are deleted."""
        index = index[INDEX_COLUMNS].sort_values("path", kind="stable").reset_index(drop=True)
        atomic_write_bytes(self.folder / INDEX_PARQUET, _parquet_bytes(index))
        live = set(index["shard"].astype(int))
        dead = [s for s in self.shards if s["id"] not in live]
        if dead:
            self.shards = [s for s in self.shards if s["id"] in live]
            self._write_manifest()
            for shard in dead:
                for name in (shard["file"], shard["rows_file"]):
                    (self.folder / name).unlink(missing_ok=True)


def _write_shard(
    folder: Path, dtype: np.dtype[Any], shard_id: int, features: np.ndarray, rows: pd.DataFrame
) -> dict[str, Any]:
    """Write one shard's two files atomically; return its listing entry."""
    name = f"shard-{shard_id:05d}"
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(features, dtype=dtype))
    data = buffer.getvalue()
    rows_data = _parquet_bytes(rows[_ROW_COLUMNS])
    atomic_write_bytes(folder / f"{name}.npy", data)
    atomic_write_bytes(folder / f"{name}.parquet", rows_data)
    return {
        "id": shard_id, "file": f"{name}.npy", "rows_file": f"{name}.parquet",
        "rows": len(rows), "sha256": hashlib.sha256(data).hexdigest(),
        "rows_sha256": hashlib.sha256(rows_data).hexdigest(),
    }  # fmt: skip


class RankShards:
    """The shards one rank of a multi-process scan writes: ids ``first + k × world + rank``,
    listed in the rank's own ``shards-rankNNN.json`` (rank 0's ``ShardStore`` folds it in)."""

    def __init__(
        self, folder: Path, key: dict[str, Any], dtype: str, rank: int, world: int, first: int
    ) -> None:
        self.folder = Path(folder)
        self.key, self.dtype = key, np.dtype(dtype)
        self.listing = self.folder / _RANK_LISTING.format(rank=rank)
        self.shards: list[dict[str, Any]] = []
        self._ids = iter(range(first + rank, 1 << 62, world))

    def add_shard(self, features: np.ndarray, rows: pd.DataFrame) -> int:
        shard_id = next(self._ids)
        self.shards.append(_write_shard(self.folder, self.dtype, shard_id, features, rows))
        write_json(self.listing, {"key": self.key, "dtype": self.dtype.name, "shards": self.shards})
        return shard_id


def read_index(audit_dir: str | os.PathLike[str]) -> pd.DataFrame:
    path = Path(audit_dir) / EMBEDDINGS_DIR / INDEX_PARQUET
    if not path.is_file():
        raise AuditError(f"{path} is missing; rerun `semaudit scan` to rebuild the embeddings.")
    try:
        index = pd.read_parquet(path)
    except Exception as exc:
        raise AuditError(f"{path} is unreadable ({exc}); rerun `semaudit scan`.") from None
    missing = set(INDEX_COLUMNS) - set(index.columns)
    if missing:
        raise AuditError(f"{path} lacks columns {sorted(missing)}; rerun `semaudit scan`.")
    return index


class ShardReader:
    """Row gathering from memory-mapped shards: memory stays at what is asked for."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._maps: dict[int, np.ndarray] = {}

    def _shard(self, shard: int) -> np.ndarray:
        if shard not in self._maps:
            path = self.folder / f"shard-{shard:05d}.npy"
            try:
                self._maps[shard] = np.load(path, mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise AuditError(f"{path} is unreadable ({exc}); rerun `semaudit scan`.") from None
        return self._maps[shard]

    def gather(self, shards: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Rows ``(shard[i], row[i])`` as float32, in the order given."""
        if len(shards) == 0:
            dim = self._shard(0).shape[1] if (self.folder / "shard-00000.npy").exists() else 0
            return np.zeros((0, dim), dtype=np.float32)
        out: np.ndarray | None = None
        for shard in np.unique(shards):
            mask = shards == shard
            block = np.asarray(self._shard(int(shard))[rows[mask]], dtype=np.float32)
            if out is None:
                out = np.empty((len(shards), block.shape[1]), dtype=np.float32)
            out[mask] = block
        assert out is not None
        return out


def iter_class_features(
    audit_dir: str | os.PathLike[str], class_names: list[str]
) -> Iterator[tuple[int, np.ndarray]]:
    """``(class id, (n_c, d) float32)`` per class, rows in path order, one class in memory."""
    index = read_index(audit_dir)
    reader = ShardReader(Path(audit_dir) / EMBEDDINGS_DIR)
    groups = {label: frame for label, frame in index.groupby("label", sort=False)}
    for c, name in enumerate(class_names):
        frame = groups.get(name)
        if frame is None:
            continue
        yield c, reader.gather(frame["shard"].to_numpy(), frame["row"].to_numpy())


def load_embeddings(
    audit_dir: str | os.PathLike[str],
) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """``(features (N, d) float32, labels (N,), paths, class_names)``; labels index class_names.

    Rows follow the index (sorted by path); class names are the audit's classes, empty ones too.
    """
    index = read_index(audit_dir)
    classes_csv = Path(audit_dir) / CLASSES_CSV
    if classes_csv.is_file():
        names = pd.read_csv(classes_csv, dtype={"class": str}, keep_default_na=False)["class"]
        class_names = names.tolist()
    else:
        class_names = sorted(index["label"].unique().tolist())
    lookup = {name: i for i, name in enumerate(class_names)}
    unknown = sorted(set(index["label"]) - set(lookup))
    if unknown:
        raise AuditError(
            f"{Path(audit_dir) / EMBEDDINGS_DIR / INDEX_PARQUET} has labels missing from "
            f"{CLASSES_CSV} ({unknown[:3]}); rerun `semaudit scan` to finish the audit."
        )
    labels = np.array([lookup[label] for label in index["label"]], dtype=np.int64)
    reader = ShardReader(Path(audit_dir) / EMBEDDINGS_DIR)
    features = reader.gather(index["shard"].to_numpy(), index["row"].to_numpy())
    return features, labels, index["path"].tolist(), class_names
