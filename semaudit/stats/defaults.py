"""The method's default parameters, once (docs/method.md, "Our choices, in one place").
Settings dataclasses and readers use these.

Stdlib only, so that every layer can read a default without importing the maths.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MethodDefaults:
    """Defaults of the statistics; ``ScanConfig`` takes its method fields from here."""

    min_images: int = 5  # classes under it are reported, flagged, not fitted
    target_saturation: float = 0.9  # the saturation need_more aims at
    draws: int = 10  # random subsets per curve point and for the matched scale
    curve_points: int = 12  # sizes on the geometric grid from 2 to n
    gamma: float = 1.0  # exponent of the balanced weights (1/S)^γ
    probe_folds: int = 5
    normalize: bool = True  # L2-normalise rows before centring (docs/decisions.md: measured)


METHOD = MethodDefaults()
