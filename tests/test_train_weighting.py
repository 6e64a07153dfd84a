"""The weighting registry, the dssb storage pool and the paper's DSB weights by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from semaudit.errors import UsageError
from semaudit.stats.dsb import dsb_weights, moment_scales, pool_features
from semaudit.stats.scale import class_scale
from semaudit.train.config import TrainConfig
from semaudit.train.losses import create_loss, get_loss_class, list_losses
from semaudit.train.pool import FeaturePool
from semaudit.train.reweighter import Reweighter
from semaudit.train.weightings import create_weighting, list_weightings


def test_registries_list_every_module_and_name_them_on_errors() -> None:
    assert list_losses() == ("ce", "focal", "ldam", "balanced-softmax", "logit-adjust")
    assert list_weightings() == ("none", "inverse", "cb", "ssb", "dssb")
    with pytest.raises(UsageError, match="unknown loss 'hinge'; use one of ce, focal, ldam"):
        create_loss("hinge", np.array([1, 2]))
    with pytest.raises(UsageError, match="unknown weighting 'x'; use one of none, inverse, cb"):
        create_weighting("x", np.array([1, 2]))
    # traits, not names: only LDAM asks for a cosine classifier and defers its weights
    assert [get_loss_class(n).needs_cosine_classifier for n in list_losses()] == [
        False,
        False,
        True,
        False,
        False,
    ]
    ldam = create_loss(TrainConfig(loss="ldam", epochs=10), np.array([5, 1]))
    assert ldam.defers_weighting and ldam.drw_epoch == 8
    assert not create_loss("ce", np.array([5, 1])).defers_weighting


def test_pool_keeps_the_latest_feature_of_each_sample() -> None:
    pool = FeaturePool(np.array([0, 0, 1]), dim=2, n_classes=2)
    assert pool.nbytes == 3 * 2 * 4 and not pool.full
    pool.update(torch.tensor([0, 2]), torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    assert pool.seen.tolist() == [True, False, True]
    pool.update(torch.tensor([2, 1]), torch.tensor([[5.0, 5.0], [0.0, 2.0]]))
    assert pool.full
    assert pool.features.tolist() == [[1.0, 0.0], [0.0, 2.0], [5.0, 5.0]]
    count, total, _ = pool.moments()
    assert count.tolist() == [2, 1] and total.tolist() == [[1.0, 2.0], [5.0, 5.0]]


def test_numpy_pooling_is_torch_adaptive_avg_pool1d() -> None:
    x = np.random.default_rng(0).normal(size=(6, 37))
    for width in (1, 5, 13, 36, 37):
        ours = pool_features(x, width)
        theirs = F.adaptive_avg_pool1d(torch.as_tensor(x)[:, None, :], width)[:, 0, :].numpy()
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)
    assert pool_features(x, 0).shape == (6, 37) and pool_features(x, 64).shape == (6, 37)


def test_earlier_variant_pool_scales_match_class_scale() -> None:
    """L2-normalised rows at full width: ``class_scale``'s S′ (α = d) for each class."""
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(30, 8)).astype(np.float32)
    labels = np.repeat([0, 1, 2], 10)
    pool = FeaturePool(labels, 8, 3, pool_dim=0, normalize=True)
    pool.update(torch.arange(30), torch.as_tensor(feats))
    expected = [class_scale(feats[labels == c], normalize=True) for c in range(3)]
    assert moment_scales(*pool.moments()).tolist() == pytest.approx(expected, rel=1e-6)


def test_pool_weights_are_dsb_weights_of_its_rows() -> None:
    rng = np.random.default_rng(3)
    labels = np.repeat([0, 1, 2], [30, 12, 5])
    feats = (rng.normal(size=(47, 100)) + labels[:, None]).astype(np.float32)
    pool = FeaturePool(labels, 100, 3, pool_dim=64)
    pool.update(torch.arange(47), torch.as_tensor(feats))
    got = pool.dsb_weights(interclass_alpha=2.0)[0]
    want = dsb_weights(feats, labels, pool_dim=64, interclass_alpha=2.0)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert got.sum() == pytest.approx(1.0)


