"""What a backbone is: a spec (a name resolved, nothing loaded) and a loaded, trainable extractor.

A *family* (one module of this package each: ``lite0``, ``openclip``, ``torchvision``,
``pixels``) knows how to parse its names, list its members and create the model. Families
register themselves with :func:`register`; the registry imports every module of the package,
so adding a family is adding one module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

GPU_BATCH = 256  # large batches on a GPU (our choice, docs/performance.md)


@dataclass(frozen=True)
class BackboneSpec:
    """What a backbone name resolves to, before anything heavy is loaded."""

    id: str
    family: str
    model: str = ""
    tag: str = ""
    weights: Path | None = None
    description: str = ""


@dataclass
class Backbone:
    """A created extractor on ``device``, in eval mode.

    ``model`` is an ``nn.Module`` whose forward maps a preprocessed batch (B, 3, H, W) to pooled
    features (B, d); it can be unfrozen for fine-tuning (``last_block`` is what ``--finetune
    last`` unfreezes; ``split`` the frozen trunk and the tail around it). ``transform`` is the
    evaluation preprocessing (PIL → tensor), ``train_transform`` the same with augmentation.
    """

    spec: BackboneSpec
    model: Any = field(repr=False)
    transform: Callable[[Any], Any] = field(repr=False)
    train_transform: Callable[[Any], Any] = field(repr=False)
    embed_dim: int = 0
    weights_digest: str = ""
    preprocessing: dict[str, Any] = field(default_factory=dict)
    device: str = "cpu"
    last_block: Any = field(default=None, repr=False)
    cpu_batch: int = 32
    split: tuple[Any, Any] | None = field(default=None, repr=False)
    """``(trunk, tail)`` with ``model(x) == tail(trunk(x))`` and ``last_block`` inside the tail:
    lets ``--finetune last`` without augmentation run the frozen trunk once (docs/train.md)."""

    def embed(self, batch: Any) -> Any:
        """Pooled features of a preprocessed batch: ``(B, d)``."""
        return self.model(batch)

    def default_batch_size(self, device: str | None = None) -> int:
        """Images per forward pass: large on a GPU, the family's measured best on a CPU."""
        return GPU_BATCH if (device or self.device).startswith("cuda") else self.cpu_batch


@dataclass(frozen=True)
class ListedBackbone:
    """One row of ``semaudit models``."""

    id: str
    dim: int
    weights_present: bool
    description: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "dim": self.dim,
            "weights_present": self.weights_present,
            "description": self.description,
        }


class Family(Protocol):
    """A backbone family: what the registry needs from each module."""

    name: str
    syntax: str  # how its names are written, for error messages ("openclip:MODEL/TAG")

    def parse(self, name: str, weights: Path | None) -> BackboneSpec | None:
        """The spec for ``name`` if it is of this family (raise for a bad member), else None."""
        ...

    def listing(self) -> list[ListedBackbone]:
        """Rows for ``semaudit models``."""
        ...

    def digest(self, spec: BackboneSpec) -> str:
        """Identity of the weights, without loading the model."""
        ...

    def create(self, spec: BackboneSpec, device: str) -> Backbone:
        """The model on ``device`` in eval mode, with its preprocessing."""
        ...


FAMILIES: dict[str, Family] = {}


def register(family: Family) -> Family:
    """Add a family to the registry (in import order, which is the listing order)."""
    FAMILIES[family.name] = family
    return family
