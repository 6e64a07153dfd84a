"""Multi-process scans: real ``torchrun --nproc_per_node=2 -m semaudit scan`` (gloo on CPU).

The result must equal a single-process scan; a rank that dies must fail the job without a
hang, and the rerun must resume from what the ranks stored.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fmnist import write_image_folder

import semaudit
from semaudit.distributed import Dist, split_evenly
from semaudit.store.lock import AuditLock
from semaudit.store.shards import load_embeddings

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
SMALL = {"SEMAUDIT_SCAN_BATCH_SIZE": "8", "SEMAUDIT_SCAN_SHARD_SIZE": "16",
         "SEMAUDIT_SCAN_WORKERS": "0", "SEMAUDIT_DIST_TIMEOUT": "120"}  # fmt: skip


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", **SMALL, **(extra or {})}


def _torchrun(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TORCHRUN, "-m", "semaudit", "scan", *args, "--quiet"],
        capture_output=True, text=True, env=_env(), timeout=timeout,
    )  # fmt: skip


def _single(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "semaudit", "scan", *args, "--quiet"],
        capture_output=True, text=True, env=_env(), timeout=600,
    )  # fmt: skip


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_image_folder(tmp_path_factory.mktemp("dist") / "data", [30, 20, 9], seed=6)


def assert_same_result(one: Path, two: Path, *, tol: float = 0.0) -> None:
    """Same counts and skips, scale within float tolerance, same curves, same embeddings."""
    a, b = semaudit.load_audit(one), semaudit.load_audit(two)
    pd.testing.assert_frame_equal(a.skipped, b.skipped)
    ca, cb = a.classes.set_index("class"), b.classes.set_index("class")
    assert ca["n"].tolist() == cb["n"].tolist()
    for column in ("scale", "scale_matched", "scale_inf", "saturation", "weight"):
        np.testing.assert_allclose(
            ca[column], cb[column], rtol=max(tol, 1e-5), atol=1e-6, err_msg=column
        )
    assert ca["flags"].fillna("").tolist() == cb["flags"].fillna("").tolist()
    pd.testing.assert_frame_equal(
        a.curves[["class", "m"]], b.curves[["class", "m"]], check_dtype=False
    )
    np.testing.assert_allclose(a.curves["S_mean"], b.curves["S_mean"], rtol=max(tol, 1e-5))
    fa, la, pa, _ = load_embeddings(one)
    fb, lb, pb, _ = load_embeddings(two)
    assert pa == pb and (la == lb).all()
    np.testing.assert_allclose(fa, fb, rtol=tol, atol=tol)


# --- deterministic sharding ----------------------------------------------------------------


def test_blocks_cover_everything_once_in_whole_batches() -> None:
    for n in (0, 1, 7, 8, 9, 100, 1001):
        for world in (1, 2, 3, 8):
            blocks = split_evenly(n, world, 8)
            assert [i for block in blocks for i in block] == list(range(n))
            assert all(block.start % 8 == 0 for block in blocks)
            sizes = [len(block) for block in blocks]
            assert max(sizes) - min(sizes) <= 8
            assert split_evenly(n, world, 8) == blocks  # same input, same split


def test_a_world_of_one_is_a_plain_process(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    dist = Dist.from_env()
    assert not dist.enabled and dist.is_main
    assert dist.broadcast([1, 2]) == [1, 2] and dist.gather("x") == ["x"]
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "5")
    with pytest.raises(semaudit.errors.UsageError, match="RANK=5"):
        Dist.from_env()


# --- real torchrun jobs --------------------------------------------------------------------


@pytest.mark.slow
def test_two_processes_equal_one(data: Path, tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    single = _single(str(data), "--out", str(one), "--backbone", "pixels")
    assert single.returncode == 0, single.stderr
    job = _torchrun(str(data), "--out", str(two), "--backbone", "pixels", "--json")
    assert job.returncode == 0, job.stderr
    result = json.loads(job.stdout)  # rank 0 alone prints: one JSON document
    assert result["images"] == 59 and result["embedded"] == 59
    assert_same_result(one, two)
    listing = json.loads((two / "embeddings" / "shards.json").read_text())
    assert len(listing["shards"]) >= 4  # both ranks wrote shards (16 rows each at most)
    assert not list((two / "embeddings").glob("shards-rank*.json"))  # folded into shards.json
    again = _torchrun(str(data), "--out", str(two), "--backbone", "pixels", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["reused"] == 59  # resume works under torchrun too
    assert_same_result(one, two)


def test_a_job_holds_the_audit_and_a_locked_one_fails_on_every_rank(
    data: Path, tmp_path: Path
) -> None:
    out = tmp_path / "audit"
    with AuditLock(out):
        job = _torchrun(str(data), "--out", str(out), "--backbone", "pixels", timeout=300)
    assert job.returncode != 0
    assert job.stderr.count("is being written by another scan") == 2, job.stderr  # both ranks
    assert job.stderr.count("error: ") >= 2  # the one-line error of each rank (exit 3)


GROUP_FREED = """
import weakref

