"""Evaluation folders must not hold training images: ``--val`` / ``--test`` checked by content.

DATA's images are known by the content hash the audit stored for each (``embeddings/
index.parquet``, column ``hash``: BLAKE2b-128 of the file's bytes, ``data/hashing.py``). A
``--val`` or ``--test`` folder is hashed with the same hasher; an image whose hash is DATA's
(or, for ``--test``, the ``--val`` folder's) is the same image under another path. Such an
overlap is an ``InputError`` unless ``allow_overlap`` is set, in which case it is a warning and
the counts are recorded (docs/decisions.md, "Evaluation folders that share images").
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from semaudit.data import ImageItem
from semaudit.data.hashing import hash_items
from semaudit.errors import InputError
from semaudit.store.shards import read_index

__all__ = ["OPTION", "OverlapCheck"]

Events = Callable[[str, Any], None]
OPTION = {"val": "--val", "test": "--test"}


class OverlapCheck:
    """Hashes of DATA (from the audit) and of each checked folder; ``check`` one at a time."""

    def __init__(
        self, data: Path, audit_dir: str | os.PathLike[str], allow: bool, on_event: Events
    ) -> None:
        index = read_index(audit_dir)
        hashes: Any = index["hash"].astype(str) if "hash" in index else []
        self.known: dict[str, dict[str, str]] = {
            f"DATA ({data})": dict(zip(hashes, index["path"].astype(str), strict=False))
        }
        self.allow = allow
        self.emit = on_event
        self.found: dict[str, int] = {}

    def check(self, name: str, folder: Path, items: Sequence[ImageItem]) -> None:
        """Compare ``items`` (the ``name`` folder) with DATA and the folders checked before."""
        stored = hash_items(items)  # the audit's hasher; a digest found while listing is kept
        mine = {h: item.path for h, item in zip(stored, items, strict=True) if h is not None}
        for other, known in self.known.items():
            shared = [h for h in mine if h in known]
            if shared:
                self._report(name, folder, other, len(shared), len(items), mine[shared[0]],
                             known[shared[0]])  # fmt: skip
        self.known[f"the {OPTION.get(name, name)} folder"] = mine

    def _report(
        self, name: str, folder: Path, other: str, n: int, total: int, path: str, twin: str
    ) -> None:
        option = OPTION.get(name, name)
        where = "data" if other.startswith("DATA") else other.split("--")[1].split(" ")[0]
        self.found[f"{name}_in_{where}"] = n
        what = (
            f"{n} of the {total} images of the {option} folder {folder} "
            f"{'is' if n == 1 else 'are'} also in {other} "
            f"(same content; e.g. {path} is {twin} there)"
        )
        if self.allow:
            self.emit("warning", f"{what}; kept because of --allow-overlap.")
            return
        raise InputError(
            f"{what}; scores on images the model was trained or selected on overstate its "
            f"accuracy: pass a {option} folder of other images, or --allow-overlap to accept it."
        )