def test_incremental_moments_equal_from_scratch() -> None:
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 4, size=60)
    pool = FeaturePool(labels, 10, 4, pool_dim=4)
    for _ in range(40):  # random batches, most of them replacing rows already in the pool
        ids = torch.as_tensor(rng.choice(60, size=16, replace=False))
        pool.update(ids, torch.as_tensor(rng.normal(size=(16, 10)) * 3 + 1, dtype=torch.float32))
    running = [m.copy() for m in pool.moments()]
    pool.recompute()
    for inc, scratch in zip(running, pool.moments(), strict=True):
        assert np.abs(inc - scratch).max() <= 1e-9 * np.abs(scratch).max()


def test_dsb_two_classes_by_hand() -> None:
    """K = 2: both centres are equally far from each other, W′ = 1, so the weights are those
    without interference: w ∝ 1/S′ with S′ = ½log2 3 and ½log2 1.5 (α = d = 2, m = 2)."""
    z = np.array([[0.0, 0.0], [2.0, 0.0], [9.0, 9.0], [9.0, 10.0]])
    y = np.array([0, 0, 1, 1])
    l3, l15 = math.log2(3), math.log2(1.5)
    expected = [l15 / (l15 + l3), l3 / (l15 + l3)]
    for alpha in (0.0, 1.0, 2.0):
        assert dsb_weights(z, y, interclass_alpha=alpha).tolist() == pytest.approx(expected)


def test_dsb_coinciding_centres_by_hand() -> None:
    """Classes 0 and 1 share their centre (0, 0), class 2 sits at (4, 0); every S′ = ½log2 3.
    Mean centre distances w = (2, 2, 4), W′ = (½, ½, 1), S ∝ log2(α + W′)."""
    z = np.array([[-1, 0], [1, 0], [0, -1], [0, 1], [3, 0], [5, 0]], dtype=float)
    y = np.array([0, 0, 1, 1, 2, 2])
    raw = np.array([1 / math.log2(2.5), 1 / math.log2(2.5), 1 / math.log2(3.0)])
    assert dsb_weights(z, y, interclass_alpha=2.0).tolist() == pytest.approx(raw / raw.sum())
    assert dsb_weights(z, y, interclass_alpha=0).tolist() == pytest.approx([1 / 3] * 3)


def test_dsb_single_image_class_gets_the_largest_weight() -> None:
    """S′ = 0 for one image: the class gets the largest weight of the others, never inf/NaN."""
    z = np.array([[-1.0, 0.0], [1.0, 0.0], [9.0, 9.0], [9.0, 10.0], [5.0, 5.0]])
    y = np.array([0, 0, 1, 1, 2])
    s0, s1 = 0.5 * math.log2(3), 0.5 * math.log2(1.5)
    raw = np.array([1 / s0, 1 / s1, 1 / s1])
    assert dsb_weights(z, y, interclass_alpha=0).tolist() == pytest.approx(raw / raw.sum())
    w = dsb_weights(z, y, interclass_alpha=2.0)
    assert np.isfinite(w).all() and w.sum() == pytest.approx(1.0) and w[2] == w.max()
    # every class a single image: equal weights; a class without images: weight 0
    assert dsb_weights(z[[0, 2]], np.array([0, 2]), n_classes=3).tolist() == [0.5, 0.0, 0.5]


def _toy_pool_features(spread_1: float) -> np.ndarray:
    """Class 0: wide isotropic cloud; class 1: narrow around one direction (smaller scale)."""
    rng = np.random.default_rng(1)
    wide = rng.normal(size=(40, 16))
    narrow = np.ones((40, 16)) + spread_1 * rng.normal(size=(40, 16))
    return np.vstack([wide, narrow]).astype(np.float32)


