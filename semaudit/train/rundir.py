"""The directory of a run or comparison: created fresh, or checked before ``--resume``.

A directory holds one kind of job, marked by its JSON file (``run.json``, ``comparison.json``)
written first with the job's identity (settings and inputs). Rerunning into it needs
``--resume`` and the same identity; a directory holding anything else is refused. Under
``torchrun`` rank 0 checks and writes, and every rank gets its answer or its error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from semaudit import __version__
from semaudit.distributed import Dist
from semaudit.errors import SemauditError, UsageError
from semaudit.store.io import read_json, write_json
from semaudit.values import json_safe

__all__ = ["COMPARISON", "RUN", "JobKind", "prepare_dir"]


@dataclass(frozen=True)
class JobKind:
    """One kind of job directory: its marker file and how messages name it."""

    marker: str
    noun: str  # "a training run"
    differs: str  # what may differ: "settings or data"
    finished: str  # the file whose presence means the job finished


RUN = JobKind("run.json", "a training run", "settings or data", "metrics.json")
COMPARISON = JobKind("comparison.json", "a comparison", "methods, settings or data", "metrics.json")


def _check_or_create(out: Path, kind: JobKind, identity: dict[str, Any], resume: bool) -> bool:
    marker = out / kind.marker
    if marker.is_file():
        if not resume:
            raise UsageError(
                f"{out} already holds {kind.noun}; pass --resume to continue it, or choose "
                "another --out."
            )
        saved = read_json(marker)
        if {k: saved.get(k) for k in identity} != json_safe(identity):
            raise UsageError(
                f"{out} holds {kind.noun} with other {kind.differs}; --resume needs the same "
                "command, or choose another --out."
            )
        return (out / kind.finished).is_file()
    if out.exists() and any(out.iterdir()):
        raise UsageError(f"{out} exists and is not {kind.noun}; choose an empty --out.")
    write_json(marker, {**json_safe(identity), "semaudit_version": __version__})
    return False


def prepare_dir(
    out: Path, kind: JobKind, identity: dict[str, Any], resume: bool, dist: Dist
) -> bool:
    """Create or check ``out`` on rank 0; return (on every rank) whether the job finished."""
    out.mkdir(parents=True, exist_ok=True)
    answer: Any = None
    if dist.is_main:
        try:
            answer = _check_or_create(out, kind, identity, resume)
        except SemauditError as exc:
            if not dist.enabled:
                raise
            answer = exc  # raised on every rank by the broadcast
    return bool(dist.broadcast(answer))
