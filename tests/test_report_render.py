"""``render_report`` and ``semaudit report``: files, escaping, offline page, size, speed."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from factories import make_audit
from report_support import add_images_and_embeddings

from semaudit.cli import main
from semaudit.errors import AuditError, InputError, UsageError
from semaudit.report import ReportResult, parse_formats, render_report

EVIL = "<img src=x onerror=alert(1)>"
NAMES = [EVIL, "a&b \"quoted\" 'single'", "$x$ | *md* _under_", "cat", "dog", "eel"]
SKIPPED = [(f"{EVIL}/1.png", "truncated"), ("bad/<script>alert(2)</script>.jpg", "unreadable: <x>")]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> ReportResult:
    root = tmp_path_factory.mktemp("report")
    audit_dir = make_audit(
        root / "audit", names=NAMES, counts=[40, 30, 20, 12, 9, 6], skipped=SKIPPED
    )
    add_images_and_embeddings(audit_dir, root / "data", per_class=6)
    return render_report(audit_dir, root / "out")


def test_writes_every_format(report: ReportResult) -> None:
    assert report.html is not None and report.html.name == "report.html"
    assert report.markdown is not None and report.markdown.name == "report.md"
    names = sorted(p.name for p in report.figures)
    assert names == sorted(["counts-scale.png", "curves.png", "curves-extremes.png",
                            "count-vs-scale.png", "probe-vs-scale.png"])  # fmt: skip
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in report.figures)
    assert not list(report.html.parent.rglob("*.tmp")), "atomic writes leave no temp files"


def test_every_class_name_path_and_message_is_escaped(report: ReportResult) -> None:
    assert report.html is not None
    page = report.html.read_text(encoding="utf-8")
    assert EVIL not in page and "<script>alert" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "a&amp;b &quot;quoted&quot; &#x27;single&#x27;" in page
    assert "bad/&lt;script&gt;alert(2)&lt;/script&gt;.jpg" in page
    assert "unreadable: &lt;x&gt;" in page
    assert page.count("<script") == 1  # the page's own table script, nothing else


def test_page_is_self_contained(report: ReportResult) -> None:
    assert report.html is not None
    page = report.html.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//|file:)""", page)
    assert "@import" not in page and "url(" not in page and "@font-face" not in page
    sources = re.findall(r'<img src="([^"]{0,30})', page)
    assert sources and all(s.startswith(("data:image/png;base64,", "data:image/jpeg;base64,"))
                           for s in sources)  # fmt: skip
    assert "default-src 'none'" in page and "script-src 'sha256-" in page
    assert all(alt for alt in re.findall(r'<img [^>]*alt="([^"]*)"', page))
    assert len(re.findall(r"<img ", page)) == len(re.findall(r'<img [^>]*alt="[^"]+', page))
    assert "prefers-color-scheme: dark" in page


def test_report_sections(report: ReportResult) -> None:
    assert report.html is not None
    page = report.html.read_text(encoding="utf-8")
    for section in ("recommendations", "scale", "curves", "scatter", "probe", "thumbnails",
                    "classes", "skipped"):  # fmt: skip
        assert f'<section id="{section}"' in page
    assert "Counts vary" in page  # the verdict
    assert "efficientnet-lite0" in page and "semaudit 0.1.0" in page  # provenance
    assert "most typical" in page and "most atypical" in page
    assert 'id="classes-table"' in page and 'data-pager="50"' in page


def test_markdown_is_short_and_escaped(report: ReportResult) -> None:
    assert report.markdown is not None
    text = report.markdown.read_text(encoding="utf-8")
    assert len(text) < 4000 and len(text.splitlines()) < 30
    assert "Counts vary" in text and "| classes |" in text
    assert EVIL not in text and "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "full report: report.html" in text


