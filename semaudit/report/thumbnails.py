"""Per-class thumbnails: the most typical and most atypical images of each class.

Typical = nearest to the class mean of the L2-normalised features (cosine), atypical = farthest.
Selection is a pure function of arrays (``select_thumbnails``); ``load_thumbnails`` reads the
audit's embedding shards one class at a time (memory-mapped) and the images from the data root
recorded in audit.json. When embeddings or images are gone, it says why instead.
"""

from __future__ import annotations

import io
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from semaudit.data.decode import load_image
from semaudit.errors import AuditError
from semaudit.stats.scale import l2_normalize
from semaudit.store import Audit
from semaudit.store.schema import EMBEDDINGS_DIR

__all__ = [
    "ClassThumbnails",
    "Thumb",
    "ThumbnailSet",
    "encode_thumbnail",
    "load_thumbnails",
    "pick_extremes",
    "select_thumbnails",
    "thumbnail_classes",
    "typicality",
]

THUMB_SIZE = 80
JPEG_QUALITY = 68


@dataclass(frozen=True)
class Thumb:
    """One downsized image: its path as recorded in the index, JPEG bytes, cosine to the mean."""

    path: str
    jpeg: bytes
    similarity: float


@dataclass(frozen=True)
class ClassThumbnails:
    name: str
    typical: list[Thumb]
    atypical: list[Thumb]


@dataclass(frozen=True)
class ThumbnailSet:
    """What the report shows; ``note`` says why some or all thumbnails are missing."""

    classes: list[ClassThumbnails] = field(default_factory=list)
    note: str | None = None


class _Unavailable(Exception):
    """Thumbnails cannot be produced; the message is shown in the report."""


