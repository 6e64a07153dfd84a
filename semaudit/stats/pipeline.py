"""One class's marginal-effect curve and saturation fit, and the array-level entry points.

``class_curve`` is the per-class step of both ``semaudit.curves`` and the scan's analysis, so
the two cannot drift: same seed per class, same eligibility (``min_images``) for the fit.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from semaudit.stats.defaults import METHOD
from semaudit.stats.marginal import SaturationFit, fit_saturation, marginal_curve
from semaudit.stats.probe import ProbeResult, linear_probe
from semaudit.stats.scale import check_labelled

CURVE_COLUMNS = ["class", "m", "S_mean", "S_std"]
FIT_COLUMNS = ["class", "scale_inf", "saturation", "need_more", "capped", "ok", "reason"]


def class_seed(seed: int, name: str) -> int:
    """A per-class seed that does not depend on which other classes exist (our choice)."""
    return int(
        np.random.SeedSequence([seed, zlib.crc32(name.encode("utf-8"))]).generate_state(1)[0]
    )


@dataclass(frozen=True)
class ClassCurve:
    """S(m) mean ± std on the size grid, and the saturation fit (``None``: not eligible)."""

    m: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    fit: SaturationFit | None

    def rows(self, name: str) -> list[tuple[str, int, float, float]]:
        """Rows of curves.csv for this class."""
        return [
            (name, int(a), float(b), float(s))
            for a, b, s in zip(self.m, self.mean, self.std, strict=True)
        ]


def class_curve(
    features: np.ndarray,
    *,
    seed: int,
    fit: bool,
    alpha: float | None = None,
    normalize: bool = METHOD.normalize,
    draws: int = METHOD.draws,
    points: int = METHOD.curve_points,
    target: float = METHOD.target_saturation,
) -> ClassCurve | None:
    """The curve of one class's (n, d) features (``None`` under 2 images), fitted when ``fit``."""
    n = features.shape[0]
    if n < 2:
        return None
    m, mean, std = marginal_curve(
        features, alpha=alpha, normalize=normalize, draws=draws, seed=seed, points=points
    )
    fitted = fit_saturation(m, mean, std, n=n, target=target) if fit else None
    return ClassCurve(m, mean, std, fitted)


def curves(
    features: np.ndarray,
    labels: np.ndarray,
    *,
    class_names: list[str] | None = None,
    alpha: float | None = None,
    normalize: bool = METHOD.normalize,
    draws: int = METHOD.draws,
    seed: int = 0,
    points: int = METHOD.curve_points,
    target: float = METHOD.target_saturation,
    min_images: int = METHOD.min_images,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Marginal-effect curves and saturation fits of every class, as the scan computes them.

    Returns ``(curves, fits)``: ``curves`` has the columns of curves.csv (class, m, S_mean,
    S_std) for every class with 2+ images; ``fits`` one row per class with scale_inf,
    saturation, need_more, capped, ok, reason. Classes under ``min_images`` get a curve but no
    fit (``ok`` False, with the reason).
    """
    features, labels = check_labelled(features, labels)
    k = int(labels.max() + 1) if labels.size else 0
    names = class_names or [str(c) for c in range(k)]
    curve_rows: list[tuple[str, int, float, float]] = []
    fit_rows: list[tuple[object, ...]] = []
    for c, name in enumerate(names):
        z = features[labels == c]
        curve = class_curve(
            z, seed=class_seed(seed, name), fit=z.shape[0] >= min_images, alpha=alpha,
            normalize=normalize, draws=draws, points=points, target=target,
        )  # fmt: skip
        if curve is not None:
            curve_rows += curve.rows(name)
        fit = curve.fit if curve is not None else None
        if fit is None:
            reason = f"fewer than {max(2, min_images)} images (min_images)"
            fit_rows.append((name, None, None, None, False, False, reason))
        else:
            fit_rows.append(
                (name, fit.scale_inf, fit.saturation, fit.need_more, fit.capped, fit.ok, fit.reason)
            )
    return (
        pd.DataFrame(curve_rows, columns=CURVE_COLUMNS),
        pd.DataFrame(fit_rows, columns=FIT_COLUMNS),
    )


def probe(
    features: np.ndarray,
    labels: np.ndarray,
    *,
    folds: int = METHOD.probe_folds,
    seed: int = 0,
    normalize: bool = METHOD.normalize,
) -> ProbeResult:
    """k-fold cross-validated linear probe → per-class accuracy (label order)."""
    features, labels = check_labelled(features, labels)
    k = int(labels.max() + 1) if labels.size else 0
    return linear_probe(features, labels, k, folds=folds, seed=seed, normalize=normalize)
