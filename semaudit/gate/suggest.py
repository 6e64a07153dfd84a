"""Suggestion policies: how ``check --suggest`` picks a rule's levels from an audit.

A policy is a function ``(current, settings) -> {"warn": X, "fail": Y}``: ``current`` is the
rule's worst value on the audit (None for baseline rules, which have nothing to measure
without a baseline), ``settings`` the audit's scan settings. Each rule of the registry
(:mod:`semaudit.gate.rules`) carries one; the levels always let the audit pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from semaudit.errors import UsageError

if TYPE_CHECKING:
    from semaudit.store import AuditSettings

__all__ = [
    "SuggestFn",
    "fixed",
    "fraction_ceiling",
    "fraction_floor",
    "image_floor",
    "ratio_headroom",
]

SuggestFn = Callable[[float | None, "AuditSettings"], dict[str, float]]


def _up(value: float, digits: int) -> float:
    return math.ceil(value * 10**digits - 1e-9) / 10**digits


def _down(value: float, digits: int) -> float:
    return math.floor(value * 10**digits + 1e-9) / 10**digits


def _current(current: float | None) -> float:
    if current is None:
        raise UsageError(
            "this suggestion policy needs the rule's current value (none was measured)."
        )
    return current


def fixed(**levels: float) -> SuggestFn:
    """The same levels whatever the audit (baseline rules: a starting point)."""

    def suggest(current: float | None, settings: AuditSettings) -> dict[str, float]:
        return dict(levels)

    return suggest


def ratio_headroom(current: float | None, settings: AuditSettings) -> dict[str, float]:
    """Ratios: warn at +10 %, fail at +25 % of the current value."""
    value = _current(current)
    return {"warn": _up(value * 1.1, 2), "fail": _up(value * 1.25, 2)}


def image_floor(current: float | None, settings: AuditSettings) -> dict[str, float]:
    """Image counts: warn at −10 %, fail at −25 %, never below the scan's ``min_images``."""
    value = _current(current)
    min_images = settings.min_images
    fail = min(value, max(min_images, math.floor(value * 0.75)))
    return {"warn": min(value, max(fail, math.floor(value * 0.9))), "fail": fail}


def fraction_ceiling(current: float | None, settings: AuditSettings) -> dict[str, float]:
    """Fractions that should stay small: warn at max(1.5×, 1 %), fail at max(2×, 2 %)."""
    value = _current(current)
    warn = min(1.0, max(0.01, _up(value * 1.5, 3)))
    return {"warn": warn, "fail": min(1.0, max(0.02, warn, _up(value * 2, 3)))}


def fraction_floor(current: float | None, settings: AuditSettings) -> dict[str, float]:
    """Fractions that should stay large: warn at −5 %, fail at −15 % of the current value."""
    value = _current(current)
    return {"warn": _down(value * 0.95, 2), "fail": _down(value * 0.85, 2)}
