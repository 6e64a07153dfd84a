"""The audit directory: atomic writes and validated reads (format: docs/audit-format.md)."""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from semaudit.errors import AuditError
from semaudit.numeric import json_safe

SCHEMA_VERSION = 1
CLASSES_COLUMNS = [
    "class", "n", "scale", "scale_matched", "scale_matched_std", "scale_inf", "saturation",
    "need_more", "effective_number", "weight", "probe_accuracy", "flags", "note",
]  # fmt: skip
CURVES_COLUMNS = ["class", "m", "S_mean", "S_std"]
SKIPPED_COLUMNS = ["path", "reason"]
_TEXT_COLUMNS = {"class": str, "flags": str, "note": str, "path": str, "reason": str}
_REQUIRED = ("audit.json", "summary.json", "classes.csv")
_INTEGER_COLUMNS = {"n", "need_more", "m"}
_NUMBER, _TEXT, _FLAG = "a number or null", "a string", "true or false"
_SCALAR = "a string, number, boolean or null"
_NUMBERS = (None, {"*": _NUMBER})
_SETTINGS_NUMBERS = ("alpha", "alpha_used", "min_images", "seed", "draws", "curve_points",
                     "target_saturation", "matched_m", "gamma", "probe_folds")  # fmt: skip
# What readers rely on: the type of each field *when present* (absent ones are theirs to handle).
_SCHEMA: dict[str, dict[str, Any]] = {
    "audit.json": {
        "source": {"kind": _TEXT, "root": _TEXT},
        "backbone": {"id": _TEXT, "weights_digest": _TEXT, "embed_dim": _NUMBER},
        "settings": {
            **dict.fromkeys(_SETTINGS_NUMBERS, _NUMBER),
            "normalize": _FLAG,
            "probe": _FLAG,
        },
        "counts": {"*": _NUMBER},
        "timings": {"*": _NUMBER},
        "environment": {},
    },
    "summary.json": {
        **dict.fromkeys(
            ("n_classes", "n_images", "n_skipped", "skipped_fraction", "n_eligible", "matched_m"),
            _NUMBER,
        ),
        **dict.fromkeys(
            ("count", "scale", "scale_matched", "spearman_count_scale", "probe"), _NUMBERS
        ),
        "rank_disagreement": [{"class": _TEXT, "*": _NUMBER}],
        "recommendations": [{"class": _TEXT, "kind": _TEXT, "text": _TEXT, "*": _SCALAR}],
        "correlations": (None, {"*": (None, {"*": _NUMBERS})}),
    },
    "weights.json": {"gamma": _NUMBER, "basis": _TEXT, "weights": {"*": _NUMBER}},
}


_TEMP_SUFFIX = ".tmp"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()  # what open() would give; mkstemp alone gives 0600


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temporary file in the same folder, fsync, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=_TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), _FILE_MODE)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def remove_file(path: Path) -> None:
    """Delete ``path`` if present, durably (the folder is fsynced)."""
    path = Path(path)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
        _fsync_dir(path.parent)


def remove_stale_temps(folder: Path) -> list[str]:
    """Delete the temporary files a killed writer left in ``folder`` and ``folder/embeddings``.

    Call it only while holding the folder's lock: a live writer's temporary file looks the same.
    """
    removed = []
    for where in (Path(folder), Path(folder) / "embeddings"):
        if not where.is_dir():
            continue
        for path in where.iterdir():
            if path.name.startswith(".") and path.name.endswith(_TEMP_SUFFIX) and path.is_file():
                path.unlink(missing_ok=True)
                removed.append(path.name)
    return removed


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_json(path: Path, payload: Any) -> None:
    text = json.dumps(json_safe(payload), indent=2, allow_nan=False, ensure_ascii=False)
    atomic_write_bytes(path, (text + "\n").encode("utf-8"))


def write_csv(path: Path, frame: pd.DataFrame, columns: list[str] | None = None) -> None:
    """CSV with empty cells for missing values and shortest round-trip floats."""
    if columns is not None:
        frame = frame.reindex(columns=columns)
    atomic_write_bytes(path, frame.to_csv(index=False, lineterminator="\n").encode("utf-8"))


def _no_constant(name: str) -> Any:
    raise ValueError(f"non-finite number {name}")


