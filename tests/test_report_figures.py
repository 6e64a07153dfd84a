"""Each figure function returns a Figure; ``save_png`` encodes it and closes it."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from factories import make_audit
from PIL import Image

from semaudit.report import curve_figures, figures, style
from semaudit.store import Audit, load_audit

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ODD_NAMES = [
    "<img src=x onerror=alert(1)>",
    "$\\alpha$ 50% {x}",
    "a" * 80,
    "日本語 класс",
    "_hidden",
]


@pytest.fixture(scope="module")
def audit(tmp_path_factory: pytest.TempPathFactory) -> Audit:
    path = tmp_path_factory.mktemp("audit")
    names = [*ODD_NAMES, *(f"class_{i}" for i in range(7))]
    return load_audit(make_audit(path, n_classes=len(names), names=names, seed=1))


def _check_saved(fig: object) -> None:
    from matplotlib.figure import Figure

    assert isinstance(fig, Figure)
    data = style.save_png(fig)
    assert data.startswith(PNG_MAGIC)
    with Image.open(io.BytesIO(data)) as image:
        assert image.width >= 1000 and len(image.convert("L").getcolors(256) or []) > 2
    assert fig.axes == []  # closed: cleared after saving
    import matplotlib.pyplot as plt  # only to prove nothing was registered with pyplot

    assert plt.get_fignums() == []


def test_counts_and_scale(audit: Audit) -> None:
    fig = figures.counts_and_scale(
        audit.classes, audit.summary["rank_disagreement"], matched_m=audit.summary["matched_m"]
    )
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert "<img src=x onerror=alert(1)>" in labels
    assert any(label.endswith("…") for label in labels)  # 80-character name cut
    _check_saved(fig)


def test_count_scale_scatter(audit: Audit) -> None:
    fig = figures.count_scale_scatter(audit.classes, audit.overview)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert any(t.startswith("Spearman ρ(count, S) = 0.90") for t in texts)
    _check_saved(fig)


def test_probe_vs_scale_writes_correlations(audit: Audit) -> None:
    fig = figures.probe_vs_scale(audit.classes, audit.overview)
    assert len(fig.axes) == 3
    assert all("Pearson r = 0.50" in ax.get_title() for ax in fig.axes)
    _check_saved(fig)


def _names(fig: object) -> list[str]:
    return [t.get_text() for t in fig.axes[0].texts]  # type: ignore[attr-defined]


def test_curves_overview(audit: Audit) -> None:
    fig = curve_figures.curves_overview(audit.classes, audit.curves, target=0.9)
    assert fig.axes[0].get_xscale() == "log"
    # every class named once, in its own line's colour; no legend to map colours by
    named = [t for t in fig.axes[0].texts if t.get_text() != "target 90%"]
    expected = sorted(style.label(name, 22) for name in audit.classes["class"])
    assert sorted(t.get_text() for t in named) == expected
    lines = {line.get_color() for line in fig.axes[0].get_lines() if len(line.get_xdata()) > 2}
    assert {t.get_color() for t in named} <= lines and len(lines) >= 8
    assert fig.axes[0].get_legend() is None
    _check_saved(fig)


def test_curves_overview_names_do_not_overlap(tmp_path: Path) -> None:
    """Sixteen classes ending at almost the same saturation: the names are spread apart."""
    names = [f"class {i:02d}" for i in range(16)]
    audit = load_audit(make_audit(tmp_path, counts=[200] * 16, names=names, seed=2))
    fig = curve_figures.curves_overview(audit.classes, audit.curves, target=0.9)
    from matplotlib.text import Text

    fig.canvas.draw()  # the text's own box: an annotation's extent includes its leader line
    boxes = [Text.get_window_extent(t) for t in fig.axes[0].texts if t.get_text() in names]
    assert len(boxes) == 16
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])
    _check_saved(fig)


def test_curves_overview_legend_has_no_empty_group(tmp_path: Path) -> None:
    # 40 classes of 2,000 images each: all saturated, so one legend entry, not two
    audit = load_audit(make_audit(tmp_path, counts=[2000] * 40, seed=5))
    assert (audit.classes["saturation"] >= 0.9).all()
    fig = curve_figures.curves_overview(audit.classes, audit.curves, target=0.9)
    legend = [t.get_text() for t in fig.axes[0].get_legend().texts]
    assert legend == ["at or above 90% (40)"]
    assert _names(fig) == ["target 90%"]  # nothing below the target to name
    _check_saved(fig)


def test_count_scale_scatter_names_every_class_up_to_25(audit: Audit, tmp_path: Path) -> None:
    fig = figures.count_scale_scatter(audit.classes, audit.overview)
    named = set(_names(fig))
    assert {style.label(name, 22) for name in audit.classes["class"]} <= named
    many = load_audit(make_audit(tmp_path, n_classes=60, seed=7))
    fig = figures.count_scale_scatter(many.classes, many.overview)
    names = {t for t in _names(fig) if not t.startswith("Spearman")}
    disagree = {d["class"] for d in many.summary["rank_disagreement"][:6]}
    assert disagree <= names and 3 <= len(names) <= 10  # and the ends by count and by S
    _check_saved(fig)


def test_curves_multiples_shows_extremes(audit: Audit) -> None:
    most, least = curve_figures.extreme_classes(audit.classes, per_group=4)
    sat = audit.classes.set_index("class")["saturation"]
    assert min(sat[most]) >= max(sat[least])
    fig = curve_figures.curves_multiples(audit.classes, audit.curves, target=0.9)
    assert len([ax for ax in fig.axes if ax.axison]) == 8
    _check_saved(fig)


def test_figures_without_data_say_so(tmp_path: Path) -> None:
    audit = load_audit(make_audit(tmp_path, n_classes=3, probe=False))
    classes = audit.classes.assign(scale_inf=np.nan, saturation=np.nan)
    for fig in (
        figures.probe_vs_scale(audit.classes, audit.overview),
        curve_figures.curves_overview(classes, audit.curves),
        curve_figures.curves_multiples(classes, audit.curves),
        figures.counts_and_scale(audit.classes.iloc[0:0]),
        figures.count_scale_scatter(audit.classes.iloc[0:0], audit.overview),
    ):
        assert fig.axes[0].texts, "an empty figure must say why"
        _check_saved(fig)


def test_select_rows_keeps_ends_and_marked_rows() -> None:
    assert figures.select_rows(5, 40) == [0, 1, 2, 3, 4]
    rows = figures.select_rows(1000, 10, keep=[500])
    assert rows == [0, 1, 2, 3, 4, None, 500, None, 995, 996, 997, 998, 999]
    assert figures.select_rows(12, 10, keep=[5]) == [0, 1, 2, 3, 4, 5, None, 7, 8, 9, 10, 11]


def test_thousand_classes_stay_legible(tmp_path: Path) -> None:
    audit = load_audit(make_audit(tmp_path, n_classes=1000, seed=3))
    fig = figures.counts_and_scale(audit.classes, audit.summary["rank_disagreement"])
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert len(labels) <= 45
    assert sum("more ⋯" in label for label in labels) >= 1
    assert fig.get_size_inches()[1] < 12
    _check_saved(fig)
    overview = curve_figures.curves_overview(audit.classes, audit.curves)
    legend = overview.axes[0].get_legend()  # 1,000 lines: coloured by status, counted
    counts = [int(t.get_text().split("(")[1].rstrip(")").replace(",", "")) for t in legend.texts]
    assert sum(counts) == 1000
    _check_saved(overview)


def test_label_escapes_mathtext_and_cuts() -> None:
    assert style.label("$x$") == r"\$x\$"
    assert style.label("a\nb   c") == "a b c"
    assert len(style.label("x" * 100, 20)) == 20


def test_saturation_column_may_be_empty() -> None:
    classes = pd.DataFrame(
        {"class": ["a"], "n": [1], "scale": [0.0], "scale_matched": [np.nan],
         "scale_matched_std": [np.nan], "scale_inf": [np.nan], "saturation": [np.nan],
         "need_more": [np.nan], "probe_accuracy": [np.nan]}
    )  # fmt: skip
    assert curve_figures.extreme_classes(classes) == ([], [])


def test_importing_the_report_loads_no_matplotlib_or_torch() -> None:
    code = (
        "import sys, semaudit.report, semaudit.report.figures, semaudit.report.curve_figures; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'matplotlib', 'torch'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
