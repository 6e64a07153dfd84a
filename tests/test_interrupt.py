"""Ctrl-C and SIGTERM during a real scan: the embedded batches are kept, the user is told how
to resume, and the rerun reuses them (issue 12, item 1). A failed first scan leaves nothing
behind, and an unfinished one is named as such by the readers (issue 12, item 9)."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from cli_support import semaudit_cli
from fmnist import write_image_folder

import semaudit
from semaudit.errors import AuditError, BackboneError
from semaudit.store import load_audit

N_IMAGES = 3 * 60


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_image_folder(tmp_path_factory.mktemp("interrupt") / "data", [60, 60, 60], seed=4)


def _scan_until(data: Path, out: Path, sig: int, after: int) -> tuple[int, str]:
    """Run ``semaudit scan`` with its stderr on a terminal (so the progress bar shows the
    count), send ``sig`` once ``after`` images are embedded; return (exit code, stderr)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "semaudit", "scan", str(data), "--out", str(out),
         "--backbone", "efficientnet-lite0"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200",
             "SEMAUDIT_SCAN_BATCH_SIZE": "8", "SEMAUDIT_SCAN_WORKERS": "1",
             "OMP_NUM_THREADS": "1"},  # one model thread: the signal lands mid-embedding
    )  # fmt: skip
    os.close(slave)
    text, sent = "", False
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 5)
        if not ready:
            if proc.poll() is not None:
                break
            continue
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        text += chunk.decode("utf-8", "replace")
        done = [int(n) for n in re.findall(rf"(\d+)/{N_IMAGES}", text)]
        if not sent and done and max(done) >= after:
            proc.send_signal(sig)
            sent = True
    proc.wait(timeout=120)
    os.close(master)
    assert sent, f"the scan ended before it could be interrupted:\n{text}"
    return proc.returncode, text


def _stored_rows(out: Path) -> int:
    listing = json.loads((out / "embeddings" / "shards.json").read_text())
    return sum(shard["rows"] for shard in listing["shards"])


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_scan_keeps_its_batches_and_the_rerun_reuses_them(
    data: Path, tmp_path: Path, sig: int
) -> None:
    out = tmp_path / "audit"
    code, stderr = _scan_until(data, out, sig, after=16)
    assert code == 130, stderr
    assert "interrupted; rerun the same command to resume" in stderr
    assert "Traceback" not in stderr
    kept = _stored_rows(out)  # far fewer than a shard (4,096): flushed by the interrupt
    assert 16 <= kept < N_IMAGES and kept % 8 == 0  # whole batches only
    with pytest.raises(AuditError, match="did not finish"):
        load_audit(out)
    small = {"SEMAUDIT_SCAN_BATCH_SIZE": "8", "SEMAUDIT_SCAN_WORKERS": "1"}
    rerun = semaudit_cli("scan", str(data), "--out", str(out), "--backbone",
                         "efficientnet-lite0", "--json", "--quiet", env=small)  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr
    result = json.loads(rerun.stdout)
    assert result["reused"] == kept and result["embedded"] == N_IMAGES - kept
    assert result["images"] == N_IMAGES
    index = pd.read_parquet(out / "embeddings" / "index.parquet")
    assert len(index) == N_IMAGES and index["shard"].nunique() == 2


def test_failed_first_scan_leaves_no_folder(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "audit"
    with pytest.raises(BackboneError):
        semaudit.scan(data, out=out, backbone="torchvision:no_such_net")
    assert not out.exists()


def test_failed_first_scan_into_an_existing_folder_keeps_only_foreign_files(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import semaudit.scanner.run as run

    out = tmp_path / "audit"

    def broken(*args: object, **kwargs: object) -> None:
        raise BackboneError("weights could not be loaded (test)")

    monkeypatch.setattr("semaudit.backbones.load_backbone", broken)
    with pytest.raises(BackboneError):
        run.scan(data, out=out, backbone="pixels")
    assert not out.exists()  # created by the scan: removed, lock and shard listing included
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(BackboneError):
        run.scan(data, out=out, backbone="pixels")
    assert (out / "notes.txt").exists()  # a folder the scan did not create is left as it was
    with pytest.raises(AuditError, match="did not finish"):
        load_audit(out)


def test_a_decoding_worker_does_not_print_an_abandoned_transfer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The fd-sharing thread of a DataLoader worker reports through ``sys.excepthook``; a
    transfer the interrupted main process abandoned (a connection error) is not printed."""
    import torch

    from semaudit.data.dataset import init_worker

    printed: list[type[BaseException]] = []
    monkeypatch.setattr(sys, "excepthook", lambda kind, value, tb: printed.append(kind))
    threads = torch.get_num_threads()
    try:
        init_worker(0)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)
    for error in (EOFError(), ConnectionResetError(), BrokenPipeError(), ValueError("bad")):
        sys.excepthook(type(error), error, None)
    assert printed == [ValueError]
