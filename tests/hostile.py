"""A hostile-input corpus, generated on the fly (no binary blobs in the repository).

``write_folder_corpus(root)`` builds a class-per-folder dataset full of traps and returns the
list of ``Case``s it planted: for each, whether ``scan`` must use it, skip it (with a reason
substring that ``skipped.csv`` must show) or ignore it silently (hidden entries, non-image
names). ``write_manifest_corpus(root)`` does the same for a CSV manifest. Everything is seeded,
so two calls write byte-identical files.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

USED, SKIPPED, IGNORED = "used", "skipped", "ignored"

HTML_CLASS = "<img src=x onerror=alert(1)>"
UNICODE_CLASS = "日本語 ünïcødé 🐱"
SHELL_CLASS = "$(touch pwned) & 'x' \"y\" |z; rm -rf ~"
CSV_CLASS = 'a,b "c"\tq'
NAN_CLASS = "nan"
NUMERIC_CLASS = "007"
SHELL_NAMES = (
    "$(touch pwned).png",
    "`id`.png",
    "; rm -rf ~.png",
    "-rf --help.png",
    "new\nline.png",
    "tab\there.png",
    "back\\slash.png",
    "quote'\"both.png",
    "comma,semi;colon.png",
    "%s%n%x {0} {{}}.png",
    "*?[glob].png",
    "=HYPERLINK(1).png",
    "  spaces  .png",
    "x" * 200 + ".png",
)
BAD_UTF8 = b"bad-utf8-\xff\xfe.png"


@dataclass(frozen=True)
class Case:
    """One planted input: its path relative to the data root and what ``scan`` must do with it.

    ``label`` is the class a used image must land in; ``reason`` a substring of its
    ``skipped.csv`` reason (case-insensitive).
    """

    name: str
    path: str
    expect: str
    label: str = ""
    reason: str = ""


# --- file builders ------------------------------------------------------------------------


def _pattern(seed: int, size: tuple[int, int] = (32, 32), channels: int = 3) -> np.ndarray:
    """A seeded image that is not noise alone (so every image embeds differently)."""
    rng = np.random.default_rng(seed)
    h, w = size[1], size[0]
    yy, xx = np.mgrid[0:h, 0:w]
    base = (np.sin(xx / (2 + seed % 5)) + np.cos(yy / (3 + seed % 7))) * 60 + 128
    noise = rng.normal(0, 25, size=(h, w, channels))
    return np.clip(base[..., None] + noise, 0, 255).astype(np.uint8)


def png_bytes(seed: int, size: tuple[int, int] = (32, 32), mode: str = "RGB") -> bytes:
    from PIL import Image

    arr = _pattern(seed, size)
    image = Image.fromarray(arr, "RGB").convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _encode(image, fmt: str, **kwargs) -> bytes:  # type: ignore[no-untyped-def]
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def _rgb(seed: int, size: tuple[int, int] = (32, 32)):  # type: ignore[no-untyped-def]
    from PIL import Image

    return Image.fromarray(_pattern(seed, size), "RGB")


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def raw_png(width: int, height: int, *, bit_depth: int = 8, color_type: int = 0,
            rows: bytes = b"") -> bytes:  # fmt: skip
    """A PNG written by hand: any IHDR (even a lying one) and ``rows`` as the IDAT payload."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr)
            + _chunk(b"IDAT", zlib.compress(rows)) + _chunk(b"IEND", b""))  # fmt: skip


def bomb_png(width: int = 40_000, height: int = 40_000) -> bytes:
    """A ~70-byte PNG claiming ``width × height`` pixels (1.6 gigapixels by default)."""
    return raw_png(width, height, rows=b"\x00" * 16)


def strip_png(width: int = 1, height: int = 40_000) -> bytes:
    """A valid grey PNG of a few hundred bytes whose resize to a 224-px short side is huge."""
    return raw_png(width, height, rows=(b"\x00" + b"\x80" * width) * height)


