"""The registry's verbs: ``get_backbone`` (name → spec), ``list_backbones``, ``create_backbone``.

Every module of this package that calls :func:`semaudit.backbones.base.register` is a family;
they are imported here, by discovery, in a fixed order (bundled first). An unknown name fails by
listing the names that exist. Nothing heavy is imported until a family needs it.
"""

from __future__ import annotations

import functools
import importlib
import os
import pkgutil
from pathlib import Path
from typing import Any

from semaudit.backbones.base import FAMILIES, Backbone, BackboneSpec, Family
from semaudit.errors import BackboneError

BUNDLED = "efficientnet-lite0"
PREPROCESSING_VERSION = 1  # bump when a transform changes: invalidates cached embeddings
_FIRST = ("lite0", "pixels", "openclip", "torchvision")  # listing order of the built-in families
_NOT_FAMILIES = {"base", "registry", "transforms", "weights"}


@functools.cache
def _family_modules() -> list[str]:
    """The package's family modules, imported once: built-in ones first, then by name."""
    import semaudit.backbones as package

    found = {m.name for m in pkgutil.iter_modules(package.__path__)} - _NOT_FAMILIES
    order = [f"semaudit.backbones.{n}" for n in [*_FIRST, *sorted(found - set(_FIRST))]]
    for module in order:
        if module.rpartition(".")[2] in found:
            importlib.import_module(module)
    return order


def families() -> dict[str, Family]:
    """Every registered family by name, in listing order (family modules, then others)."""
    order = _family_modules()

    def rank(family: Family) -> int:
        module = type(family).__module__
        return order.index(module) if module in order else len(order)

    return {f.name: f for f in sorted(FAMILIES.values(), key=rank)}


def get_backbone(name: str, weights: str | os.PathLike[str] | None = None) -> BackboneSpec:
    """Resolve a name (not ``auto``) to a spec; an unknown name fails by listing what exists."""
    path = Path(weights) if weights is not None else None
    if path is not None and not path.is_file():
        raise BackboneError(f"weights file {path} does not exist; check the weights path.")
    for family in families().values():
        spec = family.parse(name, path)
        if spec is not None:
            return spec
    syntax = ", ".join(f.syntax for f in families().values())
    raise BackboneError(
        f"unknown backbone {name!r}; use one of: auto, {syntax} (`semaudit models` lists them)."
    )


def resolve_backbone(
    name: str = "auto", weights: str | os.PathLike[str] | None = None
) -> tuple[BackboneSpec, str]:
    """Spec for ``name``; for ``auto`` OpenCLIP ViT-B-32 when reachable, else the bundled one.

    Returns the spec and a warning ("" when none) for the caller to show.
    """
    if name != "auto":
        return get_backbone(name, weights), ""
    from semaudit.backbones import openclip

    try:
        spec = get_backbone(openclip.DEFAULT_CLIP)
        if openclip.available(spec):
            return spec, ""
    except ImportError:
        pass
    clip = openclip.DEFAULT_CLIP.removeprefix(openclip.PREFIX)
    warning = (
        f"OpenCLIP {clip} weights are not cached and the hub is unreachable; using the bundled "
        f"{BUNDLED} (ImageNet). For CLIP features, use the backbone {openclip.DEFAULT_CLIP} "
        "once with network access (its weights are then cached)."
    )
    return get_backbone(BUNDLED, weights), warning


def backbone_key(spec: BackboneSpec) -> dict[str, Any]:
    """Identity of a backbone's features, computed without loading the model."""
    digest = families()[spec.family].digest(spec)
    return {"id": spec.id, "weights_digest": digest, "preprocessing_version": PREPROCESSING_VERSION}


def list_backbones() -> list[dict[str, Any]]:
    """Rows for `semaudit models`: id, dim, whether weights are present here, description."""
    return [row.to_dict() for family in families().values() for row in family.listing()]


def create_backbone(spec: BackboneSpec, device: str = "cpu") -> Backbone:
    """Build the model on ``device`` in eval mode, with its preprocessing."""
    return families()[spec.family].create(spec, device)
