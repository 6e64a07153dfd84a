"""From per-class embeddings to the audit's tables: one class in memory at a time.

Per class: S, the marginal-effect curve and its saturation fit, the count-matched scale, and a
bounded sample for the linear probe. Then the dataset-level statistics, weights and
recommendations. Pure numpy/scipy/pandas; returns values, writes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from semaudit.scanner.config import ScanConfig
from semaudit.stats.imbalance import (
    balanced_weights,
    effective_number,
    imbalance_stats,
    rank_disagreement,
    spearman,
)
from semaudit.stats.marginal import matched_scale
from semaudit.stats.pipeline import class_curve, class_seed
from semaudit.stats.probe import correlate, linear_probe
from semaudit.stats.recommend import recommendations
from semaudit.stats.scale import class_scale
from semaudit.store import CLASSES_COLUMNS, CURVES_COLUMNS, SCHEMA_VERSION, Flag

_PROBE_TARGETS = ("count", "effective_number", "scale", "scale_matched")


@dataclass(frozen=True)
class AnalysisResult:
    """Everything ``scan`` writes besides embeddings and provenance."""

    classes: pd.DataFrame
    curves: pd.DataFrame
    summary: dict[str, Any]
    weights: dict[str, Any]
    matched_m: int | None
    alpha_used: float | None
    timings: dict[str, float]


def choose_matched_m(counts: np.ndarray, config: ScanConfig) -> int | None:
    """m*: the configured size, else the smallest eligible class (None if no class is eligible)."""
    eligible = counts[counts >= config.min_images]
    if config.matched_m is not None:
        return int(config.matched_m)
    return int(eligible.min()) if eligible.size else None


def analyse(
    class_features: Iterable[tuple[int, np.ndarray]],
    class_names: list[str],
    counts: np.ndarray,
    config: ScanConfig,
    *,
    n_skipped: int = 0,
) -> AnalysisResult:
    """Statistics of every class. ``class_features`` yields ``(class id, (n_c, d))`` once each."""
    k = len(class_names)
    counts = np.asarray(counts, dtype=np.int64)
    m_star = choose_matched_m(counts, config)
    eligible = counts >= config.min_images
    timings = dict.fromkeys(("scale_s", "curves_s", "matched_s"), 0.0)
    rows: list[dict[str, Any]] = [
        {"class": name, "n": int(counts[c]), "scale": 0.0, "flags": []}
        for c, name in enumerate(class_names)
    ]
    curve_rows: list[tuple[str, int, float, float]] = []
    probe_x: list[np.ndarray] = []
    probe_y: list[np.ndarray] = []
    dim: int | None = None
    for c, features in class_features:
        name, row, n = class_names[c], rows[c], features.shape[0]
        dim = features.shape[1]
        seed = class_seed(config.seed, name)
        tick = time.perf_counter()
        row["scale"] = class_scale(features, alpha=config.alpha, normalize=config.normalize)
        timings["scale_s"] += time.perf_counter() - tick
        tick = time.perf_counter()
        curve = class_curve(
            features, seed=seed, fit=bool(eligible[c]), alpha=config.alpha,
            normalize=config.normalize, draws=config.draws, points=config.curve_points,
            target=config.target_saturation,
        )  # fmt: skip
        if curve is not None:
            curve_rows += curve.rows(name)
        fit = curve.fit if curve is not None else None
        if fit is not None and fit.capped:
            row["flags"].append(Flag.NEED_MORE_CAPPED)
        if fit is not None and fit.ok:
            row.update(scale_inf=fit.scale_inf, saturation=fit.saturation, need_more=fit.need_more)
        elif fit is not None:
            row["flags"].append(Flag.NO_FIT)
            row["note"] = f"saturation not fitted: {fit.reason}"
        timings["curves_s"] += time.perf_counter() - tick
        tick = time.perf_counter()
        if m_star is not None and n >= m_star and eligible[c]:
            mean, std = matched_scale(
                features,
                m_star,
                alpha=config.alpha,
                normalize=config.normalize,
                draws=config.draws,
                seed=seed,
            )
            row.update(scale_matched=mean, scale_matched_std=std)
        timings["matched_s"] += time.perf_counter() - tick
        if config.probe and n:
            take = np.random.default_rng(seed).permutation(n)[: config.probe_max_per_class]
            probe_x.append(np.asarray(features[np.sort(take)], dtype=np.float32))
            probe_y.append(np.full(len(take), c, dtype=np.int64))
    for row in rows:
        row["flags"] = _flags(row, row["n"], config.min_images, m_star)
    classes = pd.DataFrame(rows).reindex(columns=CLASSES_COLUMNS)
    classes["need_more"] = classes["need_more"].astype("Int64")  # integers with empty cells
    scales = classes["scale"].to_numpy(dtype=float)
    classes["effective_number"] = effective_number(counts)
    classes["weight"] = balanced_weights(scales, eligible & (scales > 0), config.gamma)
    probe_summary, correlations = None, None
    tick = time.perf_counter()
    if config.probe and len(probe_y) >= 2:
        result = linear_probe(
            np.concatenate(probe_x),
            np.concatenate(probe_y),
            k,
            folds=config.probe_folds,
            seed=config.seed,
            normalize=config.normalize,
        )
        accuracy = np.asarray(result.per_class_accuracy, dtype=float)
        accuracy[counts == 0] = np.nan
        classes["probe_accuracy"] = accuracy
        probe_summary = {"macro_accuracy": float(result.macro_accuracy), "folds": result.folds}
        use = eligible & np.isfinite(accuracy)
        correlations = {
            "probe_accuracy": {
                key: correlate(
                    classes[key if key != "count" else "n"].to_numpy(float)[use], accuracy[use]
                )
                for key in _PROBE_TARGETS
            }
        }
    timings["probe_s"] = time.perf_counter() - tick
    summary = _summary(classes, eligible, m_star, n_skipped, probe_summary, correlations)
    summary["recommendations"] = recommendations(classes, target=config.target_saturation)
    weights = {
        "gamma": config.gamma,
        "basis": "scale",
        "weights": dict(zip(class_names, classes["weight"].astype(float), strict=True)),
    }
    curves = pd.DataFrame(curve_rows, columns=CURVES_COLUMNS)
    alpha_used = float(config.alpha) if config.alpha is not None else (float(dim) if dim else None)
    return AnalysisResult(classes, curves, summary, weights, m_star, alpha_used, timings)


def _flags(row: dict[str, Any], n: int, min_images: int, m_star: int | None) -> str:
    flags: list[Flag] = list(row["flags"])
    if n == 0:
        flags.append(Flag.EMPTY)
    elif n < min_images:
        flags.append(Flag.FEW_IMAGES)
    if n >= 2 and row["scale"] <= 0:
        flags.append(Flag.ZERO_SCALE)
    if n and m_star is not None and n < m_star:
        flags.append(Flag.BELOW_MATCHED_M)
    return Flag.to_cell(flags)


def _summary(
    classes: pd.DataFrame,
    eligible: np.ndarray,
    m_star: int | None,
    n_skipped: int,
    probe: dict[str, Any] | None,
    correlations: dict[str, Any] | None,
) -> dict[str, Any]:
    counts = classes["n"].to_numpy(dtype=float)
    scales = classes["scale"].to_numpy(dtype=float)
    matched = classes["scale_matched"].to_numpy(dtype=float)
    n_images = int(counts.sum())
    names = classes["class"].tolist()
    chosen = [names[i] for i in np.flatnonzero(eligible)]
    return {
        "schema_version": SCHEMA_VERSION,
        "n_classes": len(classes),
        "n_images": n_images,
        "n_skipped": n_skipped,
        "skipped_fraction": n_skipped / (n_images + n_skipped) if n_images + n_skipped else 0.0,
        "n_eligible": int(eligible.sum()),
        "matched_m": m_star,
        "count": imbalance_stats(counts[eligible]),
        "scale": imbalance_stats(scales[eligible]),
        "scale_matched": imbalance_stats(matched[eligible & np.isfinite(matched)]),
        "spearman_count_scale": spearman(counts[eligible], scales[eligible]),
        "rank_disagreement": rank_disagreement(chosen, counts[eligible], scales[eligible]),
        "probe": probe,
        "correlations": correlations,
    }
