"""What a run trains and evaluates on: the audit checked against DATA, and the splits.

- train: DATA's images as the audit stored them (index rows, sorted by path; a sample's id is
  its row here). ``head`` uses the stored embeddings, ``last`` / ``full`` the image files.
- val: ``--val DIR``, else a stratified ``val_fraction`` of DATA (seed ``split_seed``: the same
  split for every method and seed), else none.
- test: ``--test DIR`` or none. Test is only ever evaluated once, after training.
For ``head``, val / test folders are embedded with the audit's own backbone and weights.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from semaudit.backbones import Backbone
from semaudit.data import ImageItem, discover_source
from semaudit.data.hf import is_hf_input
from semaudit.errors import BackboneError, InputError
from semaudit.scanner.job import new_out
from semaudit.store import Audit, load_audit
from semaudit.store.shards import load_embeddings, read_index
from semaudit.train.config import TrainConfig
from semaudit.train.overlap import OverlapCheck
from semaudit.values import plural

__all__ = ["Split", "TrainInputs", "audit_backbone", "load_inputs", "stratified_split"]

Events = Callable[[str, Any], None]


@dataclass(frozen=True)
class Split:
    """One split: labels (indices into the class names), and features (head) or items (images)."""

    name: str
    labels: np.ndarray
    features: np.ndarray | None = None
    items: list[ImageItem] | None = None

    def __len__(self) -> int:
        return int(self.labels.size)

    def subset(self, rows: np.ndarray, name: str) -> Split:
        return Split(
            name,
            self.labels[rows],
            None if self.features is None else self.features[rows],
            None if self.items is None else [self.items[i] for i in rows],
        )


@dataclass(frozen=True)
class TrainInputs:
    """Everything a run reads, checked; shared by every method × seed of ``--compare``."""

    data: Path
    audit: Audit
    class_names: list[str]
    audit_scales: np.ndarray  # (K,) the audit's S_c, in class order
    train: Split
    val: Split | None
    test: Split | None
    dim: int  # feature dimension of the stored embeddings
    folders: dict[str, str] = field(default_factory=dict)  # "val_dir" / "test_dir" when given
    overlap: dict[str, int] = field(default_factory=dict)  # images shared, kept (allow_overlap)

    @property
    def counts(self) -> np.ndarray:
        """Training images per class."""
        return np.bincount(self.train.labels, minlength=len(self.class_names))

    def describe(self) -> dict[str, Any]:
        return {
            "data": str(self.data),
            "audit": str(self.audit.path),
            "backbone": self.audit.backbone.id,
            "classes": self.class_names,
            "train": len(self.train),
            "val": len(self.val) if self.val is not None else 0,
            "test": len(self.test) if self.test is not None else 0,
            **self.folders,  # absent when not given: older run.json files still match
            **({"overlap": self.overlap} if self.overlap else {}),
        }


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of held-out rows: ``round(fraction · n_c)`` per class, at least 1 when
    ``n_c ≥ 2``, never the class's last image (each class keeps one training image)."""
    labels = np.asarray(labels)
    held = np.zeros(labels.size, dtype=bool)
    if fraction <= 0:
        return held
    rng = np.random.default_rng(seed)
    for c in np.unique(labels):
        rows = np.flatnonzero(labels == c)
        take = min(max(round(fraction * rows.size), 1), rows.size - 1)
        if take > 0:
            held[rng.permutation(rows)[:take]] = True
    return held