def rgb48_png(seed: int, size: int = 16) -> bytes:
    """16 bits per channel RGB (Pillow reads it as 8-bit RGB)."""
    arr = (_pattern(seed, (size, size)).astype(">u2") * 257).tobytes()
    stride = size * 6
    rows = b"".join(b"\x00" + arr[r * stride : (r + 1) * stride] for r in range(size))
    return raw_png(size, size, bit_depth=16, color_type=2, rows=rows)


def gray16_png(seed: int, size: tuple[int, int] = (24, 24)) -> bytes:
    from PIL import Image

    arr = _pattern(seed, size, 1)[..., 0].astype(np.uint16) * 257
    return _encode(Image.fromarray(arr), "PNG")


def cmyk_jpeg(seed: int) -> bytes:
    return _encode(_rgb(seed).convert("CMYK"), "JPEG", quality=90)


def palette_png_transparent(seed: int) -> bytes:
    image = _rgb(seed).convert("P", palette=1, colors=16)  # 1 = Image.Palette.ADAPTIVE
    return _encode(image, "PNG", transparency=0)


def la_png(seed: int) -> bytes:
    from PIL import Image

    arr = _pattern(seed, (24, 24), 2)
    return _encode(Image.fromarray(arr, "LA"), "PNG")


def animated_gif(seed: int, frames: int = 3) -> bytes:
    images = [_rgb(seed + i).convert("P") for i in range(frames)]
    return _encode(images[0], "GIF", save_all=True, append_images=images[1:], duration=50, loop=0)


def exif_rotated_jpeg(seed: int, size: tuple[int, int] = (40, 20), orientation: int = 6) -> bytes:
    """A landscape JPEG whose EXIF says "rotate 90°": decoded, it must be portrait."""
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = orientation
    return _encode(_rgb(seed, size), "JPEG", exif=exif.tobytes(), quality=90)


def jpeg_bytes(seed: int, size: tuple[int, int] = (48, 48)) -> bytes:
    return _encode(_rgb(seed, size), "JPEG", quality=90)


def truncate(data: bytes, keep: float = 0.5) -> bytes:
    return data[: max(1, int(len(data) * keep))]


# --- corpora ------------------------------------------------------------------------------


