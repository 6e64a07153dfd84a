"""What a scan job does around the work: one lock per job (its torchrun ranks cooperate),
SIGTERM taken as an interrupt, no leftovers from a failed first scan, and the time and disk
estimate before a long embedding."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from semaudit.distributed import Dist
from semaudit.errors import LockedError
from semaudit.store.lock import AuditLock

Event = Callable[[str, Any], None]


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
    embeddings = out / "embeddings"
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