def _check_same_data(
    audit: Audit,
    data: Path,
    items: list[ImageItem],
    classes: list[str],
    index_paths: list[str],
    index_sizes: list[int],
    class_names: list[str],
) -> None:
    """The audit must have been made from DATA: same classes, same image files."""
    fresh = new_out(data)  # never the training audit: a rescan there would replace it
    fix = f"scan DATA with `semaudit scan {data} --out {fresh}`, then pass --audit {fresh}"
    only_data = sorted(set(classes) - set(class_names))
    only_audit = sorted(set(class_names) - set(classes))
    if only_data or only_audit:
        detail = "; ".join(
            part
            for part in (
                f"only in DATA: {', '.join(only_data[:3])}" if only_data else "",
                f"only in the audit: {', '.join(only_audit[:3])}" if only_audit else "",
            )
            if part
        )
        raise InputError(
            f"audit {audit.path} was made from other data: classes differ from "
            f"{data} ({detail}); {fix}."
        )
    on_disk = {item.path for item in items}
    skipped = set(audit.skipped["path"]) if "path" in audit.skipped else set()
    missing = [p for p in index_paths if p not in on_disk]
    extra = sorted(on_disk - set(index_paths) - skipped)
    if missing or extra:
        example = missing[0] if missing else extra[0]
        raise InputError(
            f"audit {audit.path} was made from other data: {len(missing)} of its images are "
            f"not under {data} and {len(extra)} images of {data} are not in it (e.g. "
            f"{example}); {fix}."
        )
    sizes = {item.path: item.size for item in items}
    changed = [p for p, n in zip(index_paths, index_sizes, strict=True) if sizes[p] != n]
    if changed:  # sizes only: a copied dataset keeps its sizes, not its modification times
        raise InputError(
            f"{len(changed)} of the images under {data} changed since audit {audit.path} was "
            "made (e.g. "
            f"{changed[0]}: another file size); {fix}."
        )


def _folder_split(
    name: str, folder: Path, inputs: dict[str, Any], config: TrainConfig, on_event: Events
) -> tuple[list[ImageItem], np.ndarray]:
    """Items and labels of a val / test folder whose classes must be the training classes
    (all of them, unless ``config.eval_present_classes``: then a warning names those left out)."""
    class_names, counts = inputs["class_names"], inputs["counts"]
    option = "--val" if name == "validation" else "--test"
    if not folder.exists() and not is_hf_input(folder):
        raise InputError(
            f"the {option} folder {folder} does not exist; pass a folder with one sub-folder "
            "per class, or leave out " + option + "."
        )
    settings = inputs["audit"].settings.raw  # a dataset's columns: those of the scan
    inventory = discover_source(
        folder, image_column=settings.get("image_column"), label_column=settings.get("label_column")
    )
    lookup = {c: i for i, c in enumerate(class_names)}
    unknown = sorted(set(inventory.classes) - set(lookup))
    if unknown:
        raise InputError(
            f"the {name} folder {folder} has class {unknown[0]!r}, which is not in the training "
            f"data; remove it or add it to DATA and rescan."
        )
    present = {item.label for item in inventory.items}
    absent = [c for c, n in zip(class_names, counts, strict=True) if n > 0 and c not in present]
    many = f"{len(absent)} classes have" if len(absent) != 1 else "1 class has"
    if absent and config.eval_present_classes:
        on_event("warning", f"{many} no {name} images and {'are' if len(absent) != 1 else 'is'}"
                 f" left out of the {name} scores (--eval-present-classes): "
                 f"{', '.join(absent[:10])}{' …' if len(absent) > 10 else ''}")  # fmt: skip
    elif absent:
        raise InputError(
            f"class {absent[0]!r} is missing from the {option} folder {folder} "
            f"({many} no {name} images); add images of it"
            + (", use --val-fraction instead of --val" if name == "validation" else "")
            + ", or pass --eval-present-classes to score the classes present."
        )
    labels = np.array([lookup[item.label] for item in inventory.items], dtype=np.int64)
    return inventory.items, labels


def audit_backbone(audit: Audit, device: str) -> Backbone:
    """The backbone ``audit`` was made with (same id, same weights digest), on ``device``."""
    from semaudit.backbones import backbone_key, create_backbone, resolve_backbone

    info = audit.backbone
    spec, _ = resolve_backbone(info.id, info.weights_path)
    if backbone_key(spec)["weights_digest"] != info.weights_digest:
        raise BackboneError(
            f"the weights of backbone {spec.id} differ from those audit {audit.path} was made "
            "with; rescan DATA with the current weights."
        )
    return create_backbone(spec, device)


