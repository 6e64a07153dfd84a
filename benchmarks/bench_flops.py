"""FLOPs per image of a CLIP ViT image tower: by hand, and with ``torch.utils.flop_counter``.

    python benchmarks/bench_flops.py [--model ViT-B-32] [--image 224]

``torch.utils.flop_counter`` under ``inference_mode`` misses every attention block: PyTorch's
``nn.MultiheadAttention`` fast path runs one fused kernel (``_native_multi_head_attention``)
that the counter has no formula for, so the QKV and output projections and the attention
products all count zero (5.89 instead of 8.82 GFLOP for ViT-B/32). With the fast path off the
projections are ordinary ``addmm`` calls and are counted; the two attention products run in
the CPU flash-attention kernel, also uncounted, so they are added by hand (2·n²·d MACs per
block). The result must equal the hand count to the FLOP; this script asserts it.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class VitShape:
    image: int
    patch: int
    width: int
    layers: int
    mlp: int
    out: int

    @property
    def tokens(self) -> int:
        return (self.image // self.patch) ** 2 + 1  # patches + class token


def shape_of(model: Any, image: int) -> VitShape:
    visual = model.visual
    block = visual.transformer.resblocks[0]
    return VitShape(
        image=image,
        patch=visual.conv1.kernel_size[0],
        width=visual.transformer.width,
        layers=len(visual.transformer.resblocks),
        mlp=block.mlp.c_fc.out_features,
        out=visual.output_dim,
    )


def macs_by_hand(s: VitShape) -> dict[str, int]:
    """Multiply-accumulates per image, term by term (LayerNorm, GELU, softmax not counted)."""
    n, d = s.tokens, s.width
    patches = (s.image // s.patch) ** 2
    return {
        "patch projection (conv)": patches * 3 * s.patch**2 * d,
        "QKV projections": s.layers * n * d * 3 * d,
        "attention products QKᵀ, AV": s.layers * 2 * n * n * d,
        "attention output projection": s.layers * n * d * d,
        "MLP (two layers)": s.layers * 2 * n * d * s.mlp,
        "final projection (class token)": d * s.out,
    }


def counted_flops(model: Any, image: int, fastpath: bool) -> int:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    before = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(fastpath)
    try:
        with FlopCounterMode(display=False) as counter, torch.inference_mode():
            model.encode_image(torch.randn(1, 3, image, image))
    finally:
        torch.backends.mha.set_fastpath_enabled(before)
    return int(counter.get_total_flops())


def vit_flops(model: Any, image: int = 224) -> int:
    """FLOPs per image (2 per MAC) of ``model.encode_image``, the trusted count."""
    s = shape_of(model, image)
    attention = 2 * macs_by_hand(s)["attention products QKᵀ, AV"]
    counted = counted_flops(model, image, fastpath=False) + attention
    by_hand = 2 * sum(macs_by_hand(s).values())
    assert counted == by_hand, (counted, by_hand)
    return counted


def main() -> None:
    import logging

    import open_clip

    logging.getLogger().setLevel(logging.ERROR)  # "no pretrained weights" is expected
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="ViT-B-32")
    parser.add_argument("--image", type=int, default=224)
    args = parser.parse_args()
    model = open_clip.create_model(args.model, pretrained=None).eval()
    s = shape_of(model, args.image)
    macs = macs_by_hand(s)
    print(f"{args.model} at {args.image} px: {s.tokens} tokens, {s.layers} blocks of width "
          f"{s.width}, MLP {s.mlp}, patch {s.patch}, output {s.out}")  # fmt: skip
    for name, value in macs.items():
        print(f"  {name:32s} {value / 1e6:10.1f} M MAC")
    total = sum(macs.values())
    print(f"  {'total by hand':32s} {total / 1e9:10.3f} G MAC = {2 * total / 1e9:.3f} GFLOP")
    old = counted_flops(model, args.image, fastpath=True)
    print(f"flop_counter, inference fast path (the old count)  {old / 1e9:.3f} GFLOP "
          f"(misses {(2 * total - old) / 1e9:.3f}: every attention block)")  # fmt: skip
    trusted = vit_flops(model, args.image)
    print(f"flop_counter, fast path off, + attention products  {trusted / 1e9:.3f} GFLOP "
          "(equals the hand count)")  # fmt: skip


if __name__ == "__main__":
    main()
