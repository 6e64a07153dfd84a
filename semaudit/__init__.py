"""semaudit: audit image-classification datasets for semantic scale imbalance.

Library functions return values and never print; the ``semaudit`` command is a thin layer.
Heavy modules (torch, matplotlib) load only when a function needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "ClassMoments",
    "ScanConfig",
    "__version__",
    "curves",
    "dsb_weights",
    "interclass_scale",
    "load_audit",
    "load_embeddings",
    "probe",
    "scan",
    "semantic_scale",
]

if TYPE_CHECKING:
    from semaudit.scanner.config import ScanConfig
    from semaudit.scanner.run import scan
    from semaudit.stats.dsb import dsb_weights
    from semaudit.stats.interclass import interclass_scale
    from semaudit.stats.pipeline import curves, probe
    from semaudit.stats.scale import ClassMoments, semantic_scale
    from semaudit.store import load_audit
    from semaudit.store.shards import load_embeddings

_LAZY = {
    "scan": "semaudit.scanner.run",
    "semantic_scale": "semaudit.stats.scale",
    "interclass_scale": "semaudit.stats.interclass",
    "dsb_weights": "semaudit.stats.dsb",
    "ClassMoments": "semaudit.stats.scale",
    "ScanConfig": "semaudit.scanner.config",
    "load_embeddings": "semaudit.store.shards",
    "load_audit": "semaudit.store",
    "curves": "semaudit.stats.pipeline",
    "probe": "semaudit.stats.pipeline",
}


def __getattr__(name: str) -> Any:
    """Import public names on first use, so ``import semaudit`` stays light."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'semaudit' has no attribute {name!r}")