def _embed(
    items: list[ImageItem], audit: Audit, device: str, on_event: Events
) -> tuple[np.ndarray, np.ndarray]:
    """Embed a val / test folder with the audit's backbone; returns features and kept rows."""
    from semaudit.runtime import resolve_device
    from semaudit.scanner.embed import embed_items

    backbone = audit_backbone(audit, resolve_device(device))
    on_event("embed_start", len(items))
    feats, keep = [], []
    offset = 0
    for chunk in embed_items(items, backbone, on_progress=lambda n: on_event("embed_progress", n)):
        ok = [offset + i for i, reason in enumerate(chunk.reasons) if not reason]
        feats.append(chunk.features)
        keep.extend(ok)
        offset += len(chunk.reasons)
    dropped = len(items) - len(keep)
    if dropped:
        on_event("warning", f"{plural(dropped, 'image')} could not be read and "
                 f"{'was' if dropped == 1 else 'were'} left out")  # fmt: skip
    features = np.concatenate(feats) if feats else np.zeros((0, backbone.embed_dim), np.float32)
    return features.astype(np.float32), np.asarray(keep, dtype=np.int64)


def _eval_split(
    name: str,
    folder: Path,
    inputs: dict[str, Any],
    config: TrainConfig,
    on_event: Events,
) -> Split:
    items, labels = _folder_split(
        "validation" if name == "val" else name, folder, inputs, config, on_event
    )
    inputs["overlap"].check(name, folder, items)  # train/overlap.py: by content hash
    if config.finetune != "head":
        return Split(name, labels, items=items)
    features, keep = _embed(items, inputs["audit"], config.device, on_event)
    return Split(name, labels[keep], features, [items[i] for i in keep])


def load_inputs(
    data: str | os.PathLike[str],
    audit_dir: str | os.PathLike[str],
    config: TrainConfig,
    *,
    val: str | os.PathLike[str] | None = None,
    test: str | os.PathLike[str] | None = None,
    split_seed: int = 0,
    on_event: Events | None = None,
) -> TrainInputs:
    """Load and cross-check DATA and its audit; build the train / val / test splits."""
    emit: Events = on_event or (lambda kind, payload: None)
    data = Path(data)
    audit = load_audit(audit_dir)
    inventory = discover_source(
        data,
        image_column=audit.settings.raw.get("image_column"),
        label_column=audit.settings.raw.get("label_column"),
    )
    features, labels, paths, class_names = load_embeddings(audit_dir)
    sizes = read_index(audit_dir).set_index("path")["size"].reindex(paths).astype(int).tolist()
    _check_same_data(audit, data, inventory.items, inventory.classes, paths, sizes, class_names)
    by_path = {item.path: item for item in inventory.items}
    train = Split("train", labels, features, [by_path[p] for p in paths])
    scales = audit.classes.set_index("class").reindex(class_names)["scale"].to_numpy(float)
    counts = np.bincount(labels, minlength=len(class_names))
    overlap = OverlapCheck(data, audit_dir, config.allow_overlap, emit)
    shared = {"class_names": class_names, "audit": audit, "counts": counts, "overlap": overlap}
    val_split: Split | None = None
    if val is not None:
        val_split = _eval_split("val", Path(val), shared, config, emit)
    elif config.val_fraction > 0:
        held = stratified_split(labels, config.val_fraction, split_seed)
        val_split = train.subset(np.flatnonzero(held), "val")
        train = train.subset(np.flatnonzero(~held), "train")
    test_split = _eval_split("test", Path(test), shared, config, emit) if test else None
    if config.finetune != "head":  # images are decoded again: no stored features needed
        train = replace(train, features=None)
        if val_split is not None:
            val_split = replace(val_split, features=None)
    folders = {k: str(v) for k, v in (("val_dir", val), ("test_dir", test)) if v is not None}
    return TrainInputs(
        data, audit, class_names, scales, train, val_split, test_split, features.shape[1],
        folders, overlap.found,
    )  # fmt: skip
