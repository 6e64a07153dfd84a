"""Find images: class-per-folder trees and manifests; ``discover_source`` for any DATA.

Discovery returns what it skipped with a reason, so one bad file never kills a scan.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from semaudit.errors import InputError

# torchvision ImageFolder's extensions (a folder it reads gives the same classes and counts
# here), plus .gif
IMAGE_EXTENSIONS = (
    ".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp", ".gif",
)  # fmt: skip


@dataclass(frozen=True)
class ImageItem:
    """One image to embed: ``path`` relative to the data root (POSIX), its class and file facts.

    A member of a ``.tar`` shard has ``abspath`` = the archive and ``offset`` = where its bytes
    start in it (``size`` bytes); a plain file has ``offset = -1``. A row of a Hugging Face
    parquet / Arrow shard has ``abspath`` = the shard, ``offset`` = its row in the shard and
    ``column`` = the image column; ``digest``, when set, is its content hash (computed while
    it was listed).
    """

    path: str
    label: str
    abspath: Path
    size: int
    mtime: int
    offset: int = -1
    column: str = ""
    digest: str = ""


@dataclass(frozen=True)
class Inventory:
    """Everything discovery found: usable images, every class (empty ones too), what it skipped."""

    root: Path
    items: list[ImageItem]
    classes: list[str]
    skipped: list[tuple[str, str]]
    kind: str = "folder"  # what was read: folder, tar, parquet or arrow (audit.json source.kind)


def _is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


def _stat_item(abspath: Path, rel: str, label: str) -> ImageItem | tuple[str, str]:
    try:
        st = abspath.stat()
    except FileNotFoundError:
        return rel, "broken symlink" if abspath.is_symlink() else "missing"
    except OSError as exc:
        return rel, f"unreadable: {exc.strerror or exc}"
    if not abspath.is_file():
        return rel, "not a regular file"
    if st.st_size == 0:
        return rel, "empty file"
    return ImageItem(rel, label, abspath, int(st.st_size), int(st.st_mtime_ns))


def _printable(rel: str) -> str:
    """A path fit for CSV and parquet: bytes that are not UTF-8 shown as ``\\xff`` escapes."""
    return os.fsencode(rel).decode("utf-8", "backslashreplace")


def _is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes arrive as surrogate escapes
        return False
    return True


_NOT_UTF8 = "file name is not valid UTF-8 (rename it)"


def _walk_class(
    root: Path,
    folder: Path,
    label: str,
    skipped: list[tuple[str, str]],
    outer: set[tuple[int, int]],
) -> list[ImageItem]:
    """Images under one class folder, nested folders included, hidden entries and loops skipped.

    ``outer`` holds the data root and its ancestors: a link back to one of them is a loop.
    """
    items: list[ImageItem] = []
    seen = set(outer)

    def unlisted(exc: OSError) -> None:
        where = os.path.relpath(exc.filename, root) if exc.filename else label
        skipped.append((_printable(where), f"unreadable folder: {exc.strerror or exc}"))

    for dirpath, dirnames, filenames in os.walk(folder, onerror=unlisted, followlinks=True):
        here = Path(dirpath)
        rel_here = here.relative_to(root).as_posix()
        try:
            st = here.stat()
        except OSError as exc:
            skipped.append((_printable(rel_here), f"unreadable folder: {exc.strerror or exc}"))
            dirnames[:] = []
            continue
        if (st.st_dev, st.st_ino) in seen:
            skipped.append((_printable(rel_here), "symlink loop: folder already visited"))
            dirnames[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith(".") or not _is_image_name(name):
                continue
            abspath = here / name
            rel = abspath.relative_to(root).as_posix()
            if not _is_utf8(rel):
                skipped.append((_printable(rel), _NOT_UTF8))
                continue
            found = _stat_item(abspath, rel, label)
            if isinstance(found, ImageItem):
                items.append(found)
            else:
                skipped.append(found)
    return items


def _no_images(where: Path) -> InputError:
    exts = " ".join(IMAGE_EXTENSIONS)
    return InputError(
        f"found no images under {where} (looked for {exts} in one sub-folder per class); "
        "point at a folder of class folders or pass --manifest FILE.csv."
    )


SPLIT_NAMES = frozenset({"train", "training", "val", "valid", "validation", "dev", "test", "eval"})


def _check_layout(
    root: Path, classes: list[str], items: list[ImageItem], skipped: list[tuple[str, str]]
) -> None:
    """The two wrong folders a newcomer points at: one class folder, and a split root."""
    loose = sum(1 for _, reason in skipped if reason == "not inside a class folder")
    if not items and loose:
        raise InputError(
            f"{root} holds {loose} images but no class folders; semaudit needs one sub-folder "
            f"per class: if {root.name} is one class, point at its parent ({root.parent}), or "
            "pass --manifest FILE.csv."
        )
    if not items:
        raise _no_images(root)
    splits = [name for name in classes if name.lower() in SPLIT_NAMES]
    if splits == classes and all(item.path.count("/") >= 2 for item in items):
        first = next((s for s in splits if s.lower() in ("train", "training")), splits[0])
        raise InputError(
            f"{root} holds split folders ({', '.join(splits)}), not class folders; scan one "
            f"split: semaudit scan {root / first} (its sub-folders are the classes), or pass "
            "--manifest FILE.csv with a split column."
        )


def discover_folder(root: str | os.PathLike[str]) -> Inventory:
    """A class-per-folder tree: every non-hidden sub-folder of ``root`` is a class."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"data folder {root} does not exist or is not a folder; check the path.")
    skipped: list[tuple[str, str]] = []
    classes: list[str] = []
    items: list[ImageItem] = []
    outer = set()
    for folder in (root, *root.resolve().parents):
        st = folder.stat()
        outer.add((st.st_dev, st.st_ino))
    for entry in sorted(root.iterdir(), key=lambda p: p.name):
        if entry.name.startswith("."):
            continue
        if not _is_utf8(entry.name):
            skipped.append((_printable(entry.name), _NOT_UTF8.replace("file", "class folder")))
        elif entry.is_dir():
            classes.append(entry.name)
            items.extend(_walk_class(root, entry, entry.name, skipped, outer))
        elif _is_image_name(entry.name):
            skipped.append((entry.name, "not inside a class folder"))
    _check_layout(root, classes, items, skipped)
    return Inventory(root, sorted(items, key=lambda i: i.path), classes, skipped)


