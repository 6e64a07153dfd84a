"""Long-tailed Fashion-MNIST: every ``semaudit train`` method × 3 seeds on frozen Lite0 features.

    python benchmarks/bench_train.py [--n-max 500] [--imbalance 100] [--test-per-class 100]
                                     [--seeds 3] [--epochs 30] [--work DIR] [--methods ce,cb,...]
                                     [--extra "--finetune last --no-augment"]

Data (real images, Debian package dataset-fashion-mnist): class c (label order 0 … 9,
t-shirt … ankle-boot) gets ``n_c = round(n_max · imbalance^(−c/9))`` training images drawn
without replacement from the 60,000-image train split with seed 0 (imbalance 100: 500 → 5;
``--imbalance 1 --n-max 124`` is the sample-balanced draw of the same size); the test
split is balanced, ``test_per_class`` images per class from the t10k split (seed 1).
Pipeline: ``semaudit scan`` with the bundled EfficientNet-Lite0, then
``semaudit train DATA --audit AUDIT --test TEST --finetune head --compare … --seeds 3``:
final-epoch numbers on the balanced test split (no validation split, so no selection at all).
Prints the Markdown table of docs/train.md and the per-epoch time overhead over ``ce``.
``--overhead REPS`` times ce and dssb alternately in one process (the overhead row of
docs/train.md); ``--tune`` scores the settings of ``TUNING_GRID`` on a validation folder (50
images per class drawn from the train split, disjoint from the training images), never on test.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

METHODS = (
    "ce,inverse,cb,ssb,dssb,focal,focal+cb,focal+dssb,ldam,ldam+cb,ldam+dssb,"
    "balanced-softmax,balanced-softmax+dssb,logit-adjust,logit-adjust+dssb"
)


def long_tail_counts(n_max: int, imbalance: float = 100.0, k: int = 10) -> list[int]:
    """``n_c = round(n_max · imbalance^(−c/(k−1)))``."""
    return [max(1, round(n_max * imbalance ** (-c / (k - 1)))) for c in range(k)]


def semaudit(*args: str) -> float:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    tick = time.perf_counter()
    subprocess.run([sys.executable, "-m", "semaudit", *args], check=True, env=env)
    return time.perf_counter() - tick


def markdown_table(summary: pd.DataFrame, overhead: dict[str, float]) -> str:
    def pm(row: pd.Series, key: str) -> str:
        mean, std = row[f"{key}_mean"], row[f"{key}_std"]
        if pd.isna(mean):
            return "–"
        return f"{100 * mean:.1f} ± {100 * (0 if pd.isna(std) else std):.1f}"

    lines = [
        "| method | macro acc | many | medium | few | s / epoch | time vs ce |",
        "|---|---|---|---|---|---|---|",
    ]
    for _, row in summary.iterrows():
        over = overhead.get(row["method"])
        lines.append(
            f"| {row['method']} | {pm(row, 'macro_acc')} | {pm(row, 'many')} | "
            f"{pm(row, 'medium')} | {pm(row, 'few')} | {row['epoch_seconds_mean']:.4f} | "
            f"{'' if over is None else f'{100 * over:+.0f} %'} |"
        )
    return "\n".join(lines)


def _inputs(work: Path, epochs: int, tune: bool) -> tuple[object, object]:
    from dataclasses import replace

    from semaudit.train import TrainConfig, load_inputs

    base = TrainConfig(epochs=epochs, device="cpu")
    if not tune:
        return base, load_inputs(work / "data", work / "audit", base)
    inputs = load_inputs(work / "data", work / "audit", base, val=work / "val")
    return base, replace(inputs, test=inputs.val, val=None)  # score on val, final epoch


def _runs(base: object, inputs: object, changes: dict[str, object], seeds: int) -> list[dict]:
    import tempfile
    from dataclasses import replace

    from semaudit.train import train_run

    out = []
    for seed in range(seeds):
        with tempfile.TemporaryDirectory() as tmp:
            config = replace(base, **changes, seed=seed)  # type: ignore[type-var]
            out.append(train_run(inputs, config, Path(tmp) / "r", figures=False).metrics)  # type: ignore[arg-type]
    return out


def measure_overhead(work: Path, reps: int, epochs: int) -> str:
    """Seconds per epoch (epochs >= 1, mean) of ce, cb and dssb variants, alternated ``reps``
    times in one process on the same inputs (``head``, CPU): the time overhead of dssb. Each
    repetition times every variant once, in rotating order; the ratio per variant is the
    median over repetitions of its time over that repetition's ce time."""
    base, inputs = _inputs(work, epochs, tune=False)
    variants: dict[str, dict[str, object]] = {
        "ce": {},
        "cb (a weighted loss, no pool)": {"weighting": "cb"},
        "dssb (paper DSB: pool 64, interference, every step)": {"weighting": "dssb"},
        "dssb, warm-up 1 epoch (weights from epoch 1)": {"weighting": "dssb", "warmup_epochs": 1},
        "dssb earlier variant (L2, full width, no interference, every 10 steps)": {
            "weighting": "dssb",
            "pool_dim": 0,
            "pool_normalize": True,
            "interclass_alpha": "0",
            "refresh_every": 10,
        },
    }
    times: dict[str, list[float]] = {}
    ratios: dict[str, list[float]] = {}
    names = list(variants)
    for rep in range(reps):
        order = names[rep % len(names) :] + names[: rep % len(names)]
        got = {
            name: _runs(base, inputs, variants[name], 1)[0]["epoch_seconds_mean"] for name in order
        }
        for name in names:
            times.setdefault(name, []).append(got[name])
            ratios.setdefault(name, []).append(got[name] / got["ce"])
    lines = [
        f"| variant | s / epoch (median of {reps}) | overhead vs ce (median ratio) |",
        "|---|---|---|",
    ]
    for name in names:
        t, r = float(np.median(times[name])), float(np.median(ratios[name]))
        lines.append(f"| {name} | {t:.4f} | {100 * (r - 1):+.1f} % |")
    return "\n".join(lines)


