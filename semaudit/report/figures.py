"""Per-class figures: counts beside semantic scale, count vs scale, probe accuracy vs scale.

Every function takes the audit's tables and returns a ``Figure``; ``style.save_png`` encodes
and closes it. Figures stay legible at 1,000 classes: bar charts show the largest and smallest
classes plus the ones the audit singles out, scatter plots shrink their markers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from semaudit.report import style as st

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from semaudit.store import Summary

__all__ = ["count_scale_scatter", "counts_and_scale", "probe_vs_scale", "select_rows"]


def select_rows(n_rows: int, max_rows: int, keep: Iterable[int] = ()) -> list[int | None]:
    """Row indices to draw: the first and last ``max_rows // 2`` plus ``keep``; ``None`` = gap."""
    if n_rows <= max_rows:
        return list(range(n_rows))
    half = max_rows // 2
    chosen = sorted({*range(half), *range(n_rows - half, n_rows), *keep} & set(range(n_rows)))
    rows: list[int | None] = []
    for index in chosen:
        if rows and rows[-1] is not None and index != rows[-1] + 1:
            rows.append(None)
        rows.append(index)
    return rows


def _marker_size(n_points: int) -> float:
    return float(np.clip(900 / max(n_points, 1), 4, 36))


def _alpha(n_points: int) -> float:
    return float(np.clip(40 / max(n_points, 1), 0.35, 0.9))


def counts_and_scale(
    classes: pd.DataFrame,
    disagreement: Sequence[dict[str, Any]] = (),
    *,
    matched_m: int | None = None,
    max_rows: int = 40,
) -> Figure:
    """Horizontal bars, sorted by count: images per class (left) and semantic scale (right).

    Classes in ``disagreement`` (summary.json ``rank_disagreement``) are hatched, labelled in
    bold and annotated with their two ranks.
    """
    with st.style():
        table = classes.sort_values(["n", "class"], ascending=[False, True]).reset_index(drop=True)
        table["count_rank"] = table["n"].rank(ascending=False, method="min").astype(int)
        table["scale_rank"] = table["scale"].rank(ascending=False, method="min").astype(int)
        marked = {str(d.get("class")) for d in disagreement}
        keep = table.index[table["class"].isin(marked)]
        rows = select_rows(len(table), max_rows, keep)
        fig = st.new_figure(8.0, max(2.4, 0.9 + 0.19 * len(rows)))
        if table.empty:
            return st.no_data(fig, "No classes in this audit.")
        ax_n, ax_s = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [1, 1.25]})
        y = np.arange(len(rows))
        present = np.array([r is not None for r in rows])
        shown = table.loc[[r for r in rows if r is not None]].reset_index(drop=True)
        ys, hot = y[present], shown["class"].isin(marked).to_numpy()
        for mask, colours, hatch in ((~hot, (st.BLUE, st.SKY), None),
                                     (hot, (st.VERMILLION, st.VERMILLION), "////")):  # fmt: skip
            if mask.any():
                ax_n.barh(ys[mask], shown["n"][mask], color=colours[0], hatch=hatch, lw=0,
                          edgecolor="white")  # fmt: skip
                ax_s.barh(ys[mask], shown["scale"][mask], color=colours[1], hatch=hatch, lw=0,
                          edgecolor="white")  # fmt: skip
        matched = shown["scale_matched"].notna().to_numpy()
        if matched.any():
            ax_s.errorbar(
                shown["scale_matched"][matched], ys[matched], fmt="d", ms=3.5, color=st.INK,
                xerr=shown["scale_matched_std"][matched].fillna(0), elinewidth=0.8, capsize=1.5,
            )  # fmt: skip
        for pos, row in zip(ys[hot], shown[hot].itertuples(index=False), strict=True):
            ax_s.annotate(
                f"count #{row.count_rank} → scale #{row.scale_rank}", (row.scale, pos),
                xytext=(4, 0), textcoords="offset points", va="center", fontsize=7,
                color=st.VERMILLION,
            )  # fmt: skip
        labels = [
            f"⋯ {_hidden_between(rows, int(pos)):,} more ⋯" if index is None
            else st.label(table.loc[index, "class"])
            for pos, index in zip(y, rows, strict=True)
        ]  # fmt: skip
        ax_n.set_yticks(y, labels)
        for tick, index in zip(ax_n.get_yticklabels(), rows, strict=True):
            if index is None:
                tick.set_color(st.GREY)
            elif table.loc[index, "class"] in marked:
                tick.set_fontweight("bold")
        ax_n.invert_xaxis()
        ax_n.set_xlabel("images per class")
        ax_s.set_xlabel("semantic scale S (bits)")
        ax_n.grid(axis="y", visible=False)
        ax_s.grid(axis="y", visible=False)
        ax_s.tick_params(axis="y", left=False)
        ax_s.set_xlim(0, float(table["scale"].max() or 1) * 1.35)
        ax_n.set_ylim(len(rows) - 0.4, -0.6)
        _bar_legend(fig, matched_m, bool(marked & set(table["class"])))
        title = "Images and semantic scale per class, sorted by images"
        if len(shown) < len(table):
            title += f" ({len(shown)} of {len(table):,} classes)"
        fig.suptitle(title)
        return fig


