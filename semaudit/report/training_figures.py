"""Figures of a training run's report, drawn from the run's CSV files in the report's style.

Every legend sits outside the axes (right of them), so it never covers a bar or a line.
matplotlib is imported lazily, through ``report/style.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from semaudit.report.style import LINES, PALETTE, label, new_figure, save_png, style

__all__ = ["comparison_png", "curves_png", "weights_png"]

GROUPS = (("macro_acc", "macro"), ("many", "many"), ("medium", "medium"), ("few", "few"))


def comparison_png(summary: pd.DataFrame, verdict_best: str | None = None) -> bytes:
    """Macro / many / medium / few accuracy per method: bars of the mean, ± std whiskers."""
    with style():
        return save_png(comparison_figure(summary, verdict_best))


def comparison_figure(summary: pd.DataFrame, verdict_best: str | None = None) -> Any:
    """The figure of :func:`comparison_png` (call inside ``style()``); legend right of the axes."""
    methods = [str(m) for m in summary["method"]]
    fig = new_figure(8.0, max(3.0, 2.2 + 0.15 * len(methods)))
    ax = fig.add_subplot()
    width = 0.8 / len(GROUPS)
    x = np.arange(len(methods))
    for i, (col, name) in enumerate(GROUPS):
        means = pd.to_numeric(summary[f"{col}_mean"], errors="coerce").to_numpy(float)
        stds = pd.to_numeric(summary[f"{col}_std"], errors="coerce").fillna(0).to_numpy(float)
        ax.bar(
            x + (i - 1.5) * width, 100 * means, width, yerr=100 * stds, capsize=2,
            label=name, color=PALETTE[i], error_kw={"lw": 0.8},
        )  # fmt: skip
    ax.set_xticks(x, [label(m, 18) for m in methods])
    for tick, method in zip(ax.get_xticklabels(), methods, strict=True):
        tick.set_fontweight("bold" if method == verdict_best else "normal")
    ax.set(ylabel="accuracy (%)", ylim=(0, 108), yticks=range(0, 101, 20))
    ax.set_title("Accuracy per method, mean ± std over seeds", loc="left", pad=8)
    ax.legend(title="classes", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def curves_png(history: pd.DataFrame, title: str) -> bytes:
    """Training loss (left); training accuracy and validation macro accuracy (right)."""
    with style():
        fig = new_figure(8.0, 3.0)
        ax1, ax2 = fig.subplots(1, 2)
        epochs = history["epoch"].to_numpy()
        ax1.plot(epochs, history["loss"], color=LINES[0])
        ax1.set(xlabel="epoch", ylabel="training loss")
        ax1.set_title(f"{label(title)}: loss", loc="left")
        ax2.plot(epochs, 100 * history["train_acc"], color=LINES[1], label="train accuracy")
        if "val_macro_acc" in history and history["val_macro_acc"].notna().any():
            val = 100 * pd.to_numeric(history["val_macro_acc"], errors="coerce")
            ax2.plot(epochs, val, color=LINES[2], label="val macro accuracy")
        ax2.set(xlabel="epoch", ylabel="accuracy (%)", ylim=(0, 100))
        ax2.set_title(f"{label(title)}: accuracy", loc="left")
        ax2.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
        return save_png(fig)


def weights_png(frame: pd.DataFrame, x_name: str, classes: Sequence[str], title: str) -> bytes:
    """Each class's loss weight (mean 1) over training; up to 16 classes named on the right."""
    shown = list(classes)[:16]
    with style():
        fig = new_figure(8.0, 3.2)
        ax = fig.add_subplot()
        for i, name in enumerate(shown):
            ax.plot(
                frame[x_name], frame[name], color=LINES[i % len(LINES)],
                ls="-" if i < len(LINES) else "--", lw=1.2, label=label(name, 22),
                marker="o" if len(frame) < 12 else None, ms=3,
            )  # fmt: skip
        ax.set(xlabel=x_name, ylabel="class weight (mean 1)")
        ax.set_title(f"{label(title)}: class weights over training", loc="left")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), ncol=1 if len(shown) <= 8 else 2)
        return save_png(fig)


def figures_of(view: Any) -> dict[str, tuple[bytes, str, str]]:
    """``{key: (png, alt text, caption)}`` for a ``RunView``: comparison, curves, weights."""
    out: dict[str, tuple[bytes, str, str]] = {}
    if view.comparison and view.summary is not None and len(view.summary):
        best = (view.verdict() or {}).get("best")
        out["comparison"] = (
            comparison_png(view.summary, best),
            f"Bars of macro, many, medium and few-class accuracy for each method; {best} has "
            "the highest mean macro accuracy.",
            "Each group of bars is one method (the best in bold): macro accuracy, then the mean "
            "accuracy of its many, medium and few classes; whiskers are ± one std over seeds. "
            "A missing bar is a group without classes.",
        )
        return out
    history = view.root / "history.csv"
    if history.is_file():
        frame = pd.read_csv(history)
        if len(frame):
            out["curves"] = (
                curves_png(frame, str(view.metrics.get("method"))),
                "Training loss, training accuracy and validation macro accuracy per epoch.",
                "Left: the training loss per epoch. Right: training accuracy and, with a "
                "validation split, the validation macro accuracy that selects the model.",
            )
    weights = view.root / "weights_history.csv"
    if weights.is_file():
        frame = pd.read_csv(weights)
        classes = [c for c in frame.columns if c != "iteration"]
        if len(frame) and classes:
            out["weights"] = (
                weights_png(frame, "iteration", classes, str(view.metrics.get("method"))),
                "Per-class loss weights at every dssb refresh.",
                "Each line is one class's loss weight (normalised to mean 1) at every refresh of "
                "the dynamic weights; rising lines are classes whose features narrowed.",
            )
    return out


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    if not headers:
        return []

    def cells(values: Sequence[str]) -> str:
        return "| " + " | ".join(str(v).replace("|", "\\|") for v in values) + " |"

    return [cells(headers), "|" + "---|" * len(headers), *(cells(r) for r in rows), ""]


def markdown_of(view: Any) -> str:
    """A short summary: title, verdict, results, the many/medium/few definition, settings."""
    headers, rows = view.results_table()
    lines = [f"# {view.title()}", "", view.verdict_text(), "", view.results_note(), ""]
    lines += _md_table(headers, rows)
    lines += [view.shot_definition(), ""]
    if not view.comparison:
        lines += _md_table(*view.class_table())
    settings = "; ".join(f"{k}: {v}" for k, v in view.settings())
    return "\n".join([*lines, f"<sub>{settings}</sub>", ""])
