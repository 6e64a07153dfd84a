"""The audit directory as one value: ``load_audit`` reads and validates it."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from semaudit.errors import AuditError
from semaudit.store.io import read_json
from semaudit.store.schema import (
    _REQUIRED,
    _SCHEMA,
    AUDIT_JSON,
    CLASSES_COLUMNS,
    CLASSES_CSV,
    CURVES_COLUMNS,
    CURVES_CSV,
    EMBEDDINGS_DIR,
    SCHEMA_VERSION,
    SKIPPED_COLUMNS,
    SKIPPED_CSV,
    SUMMARY_JSON,
    WEIGHTS_JSON,
    _check_shape,
    _read_csv,
)
from semaudit.store.views import AuditSettings, BackboneInfo, Summary


@dataclass(frozen=True)
class Audit:
    """A loaded audit directory."""

    path: Path
    meta: dict[str, Any]
    summary: dict[str, Any]
    classes: pd.DataFrame
    curves: pd.DataFrame
    skipped: pd.DataFrame
    weights: dict[str, Any]

    @functools.cached_property
    def backbone(self) -> BackboneInfo:
        """The backbone the audit was made with."""
        return BackboneInfo.from_meta(self.meta)

    @functools.cached_property
    def settings(self) -> AuditSettings:
        """The statistics' settings the audit was made with (defaults where absent)."""
        return AuditSettings.from_meta(self.meta)

    @functools.cached_property
    def overview(self) -> Summary:
        """``summary.json`` as a typed value."""
        return Summary.from_dict(self.summary)

    @property
    def comparability_key(self) -> dict[str, Any]:
        """What two audits must share for their scales to be comparable."""
        return {
            "backbone": self.backbone.id if self.meta.get("backbone") else None,
            "weights_digest": self.backbone.weights_digest,
            "preprocessing": self.backbone.preprocessing,
            "alpha_used": self.settings.raw.get("alpha_used"),
            "normalize": self.settings.raw.get("normalize"),
        }


def load_audit(path: str | os.PathLike[str]) -> Audit:
    """Read and validate an audit directory; raise ``AuditError`` naming what is wrong."""
    root = Path(path)
    if not root.is_dir():
        raise AuditError(
            f"no audit directory at {root}; create one with `semaudit scan DATA --out {root}`."
        )
    if not (root / AUDIT_JSON).is_file() and (root / EMBEDDINGS_DIR).is_dir():
        raise AuditError(
            f"{root} holds a scan that did not finish (no audit.json); rerun the same "
            f"`semaudit scan … --out {root}` to finish it (stored embeddings are reused)."
        )
    for name in _REQUIRED:
        if not (root / name).is_file():
            raise AuditError(f"{root / name} is missing; rerun `semaudit scan` into {root}.")
    meta = read_json(root / AUDIT_JSON)
    summary = read_json(root / SUMMARY_JSON)
    for name, doc in ((AUDIT_JSON, meta), (SUMMARY_JSON, summary)):
        if not isinstance(doc, dict):
            raise AuditError(f"{root / name} must hold a JSON object; rerun `semaudit scan`.")
        version = doc.get("schema_version")
        if version != SCHEMA_VERSION:
            raise AuditError(
                f"{root / name} has schema_version {version!r}; this semaudit reads "
                f"{SCHEMA_VERSION}. Rescan with this version."
            )
    weights_path = root / WEIGHTS_JSON
    weights = read_json(weights_path) if weights_path.exists() else {}
    for name, doc in ((AUDIT_JSON, meta), (SUMMARY_JSON, summary), (WEIGHTS_JSON, weights)):
        found = _check_shape(doc, _SCHEMA[name], "")
        if found:
            field, expected = found.split(": ", 1)
            raise AuditError(
                f"{root / name}: {field or 'the file'} must be {expected}; rerun `semaudit scan`."
            )
    return Audit(
        path=root,
        meta=meta,
        summary=summary,
        classes=_read_csv(root / CLASSES_CSV, CLASSES_COLUMNS, required=True, unique=True),
        curves=_read_csv(root / CURVES_CSV, CURVES_COLUMNS, required=False),
        skipped=_read_csv(root / SKIPPED_CSV, SKIPPED_COLUMNS, required=False),
        weights=weights,
    )
