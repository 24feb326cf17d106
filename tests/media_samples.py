"""Real small media files made in memory, for tests: images with Pillow, an MP4 with its boxes by hand."""
from __future__ import annotations

import functools
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


@functools.lru_cache(maxsize=4)  # packing 13,000 rows takes a second or two: once a run is enough
def png_of_zero_rows(width: int, height: int, colour_type: int = 0) -> bytes:
    """A real PNG of width x height black pixels (grey, or RGB with colour_type=2) that is tiny on disk:
    zlib packs its rows of zeros about a thousand to one, so a 13,000 x 13,000 one is a few hundred KB,
    made without ever holding its pixels. The decompression bomb the desk must refuse unread."""
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    row = bytes(1 + width * (3 if colour_type == 2 else 1))  # the filter byte, then the samples
    packer = zlib.compressobj(9)
    at_once = max(1, (1 << 22) // len(row))
    body = b"".join(packer.compress(row * min(at_once, height - y)) for y in range(0, height, at_once))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body + packer.flush()) + chunk(b"IEND", b"")


def gif(width=8, height=6, frames=1) -> bytes:
    from PIL import Image

    images = [Image.new("RGB", (width, height), (40 * i % 256, 90, 200)) for i in range(frames)]
    buf = io.BytesIO()
    images[0].save(buf, "GIF", save_all=frames > 1, append_images=images[1:], duration=100, loop=0)
    return buf.getvalue()


def webp_header(width: int, height: int) -> bytes:
    """The first bytes of an extended WebP (VP8X) whose canvas is width x height: all a decoder needs to
    set aside the canvas, with no picture after it."""
    vp8x = bytes([0, 0, 0, 0]) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    body = b"WEBP" + b"VP8X" + struct.pack("<I", len(vp8x)) + vp8x
    return b"RIFF" + struct.pack("<I", len(body)) + body