def test_dynamic_weights_favour_the_narrow_class_and_follow_the_pool() -> None:
    config = TrainConfig(weighting="dssb", warmup_epochs=1, refresh_every=5)
    labels = np.repeat([0, 1], 40)
    rw = Reweighter.from_config(config, labels, feature_dim=16)
    feats = _toy_pool_features(0.1)
    rw.step(torch.arange(80), torch.as_tensor(feats))  # epoch 0 fills the pool
    assert rw.weights() is None  # warm-up: plain loss
    rw.set_epoch(1, iteration=10)
    w = rw.weighting.weights(1, 10)
    assert w is not None and w[1] > 0.5 > w[0] and w.sum() == pytest.approx(1.0)
    assert w.tolist() == pytest.approx(dsb_weights(feats, labels, interclass_alpha=1.0).tolist())
    # not due yet: the same weights, no recomputation
    wide = np.random.default_rng(2).normal(size=(40, 16))
    rw.weighting.observe(torch.arange(40, 80), torch.as_tensor(wide, dtype=torch.float32))
    assert rw.weighting.weights(1, 14) is w
    # due: class 1 is now as wide as class 0, the weights move towards ½
    w2 = rw.weighting.weights(1, 15)
    assert w2 is not None and abs(w2[1] - 0.5) < abs(w[1] - 0.5)
    assert [it for it, _ in rw.history] == [10, 15]


def test_dynamic_weights_wait_for_a_full_pool() -> None:
    config = TrainConfig(weighting="dssb", warmup_epochs=0, refresh_every=1)
    rw = Reweighter.from_config(config, np.array([0, 1, 1]), feature_dim=4)
    rw.step(torch.tensor([0, 1]), torch.ones(2, 4))
    assert rw.weights() is None
    rw.step(torch.tensor([2]), torch.zeros(1, 4))
    assert rw.weights() is not None


def test_ldam_defers_any_weighting_to_its_drw_epoch() -> None:
    config = TrainConfig(loss="ldam", weighting="cb", epochs=10, drw_fraction=0.8)
    rw = Reweighter.from_config(config, np.repeat([0, 1], [100, 10]))
    rw.set_epoch(7)
    assert rw.weights() is None
    rw.set_epoch(8)
    w = rw.weights()
    assert w is not None and w[1] > w[0]


def test_interclass_alpha_settings() -> None:
    assert TrainConfig(interclass_alpha="0").interclass_alpha == "0"
    with pytest.raises(UsageError, match="interclass_alpha"):
        TrainConfig(interclass_alpha="0.5")
    with pytest.raises(UsageError, match="pool_dim"):
        TrainConfig(pool_dim=-1)
    labels = np.repeat([0, 1], [90, 10])
    auto = create_weighting(TrainConfig(weighting="dssb"), np.array([90, 10]), labels=labels)
    none = create_weighting(
        TrainConfig(weighting="dssb", interclass_alpha="none"), np.array([90, 10]), labels=labels
    )
    assert (auto.alpha, none.alpha) == (2.0, 0.0)  # type: ignore[attr-defined]


def test_the_weight_history_stays_bounded_and_evenly_spaced(monkeypatch):
    """A per-step refresh records at most HISTORY_ROWS rows, thinned by two when full."""
    from semaudit.train.weightings import dssb

    monkeypatch.setattr(dssb, "HISTORY_ROWS", 8)
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 6)
    weighting = dssb.DynamicSSB(np.bincount(labels), labels=labels, feature_dim=16, warmup_epochs=0)
    weighting.observe(np.arange(labels.size), rng.normal(size=(labels.size, 16)))
    for iteration in range(50):
        weighting.refresh(iteration)
    steps = [it for it, _ in weighting.history]
    assert weighting.refreshes == 50 and len(steps) <= 8
    assert steps[0] == 0 and len(set(np.diff(steps))) == 1  # every k-th refresh, k a power of 2
    assert np.diff(steps)[0] == weighting.history_stride == 8
    restored = dssb.DynamicSSB(np.bincount(labels), labels=labels, feature_dim=16)
    restored.load_state(weighting.state())
    assert (restored.refreshes, restored.history_stride) == (50, 8)
