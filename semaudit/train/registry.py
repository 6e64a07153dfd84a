"""Names of the training losses and weightings, found from their modules without importing torch.

One module per loss in :mod:`semaudit.train.losses` and per weighting in
:mod:`semaudit.train.weightings`; the file name is the method name with ``-`` written ``_``
(``balanced_softmax.py`` is ``balanced-softmax``). Adding a loss or a weighting is adding its
module: :class:`~semaudit.train.config.TrainConfig`, the method parser and the error messages
read these lists. Built-ins keep their documented order; others follow alphabetically.
"""

from __future__ import annotations

import functools
import pkgutil
from pathlib import Path

from semaudit.errors import UsageError

__all__ = ["check_name", "list_losses", "list_weightings", "module_name"]

_HERE = Path(__file__).resolve().parent
_BUILTIN = {
    "losses": ("ce", "focal", "ldam", "balanced-softmax", "logit-adjust"),
    "weightings": ("none", "inverse", "cb", "ssb", "dssb"),
}


@functools.cache
def _names(package: str) -> tuple[str, ...]:
    found = {
        info.name.replace("_", "-")
        for info in pkgutil.iter_modules([str(_HERE / package)])
        if not info.name.startswith("_") and info.name != "base"
    }
    first = [name for name in _BUILTIN[package] if name in found]
    return (*first, *sorted(found - set(first)))


def list_losses() -> tuple[str, ...]:
    """Every loss name, e.g. ``("ce", "focal", "ldam", "balanced-softmax", "logit-adjust")``."""
    return _names("losses")


def list_weightings() -> tuple[str, ...]:
    """Every weighting name, e.g. ``("none", "inverse", "cb", "ssb", "dssb")``."""
    return _names("weightings")


def check_name(kind: str, name: str) -> str:
    """``name`` if it is a known ``"loss"``/``"weighting"``, else a ``UsageError`` listing them."""
    known = list_losses() if kind == "loss" else list_weightings()
    if name not in known:
        raise UsageError(f"unknown {kind} {name!r}; use one of {', '.join(known)}.")
    return name


def module_name(package: str, name: str) -> str:
    """The module implementing ``name``: ``semaudit.train.losses.balanced_softmax``."""
    return f"semaudit.train.{package}.{name.replace('-', '_')}"
