"""Crash safety: SIGKILL anywhere, rerun, and get exactly what an uninterrupted scan writes.

Every durable step of a scan ends in an ``os.replace`` (temp file + fsync + rename). The driver
below runs scans in forked children that SIGKILL themselves just before the N-th rename, for
chosen N, then reruns each to completion in a fresh child; the test compares every output with
an uninterrupted scan. A second test kills the real CLI from outside, with the real backbone and
its DataLoader workers. The rest corrupts what an older crash (or a bad disk) could leave.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fmnist import write_image_folder
from hostile import assert_clean_audit, cli_env

import semaudit
from semaudit.errors import AuditError
from semaudit.store import load_audit

SCAN = {"backbone": "pixels", "workers": 0, "shard_size": 16, "batch_size": 8}
RENAMES = 23  # os.replace calls of a fresh scan of 3 × 24 images in shards of 16 (5 shards)
OUTPUTS = ("classes.csv", "curves.csv", "summary.json", "weights.json", "skipped.csv")

DRIVER = """
import json, os, signal, sys
import semaudit.scanner.run, torch, torchvision.transforms.v2  # imported once; run in children only

data, work, points = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
settings = json.loads(sys.argv[4])


def child(out, kill_at):
    pid = os.fork()
    if pid:
        return os.waitpid(pid, 0)[1]
    if kill_at:
        real, calls = os.replace, [0]

        def replace(src, dst):
            calls[0] += 1
            if calls[0] == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(src, dst)

        os.replace = replace
    result = semaudit.scanner.run.scan(data, out=out, **settings)
    with open(out + ".result.json", "w") as fh:
        json.dump({"embedded": result.n_embedded, "reused": result.n_reused}, fh)
    os._exit(0)


report = {"clean": child(work + "/clean", 0)}
for point in points:
    out = f"{work}/killed-{point}"
    killed = child(out, point)
    report[point] = {"killed": os.WIFSIGNALED(killed) and os.WTERMSIG(killed) == signal.SIGKILL,
                     "resumed": child(out, 0)}
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_image_folder(tmp_path_factory.mktemp("crash") / "data", [24, 24, 24], seed=3)


def _meta(audit: Path) -> dict:  # type: ignore[type-arg]
    meta = json.loads((audit / "audit.json").read_text())
    return {k: v for k, v in meta.items() if k not in ("created", "timings", "environment")}


def assert_same_audit(clean: Path, other: Path) -> None:
    """``other`` holds exactly what ``clean`` holds: outputs byte for byte, same embeddings."""
    for name in OUTPUTS:
        assert (other / name).read_bytes() == (clean / name).read_bytes(), name
    assert _meta(other) == _meta(clean)
    f1, l1, p1, c1 = semaudit.load_embeddings(clean)
    f2, l2, p2, c2 = semaudit.load_embeddings(other)
    assert p1 == p2 and c1 == c2
    np.testing.assert_array_equal(l1, l2)
    np.testing.assert_array_equal(f1, f2)
    i1 = pd.read_parquet(clean / "embeddings" / "index.parquet").drop(columns=["shard", "row"])
    i2 = pd.read_parquet(other / "embeddings" / "index.parquet").drop(columns=["shard", "row"])
    pd.testing.assert_frame_equal(i1, i2)
    assert_clean_audit(other)
    listed = json.loads((other / "embeddings" / "shards.json").read_text())["shards"]
    files = {s["file"] for s in listed} | {s["rows_file"] for s in listed}
    files |= {"shards.json", "index.parquet"}
    assert {p.name for p in (other / "embeddings").iterdir()} == files  # no orphan, no temp