import torch.distributed as td

from semaudit.distributed import Dist

dist = Dist.from_env()
dist.start("cpu")
group = weakref.ref(td.group.WORLD)
from semaudit.backbones import load_backbone, resolve_backbone  # torchvision, as a scan does

load_backbone(resolve_backbone("pixels")[0], "cpu")
dist.stop()
assert group() is None, "the process group outlived Dist.stop()"
"""


def test_the_process_group_is_freed_when_a_rank_stops(tmp_path: Path) -> None:
    """A group still referenced after ``destroy_process_group`` has its gloo threads joined at
    interpreter exit, where a rank aborted about once in a hundred jobs; importing torchvision
    (``torch._dynamo``) after the group existed kept it referenced."""
    script = tmp_path / "job.py"
    script.write_text(GROUP_FREED)
    job = subprocess.run(
        [*TORCHRUN, str(script)], capture_output=True, text=True, env=_env(), timeout=300
    )
    assert job.returncode == 0, job.stderr


def _worker(torchrun_pid: int, rank: int) -> int | None:
    """The pid of the torchrun worker with ``RANK=rank`` (a direct child of the launcher)."""
    try:
        children = Path(f"/proc/{torchrun_pid}/task/{torchrun_pid}/children").read_text().split()
    except OSError:
        return None
    for pid in map(int, children):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"RANK={rank}".encode() in environ:
            return pid
    return None


@pytest.mark.slow
def test_killed_rank_fails_the_job_and_the_rerun_resumes_with_the_real_backbone(
    data: Path, tmp_path: Path
) -> None:
    clean, out = tmp_path / "clean", tmp_path / "audit"
    single = _single(str(data), "--out", str(clean), "--backbone", "efficientnet-lite0")
    assert single.returncode == 0, single.stderr
    job = subprocess.Popen(
        [*TORCHRUN, "-m", "semaudit", "scan", str(data), "--out", str(out),
         "--backbone", "efficientnet-lite0", "--quiet"],
        env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    listing = out / "embeddings" / "shards-rank001.json"
    deadline = time.monotonic() + 300
    while not listing.exists() and job.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert job.poll() is None, "the job finished before a rank could be killed"
    victim = _worker(job.pid, 1)
    assert victim is not None
    os.kill(victim, signal.SIGKILL)
    start = time.monotonic()
    _, stderr = job.communicate(timeout=180)  # no hang: the survivor is stopped
    assert job.returncode != 0, stderr
    assert time.monotonic() - start < 120
    assert not (out / "audit.json").exists()
    rerun = _torchrun(str(data), "--out", str(out),
                      "--backbone", "efficientnet-lite0", "--json")  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr
    result = json.loads(rerun.stdout)
    assert result["reused"] >= 16 and result["embedded"] + result["reused"] == 59
    assert_same_result(clean, out, tol=2e-3)  # float16 rows; 1 thread per rank vs 2 in one


def test_rank_listings_are_folded_in_when_the_store_opens(tmp_path: Path) -> None:
    """What ranks stored (a job that died before rank 0 merged) is reused, checksums checked."""
    from semaudit.store.shards import RankShards, ShardStore

    key = {"backbone": "test"}
    folder = tmp_path / "embeddings"
    ShardStore(folder, key)  # an empty store, as rank 0 leaves it before the ranks embed
    written: dict[int, list[int]] = {}
    for rank in (0, 1):
        ranks = RankShards(folder, key, "float16", rank, world=2, first=0)
        for k in range(2):
            rows = pd.DataFrame({
                "path": [f"r{rank}-{k}.png"], "label": ["a"], "size": [1], "mtime": [0],
                "hash": [f"h{rank}{k}"], "row": [0], "reason": [""],
            })  # fmt: skip
            written.setdefault(rank, []).append(
                ranks.add_shard(np.full((1, 4), rank + k, np.float32), rows)
            )
    assert written == {0: [0, 2], 1: [1, 3]}  # ids first + k·world + rank: never the same
    (folder / "shard-00003.npy").write_bytes(b"damaged")  # rank 1's last shard, corrupted
    store = ShardStore(folder, key)
    assert [s["id"] for s in store.shards] == [0, 1, 2]
    assert any("shard-00003.npy" in what for what in store.discarded)
    assert not list(folder.glob("shards-rank*.json")) and not (folder / "shard-00003.npy").exists()
    assert sorted(store.cached_rows()["hash"]) == ["h00", "h01", "h10"]
    assert store.next_id() == 3


@pytest.mark.slow
def test_a_rank_that_stops_answering_times_out_the_collective(data: Path, tmp_path: Path) -> None:
    """A hung (not dead) rank: torchrun cannot see it, the collective's timeout must end the
    job, with one line naming the setting; the rerun resumes."""
    out = tmp_path / "audit"
    job = subprocess.Popen(
        [*TORCHRUN, "-m", "semaudit", "scan", str(data), "--out", str(out),
         "--backbone", "efficientnet-lite0", "--quiet"],
        env=_env({"SEMAUDIT_DIST_TIMEOUT": "15"}), stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    listing = out / "embeddings" / "shards-rank001.json"
    deadline = time.monotonic() + 300
    while not listing.exists() and job.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    victim = _worker(job.pid, 1)
    assert victim is not None and job.poll() is None
    os.kill(victim, signal.SIGSTOP)
    try:
        _, stderr = job.communicate(timeout=240)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGKILL)
    assert job.returncode != 0
    assert "did not answer within 15 s (SEMAUDIT_DIST_TIMEOUT" in stderr, stderr
    rerun = _torchrun(str(data), "--out", str(out), "--backbone", "efficientnet-lite0", "--json")
    assert rerun.returncode == 0, rerun.stderr
    result = json.loads(rerun.stdout)
    assert result["reused"] >= 16 and result["embedded"] + result["reused"] == 59


# --- train under torchrun: a lost rank ends the job with the scan's one line -------------------


@pytest.fixture(scope="module")
def train_audit(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from semaudit.scanner.run import scan

    audit = tmp_path_factory.mktemp("train-audit") / "audit"
    scan(data, out=audit, backbone="pixels", probe=False)
    return audit


def _train_args(data: Path, audit: Path, out: Path, *extra: str) -> list[str]:
    return [*TORCHRUN, "-m", "semaudit", "train", str(data), "--audit", str(audit),
            "--out", str(out), "--epochs", "40", "--batch-size", "8", "--device", "cpu",
            "--quiet", *extra]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSTOP], ids=["killed", "frozen"])
def test_train_lost_rank_fails_with_one_line_and_the_rerun_resumes(
    data: Path, train_audit: Path, tmp_path: Path, sig: signal.Signals
) -> None:
    """Rank 1 killed or frozen after the first checkpoint: the job ends (a frozen rank by the
    collective's timeout, with the scan's one line and exit code), ``--resume`` finishes it."""
    out = tmp_path / "run"
    env = _env({"SEMAUDIT_DIST_TIMEOUT": "15", "OMP_NUM_THREADS": "1"})
    job = subprocess.Popen(
        _train_args(data, train_audit, out), env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while not (out / "checkpoint.safetensors").exists() and job.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    victim = _worker(job.pid, 1)
    assert victim is not None and job.poll() is None, "the run ended before a rank was stopped"
    os.kill(victim, sig)
    try:
        _, stderr = job.communicate(timeout=240)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGKILL)
    assert job.returncode != 0 and not (out / "metrics.json").exists()
    if sig == signal.SIGSTOP:  # torchrun cannot see a frozen rank: the timeout must end it
        lines = [line for line in stderr.splitlines() if line.startswith("error: ")]
        assert len(lines) == 1, stderr
        assert lines[0].startswith("error: rank 0 of 2: another rank of this torchrun job")
        assert "did not answer within 15 s (SEMAUDIT_DIST_TIMEOUT" in lines[0]
        assert lines[0].endswith(
            "rerun the job with --resume to continue from the last checkpoint."
        )
        assert re.search(r"exitcode\s*:\s*3\b", stderr), stderr  # SemauditError, as in scan
    rerun = subprocess.run(
        _train_args(data, train_audit, out, "--resume", "--json"), env=env,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr
    assert "resuming at epoch" in rerun.stderr
    assert json.loads(rerun.stdout)["selected_epoch"] == 39


def test_train_uses_the_platform_for_ranks_and_collectives() -> None:
    """train/ reaches torch.distributed only through semaudit.distributed."""
    root = Path(semaudit.__file__).parent / "train"
    users = [p.name for p in root.rglob("*.py") if "torch.distributed" in p.read_text()]
    assert users == [], users


def test_train_guard_turns_only_collective_failures_into_the_one_line_error() -> None:
    from semaudit.distributed import SETTINGS
    from semaudit.errors import SemauditError

    dist = Dist(0, 2, rerun=SETTINGS.rerun_train)
    with pytest.raises(SemauditError, match=r"rank 0 of 2: .*--resume") as caught, dist.guard():
        raise RuntimeError("[gloo/transport/tcp/pair.cc:598] Connection closed by peer")
    assert "\n" not in str(caught.value) and caught.value.exit_code == 3
    with pytest.raises(RuntimeError, match="shape mismatch"), dist.guard():
        raise RuntimeError("shape mismatch")  # not a lost rank: left as it is
    with pytest.raises(RuntimeError, match="Connection"), Dist().guard():
        raise RuntimeError("Connection closed by peer")  # one process: no peers to lose
