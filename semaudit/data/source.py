"""Any DATA argument to an ``Inventory``: picks the reader (Hugging Face, tar shards, folder).

Its own module, above ``discover``, ``tar`` and ``hf`` (which build on ``discover``'s
``ImageItem`` and ``Inventory``), so that no import cycle runs through the dispatch
(tests/test_architecture.py).
"""

from __future__ import annotations

import os

from semaudit.data.discover import Inventory, discover_folder


def discover_source(
    data: str | os.PathLike[str],
    *,
    image_column: str | None = None,
    label_column: str | None = None,
) -> Inventory:
    """Any DATA: a Hugging Face dataset (parquet, ``save_to_disk``, ``hf:OWNER/NAME``), tar
    shards, or a class-per-folder tree; the columns apply to the first only."""
    from semaudit.data.hf import discover_hf, is_hf_input
    from semaudit.data.tar import discover_tars, is_tar_input

    if is_hf_input(data):
        return discover_hf(data, image_column=image_column, label_column=label_column)
    if is_tar_input(data):
        return discover_tars(data)
    return discover_folder(data)
