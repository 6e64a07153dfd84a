"""Weights files: their digest, safe loading, and whether the model hub can be reached."""

from __future__ import annotations

import functools
import os
import socket
from pathlib import Path
from typing import Any

from semaudit.checksum import file_checksum
from semaudit.errors import BackboneError


def file_digest(path: Path) -> str:
    """SHA-256 of a weights file, computed once per (path, size, mtime) in a process."""
    st = os.stat(path)
    return _digest_of(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


@functools.cache
def _digest_of(path: str, size: int, mtime_ns: int) -> str:
    return "sha256:" + file_checksum(path, "sha256")


def load_state_dict(path: Path) -> dict[str, Any]:
    """Untrusted weights: safetensors, or ``torch.load(weights_only=True)``."""
    import torch

    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return dict(load_file(str(path)))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise BackboneError(
            f"cannot load weights {path} safely ({exc}); use .safetensors or a plain state dict."
        ) from None
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise BackboneError(
            f"weights {path} hold no state dict; save one with torch.save(model.state_dict())."
        )
    return state


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def hub_reachable(timeout: float = 1.5) -> bool:
    """One short TCP probe instead of the hub client's retries."""
    if hub_offline():
        return False
    try:
        with socket.create_connection(("huggingface.co", 443), timeout=timeout):
            return True
    except OSError:
        return False
