"""What a file really is, read from its bytes (never its name): type, dimensions, video duration; and
whether a photo has more pixels than the desk will decode.

A PNG of a few hundred kilobytes can declare 13,000 x 13,000 pixels, and decoding it takes gigabytes:
so a photo's size is read from its header, and a photo over the limit is refused before any of its
pixels are decoded. An animation counts the pixels of all its frames, since cleaning holds them all.

Plain Python over bytes, so that it is tested without a web request or a disk.
"""
from __future__ import annotations

import io
import math
import re
import struct
from dataclasses import dataclass

# Signatures at the start of the file; MP4/MOV are recognised by their 'ftyp' box.
_MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
_QUICKTIME_BRANDS = {b"qt  "}
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp",
              "video/mp4": "mp4", "video/quicktime": "mov"}
SUPPORTED = tuple(EXTENSIONS)

# A 61-megapixel full-frame camera's photo (9,504 x 6,336) fits; a larger one is rarely a press photo.
# Decoding one costs about 4 bytes a pixel (Pillow holds RGB in four), 240 MB at this size.
DEFAULT_MAX_IMAGE_PIXELS = 61_000_000
# Pillow's own limit (PIL.Image.MAX_IMAGE_PIXELS): above it Pillow warns of a decompression bomb, above
# twice it refuses. The desk's limit is never looser, so that Pillow's check stays a second line.
PILLOW_MAX_IMAGE_PIXELS = 89_478_485


class TooManyPixels(ValueError):
    """A photo with more pixels than the desk decodes; the message says how large it is and what to do."""


@dataclass(frozen=True)
class Sniffed:
    mime_type: str
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    frames: int = 1


def sniff_type(head: bytes) -> str | None:
    for magic, mime in _MAGIC:
        if head.startswith(magic):
            return mime
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return "video/quicktime" if brand in _QUICKTIME_BRANDS else "video/mp4"
    return None


def _boxes(data: bytes, start: int, end: int):
    """Walk ISO base media boxes (MP4/MOV): yields (type, payload start, box end)."""
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        header = 8
        if size == 1:  # 64-bit size follows
            if pos + 16 > end:
                return
            size = struct.unpack(">Q", data[pos + 8:pos + 16])[0]
            header = 16
        elif size == 0:  # to the end of the file
            size = end - pos
        if size < header:
            return
        yield kind, pos + header, min(pos + size, end)
        pos += size


def mp4_duration(data: bytes) -> float | None:
    """Seconds, from the movie header (moov/mvhd): timescale and duration."""
    for kind, start, end in _boxes(data, 0, len(data)):
        if kind != b"moov":
            continue
        for inner, s, _e in _boxes(data, start, end):
            if inner == b"mvhd":
                version = data[s]
                if version == 1:
                    timescale, duration = struct.unpack(">IQ", data[s + 20:s + 32])
                else:
                    timescale, duration = struct.unpack(">II", data[s + 12:s + 20])
                return round(duration / timescale, 3) if timescale else None
    return None


def megapixels(pixels: int) -> str:
    amount = pixels / 1e6
    value = (f"{amount:,.1f}" if amount >= 1 else f"{amount:.2g}").removesuffix(".0")
    return f"{value} megapixel" + ("" if value == "1" else "s")