TUNING_GRID: list[dict[str, object]] = [
    {},
    {"weighting": "cb"},
    {"weighting": "ssb"},
    {"weighting": "dssb"},
    {"weighting": "dssb", "gamma": 2.0},
    {"weighting": "dssb", "gamma": 3.0},
    {"weighting": "dssb", "gamma": 2.0, "warmup_epochs": 0},
    {"weighting": "dssb", "gamma": 2.0, "warmup_epochs": 10},
    {"weighting": "dssb", "gamma": 2.0, "refresh_every": 50},
    {"weighting": "dssb", "gamma": 2.0, "epochs": 60},
    {"weighting": "cb", "epochs": 60},
    {"epochs": 60},
    {"hidden_dim": 64},
    {"weighting": "cb", "hidden_dim": 64},
    {"weighting": "ssb", "hidden_dim": 64},
    {"weighting": "dssb", "gamma": 2.0, "hidden_dim": 64},
    {"weighting": "dssb", "gamma": 3.0, "hidden_dim": 64},
    {"weighting": "dssb", "gamma": 2.0, "hidden_dim": 32},
    {"weighting": "cb", "hidden_dim": 32},
]


def tune(work: Path, seeds: int, epochs: int) -> str:
    """Macro accuracy on the validation folder (never the test split) for ``TUNING_GRID``."""
    base, inputs = _inputs(work, epochs, tune=True)
    lines = ["| settings | val macro acc |", "|---|---|"]
    for changes in TUNING_GRID:
        accs = [m["macro_acc"] for m in _runs(base, inputs, changes, seeds)]
        label = ", ".join(f"{k}={v}" for k, v in changes.items()) or "ce (defaults)"
        lines.append(f"| {label} | {100 * np.mean(accs):.1f} ± {100 * np.std(accs, ddof=1):.1f} |")
        print(lines[-1], flush=True)
    return "\n".join(lines)


def main() -> None:
    from fmnist import write_image_folder

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-max", type=int, default=500)
    parser.add_argument(
        "--imbalance",
        type=float,
        default=100.0,
        help="n_max / n_min of the training draw; 1: sample-balanced (give it its own --work).",
    )
    parser.add_argument("--test-per-class", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--methods", default=METHODS)
    parser.add_argument("--work", type=Path, default=Path("/tmp/semaudit-bench-train"))
    parser.add_argument("--run", default="run", help="Run folder name under --work.")
    parser.add_argument("--extra", default="", help="Extra `semaudit train` options.")
    parser.add_argument(
        "--overhead",
        type=int,
        default=0,
        metavar="REPS",
        help="Only time ce against dssb per epoch, alternating REPS times.",
    )
    parser.add_argument(
        "--tune",
        action="store_true",
        help="Only score the settings of TUNING_GRID on the validation folder.",
    )
    args = parser.parse_args()
    work: Path = args.work
    data, test, audit = work / "data", work / "test", work / "audit"
    counts = long_tail_counts(args.n_max, args.imbalance)
    if not data.exists():
        write_image_folder(data, counts, split="train", seed=0)
        write_image_folder(test, [args.test_per_class] * 10, split="t10k", seed=1)
    if not (work / "val").exists():  # for --tune only: 50 per class, disjoint from train
        write_image_folder(work / "val", [50] * 10, split="train", seed=0, offset=args.n_max)
    print(
        f"train counts per class: {counts} (total {sum(counts)}); "
        f"test: {args.test_per_class} per class",
        flush=True,
    )
    if not (audit / "audit.json").exists():
        seconds = semaudit(
            "scan",
            str(data),
            "--out",
            str(audit),
            "-b",
            "efficientnet-lite0",
            "--dtype",
            "float32",
            "-q",
        )
        print(f"scan: {seconds:.0f} s", flush=True)
    if args.overhead:
        print(measure_overhead(work, args.overhead, args.epochs))
        return
    if args.tune:
        tune(work, args.seeds, args.epochs)
        return
    run = work / args.run
    seconds = semaudit(
        "train",
        str(data),
        "--audit",
        str(audit),
        "--test",
        str(test),
        "--out",
        str(run),
        "--finetune",
        "head",
        "--epochs",
        str(args.epochs),
        "--compare",
        args.methods,
        "--seeds",
        str(args.seeds),
        "--device",
        "cpu",
        "-q",
        *args.extra.split(),
        *(["--resume"] if (run / "comparison.json").exists() else []),
    )
    print(f"train --compare: {seconds:.0f} s", flush=True)
    summary = pd.read_csv(run / "comparison_summary.csv")
    import json

    overhead = json.loads((run / "metrics.json").read_text())["epoch_time_overhead_vs_ce"]
    print(markdown_table(summary, overhead))


if __name__ == "__main__":
    main()
