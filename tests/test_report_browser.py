"""The report in headless Chromium: no console errors, every image decoded, not blank, safe.

A small probe script is injected at the top of a copy of the page (before its Content-Security-
Policy, so the policy still governs everything else). It records errors, CSP violations and
``alert`` calls, decodes every image through a canvas, drives the class table once, and writes a
JSON verdict into the DOM, which ``--dump-dom`` returns.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from factories import make_audit
from PIL import Image
from report_support import add_images_and_embeddings, chromium, chromium_available

from semaudit.report import render_report

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not chromium_available(), reason="headless Chromium is not installed"),
]

EVIL = "<img src=x onerror=alert(1)>"

PROBE_JS = r"""
(function () {
  var errors = [], alerts = [];
  window.addEventListener("error", function (e) {
    var t = e.target;
    errors.push(e.message ? "error: " + e.message
                          : "resource: " + (t && (t.src || t.href || t.tagName)));
  }, true);
  window.addEventListener("unhandledrejection", function (e) {
    errors.push("rejection: " + e.reason);
  });
  document.addEventListener("securitypolicyviolation", function (e) {
    errors.push("csp: " + e.violatedDirective + " " + e.blockedURI);
  });
  var log = console.error;
  console.error = function () {
    errors.push("console: " + Array.prototype.join.call(arguments, " "));
    log.apply(console, arguments);
  };
  window.alert = function (m) { alerts.push(String(m)); };
  function decoded(img) {
    if (!img.complete || img.naturalWidth === 0) { return false; }
    var canvas = document.createElement("canvas");
    canvas.width = canvas.height = 4;
    var ctx = canvas.getContext("2d");
    ctx.drawImage(img, 0, 0, 4, 4);
    var px = ctx.getImageData(0, 0, 4, 4).data;
    for (var i = 3; i < px.length; i += 4) { if (px[i] > 0) { return true; } }
    return false;
  }
  window.addEventListener("load", function () {
    var loadMs = performance.now();
    var imgs = Array.prototype.slice.call(document.images);
    var bad = imgs.filter(function (img) { return !decoded(img); })
                  .map(function (img) { return img.alt; });
    var table = document.getElementById("classes-table");
    function visible() {
      return Array.prototype.filter.call(table.tBodies[0].rows, function (r) { return !r.hidden; });
    }
    var before = visible().length;
    table.tHead.rows[0].cells[1].querySelector("button").click();
    var sorted = visible().map(function (r) {
      return parseFloat(r.cells[1].getAttribute("data-v"));
    });
    var out = document.createElement("pre");
    out.id = "probe-result";
    out.textContent = JSON.stringify({
      errors: errors, alerts: alerts, images: imgs.length, bad: bad, visible: before,
      rows: table.tBodies[0].rows.length, sorted: sorted, text: document.body.innerText,
      injected: document.querySelectorAll('img[src="x"]').length, loadMs: loadMs
    });
    document.body.appendChild(out);
  });
})();
"""


def probe(page: Path, profile: Path) -> dict[str, Any]:
    """Open a probed copy of ``page``; return the probe's verdict plus console lines."""
    probed = page.with_name("probe.html")
    text = page.read_text(encoding="utf-8").replace(
        "<head>", f"<head><script>{PROBE_JS}</script>", 1
    )
    probed.write_text(text, encoding="utf-8")
    run = chromium(
        "--enable-logging=stderr", "--v=0", "--dump-dom", probed.as_uri(), profile=profile
    )
    found = re.search(r'<pre id="probe-result">(.*?)</pre>', run.stdout, re.S)
    assert found, f"no probe result; chromium said:\n{run.stderr[-3000:]}"
    result: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    result["console"] = [line for line in run.stderr.splitlines() if ":CONSOLE" in line]
    return result


def screenshot(page: Path, out: Path, profile: Path, *flags: str) -> np.ndarray:
    run = chromium(*flags, f"--screenshot={out}", "--window-size=1280,1600", page.as_uri(),
                   profile=profile)  # fmt: skip
    assert out.exists(), run.stderr[-3000:]
    with Image.open(out) as image:
        return np.asarray(image.convert("RGB"))


