"""Each long-tail loss and count-based weighting against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from semaudit.errors import UsageError
from semaudit.train.config import TrainConfig, method_name, parse_method, parse_methods
from semaudit.train.losses import create_loss, ldam_margins
from semaudit.train.weighting import static_weights

LOGITS = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
TARGETS = torch.tensor([0, 1])
W = torch.tensor([2.0, 1.0, 1.0])


def _ce(z: list[float], y: int) -> float:
    return -(z[y] - math.log(sum(math.exp(v) for v in z)))


def test_weighted_cross_entropy_is_the_weight_normalised_sum() -> None:
    loss = create_loss("ce", np.array([1, 1, 1]))
    l0, l1 = _ce([2, 0, 0], 0), _ce([0, 1, 0], 1)
    assert float(loss(LOGITS, TARGETS, W)) == pytest.approx((2 * l0 + 1 * l1) / 3, rel=1e-6)
    assert float(loss(LOGITS, TARGETS)) == pytest.approx((l0 + l1) / 2, rel=1e-6)


@pytest.mark.parametrize("gamma", [1.0, 2.0])
def test_focal_loss_down_weights_easy_samples(gamma: float) -> None:
    loss = create_loss("focal", np.array([1, 1, 1]), gamma=gamma)
    terms = []
    for z, y in (([2.0, 0, 0], 0), ([0, 1.0, 0], 1)):
        log_p = -_ce(z, y)
        terms.append(-((1 - math.exp(log_p)) ** gamma) * log_p)
    expected = (2 * terms[0] + terms[1]) / 3
    assert float(loss(LOGITS, TARGETS, W)) == pytest.approx(expected, rel=1e-6)


def test_ldam_margins_and_loss() -> None:
    counts = np.array([100, 1])
    margins = ldam_margins(counts, 0.5)
    assert margins.tolist() == pytest.approx([0.5 * 100**-0.25, 0.5])
    loss = create_loss("ldam", counts, max_margin=0.5, s=30.0)
    z = torch.tensor([[0.5, 0.2]])
    expected = _ce([30 * 0.5, 30 * (0.2 - 0.5)], 1)
    assert float(loss(z, torch.tensor([1]))) == pytest.approx(expected, rel=1e-5)
    # the head class gets the small margin
    expected0 = _ce([30 * (0.5 - 0.5 * 100**-0.25), 30 * 0.2], 0)
    assert float(loss(z, torch.tensor([0]))) == pytest.approx(expected0, rel=1e-5)


def test_balanced_softmax_and_logit_adjustment_add_the_log_prior() -> None:
    counts = np.array([3, 1])
    z = torch.tensor([[1.0, 1.0]])
    prior = [math.log(0.75), math.log(0.25)]
    bs = create_loss("balanced-softmax", counts)
    assert float(bs(z, torch.tensor([1]))) == pytest.approx(_ce([1 + prior[0], 1 + prior[1]], 1))
    la = create_loss("logit-adjust", counts, tau=2.0)
    expected = _ce([1 + 2 * prior[0], 1 + 2 * prior[1]], 1)
    assert float(la(z, torch.tensor([1]))) == pytest.approx(expected, rel=1e-6)
    # the rare class's loss is larger than plain CE would give (it is pushed harder)
    assert float(la(z, torch.tensor([1]))) > _ce([1, 1], 1)


def test_count_based_weights_by_hand() -> None:
    counts = np.array([10, 1])
    inverse = static_weights("inverse", counts)
    assert inverse is not None
    assert inverse.tolist() == pytest.approx([0.1 / 0.55, 1 / 0.55])
    cb = static_weights("cb", counts, beta=0.9)
    raw = np.array([0.1 / (1 - 0.9**10), 0.1 / (1 - 0.9)])
    assert cb is not None
    assert cb.tolist() == pytest.approx((raw / raw.mean()).tolist())
    ssb = static_weights("ssb", counts, scales=np.array([2.0, 1.0]), gamma=1.0)
    assert ssb is not None
    assert ssb.tolist() == pytest.approx([2 / 3, 4 / 3])
    assert static_weights("none", counts) is None


def test_weighted_loss_pushes_the_up_weighted_class() -> None:
    """A gradient step with w = (1, 10) moves the logits towards class 1 more than plain CE."""
    counts = np.array([50, 5])
    loss = create_loss("ce", counts)
    x = torch.tensor([[0.0, 0.0], [0.0, 0.0]], requires_grad=True)
    y = torch.tensor([0, 1])
    loss(x, y, torch.tensor([1.0, 10.0])).backward()
    assert x.grad is not None
    assert float(x.grad[1, 1]) < float(x.grad[0, 0]) < 0  # class 1's logit rises faster


def test_method_names_round_trip() -> None:
    assert parse_method("ce") == ("ce", "none")
    assert parse_method("dssb") == ("ce", "dssb")
    assert parse_method("focal+dssb") == ("focal", "dssb")
    assert parse_method("LDAM+cb") == ("ldam", "cb")
    assert method_name("ce", "none") == "ce" and method_name("focal", "dssb") == "focal+dssb"
    assert parse_methods("ce, cb,ce") == [("ce", "none"), ("ce", "cb")]
    with pytest.raises(UsageError, match="unknown training method 'ssbx'"):
        parse_method("ssbx")


def test_config_validates_and_names_the_setting() -> None:
    with pytest.raises(UsageError, match="train setting epochs must be an integer ≥ 1; received 0"):
        TrainConfig(epochs=0)
    with pytest.raises(UsageError, match="weighting"):
        TrainConfig(weighting="dynamic")
    assert TrainConfig(finetune="full").learning_rate == 0.01
    assert TrainConfig(epochs=200).drw_epoch == 160