def _write(root: Path, rel: str, data: bytes) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def write_folder_corpus(root: Path) -> list[Case]:
    """Write the class-per-folder hostile corpus under ``root``; return what it planted."""
    from PIL import Image

    root.mkdir(parents=True, exist_ok=True)
    cases: list[Case] = []
    seed = iter(range(1000, 100_000))

    def used(name: str, rel: str, data: bytes | None = None) -> None:
        if data is not None:
            _write(root, rel, data)
        cases.append(Case(name, rel, USED, label=rel.split("/", 1)[0]))

    def skipped(name: str, rel: str, reason: str, data: bytes | None = None) -> None:
        if data is not None:
            _write(root, rel, data)
        cases.append(Case(name, rel, SKIPPED, reason=reason))

    def ignored(name: str, rel: str, data: bytes | None = None) -> None:
        if data is not None:
            _write(root, rel, data)
        cases.append(Case(name, rel, IGNORED))

    # A plain class, so statistics have something ordinary to work on.
    for i in range(6):
        used("plain png", f"good/plain-{i}.png", png_bytes(next(seed)))
    # Image flavours that must be converted, not skipped.
    used("CMYK JPEG", "good/cmyk.jpg", cmyk_jpeg(next(seed)))
    used("16-bit grey PNG", "good/gray16.png", gray16_png(next(seed)))
    used("16-bit RGB PNG", "good/rgb48.png", rgb48_png(next(seed)))
    used("palette PNG with transparency", "good/palette-transparent.png",
         palette_png_transparent(next(seed)))  # fmt: skip
    used("grey + alpha PNG", "good/la.png", la_png(next(seed)))
    used("animated GIF", "good/animated.gif", animated_gif(next(seed)))
    used("EXIF-rotated JPEG", "good/exif-rotated.jpg", exif_rotated_jpeg(next(seed)))
    used("1×1 image", "good/one-pixel.png", png_bytes(next(seed), (1, 1)))
    used("panorama 10:1", "good/panorama.png", png_bytes(next(seed), (200, 20)))
    used("WebP", "good/image.webp", _encode(_rgb(next(seed)), "WEBP"))
    used("BMP", "good/image.bmp", _encode(_rgb(next(seed)), "BMP"))
    used("TIFF", "good/image.tif", _encode(_rgb(next(seed)), "TIFF"))
    used("upper-case extension", "good/UPPER.JPG", jpeg_bytes(next(seed)))
    used("JPEG named .png", "good/really-a-jpeg.png", jpeg_bytes(next(seed)))
    used("nested sub-folders", "good/sub/deeper/nested.png", png_bytes(next(seed)))
    twin = png_bytes(next(seed))
    used("duplicate content (first)", "good/twin-a.png", twin)
    used("duplicate content (second)", "good/twin-b.png", twin)

    # Files that must be skipped, each with its reason.
    for i in range(2):
        used("plain png", f"bad/ok-{i}.png", png_bytes(next(seed)))
    skipped("zero-byte file", "bad/zero.png", "empty file", b"")
    skipped("truncated JPEG", "bad/truncated.jpg", "truncated",
            truncate(jpeg_bytes(next(seed), (96, 96))))  # fmt: skip
    skipped("truncated PNG", "bad/truncated.png", "truncated",
            truncate(png_bytes(next(seed), (96, 96))))  # fmt: skip
    skipped("text with an image extension", "bad/text.jpg", "not an image", b"just some text\n")
    skipped("HTML with an image extension", "bad/page.png", "not an image",
            b"<html><script>alert(1)</script></html>")  # fmt: skip
    skipped("decompression bomb 40000×40000 PNG", "bad/bomb.png", "decompression bomb",
            bomb_png())  # fmt: skip
    skipped("decompression bomb just over the limit", "bad/bomb-warn.png", "decompression bomb",
            bomb_png(14_000, 14_000))  # fmt: skip
    skipped("1 × 40000 strip (aspect-ratio bomb)", "bad/strip.png", "extreme aspect ratio",
            strip_png())  # fmt: skip
    skipped("PNG claiming 0×0 pixels", "bad/zero-size.png", "not an image", raw_png(0, 0))
    skipped("garbage after a PNG signature", "bad/signature-only.png", "not an image",
            b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)  # fmt: skip
    os.mkfifo(root / "bad" / "fifo.png")
    skipped("named pipe with an image name", "bad/fifo.png", "not a regular file")
    os.symlink("nowhere.png", root / "bad" / "dangling.png")
    skipped("dangling symlink", "bad/dangling.png", "broken symlink")
    os.symlink("self-loop.png", root / "bad" / "self-loop.png")
    skipped("symlink to itself", "bad/self-loop.png", "symbolic links")
    os.symlink(".", root / "bad" / "loop")
    skipped("symlink loop to the class folder", "bad/loop", "symlink loop")
    os.symlink("..", root / "bad" / "to-root")
    skipped("symlink loop to the data root", "bad/to-root", "symlink loop")
    os.symlink(".", root / "rootlink")
    skipped("class folder that is a link to the root", "rootlink", "symlink loop")
    skipped("image outside any class folder", "stray.png", "not inside a class folder",
            png_bytes(next(seed)))  # fmt: skip
    _write(root, os.fsdecode(b"bad/" + BAD_UTF8), png_bytes(next(seed)))
    skipped("file name that is not UTF-8", "bad/bad-utf8-\\xff\\xfe.png", "not valid UTF-8")
    _write(root, os.fsdecode(b"bad-class-\xff/x.png"), png_bytes(next(seed)))
    skipped("class folder name that is not UTF-8", "bad-class-\\xff", "not valid UTF-8")

    # Names that break shells, HTML, CSV and pandas' NA detection.
    for i in range(5):
        used("HTML class name", f"{HTML_CLASS}/{i}.png", png_bytes(next(seed)))
    for rel in ("ファイル.png", "café.png", "cafe\u0301.png", "emoji 🐱.png"):
        used("unicode file name", f"{UNICODE_CLASS}/{rel}", png_bytes(next(seed)))
    for rel in SHELL_NAMES:
        used("shell-hostile file name", f"{SHELL_CLASS}/{rel}", png_bytes(next(seed)))
    for i in range(3):
        used("CSV-hostile class name", f"{CSV_CLASS}/{i}.png", png_bytes(next(seed)))
        used("class named nan", f"{NAN_CLASS}/{i}.png", png_bytes(next(seed)))
        used("class named 007", f"{NUMERIC_CLASS}/{i}.png", png_bytes(next(seed)))

    # Small classes: reported, flagged, never NaN.
    (root / "empty-class").mkdir()
    used("one-image class", "one-image/only.png", png_bytes(next(seed)))

    # Hidden entries and non-image names are not data: ignored without a skipped row.
    ignored("hidden class folder", ".hidden-class/x.png", png_bytes(next(seed)))
    ignored("hidden file", "good/.hidden.png", png_bytes(next(seed)))
    ignored("AppleDouble file", "good/._plain-0.png", b"\x00\x05\x16\x07junk")
    ignored("hidden sub-folder", "good/.cache/x.png", png_bytes(next(seed)))
    ignored(".DS_Store", "good/.DS_Store", b"\x00\x00\x00\x01Bud1")
    ignored("non-image file", "good/labels.txt", b"not data\n")
    ignored("folder with an image extension", "good/folder.png/.keep", b"")

    assert Image  # imported for the builders' side effects (plugins registered)
    return cases


