"""Hugging Face datasets vs a class-per-folder tree: scan time for the same images.

    python benchmarks/bench_hf.py [--images 3000] [--rounds 3] [--backbone pixels]

The same Fashion-MNIST PNGs are written as a class-per-folder tree, as parquet shards
(``Dataset.to_parquet``, 4 shards, row groups of 100) and as a ``save_to_disk`` folder (4 Arrow
shards). Each round runs ``semaudit scan`` (whole process, ``--no-probe``) on the three forms one
after the other into fresh audits, then once more on each unchanged form (listing + hashing +
cache hit); the order rotates so that a busy shared machine hurts them alike. Medians over
rounds are printed with each run's peak RSS; ``pixels`` keeps the model cheap so that reading
the input shows. Then, in this process, the input alone: list + hash, and decode every image
in order and shuffled (median of 5).
Needs the Debian package dataset-fashion-mnist and the ``datasets`` library (dev extra).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

FORMS = ("folder", "parquet", "save_to_disk")


def build(root: Path, n_images: int) -> dict[str, Path]:
    """The three forms of the same ``n_images`` images (10 classes, long-tailed)."""
    import datasets
    from fmnist import CLASS_NAMES, write_image_folder

    counts = [max(2, round(n_images * 0.2 * 0.8**k)) for k in range(10)]
    folder = write_image_folder(root / "folder", counts, seed=0)
    files = sorted(folder.rglob("*.png"), key=lambda p: p.name)
    names = list(CLASS_NAMES)
    ds = datasets.Dataset.from_dict(
        {
            "image": [{"bytes": p.read_bytes(), "path": None} for p in files],
            "label": [names.index(p.parent.name) for p in files],
        },
        features=datasets.Features(
            {"image": datasets.Image(), "label": datasets.ClassLabel(names=names)}
        ),
    )
    (root / "parquet").mkdir()
    for k in range(4):
        ds.shard(4, k, contiguous=True).to_parquet(
            str(root / "parquet" / f"train-{k:05d}-of-00004.parquet"),
            batch_size=100,  # row groups of 100 images, as the hub writes image datasets
        )
    ds.save_to_disk(str(root / "saved"), num_shards=4)
    return {"folder": folder, "parquet": root / "parquet", "save_to_disk": root / "saved"}


def scan(data: Path, out: Path, backbone: str) -> tuple[float, float]:
    """Seconds and peak RSS (MiB) of one ``semaudit scan`` process."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "semaudit", "scan", str(data), "--out", str(out),
               "-b", backbone, "--no-probe", "--quiet", "--json"]  # fmt: skip
    tick = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - tick
    if status != 0:
        raise SystemExit(
            f"scan of {data} failed:\n{proc.stderr.read().decode() if proc.stderr else ''}"
        )
    return seconds, usage.ru_maxrss / 1024


def input_only(forms: dict[str, Path], rounds: int) -> dict[str, tuple[float, ...]]:
    """Median seconds, in this process, to list + hash every image and to decode every image
    (``ImageDataset`` in item order, as the scan's DataLoader reads): the input's own cost."""
    from semaudit.data import discover_source, hash_items
    from semaudit.data.dataset import ImageDataset

    listing: dict[str, list[float]] = {f: [] for f in FORMS}
    decoding: dict[str, list[float]] = {f: [] for f in FORMS}
    shuffled: dict[str, list[float]] = {f: [] for f in FORMS}
    for _ in range(rounds):
        for form in FORMS:
            tick = time.perf_counter()
            inventory = discover_source(forms[form])
            hash_items(inventory.items)
            listing[form].append(time.perf_counter() - tick)
            dataset = ImageDataset(inventory.items, inventory.classes, lambda image: image)
            tick = time.perf_counter()
            assert all(dataset[i].reason == "" for i in range(len(dataset)))
            decoding[form].append(time.perf_counter() - tick)
            order = random.Random(0).sample(range(len(dataset)), len(dataset))
            tick = time.perf_counter()
            assert all(dataset[i].reason == "" for i in order)  # as training's shuffled epochs
            shuffled[form].append(time.perf_counter() - tick)
    return {f: tuple(statistics.median(m[f]) for m in (listing, decoding, shuffled)) for f in FORMS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backbone", default="pixels")
    parser.add_argument("--input-only", action="store_true", help="skip the whole scans")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        forms = build(Path(tmp), args.images)
        n = sum(1 for _ in forms["folder"].rglob("*.png"))
        first: dict[str, list[float]] = {f: [] for f in FORMS}
        again: dict[str, list[float]] = {f: [] for f in FORMS}
        rss: dict[str, list[float]] = {f: [] for f in FORMS}
        for r in range(0 if args.input_only else args.rounds):
            order = FORMS[r % 3 :] + FORMS[: r % 3]  # rotate who goes first
            for form in order:
                out = Path(tmp) / f"audit-{form}-{r}"
                seconds, peak = scan(forms[form], out, args.backbone)
                first[form].append(seconds)
                rss[form].append(peak)
            for form in order:
                again[form].append(scan(forms[form], Path(tmp) / f"audit-{form}-{r}",
                                        args.backbone)[0])  # fmt: skip
        inputs = input_only(forms, 5)
        load = os.getloadavg()[0]
    print(f"{n} images, backbone {args.backbone}, {args.rounds} rounds, load {load:.1f}")
    if not args.input_only:
        print_scans(first, again, rss, n)
    print("\n| input (median of 5) | list + hash | decode all, in order | decode all, shuffled |")
    print("|---|---|---|---|")
    for form in FORMS:
        listing, decoding, shuffled = inputs[form]
        print(f"| {form} | {listing:.2f} s | {decoding:.2f} s ({n / decoding:.0f} images/s) | "
              f"{shuffled:.2f} s ({n / shuffled:.0f} images/s) |")  # fmt: skip


def print_scans(
    first: dict[str, list[float]],
    again: dict[str, list[float]],
    rss: dict[str, list[float]],
    n: int,
) -> None:
    """Medians; "vs folder" is the median of each round's ratio (the runs of a round are
    neighbours in time, so a load swing on the shared machine hits both)."""
    ratio = {f: statistics.median([a / b for a, b in zip(first[f], first["folder"], strict=True)])
             for f in FORMS}  # fmt: skip
    print("| input | first scan (median) | images/s | vs folder | re-scan, unchanged | peak RSS |")
    print("|---|---|---|---|---|---|")
    for form in FORMS:
        t = statistics.median(first[form])
        print(f"| {form} | {t:.1f} s | {n / t:.0f} | {ratio[form]:.2f}× | "
              f"{statistics.median(again[form]):.1f} s | {max(rss[form]):.0f} MiB |")  # fmt: skip


if __name__ == "__main__":
    main()
