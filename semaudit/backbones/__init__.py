"""Backbones: a registry of families (list_/get_/create_), trainable nn.Module extractors."""

from semaudit.backbones.registry import *  # noqa: F403
from semaudit.backbones.registry import (  # noqa: F401
    _bundled_weights_path,
    _hub_reachable,
    _lite0_state,
    _load_state_dict,
)
