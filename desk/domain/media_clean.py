"""Removing location and device data from media before it leaves the desk.

A photo of an operation must not carry the coordinates where it was taken, nor the serial number of the
camera that took it. Photos are re-written with Pillow without EXIF (GPS, make, model, serials, dates),
XMP, IPTC, comments or text chunks; the EXIF orientation is applied to the pixels first, so the photo
still stands the right way up. The colour profile is kept (it says how to show the colours, not who
or where). JPEGs keep their own quantisation tables, so the copy looks as the original did.
Videos (MP4/MOV) keep every byte in place; their user-data and metadata boxes (where phones put the
location, make and model) become 'free' boxes of zeros, so nothing else in the file moves.

Plain Python over bytes: tested without a request or a database.
"""
from __future__ import annotations

import io
import struct
from dataclasses import dataclass

from .media_types import (
    DEFAULT_MAX_IMAGE_PIXELS,
    TooManyPixels,
    check_header,
    check_pixels,
    megapixels,
    past_pillows_limit,
)

GPS_IFD, EXIF_IFD = 0x8825, 0x8769
MAKE, MODEL = 0x010F, 0x0110
# Exif sub-IFD: owner, body and lens serials, maker notes (which often hold the serial too).
IDENTIFYING = {0xA430: "camera owner", 0xA431: "camera serial number", 0xA435: "lens serial number",
               0x927C: "maker notes"}
XMP_UUID = bytes.fromhex("BE7ACFCB97A942E89C71999491E3AFAC")
# Information a photo's info dict may keep: how to decode and show it, nothing about where or who.
_KEEP_INFO = {"transparency", "icc_profile", "dpi", "gamma", "background", "loop", "duration", "disposal"}


class CannotClean(ValueError):
    """The file could not be re-written without its metadata; the message says what to do."""


@dataclass(frozen=True)
class Cleaned:
    data: bytes | bytearray
    width: int | None
    height: int | None
    removed: tuple[str, ...]  # what was found and left out, in words, for the record


# ---- photos -------------------------------------------------------------------------------------------

