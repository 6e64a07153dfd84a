"""``TrainConfig``: every ``semaudit train`` default, once; and method names (``[LOSS+]WEIGHTING``).

Files (``[train]``), ``SEMAUDIT_TRAIN_*`` variables and flags overlay these defaults through
:func:`semaudit.config.resolve_config`. Choices that are ours are explained in docs/train.md.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from semaudit.config import is_device, require
from semaudit.config import setting as _setting
from semaudit.errors import UsageError
from semaudit.train.registry import list_losses, list_weightings

FINETUNES = ("head", "last", "full")
LOSSES = list_losses()  # one module each in semaudit/train/losses/
WEIGHTINGS = list_weightings()  # one module each in semaudit/train/weightings/
SELECTIONS = ("auto", "final", "val")


TRAINING, METHOD, DSSB, RUNTIME = "Training", "Loss and weighting", "dssb", "Runtime"
HEAD_LR, IMAGE_LR = 0.05, 0.01  # SGD learning rates of ``head`` and of ``last`` / ``full``


def setting(default: Any, help: str, *, panel: str = TRAINING, **flag: Any) -> Any:
    """:func:`semaudit.config.setting` with ``train``'s default help panel."""
    return _setting(default, help, panel=panel, **flag)


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one training run (docs/method.md §6; docs/train.md).

    A field made with :func:`setting` gets its ``semaudit train`` flag, its
    ``SEMAUDIT_TRAIN_<FIELD>`` variable, its ``[train]`` key and its shown default by itself.
    """

    finetune: str = setting(
        "head", " | ".join(FINETUNES) + ": head trains on the stored embeddings."
    )
    loss: str = setting("ce", " | ".join(LOSSES) + ".", panel=METHOD)
    weighting: str = setting("none", " | ".join(WEIGHTINGS) + ".", panel=METHOD)
    epochs: int = setting(30, "Training epochs.")
    batch_size: int = setting(128, "Samples per step.")
    lr: float | None = setting(
        None, "SGD learning rate.", shown=f"{HEAD_LR} head, {IMAGE_LR} last/full"
    )
    momentum: float = setting(0.9, "SGD momentum.")
    weight_decay: float = setting(5e-4, "SGD weight decay.")
    seed: int = setting(0, "Seed (the first seed with --seeds).")
    device: str = setting("auto", "auto | cpu | cuda[:N].", panel=RUNTIME)
    workers: int | None = setting(
        None, "Image decoding processes for last/full.", panel=RUNTIME, shown="spare cores"
    )
    val_fraction: float = setting(
        0.0, "Hold out this stratified share of DATA as validation (seed 0)."
    )
    selection: str = setting(
        "auto",
        " | ".join(SELECTIONS) + ": the model scored; auto is the best validation epoch when "
        "a validation split exists, else the final epoch.",
    )
    hidden_dim: int = setting(256, "Hidden width of the head (the features of the dssb pool).")
    beta: float = setting(0.999, "cb: β of the effective number (1 − βⁿ)/(1 − β).", panel=METHOD)
    gamma: float = setting(1.0, "ssb/dssb: exponent of the weights (1/S)^γ.", panel=METHOD)
    focal_gamma: float = setting(1.0, "focal: exponent γ_f of (1 − p)^γ_f.", panel=METHOD)
    ldam_max_margin: float = setting(
        0.5, "ldam: the largest margin (margins ∝ n^(−1/4)).", panel=METHOD
    )
    ldam_s: float = setting(30.0, "ldam: logit scale of the cosine classifier.", panel=METHOD)
    drw_fraction: float = setting(
        0.8, "ldam: share of the epochs before weights switch on (DRW).", panel=METHOD
    )
    logit_tau: float = setting(1.0, "logit-adjust: τ of logits + τ·log prior.", panel=METHOD)
    warmup_epochs: int = setting(5, "dssb: epochs of plain loss first.", panel=DSSB)
    refresh_every: int = setting(1, "dssb: recompute the scales every k steps.", panel=DSSB)
    alpha: float | None = setting(
        None, "dssb: coding-rate α of the class scales.", panel=DSSB, shown="d, the pool's width"
    )
    pool_dim: int = setting(
        64, "dssb: average-pool the features to this width (0: full width).", panel=DSSB
    )
    interclass_alpha: str = setting(
        "auto",
        "dssb: α of the inter-class interference log2(α + W′); auto: 2 long-tailed, "
        "1 balanced; 0: no interference.",
        panel=DSSB,
    )
    pool_normalize: bool = setting(
        False, "dssb: L2-normalise the pooled features (the earlier variant).", panel=DSSB
    )
    many_threshold: int = setting(100, 'Classes with more training images are "many".')
    few_threshold: int = setting(20, 'Classes with fewer training images are "few".')
    amp: bool = setting(True, "bf16 mixed precision for last/full on a GPU.", panel=RUNTIME)
    augment: bool = setting(
        True,
        "last/full: augment training images; without, last runs the frozen trunk once "
        "and caches its output in the audit (docs/train.md).",
    )
    allow_overlap: bool = setting(
        False,
        "Accept --val/--test folders sharing images (by content) with DATA or each other.",
        flag="--allow-overlap",
    )
    eval_present_classes: bool = setting(
        False,
        "Evaluate on the classes --val/--test have; leave the missing ones out of the scores.",
        flag="--eval-present-classes",
    )

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
            (self.pool_dim >= 0, "pool_dim", "an integer ≥ 0"),
            (_interclass_ok(self.interclass_alpha), "interclass_alpha", "auto, 0 or a number ≥ 1"),
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
        return HEAD_LR if self.finetune == "head" else IMAGE_LR

    def selection_for(self, has_val: bool) -> str:
        """``val`` or ``final``: the model a run scores, given whether a validation split exists."""
        if self.selection == "val" and not has_val:
            raise UsageError(
                "selection = val needs a validation split: --val DIR or --val-fraction."
            )
        if self.selection == "auto":
            return "val" if has_val else "final"
        return self.selection

    @property
    def drw_epoch(self) -> int:
        """First epoch (0-based) at which LDAM's deferred re-weighting switches weights on."""
        return round(self.drw_fraction * self.epochs)

    @property
    def method(self) -> str:
        return method_name(self.loss, self.weighting)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _interclass_ok(value: str | float) -> bool:
    """``auto``, ``none``/0 (no interference) or a finite number ≥ 1."""
    if isinstance(value, str):
        if value.strip().lower() in ("auto", "none"):
            return True
        try:
            value = float(value)
        except ValueError:
            return False
    return value == 0 or (value >= 1 and value != float("inf"))


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