MANIFEST_LABELS = ("a,b", 'quote"d', "<script>alert(1)</script>", "日本", "nan", "007")


def write_manifest_corpus(root: Path, outside: Path) -> tuple[Path, list[Case]]:
    """A manifest under ``root`` with good rows and every kind of bad row; ``outside`` is a
    folder beside ``root`` holding images that the manifest points at from outside the root.

    Case paths are the manifest's raw ``path`` cells (what skipped.csv reports for refused rows).
    """
    import pandas as pd

    cases: list[Case] = []
    rows: list[tuple[str, str]] = []
    seed = iter(range(5000, 100_000))
    for label in MANIFEST_LABELS:
        for i in range(3):
            rel = f"images/{MANIFEST_LABELS.index(label)}-{i}.png"
            _write(root, rel, png_bytes(next(seed)))
            rows.append((rel, label))
            cases.append(Case("odd label", rel, USED, label=label))
    _write(root, "images/padded.png", png_bytes(next(seed)))
    rows.append(("images/padded.png", "  padded  "))
    cases.append(Case("label with spaces around it", "images/padded.png", USED, label="padded"))
    rows.append(("images/0-0.png", "a,b"))
    cases.append(
        Case("duplicate row", "images/0-0.png", SKIPPED, reason="duplicate of manifest row 2")
    )
    rows.append(("./images/0-1.png", "a,b"))
    cases.append(
        Case(
            "duplicate through ./",
            "./images/0-1.png",
            SKIPPED,
            reason="duplicate of manifest row 3",
        )
    )
    rows.append(("images/missing.png", "a,b"))
    cases.append(Case("missing file", "images/missing.png", SKIPPED, reason="missing"))
    rows.append(("images/nope/../../../etc/passwd", "a,b"))
    cases.append(
        Case(
            "path traversal",
            "images/nope/../../../etc/passwd",
            SKIPPED,
            reason="outside the data root",
        )
    )
    _write(outside, "far.png", png_bytes(next(seed)))
    rel_out = os.path.relpath(outside / "far.png", root)
    rows.append((rel_out, "far"))
    cases.append(
        Case("relative path outside the root", rel_out, SKIPPED, reason="outside the data root")
    )
    _write(outside, "abs.png", png_bytes(next(seed)))
    rows.append((str(outside / "abs.png"), "far"))
    cases.append(Case("absolute path outside the root", str(outside / "abs.png"), SKIPPED,
                      reason="outside the data root"))  # fmt: skip
    os.symlink(outside / "far.png", root / "images" / "link-out.png")
    rows.append(("images/link-out.png", "far"))
    cases.append(Case("symlink leading outside the root", "images/link-out.png", SKIPPED,
                      reason="outside the data root"))  # fmt: skip
    rows.append(("", "a,b"))
    cases.append(Case("empty path", "", SKIPPED, reason="empty path or label"))
    _write(root, "images/nolabel.png", png_bytes(next(seed)))
    rows.append(("images/nolabel.png", "   "))
    cases.append(Case("blank label", "images/nolabel.png", SKIPPED, reason="empty path or label"))
    rows.append(("images", "a,b"))
    cases.append(Case("a folder", "images", SKIPPED, reason="not a regular file"))
    rows.append(("images/nul\x00byte.png", "a,b"))
    cases.append(Case("NUL byte in path", "images/nul\\x00byte.png", SKIPPED, reason="NUL byte"))
    _write(root, "images/broken.jpg", truncate(jpeg_bytes(next(seed), (96, 96))))
    rows.append(("images/broken.jpg", "a,b"))
    cases.append(Case("truncated JPEG", "images/broken.jpg", SKIPPED, reason="truncated"))
    _write(root, "images/bomb.png", bomb_png())
    rows.append(("images/bomb.png", "a,b"))
    cases.append(
        Case("decompression bomb", "images/bomb.png", SKIPPED, reason="decompression bomb")
    )
    frame = pd.DataFrame(rows, columns=["path", "label"])
    frame["split"] = "train"
    manifest = root / "manifest.csv"
    frame.to_csv(manifest, index=False)
    return manifest, cases


