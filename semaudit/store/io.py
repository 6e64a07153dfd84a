"""Atomic, durable writes and validated JSON reads: every file of an audit goes through here."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from semaudit.errors import AuditError
from semaudit.store.schema import EMBEDDINGS_DIR
from semaudit.values import json_safe

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
    for where in (Path(folder), Path(folder) / EMBEDDINGS_DIR):
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
