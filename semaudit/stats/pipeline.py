"""Array-level entry points: ``semaudit.curves`` and ``semaudit.probe``."""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

from semaudit.stats.marginal import fit_saturation, marginal_curve
from semaudit.stats.probe import ProbeResult, linear_probe
from semaudit.stats.scale import _check_inputs


def class_seed(seed: int, name: str) -> int:
    """A per-class seed that does not depend on which other classes exist (our choice)."""
    return int(
        np.random.SeedSequence([seed, zlib.crc32(name.encode("utf-8"))]).generate_state(1)[0]
    )


def curves(
    features: np.ndarray,
    labels: np.ndarray,
    *,
    class_names: list[str] | None = None,
    alpha: float | None = None,
    normalize: bool = True,
    draws: int = 10,
    seed: int = 0,
    points: int = 12,
    target: float = 0.9,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Marginal-effect curves and saturation fits of every class.

    Returns ``(curves, fits)``: ``curves`` has columns class, m, S_mean, S_std (as curves.csv);
    ``fits`` one row per class with scale_inf, saturation, need_more, ok, reason.
    """
    features, labels = _check_inputs(features, labels)
    k = int(labels.max() + 1) if labels.size else 0
    names = class_names or [str(c) for c in range(k)]
    curve_rows: list[tuple[str, int, float, float]] = []
    fit_rows: list[dict[str, object]] = []
    for c, name in enumerate(names):
        z = features[labels == c]
        if z.shape[0] < 2:
            fit_rows.append(
                {
                    "class": name,
                    "scale_inf": None,
                    "saturation": None,
                    "need_more": None,
                    "ok": False,
                    "reason": "fewer than 2 images",
                }
            )
            continue
        m, mean, std = marginal_curve(
            z,
            alpha=alpha,
            normalize=normalize,
            draws=draws,
            seed=class_seed(seed, name),
            points=points,
        )
        curve_rows += [
            (name, int(a), float(b), float(s)) for a, b, s in zip(m, mean, std, strict=True)
        ]
        fit = fit_saturation(m, mean, std, n=z.shape[0], target=target)
        fit_rows.append(
            {
                "class": name,
                "scale_inf": fit.scale_inf,
                "saturation": fit.saturation,
                "need_more": fit.need_more,
                "ok": fit.ok,
                "reason": fit.reason,
            }
        )
    return pd.DataFrame(curve_rows, columns=["class", "m", "S_mean", "S_std"]), pd.DataFrame(
        fit_rows
    )


def probe(
    features: np.ndarray,
    labels: np.ndarray,
    *,
    folds: int = 5,
    seed: int = 0,
    normalize: bool = True,
) -> ProbeResult:
    """k-fold cross-validated linear probe → per-class accuracy (label order)."""
    features, labels = _check_inputs(features, labels)
    k = int(labels.max() + 1) if labels.size else 0
    return linear_probe(features, labels, k, folds=folds, seed=seed, normalize=normalize)