def _hidden_between(rows: list[int | None], pos: int) -> int:
    before, after = rows[pos - 1], rows[pos + 1]
    return int(after) - int(before) - 1  # type: ignore[arg-type]


def _bar_legend(fig: Figure, matched_m: int | None, marked: bool) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles: list[Any] = [Patch(color=st.SKY, label="S, all images")]
    if matched_m:
        handles.append(
            Line2D([], [], marker="d", ls="", color=st.INK, label=f"S at {matched_m} images ± std")
        )
    if marked:
        handles.append(
            Patch(
                facecolor=st.VERMILLION, hatch="////", edgecolor="white", label="rank disagreement"
            )
        )
    handles.insert(0, Patch(color=st.BLUE, label="images"))
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=7)


def count_scale_scatter(classes: pd.DataFrame, summary: Summary) -> Figure:
    """Images (log x) vs semantic scale: S (hollow) and matched-size S ± std (filled)."""
    with st.style():
        fig = st.new_figure(8.0, 4.6)
        table = classes[classes["n"] > 0]
        if table.empty:
            return st.no_data(fig, "No class has images.")
        ax = fig.add_subplot()
        size, alpha = _marker_size(len(table)), _alpha(len(table))
        ax.scatter(
            table["n"], table["scale"], s=size, facecolors="none", edgecolors=st.GREY,
            linewidths=0.8, alpha=alpha, label="S, all images",
        )  # fmt: skip
        matched = table[table["scale_matched"].notna()]
        if not matched.empty:
            ax.errorbar(
                matched["n"], matched["scale_matched"], yerr=matched["scale_matched_std"].fillna(0),
                fmt="o", ms=np.sqrt(size), color=st.BLUE, ecolor=st.BLUE, elinewidth=0.8,
                capsize=1.5, alpha=alpha, label=f"S at {summary.matched_m} images ± std",
            )  # fmt: skip
        if table["n"].max() / max(table["n"].min(), 1) > 8:
            st.plain_log(ax, dense=True)
        left, right = ax.get_xlim()
        ax.set_xlim(
            left, right * 1.6 if ax.get_xscale() == "log" else right + 0.25 * (right - left)
        )
        _label_points(ax, table, summary)
        if summary.spearman_rho is not None:
            rho, p = summary.spearman_rho, summary.spearman_p or 0.0
            ax.text(
                0.02, 0.97, f"Spearman ρ(count, S) = {rho:.2f}  (p = {p:.2g})",
                transform=ax.transAxes, va="top", fontsize=8,
                bbox={"boxstyle": "round", "fc": "white", "ec": "#CCCCCC"},
            )  # fmt: skip
        ax.set_xlabel("images per class")
        ax.set_ylabel("semantic scale S (bits)")
        ax.set_title("Images vs semantic scale")
        marked = {str(d.get("class")) for d in summary.rank_disagreement}
        if marked & set(table["class"].astype(str)):
            ax.plot([], [], ls="", marker="s", color=st.VERMILLION,
                    label="name in this colour: ranks by count and by S disagree")  # fmt: skip
        fig.legend(loc="outside lower center", ncols=3)
        return fig


