"""The rows of a Hugging Face dataset as an ``Inventory``: one ``ImageItem`` per usable row.

Items keep shard and row order (the order the decoder reads fastest). Discovery reads the
image column once, a row group at a time: each row's size and content hash come from that
pass (``ImageItem.digest``), so the scan does not read the bytes again to hash them.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from semaudit.data.discover import IMAGE_EXTENSIONS, ImageItem, Inventory
from semaudit.data.hf.locate import HUB_PREFIX, has_parquet, is_save_to_disk, locate, split_spec
from semaudit.data.hf.rows import image_bytes, iter_batches, shard_schema
from semaudit.data.hf.schema import Columns, choose_columns
from semaudit.errors import InputError


def is_hf_input(data: str | os.PathLike[str]) -> bool:
    """``hf:…``, a ``.parquet`` / ``.arrow`` file, a folder of parquet shards, ``save_to_disk``."""
    text, _ = split_spec(data)
    if text.startswith(HUB_PREFIX):
        return True
    path = Path(text)
    if path.is_file():
        return path.name.endswith((".parquet", ".arrow"))
    return is_save_to_disk(path) or (has_parquet(path) and not _has_class_folders(path))


def _has_class_folders(path: Path) -> bool:
    """A sub-folder with images in it: a class-per-folder tree that also holds a parquet file
    (a manifest, say) stays a folder input."""
    try:
        return any(
            sub.is_dir() and not sub.name.startswith(".")
            and any(f.name.lower().endswith(IMAGE_EXTENSIONS) for f in sub.iterdir())
            for sub in path.iterdir()
        )  # fmt: skip
    except OSError:
        return False


def _label(value: object, columns: Columns) -> tuple[str, str]:
    """``(class name, "")`` or ``("", reason)`` for one label value."""
    if value is None:
        return "", "no class: the label is empty"
    if columns.names is None:
        text = str(value).strip()
        return (text, "") if text else ("", "no class: the label is empty")
    if not isinstance(value, int) or value < 0:
        return "", f"no class: label {value} (datasets' mark of an unlabelled row)"
    if value >= len(columns.names):
        return "", f"label {value} is not one of the {len(columns.names)} ClassLabel names"
    return columns.names[value], ""


def _rows(
    shard: Path, rel: str, kind: str, columns: Columns, skipped: list[tuple[str, str]]
) -> Iterator[ImageItem]:
    mtime = int(shard.stat().st_mtime_ns)
    row = 0
    for batch in iter_batches(shard, kind, [columns.image, columns.label]):
        labels = batch.column(1).to_pylist()
        for data, value in zip(image_bytes(batch.column(0)), labels, strict=True):
            path = f"{rel}#{row}"
            label, reason = _label(value, columns)
            if not reason and not data:
                reason = "no image bytes in this row" if data is None else "empty image"
            if reason:
                skipped.append((path, reason))
            else:
                assert data is not None
                digest = hashlib.blake2b(data, digest_size=16).hexdigest()
                yield ImageItem(path, label, shard, len(data), mtime, row, columns.image, digest)
            row += 1


def discover_hf(
    data: str | os.PathLike[str],
    *,
    image_column: str | None = None,
    label_column: str | None = None,
) -> Inventory:
    """Every usable row of the dataset DATA names (see ``semaudit.data.hf``)."""
    import pyarrow as pa

    located = locate(data)
    skipped: list[tuple[str, str]] = []
    items: list[ImageItem] = []
    names: set[str] = set()
    for shard in located.shards:
        rel = shard.relative_to(located.root).as_posix()
        try:
            schema = shard_schema(shard, located.kind)
        except (OSError, pa.ArrowException) as exc:
            skipped.append((rel, f"unreadable shard: {exc}"))
            continue
        where = f"{located.where} (shard {rel})"
        columns = choose_columns(schema, located.features, image_column, label_column, where)
        names.update(columns.names or [])
        try:
            items.extend(_rows(shard, rel, located.kind, columns, skipped))
        except (OSError, pa.ArrowException) as exc:
            skipped.append((rel, f"unreadable shard: {exc}"))
    if not items:
        raise InputError(
            f"found no usable image row in {located.where} ({len(located.shards)} shard(s), "
            f"{len(skipped)} rows or shards skipped, e.g. {skipped[:1]}); check the columns "
            "with --image-column / --label-column."
        )
    classes = sorted(names | {item.label for item in items})
    return Inventory(located.root, items, classes, skipped, kind=located.kind)
