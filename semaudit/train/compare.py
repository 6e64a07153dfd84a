"""``--compare``: every method × seed on identical splits, into ``RUN/runs/<method>-seed<k>/``.

``RUN/comparison.csv`` has one row per run (method, seed, macro_acc, many, medium, few, …),
``RUN/comparison_summary.csv`` the mean ± std (sample std, ddof 1) per method, ``RUN/metrics.json``
the same summary with the time overhead of each method over plain ``ce`` per epoch, and
``RUN/comparison.png`` the figure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from semaudit.errors import UsageError
from semaudit.store.io import write_csv, write_json
from semaudit.train.config import TrainConfig, method_name
from semaudit.train.models import train_dist
from semaudit.train.protocol import TrainInputs
from semaudit.train.run import train_run
from semaudit.train.rundir import COMPARISON, prepare_dir
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


@dataclass(frozen=True)
class Comparison:
    """One ``--compare`` job: the shared inputs, the base settings, methods × seeds."""

    inputs: TrainInputs
    base: TrainConfig
    methods: list[tuple[str, str]]
    seeds: list[int]
    out: Path

    def identity(self) -> dict[str, Any]:
        return {
            "kind": COMPARE_KIND,
            "methods": [method_name(*m) for m in self.methods],
            "seeds": self.seeds,
            "config": self.base.to_dict(),
            "inputs": self.inputs.describe(),
        }


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
    job = Comparison(inputs, base, methods, [base.seed + i for i in range(seeds)], Path(out))
    dist = train_dist()
    prepare_dir(job.out, COMPARISON, job.identity(), resume, dist)
    rows = [
        _run_one(job, replace(base, loss=loss, weighting=weighting, seed=seed), resume, device,
                 on_event)
        for loss, weighting in methods
        for seed in job.seeds
    ]  # fmt: skip
    table = pd.DataFrame(rows, columns=COMPARISON_COLUMNS)
    summary = summarize(table)
    if dist.is_main:  # other torchrun ranks: rank 0 writes the tables
        _write_outputs(job, table, summary)
    return table, summary


def _run_one(
    job: Comparison, config: TrainConfig, resume: bool, device: str, on_event: Events | None
) -> dict[str, Any]:
    """Train one method × seed into ``runs/<method>-seed<k>/``; its row of the table."""
    emit: Events = on_event or (lambda kind, payload: None)
    run_dir = job.out / "runs" / f"{_slug(config.method)}-seed{config.seed}"
    emit("run_start", {"method": config.method, "seed": config.seed, "out": str(run_dir)})
    partial = (run_dir / "run.json").is_file()
    result = train_run(
        job.inputs,
        config,
        run_dir,
        resume=resume and partial,
        device=device,
        on_event=on_event,
        figures=False,
    )
    m = result.metrics
    row = {
        "method": config.method,
        "loss": config.loss,
        "weighting": config.weighting,
        "seed": config.seed,
        **{k: m.get(k) for k in METRICS},
        "selected_epoch": m.get("selected_epoch"),
        "epoch_seconds": m.get("epoch_seconds_mean"),
        "evaluated_on": m.get("evaluated_on"),
    }
    emit("run_done", row)
    return row


def _write_outputs(job: Comparison, table: pd.DataFrame, summary: pd.DataFrame) -> None:
    """``comparison.csv``, ``comparison_summary.csv``, ``metrics.json``, ``comparison.png``."""
    write_csv(job.out / "comparison.csv", table)
    write_csv(job.out / "comparison_summary.csv", summary)
    doc = {
        "kind": COMPARE_KIND,
        "evaluated_on": table["evaluated_on"].iloc[0] if len(table) else None,
        "selection": _selection(job),
        "seeds": job.seeds,
        "summary": summary.replace({np.nan: None}).to_dict("records"),
        "epoch_time_overhead_vs_ce": _overheads(summary),
    }
    from semaudit.stats.verdict import audit_finding, comparison_verdict, scores_of

    doc["verdict"] = comparison_verdict(  # docs/train.md, "The verdict"
        scores_of(table.to_dict("records")),
        audit_finding(job.inputs.audit.overview.raw),
        evaluated_on=str(doc["evaluated_on"]) if doc["evaluated_on"] else None,
    )
    write_json(job.out / "metrics.json", json_safe(doc))
    from semaudit.train.figures import comparison_figure

    comparison_figure(job.out / "comparison.png", summary)


def _selection(job: Comparison) -> str:
    """What every run of the comparison selected (``val`` or ``final``)."""
    return job.base.selection_for(True) if job.inputs.val is not None else "final"
