r"""``Reweighter``: semantic-scale-balanced (or any registered) class weights in any PyTorch loop.

One object holds the loss and the weighting (and, for ``dssb``, the feature pool). Per epoch
call :meth:`Reweighter.set_epoch`; per batch compute the loss with :meth:`Reweighter.loss` (or
take :meth:`Reweighter.weights` for your own loss) and, after the optimiser step, hand over the
batch's sample ids and pre-classifier features with :meth:`Reweighter.step`::

    rw = Reweighter(train_labels, "dssb")                     # or "cb", "ssb" (scales=...), ...
    for epoch in range(epochs):
        rw.set_epoch(epoch)
        for x, y, ids in loader:
            logits, features = model(x)
            loss = rw.loss(logits, y)
            optimizer.zero_grad(); loss.backward(); optimizer.step()
            rw.step(ids, features)

``semaudit train`` runs exactly these calls (:func:`semaudit.train.loop.run_epoch`).
"""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from semaudit.errors import UsageError
from semaudit.train.config import TrainConfig, parse_method
from semaudit.train.losses import LongTailLoss, create_loss
from semaudit.train.pool import FeaturePool
from semaudit.train.weightings import Weighting, create_weighting

__all__ = ["Reweighter"]


def _audit_scales(audit: str | Path, class_names: list[str] | None) -> np.ndarray:
    from semaudit.store import load_audit

    table = load_audit(Path(audit)).classes
    if class_names is not None:
        table = table.set_index("class").reindex(class_names).reset_index()
    return table["scale"].to_numpy(float)


class Reweighter:
    """Class weights and the weighted loss for one training run.

    ``labels``: the class id of every training sample, indexed by the sample ids later given to
    :meth:`step`. ``method``: ``[LOSS+]WEIGHTING`` as in ``semaudit train`` (``"dssb"``,
    ``"cb"``, ``"focal+dssb"`` …). Static ``ssb`` takes per-class ``scales`` or an ``audit``
    directory (with ``class_names`` giving the label order). ``settings`` are
    :class:`~semaudit.train.config.TrainConfig` fields (``gamma``, ``warmup_epochs``,
    ``pool_dim``, ``interclass_alpha``, ``refresh_every``, ``beta`` …).
    """

    def __init__(
        self,
        labels: Any,
        method: str = "dssb",
        *,
        n_classes: int | None = None,
        scales: Any = None,
        audit: str | Path | None = None,
        class_names: list[str] | None = None,
        feature_dim: int | None = None,
        device: str | torch.device = "cpu",
        **settings: Any,
    ) -> None:
        loss, weighting = parse_method(method)
        known = {f.name for f in fields(TrainConfig)}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise UsageError(f"unknown Reweighter setting(s) {', '.join(unknown)}.")
        config = replace(TrainConfig(), loss=loss, weighting=weighting, **settings)
        if scales is None and audit is not None:
            scales = _audit_scales(audit, class_names)
        self._setup(config, np.asarray(labels), n_classes, scales, feature_dim, str(device))

    @classmethod
    def from_config(
        cls,
        config: TrainConfig,
        labels: Any,
        *,
        n_classes: int | None = None,
        scales: Any = None,
        feature_dim: int | None = None,
        device: str = "cpu",
    ) -> Reweighter:
        """The reweighter of a ``semaudit train`` run."""
        self = cls.__new__(cls)
        self._setup(config, np.asarray(labels), n_classes, scales, feature_dim, device)
        return self

    def _setup(
        self,
        config: TrainConfig,
        labels: np.ndarray,
        n_classes: int | None,
        scales: Any,
        feature_dim: int | None,
        device: str,
    ) -> None:
        labels = np.asarray(labels, dtype=np.int64)
        k = int(n_classes if n_classes is not None else (labels.max() + 1 if labels.size else 0))
        counts = np.bincount(labels, minlength=k)
        self.config = config
        self.device = device
        self.loss_fn: LongTailLoss = create_loss(config, counts).to(device)
        self._loss_device = torch.device(device)
        self.weighting: Weighting = create_weighting(
            config,
            counts,
            scales=None if scales is None else np.asarray(scales, dtype=np.float64),
            labels=labels,
            feature_dim=feature_dim,
            device=device,
        )
        if self.loss_fn.defers_weighting:
            self.weighting.start_epoch = int(self.loss_fn.drw_epoch or 0)
        self.epoch = 0
        self.iteration = 0
        self.last_weights: np.ndarray | None = None
        self._tensor: torch.Tensor | None = None

    @property
    def pool(self) -> FeaturePool | None:
        """The feature pool of a pool-based weighting (``dssb``), else None."""
        return getattr(self.weighting, "pool", None)

    @property
    def history(self) -> list[tuple[int, list[float]]]:
        """``(iteration, weights)`` at each dssb refresh."""
        return self.weighting.history

    def set_epoch(self, epoch: int, iteration: int | None = None) -> None:
        """Start epoch ``epoch`` (0-based); ``iteration``: the global step number it starts at
        (default: continue counting)."""
        self.epoch = int(epoch)
        if iteration is not None:
            self.iteration = int(iteration)
        self.weighting.begin_epoch(self.epoch)

    def weights(self, device: Any = None) -> torch.Tensor | None:
        """This step's per-class weights (float32, on ``device``), or None for the plain loss."""
        w = self.weighting.weights(self.epoch, self.iteration)
        device = None if device is None else torch.device(device)
        if w is not self.last_weights or (
            self._tensor is not None and device is not None and self._tensor.device != device
        ):
            self.last_weights = w
            self._tensor = None if w is None else torch.as_tensor(w, dtype=torch.float32)
            if self._tensor is not None and device is not None:
                self._tensor = self._tensor.to(device)
        return self._tensor

    def loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The weighted loss of this step: ``Σ w_y ℓ / Σ w_y`` of the configured loss (its
        buffers, e.g. the log prior, follow the logits to their device)."""
        if logits.device != self._loss_device:
            self.loss_fn.to(logits.device)
            self._loss_device = logits.device
        return self.loss_fn(logits, targets, self.weights(targets.device))

    def step(self, ids: Any, features: Any = None) -> None:
        """End of a step: the batch's sample ids and pre-classifier features (needed by
        ``dssb``; detached here) go to the pool; the step counter advances."""
        if self.weighting.uses_pool:
            if features is None:
                raise UsageError(f"{self.config.weighting} needs the batch's features in step().")
            self.weighting.observe(torch.as_tensor(ids), features)
        self.iteration += 1

    def state(self) -> dict[str, Any]:
        """JSON-able state (the weighting's: current weights, history)."""
        return self.weighting.state()

    def load_state(self, state: dict[str, Any]) -> None:
        self.weighting.load_state(state)

    def state_dict(self) -> dict[str, Any]:
        """Everything to resume: counters, the weighting's state and the pool's rows."""
        out: dict[str, Any] = {
            "epoch": self.epoch,
            "iteration": self.iteration,
            "weighting": self.weighting.state(),
        }
        if self.pool is not None:
            out.update(self.pool.state())
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch = int(state["epoch"])
        self.iteration = int(state["iteration"])
        self.weighting.load_state(state["weighting"])
        if "pool.features" in state:
            pool = self.pool
            if pool is None and hasattr(self.weighting, "make_pool"):
                pool = self.weighting.make_pool(int(state["pool.features"].shape[1]))
            assert pool is not None
            pool.load_state(state)
        self.last_weights, self._tensor = None, None
