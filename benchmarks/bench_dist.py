"""``torchrun`` with 2 CPU processes vs 1 process, on the same cores, side by side in one run.

    python benchmarks/bench_dist.py [--images 400]

Whole processes (imports, model load, decoding, statistics), the bundled EfficientNet-Lite0,
real Fashion-MNIST images, ``--no-probe``; each run into a fresh audit folder. torchrun gives
each process ``OMP_NUM_THREADS=1`` (its default), the single process keeps every core.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def timed(cmd: list[str], env: dict[str, str]) -> float:
    tick = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - tick


def main() -> None:
    from fmnist import write_image_folder

    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=400)
    args = parser.parse_args()
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = write_image_folder(work / "data", [args.images // 10] * 10, seed=0)
        n = args.images // 10 * 10
        scan = ["-m", "semaudit", "scan", str(data), "-b", "efficientnet-lite0", "--no-probe",
                "-q", "--out"]  # fmt: skip
        one = timed([sys.executable, *scan, str(work / "one")], env)
        torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
        two = timed([*torchrun, "--nproc_per_node=2", *scan, str(work / "two")], env)
        solo = timed([*torchrun, "--nproc_per_node=1", *scan, str(work / "solo")], env)
    cores = os.cpu_count()
    print(f"{n} Fashion-MNIST images, EfficientNet-Lite0, {cores} cores, whole processes")
    print(f"  1 process (all threads)        {one:7.1f} s  {n / one:6.1f} img/s   reference")
    print(f"  torchrun, 1 process            {solo:7.1f} s  {n / solo:6.1f} img/s   "
          f"time ratio {solo / one:.2f}")  # fmt: skip
    print(f"  torchrun, 2 processes (gloo)   {two:7.1f} s  {n / two:6.1f} img/s   "
          f"time ratio {two / one:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
