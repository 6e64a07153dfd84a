"""GPU figures for docs/performance.md, in one run of at most ~7 minutes (``benchmarks/gpu.sh``).

    python benchmarks/gpu_bench.py --out gpu.txt [--smoke]

Writes each figure to ``--out`` as soon as it is measured (a run cut short keeps what it had):

1. the machine: GPU, torch, CPU cores;
2. the achievable bf16 matmul rate (the compute-bound limit's numerator);
3. ViT-B-32 and ViT-L-14 (OpenCLIP architecture, random weights: no network needed) on random
   tensors, bf16 autocast, large batches: images/s, TFLOP/s, fraction of the matmul rate and of
   the data-sheet peak; FLOPs per image counted by hand (``bench_flops.py``, which checks
   ``torch.utils.flop_counter`` against it);
4. the semaudit embedding pipeline (``semaudit.scanner.embed.embed_items``: DataLoader workers
   decoding JPEG files from disk, preprocessing, pinned memory, bf16, channels_last) for both
   models, at the default worker count and at every core: images/s from files, the number to
   put beside clip-retrieval's ~2,500 img/s for ViT-B-32 on one A100;
5. JPEG decoding alone: Pillow + CLIP preprocessing per CPU core, Pillow with ``draft`` (DCT
   down-scaling), and ``torchvision.io.decode_jpeg`` on the GPU (batched) + GPU resize;
6. a whole ``semaudit scan`` process with the bundled EfficientNet-Lite0, when its weights are
   installed.

The JPEG files are generated here (500×375, quality 90: the pixel count of a typical ImageNet
photo; their mean size is reported), so nothing is downloaded.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
START = time.monotonic()
BUDGET_S = float(os.environ.get("GPU_BENCH_BUDGET_S", "420"))  # then no new section starts


class Report:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")

    def __call__(self, line: str) -> None:
        stamp = f"[{time.monotonic() - START:6.1f} s] "
        print(stamp + line, flush=True)
        with open(self.path, "a") as fh:
            fh.write(stamp + line + "\n")


def left() -> float:
    return BUDGET_S - (time.monotonic() - START)


def section(report: Report, name: str, fn: Callable[[], None], need_s: float) -> None:
    if left() < need_s:
        report(f"SKIPPED {name}: {left():.0f} s left, needs ~{need_s:.0f} s")
        return
    report(f"== {name}")
    try:
        fn()
    except Exception as exc:  # one failing section must not lose the others
        report(f"FAILED {name}: {type(exc).__name__}: {exc}")


def _one_jpeg(args: tuple[Path, int]) -> None:
    import numpy as np
    from PIL import Image

    path, seed = args
    rng = np.random.default_rng(seed)
    # smooth random colour fields + noise: not flat, so the decoder does real work
    small = rng.integers(0, 256, size=(12, 16, 3), dtype=np.uint8)
    image = Image.fromarray(small).resize((500, 375), Image.BICUBIC)
    noise = rng.normal(0, 12, size=(375, 500, 3))
    pixels = np.clip(np.asarray(image, dtype=np.float64) + noise, 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path, quality=90)


def make_jpegs(root: Path, n: int, report: Report) -> list[Path]:
    from multiprocessing import Pool

    jobs = []
    for i in range(n):
        folder = root / f"class{i % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        jobs.append((folder / f"{i:06d}.jpg", i))
    tick = time.perf_counter()
    with Pool(os.cpu_count() or 1) as pool:
        pool.map(_one_jpeg, jobs, chunksize=64)
    size = sum(p.stat().st_size for p, _ in jobs[:200]) / 200
    report(f"wrote {n} JPEG files 500x375 q90 (mean {size / 1024:.0f} kB) in "
           f"{time.perf_counter() - tick:.1f} s under {root}")  # fmt: skip
    return [p for p, _ in jobs]


def clip_tower(name: str) -> tuple[Any, Any, int]:
    """An OpenCLIP image tower with random weights, its eval preprocessing and FLOPs/image."""
    import logging

    import open_clip
    import torch
    from bench_flops import vit_flops

    logging.getLogger().setLevel(logging.ERROR)
    model, _, preprocess = open_clip.create_model_and_transforms(name, pretrained=None)
    model.eval()
    flops = vit_flops(model)

    class Tower(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.clip = model

        def forward(self, x: Any) -> Any:
            return self.clip.encode_image(x)

    return Tower().eval(), preprocess, flops


def sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def main() -> None:
    import torch

    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=Path("gpu-results.txt"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/semaudit-gpu-bench"))
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, CPU allowed (a check)")
    args = parser.parse_args()
    report = Report(args.out)
    smoke = args.smoke
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" and not smoke:
        report("no CUDA device visible: nothing to measure (use --smoke to check the script)")
        return
    n_files = 64 if smoke else 16_000
    peak_tflops = float(os.environ.get("GPU_PEAK_BF16_TFLOPS", "989"))  # H100/H200 SXM dense
    state: dict[str, Any] = {}

    def machine() -> None:
        report(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {os.cpu_count()} CPU cores")
        if device == "cuda":
            props = torch.cuda.get_device_properties(0)
            report(f"GPU {props.name}, {props.total_memory / 2**30:.0f} GiB, "
                   f"{props.multi_processor_count} SMs; data-sheet dense bf16 peak taken as "
                   f"{peak_tflops:.0f} TFLOP/s (GPU_PEAK_BF16_TFLOPS)")  # fmt: skip
        try:
            import torchvision

            report(f"torchvision {torchvision.__version__}")
        except ImportError:
            report("torchvision missing")

    def matmul() -> None:
        n = 256 if smoke else 8192
        dtype = torch.bfloat16 if device == "cuda" else torch.float32
        a = torch.randn(n, n, device=device, dtype=dtype)
        b = torch.randn(n, n, device=device, dtype=dtype)
        for _ in range(3):
            a @ b
        sync()
        reps = 3 if smoke else 50
        tick = time.perf_counter()
        for _ in range(reps):
            a @ b
        sync()
        rate = 2 * n**3 * reps / (time.perf_counter() - tick)
        state["matmul"] = rate
        report(f"{dtype} matmul {n}x{n}: {rate / 1e12:.1f} TFLOP/s "
               f"({rate / 1e12 / peak_tflops:.2f} of the data sheet)")  # fmt: skip

    def model_alone(name: str, batch: int) -> None:
        tower, preprocess, flops = clip_tower(name)
        state[name] = (tower, preprocess, flops)
        tower = tower.to(device)
        batch = 4 if smoke else batch
        x = torch.randn(batch, 3, 224, 224, device=device)
        autocast = torch.autocast(device, dtype=torch.bfloat16, enabled=device == "cuda")
        with torch.inference_mode(), autocast:
            for _ in range(3):
                tower(x)
            sync()
            reps = 2 if smoke else 20
            tick = time.perf_counter()
            for _ in range(reps):
                tower(x)
            sync()
        rate = batch * reps / (time.perf_counter() - tick)
        achieved = rate * flops
        limit = state.get("matmul", achieved) / flops
        report(
            f"{name}: {flops / 1e9:.2f} GFLOP/image (by hand = flop_counter + attention); "
            f"model alone, bf16, batch {batch}: {rate:,.0f} img/s = "
            f"{achieved / 1e12:.0f} TFLOP/s = {rate / limit:.2f} of the matmul-bound limit "
            f"({limit:,.0f} img/s), {achieved / 1e12 / peak_tflops:.2f} of the data sheet"
        )

    def pipeline(name: str, batch: int, n: int) -> None:
        from semaudit.backbones import Backbone, BackboneSpec
        from semaudit.data import discover_folder
        from semaudit.scanner.embed import default_workers, embed_items

        tower, preprocess, flops = state[name]
        spec = BackboneSpec(f"openclip:{name}/random", "openclip", name)
        backbone = Backbone(spec, tower.to(device), preprocess, preprocess, 512, "random", {},
                            device)  # fmt: skip
        items = discover_folder(state["jpegs"]).items[: (64 if smoke else n)]
        cores = os.cpu_count() or 1
        for workers in sorted({default_workers(), max(1, cores - 1), cores}):
            list(embed_items(items[: batch * 2], backbone, batch_size=batch, workers=workers))
            sync()
            tick = time.perf_counter()
            list(embed_items(items, backbone, batch_size=batch, workers=workers))
            sync()
            rate = len(items) / (time.perf_counter() - tick)
            report(f"{name} semaudit pipeline from JPEG files, batch {batch}, {workers} workers: "
                   f"{rate:,.0f} img/s ({len(items)} images; "
                   f"{rate * flops / 1e12:.0f} TFLOP/s of model work)")  # fmt: skip

    def decode() -> None:
        from PIL import Image

        files = [p for p in sorted(state["jpegs"].rglob("*.jpg"))][: (32 if smoke else 400)]
        preprocess = state["ViT-B-32"][1]
        tick = time.perf_counter()
        for path in files:
            with Image.open(path) as image:
                preprocess(image.convert("RGB"))
        per_core = len(files) / (time.perf_counter() - tick)
        cores = os.cpu_count() or 1
        report(f"Pillow decode + CLIP preprocessing, 1 core: {per_core:,.0f} img/s "
               f"(x {cores} cores = {per_core * cores:,.0f} img/s at best)")  # fmt: skip
        tick = time.perf_counter()
        for path in files:
            with Image.open(path) as image:
                image.draft("RGB", (448, 448))  # DCT scaling: decode at 1/2 size or less
                preprocess(image.convert("RGB"))
        draft = len(files) / (time.perf_counter() - tick)
        report(f"Pillow with draft (DCT down-scaling) + preprocessing, 1 core: {draft:,.0f} img/s "
               f"(x {cores} = {draft * cores:,.0f})")  # fmt: skip
        if device != "cuda":
            return
        import torchvision
        from torchvision.io import decode_jpeg
        from torchvision.transforms.v2 import functional as F

        datas = [torchvision.io.read_file(str(p)) for p in files]
        for _ in range(2):
            decode_jpeg(datas[:64], device="cuda")
        sync()
        tick = time.perf_counter()
        for start in range(0, len(datas), 128):
            images = decode_jpeg(datas[start : start + 128], device="cuda")
            batch = torch.stack([
                F.center_crop(F.resize(im, [224], antialias=True), [224]) for im in images
            ])  # fmt: skip
            batch = batch.float().div_(255)
        sync()
        gpu = len(datas) / (time.perf_counter() - tick)
        report(f"torchvision.io.decode_jpeg on the GPU (batches of 128) + GPU resize/crop: "
               f"{gpu:,.0f} img/s (file reading excluded)")  # fmt: skip

    def whole_scan() -> None:
        from semaudit.backbones import resolve_backbone

        try:
            resolve_backbone("efficientnet-lite0", None)
        except Exception as exc:
            report(f"efficientnet-lite0 unavailable here ({exc}); whole-scan figure skipped")
            return
        n = len(list(state["jpegs"].rglob("*.jpg")))
        out = args.work / "audit-lite0"
        cmd = [sys.executable, "-m", "semaudit", "scan", str(state["jpegs"]), "--out", str(out),
               "-b", "efficientnet-lite0", "--device", device, "--no-probe", "-q"]  # fmt: skip
        tick = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=max(30, left() - 20))
        took = time.perf_counter() - tick
        if done.returncode != 0:
            report(f"semaudit scan failed ({done.returncode}): {done.stderr.strip()[-300:]}")
            return
        report(
            f"whole `semaudit scan` process, EfficientNet-Lite0, {n} JPEG files: {took:.1f} s "
            f"= {n / took:,.0f} img/s including imports, model load, hashing and statistics"
        )

    section(report, "machine", machine, 0)
    section(report, "matmul", matmul, 10)

    def files() -> None:
        state["jpegs"] = args.work / "jpegs"
        if not (state["jpegs"] / "class0").is_dir():
            make_jpegs(state["jpegs"], n_files, report)

    section(report, "JPEG files", files, 60)
    section(report, "ViT-B-32 model alone", lambda: model_alone("ViT-B-32", 512), 30)
    if not smoke:  # ViT-L-14 on a CPU takes minutes
        section(report, "ViT-L-14 model alone", lambda: model_alone("ViT-L-14", 256), 40)
    if "jpegs" in state and "ViT-B-32" in state:
        section(report, "ViT-B-32 pipeline", lambda: pipeline("ViT-B-32", 512, n_files), 90)
        section(report, "decoding", decode, 30)
    if "jpegs" in state and "ViT-L-14" in state:
        section(report, "ViT-L-14 pipeline", lambda: pipeline("ViT-L-14", 256, n_files // 2), 90)
    if "jpegs" in state:
        section(report, "whole scan", whole_scan, 60)
    report(f"done in {time.monotonic() - START:.0f} s")


if __name__ == "__main__":
    main()
