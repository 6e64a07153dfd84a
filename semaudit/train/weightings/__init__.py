r"""Per-class loss weightings, one module per weighting (``none``, ``inverse``, ``cb``, ``ssb``,
``dssb``).

Each module defines a :class:`Weighting` subclass and names it ``WEIGHTING``; the file name is the
weighting's name. :func:`create_weighting` builds one by name or from a
:class:`~semaudit.train.config.TrainConfig`; :func:`list_weightings` lists them.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from semaudit.train.config import TrainConfig
from semaudit.train.registry import check_name, list_weightings, module_name
from semaudit.train.weightings.base import Weighting, mean_one

__all__ = ["Weighting", "create_weighting", "get_weighting_class", "list_weightings", "mean_one"]


def get_weighting_class(name: str) -> type[Weighting]:
    """The class of weighting ``name`` (a ``UsageError`` listing the weightings if none)."""
    cls: type[Weighting] = importlib.import_module(
        module_name("weightings", check_name("weighting", name))
    ).WEIGHTING
    return cls


def create_weighting(
    name_or_config: str | TrainConfig,
    counts: np.ndarray,
    *,
    scales: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    feature_dim: int | None = None,
    device: str = "cpu",
    **kwargs: Any,
) -> Weighting:
    """A weighting by name (``kwargs``: its own settings, e.g. ``beta`` for ``cb``) or from a
    config's ``weighting`` and fields (``kwargs`` override them). ``scales``, ``labels``,
    ``feature_dim`` and ``device`` go to the weightings that declare them in ``context``."""
    if isinstance(name_or_config, TrainConfig):
        cls = get_weighting_class(name_or_config.weighting)
        kwargs = {**cls.config_kwargs(name_or_config), **kwargs}
    else:
        cls = get_weighting_class(name_or_config)
    given: dict[str, Any] = {
        "scales": scales,
        "labels": labels,
        "feature_dim": feature_dim,
        "device": device,
    }
    context = {key: given[key] for key in cls.context}
    if "labels" in context and context["labels"] is None:
        from semaudit.errors import UsageError

        raise UsageError(f"weighting {cls.name!r} needs the training labels.")
    return cls(counts, **context, **kwargs)
