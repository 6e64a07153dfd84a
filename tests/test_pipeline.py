"""`semaudit.curves` and the scan's analysis share one per-class step: same curves, same fits."""

from __future__ import annotations

import numpy as np
import pandas as pd

import semaudit
from semaudit.scanner.analysis import analyse
from semaudit.scanner.config import ScanConfig


def _features() -> tuple[np.ndarray, np.ndarray, list[str]]:
    rng = np.random.default_rng(3)
    sizes = [60, 25, 7, 3]  # the last two are under / over min_images = 5 differently
    features = np.concatenate([rng.normal(size=(n, 12)) * (1 + c) for c, n in enumerate(sizes)])
    labels = np.repeat(np.arange(len(sizes)), sizes)
    return features, labels, ["wide", "mid", "small", "tiny"]


def test_curves_equal_the_scans_curves_and_fits() -> None:
    features, labels, names = _features()
    config = ScanConfig(draws=4, curve_points=6, probe=False)
    analysis = analyse(
        ((c, features[labels == c]) for c in range(len(names))),
        names,
        np.bincount(labels),
        config,
    )
    curves, fits = semaudit.curves(
        features, labels, class_names=names, draws=4, points=6, seed=config.seed
    )
    pd.testing.assert_frame_equal(curves, analysis.curves)
    merged = fits.merge(analysis.classes, on="class", suffixes=("", "_scan"))
    for column in ("scale_inf", "saturation", "need_more"):
        left = merged[column].astype(float).to_numpy()
        right = merged[f"{column}_scan"].astype(float).to_numpy()
        np.testing.assert_array_equal(np.isnan(left), np.isnan(right))
        np.testing.assert_allclose(left[~np.isnan(left)], right[~np.isnan(right)])
    tiny = fits.set_index("class").loc["tiny"]
    assert not tiny["ok"] and "min_images" in tiny["reason"]
    assert set(curves["class"]) == set(names)  # every class with 2+ images has a curve
    capped = fits.set_index("class")["capped"]
    flagged = analysis.classes.set_index("class")["flags"].str.contains("need_more_capped")
    assert (capped == flagged).all()
