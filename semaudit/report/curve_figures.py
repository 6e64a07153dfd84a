"""Marginal-effect figures: every class normalised on one plot, and small multiples.

The audit stores each class's measured curve (curves.csv: mean ± std of S over seeded draws of
m images) and its fitted asymptote S∞ (classes.csv); the fitted curve's other parameters are not
stored, so the figures show the measurements against the asymptote.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from semaudit.report import style as st

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["curves_multiples", "curves_overview", "extreme_classes"]

DIRECT_LABELS = 16  # up to this many classes, each curve has its own colour and its name
LABEL_LEAST = 6  # above it, curves are coloured by status and the least saturated are named


def _fitted(classes: pd.DataFrame) -> pd.DataFrame:
    ok = classes["scale_inf"].notna() & (classes["scale_inf"] > 0) & classes["saturation"].notna()
    return classes[ok]


def curves_overview(classes: pd.DataFrame, curves: pd.DataFrame, *, target: float = 0.9) -> Figure:
    """All classes on one plot: S(m)/S∞ against m, with each class's current n marked."""
    from matplotlib.collections import LineCollection

    with st.style():
        fig = st.new_figure(8.0, 4.4)
        fitted = _fitted(classes)
        groups = dict(tuple(curves.groupby("class", sort=False))) if not curves.empty else {}
        fitted = fitted[fitted["class"].isin(groups)]
        if fitted.empty:
            return st.no_data(fig, "No class has a fitted marginal-effect curve.")
        ax = fig.add_subplot()
        segments = []
        for name, s_inf in zip(fitted["class"], fitted["scale_inf"].to_numpy(float), strict=True):
            curve = groups[name].sort_values("m")
            segments.append(np.column_stack([curve["m"], curve["S_mean"].to_numpy(float) / s_inf]))
        sats_a = fitted["saturation"].to_numpy(float)
        k = len(segments)
        if k <= DIRECT_LABELS:
            # one colour (and, past the palette, one dash pattern) per class, named at its dot
            styles = [(st.LINES[i % len(st.LINES)], "-" if i < len(st.LINES) else "--")
                      for i in range(k)]  # fmt: skip
            for seg, (colour, dash) in zip(segments, styles, strict=True):
                ax.plot(seg[:, 0], seg[:, 1], color=colour, ls=dash, lw=1.4)
            colours = [colour for colour, _ in styles]
            ax.scatter(fitted["n"], sats_a, c=colours, s=22, zorder=3, edgecolors="white")
        else:
            done = sats_a >= target
            width = float(np.clip(30 / k, 0.5, 1.3))
            alpha = float(np.clip(25 / k, 0.3, 0.9))
            for flag, colour in ((True, st.BLUE), (False, st.ORANGE)):
                chosen = [seg for seg, d in zip(segments, done, strict=True) if d == flag]
                if chosen:
                    ax.add_collection(LineCollection(chosen, colors=colour, lw=width, alpha=alpha))
            ax.scatter(
                fitted["n"], sats_a, c=np.where(done, st.BLUE, st.VERMILLION), s=14, zorder=3,
                edgecolors="white", linewidths=0.5,
            )  # fmt: skip
            ax.autoscale_view()
            _status_legend(ax, int(done.sum()), int((~done).sum()), target)
        st.plain_log(ax, dense=True)
        ax.axhline(target, color=st.VERMILLION, ls="--", lw=1)
        ax.text(
            ax.get_xlim()[0] * 1.05, target + 0.01, f"target {target:.0%}", color=st.VERMILLION,
            fontsize=7, va="bottom",
        )  # fmt: skip
        ax.set_ylim(0, 1.05)
        if k <= DIRECT_LABELS:
            st.column_labels(ax, [(float(n), float(s), str(name), colour) for n, s, name, colour
                                  in zip(fitted["n"], sats_a, fitted["class"], colours,
                                         strict=True)])  # fmt: skip
        else:
            least = np.argsort(sats_a, kind="stable")[:LABEL_LEAST]
            st.direct_labels(ax, [(float(fitted["n"].iloc[i]), float(sats_a[i]),
                                   str(fitted["class"].iloc[i]), st.VERMILLION)
                                  for i in least if sats_a[i] < target])  # fmt: skip
        ax.set_xlabel("images m in a random subset (log scale); dot = the class's current n")
        ax.set_ylabel("S(m) / S∞   (share of asymptotic scale)")
        title = "Marginal effect: semantic scale saturates as images are added"
        missing = len(classes) - len(fitted)
        if missing:
            title += f"\n({missing:,} classes without a fitted curve not shown)"
        ax.set_title(title)
        return fig


