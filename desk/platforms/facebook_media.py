"""What a Facebook Page post may carry, checked before submission, and the bodies that upload it.

The rules, from Meta's documentation:
- a message of at most 63,206 characters;
- a link must be an http(s) address; with media there is no link preview, so the link goes into the text;
- photos: JPEG, PNG or GIF (Meta also lists BMP and TIFF, which the desk does not store; WebP is not
  listed), at most 10 MB each (the only hard figure Meta gives for Page photo files; it recommends under
  4 MB, and PNG under 1 MB). Several photos make one post: each is uploaded unpublished, then one feed post
  attaches them all (`attached_media`). Meta gives no maximum for that: the desk allows MAX_PHOTOS;
- one video on its own (MP4 or MOV), sent in one request (`source`, the non-resumable upload), which Meta
  limits to 1 GB and 20 minutes; and at least 1 KB (error 1363022).
Files are streamed from disk in a multipart body of known length, never read whole into memory.
"""
from __future__ import annotations

import os
import secrets
import unicodedata
from collections.abc import Iterator

from .base import Content, MediaItem, Problem

MAX_MESSAGE = 63_206
MAX_PHOTOS = 10
PHOTO_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF"}
MAX_PHOTO_BYTES = 10 * 1024 * 1024
VIDEO_TYPES = {"video/mp4": "MP4", "video/quicktime": "MOV"}
MAX_VIDEO_BYTES = 1024 * 1024 * 1024
MIN_VIDEO_BYTES = 1024
MAX_VIDEO_SECONDS = 20 * 60


def compose(content: Content) -> str:
    """The message as sent: the text, and the link at the end when media leave no room for a link preview."""
    text = unicodedata.normalize("NFC", content.text.strip())
    if content.link and content.media and content.link not in text:
        text = f"{text}\n\n{content.link}".strip()
    return text


def _name(item: MediaItem) -> str:
    return item.filename or os.path.basename(item.path)


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def content_problems(content: Content) -> list[Problem]:
    problems = []
    message = compose(content)
    if not message and not content.link and not content.media:
        problems.append(Problem("text", "Write something, add a link or attach media: Facebook takes no empty post."))
    if len(message) > MAX_MESSAGE:
        problems.append(Problem("text", f"Facebook takes at most {MAX_MESSAGE:,} characters in a post; this one has "
                                f"{len(message):,}. Shorten it by {len(message) - MAX_MESSAGE:,}."))
    link = (content.link or "").strip()
    if link and (not link.lower().startswith(("http://", "https://")) or len(link.split("://", 1)[1]) < 3
                 or any(c.isspace() for c in link)):
        problems.append(Problem("link", "A link must be a web address starting with http:// or https://, without "
                                "spaces."))
    problems.extend(Problem("media", m) for m in media_problems(content.media))
    return problems


def media_problems(media: tuple[MediaItem, ...]) -> list[str]:
    problems = []
    videos = [m for m in media if m.mime_type in VIDEO_TYPES]
    photos = [m for m in media if m.mime_type in PHOTO_TYPES]
    for item in media:
        name = _name(item)
        if item.mime_type not in PHOTO_TYPES and item.mime_type not in VIDEO_TYPES:
            problems.append(f"Facebook cannot take {name} ({item.mime_type}): attach JPEG, PNG or GIF photos, or "
                            "one MP4 or MOV video.")
        elif not os.path.isfile(item.path):
            problems.append(f"The file {name} is missing from the desk's media store: attach it again.")
        elif item in photos and item.size > MAX_PHOTO_BYTES:
            problems.append(f"{name} is {_mb(item.size)}; Facebook takes photos of at most 10 MB. Export it smaller.")
        elif item in videos and item.size > MAX_VIDEO_BYTES:
            problems.append(f"{name} is {_mb(item.size)}; the desk can send Facebook videos of at most 1 GB. "
                            "Export it smaller.")
        elif item in videos and item.size < MIN_VIDEO_BYTES:
            problems.append(f"{name} is under 1 KB, too small to be a video Facebook accepts: attach the real file.")
        if item in videos and item.duration is not None and item.duration > MAX_VIDEO_SECONDS:
            minutes, seconds = divmod(round(item.duration), 60)
            problems.append(f"{name} lasts {minutes} min {seconds:02d} s; the desk can send Facebook videos of at "
                            "most 20 minutes. Cut it shorter.")
    if videos and len(media) > 1:
        problems.append("A Facebook post carries one video on its own, or photos: remove the other files.")
    elif len(photos) > MAX_PHOTOS:
        problems.append(f"The desk sends at most {MAX_PHOTOS} photos in one Facebook post; this one has "
                        f"{len(photos)}. Remove {len(photos) - MAX_PHOTOS}.")
    return problems


class MultipartFile:
    """A multipart/form-data body with one file, streamed from disk; its length is known, so requests sends
    a Content-Length rather than a chunked body."""

    chunk_size = 1024 * 1024

    def __init__(self, fields: dict[str, str], file_field: str, item: MediaItem):
        boundary = secrets.token_hex(16)
        self.content_type = f"multipart/form-data; boundary={boundary}"
        self.path = item.path
        safe = "".join(c for c in _name(item) if c.isprintable() and c not in '"\\') or "upload"
        parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
                 for k, v in fields.items() if v is not None]
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; filename="{safe}"\r\n'
                     f"Content-Type: {item.mime_type}\r\n\r\n")
        self.head = "".join(parts).encode("utf-8")
        self.tail = f"\r\n--{boundary}--\r\n".encode()
        self.size = os.path.getsize(item.path)

    def __len__(self) -> int:
        return len(self.head) + self.size + len(self.tail)

    def __iter__(self) -> Iterator[bytes]:
        yield self.head
        with open(self.path, "rb") as handle:
            while chunk := handle.read(self.chunk_size):
                yield chunk
        yield self.tail


def upload_kwargs(fields: dict[str, str], file_field: str, item: MediaItem) -> dict:
    body = MultipartFile(fields, file_field, item)
    return {"data": body, "headers": {"Content-Type": body.content_type}}
