"""WebDataset-style ``.tar`` shards as input: millions of images in a few large files.

A sample is the set of members sharing a key (the member name up to the first dot of its
file name): ``<key>.jpg`` (any of ``IMAGE_EXTENSIONS``) and optionally ``<key>.cls`` holding the
class as text; without ``.cls`` the class is the folder the key sits in (``shirt/0001.jpg``).
Archives are indexed, never extracted: an image is read from its byte range, so the same skip,
content-hash and resume guarantees hold as for files (its content hash is that of its bytes,
so an image cached from a folder is reused from a shard and vice versa).
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

from semaudit.data.discover import IMAGE_EXTENSIONS, ImageItem, Inventory
from semaudit.errors import InputError

TAR_SUFFIXES = (".tar",)


def is_tar_input(data: str | os.PathLike[str]) -> bool:
    """A ``.tar`` file, or a folder holding ``.tar`` shards and no class sub-folder."""
    path = Path(data)
    if path.is_file():
        return path.name.lower().endswith(TAR_SUFFIXES)
    if not path.is_dir():
        return False
    entries = [e for e in path.iterdir() if not e.name.startswith(".")]
    has_tar = any(e.is_file() and e.name.lower().endswith(TAR_SUFFIXES) for e in entries)
    return has_tar and not any(e.is_dir() for e in entries)


def _key_and_ext(name: str) -> tuple[str, str]:
    folder, _, base = name.rpartition("/")
    stem, dot, ext = base.partition(".")
    key = f"{folder}/{stem}" if folder else stem
    return key, f".{ext.lower()}" if dot else ""


def _index_one(archive: Path, rel_archive: str, skipped: list[tuple[str, str]]) -> list[ImageItem]:
    """The images of one archive, labelled from ``.cls`` members or the key's folder."""
    images: dict[str, tarfile.TarInfo] = {}
    labels: dict[str, str] = {}
    try:
        mtime = int(archive.stat().st_mtime_ns)
        with tarfile.open(archive, "r:") as tar:
            for member in tar:
                if not member.isfile() or Path(member.name).name.startswith("."):
                    continue
                key, ext = _key_and_ext(member.name)
                if ext == ".cls":
                    fh = tar.extractfile(member)
                    raw = fh.read(4096) if fh is not None else b""
                    labels[key] = raw.decode("utf-8", "replace").strip()
                elif ext in IMAGE_EXTENSIONS and key not in images:
                    images[key] = member
    except (OSError, tarfile.TarError) as exc:
        skipped.append((rel_archive, f"unreadable tar shard: {exc}"))
        return []
    items = []
    for key, member in images.items():
        rel = f"{rel_archive}/{member.name}"
        label = labels.get(key) or key.rpartition("/")[0].rpartition("/")[2]
        if not label:
            skipped.append((rel, f"no class: add {key}.cls or put it in a class folder"))
        elif member.size == 0:
            skipped.append((rel, "empty file"))
        else:
            items.append(ImageItem(rel, label, archive, int(member.size), mtime,
                                   int(member.offset_data)))  # fmt: skip
    return items


def discover_tars(data: str | os.PathLike[str]) -> Inventory:
    """Every image of a ``.tar`` shard, or of the ``.tar`` shards of a folder (sorted)."""
    path = Path(data)
    if path.is_file():
        root, archives = path.parent, [path]
    else:
        root = path
        archives = sorted(
            p for p in path.iterdir()
            if p.is_file() and not p.name.startswith(".")
            and p.name.lower().endswith(TAR_SUFFIXES)
        )  # fmt: skip
    skipped: list[tuple[str, str]] = []
    items: list[ImageItem] = []
    for archive in archives:
        items.extend(_index_one(archive, archive.relative_to(root).as_posix(), skipped))
    if not items:
        raise InputError(
            f"found no images in the tar shard(s) at {path} ({len(archives)} archive(s)); "
            "expected WebDataset members <key>.jpg with <key>.cls or a class folder."
        )
    classes = sorted({item.label for item in items})
    return Inventory(root, sorted(items, key=lambda i: i.path), classes, skipped, kind="tar")


def read_member(item: ImageItem) -> bytes:
    """The bytes of a tar member (``OSError`` if the archive vanished or is short)."""
    with open(item.abspath, "rb") as fh:
        fh.seek(item.offset)
        data = fh.read(item.size)
    if len(data) != item.size:
        raise OSError(f"{item.abspath} ends before member {item.path} does (truncated shard)")
    return data


def open_member(item: ImageItem) -> io.BytesIO:
    return io.BytesIO(read_member(item))