def _run_driver(data: Path, work: Path, points: list[int]) -> dict:  # type: ignore[type-arg]
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER, str(data), str(work), json.dumps(points), json.dumps(SCAN)],
        capture_output=True, text=True, env=cli_env(), timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _check_kills(data: Path, work: Path, points: list[int]) -> None:
    report = _run_driver(data, work, [*points, RENAMES + 1])
    assert report["clean"] == 0
    assert not report[str(RENAMES + 1)]["killed"], "the scan renames more often than RENAMES says"
    clean = work / "clean"
    assert json.loads((work / "clean.result.json").read_text())["embedded"] == 72
    for point in points:
        outcome = report[str(point)]
        assert outcome == {"killed": True, "resumed": 0}, (point, outcome)
        killed = work / f"killed-{point}"
        assert_same_audit(clean, killed)
        resumed = json.loads((work / f"killed-{point}.result.json").read_text())
        finished_shards = max(0, (point - 2) // 3)  # renames: shards.json, then 3 per shard
        assert resumed["reused"] == min(72, 16 * finished_shards), point


def test_sigkill_at_chosen_writes_then_resume(data: Path, tmp_path: Path) -> None:
    """Before the first shard, mid-shard, between shards, at the index, amid the outputs."""
    _check_kills(data, tmp_path, [2, 6, 10, 17, 19, 23])


@pytest.mark.slow
def test_sigkill_before_every_write_then_resume(data: Path, tmp_path: Path) -> None:
    _check_kills(data, tmp_path, list(range(1, RENAMES + 1)))


def _shards(audit: Path) -> int:
    try:
        return len(json.loads((audit / "embeddings" / "shards.json").read_text())["shards"])
    except (OSError, ValueError, KeyError):
        return 0


def _cli_scan(data: Path, out: Path, *, kill_after_shards: int | None = None,
              whole_group: bool = True) -> int:  # fmt: skip
    """``python -m semaudit scan`` with the real backbone; optionally SIGKILLed from outside."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "semaudit", "scan", str(data), "--out", str(out), "--backbone",
         "efficientnet-lite0", "--quiet"],
        env=cli_env(SEMAUDIT_SCAN_SHARD_SIZE="16", SEMAUDIT_SCAN_BATCH_SIZE="8",
                    SEMAUDIT_SCAN_WORKERS="2"),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    if kill_after_shards is None:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0 and "Traceback" not in err, err
        return 0
    deadline = time.monotonic() + 600
    while _shards(out) < kill_after_shards and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "the scan finished before it could be killed"
    if whole_group:
        os.killpg(proc.pid, signal.SIGKILL)
    else:  # the scan process alone: its DataLoader workers are orphaned, not killed
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    return _shards(out)


@pytest.mark.slow
def test_sigkill_real_cli_with_real_backbone_then_resume(tmp_path: Path) -> None:
    data = write_image_folder(tmp_path / "data", [16, 16, 16], seed=5)
    clean, audit = tmp_path / "clean", tmp_path / "audit"
    _cli_scan(data, clean)
    first = _cli_scan(data, audit, kill_after_shards=1)
    assert 1 <= first < 3
    second = _cli_scan(data, audit, kill_after_shards=first + 1, whole_group=False)
    assert first < second
    _cli_scan(data, audit)  # at once: orphaned workers must not hold the lock
    assert_same_audit(clean, audit)


# --- what an older crash or a bad disk leaves behind --------------------------------------


@pytest.fixture
def scanned(data: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A clean audit and a copy-to-be-damaged, both complete."""
    clean = semaudit.scan(data, out=tmp_path / "clean", **SCAN).out
    damaged = semaudit.scan(data, out=tmp_path / "damaged", **SCAN).out
    return clean, damaged


def _rescan(data: Path, audit: Path) -> tuple[list[str], int]:
    warnings: list[str] = []
    result = semaudit.scan(
        data, out=audit, on_event=lambda k, p: k == "warning" and warnings.append(p), **SCAN
    )
    return warnings, result.n_embedded


def _flip(path: Path, at: int) -> None:
    raw = bytearray(path.read_bytes())
    raw[at] ^= 0xFF
    path.write_bytes(bytes(raw))


def test_flipped_byte_in_a_shard_is_detected_and_recomputed(data: Path, scanned) -> None:  # type: ignore[no-untyped-def]
    clean, damaged = scanned
    _flip(damaged / "embeddings" / "shard-00002.npy", -7)
    warnings, embedded = _rescan(data, damaged)
    assert any("shard-00002.npy" in w for w in warnings)
    assert embedded == 16
    assert_same_audit(clean, damaged)


def test_flipped_byte_in_a_shard_rows_file_is_detected(data: Path, scanned) -> None:  # type: ignore[no-untyped-def]
    clean, damaged = scanned
    _flip(damaged / "embeddings" / "shard-00001.parquet", 200)
    warnings, embedded = _rescan(data, damaged)
    assert any("shard-00001" in w for w in warnings) and embedded == 16
    assert_same_audit(clean, damaged)


def test_truncated_index_is_refused_by_readers_and_rebuilt_by_scan(data: Path, scanned) -> None:  # type: ignore[no-untyped-def]
    clean, damaged = scanned
    index = damaged / "embeddings" / "index.parquet"
    index.write_bytes(index.read_bytes()[:100])
    with pytest.raises(AuditError, match=r"index\.parquet is unreadable"):
        semaudit.load_embeddings(damaged)
    _, embedded = _rescan(data, damaged)
    assert embedded == 0
    assert_same_audit(clean, damaged)


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"\xff\xfe",
        b"[]",
        b'{"key": 1, "shards": 5}',
        b"null",
        "same key, shards not a list",
        "entry pointing outside the folder",
        "repeated entry",
        "entry without rows checksum",
    ],
)
def test_corrupt_shard_list_is_detected_and_recomputed(data: Path, scanned, content) -> None:  # type: ignore[no-untyped-def]
    clean, damaged = scanned
    listing = damaged / "embeddings" / "shards.json"
    doc = json.loads(listing.read_text())
    if content == "same key, shards not a list":
        content = json.dumps({**doc, "shards": {"0": doc["shards"][0]}}).encode()
    elif content == "entry pointing outside the folder":
        doc["shards"][0]["file"] = "../../../../etc/passwd"
        content = json.dumps(doc).encode()
    elif content == "repeated entry":
        doc["shards"].append(dict(doc["shards"][0]))
        content = json.dumps(doc).encode()
    elif content == "entry without rows checksum":
        del doc["shards"][3]["rows_sha256"]
        content = json.dumps(doc).encode()
    listing.write_bytes(content)
    warnings, _ = _rescan(data, damaged)
    assert warnings
    assert_same_audit(clean, damaged)


