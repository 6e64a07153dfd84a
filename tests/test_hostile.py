"""Hostile inputs: a generated corpus through the real CLI, then each trap at the unit level.

The corpus (tests/hostile.py) plants every case with its expected fate: used (in the
embeddings index, under its class), skipped (in skipped.csv with a reason) or ignored (hidden
entries and non-image names: in neither). A scan must exit 0 without a traceback and write only
finite numbers.
"""

from __future__ import annotations

import os
import resource
import struct
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hostile import (
    CSV_CLASS,
    HTML_CLASS,
    IGNORED,
    NAN_CLASS,
    NUMERIC_CLASS,
    SKIPPED,
    USED,
    Case,
    animated_gif,
    assert_clean_audit,
    bomb_png,
    cmyk_jpeg,
    exif_rotated_jpeg,
    gray16_png,
    palette_png_transparent,
    png_bytes,
    run_cli,
    strip_png,
    write_folder_corpus,
    write_manifest_corpus,
)

import semaudit
from semaudit.cli import main
from semaudit.data import discover_folder, hash_items, load_image
from semaudit.store import load_audit


def _check_cases(audit: Path, cases: list[Case]) -> list[str]:
    """Every planted case against the audit; the list of broken expectations."""
    loaded = load_audit(audit)
    _, labels, paths, class_names = semaudit.load_embeddings(audit)
    used = {p: class_names[c] for p, c in zip(paths, labels, strict=True)}
    skipped: dict[str, list[str]] = {}
    for path, reason in zip(loaded.skipped["path"], loaded.skipped["reason"], strict=True):
        skipped.setdefault(path, []).append(reason)
    problems = []
    for case in cases:
        what = f"{case.name} ({case.path!r})"
        if case.expect == USED:
            if used.get(case.path) != case.label:
                problems.append(
                    f"{what}: expected used in class {case.label!r}, got {used.get(case.path)!r}"
                )
            others = [r for r in skipped.get(case.path, []) if not r.startswith("duplicate")]
            if others:
                problems.append(f"{what}: used, yet also in skipped.csv: {others}")
        elif case.expect == SKIPPED:
            reasons = skipped.get(case.path, [])
            if not any(case.reason.lower() in r.lower() for r in reasons):
                problems.append(f"{what}: expected skipped with {case.reason!r}, got {reasons}")
            if case.path in used and not case.reason.startswith("duplicate"):
                problems.append(f"{what}: skipped, yet embedded")
        elif case.expect == IGNORED and (case.path in used or case.path in skipped):
            problems.append(f"{what}: expected ignored silently")
    planted = {c.path for c in cases}
    problems += [f"unexpected image used: {p!r}" for p in used if p not in planted]
    problems += [
        f"unexpected skipped row: {p!r} {r}" for p, r in skipped.items() if p not in planted
    ]
    return problems


@pytest.fixture(scope="module")
def folder_scan(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[Case], object]:
    """The folder corpus, scanned once through ``python -m semaudit scan``."""
    base = tmp_path_factory.mktemp("hostile")
    cases = write_folder_corpus(base / "data")
    audit = base / "audit"
    proc = run_cli(["scan", str(base / "data"), "--out", str(audit), "--backbone", "pixels",
                    "--quiet"], cwd=base)  # fmt: skip
    return base, audit, cases, proc


def test_corpus_scan_exits_0_without_traceback(folder_scan) -> None:  # type: ignore[no-untyped-def]
    base, _, cases, proc = folder_scan
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    assert "error" not in proc.stderr.lower()
    assert len(cases) >= 60
    assert not (base / "pwned").exists() and not Path("pwned").exists()  # no shell ran a name


def test_corpus_every_case_used_skipped_or_ignored_as_planted(folder_scan) -> None:  # type: ignore[no-untyped-def]
    _, audit, cases, proc = folder_scan
    assert proc.returncode == 0, proc.stderr
    problems = _check_cases(audit, cases)
    assert not problems, "\n".join(problems)


