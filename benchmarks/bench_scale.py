"""Semantic-scale statistics vs the first author's per-class ``det`` code, side by side.

    python benchmarks/bench_scale.py [--classes 100 --per-class 200 --dim 512]
    python benchmarks/bench_scale.py --memory [--per-class 200 --dim 512]

``--memory``: the whole statistics stage of a scan (``semaudit.scanner.analysis.analyse``:
scale, curves, matched scale, probe) at 100 and 1,000 classes × ``--per-class`` images,
each in a fresh process, features streamed one class at a time as the scan streams them from
its memory-mapped shards: time and peak RSS, with and without the probe.

Prints the time of each, the speed-up, the largest difference where both are finite, and
how often the ``det`` form overflows to inf at the default alpha = d (and at m = 1300,
d = 2048, the size DESIGN quotes).
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from semaudit.stats.scale import l2_normalize, semantic_scale, spectrum_scale


def authors_volume(features: np.ndarray, labels: np.ndarray, alpha: float) -> np.ndarray:
    """Per class ½·log2 det(I + alpha/m · AᵀA) via ``np.linalg.det`` (the published form)."""
    out = []
    for c in range(labels.max() + 1):
        z = features[labels == c]
        a = z - z.mean(0)
        m, d = a.shape
        out.append(0.5 * math.log2(np.linalg.det(np.eye(d) + alpha / m * a.T @ a)))
    return np.array(out)


def eigenvalue_volume(
    features: np.ndarray, labels: np.ndarray, alpha: float | None, normalize: bool
) -> np.ndarray:
    """Per class DESIGN's formula, ½ Σ log2(1 + α/m·λ) over ``eigvalsh`` of the smaller Gram
    side: what ``class_scale`` computed before it took the log-det from a Cholesky factor."""
    z = l2_normalize(features) if normalize else features.astype(np.float64)
    out = []
    for c in range(labels.max() + 1):
        a = z[labels == c] - z[labels == c].mean(0)
        m, d = a.shape
        gram = a @ a.T if m <= d else a.T @ a
        a_used = float(d if alpha is None else alpha)
        out.append(spectrum_scale(np.linalg.eigvalsh(gram), m, a_used))
    return np.array(out)


def best_of(repeats: int, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    times, result = [], None
    for _ in range(repeats):
        tick = time.perf_counter()
        result = fn(*args, **kwargs)
        times.append(time.perf_counter() - tick)
    return min(times), result


MEMORY_CHILD = """
import resource, sys, time
import numpy as np
from semaudit.scanner.analysis import analyse
from semaudit.scanner.config import ScanConfig
k, m, d, probe = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
def classes():
    for c in range(k):
        rng = np.random.default_rng(c)
        yield c, (rng.normal(size=(m, d)) * rng.uniform(0.02, 0.1)).astype(np.float32)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tick = time.perf_counter()
analyse(classes(), [f"c{c}" for c in range(k)], np.full(k, m), ScanConfig(probe=probe))
took = time.perf_counter() - tick
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(took, base / 1024, peak / 1024)
"""


def memory(per_class: int, dim: int) -> None:
    import subprocess
    import sys

    one_class = per_class * dim * 4 / 2**20
    print(f"statistics stage, {per_class} images per class × {dim}-d float32 "
          f"(one class = {one_class:.2f} MiB), fresh process each")  # fmt: skip
    print("  classes  embeddings  probe   time      peak RSS  (after imports)")
    for probe, k in ((False, 100), (False, 1000), (True, 100), (True, 1000)):
        out = subprocess.run(
            [sys.executable, "-c", MEMORY_CHILD, str(k), str(per_class), str(dim),
             "1" if probe else "0"],
            capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip
        took, base, peak = map(float, out)
        print(f"  {k:7d}  {k * per_class:10,d}  {'on ' if probe else 'off'}  {took:7.1f} s "
              f"{peak:8.0f} MiB  ({base:.0f} MiB)", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--memory", action="store_true", help="time and peak memory at scale")
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--per-class", type=int, default=200)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.memory:
        memory(args.per_class, args.dim)
        return
    rng = np.random.default_rng(0)
    k, m, d = args.classes, args.per_class, args.dim
    labels = np.repeat(np.arange(k), m)
    features = rng.normal(size=(k * m, d)) * rng.uniform(0.02, 0.1, size=(k * m, 1))

    t_ours, ours = best_of(
        args.repeats, semantic_scale, features, labels, alpha=1.0, normalize=False
    )
    t_det, det = best_of(args.repeats, authors_volume, features, labels, 1.0)
    t_eig, eig = best_of(args.repeats, eigenvalue_volume, features, labels, 1.0, False)
    both = np.isfinite(det)
    print(f"{k} classes × {m} images × {d}-d, alpha = 1, raw features (the authors' setting)")
    print(f"  semaudit  {t_ours:8.3f} s")
    print(f"  det code  {t_det:8.3f} s   speed-up {t_det / t_ours:6.1f}×")
    print(f"  eigvalsh  {t_eig:8.3f} s   speed-up {t_eig / t_ours:6.1f}×   (DESIGN's formula, "
          f"max |difference| {np.abs(ours - eig).max():.1e} bits)")  # fmt: skip
    print(
        f"  max |difference| where det is finite: {np.abs(ours[both] - det[both]).max():.2e} bits"
    )

    t_ours_d, ours_d = best_of(1, semantic_scale, features, labels)
    t_det_d, det_d = best_of(
        1,
        authors_volume,
        features / np.linalg.norm(features, axis=1, keepdims=True),
        labels,
        float(d),
    )
    print(f"default alpha = d = {d}, L2-normalised:")
    print(f"  semaudit  {t_ours_d:8.3f} s   finite: {np.isfinite(ours_d).sum()}/{k}")
    print(f"  det code  {t_det_d:8.3f} s   finite: {np.isfinite(det_d).sum()}/{k}")

    big = rng.normal(size=(1300, 2048))
    big_labels = np.zeros(1300, dtype=np.int64)
    t_big, s_big = best_of(1, semantic_scale, big, big_labels)
    with np.errstate(over="ignore"):
        _, det_big = best_of(
            1, authors_volume, big / np.linalg.norm(big, axis=1, keepdims=True), big_labels, 2048.0
        )
    print(
        f"m = 1300, d = 2048, alpha = d: semaudit {s_big[0]:.1f} bits in {t_big:.2f} s; "
        f"det code {det_big[0]}"
    )


if __name__ == "__main__":
    main()
