"""Rich progress for ``scan`` events: a bar with images/s and ETA on a TTY, quiet otherwise.

Before a long embedding (``ProgressSettings.long_run_s`` or more, from the scan's quick
calibration) one line states the estimated time and disk use, on a TTY or not (logs of batch
jobs need it most).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from semaudit.cli._app import err, warn


@dataclass(frozen=True)
class ProgressSettings:
    long_run_s: float = 60.0  # estimates are printed for embeddings expected to take longer


SETTINGS = ProgressSettings()


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"


def _size(n_bytes: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n_bytes < 1000:
            return f"{n_bytes:.0f} {unit}"
        n_bytes /= 1000
    return f"{n_bytes:.1f} TB"


class ScanProgress:
    """Callable ``on_event`` for ``semaudit.scan`` that draws on stderr."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=err,
            disable=quiet or not err.is_terminal,
            transient=False,
        )
        self.task: TaskID | None = None

    def __enter__(self) -> ScanProgress:
        self.progress.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.progress.__exit__(exc_type, exc, tb)

    def __call__(self, kind: str, payload: Any) -> None:
        if kind == "warning":
            warn(str(payload))
        elif kind == "stage" and not self.quiet and err.is_terminal:
            err.print(f"[dim]{payload}[/]")
        elif kind == "estimate" and not self.quiet and payload["seconds"] >= SETTINGS.long_run_s:
            self.progress.console.print(
                f"estimated: {_duration(payload['seconds'])} to embed {payload['images']:,} "
                f"images; about {_size(payload['bytes'])} of embeddings on disk",
                markup=False,
                highlight=False,
            )
        elif kind == "embed_start":
            self.task = self.progress.add_task("embedding", total=int(payload), rate="")
        elif kind == "embed_progress" and self.task is not None:
            self.progress.advance(self.task, int(payload))
            task = self.progress.tasks[self.task]
            speed = task.finished_speed or task.speed
            self.progress.update(self.task, rate=f"{speed:,.0f} img/s" if speed else "")
