"""Helpers for the report tests (no tests here): images and embeddings for a ``make_audit`` dir.

``make_audit`` writes the tables only; the report also reads ``embeddings/`` and the images
under audit.json's ``source.root`` to draw thumbnails.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from semaudit.store import load_audit, write_json

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
OUTLIER_ROW = 0  # in every class, image 0 is placed far from the class mean


def _smooth_image(rng: np.random.Generator, c: int) -> np.ndarray:
    """A 48×64 RGB image of soft colour blobs (compresses like a natural image)."""
    from PIL import Image

    coarse = rng.integers(0, 255, size=(3, 4, 3), dtype=np.uint8)
    coarse[..., c % 3] = 200
    return np.asarray(Image.fromarray(coarse).resize((64, 48), Image.Resampling.BICUBIC))


@cache
def _sample_photos() -> list[np.ndarray]:
    from sklearn.datasets import load_sample_images

    return list(load_sample_images().images)


def _photo_crop(rng: np.random.Generator, c: int) -> np.ndarray:
    """A random 224×224 crop of scikit-learn's two sample photos (real JPEG statistics)."""
    photos = _sample_photos()
    photo = photos[c % len(photos)]
    y, x = rng.integers(0, photo.shape[0] - 224), rng.integers(0, photo.shape[1] - 224)
    return np.ascontiguousarray(photo[y : y + 224, x : x + 224])


def add_images_and_embeddings(
    audit_dir: Path,
    data_root: Path,
    *,
    per_class: int = 8,
    dim: int = 16,
    seed: int = 0,
    photos: bool = False,
) -> Path:
    """Write ``per_class`` images per class under ``data_root/<class>/`` (soft synthetic PNGs,
    or JPEG crops of real photos with ``photos=True``) and matching float16 embedding shards
    (two shards) + index.parquet; point audit.json at ``data_root``.
    """
    from PIL import Image

    rng = np.random.default_rng(seed)
    names = _names(audit_dir)
    rows, features = [], []
    for c, name in enumerate(names):
        folder = data_root / name
        folder.mkdir(parents=True, exist_ok=True)
        centre = rng.normal(size=dim) * 3
        for i in range(per_class):
            pixels = _photo_crop(rng, c) if photos else _smooth_image(rng, c)
            path = folder / f"img_{i:02d}.{'jpg' if photos else 'png'}"
            Image.fromarray(pixels).save(path)
            feature = centre + rng.normal(size=dim) * 0.3
            if i == OUTLIER_ROW:
                feature = -centre + rng.normal(size=dim)
            features.append(feature)
            rows.append((f"{name}/{path.name}", name, path.stat().st_size, 0, f"{c:04x}{i:04x}"))
    features_a = np.asarray(features, dtype=np.float16)
    half = len(features_a) // 2
    emb = audit_dir / "embeddings"
    emb.mkdir(exist_ok=True)
    np.save(emb / "shard-00000.npy", features_a[:half])
    np.save(emb / "shard-00001.npy", features_a[half:])
    index = pd.DataFrame(rows, columns=["path", "label", "size", "mtime", "hash"])
    index["shard"] = (np.arange(len(index)) >= half).astype(int)
    index["row"] = np.where(
        index["shard"] == 0, np.arange(len(index)), np.arange(len(index)) - half
    )
    index.to_parquet(emb / "index.parquet", index=False)
    meta = json.loads((audit_dir / "audit.json").read_text(encoding="utf-8"))
    meta["source"]["root"] = str(data_root)
    write_json(audit_dir / "audit.json", meta)
    return audit_dir


def _names(audit_dir: Path) -> list[str]:
    return load_audit(audit_dir).classes["class"].astype(str).tolist()


def chromium_available() -> bool:
    return Path(CHROMIUM).exists()


def chromium(*args: str, profile: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium with networking features off and a throwaway profile."""
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-extensions", "--hide-scrollbars",
        "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
        f"--user-data-dir={profile}", *args,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