# --- checks shared by the reliability tests -----------------------------------------------


def cli_env(**extra: str) -> dict[str, str]:
    """The environment for a ``python -m semaudit`` subprocess: offline, no stray settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEMAUDIT_")}
    env.update(HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1", **extra)
    return env


def run_cli(args: list[str], *, cwd: Path, timeout: float = 180, **env: str):  # type: ignore[no-untyped-def]
    """``python -m semaudit ARGS`` in a fresh interpreter; the ``CompletedProcess``."""
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "semaudit", *args],
        cwd=cwd, env=cli_env(**env), capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def _no_nan_constant(name: str) -> float:
    raise AssertionError(f"non-finite JSON constant {name}")


def assert_clean_audit(audit: Path) -> None:
    """Every output of ``audit`` is finite: strict JSON, numeric CSV cells empty or finite."""
    import json
    import math

    import pandas as pd

    from semaudit.store import CLASSES_COLUMNS, CURVES_COLUMNS

    for name in ("audit.json", "summary.json", "weights.json"):
        json.loads((audit / name).read_text(encoding="utf-8"), parse_constant=_no_nan_constant)
    for name, columns in (("classes.csv", CLASSES_COLUMNS), ("curves.csv", CURVES_COLUMNS)):
        frame = pd.read_csv(audit / name, dtype=str, keep_default_na=False)
        assert list(frame.columns) == columns, name
        for column in columns:
            if column in ("class", "flags", "note"):
                continue
            for cell in frame[column]:
                assert cell == "" or math.isfinite(float(cell)), f"{name}:{column} holds {cell!r}"
    assert not list(audit.glob(".*.tmp")), "temporary files left behind"