def test_corpus_outputs_are_finite_and_classes_round_trip(folder_scan) -> None:  # type: ignore[no-untyped-def]
    _, audit, cases, _ = folder_scan
    assert_clean_audit(audit)
    loaded = load_audit(audit)
    classes = loaded.classes.set_index("class")
    expected = {c.label for c in cases if c.expect == USED} | {"empty-class", "rootlink"}
    assert set(classes.index) == expected  # HTML, CSV-hostile, "nan", "007" survive verbatim
    for name in (HTML_CLASS, CSV_CLASS, NAN_CLASS, NUMERIC_CLASS):
        assert name in classes.index
    counts = pd.Series([c.label for c in cases if c.expect == USED]).value_counts()
    for name, n in counts.items():
        assert classes.loc[name, "n"] == n, name
    assert classes.loc["empty-class", "n"] == 0 and classes.loc["empty-class", "flags"] == "empty"
    assert classes.loc["one-image", "scale"] == 0.0
    assert "few_images" in classes.loc["one-image", "flags"]
    assert np.isfinite(classes["scale"]).all() and np.isfinite(classes["weight"]).all()
    assert set(loaded.weights["weights"]) == expected
    features, _, paths, _ = semaudit.load_embeddings(audit)
    assert np.isfinite(features).all()
    row = {p: i for i, p in enumerate(paths)}
    np.testing.assert_array_equal(
        features[row["good/twin-a.png"]], features[row["good/twin-b.png"]]
    )


def _assert_report_escapes(audit: Path, out: Path) -> None:
    """The HTML and Markdown reports show hostile names as text: no markup gets through."""
    from html.parser import HTMLParser

    from semaudit.report import render_report

    result = render_report(audit, out, formats="html,md")
    assert result.html is not None and result.markdown is not None
    page = result.html.read_text(encoding="utf-8")
    found: list[tuple[str, list[tuple[str, str | None]]]] = []
    scripts: list[str] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.append((tag, attrs))

        def handle_data(self, data: str) -> None:
            if self.lasttag == "script":
                scripts.append(data)

    Collect().feed(page)
    assert not [(t, a) for t, a in found if any(name.startswith("on") for name, _ in a)]
    assert sum(t == "script" for t, _ in found) == 1 and "alert(1)" not in "".join(scripts)
    for raw in ("<img src=x", "<script>alert"):
        assert raw not in page and raw not in result.markdown.read_text(encoding="utf-8")


