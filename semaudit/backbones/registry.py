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
    here = [str(Path(__file__).parent)]  # this package's folder, without importing it again
    found = {m.name for m in pkgutil.iter_modules(here)} - _NOT_FAMILIES
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
    warning = (
        f"OpenCLIP weights not cached, hub unreachable: using {BUNDLED} (shown once); to cache "
        f"them, scan once online with -b {openclip.DEFAULT_CLIP}"
    )
    return get_backbone(BUNDLED, weights), warning if first_notice(_cache_state()) else ""


def _cache_state() -> str:
    """What the "not cached" notice depends on: the default CLIP, the hub cache folder and its
    modification time (a model added or removed changes it), and whether the hub is offline."""
    from semaudit.backbones import openclip

    try:
        from huggingface_hub import constants

        hub = Path(constants.HF_HUB_CACHE)
    except ImportError:
        hub = Path("~/.cache/huggingface/hub").expanduser()
    try:
        stamp = str(hub.stat().st_mtime_ns)
    except OSError:
        stamp = "absent"
    offline = os.environ.get("HF_HUB_OFFLINE", "")
    return f"{openclip.DEFAULT_CLIP}|{hub}|{stamp}|{offline}"


def notice_dir() -> Path:
    """Where shown notices are remembered: ``$SEMAUDIT_CACHE_DIR/notices``, else the user cache
    (``$XDG_CACHE_HOME`` or ``~/.cache``) ``/semaudit/notices``."""
    base = os.environ.get("SEMAUDIT_CACHE_DIR")
    if base:
        return Path(base) / "notices"
    cache = Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser()
    return cache / "semaudit" / "notices"


def first_notice(state: str) -> bool:
    """True the first time ``state`` is seen (a marker file remembers it); True as well when
    the marker cannot be written, so a notice is never lost, only repeated."""
    import hashlib

    marker = notice_dir() / hashlib.sha256(state.encode()).hexdigest()[:32]
    if marker.exists():
        return False
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(state + "\n", encoding="utf-8")
    except OSError:
        pass
    return True


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
