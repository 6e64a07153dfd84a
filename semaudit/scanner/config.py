"""``ScanConfig``: every scan default, once. Files, env vars and flags overlay it."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from semaudit.config import is_device, overlay, require
from semaudit.stats.defaults import METHOD


@dataclass(frozen=True)
class ScanConfig:
    """Settings of one scan (docs/method.md for the maths ones)."""

    backbone: str = "auto"
    weights: str | None = None
    device: str = "auto"
    batch_size: int | None = None  # None: per backbone and device (embed.default_batch_size)
    workers: int | None = None  # None: one decoding process per spare core, at most 8
    shard_size: int = 4096
    dtype: str = "float16"
    alpha: float | None = None  # None: d, the MCR² coding rate
    normalize: bool = METHOD.normalize
    interclass_alpha: str = "auto"  # α of S; "auto": stats.interclass.auto_interclass_alpha
    min_images: int = METHOD.min_images
    seed: int = 0
    draws: int = METHOD.draws
    curve_points: int = METHOD.curve_points
    target_saturation: float = METHOD.target_saturation
    matched_m: int | None = None  # None: the smallest eligible class
    gamma: float = METHOD.gamma
    probe: bool = True
    probe_folds: int = METHOD.probe_folds
    probe_max_per_class: int = 1000
    image_column: str | None = None  # Hugging Face datasets: None = the one Image feature
    label_column: str | None = None  # None: the one ClassLabel feature (or a "label" column)

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
