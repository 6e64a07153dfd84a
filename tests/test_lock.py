"""One writer per audit directory: a live holder blocks, clearly; a dead one never does."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hostile import cli_env, png_bytes

import semaudit
from semaudit.cli import main
from semaudit.errors import LockedError
from semaudit.store.lock import AuditLock

HOLDER = """
import os, sys, time
from pathlib import Path
from semaudit.store.lock import AuditLock

with AuditLock(Path(sys.argv[1])):
    if sys.argv[2] == "fork":  # a DataLoader-like worker, outliving its parent
        ready, tell = os.pipe()
        if os.fork() == 0:
            os.write(tell, b"x")
            time.sleep(60)
            os._exit(0)
        os.read(ready, 1)
    print("held", flush=True)
    time.sleep(60)
"""


@pytest.fixture
def data(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        for i in range(5):
            (root / c / f"{i}.png").write_bytes(png_bytes(ord(c) * 10 + i))
    return root


def _hold(audit: Path, mode: str = "plain") -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(audit), mode],
        stdout=subprocess.PIPE, text=True, env=cli_env(), start_new_session=True,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def _kill(proc: subprocess.Popen[str], *, group: bool = True) -> None:
    if group:
        os.killpg(proc.pid, signal.SIGKILL)
    else:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def _scan(data: Path, audit: Path) -> list[str]:
    return ["scan", str(data), "--out", str(audit), "--backbone", "pixels", "--workers", "0",
            "--no-probe", "--quiet"]  # fmt: skip


def test_second_scan_is_refused_naming_the_holder(data: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    audit = tmp_path / "audit"
    holder = _hold(audit)
    try:
        code = main(_scan(data, audit))
        err = capsys.readouterr().err
    finally:
        _kill(holder)
    assert code == 3
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(
        f"error: {audit} is being written by another scan (pid {holder.pid} on "
    )
    assert "Traceback" not in err
    assert not (audit / "audit.json").exists()  # the refused scan wrote nothing


def test_lock_of_a_killed_scan_is_taken_over(data: Path, tmp_path: Path) -> None:
    audit = tmp_path / "audit"
    _kill(_hold(audit))
    assert (audit / ".lock").read_text()  # the stale file is still there, with the dead pid
    assert main(_scan(data, audit)) == 0
    assert (audit / "audit.json").is_file()


def test_orphaned_forked_child_does_not_keep_the_lock(data: Path, tmp_path: Path) -> None:
    """SIGKILL the scan process only: its forked workers must not hold the lock meanwhile."""
    audit = tmp_path / "audit"
    holder = _hold(audit, "fork")
    try:
        _kill(holder, group=False)
        with AuditLock(audit):
            pass
    finally:
        os.killpg(holder.pid, signal.SIGKILL)  # the orphan, still sleeping in the same session


@pytest.mark.parametrize(
    "content", [b"", b"garbage \xff", b'{"pid": 999999999, "host": "elsewhere"}']
)
def test_stale_lock_file_with_any_content_does_not_block(tmp_path: Path, content: bytes) -> None:
    (tmp_path / ".lock").write_bytes(content)
    with AuditLock(tmp_path):
        info = json.loads((tmp_path / ".lock").read_text())
        assert info["pid"] == os.getpid()
    assert (tmp_path / ".lock").read_text() == ""


def test_lock_excludes_within_one_process(tmp_path: Path) -> None:
    errors: list[BaseException] = []

    def contender() -> None:
        try:
            with AuditLock(tmp_path):
                pass
        except LockedError as exc:
            errors.append(exc)

    with AuditLock(tmp_path):
        thread = threading.Thread(target=contender)
        thread.start()
        thread.join()
    assert len(errors) == 1 and f"pid {os.getpid()} on " in str(errors[0])
    with AuditLock(tmp_path):  # released on exit
        pass


def test_lock_released_when_a_scan_fails(data: Path, tmp_path: Path) -> None:
    audit = tmp_path / "audit"
    with pytest.raises(semaudit.errors.BackboneError):
        semaudit.scan(data, out=audit, backbone="no-such-backbone", workers=0)
    with AuditLock(audit):
        pass


def test_holder_message_says_when_the_named_pid_has_exited(tmp_path: Path) -> None:
    """The lock is held, but by a process other than the pid it names (the writer died first)."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    fd = os.open(tmp_path / ".lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        info = {"pid": int(dead.stdout), "host": socket.gethostname(), "started": 0.0}
        os.write(fd, json.dumps(info).encode())
        with (
            pytest.raises(LockedError, match="that process has exited, a child of it"),
            AuditLock(tmp_path),
        ):
            pass
    finally:
        os.close(fd)
