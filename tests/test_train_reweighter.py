"""``semaudit.train.Reweighter``: the documented example runs, and a loop written only against it
(plus torch) gives the same dssb weight history as ``semaudit train``."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from test_train_run import _inputs
from torch import nn

from semaudit.errors import UsageError
from semaudit.train import Reweighter, TrainConfig, train_run

DOC = Path(__file__).resolve().parents[1] / "docs" / "train.md"


def _own_loop_example() -> str:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## In your own training loop", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None
    return match.group(1)


def test_the_documented_plain_pytorch_example_runs() -> None:
    scope: dict[str, object] = {"__name__": "own_loop"}
    exec(compile(_own_loop_example(), str(DOC), "exec"), scope)  # our own docs
    rw = scope["reweighter"]
    assert isinstance(rw, Reweighter)
    w = rw.weights()
    assert w is not None and float(w.sum()) == pytest.approx(1.0, rel=1e-6)
    assert len(rw.history) > 0 and rw.iteration == 4 * 10
    # a checkpoint restores everything: the next weights are the same
    again = Reweighter(scope["labels"], "dssb", warmup_epochs=2)
    again.load_state_dict(scope["checkpoint"]["reweighter"])  # type: ignore[index]
    assert torch.equal(again.weights(), w)
    assert again.history == rw.history


class _Head(nn.Module):
    """The ``--finetune head`` model written in plain torch (docs/train.md, "What is trained")."""

    def __init__(self, x: torch.Tensor, hidden: int, k: int) -> None:
        super().__init__()
        self.mean, self.std = x.mean(dim=0), x.std(dim=0).clamp_min(1e-6)
        self.hidden = nn.Sequential(
            nn.Linear(x.shape[1], hidden), nn.BatchNorm1d(hidden), nn.ReLU()
        )
        self.classifier = nn.Linear(hidden, k)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.hidden((x - self.mean) / self.std)
        return self.classifier(h), h


def test_a_user_loop_gives_the_weight_history_of_semaudit_train(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    inputs = _inputs(tmp_path, val=False)
    epochs, batch, seed = 5, 32, 0
    config = TrainConfig(
        weighting="dssb",
        epochs=epochs,
        batch_size=batch,
        warmup_epochs=2,
        hidden_dim=16,
        seed=seed,
        device="cpu",
    )
    train_run(inputs, config, tmp_path / "run", figures=False)
    theirs = pd.read_csv(tmp_path / "run" / "weights_history.csv")

    # the user's loop: torch, their own model and batches, and the public Reweighter
    x = torch.as_tensor(inputs.train.features, dtype=torch.float32)
    y = torch.as_tensor(inputs.train.labels, dtype=torch.long)
    request.addfinalizer(lambda threads=torch.get_num_threads(): torch.set_num_threads(threads))
    torch.set_num_threads(1)  # as semaudit train runs the head on a CPU (same float sums)
    torch.manual_seed(seed)
    model = _Head(x, 16, len(inputs.class_names))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    reweighter = Reweighter(y, "dssb", warmup_epochs=2)
    for epoch in range(epochs):
        for group in optimizer.param_groups:
            group["lr"] = 0.05 * 0.5 * (1 + math.cos(math.pi * epoch / epochs))
        generator = torch.Generator()
        generator.manual_seed(seed + epoch)  # DistributedSampler's order
        order = torch.randperm(len(y), generator=generator)
        starts = list(range(0, len(order), batch))
        if len(order) - starts[-1] == 1:
            starts.pop()
        model.train()
        reweighter.set_epoch(epoch)
        for i, start in enumerate(starts):
            ids = order[start : starts[i + 1] if i + 1 < len(starts) else len(order)]
            logits, features = model(x[ids])
            loss = reweighter.loss(logits, y[ids])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            reweighter.step(ids, features)

    ours = np.array([[it, *w] for it, w in reweighter.history])
    assert ours.shape == theirs.shape and len(ours) > 10
    np.testing.assert_array_equal(ours[:, 0], theirs.iloc[:, 0].to_numpy())
    np.testing.assert_allclose(ours[:, 1:], theirs.iloc[:, 1:].to_numpy(), rtol=1e-12)


def test_static_methods_and_errors() -> None:
    labels = np.repeat([0, 1], [90, 10])
    cb = Reweighter(labels, "cb", beta=0.9)
    w = cb.weights()
    assert w is not None and float(w[1]) > float(w[0])
    ssb = Reweighter(labels, "focal+ssb", scales=[2.0, 1.0], focal_gamma=2.0)
    assert ssb.weights().tolist() == pytest.approx([2 / 3, 4 / 3])  # type: ignore[union-attr]
    assert ssb.loss_fn.gamma == 2.0  # type: ignore[attr-defined]
    with pytest.raises(UsageError, match="unknown Reweighter setting"):
        Reweighter(labels, "cb", betta=0.9)
    with pytest.raises(UsageError, match="needs the batch's features"):
        Reweighter(labels, "dssb").step(torch.arange(4))


def test_static_ssb_from_an_audit_directory(tmp_path: Path) -> None:
    from factories import make_audit

    from semaudit.store import load_audit

    names = ["a", "b", "c"]
    path = make_audit(tmp_path / "audit", counts=[30, 10, 5], names=names)
    labels = np.repeat([0, 1, 2], [30, 10, 5])
    scales = load_audit(path).classes.set_index("class").reindex(names)["scale"].to_numpy(float)
    from_audit = Reweighter(labels, "ssb", audit=path, class_names=names).weights()
    from_scales = Reweighter(labels, "ssb", scales=scales).weights()
    assert from_audit is not None and from_scales is not None
    assert torch.equal(from_audit, from_scales)
