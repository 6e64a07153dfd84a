"""Per-class loss weights: the names kept from before the weighting registry.

The weightings live one per module in :mod:`semaudit.train.weightings`, the pool in
:mod:`semaudit.train.pool`; :func:`static_weights` gives a static weighting's vector by name.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from semaudit.train.pool import FeaturePool
from semaudit.train.weightings import (
    Weighting,
    create_weighting,
    get_weighting_class,
    list_weightings,
)

__all__ = ["FeaturePool", "Weighting", "create_weighting", "list_weightings", "static_weights"]


def static_weights(
    kind: str,
    counts: np.ndarray,
    *,
    beta: float = 0.999,
    scales: np.ndarray | None = None,
    gamma: float = 1.0,
) -> np.ndarray | None:
    """Weights of a count- or audit-based scheme (``None`` for ``none``; ``dssb`` starts there)."""
    cls = get_weighting_class(kind)
    if cls.uses_pool:
        return None
    accepted = inspect.signature(cls.__init__).parameters
    settings = {"beta": beta, "gamma": gamma}
    kwargs: dict[str, Any] = {key: value for key, value in settings.items() if key in accepted}
    return create_weighting(kind, counts, scales=scales, **kwargs).fixed
