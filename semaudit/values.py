"""Numbers in and out: tolerant float conversion, JSON-safe values, and display formatting."""

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


def json_safe(value: Any) -> Any:
    """JSON has no NaN: non-finite floats become null, recursively; numpy scalars become Python."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        return json_safe(value.item())
    return value


def format_number(value: Any, spec: str | None = None, *, missing: str = "—") -> str:
    """A statistic for people: ``format(value, spec)``, or by default integers bare and others
    to 4 significant digits; ``missing`` for None, NaN or text that is not a number.

    >>> format_number(3.0), format_number(0.123456), format_number(None), format_number(0.5, ".0%")
    ('3', '0.1235', '—', '50%')
    """
    number = finite(value)
    if number is None:
        return missing
    if spec is not None:
        return format(number, spec)
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return f"{number:.4g}"


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``count`` and its noun, singular for one: ``plural(1, "class")`` → ``1 class``.

    >>> plural(1, "class"), plural(1_014, "class"), plural(2, "image")
    ('1 class', '1,014 classes', '2 images')
    """
    many = nouns or (noun + "es" if noun.endswith(("s", "sh", "ch", "x")) else noun + "s")
    return f"{count:,} {noun if count == 1 else many}"
