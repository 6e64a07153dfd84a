"""Shared look of every figure: Okabe–Ito palette, rcParams, safe labels, PNG encoding.

matplotlib is imported inside functions (never at module import) and always with the Agg
canvas; figures are built as ``matplotlib.figure.Figure`` objects, never through pyplot, so no
global figure registry grows.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# Okabe & Ito (2008): distinguishable under the common colour-vision deficiencies.
BLUE = "#0072B2"
ORANGE = "#E69F00"
VERMILLION = "#D55E00"
GREEN = "#009E73"
SKY = "#56B4E9"
PURPLE = "#CC79A7"
YELLOW = "#F0E442"
GREY = "#6B6B6B"
INK = "#1A1A1A"
PALETTE = (BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY, YELLOW, INK)
LINES = (BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY, INK, GREY)
"""One colour per labelled line or name: the palette without yellow, unreadable as text."""

DPI = 150
_RC: dict[str, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "figure.titlesize": 10.5,
    "figure.titleweight": "bold",
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.labelsize": 9,
    "axes.edgecolor": "#888888",
    "axes.linewidth": 0.8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#E3E3E3",
    "grid.linewidth": 0.6,
    "axes.axisbelow": True,
    "axes.prop_cycle": None,  # filled in lazily (needs matplotlib's cycler)
    "legend.frameon": False,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "text.color": INK,
    "axes.labelcolor": INK,
    "xtick.color": "#444444",
    "ytick.color": "#444444",
    "svg.fonttype": "none",
}


@contextlib.contextmanager
def style() -> Iterator[None]:
    """rcParams for semaudit figures; glyph-missing warnings (exotic class names) silenced."""
    import matplotlib
    from cycler import cycler

    rc: Any = dict(_RC, **{"axes.prop_cycle": cycler(color=PALETTE)})
    with matplotlib.rc_context(rc), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph .* missing from")
        yield


def new_figure(width: float, height: float) -> Figure:
    """A pyplot-free figure with an Agg canvas attached (call inside ``style()``)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def label(name: Any, width: int = 28) -> str:
    """A class name safe for matplotlib text: ``$`` escaped (no mathtext), long names cut."""
    text = " ".join(str(name).split())
    if len(text) > width:
        text = text[: width - 1] + "…"
    return text.replace("$", r"\$")


def save_png(fig: Figure) -> bytes:
    """Encode ``fig`` as a 256-colour PNG and close it (the figure is cleared, not reusable).

    Line art survives the palette unchanged to the eye and the file is about 3× smaller.
    """
    from PIL import Image

    buffer = io.BytesIO()
    with style():
        fig.savefig(buffer, format="png", dpi=DPI)
    fig.clear()
    with Image.open(buffer) as image:
        palette = image.convert("RGB").quantize(
            256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        )
    out = io.BytesIO()
    palette.save(out, format="PNG", optimize=True)
    return out.getvalue()


def plain_log(ax: Any, axis: str = "x", *, dense: bool = False) -> None:
    """Log scale with plain tick labels (``10``, ``100``, ``1,000``), no minor labels.

    ``dense`` adds 2× and 5× ticks (for wide axes spanning few decades).
    """
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    target = ax.xaxis if axis == "x" else ax.yaxis
    (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
    if dense:
        target.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    target.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
    target.set_minor_formatter(NullFormatter())


def no_data(fig: Figure, message: str) -> Figure:
    """Turn an empty figure into one that says why it is empty."""
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.text(0.5, 0.5, message, ha="center", va="center", color=GREY, wrap=True)
    return fig


def _spread(wanted: list[float], gap: float, low: float, high: float) -> list[float]:
    """Positions as close to ``wanted`` (ascending) as possible, ``gap`` apart, within range."""
    placed: list[float] = []
    for y in wanted:
        placed.append(max(y, low) if not placed else max(y, placed[-1] + gap))
    overflow = placed[-1] - high if placed else 0.0
    if overflow > 0:  # pushed past the top: slide the stack down, keeping the gaps
        placed = [y - overflow for y in placed]
        for i in range(len(placed) - 2, -1, -1):
            placed[i] = min(placed[i], placed[i + 1] - gap)
    return placed


def column_labels(
    ax: Any, points: list[tuple[float, float, str, str]], *, fontsize: float = 7
) -> None:
    """Name every point ``(x, y, text, colour)`` in a column right of the axes, each joined to
    its point by a thin leader line; names are spread apart so none overlap (line charts)."""
    fig = ax.get_figure()
    height_in = fig.get_size_inches()[1] * ax.get_position().size[1]
    gap = 1.25 * fontsize / 72 / max(height_in, 0.1)
    to_axes = ax.transAxes.inverted()
    located = sorted(
        ((to_axes.transform(ax.transData.transform((x, y)))[1], x, y, text, colour)
         for x, y, text, colour in points),
        key=lambda item: (item[0], item[3]),
    )  # fmt: skip
    spots = _spread([item[0] for item in located], gap, 0.0, 1.0)
    for spot, (_, x, y, text, colour) in zip(spots, located, strict=True):
        ax.annotate(
            label(text, 22), (x, y), xytext=(1.03, spot), textcoords="axes fraction",
            fontsize=fontsize, color=colour, va="center", ha="left", annotation_clip=False,
            arrowprops={"arrowstyle": "-", "color": colour, "lw": 0.6, "alpha": 0.7,
                        "shrinkA": 1, "shrinkB": 3},
        )  # fmt: skip


def direct_labels(
    ax: Any,
    points: list[tuple[float, float, str, str]],
    *,
    fontsize: float = 7,
    gap: float = 0.05,
) -> None:
    """Name every point ``(x, y, text, colour)`` next to it, nudged apart so none overlap.

    Each label goes just right of its point; a label that would overlap one already placed
    moves up or down in steps of ``gap`` (axes fraction) and gets a thin leader line. Call it
    after the axes' limits and scales are final.
    """
    fig = ax.get_figure()
    width_in, height_in = fig.get_size_inches() * ax.get_position().size
    char_w = 0.6 * fontsize / 72 / max(width_in, 0.1)  # axes fraction per character
    line_h = 1.3 * fontsize / 72 / max(height_in, 0.1)
    to_axes = ax.transAxes.inverted()
    placed: list[tuple[float, float, float, float]] = []
    order = sorted(points, key=lambda p: (-p[1], p[2]))
    for x, y, text, colour in order:
        px, py = to_axes.transform(ax.transData.transform((x, y)))
        w, h = len(text) * char_w + 0.01, max(line_h, gap)
        spot = py
        for step in range(0, 24):
            shift = (step + 1) // 2 * gap * (1 if step % 2 else -1)
            cand = py + shift
            box = (px + 0.01, cand - h / 2, px + 0.01 + w, cand + h / 2)
            if (
                cand - h / 2 >= -0.02
                and cand + h / 2 <= 1.04
                and not any(
                    box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3]
                    for b in placed
                )
            ):
                spot = cand
                placed.append(box)
                break
        leader = {"arrowstyle": "-", "color": colour, "lw": 0.5, "alpha": 0.6, "shrinkB": 2}
        ax.annotate(
            label(text, 22), (x, y), xytext=(px + 0.012, spot), textcoords="axes fraction",
            fontsize=fontsize, color=colour, va="center", ha="left", annotation_clip=False,
            arrowprops=None if abs(spot - py) < 1e-9 else leader,
            bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.75},
        )  # fmt: skip
