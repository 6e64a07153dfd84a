"""Report rendering time and size at 100 and 1,000 classes (synthetic audits, real photos).

python benchmarks/bench_report.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def render(audit: Path, out: Path) -> tuple[float, float]:
    from semaudit.report import render_report

    tick = time.perf_counter()
    result = render_report(audit, out)
    seconds = time.perf_counter() - tick
    assert result.html is not None
    return seconds, result.html.stat().st_size / 1e6


def main() -> None:
    from factories import make_audit
    from report_support import add_images_and_embeddings

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cases = []
        big = make_audit(work / "a1000", n_classes=1000)
        cases.append(("1,000 classes, no thumbnails", big))
        with_thumbs = make_audit(work / "t1000", n_classes=1000)
        add_images_and_embeddings(with_thumbs, work / "d1000", per_class=6, photos=True)
        cases.append(("1,000 classes, thumbnails (100 shown)", with_thumbs))
        hundred = make_audit(work / "t100", n_classes=100)
        add_images_and_embeddings(hundred, work / "d100", per_class=20, photos=True)
        cases.append(("100 classes, thumbnails from real photos", hundred))
        print(f"{'audit':45s} {'render':>8s} {'report.html':>12s}")
        for label, audit in cases:
            seconds, megabytes = render(audit, work / f"out-{audit.name}")
            print(f"{label:45s} {seconds:7.1f}s {megabytes:10.2f} MB")


if __name__ == "__main__":
    main()
