"""One numeric helper shared by the readers and the maths: tolerant float conversion."""

from __future__ import annotations

import math
from typing import Any


def finite(value: Any) -> float | None:
    """``value`` as a float, or None when it is missing, not a number, NaN or infinite.

    >>> finite("2.5"), finite(float("nan")), finite(None)
    (2.5, None, None)
    """
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
