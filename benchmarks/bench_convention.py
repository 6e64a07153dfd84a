"""Feature convention on evidence: which of L2-normalised or raw (centred only) features makes
S′, w and S track per-class accuracy better (docs/decisions.md, "Feature convention").

    python benchmarks/bench_convention.py POOL_AUDIT SAMPLE_AUDIT [--seeds 2]

POOL_AUDIT: an audit (``scan --dtype float32``) of 300 Fashion-MNIST test images per class, e.g.
``write_image_folder(root, [300] * 10, seed=7)`` of tests/fmnist.py; SAMPLE_AUDIT: an audit of
semaudit/sample/fashion-mnist-lt. Embeddings are read once (``semaudit.load_embeddings``); the
statistics are recomputed for both conventions, never rescanned. Datasets drawn from the pool:

- ``bal150-sK``: 150 images per class (seed K);
- ``lt30-sK``: 200·30^(−i/9) images for the class at rank i (IR 30), classes in label order
  (seed 0) or reversed (seed 1), so that count and class difficulty pair up differently;
- ``sample``: the bundled long-tailed sample (434 images).

Accuracy is held-out: the audit's linear probe (``semaudit.stats.probe``, L2-normalised then
standardised rows, both conventions alike) fitted on the drawn set and scored on up to 100
unused pool images per class (pool images in the sample are excluded for ``sample``). Prints
Pearson r and its p-value per measure × convention × dataset, and the mean r per measure.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import semaudit
from semaudit.stats.imbalance import effective_number
from semaudit.stats.interclass import (
    auto_interclass_alpha,
    centre_distances,
    class_centres,
    interclass_from_distances,
)
from semaudit.stats.probe import (
    _preconditioner,
    _predict_fold,
    _rows_float32,
    _standardise,
    correlate,
)
from semaudit.stats.scale import semantic_scale

TEST_PER_CLASS = 100


def lt_counts(k: int, top: int = 200, ratio: float = 30.0) -> np.ndarray:
    return np.round(top * ratio ** (-np.arange(k) / (k - 1))).astype(int)


def held_out_accuracy(
    x: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray, k: int
) -> np.ndarray:
    """Per-class accuracy on ``test`` rows of the audit's probe fitted on ``train`` rows."""
    rows = np.flatnonzero(train | test)
    z = _standardise(_rows_float32(x[rows], True))
    p_mat, s = _preconditioner(z, 1e-3)
    xp = z @ p_mat.astype(np.float32)
    is_test = test[rows]
    pred = _predict_fold(xp, s, y[rows], is_test, 1e-3, 200)
    truth = y[rows][is_test]
    return np.array([np.mean(pred[truth == c] == c) for c in range(k)])


def draws(pool_y: np.ndarray, seeds: int) -> list[tuple[str, np.ndarray]]:
    """(name, boolean mask over the pool) of every drawn dataset but the sample."""
    k, out = int(pool_y.max()) + 1, []
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        order = [rng.permutation(np.flatnonzero(pool_y == c)) for c in range(k)]
        mask = np.zeros(pool_y.size, bool)
        for c in range(k):
            mask[order[c][:150]] = True
        out.append((f"bal150-s{seed}", mask))
        counts = lt_counts(k)[:: (-1 if seed % 2 else 1)]
        mask = np.zeros(pool_y.size, bool)
        for c in range(k):
            mask[order[c][: counts[c]]] = True
        out.append((f"lt30-s{seed}", mask))
    return out


def test_mask(pool_y: np.ndarray, used: np.ndarray, excluded: np.ndarray, seed: int) -> np.ndarray:
    rng, mask = np.random.default_rng(1000 + seed), np.zeros(pool_y.size, bool)
    for c in range(int(pool_y.max()) + 1):
        free = np.flatnonzero((pool_y == c) & ~used & ~excluded)
        mask[rng.permutation(free)[:TEST_PER_CLASS]] = True
    return mask


def measures(x: np.ndarray, y: np.ndarray, k: int, normalize: bool) -> dict[str, np.ndarray]:
    counts = np.bincount(y, minlength=k)
    s_prime = semantic_scale(x, y, normalize=normalize, n_classes=k)
    centres, _ = class_centres(x, y, k, normalize=normalize)
    w = centre_distances(centres, counts > 0)
    alpha = auto_interclass_alpha(counts)
    return {
        "N": counts.astype(float),
        "E_n": effective_number(counts),
        "S'": s_prime,
        "w": w,
        "S(auto α)": interclass_from_distances(s_prime, w, counts, alpha),
        "S(α=1)": interclass_from_distances(s_prime, w, counts, 1.0),
        "S(α=2)": interclass_from_distances(s_prime, w, counts, 2.0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pool", type=Path)
    parser.add_argument("sample", type=Path)
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args()
    x, y, paths, names = semaudit.load_embeddings(args.pool)
    sx, sy, spaths, snames = semaudit.load_embeddings(args.sample)
    assert snames == names, "pool and sample must have the same classes"
    sample_ids = {Path(p).name for p in spaths}
    in_sample = np.array([Path(p).name in sample_ids for p in paths])
    k = len(names)
    rows: list[tuple[str, str, str, float | None, float | None]] = []
    sets = draws(y, args.seeds)
    for i, (name, mask) in enumerate([*sets, ("sample", None)]):
        if mask is None:  # the sample: its own embeddings, tested on pool images it lacks
            test = test_mask(y, np.zeros(y.size, bool), in_sample, i)
            bx, by = np.concatenate([sx, x[test]]), np.concatenate([sy, y[test]])
            train = np.r_[np.ones(sy.size, bool), np.zeros(int(test.sum()), bool)]
            acc = held_out_accuracy(bx, by, train, ~train, k)
            dx, dy = sx, sy
        else:
            test = test_mask(y, mask, np.zeros(y.size, bool), i)
            acc = held_out_accuracy(x, y, mask, test, k)
            dx, dy = x[mask], y[mask]
        for normalize in (True, False):
            conv = "L2" if normalize else "raw"
            for measure, values in measures(dx, dy, k, normalize).items():
                found = correlate(values, acc)
                rows.append((name, measure, conv, found["pearson"], found["p_pearson"]))
        alpha = auto_interclass_alpha(np.bincount(dy, minlength=k))
        print(f"# {name}: n = {dy.size}, auto α = {alpha:g}, macro held-out acc = "
              f"{acc.mean():.3f}", flush=True)  # fmt: skip
    print("dataset      measure           conv   pearson_r  p")
    for name, measure, conv, r, p in rows:
        shown = f"{r:+.2f}      {p:.3f}" if r is not None and p is not None else "–"
        print(f"{name:<12} {measure:<17} {conv:<6} {shown}")
    print("\nmean Pearson r over datasets (L2 / raw)")
    for measure in dict.fromkeys(m for _, m, _, _, _ in rows):
        means = []
        for conv in ("L2", "raw"):
            vals = [r for _, m, c, r, _ in rows if m == measure and c == conv and r is not None]
            means.append(np.mean(vals) if vals else float("nan"))
        print(f"{measure:<17} {means[0]:+.2f} / {means[1]:+.2f}")


if __name__ == "__main__":
    main()
