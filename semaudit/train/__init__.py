"""``semaudit train``: long-tail fine-tuning with (dynamic) semantic-scale-balanced weights.

A side job: nothing in the core imports this package. ``train_run`` runs one method,
``compare_methods`` every method × seed on identical splits. torch is imported by those
modules; ``semaudit.train.config`` (the settings, read by the CLI) stays light, so the names
below are loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "RunResult": "run",
    "train_run": "run",
    "compare_methods": "compare",
    "load_inputs": "protocol",
    "TrainConfig": "config",
    "parse_method": "config",
    "parse_methods": "config",
    "Reweighter": "reweighter",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'semaudit.train' has no attribute {name!r}")
    return getattr(importlib.import_module(f"semaudit.train.{_WHERE[name]}"), name)
