"""Where the compute runs: device, decoding workers and torch threads (torch imported lazily).

Shared by the scan and by ``train``; it sits beside ``distributed.py`` and imports only
``errors``. The CPU plan (how many decoding processes, how many torch threads for the model)
is a measured choice, docs/performance.md "Scan throughput" and docs/decisions.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

# On a CPU-only run with at most this many cores, images are decoded in the main process and
# the model gets every core: measured on a quiet 2-core machine (600 Fashion-MNIST images,
# Lite0, whole processes alternated with the naive loop, median of paired ratios): in-process
# decoding with 2 threads 0.78x the naive loop, one worker + 2 threads 0.83x, one worker + 1
# thread 1.13x (docs/performance.md, "Scan throughput"; docs/decisions.md).
SMALL_MACHINE_CORES = 2
MAX_WORKERS = 8


@dataclass(frozen=True)
class CpuPlan:
    """How a run uses the cores: decoding processes, and torch threads in the main process."""

    workers: int
    threads: int


def cpu_count() -> int:
    """Cores this process may run on (the affinity mask, not the machine's total)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def default_workers(device: str = "cpu", cores: int | None = None) -> int:
    """Decoding processes: one per spare core, at most 8; none on a small CPU-only machine
    (decoding in the main process, between batches)."""
    cores = cpu_count() if cores is None else cores
    if not device.startswith("cuda") and cores <= SMALL_MACHINE_CORES:
        return 0
    return max(0, min(MAX_WORKERS, cores - 1))


def default_threads(cores: int | None = None) -> int:
    """Torch threads of the main process: every core, as torch's own default (measured on 2
    cores: a decoding process beside them costs less than a model thread taken away)."""
    return cpu_count() if cores is None else cores


def cpu_plan(workers: int | None, device: str = "cpu", cores: int | None = None) -> CpuPlan:
    """The plan for a run: ``workers`` as asked (None: the default), threads to match.

    ``OMP_NUM_THREADS``, when set (torchrun sets it to 1 per process), fixes the threads.
    """
    chosen = default_workers(device, cores) if workers is None else workers
    threads = _env_threads() or default_threads(cores)
    return CpuPlan(workers=chosen, threads=threads)


def _env_threads() -> int | None:
    raw = os.environ.get("OMP_NUM_THREADS", "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else None


def apply_threads(threads: int) -> int:
    """Set torch's intra-op threads; return the previous count so a caller can restore it."""
    import torch

    before = int(torch.get_num_threads())
    if threads != before:
        torch.set_num_threads(threads)
    return before


def resolve_device(device: str) -> str:
    """``auto`` → ``cuda`` when a GPU is visible, else ``cpu``; a CUDA request without one fails."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        from semaudit.errors import UsageError

        raise UsageError(
            f"device {device!r} requested but no CUDA device is visible; use device cpu or auto."
        )
    return device
