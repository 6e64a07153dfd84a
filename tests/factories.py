"""Synthetic, contract-correct audit directories for tests of the readers (report, check).

The numbers are made up but consistent (saturation = S/S∞, weights mean 1, …); tests of the
maths use real features instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from semaudit.store import (
    CLASSES_COLUMNS,
    CURVES_COLUMNS,
    SCHEMA_VERSION,
    write_csv,
    write_json,
)


def make_audit(
    path: Path,
    *,
    n_classes: int = 6,
    counts: list[int] | None = None,
    scales: list[float] | None = None,
    names: list[str] | None = None,
    backbone: str = "efficientnet-lite0",
    skipped: list[tuple[str, str]] | None = None,
    probe: bool = True,
    seed: int = 0,
) -> Path:
    """Write an audit directory at ``path`` and return it."""
    rng = np.random.default_rng(seed)
    k = len(counts) if counts is not None else n_classes
    names = names or [f"class_{i:03d}" for i in range(k)]
    counts_a = np.array(counts if counts is not None else rng.integers(5, 400, size=k))
    scales_a = np.array(scales if scales is not None else 20 + 10 * np.log1p(counts_a) / 6)
    scale_inf = scales_a * (1.0 + 30.0 / (counts_a + 10.0))
    saturation = scales_a / scale_inf
    need_more = np.where(saturation >= 0.9, 0, (counts_a * (0.9 / saturation - 1)).astype(int))
    m_star = int(counts_a.min())
    weight = (1 / scales_a) / np.mean(1 / scales_a)
    classes = pd.DataFrame(
        {
            "class": names,
            "n": counts_a,
            "scale": scales_a,
            "scale_matched": scales_a * 0.8,
            "scale_matched_std": 0.1 * np.ones(k),
            "scale_inf": scale_inf,
            "saturation": saturation,
            "need_more": need_more,
            "effective_number": counts_a * 0.95,
            "weight": weight,
            "probe_accuracy": np.clip(0.5 + 0.4 * saturation, 0, 1) if probe else np.nan,
            "flags": ["few_images" if n < 5 else "" for n in counts_a],
            "centre_distance": np.linspace(0.6, 1.0, k),
            "scale_interclass": scales_a / scales_a.max() * np.log2(2 + np.linspace(0.6, 1, k)),
        }
    ).sort_values("class")
    rows = []
    for name, n, s, s_inf in zip(names, counts_a, scales_a, scale_inf, strict=True):
        grid = np.unique(np.geomspace(2, max(int(n), 2), 8).astype(int))
        for m in grid:
            mean = s_inf * (1 - np.exp(-m / (n / 2 + 1))) if m < n else s
            rows.append((name, int(m), float(mean), 0.0 if m == n else 0.2))
    curves = pd.DataFrame(rows, columns=CURVES_COLUMNS)
    skipped = skipped or []

    def stats(values: np.ndarray) -> dict[str, float]:
        return {
            "max_min_ratio": float(values.max() / values.min()),
            "cv": float(values.std() / values.mean()),
            "gini": 0.2,
            "entropy": 0.9,
        }

    meta: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "semaudit_version": "0.1.0",
        "created": "2026-11-29T12:00:00+00:00",
        "source": {"kind": "folder", "root": "/data/train", "manifest": None},
        "backbone": {
            "id": backbone,
            "weights_digest": "sha256:0",
            "embed_dim": 1280,
            "preprocessing": {"size": 224},
        },
        "settings": {
            "alpha": None,
            "alpha_used": 1280.0,
            "normalize": True,
            "min_images": 5,
            "seed": 0,
            "draws": 10,
            "target_saturation": 0.9,
            "gamma": 1.0,
            "probe": probe,
            "probe_folds": 5,
            "matched_m": m_star,
            "dtype": "float16",
        },
        "counts": {"images": int(counts_a.sum()), "classes": k, "skipped": len(skipped)},
        "timings": {"total_s": 1.0},
        "environment": {"python": "3.11", "torch": "2.14.1", "device": "cpu"},
    }
    correlation = {"pearson": 0.5, "spearman": 0.4, "p_spearman": 0.2}
    summary: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "n_classes": k,
        "n_images": int(counts_a.sum()),
        "n_skipped": len(skipped),
        "skipped_fraction": len(skipped) / (int(counts_a.sum()) + len(skipped)),
        "n_eligible": int((counts_a >= 5).sum()),
        "matched_m": m_star,
        "count": stats(counts_a.astype(float)),
        "scale": stats(scales_a),
        "scale_matched": stats(scales_a * 0.8),
        "scale_interclass": stats(scales_a / scales_a.max() * np.log2(2 + np.linspace(0.6, 1, k))),
        "spearman_count_scale": {"rho": 0.9, "p": 0.01},
        "rank_disagreement": [
            {"class": names[0], "count_rank": 1, "scale_rank": 3, "delta": 2},
        ],
        "probe": {"macro_accuracy": 0.8, "folds": 5} if probe else None,
        "correlations": (
            {
                "probe_accuracy": {
                    key: correlation
                    for key in ("count", "effective_number", "scale", "scale_matched")
                }
            }
            if probe
            else None
        ),
        "recommendations": [
            {
                "kind": "need_more",
                "class": names[0],
                "need_more": int(need_more[0]),
                "text": f"{names[0]} needs ~{int(need_more[0])} more diverse images.",
            }
        ],
    }
    write_json(path / "audit.json", meta)
    write_json(path / "summary.json", summary)
    write_csv(path / "classes.csv", classes, CLASSES_COLUMNS)
    write_csv(path / "curves.csv", curves, CURVES_COLUMNS)
    write_csv(path / "skipped.csv", pd.DataFrame(skipped, columns=["path", "reason"]))
    write_json(
        path / "weights.json",
        {"gamma": 1.0, "basis": "scale", "weights": dict(zip(names, weight.tolist(), strict=True))},
    )
    return path
