"""How much memory does a photo cost the server? Peak memory of the upload's image steps, at the limit.

    .venv/bin/python bench/image_memory.py [--pixels 9504x6336] [--keep DIR]

Makes the largest photo the desk accepts by default (9,504 x 6,336 = 60.2 megapixels, a 61-megapixel
full-frame camera's; DESK_MAX_IMAGE_PIXELS allows 61,000,000) as a camera JPEG standing upright, the
same JPEG turned by its EXIF orientation (the pixels are turned when it is cleaned), and a PNG; and a
13,000 x 13,000 PNG of a few hundred kilobytes, the decompression bomb the limit is there for.

Each step runs in a process of its own, started for it, so that its peak resident size (VmHWM, which
counts Pillow's C allocations, unlike tracemalloc) is that step's alone: `check` reads the
type and measures from the header (what refuses an oversized image), `clean` removes the location and
camera data (media_clean.clean_photo), `thumbnail` makes the stored thumbnail from the cleaned copy,
and `upload` does all three in one process, as the web process does. `at rest` is the process after
its imports and after reading the file; `added` is what the step took on top. Prints figures only.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import resource
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STEPS = ("check", "clean", "thumbnail", "upload")


def _peak_mb() -> float:
    """This process's peak resident size. VmHWM, not ru_maxrss: after exec, Linux's ru_maxrss still counts
    the parent's size at the fork, which would hide a step smaller than the parent that started it."""
    try:
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


# ---- the child: one step, one process -------------------------------------------------------------------

def run_step(step: str, path: str, out: str | None) -> dict:
    from PIL import Image

    from desk.domain import media_clean, media_thumbnails, media_types

    Image.init()  # every plugin imported before the baseline, so the step is measured alone
    data = Path(path).read_bytes()
    at_rest = _peak_mb()
    started = time.perf_counter()
    result = "ok"
    try:
        if step in ("check", "upload"):
            media_types.sniff(data)
        if step in ("clean", "upload"):
            cleaned = media_clean.clean_photo(data).data
            if out:
                Path(out).write_bytes(cleaned)
            data = cleaned
        if step in ("thumbnail", "upload"):
            media_thumbnails.make_thumbnail(data)
    except ValueError as exc:  # a refusal is a result too: how little it cost is the point
        result = f"refused: {str(exc)[:60]}..."
    return {"at_rest": at_rest, "peak": _peak_mb(), "seconds": time.perf_counter() - started, "result": result}


def measure(step: str, path: Path, out: Path | None = None) -> dict:
    args = [sys.executable, __file__, "--child", step, str(path)] + ([str(out)] if out else [])
    done = subprocess.run(args, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---- the samples ----------------------------------------------------------------------------------------

def camera_jpeg(width: int, height: int, orientation: int = 1) -> bytes:
    """A photo as a camera writes it: textured pixels, EXIF with make, model, GPS and orientation."""
    from PIL import Image

    bands = [Image.effect_noise((max(1, width // 8), max(1, height // 8)), 60).resize((width, height),
                                                                                     Image.Resampling.BICUBIC)
             for _ in range(3)]
    img = Image.merge("RGB", bands)
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = "Sony", "ILCE-7RM5", orientation
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (51.0, 30.0, 26.4), "W", (0.0, 7.0, 39.6)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=92, exif=exif)
    return out.getvalue()


def flat_png(width: int, height: int, colour_type: int = 2) -> bytes:
    """A PNG of zero rows, compressed by zlib without ever holding its pixels: RGB (2) or grey (0)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    row = bytes(1 + width * (3 if colour_type == 2 else 1))  # filter byte 0, then the samples
    packer = zlib.compressobj(9)
    rows_at_once = max(1, (1 << 22) // len(row))
    body = b"".join(packer.compress(row * min(rows_at_once, height - y)) for y in range(0, height, rows_at_once))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body + packer.flush()) + chunk(b"IEND", b"")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pixels", default="9504x6336", help="the largest accepted photo, WIDTHxHEIGHT")
    parser.add_argument("--keep", help="write the samples here (default: a temporary folder)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        step, path, *out = args.child
        print(json.dumps(run_step(step, path, out[0] if out else None)))
        return

    from PIL import __version__ as pillow

    from desk.domain.media_types import DEFAULT_MAX_IMAGE_PIXELS

    width, height = (int(n) for n in args.pixels.lower().split("x"))
    folder = Path(args.keep or tempfile.mkdtemp(prefix="desk-image-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    samples = {
        "camera JPEG, upright": ("photo.jpg", lambda: camera_jpeg(width, height)),
        "camera JPEG, EXIF-turned": ("turned.jpg", lambda: camera_jpeg(width, height, orientation=6)),
        "PNG, RGB": ("flat.png", lambda: flat_png(width, height)),
        "PNG bomb 13,000 x 13,000": ("bomb.png", lambda: flat_png(13_000, 13_000, colour_type=0)),
    }
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or "unknown"
    print(f"Peak memory of the image steps, each in a process of its own (Pillow {pillow}, commit {commit}).")
    print(f"Largest accepted by default: {DEFAULT_MAX_IMAGE_PIXELS:,} pixels; sample {width:,} x {height:,} = "
          f"{width * height / 1e6:.1f} megapixels, {width * height * 3 / 2**20:.0f} MB as RGB pixels.\n")
    print(f"{'image':<27} {'file MB':>8} {'step':<10} {'at rest MB':>10} {'peak MB':>8} {'added MB':>9} "
          f"{'seconds':>8}  result")
    for label, (name, make) in samples.items():
        path = folder / name
        if not path.exists():
            path.write_bytes(make())
        cleaned = folder / f"cleaned-{name}"
        cleaned.unlink(missing_ok=True)  # made by this run's `clean`, or not at all when it is refused
        for step in STEPS:
            if step == "thumbnail" and not cleaned.exists():
                continue  # refused when cleaned: there is nothing to make a thumbnail of
            source = cleaned if step == "thumbnail" else path
            row = measure(step, source, cleaned if step == "clean" else None)
            print(f"{label:<27} {source.stat().st_size / 2**20:>8.1f} {step:<10} {row['at_rest']:>10.0f} "
                  f"{row['peak']:>8.0f} {row['peak'] - row['at_rest']:>9.0f} {row['seconds']:>8.2f}  "
                  f"{row['result']}")
    if not args.keep:
        for leftover in folder.iterdir():
            leftover.unlink()
        os.rmdir(folder)


if __name__ == "__main__":
    main()
