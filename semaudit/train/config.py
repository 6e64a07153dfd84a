"""``TrainConfig``: every ``semaudit train`` default, once; and method names (``[LOSS+]WEIGHTING``).

Files (``[train]``), ``SEMAUDIT_TRAIN_*`` variables and flags overlay these defaults through
:func:`semaudit.config.resolve_config`. Choices that are ours are explained in docs/train.md.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from semaudit.config import is_device, require
from semaudit.errors import UsageError

FINETUNES = ("head", "last", "full")
LOSSES = ("ce", "focal", "ldam", "balanced-softmax", "logit-adjust")
WEIGHTINGS = ("none", "inverse", "cb", "ssb", "dssb")
SELECTIONS = ("auto", "final", "val")


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one training run (DESIGN §2, "Dynamic re-weighting")."""

    finetune: str = "head"
    loss: str = "ce"
    weighting: str = "none"
    epochs: int = 30
    batch_size: int = 128
    lr: float | None = None  # None: 0.05 for ``head``, 0.01 for ``last`` / ``full`` (SGD)
    momentum: float = 0.9
    weight_decay: float = 5e-4
    seed: int = 0
    device: str = "auto"
    workers: int | None = None  # image decoding processes for last/full; None: spare cores
    val_fraction: float = 0.0  # stratified share of DATA held out when no --val folder
    selection: str = "auto"  # auto: best val epoch when a val split exists, else final epoch
    hidden_dim: int = 256  # the head's hidden layer: the features of the storage pool
    beta: float = 0.999  # cb: effective number (1 − βⁿ)/(1 − β) (Cui et al. 2019)
    gamma: float = 1.0  # ssb / dssb: w_c ∝ (1/S_c)^γ
    focal_gamma: float = 1.0  # focal loss (1 − p)^γ_f
    ldam_max_margin: float = 0.5  # LDAM: margins ∝ n^(−1/4), the largest this (Cao et al.)
    ldam_s: float = 30.0  # LDAM logit scale on the cosine classifier
    drw_fraction: float = 0.8  # LDAM: weights switch on after this share of the epochs (DRW)
    logit_tau: float = 1.0  # logit adjustment: logits + τ log prior
    warmup_epochs: int = 5  # dssb: epochs with the plain loss before re-weighting
    refresh_every: int = 10  # dssb: recompute S_c from the pool every k iterations
    alpha: float | None = None  # dssb: coding-rate α of class_scale; None: d
    many_threshold: int = 100  # "many" classes: > this many training images
    few_threshold: int = 20  # "few" classes: < this many training images
    amp: bool = True  # mixed precision (bf16) for last / full on a GPU

    def __post_init__(self) -> None:
        checks = [
            (self.finetune in FINETUNES, "finetune", " | ".join(FINETUNES)),
            (self.loss in LOSSES, "loss", " | ".join(LOSSES)),
            (self.weighting in WEIGHTINGS, "weighting", " | ".join(WEIGHTINGS)),
            (self.selection in SELECTIONS, "selection", " | ".join(SELECTIONS)),
            (self.epochs >= 1, "epochs", "an integer ≥ 1"),
            (self.batch_size >= 1, "batch_size", "an integer ≥ 1"),
            (self.lr is None or self.lr > 0, "lr", "a number > 0"),
            (0 <= self.momentum < 1, "momentum", "a number in [0, 1)"),
            (self.weight_decay >= 0, "weight_decay", "a number ≥ 0"),
            (self.seed >= 0, "seed", "an integer ≥ 0"),
            (self.workers is None or self.workers >= 0, "workers", "an integer ≥ 0"),
            (0 <= self.val_fraction < 1, "val_fraction", "a number in [0, 1)"),
            (self.hidden_dim >= 1, "hidden_dim", "an integer ≥ 1"),
            (0 <= self.beta < 1, "beta", "a number in [0, 1)"),
            (self.gamma >= 0, "gamma", "a number ≥ 0"),
            (self.focal_gamma >= 0, "focal_gamma", "a number ≥ 0"),
            (self.ldam_max_margin > 0, "ldam_max_margin", "a number > 0"),
            (self.ldam_s > 0, "ldam_s", "a number > 0"),
            (0 <= self.drw_fraction <= 1, "drw_fraction", "a number in [0, 1]"),
            (self.logit_tau >= 0, "logit_tau", "a number ≥ 0"),
            (self.warmup_epochs >= 0, "warmup_epochs", "an integer ≥ 0"),
            (self.refresh_every >= 1, "refresh_every", "an integer ≥ 1"),
            (self.alpha is None or self.alpha > 0, "alpha", "a number > 0"),
            (self.few_threshold >= 1, "few_threshold", "an integer ≥ 1"),
            (self.many_threshold >= self.few_threshold, "many_threshold", "≥ few_threshold"),
            (is_device(self.device), "device", "auto, cpu or cuda[:N]"),
        ]
        require("train", self, checks)

    @property
    def learning_rate(self) -> float:
        """``lr``, or its default for the fine-tuning mode."""
        if self.lr is not None:
            return self.lr
        return 0.05 if self.finetune == "head" else 0.01

    @property
    def drw_epoch(self) -> int:
        """First epoch (0-based) at which LDAM's deferred re-weighting switches weights on."""
        return round(self.drw_fraction * self.epochs)

    @property
    def method(self) -> str:
        return method_name(self.loss, self.weighting)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def method_name(loss: str, weighting: str) -> str:
    """Canonical ``[LOSS+]WEIGHTING`` name: ``ce`` is plain CE, ``focal+dssb`` …"""
    if weighting == "none":
        return loss
    return weighting if loss == "ce" else f"{loss}+{weighting}"


def parse_method(text: str) -> tuple[str, str]:
    """``"focal+dssb"`` → ``("focal", "dssb")``; ``"ce"`` → ``("ce", "none")``; ``"cb"`` →
    ``("ce", "cb")``; ``"ldam"`` → ``("ldam", "none")``. Unknown names are a ``UsageError``."""
    name = text.strip().lower()
    loss, plus, weighting = name.partition("+")
    if not plus:
        if name in LOSSES:
            return name, "none"
        if name in WEIGHTINGS:
            return "ce", name
    elif loss in LOSSES and weighting in WEIGHTINGS:
        return loss, weighting
    raise UsageError(
        f"unknown training method {text!r}; a method is [LOSS+]WEIGHTING with LOSS one of "
        f"{', '.join(LOSSES)} and WEIGHTING one of {', '.join(WEIGHTINGS)} (e.g. ce, cb, "
        "dssb, focal+dssb)."
    )


def parse_methods(text: str) -> list[tuple[str, str]]:
    """A comma-separated list of methods, each parsed; duplicates dropped, order kept."""
    methods: list[tuple[str, str]] = []
    for part in text.split(","):
        if part.strip():
            method = parse_method(part)
            if method not in methods:
                methods.append(method)
    if not methods:
        raise UsageError("--compare needs at least one method, e.g. --compare ce,cb,dssb.")
    return methods