def photo_metadata(data: bytes) -> list[str]:
    """The kinds of location, device and descriptive metadata a photo carries, in words."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        return _photo_metadata(img)


def _photo_metadata(img) -> list[str]:
    found = []
    exif = img.getexif()
    if exif.get_ifd(GPS_IFD) or GPS_IFD in exif:
        found.append("GPS location")
    if MAKE in exif or MODEL in exif:
        found.append("camera make and model")
    sub = exif.get_ifd(EXIF_IFD)
    found.extend(label for tag, label in IDENTIFYING.items() if tag in sub)
    if len(exif) or sub:
        found.append("other EXIF data")
    info = img.info
    applist = getattr(img, "applist", [])
    if info.get("xmp") or info.get("XML:com.adobe.xmp") or any(
            m == "APP1" and b"http://ns.adobe.com/xap/1.0/" in body[:40] for m, body in applist):
        found.append("XMP")
    if info.get("photoshop") or any(m == "APP13" for m, _ in applist):
        found.append("IPTC")
    if info.get("comment") or any(m == "COM" for m, _ in applist):
        found.append("comment")
    text = getattr(img, "text", None) or {}
    if any(k != "XML:com.adobe.xmp" for k in text):
        found.append("text chunks")
    return list(dict.fromkeys(found))


def _bare(frame):
    """A copy of the pixels with only the decoding information kept."""
    copy = frame.copy()
    copy.info = {k: v for k, v in frame.info.items() if k in _KEEP_INFO}
    return copy


def _save_options(img, fmt: str) -> dict:
    options: dict = {}
    if img.info.get("icc_profile"):
        options["icc_profile"] = img.info["icc_profile"]
    if fmt == "JPEG":
        from PIL import JpegImagePlugin

        sampling = JpegImagePlugin.get_sampling(img)
        if getattr(img, "quantization", None):
            options["qtables"] = img.quantization  # the original's own quality, neither better nor worse
        else:
            options["quality"] = 95
        options["subsampling"] = sampling if sampling != -1 else "4:2:0"
        options["progressive"] = bool(img.info.get("progressive") or img.info.get("progression"))
    elif fmt == "WEBP":
        options["lossless"] = b"VP8L" in _webp_head(img)
        options["quality"] = 90
    elif fmt == "PNG":
        options["optimize"] = False
    return options


def _webp_head(img) -> bytes:
    fp = getattr(img, "fp", None)
    try:
        fp.seek(0)
        return fp.read(64)
    except (AttributeError, OSError, ValueError):
        return b""


def _frames(img, max_pixels: int) -> list:
    """Every frame of an animation, bare, counting their pixels as they come: a GIF's later picture may be
    larger than the first, and Pillow then enlarges the frame."""
    from PIL import ImageSequence

    frames, pixels = [], 0
    for frame in ImageSequence.Iterator(img):
        pixels += frame.size[0] * frame.size[1]
        if pixels > max_pixels:
            check_pixels(*frame.size, frames=img.n_frames, max_pixels=max_pixels)
            raise TooManyPixels(f"Its frames are more than {megapixels(max_pixels)} together, the most the desk "
                                "holds while it cleans an animation. Make it shorter or smaller, or upload it "
                                "as a video (MP4).")
        frames.append(_bare(frame))
    return frames


def _rewrite(img, max_pixels: int) -> tuple[bytes, tuple[int, int], list[str]]:
    """The photo saved again without its metadata: (bytes, size, what was removed)."""
    from PIL import ImageOps

    fmt = img.format
    check_pixels(*img.size, max_pixels=max_pixels)
    removed = _photo_metadata(img)
    options = _save_options(img, fmt)
    out = io.BytesIO()
    if getattr(img, "n_frames", 1) > 1:  # an animation: every frame, its timing and its loop
        frames = _frames(img, max_pixels)
        durations = [f.info.get("duration", img.info.get("duration", 100)) for f in frames]
        frames[0].save(out, fmt, save_all=True, append_images=frames[1:], duration=durations,
                       loop=img.info.get("loop", 0), **options)
        return out.getvalue(), frames[0].size, removed
    # One copy of the pixels, not three: turned in place as the tag says (the tag then goes), and saved
    # with only the decoding information kept, instead of a copy made for each step.
    ImageOps.exif_transpose(img, in_place=True)
    img.info = {k: v for k, v in img.info.items() if k in _KEEP_INFO}
    img.save(out, fmt, **options)
    return out.getvalue(), img.size, removed


def clean_photo(data: bytes, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> Cleaned:
    """The photo without location, device or descriptive metadata, the right way up.

    Raises TooManyPixels, before decoding, for a photo over max_pixels (in all its frames)."""
    from PIL import Image, UnidentifiedImageError

    check_header(data, max_pixels)
    img = None
    try:
        img = Image.open(io.BytesIO(data))
        cleaned, size, removed = _rewrite(img, max_pixels)
    except TooManyPixels:
        raise
    except Image.DecompressionBombError as exc:
        raise past_pillows_limit(exc, max_pixels) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise CannotClean(f"The desk could not remove the photo's location and camera data ({exc}). Export it "
                          "again from your photo software as JPEG or PNG and upload that.") from None
    finally:
        if img is not None:
            img.close()  # frees the decoded pixels now (leaving `with` would not), before the check decodes again
    left = photo_metadata(cleaned)
    if left:  # never publish a copy that still carries what it should not
        raise CannotClean(f"The photo still carried {', '.join(left)} after cleaning, so it was not kept. Export "
                          "it without metadata (most photo software offers 'remove location') and upload that.")
    return Cleaned(cleaned, size[0], size[1], tuple(removed))


# ---- videos -------------------------------------------------------------------------------------------

def _boxes(data: bytes, start: int, end: int):
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        header = 8
        if size == 1 and pos + 16 <= end:
            size, header = struct.unpack(">Q", data[pos + 8:pos + 16])[0], 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            return
        yield kind, pos, header, pos + size
        pos += size


def _metadata_boxes(data: bytes) -> list[tuple[bytes, int, int]]:
    """(kind, start, end) of the boxes that hold user data: moov's and each track's udta and meta, and XMP."""
    found = []
    for kind, start, header, end in _boxes(data, 0, len(data)):
        if kind == b"uuid" and data[start + header:start + header + 16] == XMP_UUID:
            found.append((kind, start, end))
        if kind != b"moov":
            continue
        for inner, s, h, e in _boxes(data, start + header, end):
            if inner in (b"udta", b"meta") or (inner == b"uuid" and data[s + h:s + h + 16] == XMP_UUID):
                found.append((inner, s, e))
            elif inner == b"trak":
                found.extend((k, s2, e2) for k, s2, _h2, e2 in _boxes(data, s + h, e) if k in (b"udta", b"meta"))
    return found


def video_metadata(data: bytes) -> list[str]:
    labels = []
    for kind, start, end in _metadata_boxes(data):
        body = data[start:end]
        if b"\xa9xyz" in body or b"location" in body:
            labels.append("location")
        if b"\xa9mak" in body or b"\xa9mod" in body or b"make" in body or b"model" in body:
            labels.append("device make and model")
        labels.append("XMP" if kind == b"uuid" else "user data")
    return list(dict.fromkeys(labels))


def clean_video(data: bytes, width: int | None = None, height: int | None = None) -> Cleaned:
    """The same file, its user-data boxes turned into zero-filled 'free' boxes: nothing else moves."""
    boxes = _metadata_boxes(data)
    if not boxes:
        return Cleaned(data, width, height, ())
    removed = video_metadata(data)
    out = bytearray(data)
    for _kind, start, end in boxes:
        large = struct.unpack(">I", data[start:start + 4])[0] == 1
        header = 16 if large else 8
        out[start + 4:start + 8] = b"free"
        out[start + header:end] = bytes(end - start - header)
    return Cleaned(out, width, height, tuple(removed))  # a bytearray: one copy of a large video, not two


def clean(data: bytes, mime_type: str, width: int | None = None, height: int | None = None,
          max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> Cleaned:
    if mime_type.startswith("image/"):
        return clean_photo(data, max_pixels)
    if mime_type.startswith("video/"):
        return clean_video(data, width, height)
    raise CannotClean(f"The desk does not publish {mime_type} files.")
