"""Decode one image file robustly: the one decoder of scan, train and the report's thumbnails.

Nothing here raises on a bad image: ``load_image`` returns the image or a reason.
"""

from __future__ import annotations

import os
import re
import warnings
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

MAX_IMAGE_PIXELS = 178_956_970  # Pillow's default decompression-bomb limit (our choice to keep)
# A 1 × 40,000 strip is a 160-byte PNG, yet resizing its short side to 224 px makes 2 gigapixels
# (24 GB as float RGB): longer than 100:1 is refused like a bomb (our choice; photos and
# panoramas stay well under it).
MAX_ASPECT_RATIO = 100
TRANSIENT_REASONS = ("missing", "i/o error")


def to_rgb(image: PILImage) -> PILImage:
    """Any Pillow mode to 8-bit RGB: 16-bit rescaled, alpha composited on white, CMYK converted."""
    from PIL import Image

    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or arr.max() > 255 else 255.0
        arr = np.clip(arr / top * 255.0, 0, 255).astype(np.uint8)
        image = Image.fromarray(arr, mode="L")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(canvas, rgba)
    return image.convert("RGB")


def _bomb(exc: Exception) -> str:
    found = re.search(r"\((\d+) pixels\)", str(exc))
    pixels = found.group(1) if found else "too many"
    return f"decompression bomb ({pixels} pixels > limit {MAX_IMAGE_PIXELS})"


def is_transient(reason: str) -> bool:
    """A failure of the file system, not of the file's bytes: never cached, retried next scan."""
    return reason.startswith(TRANSIENT_REASONS)


def load_image(
    path: str | os.PathLike[str], *, draft: tuple[int, int] | None = None
) -> tuple[PILImage | None, str]:
    """Decode one file to an RGB ``PIL.Image``; return ``(image, "")`` or ``(None, reason)``.

    EXIF orientation is applied; animated images give their first frame; images over
    ``MAX_IMAGE_PIXELS`` or ``MAX_ASPECT_RATIO`` are refused from their header, before
    decoding. ``draft`` lets a JPEG decode at a reduced size no smaller than it (thumbnails).
    Never raises: a decoder bug on a hostile file is one skipped image, not a dead scan.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's chatter on odd files (EXIF, palettes)
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
            with Image.open(path) as image:
                width, height = image.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise Image.DecompressionBombError(f"({width * height} pixels)")
                if max(width, height) > MAX_ASPECT_RATIO * max(1, min(width, height)):
                    return None, (
                        f"extreme aspect ratio ({width}×{height} > {MAX_ASPECT_RATIO}:1): "
                        "resizing it would need gigabytes; crop it"
                    )
                image.seek(0)
                if draft is not None:
                    image.draft("RGB", draft)
                image.load()
                upright = ImageOps.exif_transpose(image) or image
                return to_rgb(upright), ""
    except FileNotFoundError:
        return None, "missing: file disappeared after it was listed"
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        return None, _bomb(exc)
    except UnidentifiedImageError:
        return None, "not an image: cannot identify image file"
    except OSError as exc:
        if exc.errno is not None:  # the disk or the permissions, not the bytes
            return None, f"i/o error: {exc.strerror or exc}"
        text = str(exc)
        if "truncated" in text or "broken data stream" in text or "image file is" in text:
            return None, f"truncated: {text}"
        return None, f"unreadable: {text}"
    except Exception as exc:  # Pillow's decoders raise anything on hostile bytes
        return None, f"unreadable: {type(exc).__name__}: {exc}"
