"""``openclip:MODEL/TAG``: OpenCLIP image towers (``auto`` prefers ViT-B-32/laion2b_s34b_b79k).

Only the image tower is kept (``model.visual``): ``encode_image(x)`` without normalisation is
exactly ``visual(x)``, and the text tower would only take memory.
"""

from __future__ import annotations

import os
from pathlib import Path

from semaudit.backbones.base import Backbone, BackboneSpec, ListedBackbone, register
from semaudit.backbones.transforms import last_child_with_parameters
from semaudit.backbones.weights import file_digest, hub_reachable
from semaudit.errors import BackboneError

PREFIX = "openclip:"
DEFAULT_CLIP = "openclip:ViT-B-32/laion2b_s34b_b79k"


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


def available(spec: BackboneSpec) -> bool:
    """Whether the weights can be had now: a local file, the cache, or a reachable hub."""
    return spec.weights is not None or openclip_cached(spec.model, spec.tag) or hub_reachable()


def _check(model: str, tag: str, weights: Path | None) -> None:
    import open_clip

    if model not in open_clip.list_models():
        raise BackboneError(
            f"unknown OpenCLIP model {model!r}; `semaudit models --all` lists the models."
        )
    if weights is None and not tag:
        raise BackboneError(
            f"openclip:{model} needs a pretrained tag (openclip:{model}/TAG) or weights; "
            f"tags: {', '.join(open_clip.list_pretrained_tags_by_model(model)) or 'none'}."
        )
    if tag and tag not in open_clip.list_pretrained_tags_by_model(model):
        raise BackboneError(
            f"unknown tag {tag!r} for OpenCLIP {model}; known: "
            f"{', '.join(open_clip.list_pretrained_tags_by_model(model))}."
        )


class OpenClip:
    name = "openclip"
    syntax = "openclip:MODEL/TAG"

    def parse(self, name: str, weights: Path | None) -> BackboneSpec | None:
        if not name.startswith(PREFIX):
            return None
        model, _, tag = name.removeprefix(PREFIX).partition("/")
        _check(model, tag, weights)
        return BackboneSpec(name, self.name, model, tag, weights, "OpenCLIP image tower")

    def listing(self) -> list[ListedBackbone]:
        try:
            import open_clip
        except ImportError:
            return []
        rows = []
        for model, tag in open_clip.list_pretrained():
            try:
                dim = int(open_clip.get_model_config(model)["embed_dim"])
            except (TypeError, KeyError):
                dim = 0
            name = f"{PREFIX}{model}/{tag}"
            note = " (auto default)" if name == DEFAULT_CLIP else ""
            rows.append(ListedBackbone(name, dim, openclip_cached(model, tag), "OpenCLIP" + note))
        return rows

    def digest(self, spec: BackboneSpec) -> str:
        return file_digest(spec.weights) if spec.weights is not None else spec.id

    def create(self, spec: BackboneSpec, device: str) -> Backbone:
        import open_clip

        if not available(spec):
            raise BackboneError(
                f"weights for {spec.id} are not in the local cache and the hub is unreachable; "
                "run once with network access, or pass local weights (--weights PATH, a "
                ".pt/.safetensors), or use the bundled efficientnet-lite0."
            )
        pretrained = str(spec.weights) if spec.weights else spec.tag
        try:
            model, train_preprocess, preprocess = open_clip.create_model_and_transforms(
                spec.model, pretrained=pretrained, device=device
            )
        except Exception as exc:  # open_clip raises RuntimeError/OSError/HTTP errors alike
            raise BackboneError(
                f"could not load {spec.id} ({exc}); check the tag or the weights file."
            ) from None
        visual = model.visual.eval()
        blocks = getattr(getattr(visual, "transformer", None), "resblocks", None)
        last = blocks[-1] if blocks is not None else last_child_with_parameters(visual)
        return Backbone(
            spec,
            visual,
            preprocess,
            train_preprocess,
            int(open_clip.get_model_config(spec.model)["embed_dim"]),
            self.digest(spec) if spec.weights else f"openclip:{spec.model}/{spec.tag}",
            {"transform": repr(preprocess)},
            device,
            last_block=last,
            cpu_batch=64,  # measured: ViTs run best at 64 on a CPU (docs/performance.md)
        )


register(OpenClip())
