"""``--compare``: every method × seed on identical splits, into ``RUN/runs/<method>-seed<k>/``.

``RUN/comparison.csv`` has one row per run (method, seed, macro_acc, many, medium, few, …),
``RUN/comparison_summary.csv`` the mean ± std (sample std, ddof 1) per method, ``RUN/metrics.json``
the same summary with the time overhead of each method over plain ``ce`` per epoch, and
``RUN/comparison.png`` the figure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from semaudit import __version__
from semaudit.errors import UsageError
from semaudit.store.io import read_json, write_csv, write_json
from semaudit.train.config import TrainConfig, method_name
from semaudit.train.models import is_main
from semaudit.train.protocol import TrainInputs
from semaudit.train.run import train_run
from semaudit.values import json_safe

__all__ = ["COMPARISON_COLUMNS", "compare_methods", "summarize"]

Events = Callable[[str, Any], None]
COMPARE_KIND = "semaudit-train-comparison"
METRICS = ["macro_acc", "many", "medium", "few", "accuracy"]
COMPARISON_COLUMNS = [
    "method",
    "loss",
    "weighting",
    "seed",
    *METRICS,
    "selected_epoch",
    "epoch_seconds",
    "evaluated_on",
]


def _slug(method: str) -> str:
    return method.replace("+", "-")


def summarize(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over seeds of every metric, per method (methods in first-seen order)."""
    out = []
    for method, group in rows.groupby("method", sort=False):
        entry: dict[str, Any] = {"method": method, "seeds": len(group)}
        for col in [*METRICS, "epoch_seconds"]:
            values = pd.to_numeric(group[col], errors="coerce").dropna()
            entry[f"{col}_mean"] = float(values.mean()) if len(values) else None
            entry[f"{col}_std"] = float(values.std(ddof=1)) if len(values) > 1 else None
        out.append(entry)
    return pd.DataFrame(out)


def _overheads(summary: pd.DataFrame) -> dict[str, float | None]:
    """Per method: epoch time relative to plain ``ce`` minus 1 (0.08 = 8 % slower)."""
    base = summary.loc[summary["method"] == "ce", "epoch_seconds_mean"]
    if base.empty or not base.iloc[0]:
        return {}
    ref = float(base.iloc[0])
    return {
        str(row["method"]): (float(row["epoch_seconds_mean"]) / ref - 1.0)
        if row["epoch_seconds_mean"]
        else None
        for _, row in summary.iterrows()
    }


def _prepare(out: Path, identity: dict[str, Any], resume: bool) -> None:
    marker = out / "comparison.json"
    if marker.is_file():
        if not resume:
            raise UsageError(
                f"{out} already holds a comparison; pass --resume to continue it, or choose "
                "another --out."
            )
        saved = read_json(marker)
        if {k: saved.get(k) for k in identity} != json_safe(identity):
            raise UsageError(
                f"{out} holds a comparison with other methods, settings or data; --resume "
                "needs the same command, or choose another --out."
            )
        return
    if out.exists() and any(out.iterdir()):
        raise UsageError(f"{out} exists and is not a comparison run; choose an empty --out.")
    write_json(marker, {**json_safe(identity), "semaudit_version": __version__})


def compare_methods(
    inputs: TrainInputs,
    base: TrainConfig,
    methods: list[tuple[str, str]],
    seeds: int,
    out: str | Path,
    *,
    resume: bool = False,
    device: str = "cpu",
    on_event: Events | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run every method with seeds ``base.seed … base.seed + seeds − 1``; write the tables."""
    if seeds < 1:
        raise UsageError(f"--seeds must be an integer ≥ 1; received {seeds}.")
    emit: Events = on_event or (lambda kind, payload: None)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    identity = {
        "kind": COMPARE_KIND,
        "methods": [method_name(*m) for m in methods],
        "seeds": [base.seed + i for i in range(seeds)],
        "config": base.to_dict(),
        "inputs": inputs.describe(),
    }
    main = is_main()
    if main:
        _prepare(out, identity, resume)
    rows = []
    for loss, weighting in methods:
        for seed in range(base.seed, base.seed + seeds):
            config = replace(base, loss=loss, weighting=weighting, seed=seed)
            run_dir = out / "runs" / f"{_slug(config.method)}-seed{seed}"
            emit("run_start", {"method": config.method, "seed": seed, "out": str(run_dir)})
            partial = (run_dir / "run.json").is_file()
            result = train_run(
                inputs,
                config,
                run_dir,
                resume=resume and partial,
                device=device,
                on_event=on_event,
                figures=False,
            )
            m = result.metrics
            rows.append(
                {
                    "method": config.method,
                    "loss": loss,
                    "weighting": weighting,
                    "seed": seed,
                    **{k: m.get(k) for k in METRICS},
                    "selected_epoch": m.get("selected_epoch"),
                    "epoch_seconds": m.get("epoch_seconds_mean"),
                    "evaluated_on": m.get("evaluated_on"),
                }
            )
            emit("run_done", rows[-1])
    table = pd.DataFrame(rows, columns=COMPARISON_COLUMNS)
    summary = summarize(table)
    if not main:  # other torchrun ranks: rank 0 writes the tables
        return table, summary
    write_csv(out / "comparison.csv", table)
    write_csv(out / "comparison_summary.csv", summary)
    overhead = _overheads(summary)
    write_json(
        out / "metrics.json",
        json_safe(
            {
                "kind": COMPARE_KIND,
                "evaluated_on": table["evaluated_on"].iloc[0] if len(table) else None,
                "selection": "val"
                if inputs.val is not None and base.selection != "final"
                else "final",
                "seeds": identity["seeds"],
                "summary": summary.replace({np.nan: None}).to_dict("records"),
                "epoch_time_overhead_vs_ce": overhead,
            }
        ),
    )
    from semaudit.train.figures import comparison_figure

    comparison_figure(out / "comparison.png", summary)
    return table, summary
