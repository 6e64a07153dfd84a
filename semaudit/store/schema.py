"""What an audit directory holds: file and column names, and the shape readers rely on."""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from semaudit.errors import AuditError

SCHEMA_VERSION = 1
# The files of an audit directory: every reader and writer names them through these.
AUDIT_JSON = "audit.json"  # written last: the mark of a finished scan
SUMMARY_JSON = "summary.json"
WEIGHTS_JSON = "weights.json"
CLASSES_CSV = "classes.csv"
CURVES_CSV = "curves.csv"
SKIPPED_CSV = "skipped.csv"
EMBEDDINGS_DIR = "embeddings"
INDEX_PARQUET = "index.parquet"  # in EMBEDDINGS_DIR
CLASSES_COLUMNS = [
    "class", "n", "scale", "scale_matched", "scale_matched_std", "scale_inf", "saturation",
    "need_more", "effective_number", "weight", "probe_accuracy", "flags", "note",
    "centre_distance", "scale_interclass",
]  # fmt: skip
ADDED_COLUMNS = frozenset({"centre_distance", "scale_interclass"})
"""Columns newer than the first audits: readers fill them with empty cells when absent."""
FLAG_SEPARATOR = ";"


class Flag(enum.StrEnum):
    """Why a class's numbers need care: the values of the ``flags`` column of classes.csv."""

    EMPTY = "empty"  # no image
    FEW_IMAGES = "few_images"  # fewer than min_images: reported, not fitted or probed
    ZERO_SCALE = "zero_scale"  # 2+ images but S = 0 (identical features)
    BELOW_MATCHED_M = "below_matched_m"  # fewer images than m*: no matched scale
    NO_FIT = "no_fit"  # the saturation curve could not be fitted
    NEED_MORE_CAPPED = "need_more_capped"  # need_more hit its cap of 100·n

    @classmethod
    def parse(cls, value: object) -> set[Flag]:
        """The flags of a ``flags`` cell (``"few_images;no_fit"``); unknown names are dropped."""
        known = {f.value: f for f in cls}
        text = "" if value is None or value != value else str(value)  # NaN-safe
        return {known[p.strip()] for p in text.split(FLAG_SEPARATOR) if p.strip() in known}

    @staticmethod
    def to_cell(flags: Iterable[Flag]) -> str:
        """A ``flags`` cell, in the order given."""
        return FLAG_SEPARATOR.join(f.value for f in flags)


CURVES_COLUMNS = ["class", "m", "S_mean", "S_std"]
SKIPPED_COLUMNS = ["path", "reason"]
_TEXT_COLUMNS = {"class": str, "flags": str, "note": str, "path": str, "reason": str}
_REQUIRED = (AUDIT_JSON, SUMMARY_JSON, CLASSES_CSV)
_INTEGER_COLUMNS = {"n", "need_more", "m"}
_NUMBER, _TEXT, _FLAG = "a number or null", "a string", "true or false"
_SCALAR = "a string, number, boolean or null"
_NUMBERS = (None, {"*": _NUMBER})
_SETTINGS_NUMBERS = ("alpha", "alpha_used", "min_images", "seed", "draws", "curve_points",
                     "target_saturation", "matched_m", "gamma", "probe_folds",
                     "interclass_alpha")  # fmt: skip
# What readers rely on: the type of each field *when present* (absent ones are theirs to handle).
_SCHEMA: dict[str, dict[str, Any]] = {
    AUDIT_JSON: {
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
    SUMMARY_JSON: {
        **dict.fromkeys(
            ("n_classes", "n_images", "n_skipped", "skipped_fraction", "n_eligible", "matched_m"),
            _NUMBER,
        ),
        **dict.fromkeys(
            (
                "count",
                "scale",
                "scale_matched",
                "scale_interclass",
                "spearman_count_scale",
                "probe",
            ),
            _NUMBERS,
        ),
        "rank_disagreement": [{"class": _TEXT, "*": _NUMBER}],
        "recommendations": [
            {"class": _TEXT, "classes": [_TEXT], "kind": _TEXT, "text": _TEXT, "*": _SCALAR}
        ],
        "correlations": (
            None,
            {"*": (None, {"scale_interclass_alpha": (None, {"*": _NUMBERS}), "*": _NUMBERS})},
        ),
    },
    WEIGHTS_JSON: {"gamma": _NUMBER, "basis": _TEXT, "weights": {"*": _NUMBER}},
}


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
    for name in ADDED_COLUMNS.intersection(columns).difference(frame.columns):
        frame[name] = math.nan
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
