"""Shared fixtures. Tests never reach a model hub."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault(  # notices remembered as shown (semaudit/backbones/registry.py): not ~/.cache
    "SEMAUDIT_CACHE_DIR", tempfile.mkdtemp(prefix="semaudit-test-cache-")
)
sys.path.insert(0, str(Path(__file__).parent))
