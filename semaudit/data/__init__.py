"""Images in: discovery (folders, manifests), content hashing and the one robust decoder.

``semaudit.data.dataset`` (torch) holds ``ImageDataset``, shared by scan and train; it is not
imported here so that this package stays light.
"""

from semaudit.data.decode import (
    MAX_ASPECT_RATIO,
    MAX_IMAGE_PIXELS,
    TRANSIENT_REASONS,
    is_transient,
    load_image,
    to_rgb,
)
from semaudit.data.discover import (
    IMAGE_EXTENSIONS,
    ImageItem,
    Inventory,
    discover_folder,
    read_manifest,
)
from semaudit.data.hashing import file_hash, hash_items
from semaudit.data.source import discover_source

__all__ = [
    "IMAGE_EXTENSIONS",
    "MAX_ASPECT_RATIO",
    "MAX_IMAGE_PIXELS",
    "TRANSIENT_REASONS",
    "ImageItem",
    "Inventory",
    "discover_folder",
    "discover_source",
    "file_hash",
    "hash_items",
    "is_transient",
    "load_image",
    "read_manifest",
    "to_rgb",
]
