"""Checkpoints: one ``.safetensors`` file per run, rewritten atomically after every epoch.

Tensors: ``model.*`` (the model), ``best.*`` (the best-on-validation model, when selecting),
``optim.<param>.<key>`` (optimizer state), ``pool.*`` (the dssb feature pool). Everything else
(epoch, history, dssb weights, optimizer scalars) is JSON in the file's metadata under
``"state"``. One file, one rename: a crash leaves the previous epoch's checkpoint intact.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from semaudit.errors import InputError
from semaudit.store.io import atomic_write_bytes

__all__ = ["load_checkpoint", "optimizer_tensors", "restore_optimizer", "save_checkpoint"]


def _cpu(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], Any]:
    """The optimizer's state split into tensors and JSON-able scalars."""
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, slots in state["state"].items():
        for key, value in slots.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{index}.{key}"] = value
            else:
                scalars.setdefault(str(index), {})[key] = value
    return tensors, {"scalars": scalars, "param_groups": state["param_groups"]}


def restore_optimizer(
    optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], saved: Any
) -> None:
    slots: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, index, key = name.split(".", 2)
            slots.setdefault(int(index), {})[key] = value
    for index, values in saved["scalars"].items():
        slots.setdefault(int(index), {}).update(values)
    optimizer.load_state_dict({"state": slots, "param_groups": saved["param_groups"]})


def save_checkpoint(path: Path, tensors: dict[str, torch.Tensor], state: dict[str, Any]) -> None:
    from safetensors.torch import save

    data = save(_cpu(tensors), metadata={"state": json.dumps(state, allow_nan=False)})
    atomic_write_bytes(path, data)


def load_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            metadata = fh.metadata() or {}
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118
        return tensors, json.loads(metadata["state"])
    except Exception as exc:
        raise InputError(
            f"checkpoint {path} is unreadable ({exc}); delete it to start the run afresh."
        ) from None


def prefixed(prefix: str, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}": v for k, v in state.items()}


def unprefixed(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    start = f"{prefix}."
    return {k[len(start) :]: v for k, v in tensors.items() if k.startswith(start)}