@pytest.fixture()
def fast_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    """One tiny stand-in figure: for tests about files and formats, not about the figures."""
    from semaudit.report import render
    from semaudit.report.html import FigureBlock

    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
    blocks = [FigureBlock(key, "scale", png, "alt", "caption") for key in ("a", "b")]
    monkeypatch.setattr(render, "build_figures", lambda audit: blocks)


@pytest.mark.usefixtures("fast_figures")
def test_format_subsets(tmp_path: Path) -> None:
    audit_dir = make_audit(tmp_path / "audit")
    only_md = render_report(audit_dir, tmp_path / "md", formats="md")
    assert only_md.html is None and only_md.figures == [] and only_md.markdown is not None
    assert sorted(p.name for p in (tmp_path / "md").iterdir()) == ["report.md"]
    pngs = render_report(audit_dir, tmp_path / "png", formats=["png"])
    assert pngs.html is None and pngs.markdown is None
    assert [p.name for p in pngs.figures] == ["a.png", "b.png"]
    (tmp_path / "png" / "figures" / "probe-vs-scale.png").write_bytes(b"stale")
    render_report(audit_dir, tmp_path / "png", formats="png")
    assert not (tmp_path / "png" / "figures" / "probe-vs-scale.png").exists()
    page = render_report(audit_dir, tmp_path / "html", formats=" HTML ")
    assert page.html is not None and not (tmp_path / "html" / "figures").exists()
    assert parse_formats("md,html,md") == ("html", "md")


@pytest.mark.parametrize("formats", ["pdf", "html,svg", "", " , "])
def test_unknown_format_names_the_allowed_ones(tmp_path: Path, formats: str) -> None:
    with pytest.raises(UsageError, match=r"one or more of html, png, md"):
        render_report(make_audit(tmp_path / "audit"), tmp_path / "out", formats=formats)


def test_missing_or_corrupt_audit(tmp_path: Path) -> None:
    with pytest.raises(AuditError, match="no audit directory"):
        render_report(tmp_path / "nothing", tmp_path / "out")
    audit_dir = make_audit(tmp_path / "audit")
    (audit_dir / "summary.json").write_text("{not json")
    with pytest.raises(AuditError, match="not valid JSON"):
        render_report(audit_dir, tmp_path / "out")


def test_unwritable_out_dir_is_an_input_error_as_in_check(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputError, match="cannot write") as info:
        render_report(make_audit(tmp_path / "audit"), blocker / "out", formats="md")
    assert info.value.exit_code == 3  # the exit code of `check --junit` on an unwritable path


@pytest.mark.usefixtures("fast_figures")
def test_report_without_probe_or_thumbnails_says_why(tmp_path: Path) -> None:
    audit_dir = make_audit(tmp_path / "audit", probe=False)
    result = render_report(audit_dir, tmp_path / "out", formats="html")
    assert result.html is not None
    page = result.html.read_text(encoding="utf-8")
    assert "ran without the linear probe" in page
    assert "Thumbnails unavailable" in page and "index.parquet" in page


@pytest.mark.usefixtures("fast_figures")
def test_cli_prints_paths_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    audit_dir = make_audit(tmp_path / "audit")
    assert main(["report", str(audit_dir), "--format", "md,html"]) == 0
    lines = capsys.readouterr().out.split()
    assert lines == [
        str(audit_dir / "report" / "report.html"),
        str(audit_dir / "report" / "report.md"),
    ]
    assert main(["report", str(audit_dir), "--out", str(tmp_path / "o"), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["html"] == str(tmp_path / "o" / "report.html")
    assert [Path(p).name for p in payload["figures"]] == ["a.png", "b.png"]


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path / "missing")]) == 3
    err = capsys.readouterr().err
    assert err.startswith("error: no audit directory") and err.count("\n") == 1
    assert main(["report", str(make_audit(tmp_path / "a")), "--format", "pdf"]) == 2
    assert "html, png, md" in capsys.readouterr().err


