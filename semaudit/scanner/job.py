"""What a scan job does around the work: an output folder that is safe to write (never the data,
never another dataset's audit), one lock per job (its torchrun ranks cooperate), SIGTERM taken
as an interrupt, no leftovers from a failed first scan, and the time and disk estimate before a
long embedding."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from semaudit.data.discover import IMAGE_EXTENSIONS
from semaudit.distributed import Dist
from semaudit.errors import AuditError, InputError, LockedError
from semaudit.store.io import read_json
from semaudit.store.lock import AuditLock
from semaudit.store.schema import AUDIT_JSON, EMBEDDINGS_DIR

Event = Callable[[str, Any], None]
_PEEK = 200  # entries of a folder looked at to tell whether it holds class folders of images


def new_out(data: Path) -> Path:
    """A fresh audit folder beside ``data`` (``test`` → ``test-audit``, ``-audit-2`` if taken),
    relative to the working directory when under it: a ``--out`` that is safe to suggest."""
    data = Path(data).resolve()
    base = data.parent / f"{data.name or 'data'}-audit"
    found, k = base, 1
    while found.exists():
        k += 1
        found = base.with_name(f"{base.name}-{k}")
    with contextlib.suppress(ValueError):
        return found.relative_to(Path.cwd())
    return found


def _holds_images(folder: Path) -> bool:
    """Whether ``folder`` looks like image data: class sub-folders with image files."""
    with contextlib.suppress(OSError):
        for i, sub in enumerate(folder.iterdir()):
            if i >= _PEEK:
                break
            if sub.is_dir() and sub.name != EMBEDDINGS_DIR:
                files = (p.name.lower() for _, p in zip(range(_PEEK), sub.iterdir(), strict=False))
                if any(name.endswith(IMAGE_EXTENSIONS) for name in files):
                    return True
    return False


def _recorded(out: Path) -> tuple[str | None, str | None] | None:
    """The data an existing audit was made from: its root and manifest (None: no audit)."""
    if not (out / AUDIT_JSON).is_file():
        return None
    try:
        source = read_json(out / AUDIT_JSON).get("source") or {}
    except (AuditError, OSError, AttributeError):
        return "?", "?"  # unreadable: treat as another dataset's, keep it unless told
    return source.get("root"), source.get("manifest")


def check_out(
    out: Path,
    root: Path,
    manifest: str | os.PathLike[str] | None,
    *,
    overwrite: bool = False,
    scanned: str | os.PathLike[str] | None = None,
) -> None:
    """Refuse an ``out`` that would destroy work: the data itself, a folder inside the data it
    scans, a folder of class folders of images, or an audit made from other data (another data
    root or manifest; adding a class is a rescan) unless ``overwrite`` (docs/decisions.md).

    ``scanned`` is the path the user gave (default ``root``): an ``out`` inside it is refused
    when it is a folder; a single file (a ``.tar`` or ``.parquet``) has nothing inside."""
    out_abs, root_abs = out.resolve(), root.resolve()
    fix = f"write the audit elsewhere, e.g. --out {new_out(root)}"
    given = Path(scanned).resolve() if scanned is not None else root_abs
    if manifest is None and given.is_dir() and out_abs.is_relative_to(given):
        raise InputError(f"--out {out} lies inside the data it scans ({root}); {fix}.")
    recorded = _recorded(out)
    if recorded is None:
        if out.is_dir() and _holds_images(out):
            raise InputError(f"--out {out} holds class folders of images, not an audit; {fix}.")
        return
    ours = str(Path(manifest).resolve()) if manifest is not None else None
    if recorded != (str(root_abs), ours) and not overwrite:
        made = recorded[1] if recorded[1] not in (None, ours) else recorded[0]
        raise AuditError(
            f"--out {out} holds an audit of other data (made from {made}), not {root}; {fix}, "
            "or pass --overwrite to replace it."
        )


@contextlib.contextmanager
def job_lock(out: Path, dist: Dist) -> Iterator[None]:
    """One job holds the audit: rank 0 takes the lock and tells the others whether it got it."""
    if not dist.enabled:
        with AuditLock(out):
            yield
        return
    if not dist.is_main:
        dist.broadcast(None)  # raises rank 0's LockedError here too
        yield
        return
    try:
        lock = AuditLock(out).__enter__()
    except LockedError as exc:
        dist.broadcast(exc)
        raise
    try:
        dist.broadcast(None)
        yield
    finally:
        lock.__exit__(None, None, None)


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (Slurm, CI, torchrun stopping a job) raises ``KeyboardInterrupt`` like Ctrl-C,
    so the embedded batches are stored; only where SIGTERM would otherwise kill the process."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def remove_unfinished(out: Path) -> None:
    """A first scan that failed before storing any embedding leaves no folder behind (only the
    files it created are removed; anything else keeps the folder)."""
    embeddings = out / EMBEDDINGS_DIR
    if embeddings.is_dir() and any(embeddings.glob("shard-*.npy")):
        return  # embedded work to resume; readers say the scan did not finish
    for path in (embeddings / "shards.json", *embeddings.glob("shards-rank*.json"), out / ".lock"):
        with contextlib.suppress(OSError):
            path.unlink()
    for folder in (embeddings, out):
        with contextlib.suppress(OSError):
            folder.rmdir()  # only when empty


class Calibration:
    """Progress events, and once the rate is known (batches after the first, which includes
    starting the workers), one ``("estimate", {...})`` event: time left and disk to be used."""

    ROW_BYTES = 120  # a row of a shard's parquet file, measured (our estimate)

    def __init__(self, total: int, own: int, dim: int, dtype: str, emit: Event) -> None:
        """``total`` images to embed (all ranks), ``own`` by this process."""
        self.n, self.own, self.dim = total, own, dim
        self.itemsize, self.emit = np.dtype(dtype).itemsize, emit
        self.done, self.since, self.first = 0, 0.0, 0
        self.sent = False

    def __call__(self, n: int) -> None:
        self.emit("embed_progress", n)
        self.done += n
        now = time.perf_counter()
        if not self.first:
            self.first, self.since = self.done, now
        elif not self.sent and now - self.since >= 2.0:
            rate = (self.done - self.first) / (now - self.since)
            self.sent = True
            self.emit("estimate", {
                "images": self.n,
                "seconds": (self.own - self.done) / rate if rate > 0 else float("inf"),
                "bytes": self.n * (self.dim * self.itemsize + self.ROW_BYTES),
            })  # fmt: skip
