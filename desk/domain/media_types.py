"""What a file really is, read from its bytes (never its name): type, dimensions, video duration.

Plain Python over bytes, so that it is tested without a web request or a disk.
"""
from __future__ import annotations

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


@dataclass(frozen=True)
class Sniffed:
    mime_type: str
    width: int | None = None
    height: int | None = None
    duration: float | None = None


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


def image_size(data: bytes) -> tuple[int, int] | None:
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.size
    except (UnidentifiedImageError, OSError, ValueError):
        return None


def sniff(data: bytes) -> Sniffed | None:
    """The file's real type and its measures, or None when the desk does not take this kind of file."""
    mime = sniff_type(data[:32])
    if mime is None:
        return None
    if mime.startswith("image/"):
        size = image_size(data)
        if size is None:  # the right first bytes, but not a readable image
            return None
        return Sniffed(mime, size[0], size[1])
    return Sniffed(mime, duration=mp4_duration(data))