def _status_legend(ax: Axes, done: int, below: int, target: float) -> None:
    from matplotlib.lines import Line2D

    handles = []
    if done:
        handles.append(Line2D([], [], color=st.BLUE, marker="o",
                              label=f"at or above {target:.0%} ({done:,})"))  # fmt: skip
    if below:
        handles.append(Line2D([], [], color=st.ORANGE, marker="o", mfc=st.VERMILLION,
                              mec=st.VERMILLION,
                              label=f"below {target:.0%} ({below:,})"))  # fmt: skip
    ax.legend(handles=handles, loc="lower right")


def extreme_classes(classes: pd.DataFrame, per_group: int = 4) -> tuple[list[str], list[str]]:
    """The ``per_group`` most and least saturated classes with a fitted curve."""
    fitted = _fitted(classes).sort_values(["saturation", "class"], ascending=[False, True])
    names = fitted["class"].tolist()
    if len(names) <= 2 * per_group:
        half = (len(names) + 1) // 2
        return names[:half], names[half:]
    return names[:per_group], names[-per_group:]


def curves_multiples(
    classes: pd.DataFrame, curves: pd.DataFrame, *, target: float = 0.9, per_group: int = 4
) -> Figure:
    """Small multiples for the most (top row) and least (bottom row) saturated classes."""
    with st.style():
        most, least = extreme_classes(classes, per_group)
        cols = max(len(most), len(least), 1)
        fig = st.new_figure(8.0, 4.8 if least else 2.7)
        if not most:
            return st.no_data(fig, "No class has a fitted marginal-effect curve.")
        rows = [most, least] if least else [most]
        axes = fig.subplots(len(rows), cols, squeeze=False)
        for r, names in enumerate(rows):
            for c in range(cols):
                ax = axes[r][c]
                if c >= len(names):
                    ax.set_axis_off()
                    continue
                name = names[c]
                row = classes[classes["class"] == name].iloc[0]
                _one_curve(ax, row, curves[curves["class"] == name])
                ax.set_title(_panel_title(name, row), fontsize=8, fontweight="normal")
            axes[r][0].set_ylabel(("most" if r == 0 else "least") + " saturated\nS (bits)")
        fig.suptitle("Marginal effect of the most and least saturated classes")
        _multiples_legend(fig, target)
        return fig


def _panel_title(name: str, row: pd.Series) -> str:
    """Name, saturation, n and how many more images as a range (``need 88–350``, ``≥ 16``)."""
    from semaudit.wording import need_more_label, saturation_label

    record = {str(k): v for k, v in row.items()}
    text = f"{st.label(name, 20)}\n{saturation_label(record)} · n = {int(row['n']):,}"
    need = need_more_label(record)
    if need and need != "0":
        text += f"\nneeds {need} more"
    return text


def _multiples_legend(fig: Figure, target: float) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [
        Line2D([], [], color=st.BLUE, lw=1.4, label="measured S(m)"),
        Patch(color=st.SKY, alpha=0.45, label="± std over draws"),
        Line2D([], [], color=st.ORANGE, ls="--", label="fitted asymptote S∞"),
        Line2D([], [], color=st.GREY, label="current n"),
        Line2D([], [], color=st.VERMILLION, ls=":", label=f"n for {target:.0%} (+need)"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=7)


def _one_curve(ax: Axes, row: pd.Series, curve: pd.DataFrame) -> None:
    curve = curve.sort_values("m")
    m, mean, std = curve["m"], curve["S_mean"], curve["S_std"].fillna(0)
    ax.fill_between(m, mean - std, mean + std, color=st.SKY, alpha=0.45, lw=0)
    ax.plot(m, mean, color=st.BLUE, lw=1.4)
    ax.axhline(row["scale_inf"], color=st.ORANGE, ls="--", lw=1.1)
    n = float(row["n"])
    ax.axvline(n, color=st.GREY, lw=0.9)
    right = n
    need = row.get("need_more")
    if pd.notna(need) and need > 0:
        right = n + float(need)
        ax.axvline(right, color=st.VERMILLION, ls=":", lw=1.1)
    st.plain_log(ax)
    ax.set_xlim(max(float(m.min()) * 0.8, 1) if len(m) else 1, right * 1.25)
    ax.set_ylim(0, float(row["scale_inf"]) * 1.12)
    ax.tick_params(labelsize=7)