def typicality(features: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Cosine similarity of each L2-normalised feature to its class's mean direction, (N,)."""
    z = l2_normalize(features)
    codes, inverse = np.unique(np.asarray(labels), return_inverse=True)
    sums = np.zeros((len(codes), z.shape[1]))
    np.add.at(sums, inverse, z)
    return np.einsum("nd,nd->n", z, _unit(sums)[inverse])


def _unit(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.where(norms > 0, norms, 1.0)


def pick_extremes(
    similarity: np.ndarray, labels: np.ndarray, k: int
) -> dict[Any, tuple[np.ndarray, np.ndarray]]:
    """Per label: row indices ordered most typical first, and most atypical first.

    Each list holds at most ``k`` rows plus as many spares (tried when an image cannot be read);
    a class's typical and atypical rows never overlap.
    """
    labels = np.asarray(labels)
    out: dict[Any, tuple[np.ndarray, np.ndarray]] = {}
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        order = rows[np.lexsort((rows, -similarity[rows]))]  # most similar first, stable
        half = (len(order) + 1) // 2
        typical, atypical = order[:half], order[half:][::-1]
        out[label.item() if hasattr(label, "item") else label] = (
            typical[: 2 * k],
            atypical[: 2 * k],
        )
    return out


def select_thumbnails(
    features: np.ndarray, labels: np.ndarray, k: int = 3
) -> dict[Any, tuple[np.ndarray, np.ndarray]]:
    """``pick_extremes(typicality(features, labels), labels, k)``."""
    return pick_extremes(typicality(features, labels), labels, k)


def thumbnail_classes(audit: Audit, limit: int = 100) -> tuple[list[str], str | None]:
    """Which classes get thumbnails (sorted by name), and a note when not all of them do.

    Over ``limit`` classes: those named by the recommendations and the rank-disagreement list
    first, then the least saturated.
    """
    names = audit.classes["class"].astype(str).tolist()
    if len(names) <= limit:
        return sorted(names), None
    from semaudit.wording import attention_order

    priority = attention_order(audit.overview.recommendations)  # the weakest of each finding
    priority += [str(r.get("class")) for r in audit.overview.rank_disagreement]
    by_saturation = audit.classes.sort_values(["saturation", "class"], na_position="last")
    known, chosen = set(names), dict[str, None]()
    for name in [*priority, *by_saturation["class"].astype(str)]:
        if name in known and len(chosen) < limit:
            chosen[name] = None
    note = (
        f"Showing {limit} of {len(names):,} classes: those named in the recommendations and the "
        "rank-disagreement list, then the least saturated."
    )
    return sorted(chosen), note


def encode_thumbnail(
    path: Path, size: int = THUMB_SIZE, quality: int = JPEG_QUALITY
) -> bytes | None:
    """A JPEG no larger than ``size`` px (tiny images enlarged crisply); None if unreadable.

    Decoded by the scan's own decoder (``semaudit.data.load_image``): the same guards against
    bombs and extreme aspect ratios, the same handling of 16-bit, alpha and EXIF rotation.
    """
    from PIL import Image

    image, _ = load_image(path, draft=(size * 2, size * 2))
    if image is None:
        return None
    try:
        image.thumbnail((size, size), Image.Resampling.LANCZOS)
        factor = size // max(image.size)
        if factor >= 2:
            image = image.resize(
                (image.width * factor, image.height * factor), Image.Resampling.NEAREST
            )
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=quality, optimize=True)
        return buffer.getvalue()
    except Exception:  # an encoder failure on an odd image: no thumbnail, never a dead report
        return None


def _class_similarity(audit: Audit, wanted: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """The index rows of the ``wanted`` classes and their typicality, one class in memory."""
    from semaudit.store.shards import ShardReader, read_index

    try:
        index = read_index(audit.path)
    except AuditError as exc:
        raise _Unavailable(str(exc).split(";")[0]) from None
    index = index[index["label"].astype(str).isin(wanted)].reset_index(drop=True)
    if index.empty:
        raise _Unavailable("the embedding index lists none of the audited classes")
    reader = ShardReader(audit.path / EMBEDDINGS_DIR)
    similarity = np.empty(len(index))
    for positions in index.groupby(index["label"].astype(str), sort=False).indices.values():
        try:
            features = reader.gather(
                index["shard"].to_numpy()[positions], index["row"].to_numpy()[positions]
            )
        except (AuditError, IndexError) as exc:
            raise _Unavailable(f"an embedding shard is missing or damaged ({exc})") from None
        similarity[positions] = typicality(features, np.zeros(len(positions), dtype=int))
    return index, similarity


def load_thumbnails(audit: Audit, *, k: int = 3, limit: int = 100) -> ThumbnailSet:
    """Typical and atypical thumbnails for up to ``limit`` classes, or a note saying why not."""
    wanted, note = thumbnail_classes(audit, limit)
    recorded = audit.meta.get("source", {}).get("root")
    root = Path(str(recorded)) if recorded else Path("/")  # no root: paths are absolute
    try:
        index, similarity = _class_similarity(audit, wanted)
        if not root.is_dir():
            raise _Unavailable(f"the images are no longer at {root} (dataset moved or unmounted?)")
    except _Unavailable as exc:
        return ThumbnailSet([], f"Thumbnails unavailable: {exc}.")
    picks = pick_extremes(similarity, index["label"].astype(str).to_numpy(), k)
    result, missing = _encode_all(index["path"].astype(str).to_numpy(), similarity, picks, root, k)
    if not any(c.typical or c.atypical for c in result):
        return ThumbnailSet([], f"Thumbnails unavailable: no image under {root} could be read.")
    if missing:
        extra = (
            "1 image could not be read and was replaced."
            if missing == 1
            else f"{missing:,} images could not be read; they were replaced or left out."
        )
        note = f"{note} {extra}" if note else extra
    return ThumbnailSet(result, note)


def _encode_all(
    paths: np.ndarray,
    similarity: np.ndarray,
    picks: dict[Any, tuple[np.ndarray, np.ndarray]],
    root: Path,
    k: int,
) -> tuple[list[ClassThumbnails], int]:
    """Decode in parallel rounds: the first ``k`` of each list, then spares for failures."""
    lists = [(name, kind, list(rows)) for name in sorted(picks) for kind, rows in
             enumerate(picks[name])]  # fmt: skip
    chosen: dict[tuple[Any, int], list[Thumb]] = {(n, kind): [] for n, kind, _ in lists}
    tried = dict.fromkeys(chosen, 0)
    missing = 0
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        while True:
            jobs = []
            for name, kind, rows in lists:
                key = (name, kind)
                need = k - len(chosen[key])
                start = tried[key]
                jobs += [(key, int(i)) for i in rows[start : start + need]]
                tried[key] = start + max(need, 0)
            if not jobs:
                break
            encoded = pool.map(lambda job: encode_thumbnail(root / str(paths[job[1]])), jobs)
            for (key, i), jpeg in zip(jobs, encoded, strict=True):
                if jpeg is None:
                    missing += 1
                else:
                    chosen[key].append(Thumb(str(paths[i]), jpeg, float(similarity[i])))
    result = [
        ClassThumbnails(str(name), chosen[(name, 0)], chosen[(name, 1)]) for name in sorted(picks)
    ]
    return result, missing
