"""Device, decoding workers and torch threads (semaudit/runtime.py), and the compatibility names
the scanner keeps."""

from __future__ import annotations

import pytest

from semaudit import runtime
from semaudit.errors import UsageError


@pytest.mark.parametrize(("cores", "workers"), [(1, 0), (2, 0), (3, 2), (4, 3)])
def test_a_small_cpu_machine_decodes_in_process_with_every_core_for_the_model(
    cores: int, workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    plan = runtime.cpu_plan(None, "cpu", cores=cores)
    assert plan == runtime.CpuPlan(workers=workers, threads=cores)


def test_a_larger_machine_or_a_gpu_keeps_the_former_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert runtime.cpu_plan(None, "cpu", cores=8) == runtime.CpuPlan(workers=7, threads=8)
    assert runtime.cpu_plan(None, "cpu", cores=32).workers == runtime.MAX_WORKERS
    assert runtime.cpu_plan(None, "cuda", cores=4) == runtime.CpuPlan(workers=3, threads=4)


def test_asked_workers_are_kept_and_omp_num_threads_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert runtime.cpu_plan(0, "cpu", cores=2) == runtime.CpuPlan(workers=0, threads=2)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert runtime.cpu_plan(None, "cpu", cores=2) == runtime.CpuPlan(workers=0, threads=1)
    monkeypatch.setenv("OMP_NUM_THREADS", "not a number")
    assert runtime.cpu_plan(None, "cpu", cores=2).threads == 2


def test_apply_threads_returns_the_previous_count() -> None:
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    try:
        assert runtime.apply_threads(1) == before
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_resolve_device_and_the_scanner_reexports() -> None:
    pytest.importorskip("torch")
    from semaudit.scanner import embed

    assert embed.resolve_device is runtime.resolve_device
    assert embed.default_workers is runtime.default_workers
    assert runtime.resolve_device("cpu") == "cpu"
    assert runtime.resolve_device("auto") in ("cpu", "cuda")
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(UsageError, match="no CUDA device"):
            runtime.resolve_device("cuda:0")
