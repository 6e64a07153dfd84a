"""Backbones: a registry of families (list_/get_/create_), each a trainable ``nn.Module``.

``get_backbone(name)`` resolves a name to a :class:`BackboneSpec` without loading anything;
``create_backbone(spec, device)`` builds the :class:`Backbone`; ``list_backbones()`` lists what
``semaudit models`` shows. One module per family (``lite0``, ``openclip``, ``torchvision``,
``pixels``); adding a family is adding a module (docs/architecture.md).
"""

from semaudit.backbones.base import Backbone, BackboneSpec, Family, ListedBackbone, register
from semaudit.backbones.openclip import DEFAULT_CLIP
from semaudit.backbones.registry import (
    BUNDLED,
    PREPROCESSING_VERSION,
    backbone_key,
    create_backbone,
    families,
    get_backbone,
    list_backbones,
    resolve_backbone,
)

load_backbone = create_backbone  # the name scan used before the registry had verbs
parse_backbone = get_backbone

__all__ = [
    "BUNDLED",
    "DEFAULT_CLIP",
    "PREPROCESSING_VERSION",
    "Backbone",
    "BackboneSpec",
    "Family",
    "ListedBackbone",
    "backbone_key",
    "create_backbone",
    "families",
    "get_backbone",
    "list_backbones",
    "load_backbone",
    "parse_backbone",
    "register",
    "resolve_backbone",
]
