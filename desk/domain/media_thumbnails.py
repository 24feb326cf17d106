"""The small copy of a photo shown in the post form, on the post's page and in the approver's review.

Made once, when the photo is uploaded, from the published (cleaned) copy, and stored beside it: a page of
twenty photos then reads twenty small files, instead of decoding twenty originals at every view. A JPEG
is decoded straight at an eighth, a quarter or a half of its size (its DCT allows it), so its thumbnail
costs a few megabytes; other formats are decoded whole, once.

Plain Python over bytes: tested without a request or a database.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

from .media_types import DEFAULT_MAX_IMAGE_PIXELS, TooManyPixels, check_header, check_pixels, past_pillows_limit

THUMBNAIL_PX = 320


class CannotThumbnail(ValueError):
    """The photo could not be read to make its thumbnail."""


@dataclass(frozen=True)
class Thumbnail:
    data: bytes
    mime_type: str
    extension: str


def make_thumbnail(data: bytes, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> Thumbnail:
    """At most THUMBNAIL_PX a side: a PNG where the photo has transparency or a palette, else a JPEG."""
    from PIL import Image, UnidentifiedImageError

    check_header(data, max_pixels)  # a photo stored before the limit is not decoded for its preview
    try:
        with Image.open(io.BytesIO(data)) as img:
            check_pixels(*img.size, max_pixels=max_pixels)
            img.draft("RGB", (THUMBNAIL_PX, THUMBNAIL_PX))
            img.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
            out = io.BytesIO()
            if img.mode in ("RGBA", "LA", "P", "PA"):
                img.convert("RGBA").save(out, "PNG")
                return Thumbnail(out.getvalue(), "image/png", "png")
            img.convert("RGB").save(out, "JPEG", quality=80)
            return Thumbnail(out.getvalue(), "image/jpeg", "jpg")
    except TooManyPixels:
        raise
    except Image.DecompressionBombError as exc:
        raise past_pillows_limit(exc, max_pixels) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise CannotThumbnail(f"The desk cannot read the photo to make its thumbnail ({exc}).") from None
