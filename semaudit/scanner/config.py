"""``ScanConfig``: every scan default, once. Files, env vars and flags overlay it."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from semaudit.config import is_device, overlay, require, setting
from semaudit.stats.defaults import METHOD

INPUT, BACKBONE, STATS = "Input", "Backbone and speed", "Statistics"  # help panels

CONFIG_ONLY = frozenset({"shard_size", "curve_points", "probe_folds", "probe_max_per_class"})
"""Fields set only in ``[scan]`` or ``SEMAUDIT_SCAN_*``: tuning, not run flags."""


@dataclass(frozen=True)
class ScanConfig:
    """Settings of one scan (docs/method.md for the maths ones). A field made with
    :func:`~semaudit.config.setting` is a ``scan`` flag (help, panel, shown default); the
    others are in :data:`CONFIG_ONLY`."""

    backbone: str = setting(
        "auto",
        "auto | efficientnet-lite0 | openclip:MODEL/TAG | torchvision:NAME | pixels (list: "
        "semaudit models).",  # the CLI lists the registered families instead
        panel=BACKBONE,
        shown="auto: OpenCLIP ViT-B-32 when its weights are here, else efficientnet-lite0",
        flag="--backbone -b",
    )
    weights: str | None = setting(
        None, "Local .pt / .safetensors weights.", panel=BACKBONE, shown="none"
    )
    device: str = setting("auto", "auto | cpu | cuda[:N].", panel=BACKBONE)
    batch_size: int | None = setting(  # None: per backbone and device
        None,
        "Images per forward pass.",
        panel=BACKBONE,
        shown="GPU 256; CPU 8 for CNNs, 64 for ViTs",
    )
    workers: int | None = setting(  # None: runtime.cpu_plan
        None,
        "Decoding processes.",
        panel=BACKBONE,
        shown="0 on a CPU with ≤ 2 cores, else spare cores, ≤ 8",
    )
    shard_size: int = 4096
    dtype: str = setting("float16", "Stored embeddings: float16 | float32.", panel=BACKBONE)
    alpha: float | None = setting(
        None,
        "Coding-rate α; 1 with --no-normalize is the authors' volume.",
        panel=STATS,
        shown="d, the embedding dimension",
    )
    normalize: bool = setting(METHOD.normalize, "L2-normalise features.", panel=STATS)
    interclass_alpha: str = setting(
        "auto",
        "α of the scale with inter-class interference S: auto or a number ≥ 1.",
        panel=STATS,
        shown="auto: 2 when the largest class has ≥ 2× the smallest's images, else 1",
    )
    min_images: int = setting(
        METHOD.min_images, "Classes with fewer images are flagged.", panel=STATS
    )
    seed: int = setting(0, "Seed of every random draw.", panel=STATS)
    draws: int = setting(
        METHOD.draws, "Random subsets per curve point and for matched scale.", panel=STATS
    )
    curve_points: int = METHOD.curve_points
    target_saturation: float = setting(
        METHOD.target_saturation, "Saturation need_more aims at.", panel=STATS
    )
    matched_m: int | None = setting(
        None, "Subset size m* for matched scale.", panel=STATS, shown="smallest eligible class"
    )
    gamma: float = setting(METHOD.gamma, "Exponent of the balanced weights (1/S)^γ.", panel=STATS)
    probe: bool = setting(True, "Cross-validated linear probe.", panel=STATS)
    probe_folds: int = METHOD.probe_folds
    probe_max_per_class: int = 1000
    image_column: str | None = setting(
        None,
        "Hugging Face dataset: the column of image bytes.",
        panel=INPUT,
        shown="the one Image feature",
    )
    label_column: str | None = setting(
        None,
        "Hugging Face dataset: the class column.",
        panel=INPUT,
        shown="the one ClassLabel feature, else a label column",
    )

    def __post_init__(self) -> None:
        alpha_s = _interclass_text(self.interclass_alpha)
        if alpha_s is not None:  # one spelling per value: "2", "2.0" and 2 compare equal
            object.__setattr__(self, "interclass_alpha", alpha_s)
        checks = [
            (self.batch_size is None or self.batch_size >= 1, "batch_size", "an integer ≥ 1"),
            (self.shard_size >= 1, "shard_size", "an integer ≥ 1"),
            (self.dtype in ("float16", "float32"), "dtype", "float16 or float32"),
            (self.alpha is None or self.alpha > 0, "alpha", "a number > 0"),
            (alpha_s is not None, "interclass_alpha", "auto or a number ≥ 1"),
            (self.min_images >= 2, "min_images", "an integer ≥ 2"),
            (self.draws >= 1, "draws", "an integer ≥ 1"),
            (self.curve_points >= 2, "curve_points", "an integer ≥ 2"),
            (0 < self.target_saturation < 1, "target_saturation", "a number in (0, 1)"),
            (self.matched_m is None or self.matched_m >= 2, "matched_m", "an integer ≥ 2"),
            (self.gamma >= 0, "gamma", "a number ≥ 0"),
            (self.probe_folds >= 2, "probe_folds", "an integer ≥ 2"),
            (self.probe_max_per_class >= 1, "probe_max_per_class", "an integer ≥ 1"),
            (self.seed >= 0, "seed", "an integer ≥ 0"),
            (self.workers is None or self.workers >= 0, "workers", "an integer ≥ 0"),
            (is_device(self.device), "device", "auto, cpu or cuda[:N]"),
        ]
        require("scan", self, checks)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def overlay(self, values: dict[str, Any], where: str) -> ScanConfig:
        """A copy with ``values`` applied (see :func:`semaudit.config.overlay`)."""
        return overlay(self, values, where)


def _interclass_text(value: object) -> str | None:
    """``"auto"`` or the number ≥ 1 as ``format(x, "g")``; None when invalid."""
    text = str(value).strip().lower()
    if text == "auto":
        return text
    try:
        number = float(text)
    except ValueError:
        return None
    return format(number, "g") if math.isfinite(number) and number >= 1 else None
