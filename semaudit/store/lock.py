"""One scan per audit directory: an advisory ``flock`` on ``AUDIT/.lock``.

The kernel releases the lock when its holder dies (even by SIGKILL), so a stale ``.lock`` file
from a dead process is simply taken over; a live holder's pid and host are named in the error.
Forked children (DataLoader workers) close their copy of the lock at fork: otherwise an
orphaned worker would keep a killed scan's lock alive.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from pathlib import Path
from types import TracebackType

from semaudit.errors import LockedError

_HELD: set[int] = set()  # lock descriptors held by this process


def _close_held_in_child() -> None:
    for fd in list(_HELD):
        with contextlib.suppress(OSError):
            os.close(fd)  # the parent's lock survives: it holds its own descriptor
    _HELD.clear()


os.register_at_fork(after_in_child=_close_held_in_child)


def _describe(raw: bytes) -> str:
    """The holder as a person reads it: pid, host, start time, and whether it still runs."""
    try:
        info = json.loads(raw.decode("utf-8"))
        pid, host, started = int(info["pid"]), str(info["host"]), float(info["started"])
    except (ValueError, KeyError, TypeError):
        text = raw.decode("utf-8", "replace").strip()
        return f"holder unknown{': ' + text[:200] if text else ''}"
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started))
    alive = ""
    if host == socket.gethostname():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            alive = "; that process has exited, a child of it still holds the lock"
        except PermissionError:
            pass
    return f"pid {pid} on {host}, started {when}{alive}"


class AuditLock:
    """Context manager holding ``folder/.lock`` exclusively."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / ".lock"
        self._fd: int | None = None

    def __enter__(self) -> AuditLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _describe(os.pread(fd, 4096, 0))
            os.close(fd)
            raise LockedError(
                f"{self.path.parent} is being written by another scan ({holder}); wait for it "
                "to finish or use another --out."
            ) from None
        _HELD.add(fd)
        info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        self._fd = fd
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            _HELD.discard(self._fd)
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
