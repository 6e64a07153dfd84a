r"""Long-tail losses, one module per loss (the way timm keeps ``timm/loss/``).

Each module defines a :class:`LongTailLoss` subclass and names it ``LOSS``; the module's file
name is the loss name (``-`` written ``_``). :func:`create_loss` builds one by name or from a
:class:`~semaudit.train.config.TrainConfig`; :func:`list_losses` lists them. Built-ins:

- ``ce``: ``ℓ = −log softmax(z)_y``.
- ``focal`` (Lin et al. 2017): ``ℓ = −(1 − p_y)^γ_f log p_y``.
- ``ldam`` (Cao et al. 2019): margins ``∝ n_c^{−1/4}``, cosine classifier, DRW.
- ``balanced-softmax`` (Ren et al. 2020): ``ℓ = CE(z + log π)``.
- ``logit-adjust`` (Menon et al. 2021): ``ℓ = CE(z + τ log π)``.

All reduce as ``Σ_i w_{y_i} ℓ_i / Σ_i w_{y_i}`` (:func:`reduce_weighted`).
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from semaudit.train.config import TrainConfig
from semaudit.train.losses.base import LongTailLoss, ldam_margins, log_prior, reduce_weighted
from semaudit.train.registry import check_name, list_losses, module_name

__all__ = [
    "LongTailLoss",
    "create_loss",
    "get_loss_class",
    "ldam_margins",
    "list_losses",
    "log_prior",
    "reduce_weighted",
]


def get_loss_class(name: str) -> type[LongTailLoss]:
    """The class of loss ``name`` (a ``UsageError`` listing the losses if there is none)."""
    cls: type[LongTailLoss] = importlib.import_module(
        module_name("losses", check_name("loss", name))
    ).LOSS
    return cls


def create_loss(
    name_or_config: str | TrainConfig, counts: np.ndarray, **kwargs: Any
) -> LongTailLoss:
    """A loss by name (``kwargs``: its own hyper-parameters, e.g. ``create_loss("focal", counts,
    gamma=2.0)``) or from a config's ``loss`` and its fields (``kwargs`` override them)."""
    if isinstance(name_or_config, TrainConfig):
        cls = get_loss_class(name_or_config.loss)
        return cls(counts, **{**cls.config_kwargs(name_or_config), **kwargs})
    return get_loss_class(name_or_config)(counts, **kwargs)