def assert_clean(result: dict[str, Any], n_images: int) -> None:
    assert result["errors"] == [] and result["console"] == []
    assert result["alerts"] == [] and result["injected"] == 0
    assert result["images"] == n_images and result["bad"] == []
    assert result["sorted"] == sorted(result["sorted"])


def _audit_with_evil_class(root: Path, n_classes: int) -> Path:
    names = [EVIL, *(f"class {i:04d}" for i in range(n_classes - 1))]
    audit_dir = make_audit(root / "audit", names=names, n_classes=n_classes, seed=4,
                           skipped=[(f"{EVIL}/x.png", "truncated: <b>")])  # fmt: skip
    return add_images_and_embeddings(audit_dir, root / "data", per_class=6)


def test_report_opens_cleanly_in_chromium(tmp_path: Path) -> None:
    result = render_report(_audit_with_evil_class(tmp_path, 60), tmp_path / "out", formats="html")
    assert result.html is not None
    verdict = probe(result.html, tmp_path / "profile")
    assert_clean(verdict, n_images=5 + 60 * 6)
    assert EVIL in verdict["text"]  # shown as text, never as markup
    assert verdict["rows"] == 60 and verdict["visible"] == 50  # paged

    light = screenshot(result.html, tmp_path / "light.png", tmp_path / "profile")
    assert light.std() > 20 and len(np.unique(light.reshape(-1, 3), axis=0)) > 200
    assert light[5, 5].min() > 240  # white page
    dark = screenshot(result.html, tmp_path / "dark.png", tmp_path / "profile", "--force-dark-mode")
    assert dark[5, 5].max() < 60 and dark.std() > 20  # dark page, still not blank


def test_probe_catches_a_broken_page(tmp_path: Path) -> None:
    """Negative control: the harness really sees errors, CSP violations and broken images."""
    result = render_report(make_audit(tmp_path / "audit"), tmp_path / "out", formats="html")
    assert result.html is not None
    page = result.html.read_text(encoding="utf-8")
    broken = page.replace(
        '<main id="main">',
        '<main id="main"><img src=x onerror=alert(1) alt=a>'
        '<img src="https://example.com/a.png" alt=b><img src="data:image/png;base64,AAAA" alt=c>',
    )
    (tmp_path / "out" / "broken.html").write_text(broken, encoding="utf-8")
    verdict = probe(tmp_path / "out" / "broken.html", tmp_path / "profile")
    assert verdict["injected"] == 1 and sorted(verdict["bad"]) == ["a", "b", "c"]
    assert any(e.startswith("csp: img-src") for e in verdict["errors"])
    assert any("inline event handler" in line for line in verdict["console"])
    assert verdict["alerts"] == []  # the CSP blocked the handler


def test_thousand_class_report_loads_quickly(tmp_path: Path) -> None:
    result = render_report(_audit_with_evil_class(tmp_path, 1000), tmp_path / "out", formats="html")
    assert result.html is not None
    verdict = probe(result.html, tmp_path / "profile")
    assert_clean(verdict, n_images=5 + 100 * 6)
    assert verdict["rows"] == 1000 and verdict["visible"] == 50
    assert verdict["loadMs"] < 5000, f"page took {verdict['loadMs']:.0f} ms to load"


def _real_scan_possible() -> bool:
    try:
        from semaudit.scanner.run import scan  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.skipif(not _real_scan_possible(), reason="semaudit.scan is not available")
def test_real_scan_report_in_chromium(tmp_path: Path) -> None:
    """Real Fashion-MNIST images, the bundled backbone, the full report, a real browser."""
    from fmnist import write_image_folder

    import semaudit

    data = write_image_folder(tmp_path / "data", [12, 8, 6, 6, 10, 6, 6, 6, 6, 6])
    shutil.copytree(data / "bag", data / EVIL)
    semaudit.scan(data, out=tmp_path / "audit", backbone="efficientnet-lite0")
    result = render_report(tmp_path / "audit", tmp_path / "out")
    assert result.html is not None and len(result.figures) == 5
    verdict = probe(result.html, tmp_path / "profile")
    assert_clean(verdict, n_images=5 + 11 * 6)
    assert EVIL in verdict["text"] and "Thumbnails unavailable" not in verdict["text"]
    shot = screenshot(result.html, tmp_path / "shot.png", tmp_path / "profile")
    assert shot.std() > 20
