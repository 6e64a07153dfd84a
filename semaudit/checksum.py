"""Checksums of files, read in 1 MiB chunks: one hasher for content hashes, shards and weights."""

from __future__ import annotations

import hashlib
import os

CHUNK = 1 << 20


def file_checksum(
    path: str | os.PathLike[str], algorithm: str = "sha256", *, digest_size: int | None = None
) -> str:
    """Hex digest of a file's bytes (``algorithm`` as in :mod:`hashlib`; ``digest_size`` for
    BLAKE2b). Raises ``OSError`` when the file cannot be read."""
    digest = (
        hashlib.blake2b(digest_size=digest_size)
        if algorithm == "blake2b" and digest_size
        else hashlib.new(algorithm)
    )
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