def check_pixels(width: int, height: int, frames: int = 1, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> None:
    """Refuse a photo whose pixels, in all its frames, are more than max_pixels."""
    pixels = width * height * max(1, frames)
    if pixels <= max_pixels:
        return
    if frames > 1:
        raise TooManyPixels(
            f"It is an animation of {frames} frames of {width:,} × {height:,} pixels, {megapixels(pixels)} in "
            f"all; the desk takes up to {megapixels(max_pixels)} across all of an animation's frames, because "
            "it holds them all while it cleans the file. Make it shorter or smaller, or upload it as a video "
            "(MP4).")
    scale = math.sqrt(max_pixels / pixels)  # the largest of the same shape within the limit
    raise TooManyPixels(
        f"It is {width:,} × {height:,} pixels ({megapixels(pixels)}); the desk takes photos of up to "
        f"{megapixels(max_pixels)}, because a larger one costs the server too much memory to clean. Export it "
        f"at {max(1, int(width * scale)):,} × {max(1, int(height * scale)):,} pixels or smaller and upload that.")


def past_pillows_limit(error: Exception, max_pixels: int) -> TooManyPixels:
    """The refusal for a photo on which Pillow raised its DecompressionBombError: Pillow stops before it
    says the sides, so the message gives the pixels its error counted."""
    max_pixels = min(max_pixels, 2 * PILLOW_MAX_IMAGE_PIXELS)  # what Pillow decodes, whatever the desk allows
    found = re.search(r"\((\d+) pixels\)", str(error))
    if not found:
        return TooManyPixels(f"It has more pixels than the desk decodes (up to {megapixels(max_pixels)}). "
                             "Export it at a smaller size and upload that.")
    pixels = int(found.group(1))
    return TooManyPixels(
        f"It is {megapixels(pixels)}; the desk takes photos of up to {megapixels(max_pixels)}, because a larger "
        "one costs the server too much memory to clean. Export it at "
        f"{int(100 * math.sqrt(max_pixels / pixels))}% of its width and height or smaller and upload that.")


def header_size(head: bytes, mime_type: str) -> tuple[int, int] | None:
    """A PNG's or WebP's sides from its first 30 bytes, read before Pillow sees the file: a PNG is the
    usual bomb (zlib packs zero rows a thousand to one), and Pillow's WebP decoder sets aside the whole
    canvas as soon as the file is opened. JPEG and GIF: None; Pillow reads their headers without decoding,
    and its size is checked next."""
    if mime_type == "image/png" and head[12:16] == b"IHDR":  # the first chunk, by the PNG standard
        return struct.unpack(">II", head[16:24])
    if mime_type == "image/webp":
        return webp_size(head)
    return None


def check_header(data: bytes, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> None:
    """Refuse a PNG or WebP whose header declares more than max_pixels, before Pillow opens it."""
    mime = sniff_type(data[:32])
    if mime and (declared := header_size(data[:32], mime)):
        check_pixels(*declared, max_pixels=max_pixels)


def webp_size(head: bytes) -> tuple[int, int] | None:
    """A WebP's canvas, from its first chunk (VP8X, VP8L or VP8)."""
    if head[:4] != b"RIFF" or head[8:12] != b"WEBP" or len(head) < 30:
        return None
    chunk = head[12:16]
    if chunk == b"VP8X":  # extended: the canvas, 24 bits a side, less one
        return int.from_bytes(head[24:27], "little") + 1, int.from_bytes(head[27:30], "little") + 1
    if chunk == b"VP8L" and head[20] == 0x2F:  # lossless: 14 bits a side, less one
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 " and head[23:26] == b"\x9d\x01\x2a":  # lossy: 14 bits a side, after the start code
        return (int.from_bytes(head[26:28], "little") & 0x3FFF), (int.from_bytes(head[28:30], "little") & 0x3FFF)
    return None


def _measure(data: bytes, max_pixels: int) -> tuple[int, int, int] | None:
    """(width, height, frames) from Pillow, which reads headers only until asked for the pixels."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            # Pillow's size, not the header's: a GIF's first picture may be larger than the screen it declares.
            width, height = img.size
            check_pixels(width, height, 1, max_pixels)  # before counting frames, which reads the whole file
            return width, height, getattr(img, "n_frames", 1)
    except TooManyPixels:
        raise
    except Image.DecompressionBombError as exc:
        raise past_pillows_limit(exc, max_pixels) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None


def sniff(data: bytes, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> Sniffed | None:
    """The file's real type and its measures, or None when the desk does not take this kind of file.

    Raises TooManyPixels for a photo over max_pixels, before any of its pixels are decoded."""
    mime = sniff_type(data[:32])
    if mime is None:
        return None
    if mime.startswith("image/"):
        check_header(data, max_pixels)
        measured = _measure(data, max_pixels)
        if measured is None:  # the right first bytes, but not a readable image
            return None
        width, height, frames = measured
        check_pixels(width, height, frames, max_pixels)
        return Sniffed(mime, width, height, frames=frames)
    return Sniffed(mime, duration=mp4_duration(data))
