"""PNG figures of training runs (matplotlib, Agg backend, imported lazily)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from semaudit.store.io import atomic_write_bytes

__all__ = ["comparison_figure", "curves_figure", "weights_figure"]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> None:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def curves_figure(path: Path, history: Sequence[Any], title: str) -> None:
    """Training loss, training accuracy and validation macro accuracy per epoch."""
    plt = _pyplot()
    epochs = [r.epoch for r in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.2))
    ax1.plot(epochs, [r.loss for r in history], color="#1f77b4")
    ax1.set(xlabel="epoch", ylabel="training loss", title=f"{title}: loss")
    ax2.plot(epochs, [r.train_acc for r in history], label="train accuracy", color="#2ca02c")
    val = [r.val_macro_acc for r in history]
    if any(v is not None for v in val):
        ax2.plot(
            epochs,
            [np.nan if v is None else v for v in val],
            label="val macro accuracy",
            color="#d62728",
        )
    ax2.set(xlabel="epoch", ylabel="accuracy", ylim=(0, 1), title=f"{title}: accuracy")
    ax2.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    _save(fig, path)


def weights_figure(
    path: Path,
    refreshes: Sequence[tuple[int, list[float]]],
    history: Sequence[Any],
    class_names: Sequence[str],
    title: str,
) -> None:
    """Per-class loss weights over training: every dssb refresh, else the weights per epoch."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    if refreshes:
        x = np.array([it for it, _ in refreshes])
        w = np.array([ws for _, ws in refreshes])
        xlabel = "iteration"
    else:
        x = np.array([r.epoch for r in history])
        w = np.array(
            [r.weights if r.weights is not None else [1.0] * len(class_names) for r in history]
        )
        xlabel = "epoch"
    for c, name in enumerate(class_names[:20]):
        ax.plot(x, w[:, c], label=str(name), lw=1.2)
    ax.set(xlabel=xlabel, ylabel="class weight (mean 1)", title=f"{title}: class weights")
    if len(class_names) <= 20:
        ax.legend(fontsize=7, ncol=2, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    _save(fig, path)


def comparison_figure(path: Path, summary: pd.DataFrame) -> None:
    """Macro / many / medium / few accuracy per method, mean ± std over seeds."""
    plt = _pyplot()
    columns = ["macro_acc", "many", "medium", "few"]
    methods = summary["method"].tolist()
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(methods) + 2), 3.8))
    width = 0.8 / len(columns)
    x = np.arange(len(methods))
    for i, col in enumerate(columns):
        means = pd.to_numeric(summary[f"{col}_mean"], errors="coerce").to_numpy(float)
        stds = pd.to_numeric(summary[f"{col}_std"], errors="coerce").fillna(0).to_numpy(float)
        ax.bar(x + (i - 1.5) * width, means, width, yerr=stds, capsize=2, label=col)
    ax.set_xticks(x, methods, rotation=30, ha="right")
    ax.set(ylabel="accuracy", ylim=(0, 1), title="methods compared (mean ± std over seeds)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # never over a bar
    _save(fig, path)
