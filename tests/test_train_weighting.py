"""The dssb storage pool and dynamic weights on a toy problem."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from semaudit.stats.scale import class_scale
from semaudit.train.config import TrainConfig
from semaudit.train.weighting import ClassWeighting, FeaturePool


def test_pool_keeps_the_latest_feature_of_each_sample() -> None:
    pool = FeaturePool(np.array([0, 0, 1]), dim=2, n_classes=2)
    assert pool.nbytes == 3 * 2 * 4 and not pool.full
    pool.update(torch.tensor([0, 2]), torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    assert pool.seen.tolist() == [True, False, True]
    pool.update(torch.tensor([2, 1]), torch.tensor([[5.0, 5.0], [0.0, 2.0]]))
    assert pool.full
    assert pool.features.tolist() == [[1.0, 0.0], [0.0, 2.0], [5.0, 5.0]]


def test_pool_scales_match_class_scale_on_the_same_features() -> None:
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(30, 8)).astype(np.float32)
    labels = np.repeat([0, 1, 2], 10)
    pool = FeaturePool(labels, 8, 3)
    pool.update(torch.arange(30), torch.as_tensor(feats))
    expected = [class_scale(feats[labels == c]) for c in range(3)]
    assert pool.class_scales().tolist() == pytest.approx(expected)


def _toy_pool(spread_1: float) -> FeaturePool:
    """Class 0: wide isotropic cloud; class 1: the same count, spread ``spread_1`` around one
    direction (narrow): a smaller semantic scale."""
    rng = np.random.default_rng(1)
    wide = rng.normal(size=(40, 16))
    narrow = np.ones((40, 16)) + spread_1 * rng.normal(size=(40, 16))
    pool = FeaturePool(np.repeat([0, 1], 40), 16, 2)
    pool.update(torch.arange(80), torch.as_tensor(np.vstack([wide, narrow]), dtype=torch.float32))
    return pool


def test_dynamic_weights_favour_the_narrow_class_and_follow_the_pool() -> None:
    config = TrainConfig(weighting="dssb", warmup_epochs=1, refresh_every=5)
    pool = _toy_pool(0.1)
    weighting = ClassWeighting.from_config(config, np.array([40, 40]), None, pool)
    assert weighting.weights(epoch=0, iteration=3) is None  # warm-up: plain loss
    w = weighting.weights(epoch=1, iteration=10)
    assert w is not None
    assert w[1] > 1 > w[0] and w.mean() == pytest.approx(1.0)
    scales = pool.class_scales()
    assert w[1] / w[0] == pytest.approx(scales[0] / scales[1])  # (1/S)^γ with γ = 1
    # not due yet: the same weights, no recomputation
    wide = np.random.default_rng(2).normal(size=(40, 16))
    pool.update(torch.arange(40, 80), torch.as_tensor(wide, dtype=torch.float32))
    assert weighting.weights(epoch=1, iteration=14) is w
    # due: class 1 is now as wide as class 0, the weights move towards 1
    w2 = weighting.weights(epoch=1, iteration=15)
    assert w2 is not None and abs(w2[1] - 1) < abs(w[1] - 1)
    assert [it for it, _ in weighting.history] == [10, 15]


def test_dynamic_weights_wait_for_a_full_pool() -> None:
    config = TrainConfig(weighting="dssb", warmup_epochs=0, refresh_every=1)
    pool = FeaturePool(np.array([0, 1, 1]), 4, 2)
    weighting = ClassWeighting.from_config(config, np.array([1, 2]), None, pool)
    pool.update(torch.tensor([0, 1]), torch.ones(2, 4))
    assert weighting.weights(0, 0) is None
    pool.update(torch.tensor([2]), torch.zeros(1, 4))
    assert weighting.weights(0, 1) is not None


def test_ldam_defers_any_weighting_to_its_drw_epoch() -> None:
    config = TrainConfig(loss="ldam", weighting="cb", epochs=10, drw_fraction=0.8)
    weighting = ClassWeighting.from_config(config, np.array([100, 10]), None, None)
    assert weighting.weights(7, 70) is None
    w = weighting.weights(8, 80)
    assert w is not None and w[1] > w[0]
