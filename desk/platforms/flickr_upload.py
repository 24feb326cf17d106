"""Flickr's photo upload: the fields, the tags, and a multipart body signed the way Flickr requires.

Flickr signs every upload field except `photo`, but requests-oauthlib signs only form-encoded bodies, so
a plain multipart upload through it fails with "Invalid signature" (96). As flickrapi does: sign the
fields as if they were sent form-encoded, then send them multipart, with the photo, under that
Authorization header. The body streams from disk (a photo may be 200 MB) with its length known ahead.
"""
from __future__ import annotations

import hashlib
import mimetypes
import os
import re
import secrets

import requests
from requests.auth import AuthBase

from .base import PERMANENT, Content, MediaItem, PlatformError
from .http import send

VISIBILITY = {"public": (1, 0, 0), "friends": (0, 1, 0), "family": (0, 0, 1), "private": (0, 0, 0)}
SAFETY_LEVELS = {"1", "2", "3"}   # safe, moderate, restricted (a free account takes only safe)
CONTENT_TYPES = {"1", "2", "3"}   # photo, screenshot, other
TITLE_FROM_TEXT = 100             # characters of the text's first line used when no title is given


def machine_tag(marker: str) -> str:
    """The tag that lets the desk recognise its upload after a crash: lower-case hexadecimal, which Flickr's
    tag normalisation leaves as it is."""
    return "desk:marker=" + hashlib.sha256(marker.encode()).hexdigest()[:20]


def tags_of(content: Content) -> list[str]:
    """The press officer's tags: a list (the form's) or a comma-separated string, blanks and repeats dropped."""
    raw = content.extra.get("tags") or []
    if isinstance(raw, str):
        raw = raw.split(",")
    return list(dict.fromkeys(" ".join(str(t).split()) for t in raw if str(t).strip()))


def tag_text(tags: list[str]) -> str:
    """Flickr's tags field: space-separated, a tag with spaces in double quotes (a quote cannot be sent)."""
    return " ".join(f'"{t}"' if re.search(r"\s", t) else t for t in tags)


def title_of(content: Content) -> str:
    title = " ".join(str(content.extra.get("title") or "").split())
    if title:
        return title
    first = next((" ".join(line.split()) for line in content.text.splitlines() if line.strip()), "")
    if len(first) <= TITLE_FROM_TEXT:
        return first
    cut = first[:TITLE_FROM_TEXT - 1]
    if first[TITLE_FROM_TEXT - 1] != " ":  # drop the word cut in half, unless it is the only one
        cut = cut.rsplit(" ", 1)[0] or cut
    return cut.rstrip(" ,;:.-") + "\u2026"


def description_of(content: Content) -> str:
    text = str(content.extra.get("description") or "").strip() or content.text.strip()
    if content.link and content.link not in text:
        text = f"{text}\n\n{content.link}".strip()
    return text


def upload_fields(content: Content, marker: str) -> dict[str, str]:
    """Every signed field of the upload (all but the photo)."""
    public, friend, family = VISIBILITY[content.extra.get("privacy") or "public"]
    fields = {"title": title_of(content), "description": description_of(content),
              "tags": tag_text(tags_of(content) + [machine_tag(marker)]),
              "is_public": str(public), "is_friend": str(friend), "is_family": str(family),
              "safety_level": str(content.extra.get("safety_level") or 1),
              "content_type": str(content.extra.get("content_type") or 1),
              "hidden": "2" if content.extra.get("hidden") else "1"}
    return {name: value for name, value in fields.items() if value != ""}


def _filename(item: MediaItem) -> str:
    """An ASCII file name for the multipart header (Flickr uses it only when there is no title)."""
    stem, ext = os.path.splitext(item.filename or os.path.basename(item.path))
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._") or "photo"
    ext = ext if re.fullmatch(r"\.[A-Za-z0-9]{1,5}", ext or "") else (mimetypes.guess_extension(item.mime_type) or "")
    return stem[:80] + ext


class MultipartBody:
    """multipart/form-data read from disk a block at a time; `len()` is the whole body's size."""

    def __init__(self, fields: dict[str, str], item: MediaItem, *, file_field: str = "photo",
                 block: int = 256 * 1024):
        self.boundary = "desk-" + secrets.token_hex(16)
        head = b"".join(f'--{self.boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
                        + value.encode() + b"\r\n" for name, value in fields.items())
        head += (f'--{self.boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
                 f'filename="{_filename(item)}"\r\nContent-Type: {item.mime_type}\r\n\r\n').encode()
        self._parts = [head, None, f"\r\n--{self.boundary}--\r\n".encode()]
        try:
            self._file = open(item.path, "rb")
            size = os.fstat(self._file.fileno()).st_size
        except OSError:
            raise PlatformError(PERMANENT, "The photo's file is missing from the desk's media store, so nothing "
                                "was posted. Attach the photo again, or tell the desk's administrator.",
                                code="file-missing") from None
        self._length = len(head) + size + len(self._parts[2])
        self._block = block
        self._index = 0

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return self._length

    def read(self, size: int = -1) -> bytes:
        size = self._block if size is None or size < 0 else min(size, self._block)
        while self._index < 3:
            part = self._parts[self._index]
            if part is None:
                chunk = self._file.read(size)
                if chunk:
                    return chunk
            elif part:
                chunk, self._parts[self._index] = part[:size], part[size:]
                return chunk
            self._index += 1
        return b""

    def close(self) -> None:
        self._file.close()


class _Presigned(AuthBase):
    """Puts an Authorization header computed beforehand on the request (the session's own OAuth1 auth
    would sign the multipart body without its fields)."""

    def __init__(self, header):
        self.header = header

    def __call__(self, r):
        r.headers["Authorization"] = self.header
        return r


def signed_upload(session: requests.Session, url: str, fields: dict[str, str], item: MediaItem, *,
                  timeout, block: int, label: str = "Flickr") -> requests.Response:
    """POST the photo with its fields to Flickr's upload endpoint, signed over the fields alone."""
    signed = requests.Request("POST", url, data=fields, auth=session.auth).prepare()
    body = MultipartBody(fields, item, block=block)
    try:
        return send(session, "POST", url, label=label, timeout=timeout, idempotent=False, data=body,
                    headers={"Content-Type": body.content_type}, auth=_Presigned(signed.headers["Authorization"]))
    finally:
        body.close()