def read_manifest(
    manifest: str | os.PathLike[str],
    *,
    root: str | os.PathLike[str] | None = None,
    split: str | None = None,
    allow_outside_root: bool = False,
) -> Inventory:
    """A CSV or parquet manifest with columns ``path,label[,split]``.

    Relative paths resolve against ``root`` (default: the manifest's folder). Missing files,
    duplicate rows and paths outside the root (unless allowed) are skipped with a reason.
    """
    import pandas as pd

    manifest = Path(manifest)
    if not manifest.is_file():
        raise InputError(f"manifest {manifest} does not exist; check the path.")
    try:
        if manifest.suffix.lower() in (".parquet", ".pq"):
            frame = pd.read_parquet(manifest)
        else:
            frame = pd.read_csv(manifest, dtype=str, keep_default_na=False)
    except Exception as exc:  # pandas raises many types for malformed files
        raise InputError(
            f"manifest {manifest} could not be read ({exc}); expected CSV or parquet."
        ) from None
    missing = {"path", "label"} - set(frame.columns)
    if missing:
        raise InputError(
            f"manifest {manifest} lacks column(s) {sorted(missing)}; "
            f"it has {list(frame.columns)}; expected path,label[,split]."
        )
    if split is not None:
        if "split" not in frame.columns:
            raise InputError(
                f"split {split!r} asked for but manifest {manifest} has no split column; "
                "add one or leave the split out."
            )
        frame = frame[frame["split"].astype(str) == split]
    base = Path(root) if root is not None else manifest.parent
    base_real = base.resolve()
    skipped: list[tuple[str, str]] = []
    items: dict[str, ImageItem] = {}
    first_row: dict[str, int] = {}
    for row_number, (raw_path, raw_label) in enumerate(
        zip(frame["path"].astype(str), frame["label"].astype(str), strict=True), start=2
    ):
        label = raw_label.strip()
        if not raw_path.strip() or not label:
            skipped.append((raw_path, f"manifest row {row_number}: empty path or label"))
            continue
        if "\x00" in raw_path:
            skipped.append(
                (raw_path.replace("\x00", "\\x00"), "invalid path: it contains a NUL byte")
            )
            continue
        abspath = Path(raw_path) if Path(raw_path).is_absolute() else base / raw_path
        real = abspath.resolve()
        inside = real.is_relative_to(base_real)
        rel = real.relative_to(base_real).as_posix() if inside else real.as_posix()
        if not inside and not allow_outside_root:
            skipped.append(
                (raw_path, "outside the data root (pass --allow-outside-root to use it)")
            )
            continue
        if rel in items:
            skipped.append((raw_path, f"duplicate of manifest row {first_row[rel]}"))
            continue
        if not abspath.exists():
            skipped.append((raw_path, "missing"))
            continue
        found = _stat_item(abspath, rel, label)
        if isinstance(found, ImageItem):
            items[rel] = found
            first_row[rel] = row_number
        else:
            skipped.append(found)
    if not items:
        raise InputError(
            f"manifest {manifest} lists no usable image ({len(skipped)} rows skipped); "
            "check its paths against the root folder."
        )
    classes = sorted({i.label for i in items.values()})
    return Inventory(base, sorted(items.values(), key=lambda i: i.path), classes, skipped)