def test_hundred_classes_fit_the_size_budget(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    audit_dir = make_audit(tmp_path / "audit", n_classes=100)
    add_images_and_embeddings(audit_dir, tmp_path / "data", per_class=8, dim=32, photos=True)
    result = render_report(audit_dir, tmp_path / "out", formats="html")
    assert result.html is not None
    page = result.html.read_text(encoding="utf-8")
    assert page.count('alt="typical image') == 300 and page.count('alt="atypical image') == 300
    assert result.html.stat().st_size < 5_000_000


def test_thousand_classes_render_quickly(tmp_path: Path) -> None:
    audit_dir = make_audit(tmp_path / "audit", n_classes=1000, seed=2)
    start = time.perf_counter()
    result = render_report(audit_dir, tmp_path / "out")
    elapsed = time.perf_counter() - start
    assert elapsed < 30, f"1,000-class report took {elapsed:.1f} s"
    assert result.html is not None
    page = result.html.read_text(encoding="utf-8")
    assert result.html.stat().st_size < 3_000_000
    rows = re.findall(
        r"<tr[ >][^\n]*?</tr>", page.split('id="classes-table"')[1].split("</table>")[0]
    )
    assert len(rows) == 1001  # header + every class; all but the first page start hidden
    assert sum(r.startswith("<tr hidden") for r in rows) == 950


@pytest.mark.usefixtures("fast_figures")
def test_long_recommendation_lists_fold_away(tmp_path: Path) -> None:
    audit_dir = make_audit(tmp_path / "audit", n_classes=30)
    summary = json.loads((audit_dir / "summary.json").read_text(encoding="utf-8"))
    summary["recommendations"] = [
        {"kind": "need_more", "class": f"class_{i:03d}", "text": f"advice <{i}>"} for i in range(25)
    ]
    (audit_dir / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    result = render_report(audit_dir, tmp_path / "out", formats="html,md")
    assert result.html is not None and result.markdown is not None
    page = result.html.read_text(encoding="utf-8")
    assert "15 more recommendations</summary>" in page and '<ol class="recs" start="11">' in page
    assert "advice &lt;24&gt;" in page
    text = result.markdown.read_text(encoding="utf-8")
    assert "advice &lt;4&gt;" in text and "advice &lt;5&gt;" not in text
    assert "and 20 more in the full report" in text


def test_degenerate_audit_still_renders(tmp_path: Path) -> None:
    """One class under min_images: statistics are null, no fit, no probe; nothing crashes."""
    import numpy as np
    import pandas as pd

    audit_dir = make_audit(tmp_path / "audit", counts=[3], names=["solo"], probe=False)
    summary = json.loads((audit_dir / "summary.json").read_text(encoding="utf-8"))
    nulls = dict.fromkeys(("max_min_ratio", "cv", "gini", "entropy"))
    summary.update(n_eligible=0, count=nulls, scale=nulls, scale_matched=nulls,
                   spearman_count_scale=None, rank_disagreement=[], recommendations=[])  # fmt: skip
    (audit_dir / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    classes = pd.read_csv(audit_dir / "classes.csv")
    for column in ("scale_inf", "saturation", "need_more", "scale_matched", "scale_matched_std"):
        classes[column] = np.nan
    classes.to_csv(audit_dir / "classes.csv", index=False)
    result = render_report(audit_dir, tmp_path / "out")
    assert result.html is not None and result.markdown is not None and len(result.figures) == 4
    assert "The audit has 1 class, so imbalance statistics" in result.markdown.read_text()
    assert "n/a" in result.html.read_text(encoding="utf-8")


def test_rendering_never_imports_torch(tmp_path: Path) -> None:
    import subprocess
    import sys

    audit_dir = make_audit(tmp_path / "audit")
    add_images_and_embeddings(audit_dir, tmp_path / "data", per_class=6)
    code = (
        "import sys; from semaudit.report import render_report; "
        f"render_report({str(audit_dir)!r}, {str(tmp_path / 'out')!r}); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'open_clip', 'timm'}))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"
    assert run.stderr == ""  # the library never prints