LABEL_ALL = 25  # up to this many classes every point is named; above, the notable ones


def _label_points(ax: Axes, table: pd.DataFrame, summary: Summary) -> None:
    """Name the points: every class up to ``LABEL_ALL`` classes, else the rank-disagreement
    classes (at most 6) and the largest and smallest by count and by scale. Rank-disagreement
    classes are named in vermillion, the others in ink."""
    marked = [str(d.get("class")) for d in summary.rank_disagreement][:6]
    where = {
        str(name): (float(n), float(scale))
        for name, n, scale in zip(table["class"], table["n"], table["scale"], strict=True)
    }
    names = list(where)
    if len(names) > LABEL_ALL:
        by_n, by_scale = (
            sorted(names, key=lambda c: where[c][0]),
            sorted(names, key=lambda c: where[c][1]),
        )
        names = list(dict.fromkeys([*marked, by_n[0], by_n[-1], by_scale[0], by_scale[-1]]))
    st.direct_labels(
        ax,
        [
            (*where[name], name, st.VERMILLION if name in marked else st.INK)
            for name in names
            if name in where
        ],
    )


_PROBE_PANELS = (
    ("n", "count", "images per class"),
    ("scale", "scale", "semantic scale S (bits)"),
    ("scale_matched", "scale_matched", "S at matched size (bits)"),
)


def probe_vs_scale(classes: pd.DataFrame, summary: Summary) -> Figure:
    """Linear-probe accuracy per class against images, S and matched S, with correlations."""
    with st.style():
        table = classes[classes["probe_accuracy"].notna()]
        panels = [p for p in _PROBE_PANELS if table[p[0]].notna().sum() >= 2]
        fig = st.new_figure(8.0, 3.4)
        if table.empty or not panels:
            return st.no_data(fig, "No probe accuracies in this audit (scan ran without --probe).")
        axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
        corr = summary.probe_correlations()
        size, alpha = _marker_size(len(table)), _alpha(len(table))
        for ax, (column, key, xlabel) in zip(axes, panels, strict=True):
            data = table[table[column].notna()]
            x = data[column].to_numpy(float)
            y = data["probe_accuracy"].to_numpy(float)
            ax.scatter(x, y, s=size, color=st.BLUE, alpha=alpha, linewidths=0)
            log_x = column == "n" and x.max() / max(x.min(), 1) > 8
            if log_x:
                st.plain_log(ax)
            _trend(ax, np.log10(np.maximum(x, 1)) if log_x else x, y, log_x)
            ax.set_xlabel(xlabel)
            ax.set_title(_corr_text(corr.get(key)), fontsize=8, fontweight="normal")
        axes[0].set_ylabel("probe accuracy")
        fig.suptitle("Linear-probe accuracy per class")
        return fig


def _trend(ax: Axes, x: np.ndarray, y: np.ndarray, log_x: bool) -> None:
    if len(x) < 3 or np.ptp(x) == 0:
        return
    slope, intercept = np.polyfit(x, y, 1)
    grid = np.linspace(x.min(), x.max(), 50)
    ax.plot(10**grid if log_x else grid, intercept + slope * grid, color=st.ORANGE, lw=1.2)


def _corr_text(stats: dict[str, Any] | None) -> str:
    if not stats:
        return "correlation not computed"
    parts = []
    if stats.get("pearson") is not None:
        parts.append(f"Pearson r = {stats['pearson']:.2f}")
    if stats.get("spearman") is not None:
        text = f"Spearman ρ = {stats['spearman']:.2f}"
        if stats.get("p_spearman") is not None:
            text += f" (p = {stats['p_spearman']:.2g})"
        parts.append(text)
    return "\n".join(parts) or "correlation undefined"