def test_report_escapes_hostile_class_names(folder_scan, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, audit, _, _ = folder_scan
    _assert_report_escapes(audit, tmp_path / "report")


def test_manifest_corpus_through_the_cli(tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    root, outside = tmp_path / "root", tmp_path / "outside"
    manifest, cases = write_manifest_corpus(root, outside)
    audit = tmp_path / "audit"
    monkeypatch.chdir(tmp_path)
    code = main(["scan", str(root), "--manifest", str(manifest), "--out", str(audit),
                 "--backbone", "pixels", "--workers", "0", "--quiet"])  # fmt: skip
    stderr = capsys.readouterr().err
    assert code == 0, stderr
    assert "Traceback" not in stderr
    problems = _check_cases(audit, cases)
    assert not problems, "\n".join(problems)
    assert_clean_audit(audit)
    _assert_report_escapes(audit, tmp_path / "report")  # labels hold <script>alert(1)</script>


def test_manifest_outside_root_only_when_allowed(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    manifest, _ = write_manifest_corpus(root, outside)
    result = semaudit.scan(root, manifest=manifest, out=tmp_path / "audit", backbone="pixels",
                           allow_outside_root=True, workers=0, probe=False)  # fmt: skip
    _, labels, paths, names = semaudit.load_embeddings(result.out)
    far = {str((outside / "far.png").resolve()), str((outside / "abs.png").resolve())}
    assert far <= set(paths)
    assert {names[c] for p, c in zip(paths, labels, strict=True) if p in far} == {"far"}
    skipped = load_audit(result.out).skipped
    assert not skipped["reason"].str.contains("outside the data root").any()
    assert skipped["reason"].str.contains("missing").any()  # the other bad rows still are


@pytest.mark.parametrize("command", ["scan", "check", "compare"])
def test_rich_markup_in_a_class_name_is_printed_verbatim(
    tmp_path: Path, capsys, command: str
) -> None:  # type: ignore[no-untyped-def]
    """Manifest labels can hold any text; a terminal table must show it, not interpret it."""
    from factories import make_audit

    names = ["[/]", "[bold red]loud", "plain"]
    if command == "scan":
        rows = []
        for k, label in enumerate(names):
            (tmp_path / str(k)).mkdir()
            for i in range(5):
                (tmp_path / str(k) / f"{i}.png").write_bytes(png_bytes(100 * k + i))
                rows.append((f"{k}/{i}.png", label))
        pd.DataFrame(rows, columns=["path", "label"]).to_csv(tmp_path / "m.csv", index=False)
        args = ["scan", str(tmp_path), "--manifest", str(tmp_path / "m.csv"), "--out",
                str(tmp_path / "audit"), "--backbone", "pixels", "--workers", "0", "--quiet",
                "--no-probe"]  # fmt: skip
    else:
        audit = make_audit(tmp_path / "audit", counts=[10, 3, 8], names=names)
        args = (["check", str(audit), "--min-images-per-class", "5", "-v"] if command == "check"
                else ["compare", str(audit), str(audit)])  # fmt: skip
    code = main(args)
    captured = capsys.readouterr()
    assert code in (0, 1), captured.err
    assert "[bold red]loud" in captured.out


# --- each trap at the unit level -----------------------------------------------------------


def _load(tmp_path: Path, name: str, data: bytes):  # type: ignore[no-untyped-def]
    path = tmp_path / name
    path.write_bytes(data)
    return load_image(path)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    image, reason = _load(tmp_path, "r.jpg", exif_rotated_jpeg(1, size=(40, 20)))
    assert reason == "" and image.size == (20, 40) and image.mode == "RGB"


def test_sixteen_bit_grey_keeps_its_contrast(tmp_path: Path) -> None:
    image, reason = _load(tmp_path, "g.png", gray16_png(2))
    arr = np.asarray(image)
    assert reason == "" and image.mode == "RGB"
    assert arr.std() > 10 and 0 < arr.mean() < 255  # rescaled, not clipped to white


def test_palette_transparency_is_composited_on_white(tmp_path: Path) -> None:
    from PIL import Image

    path = tmp_path / "p.png"
    path.write_bytes(palette_png_transparent(3))
    with Image.open(path) as raw:
        transparent = np.asarray(raw) == raw.info["transparency"]
    image, reason = load_image(path)
    assert reason == "" and transparent.any()
    assert (np.asarray(image)[transparent] == 255).all()


def test_animated_gif_gives_its_first_frame(tmp_path: Path) -> None:
    from PIL import Image

    path = tmp_path / "a.gif"
    path.write_bytes(animated_gif(4))
    with Image.open(path) as raw:
        assert raw.n_frames == 3
        first = np.asarray(raw.convert("RGB"))
    image, reason = load_image(path)
    assert reason == ""
    np.testing.assert_array_equal(np.asarray(image), first)


def test_cmyk_is_converted(tmp_path: Path) -> None:
    image, reason = _load(tmp_path, "c.jpg", cmyk_jpeg(5))
    assert reason == "" and image.mode == "RGB" and np.asarray(image).std() > 5


def test_decompression_bomb_refused_from_its_header(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from PIL import ImageFile

    def no_decoding(self):  # type: ignore[no-untyped-def]
        raise AssertionError("a decompression bomb reached the decoder")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    data = bomb_png()
    assert len(data) < 200
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tick = time.perf_counter()
    for size in (40_000, 14_000):
        image, reason = _load(tmp_path, f"bomb-{size}.png", bomb_png(size, size))
        assert image is None
        assert reason == f"decompression bomb ({size * size} pixels > limit 178956970)"
    assert time.perf_counter() - tick < 2
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KiB


def test_aspect_ratio_bomb_refused_from_its_header(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from PIL import ImageFile

    data = strip_png()
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: pytest.fail("decoded"))
    image, reason = _load(tmp_path, "strip.png", data)
    assert len(data) < 2000 and image is None
    assert reason.startswith("extreme aspect ratio (1×40000 > 100:1)")
    monkeypatch.undo()
    image, reason = _load(tmp_path, "wide.png", png_bytes(2, (1000, 10)))
    assert reason == "" and image.size == (1000, 10)


def test_decoder_exceptions_become_reasons(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from PIL import ImageFile

    def broken(self):  # type: ignore[no-untyped-def]
        raise struct.error("unpack requires a buffer of 4 bytes")

    monkeypatch.setattr(ImageFile.ImageFile, "load", broken)
    image, reason = _load(tmp_path, "x.png", png_bytes(6))
    assert image is None and reason == "unreadable: error: unpack requires a buffer of 4 bytes"


def test_file_vanishing_after_listing(tmp_path: Path) -> None:
    for i in range(3):
        (tmp_path / "data" / "a").mkdir(parents=True, exist_ok=True)
        (tmp_path / "data" / "a" / f"{i}.png").write_bytes(png_bytes(10 + i))
    inventory = discover_folder(tmp_path / "data")
    inventory.items[1].abspath.unlink()
    hashes = hash_items(inventory.items)
    assert hashes[1] is None and hashes[0] is not None and hashes[2] is not None
    image, reason = load_image(inventory.items[1].abspath)
    assert image is None and reason == "missing: file disappeared after it was listed"


@pytest.mark.parametrize("when", ["before hashing", "after hashing"])
def test_scan_survives_a_file_vanishing_and_retries_it_later(
    tmp_path: Path, monkeypatch, when: str
) -> None:  # type: ignore[no-untyped-def]
    """A vanished file is skipped as missing; that failure is not cached against its bytes."""
    import semaudit.scanner.run

    data = tmp_path / "data"
    for c in ("a", "b"):
        (data / c).mkdir(parents=True)
        for i in range(5):
            (data / c / f"{i}.png").write_bytes(png_bytes(ord(c) * 10 + i))
    victim = data / "a" / "2.png"
    saved = victim.read_bytes()
    real_hash_items = semaudit.scanner.run.hash_items

    def vanish(items):  # type: ignore[no-untyped-def]
        items = list(items)
        if when == "before hashing":
            victim.unlink()
        hashes = real_hash_items(items)
        if when == "after hashing":
            victim.unlink()
        return hashes

    monkeypatch.setattr(semaudit.scanner.run, "hash_items", vanish)
    kwargs = {"out": tmp_path / "audit", "backbone": "pixels", "workers": 0, "probe": False}
    result = semaudit.scan(data, **kwargs)
    skipped = load_audit(result.out).skipped
    assert skipped.values.tolist() == [["a/2.png", "missing: file disappeared after it was listed"]]
    assert result.n_images == 9
    monkeypatch.setattr(semaudit.scanner.run, "hash_items", real_hash_items)
    victim.write_bytes(saved)
    again = semaudit.scan(data, **kwargs)
    assert again.n_images == 10 and again.n_skipped == 0
    assert load_audit(again.out).skipped.empty


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_unreadable_file_is_an_io_error(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "a").mkdir(parents=True)
    for i in range(3):
        (data / "a" / f"{i}.png").write_bytes(png_bytes(i))
    (data / "a" / "1.png").chmod(0)
    result = semaudit.scan(data, out=tmp_path / "audit", backbone="pixels", workers=0, probe=False)
    skipped = load_audit(result.out).skipped
    assert skipped.values.tolist() == [["a/1.png", "i/o error: the file could not be read"]]
