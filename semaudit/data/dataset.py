"""``ImageDataset``: image files as a torch map-style dataset, shared by scan and train.

Item ``i`` is ``(tensor or None, label_id, sample_id=i, reason)``: a file that cannot be
decoded (or whose transform fails) gives ``None`` and the reason instead of raising, so one bad
image never stops a DataLoader. ``collate_images`` drops those items from the stacked tensor.
This module imports torch; ``semaudit.data`` does not import it, so the package stays light.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import torch
from torch.utils.data import Dataset

from semaudit.data.decode import load_image
from semaudit.data.discover import ImageItem
from semaudit.errors import InputError


class Sample(NamedTuple):
    """One dataset item: ``image`` is None when ``reason`` says why it could not be used."""

    image: torch.Tensor | None
    label_id: int
    sample_id: int
    reason: str


class Collated(NamedTuple):
    """A batch with its failed items dropped: ``images`` stacks the usable items (None when
    none is), ``label_ids`` and ``sample_ids`` (int64 tensors) are aligned with its rows, and
    ``reasons`` lists ``(sample_id, reason)`` for every dropped item, in batch order."""

    images: torch.Tensor | None
    label_ids: torch.Tensor
    sample_ids: torch.Tensor
    reasons: list[tuple[int, str]]

    @property
    def n_items(self) -> int:
        """Items in the batch, dropped ones included."""
        return len(self.sample_ids) + len(self.reasons)


class ImageDataset(Dataset[Sample]):
    """Map-style dataset over ``items``; labels are indices into ``class_names``."""

    def __init__(
        self,
        items: Sequence[ImageItem],
        class_names: Sequence[str],
        transform: Callable[[Any], Any],
    ) -> None:
        self.items = items
        self.class_names = list(class_names)
        self.transform = transform
        index = {name: k for k, name in enumerate(self.class_names)}
        unknown = sorted({item.label for item in items} - set(index))
        if unknown:
            raise InputError(
                f"ImageDataset: label(s) {unknown[:5]} are not among the {len(index)} class "
                "names given; pass every class of the items."
            )
        self.label_ids = [index[item.label] for item in items]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> Sample:
        label = self.label_ids[i]
        image, reason = load_item(self.items[i])
        if image is None:
            return Sample(None, label, i, reason)
        try:
            return Sample(self.transform(image), label, i, "")
        except Exception as exc:  # a transform failing on one odd image must not stop the run
            reason = f"unreadable: preprocessing failed ({type(exc).__name__}: {exc})"
            return Sample(None, label, i, reason)


def load_item(item: ImageItem) -> tuple[Any, str]:
    """``load_image`` of a file, of a member of a ``.tar`` shard (read from its byte range), or
    of a row of a Hugging Face dataset shard."""
    if item.column:
        return _load_row(item)
    if item.offset < 0:
        return load_image(item.abspath)
    from semaudit.data.tar import open_member

    try:
        member = open_member(item)
    except FileNotFoundError:
        return None, "missing: tar shard disappeared after it was listed"
    except OSError as exc:
        return None, f"i/o error: {exc.strerror or exc}"
    return load_image(member)  # type: ignore[arg-type]  # Pillow reads file objects too


def _load_row(item: ImageItem) -> tuple[Any, str]:
    """``load_image`` of the bytes in a row of a Hugging Face parquet / Arrow shard."""
    import io

    from semaudit.data.hf import read_row

    try:
        data = read_row(item)
    except FileNotFoundError:
        return None, "missing: dataset shard disappeared after it was listed"
    except OSError as exc:
        return None, f"i/o error: {exc.strerror or exc}"
    except LookupError:
        return None, "missing: the row is no longer in its shard (the shard changed)"
    except ValueError as exc:
        return None, f"unreadable: {exc}"
    return load_image(io.BytesIO(data))  # type: ignore[arg-type]  # Pillow reads file objects


def collate_images(batch: Sequence[Sample]) -> Collated:
    """Stack the usable images with their labels and ids; list the failed ones with reasons."""
    kept = [s for s in batch if s.image is not None]
    stacked = torch.stack([s.image for s in kept]) if kept else None  # type: ignore[misc]
    return Collated(
        stacked,
        torch.as_tensor([s.label_id for s in kept], dtype=torch.long),
        torch.as_tensor([s.sample_id for s in kept], dtype=torch.long),
        [(s.sample_id, s.reason) for s in batch if s.image is None],
    )


def init_worker(worker_id: int) -> None:
    """Set up a DataLoader decoding process.

    One torch thread: the model's threads keep the cores. Connection errors in the worker's
    fd-sharing thread are not printed: they mean the main process abandoned a batch transfer
    (Ctrl-C or SIGTERM mid-handshake), which the main process reports itself; the thread
    prints anything else through the original hook.
    """
    torch.set_num_threads(1)
    printing = sys.excepthook

    def hook(kind: type[BaseException], value: BaseException, tb: Any) -> None:
        if not issubclass(kind, (EOFError, ConnectionError)):
            printing(kind, value, tb)

    sys.excepthook = hook
