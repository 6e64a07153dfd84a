"""The audit's files, written atomically, ``audit.json`` last (the mark of a finished scan)."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from semaudit import __version__
from semaudit.data import Inventory
from semaudit.runtime import CpuPlan
from semaudit.scanner.analysis import AnalysisResult
from semaudit.scanner.config import ScanConfig
from semaudit.store import (
    AUDIT_JSON,
    CLASSES_COLUMNS,
    CLASSES_CSV,
    CURVES_COLUMNS,
    CURVES_CSV,
    SCHEMA_VERSION,
    SKIPPED_COLUMNS,
    SKIPPED_CSV,
    SUMMARY_JSON,
    WEIGHTS_JSON,
    write_csv,
    write_json,
)


def write_audit(
    out: Path,
    inventory: Inventory,
    manifest: str | os.PathLike[str] | None,
    backbone_id: str,
    key: dict[str, Any],
    config: ScanConfig,
    result: AnalysisResult,
    skipped: list[tuple[str, str]],
    timings: dict[str, float],
    device: str,
    embed_dim: int | None,
    *,
    cpu: CpuPlan | None = None,
) -> None:
    write_csv(out / CLASSES_CSV, result.classes, CLASSES_COLUMNS)
    write_csv(out / CURVES_CSV, result.curves, CURVES_COLUMNS)
    write_csv(out / SKIPPED_CSV, pd.DataFrame(sorted(skipped), columns=SKIPPED_COLUMNS))
    write_json(out / WEIGHTS_JSON, result.weights)
    write_json(out / SUMMARY_JSON, result.summary)
    settings = {
        **{k: v for k, v in config.to_dict().items() if k not in ("backbone", "weights")},
        "alpha_used": result.alpha_used,
        "matched_m": result.matched_m,
        "interclass_alpha": result.interclass_alpha,  # resolved: the setting's "auto" → a number
        "interclass_alpha_setting": config.interclass_alpha,
    }
    meta = {
        "schema_version": SCHEMA_VERSION,
        "semaudit_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": {
            "kind": "manifest" if manifest is not None else inventory.kind,
            "root": str(inventory.root.resolve()),
            "manifest": str(Path(manifest).resolve()) if manifest is not None else None,
        },
        "backbone": {
            "id": backbone_id,
            "weights_digest": key["weights_digest"],
            "embed_dim": embed_dim,
            "preprocessing": {"version": key["preprocessing_version"]},
            "weights_path": config.weights,
        },
        "settings": settings,
        "counts": {
            "images": int(result.classes["n"].sum()),
            "classes": len(result.classes),
            "skipped": len(skipped),
        },
        "timings": {k: round(v, 3) for k, v in timings.items()},
        "environment": _environment(device, cpu),
    }
    write_json(out / AUDIT_JSON, meta)


def _environment(device: str, cpu: CpuPlan | None) -> dict[str, Any]:
    """Versions, device, and how this scan used the CPU (decoding processes, torch threads)."""
    import torch

    from semaudit.scanner.embed import compute_dtype

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": device,
        **({"compute_dtype": compute_dtype(device)} if device != "none" else {}),
        **({"workers": cpu.workers, "threads": cpu.threads} if cpu is not None else {}),
    }
