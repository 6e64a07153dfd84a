"""Where the shards of a Hugging Face dataset are: parquet files, ``save_to_disk``, hub cache.

``locate`` turns DATA into a ``Located``: the root that row ids are relative to, the shard
files in order, their format, and the ``datasets`` features when a file states them. A split
is chosen with ``@SPLIT`` (or ``@CONFIG/SPLIT``) after the path or hub name; without it,
``train`` when there is one, else the only split.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from semaudit.errors import InputError

PARQUET = (".parquet",)
ARROW = (".arrow",)
HUB_PREFIX = "hf:"
DEFAULT_SPLIT = "train"


@dataclass(frozen=True)
class Located:
    """The shards of one split: ``kind`` is ``parquet`` or ``arrow``."""

    root: Path
    shards: list[Path]
    kind: str
    features: dict[str, Any] | None
    where: str  # DATA as the user gave it, for messages


def hub_cache() -> Path:
    """The hub cache folder, as ``huggingface_hub`` finds it (HF_HUB_CACHE, HF_HOME)."""
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(name):
            return Path(os.environ[name]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or "~/.cache", "huggingface"
    )
    return Path(home).expanduser() / "hub"


def split_spec(data: str | os.PathLike[str]) -> tuple[str, str | None]:
    """``(path or hub name, "@" suffix or None)``; a path that exists keeps its ``@``."""
    text = os.fspath(data)
    base, at, wanted = text.rpartition("@")
    if not at or (not text.startswith(HUB_PREFIX) and Path(text).exists()):
        return text, None
    return base, wanted or None


def is_save_to_disk(path: Path) -> bool:
    return path.is_dir() and (
        (path / "state.json").is_file() or (path / "dataset_dict.json").is_file()
    )


def has_parquet(path: Path) -> bool:
    """A folder with parquet shards in it (or in ``data/``, the hub's layout)."""
    if not path.is_dir():
        return False
    return any(
        p.is_file() and p.name.endswith(PARQUET)
        for d in (path, path / "data")
        if d.is_dir()
        for p in d.iterdir()
    )


def _split_of(rel: str) -> tuple[str, str]:
    """``(config, split)`` of a shard from its path: ``data/train-00000-of-00002.parquet``,
    ``CONFIG/train-0000.parquet``, ``CONFIG/train/0000.parquet`` (the hub's layouts)."""
    parts = rel.split("/")
    stem = parts[-1].rsplit(".", 1)[0]
    if re.fullmatch(r"\d+", stem) and len(parts) > 1:
        split, dirs = parts[-2], parts[:-2]
    else:
        split, dirs = re.split(r"[-_.]\d", stem, maxsplit=1)[0].split("-")[0], parts[:-1]
    config = "/".join(d for d in dirs if d != "data")
    return config, split


def _choose(
    groups: dict[tuple[str, str], list[Path]], wanted: str | None, where: str
) -> list[Path]:
    """The shards of the asked (or default) split among ``(config, split)`` groups."""
    config: str | None = None
    split: str | None = wanted
    if wanted is not None and "/" in wanted:
        config, split = wanted.rsplit("/", 1)
    found = [k for k in groups if config in (None, k[0]) and split in (None, k[1])]
    if split is None and len(found) > 1:
        found = [k for k in found if k[1] == DEFAULT_SPLIT] or found
    names = ", ".join(sorted(f"{c}/{s}" if c else s for c, s in groups))
    if len(found) != 1:
        what = f"has no split {wanted!r}" if not found else "holds several splits"
        raise InputError(
            f"{where} {what} (it has: {names}); name one with @SPLIT or @CONFIG/SPLIT, "
            f"e.g. {where.split('@')[0]}@{sorted(groups)[0][1]}."
        )
    return groups[found[0]]


def _parquet_shards(path: Path, wanted: str | None, where: str) -> tuple[Path, list[Path]]:
    if path.is_file():
        return path.parent, [path]
    files = sorted(
        p
        for p in path.rglob("*.parquet")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
    )
    groups: dict[tuple[str, str], list[Path]] = {}
    for file in files:
        groups.setdefault(_split_of(file.relative_to(path).as_posix()), []).append(file)
    if not groups:
        raise InputError(f"found no .parquet shard under {where}; check the path.")
    if len(groups) == 1 and not wanted:
        return path, files
    return path, _choose(groups, wanted, where)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path} could not be read ({exc}); is the dataset complete?") from None


def _saved(path: Path, wanted: str | None, where: str) -> Located:
    """A ``save_to_disk`` folder, or one split of a saved ``DatasetDict``."""
    if (path / "dataset_dict.json").is_file():
        splits = list(_read_json(path / "dataset_dict.json").get("splits") or [])
        groups = {("", s): [path / s] for s in splits}
        (path,) = _choose(groups, wanted, where)
        return _saved(path, None, f"{where}@{path.name}")
    state = _read_json(path / "state.json")
    names = [f.get("filename", "") for f in state.get("_data_files") or []]
    shards = [path / n for n in names if n]
    info = path / "dataset_info.json"
    features = _read_json(info).get("features") if info.is_file() else None
    return Located(path, shards, "arrow", features, where)


def _hub(name: str, wanted: str | None, where: str) -> Located:
    """``OWNER/NAME`` in the local hub cache: the ``main`` snapshot, else the newest one."""
    repo = hub_cache() / f"datasets--{name.replace('/', '--')}"
    snapshots = repo / "snapshots"
    fix = (
        f"download it first: hf download --repo-type dataset {name} "
        f"(or set HF_HOME / HF_HUB_CACHE to where it is cached)"
    )
    if not snapshots.is_dir():
        raise InputError(f"dataset {name} is not in the Hugging Face cache {hub_cache()}; {fix}.")
    ref = repo / "refs" / "main"
    main = snapshots / ref.read_text().strip() if ref.is_file() else None
    others = sorted(snapshots.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
    for snapshot in ([main] if main and main.is_dir() else []) + others:
        if any(snapshot.rglob("*.parquet")):
            root, shards = _parquet_shards(snapshot, wanted, where)
            return Located(root, shards, "parquet", None, where)
    raise InputError(
        f"dataset {name} in {repo} has no parquet shard cached; download the hub's parquet "
        f"conversion: hf download --repo-type dataset {name} --revision refs/convert/parquet."
    )


def locate(data: str | os.PathLike[str]) -> Located:
    """The shards DATA names (see the module docstring); ``InputError`` saying how to fix it."""
    text, wanted = split_spec(data)
    where = os.fspath(data)
    if text.startswith(HUB_PREFIX):
        name = text[len(HUB_PREFIX) :].strip("/")
        if not re.fullmatch(r"[\w.-]+(/[\w.-]+)?", name):
            raise InputError(f"{where} is not a hub dataset name; expected hf:OWNER/NAME[@SPLIT].")
        return _hub(name, wanted, where)
    path = Path(text)
    if is_save_to_disk(path):
        return _saved(path, wanted, where)
    if path.is_file() and path.name.endswith(ARROW):
        return Located(path.parent, [path], "arrow", None, where)
    if path.is_file() or has_parquet(path):
        root, shards = _parquet_shards(path, wanted, where)
        return Located(root, shards, "parquet", None, where)
    raise InputError(
        f"{where} is not a parquet file, a folder of parquet shards or a "
        "save_to_disk folder; check the path."
    )
