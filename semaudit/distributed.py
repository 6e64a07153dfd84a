"""Multi-process runs started by ``torchrun`` (and so by Slurm or Kubernetes launchers).

``torchrun`` sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``;
``Dist.from_env()`` reads them. A world of one is a plain process: no process group, every
collective is the identity, so single-process code paths stay exactly as they were. Every
collective has a timeout (``DistSettings.timeout_s``, env ``SEMAUDIT_DIST_TIMEOUT``): a rank that
dies makes the others fail instead of hanging (``torchrun`` also stops the survivors as soon as
one worker exits non-zero). NCCL on GPUs, gloo on CPUs. torch is imported lazily.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from semaudit import errors
from semaudit.errors import SemauditError, UsageError


@dataclass(frozen=True)
class DistSettings:
    """Defaults of multi-process runs (our choices)."""

    # Ranks meet after embedding their share: the slowest may lag by minutes on millions of
    # images, so the wait is generous; a dead rank is reported by torchrun well before it.
    timeout_s: float = 1800.0
    timeout_env: str = "SEMAUDIT_DIST_TIMEOUT"
    # How a rerun resumes: the end of a lost rank's message, per command.
    rerun_scan: str = "rerun the job to resume from the stored shards"
    rerun_train: str = "rerun the job with --resume to continue from the last checkpoint"


SETTINGS = DistSettings()


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    try:
        return int(raw) if raw.strip() else default
    except ValueError:
        raise UsageError(f"{name}={raw!r} is not an integer; torchrun sets it, do not.") from None


def timeout_s() -> float:
    raw = os.environ.get(SETTINGS.timeout_env, "")
    if not raw.strip():
        return SETTINGS.timeout_s
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise UsageError(
            f"{SETTINGS.timeout_env}={raw!r} is not a positive number of seconds; "
            f"unset it for the default {SETTINGS.timeout_s:.0f}."
        )
    return value


class Dist:
    """This process's place in the job: ``rank`` of ``world`` (``local_rank`` on its node)."""

    def __init__(
        self,
        rank: int = 0,
        world: int = 1,
        local_rank: int = 0,
        *,
        rerun: str = SETTINGS.rerun_scan,
    ) -> None:
        self.rank, self.world, self.local_rank = rank, world, local_rank
        self.rerun = rerun  # how a rerun resumes, the end of a lost rank's message
        self._group = False

    @classmethod
    def current(cls, *, rerun: str = SETTINGS.rerun_scan) -> Dist:
        """This process's place in the process group that exists now (ours or a host
        program's), else a world of one. For library code called inside a job."""
        import torch.distributed as td

        if td.is_available() and td.is_initialized():
            rank, world = td.get_rank(), td.get_world_size()
            return cls(rank, world, _env_int("LOCAL_RANK", 0), rerun=rerun)
        return cls(rerun=rerun)

    @classmethod
    def from_env(cls, *, rerun: str = SETTINGS.rerun_scan) -> Dist:
        world = _env_int("WORLD_SIZE", 1)
        rank = _env_int("RANK", 0)
        if world < 1 or not 0 <= rank < world:
            raise UsageError(f"RANK={rank} WORLD_SIZE={world} is not a valid torchrun rank.")
        return cls(rank, world, _env_int("LOCAL_RANK", 0), rerun=rerun)

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def device(self, requested: str) -> str:
        """The device of this rank: ``cuda`` becomes ``cuda:LOCAL_RANK`` under torchrun."""
        if self.enabled and requested == "cuda":
            return f"cuda:{self.local_rank}"
        return requested

    def start(self, device: str) -> None:
        """Join the process group (NCCL when this rank runs on a GPU, gloo otherwise)."""
        if not self.enabled or self._group:
            return
        import torch
        import torch.distributed as td

        backend = "gloo"
        if device.startswith("cuda"):
            torch.cuda.set_device(int(device.split(":")[1]) if ":" in device else self.local_rank)
            backend = "nccl"
        if not td.is_initialized():  # a host program's own group is used, and left alone
            _import_before_group()
            td.init_process_group(backend, timeout=timedelta(seconds=timeout_s()))
            self._group = True

    def stop(self) -> None:
        """Leave the process group if ``start`` created it."""
        if self._group:
            import torch.distributed as td

            if td.is_initialized():
                td.destroy_process_group()
            self._group = False

    def broadcast(self, value: Any) -> Any:
        """Rank 0's ``value`` on every rank; a ``SemauditError`` is raised on every rank."""
        if not self.enabled:
            return value
        import torch.distributed as td

        box = [_pack(value) if self.is_main else None]
        try:
            td.broadcast_object_list(box, src=0)
        except RuntimeError as exc:  # a timeout, or a peer whose connection closed
            raise self._lost(exc) from None
        return _unpack(box[0])

    def gather(self, value: Any) -> list[Any]:
        """Every rank's ``value``, in rank order, on every rank."""
        if not self.enabled:
            return [value]
        import torch.distributed as td

        boxes: list[Any] = [None] * self.world
        try:
            td.all_gather_object(boxes, _pack(value))
        except RuntimeError as exc:  # a timeout, or a peer whose connection closed
            raise self._lost(exc) from None
        return [_unpack(box) for box in boxes]

    def all_reduce_sum(self, tensor: Any) -> Any:
        """Sum ``tensor`` over the ranks, in place, and return it (itself in a world of one)."""
        if not self.enabled:
            return tensor
        import torch.distributed as td

        with self.guard():
            td.all_reduce(tensor)
        return tensor

    def all_gather_tensors(self, tensor: Any) -> list[Any]:
        """Every rank's ``tensor`` (one shape on all ranks), in rank order, on every rank."""
        if not self.enabled:
            return [tensor]
        import torch
        import torch.distributed as td

        parts = [torch.empty_like(tensor) for _ in range(self.world)]
        with self.guard():
            td.all_gather(parts, tensor)
        return parts

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        """Around code that runs collectives (DDP's gradient all-reduce, a pool merge): a
        dead or silent peer becomes this job's one-line ``SemauditError``."""
        try:
            yield
        except RuntimeError as exc:
            if not self.enabled or not _is_collective_failure(exc):
                raise
            raise self._lost(exc) from None

    def _lost(self, exc: RuntimeError) -> SemauditError:
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        return SemauditError(
            f"rank {self.rank} of {self.world}: another rank of this torchrun job died or did "
            f"not answer within {timeout_s():.0f} s ({SETTINGS.timeout_env}; {first}); "
            f"{self.rerun}."
        )


