"""Which column holds the image and which the class: the ``datasets`` features decide.

``datasets`` states its features in ``dataset_info.json`` and in every shard's schema metadata
(key ``huggingface``). The image column is the one ``Image`` feature, the label column the one
``ClassLabel`` feature (its ``names`` are the classes); ``--image-column`` / ``--label-column``
pick one when there are several or none. Without stated features, a struct column with a
binary ``bytes`` field (or a binary column) is an image column, and a label column named
``label`` or ``labels`` is taken as is (numbers or text are the class names).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from semaudit.errors import InputError

if TYPE_CHECKING:
    import pyarrow as pa

LABEL_NAMES = ("label", "labels")


@dataclass(frozen=True)
class Columns:
    """The chosen columns; ``names`` are the ClassLabel's names (None: the label's values)."""

    image: str
    label: str
    names: list[str] | None


def stated_features(schema: pa.Schema, stated: dict[str, Any] | None) -> dict[str, Any]:
    """The features ``datasets`` recorded: given ones, else the schema's ``huggingface`` key."""
    if stated:
        return stated
    raw = (schema.metadata or {}).get(b"huggingface")
    try:
        info = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    features = (info.get("info") or {}).get("features") if isinstance(info, dict) else None
    return features if isinstance(features, dict) else {}


def _kind(feature: Any) -> str:
    return str(feature.get("_type", "")) if isinstance(feature, dict) else ""


def _is_image_type(kind: pa.DataType) -> bool:
    import pyarrow as pa

    if pa.types.is_struct(kind):
        names = [kind.field(i).name for i in range(kind.num_fields)]
        return "bytes" in names and _is_image_type(kind.field("bytes").type)
    return bool(pa.types.is_binary(kind) or pa.types.is_large_binary(kind))


def _is_label_type(kind: pa.DataType) -> bool:
    import pyarrow as pa

    return bool(
        pa.types.is_integer(kind) or pa.types.is_string(kind) or pa.types.is_large_string(kind)
    )


def _pick(
    found: list[str], given: str | None, what: str, flag: str, all_: list[str], where: str
) -> str:
    if given is not None:
        if given not in all_:
            raise InputError(
                f"{flag} {given!r} is not a column of {where} (it has: "
                f"{', '.join(all_)}); pass one of those."
            )
        return given
    if len(found) == 1:
        return found[0]
    which = f"several {what} columns ({', '.join(found)})" if found else f"no {what} column"
    raise InputError(f"{where} has {which} among {', '.join(all_)}; pass {flag} NAME.")


def choose_columns(
    schema: pa.Schema,
    stated: dict[str, Any] | None,
    image_column: str | None,
    label_column: str | None,
    where: str,
) -> Columns:
    """The image and label columns of a shard's schema (see the module docstring)."""
    features = stated_features(schema, stated)
    columns = list(schema.names)
    images = [c for c in columns if _kind(features.get(c)) == "Image"]
    if not features:
        images = [c for c in columns if _is_image_type(schema.field(c).type)]
    image = _pick(images, image_column, "image", "--image-column", columns, where)
    if not _is_image_type(schema.field(image).type):
        raise InputError(
            f"column {image!r} of {where} holds {schema.field(image).type}, not "
            "image bytes; pass --image-column with the image column."
        )
    labels = [c for c in columns if _kind(features.get(c)) == "ClassLabel"]
    if not labels:
        labels = [c for c in columns if c in LABEL_NAMES]
    label = _pick(labels, label_column, "ClassLabel", "--label-column", columns, where)
    if not _is_label_type(schema.field(label).type):
        raise InputError(
            f"column {label!r} of {where} holds {schema.field(label).type}, not "
            "one class per row (an integer or a string); pass --label-column with "
            "the class column."
        )
    feature = features.get(label)
    names = (
        feature.get("names")
        if isinstance(feature, dict) and _kind(feature) == "ClassLabel"
        else None
    )
    return Columns(image, label, [str(n) for n in names] if names else None)