def read_json(path: Path) -> Any:
    """Parse a JSON file we wrote; anything else (NaN included) is an ``AuditError``."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"), parse_constant=_no_constant)
    except FileNotFoundError:
        raise AuditError(f"{path} is missing; rerun `semaudit scan` to rebuild it.") from None
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # JSONDecodeError is one
        raise AuditError(f"{path} is not valid JSON ({exc}); rerun `semaudit scan`.") from None
    except OSError as exc:
        raise AuditError(
            f"{path} cannot be read ({exc.strerror or exc}); rerun `semaudit scan`."
        ) from None


def _read_csv(
    path: Path, columns: list[str], *, required: bool, unique: bool = False
) -> pd.DataFrame:
    """A CSV of the audit, its numeric columns checked (finite; counts whole and ≥ 0)."""
    if not path.exists():
        if required:
            raise AuditError(f"{path} is missing; rerun `semaudit scan` to rebuild it.")
        return pd.DataFrame(columns=columns)
    try:
        frame = pd.read_csv(path, keep_default_na=False, na_values=[""], dtype=_TEXT_COLUMNS)
    except (ValueError, UnicodeDecodeError, OverflowError, OSError) as exc:  # ParserError is one
        raise AuditError(f"{path} is not a readable CSV ({exc}); rerun `semaudit scan`.") from None
    for name in ("flags", "note", "reason", "path"):
        if name in frame.columns:
            frame[name] = frame[name].fillna("")
    missing = [c for c in columns if c not in frame.columns and c != "note"]
    if missing:
        raise AuditError(f"{path} lacks columns {missing}; it was not written by this version.")
    for name in columns:
        if name in _TEXT_COLUMNS or name not in frame.columns:
            continue
        values = pd.to_numeric(frame[name], errors="coerce")
        bad = (values.isna() & frame[name].notna()) | values.isin([math.inf, -math.inf])
        if name in _INTEGER_COLUMNS:
            bad |= values.notna() & ((values % 1 != 0) | (values < 0))
        if bad.any():
            row = int(bad.to_numpy().nonzero()[0][0])
            expected = "a count" if name in _INTEGER_COLUMNS else "a finite number"
            raise AuditError(
                f"{path}: column {name} of row {row + 1} must be {expected}, received "
                f"{frame[name].iloc[row]!r}; rerun `semaudit scan`."
            )
        frame[name] = values
    names = frame["class"] if "class" in frame.columns else None
    if names is not None and (names.isna().any() or (unique and names.duplicated().any())):
        raise AuditError(f"{path} has an empty or repeated class name; rerun `semaudit scan`.")
    return frame


def _is_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def _check_shape(value: Any, spec: Any, where: str) -> str | None:
    """Where ``value`` departs from ``spec`` (see ``_SCHEMA``), as ``"field: expected"``; else None.

    Specs: a leaf name; a dict (an object whose listed keys, when present, match; ``"*"``: any
    key); a one-item list (a list of such objects); ``(None, spec)``: null or ``spec``.
    """
    if isinstance(spec, tuple):
        return None if value is None else _check_shape(value, spec[1], where)
    if isinstance(spec, list):
        if not isinstance(value, list):
            return f"{where}: a list"
        problems = (_check_shape(v, spec[0], f"{where}[{i}]") for i, v in enumerate(value))
        return next((p for p in problems if p), None)
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            return f"{where}: an object"
        for key, inner in value.items():
            if key in spec or "*" in spec:
                inner_where = f"{where}.{key}" if where else key
                found = _check_shape(inner, spec.get(key, spec.get("*")), inner_where)
                if found:
                    return found
        return None
    ok = {
        _NUMBER: value is None or _is_number(value),
        _TEXT: isinstance(value, str),
        _FLAG: isinstance(value, bool),
        _SCALAR: value is None or isinstance(value, str | bool) or _is_number(value),
    }[spec]
    return None if ok else f"{where}: {spec}"


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

    @property
    def comparability_key(self) -> dict[str, Any]:
        """What two audits must share for their scales to be comparable."""
        backbone = self.meta.get("backbone", {})
        settings = self.meta.get("settings", {})
        return {
            "backbone": backbone.get("id"),
            "weights_digest": backbone.get("weights_digest"),
            "preprocessing": backbone.get("preprocessing"),
            "alpha_used": settings.get("alpha_used"),
            "normalize": settings.get("normalize"),
        }


def load_audit(path: str | os.PathLike[str]) -> Audit:
    """Read and validate an audit directory; raise ``AuditError`` naming what is wrong."""
    root = Path(path)
    if not root.is_dir():
        raise AuditError(
            f"no audit directory at {root}; create one with `semaudit scan DATA --out {root}`."
        )
    for name in _REQUIRED:
        if not (root / name).is_file():
            raise AuditError(f"{root / name} is missing; rerun `semaudit scan` into {root}.")
    meta = read_json(root / "audit.json")
    summary = read_json(root / "summary.json")
    for name, doc in (("audit.json", meta), ("summary.json", summary)):
        if not isinstance(doc, dict):
            raise AuditError(f"{root / name} must hold a JSON object; rerun `semaudit scan`.")
        version = doc.get("schema_version")
        if version != SCHEMA_VERSION:
            raise AuditError(
                f"{root / name} has schema_version {version!r}; this semaudit reads "
                f"{SCHEMA_VERSION}. Rescan with this version."
            )
    weights_path = root / "weights.json"
    weights = read_json(weights_path) if weights_path.exists() else {}
    for name, doc in (("audit.json", meta), ("summary.json", summary), ("weights.json", weights)):
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
        classes=_read_csv(root / "classes.csv", CLASSES_COLUMNS, required=True, unique=True),
        curves=_read_csv(root / "curves.csv", CURVES_COLUMNS, required=False),
        skipped=_read_csv(root / "skipped.csv", SKIPPED_COLUMNS, required=False),
        weights=weights,
    )
