"""S, the semantic scale with inter-class interference (docs/method.md), against hand values.

Every case uses raw features (``normalize=False``) in two dimensions, so that the coding α of S′
is d = 2 and two images per class give α/m = 1: a class of two points at distance 2 along one
axis has centred AᵀA = diag(2, 0) and S′ = ½ log2 det(I + AᵀA) = ½ log2 3.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import semaudit
from semaudit.errors import UsageError
from semaudit.scanner.config import ScanConfig
from semaudit.stats.interclass import (
    ALPHA_GRID,
    auto_interclass_alpha,
    centre_distances,
    class_centres,
    interclass_from_distances,
    interclass_from_moments,
    interclass_from_scales,
    interclass_scale,
    resolve_interclass_alpha,
)
from semaudit.stats.scale import ClassMoments, semantic_scale

HALF_LOG3 = 0.5 * math.log2(3)


def test_coinciding_centres_share_the_interference() -> None:
    # centres (1, 0), (1, 0), (4, 4): distances 0, 5, 5, so w = (2.5, 2.5, 5), W′ = (½, ½, 1)
    z = np.array([[0, 0], [2, 0], [1, 1], [1, -1], [3, 4], [5, 4]], dtype=float)
    y = np.array([0, 0, 1, 1, 2, 2])
    np.testing.assert_allclose(semantic_scale(z, y, normalize=False), [HALF_LOG3] * 3)
    centres, counts = class_centres(z, y, 3, normalize=False)
    np.testing.assert_allclose(centres, [[1, 0], [1, 0], [4, 4]])
    np.testing.assert_allclose(centre_distances(centres, counts > 0), [2.5, 2.5, 5.0])
    s1 = interclass_scale(z, y, alpha=1.0, normalize=False)
    np.testing.assert_allclose(s1, [math.log2(1.5), math.log2(1.5), 1.0])
    s2 = interclass_scale(z, y, alpha=2, normalize=False)
    np.testing.assert_allclose(s2, [math.log2(2.5), math.log2(2.5), math.log2(3)])


def test_a_single_image_class_has_zero_scale_but_still_crowds_the_others() -> None:
    # centres (1, 0), (1, 3), (4, 4): distances 3, 5 and √10; S′ = (½ log2 3, 0, ½ log2 3)
    z = np.array([[0, 0], [2, 0], [1, 3], [3, 4], [5, 4]], dtype=float)
    y = np.array([0, 0, 1, 2, 2])
    w = np.array([4.0, (3 + math.sqrt(10)) / 2, (5 + math.sqrt(10)) / 2])
    centres, counts = class_centres(z, y, 3, normalize=False)
    np.testing.assert_allclose(centre_distances(centres, counts > 0), w)
    # counts 2, 1, 2: max/min = 2 reaches LONG_TAIL_RATIO, so "auto" is the paper's 2
    assert auto_interclass_alpha(counts) == 2.0
    s = interclass_scale(z, y, normalize=False)  # alpha="auto"
    np.testing.assert_allclose(s, [math.log2(2 + w[0] / w[2]), 0.0, math.log2(3)])


def test_two_classes_see_each_other_at_the_same_distance() -> None:
    # K = 2: w_0 = w_1 = ‖(1, 0) − (0, 7)‖ = √50, W′ = 1, so S = S′ / max S′ · log2(α + 1)
    z = np.array([[0, 0], [2, 0], [0, 5], [0, 9]], dtype=float)  # S′ = ½ log2 3 and log2 3
    y = np.array([0, 0, 1, 1])
    centres, counts = class_centres(z, y, 2, normalize=False)
    np.testing.assert_allclose(centre_distances(centres, counts > 0), [math.sqrt(50)] * 2)
    np.testing.assert_allclose(interclass_scale(z, y, alpha=1, normalize=False), [0.5, 1.0])
    s = interclass_scale(z, y, alpha=2.0, normalize=False)
    np.testing.assert_allclose(s, [0.5 * math.log2(3), math.log2(3)])


def test_empty_class_is_nan_and_one_class_gets_no_interference() -> None:
    z = np.array([[0, 0], [2, 0], [3, 4], [5, 4]], dtype=float)
    s = interclass_scale(z, np.array([0, 0, 2, 2]), alpha=1, normalize=False, n_classes=3)
    assert math.isnan(s[1]) and s[0] == pytest.approx(1.0) and s[2] == pytest.approx(1.0)
    alone = interclass_scale(z[:2], np.array([0, 0]), alpha=1, normalize=False)
    np.testing.assert_allclose(alone, [1.0])  # W′ = 1 when no interference can be measured


def test_from_distances_equals_from_centres_for_every_alpha() -> None:
    rng = np.random.default_rng(0)
    scales, centres = rng.random(5) * 10, rng.normal(size=(5, 4))
    counts = np.array([5, 0, 3, 9, 2])
    for alpha in ALPHA_GRID:
        s, w = interclass_from_scales(scales, centres, counts, alpha)
        np.testing.assert_allclose(interclass_from_distances(scales, w, counts, alpha), s)
        assert math.isnan(s[1]) and math.isnan(w[1])


def test_streamed_moments_equal_the_in_memory_function() -> None:
    rng = np.random.default_rng(1)
    z = rng.normal(size=(120, 6)) + np.repeat(rng.normal(size=(4, 6)) * 2, 30, axis=0)
    y = np.repeat(np.arange(4), 30)
    for normalize in (True, False):
        moments = ClassMoments.zeros(4, 6, normalize=normalize)
        for part in np.array_split(rng.permutation(120), 5):  # batches in any order
            moments.update(z[part], y[part])
        s, _, alpha = interclass_from_moments(moments, 1.5)
        expected = interclass_scale(z, y, alpha=1.5, normalize=normalize)
        np.testing.assert_allclose(s, expected, rtol=1e-9)
        assert alpha == 1.5


def test_public_name_is_lazy_and_the_same_function() -> None:
    assert semaudit.interclass_scale is interclass_scale
    assert "interclass_scale" in semaudit.__all__


@pytest.mark.parametrize("bad", ["fast", "0.5", 0.99, float("nan"), "inf"])
def test_alpha_must_be_auto_or_at_least_one(bad: object) -> None:
    with pytest.raises(UsageError, match="interclass_alpha"):
        resolve_interclass_alpha(bad, np.array([3, 3]))  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="interclass_alpha"):
        ScanConfig(interclass_alpha=str(bad))


def test_scan_setting_is_canonical_and_comes_from_env_and_toml(tmp_path: Path) -> None:
    from semaudit.config import resolve_config

    assert ScanConfig().interclass_alpha == "auto"
    assert ScanConfig(interclass_alpha=" 2.0 ").interclass_alpha == "2"
    env = {"SEMAUDIT_SCAN_INTERCLASS_ALPHA": "1.5"}
    assert resolve_config(ScanConfig, "scan", environ=env).interclass_alpha == "1.5"
    toml = tmp_path / "semaudit.toml"
    toml.write_text("[scan]\ninterclass_alpha = 2.5\n", encoding="utf-8")
    assert resolve_config(ScanConfig, "scan", config_file=toml).interclass_alpha == "2.5"
    flags = {"interclass_alpha": "AUTO"}
    assert resolve_config(ScanConfig, "scan", flags, config_file=toml).interclass_alpha == "auto"
