"""Real Fashion-MNIST images from the Debian package ``dataset-fashion-mnist`` (MIT)."""

from __future__ import annotations

import gzip
from functools import cache
from pathlib import Path

import numpy as np
import pytest

FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
CLASS_NAMES = (
    "t-shirt",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle-boot",
)


@cache
def load_fashion_mnist(split: str = "t10k") -> tuple[np.ndarray, np.ndarray]:
    """``(images (N, 28, 28) uint8, labels (N,) int64)`` from the IDX files; skip if absent."""
    images_path = FASHION_MNIST / f"{split}-images-idx3-ubyte.gz"
    if not images_path.exists():
        pytest.skip("Debian package dataset-fashion-mnist is not installed")
    with gzip.open(images_path) as fh:
        images = np.frombuffer(fh.read(), dtype=np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(FASHION_MNIST / f"{split}-labels-idx1-ubyte.gz") as fh:
        labels = np.frombuffer(fh.read(), dtype=np.uint8, offset=8).astype(np.int64)
    return images, labels


def write_image_folder(
    root: Path,
    per_class: dict[int, int] | list[int],
    *,
    seed: int = 0,
    split: str = "t10k",
    offset: int = 0,
) -> Path:
    """Write ``per_class[c]`` Fashion-MNIST PNGs of class c under ``root/<class name>/``.

    Images are drawn without replacement with ``seed``; ``offset`` skips that many images of
    each class first (to build a disjoint second version of a dataset).
    """
    from PIL import Image

    images, labels = load_fashion_mnist(split)
    counts = dict(enumerate(per_class)) if isinstance(per_class, list) else per_class
    rng = np.random.default_rng(seed)
    for c, n in counts.items():
        folder = root / CLASS_NAMES[c]
        folder.mkdir(parents=True, exist_ok=True)
        pool = rng.permutation(np.flatnonzero(labels == c))[offset : offset + n]
        for i in pool:
            Image.fromarray(images[i]).save(folder / f"{i:05d}.png")
    return root
