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
from semaudit.scanner.analysis import AnalysisResult
from semaudit.scanner.config import ScanConfig
from semaudit.store import (
    CLASSES_COLUMNS,
    CURVES_COLUMNS,
    SCHEMA_VERSION,
    SKIPPED_COLUMNS,
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
) -> None:
    import torch

    from semaudit.scanner.embed import compute_dtype

    write_csv(out / "classes.csv", result.classes, CLASSES_COLUMNS)
    write_csv(out / "curves.csv", result.curves, CURVES_COLUMNS)
    write_csv(out / "skipped.csv", pd.DataFrame(sorted(skipped), columns=SKIPPED_COLUMNS))
    write_json(out / "weights.json", result.weights)
    write_json(out / "summary.json", result.summary)
    settings = {
        **{k: v for k, v in config.to_dict().items() if k not in ("backbone", "weights")},
        "alpha_used": result.alpha_used,
        "matched_m": result.matched_m,
    }
    meta = {
        "schema_version": SCHEMA_VERSION,
        "semaudit_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": {
            "kind": "manifest" if manifest is not None else "folder",
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
        "environment": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "device": device,
            **({"compute_dtype": compute_dtype(device)} if device != "none" else {}),
        },
    }
    write_json(out / "audit.json", meta)
