"""Real small media files made in memory, for tests: images with Pillow, an MP4 with its boxes by hand."""
from __future__ import annotations

import io
import struct


def png(width=4, height=3) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buf, "PNG")
    return buf.getvalue()


def jpeg(width=8, height=6, exif: bytes | None = None) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    img = Image.new("RGB", (width, height), (20, 90, 200))
    img.save(buf, "JPEG", **({"exif": exif} if exif else {}))
    return buf.getvalue()


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def mp4(seconds: float = 12.5, timescale: int = 1000, payload_bytes: int = 4096) -> bytes:
    """An MP4 skeleton: ftyp, moov/mvhd with the duration, and an mdat of filler."""
    ftyp = _box(b"ftyp", b"isom" + struct.pack(">I", 512) + b"isomiso2mp41")
    mvhd = _box(b"mvhd", bytes([0, 0, 0, 0]) + struct.pack(">IIII", 0, 0, timescale, int(seconds * timescale))
                + b"\x00" * 80)
    return ftyp + _box(b"moov", mvhd) + _box(b"mdat", b"\x00" * payload_bytes)