def test_leftovers_of_a_crash_are_cleaned(data: Path, scanned) -> None:  # type: ignore[no-untyped-def]
    clean, damaged = scanned
    emb = damaged / "embeddings"
    (emb / "shard-00009.npy").write_bytes(b"unlisted")  # written, not yet listed
    (emb / ".shard-00010.npy.abc.tmp").write_bytes(b"half")
    (emb / ".index.parquet.def.tmp").write_bytes(b"half")
    (damaged / ".summary.json.ghi.tmp").write_bytes(b"{")
    _, embedded = _rescan(data, damaged)
    assert embedded == 0
    assert_same_audit(clean, damaged)


def test_interrupted_rescan_is_never_read_as_an_audit(
    data: Path, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """A rescan dying between two output files must not leave a mix of old and new files."""
    import semaudit.scanner.writer

    out = tmp_path / "audit"
    semaudit.scan(data, out=out, **SCAN)
    load_audit(out)

    def dies(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    monkeypatch.setattr(
        semaudit.scanner.writer, "write_json", dies
    )  # after classes.csv, before summary
    with pytest.raises(KeyboardInterrupt):
        semaudit.scan(data, out=out, **{**SCAN, "seed": 1})
    with pytest.raises(AuditError, match=r"did not finish.*rerun the same `semaudit scan"):
        load_audit(out)
    monkeypatch.undo()
    semaudit.scan(data, out=out, **SCAN)
    assert load_audit(out).meta["settings"]["seed"] == 0
    with pytest.raises(semaudit.errors.BackboneError):  # refused before touching anything
        semaudit.scan(data, out=out, **{**SCAN, "backbone": "no-such-backbone"})
    load_audit(out)


def test_atomic_write_never_exposes_a_partial_file(tmp_path: Path, monkeypatch) -> None:
    from semaudit.store import atomic_write_bytes

    target = tmp_path / "classes.csv"
    atomic_write_bytes(target, b"old\n")

    def fail_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", fail_fsync)
    with pytest.raises(OSError):
        atomic_write_bytes(target, b"new and longer\n")
    monkeypatch.undo()
    assert target.read_bytes() == b"old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["classes.csv"]
    assert oct(target.stat().st_mode & 0o777) != oct(0o600)  # not mkstemp's private mode