_COLLECTIVE_WORDS = ("gloo", "nccl", "timed out", "timeout", "connection", "peer", "broken pipe")


def _is_collective_failure(exc: RuntimeError) -> bool:
    """A process-group error (torch's ``DistError``), or a RuntimeError that reads like one."""
    import torch.distributed as td

    if isinstance(exc, getattr(td, "DistError", ())):
        return True
    text = str(exc).lower()
    return any(word in text for word in _COLLECTIVE_WORDS)


def _import_before_group() -> None:
    """Import ``torch._dynamo`` before the process group exists.

    Imported after it (torchvision imports it, so every backbone does), it keeps ten references
    to the default group, which then outlives ``destroy_process_group``: its gloo threads are
    joined during interpreter shutdown instead, where a thread that needs the GIL aborts the
    process ("terminate called without an active exception"; one 2-rank scan in ~100 here).
    ``tests/test_distributed.py`` checks the group is freed by ``Dist.stop``.
    """
    import torch._dynamo  # noqa: F401


def _pack(value: Any) -> Any:
    if isinstance(value, SemauditError):
        return ("__semaudit_error__", type(value).__name__, str(value))
    return value


def _unpack(value: Any) -> Any:
    if isinstance(value, tuple) and len(value) == 3 and value[0] == "__semaudit_error__":
        kind = getattr(errors, value[1], SemauditError)
        raise kind(value[2])
    return value


def split_evenly(n: int, world: int, unit: int = 1) -> list[range]:
    """Cut ``range(n)`` into ``world`` contiguous blocks made of whole ``unit``s (batches).

    Deterministic; blocks differ by at most one unit, so every rank's batches are exactly
    the batches a single process would form.
    """
    units = -(-n // unit) if n else 0
    bounds = [min(n, (units * r // world) * unit) for r in range(world + 1)]
    bounds[-1] = n
    return [range(bounds[r], bounds[r + 1]) for r in range(world)]
