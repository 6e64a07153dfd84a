"""From per-class embeddings to the audit's tables: one class in memory at a time.

Per class: S′, its centre, the marginal-effect curve and its saturation fit, the count-matched
scale, and a bounded sample for the linear probe. Then S (with inter-class interference, from
the same centres), the dataset-level statistics, the probe and Table 1, weights and
recommendations. Pure numpy/scipy/pandas; returns values, writes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
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
from semaudit.stats.interclass import interclass_from_scales, resolve_interclass_alpha
from semaudit.stats.marginal import matched_scale
from semaudit.stats.pipeline import class_curve, class_seed
from semaudit.stats.probe import linear_probe
from semaudit.stats.scale import class_scale, l2_normalize
from semaudit.stats.table1 import accuracy_correlations
from semaudit.store import CLASSES_COLUMNS, CURVES_COLUMNS, SCHEMA_VERSION, Flag
from semaudit.wording import recommendations

_EXTRA_TARGETS = ("scale_matched",)  # beside the Table-1 measures of stats/table1.py


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
    interclass_alpha: float | None = None  # the resolved α of S (inter-class interference)


@dataclass
class _Pass:
    """What the one pass over the classes collects."""

    rows: list[dict[str, Any]]
    centres: dict[int, np.ndarray] = field(default_factory=dict)
    curve_rows: list[tuple[str, int, float, float]] = field(default_factory=list)
    probe_x: list[np.ndarray] = field(default_factory=list)
    probe_y: list[np.ndarray] = field(default_factory=list)
    dim: int | None = None
    timings: dict[str, float] = field(
        default_factory=lambda: dict.fromkeys(("scale_s", "curves_s", "matched_s"), 0.0)
    )


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
    counts = np.asarray(counts, dtype=np.int64)
    m_star = choose_matched_m(counts, config)
    eligible = counts >= config.min_images
    state = _Pass([{"class": name, "n": int(counts[c]), "scale": 0.0, "flags": []}
                   for c, name in enumerate(class_names)])  # fmt: skip
    for c, features in class_features:
        _one_class(state, c, class_names[c], features, bool(eligible[c]), m_star, config)
    alpha_s = resolve_interclass_alpha(config.interclass_alpha, counts)
    classes = _class_table(state, counts, eligible, m_star, config, alpha_s)
    tick = time.perf_counter()
    probe_summary, correlations = _probe(state, classes, eligible, config, alpha_s)
    state.timings["probe_s"] = time.perf_counter() - tick
    summary = _summary(classes, eligible, m_star, n_skipped, probe_summary, correlations)
    summary["recommendations"] = recommendations(
        classes, target=config.target_saturation, matched_m=m_star
    )
    weights = {
        "gamma": config.gamma,
        "basis": "scale",
        "weights": dict(zip(class_names, classes["weight"].astype(float), strict=True)),
    }
    curves = pd.DataFrame(state.curve_rows, columns=CURVES_COLUMNS)
    dim = state.dim
    alpha_used = float(config.alpha) if config.alpha is not None else (float(dim) if dim else None)
    return AnalysisResult(
        classes, curves, summary, weights, m_star, alpha_used, state.timings, alpha_s
    )


def _one_class(
    state: _Pass,
    c: int,
    name: str,
    features: np.ndarray,
    eligible: bool,
    m_star: int | None,
    config: ScanConfig,
) -> None:
    """S′, centre, curve and fit, matched scale and the probe sample of one class."""
    row, n, timings = state.rows[c], features.shape[0], state.timings
    state.dim = features.shape[1]
    seed = class_seed(config.seed, name)
    tick = time.perf_counter()
    row["scale"] = class_scale(features, alpha=config.alpha, normalize=config.normalize)
    if n:
        z = l2_normalize(features) if config.normalize else features.astype(np.float64)
        state.centres[c] = z.mean(axis=0)
    timings["scale_s"] += time.perf_counter() - tick
    tick = time.perf_counter()
    curve = class_curve(
        features, seed=seed, fit=eligible, alpha=config.alpha, normalize=config.normalize,
        draws=config.draws, points=config.curve_points, target=config.target_saturation,
    )  # fmt: skip
    fit = curve.fit if curve is not None else None
    if curve is not None:
        state.curve_rows += curve.rows(name)
    if fit is not None and fit.capped:
        row["flags"].append(Flag.NEED_MORE_CAPPED)
    if fit is not None and fit.ok:
        row.update(scale_inf=fit.scale_inf, saturation=fit.saturation, need_more=fit.need_more)
    elif fit is not None:
        row["flags"].append(Flag.NO_FIT)
        row["note"] = f"saturation not fitted: {fit.reason}"
    timings["curves_s"] += time.perf_counter() - tick
    tick = time.perf_counter()
    if m_star is not None and n >= m_star and eligible:
        mean, std = matched_scale(
            features, m_star, alpha=config.alpha, normalize=config.normalize,
            draws=config.draws, seed=seed,
        )  # fmt: skip
        row.update(scale_matched=mean, scale_matched_std=std)
    timings["matched_s"] += time.perf_counter() - tick
    if config.probe and n:
        take = np.random.default_rng(seed).permutation(n)[: config.probe_max_per_class]
        state.probe_x.append(np.asarray(features[np.sort(take)], dtype=np.float32))
        state.probe_y.append(np.full(len(take), c, dtype=np.int64))


def _class_table(
    state: _Pass,
    counts: np.ndarray,
    eligible: np.ndarray,
    m_star: int | None,
    config: ScanConfig,
    alpha_s: float,
) -> pd.DataFrame:
    """classes.csv as a frame: flags, E_n, weights, and w and S from the class centres."""
    for row in state.rows:
        row["flags"] = _flags(row, row["n"], config.min_images, m_star)
    classes = pd.DataFrame(state.rows).reindex(columns=CLASSES_COLUMNS)
    classes["need_more"] = classes["need_more"].astype("Int64")  # integers with empty cells
    scales = classes["scale"].to_numpy(dtype=float)
    classes["effective_number"] = effective_number(counts)
    classes["weight"] = balanced_weights(scales, eligible & (scales > 0), config.gamma)
    centres = np.full((len(counts), state.dim or 0), np.nan)
    for c, centre in state.centres.items():
        centres[c] = centre
    s, w = interclass_from_scales(scales, centres, counts, alpha_s)
    classes["centre_distance"], classes["scale_interclass"] = w, s
    return classes


def _probe(
    state: _Pass,
    classes: pd.DataFrame,
    eligible: np.ndarray,
    config: ScanConfig,
    alpha_s: float,
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The linear probe's per-class accuracy (into ``classes``), and Table 1 against it."""
    if not (config.probe and len(state.probe_y) >= 2):
        return None, None
    counts = classes["n"].to_numpy(dtype=float)
    result = linear_probe(
        np.concatenate(state.probe_x), np.concatenate(state.probe_y), len(classes),
        folds=config.probe_folds, seed=config.seed, normalize=config.normalize,
    )  # fmt: skip
    accuracy = np.asarray(result.per_class_accuracy, dtype=float)
    accuracy[counts == 0] = np.nan
    classes["probe_accuracy"] = accuracy
    table = accuracy_correlations(
        accuracy, counts, classes["scale"].to_numpy(dtype=float),
        classes["centre_distance"].to_numpy(dtype=float), alpha_s,
        use=eligible, extra={k: classes[k].to_numpy(dtype=float) for k in _EXTRA_TARGETS},
    )  # fmt: skip
    probe = {"macro_accuracy": float(result.macro_accuracy), "folds": result.folds}
    return probe, {"probe_accuracy": table}


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
    interclass = classes["scale_interclass"].to_numpy(dtype=float)
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
        "scale_interclass": imbalance_stats(interclass[eligible & np.isfinite(interclass)]),
        "spearman_count_scale": spearman(counts[eligible], scales[eligible]),
        "rank_disagreement": rank_disagreement(chosen, counts[eligible], scales[eligible]),
        "probe": probe,
        "correlations": correlations,
    }
