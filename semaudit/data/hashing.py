"""Content hashes of image files: the identity under which embeddings are cached."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from semaudit.checksum import file_checksum
from semaudit.data.discover import ImageItem


def file_hash(path: Path) -> str:
    """BLAKE2b-128 of the file's bytes, hex: the content identity of an image."""
    return file_checksum(path, "blake2b", digest_size=16)


def hash_items(items: Iterable[ImageItem], workers: int = 4) -> list[str | None]:
    """Content hashes in item order; ``None`` for a file that vanished or cannot be read."""
    from concurrent.futures import ThreadPoolExecutor

    def one(item: ImageItem) -> str | None:
        if item.digest:  # hashed while listed (a row of a Hugging Face dataset)
            return item.digest
        try:
            if item.column:  # a row of a parquet / Arrow shard: the hash of its image bytes
                from semaudit.data.hf import read_row

                return hashlib.blake2b(read_row(item), digest_size=16).hexdigest()
            if item.offset >= 0:  # a member of a .tar shard: the hash of its bytes
                from semaudit.data.tar import read_member

                return hashlib.blake2b(read_member(item), digest_size=16).hexdigest()
            return file_hash(item.abspath)
        except (OSError, LookupError, ValueError):
            return None

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, items))
