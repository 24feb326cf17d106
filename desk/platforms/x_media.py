"""X media: what a post may carry, and the v2 chunked upload (initialize, append, finalize, status).

A post carries up to 4 images, or one video, or one animated GIF; images and GIFs may carry alt text
(at most 1000 characters). Items are the desk's MediaItem; a bare path or a mapping with "path" and
"mime_type" also works (the type is then guessed from the name).
"""
from __future__ import annotations

import mimetypes
import os
from collections.abc import Mapping
from dataclasses import dataclass

from .base import PERMANENT, TRANSIENT, PlatformError

IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp")
GIF = "image/gif"
VIDEO_TYPES = ("video/mp4", "video/quicktime")
MAX_IMAGES = 4
LIMITS = {"tweet_image": 5 * 1024 * 1024, "tweet_gif": 15 * 1024 * 1024, "tweet_video": 512 * 1024 * 1024}
MAX_ALT_TEXT = 1000
NAMES = {"tweet_image": "an image", "tweet_gif": "an animated GIF", "tweet_video": "a video"}


@dataclass(frozen=True)
class MediaFile:
    path: str
    content_type: str
    filename: str = ""
    alt_text: str = ""

    @property
    def name(self) -> str:
        return self.filename or os.path.basename(self.path)

    @property
    def category(self) -> str | None:
        if self.content_type in IMAGE_TYPES:
            return "tweet_image"
        if self.content_type == GIF:
            return "tweet_gif"
        if self.content_type in VIDEO_TYPES:
            return "tweet_video"
        return None


def media_file(item) -> MediaFile:
    if isinstance(item, (str, os.PathLike)):
        item = {"path": os.fspath(item)}
    get = item.get if isinstance(item, Mapping) else (lambda name, default=None: getattr(item, name, default))
    path = os.fspath(get("path"))
    kind = get("mime_type") or mimetypes.guess_type(path)[0] or "application/octet-stream"
    return MediaFile(path, kind, get("filename") or "", get("alt_text") or "")


def media_problems(media) -> list[str]:
    """What X would refuse about these attachments, in words; empty when they are fine."""
    files = [media_file(m) for m in media]
    problems = []
    for f in files:
        if f.category is None:
            problems.append(f"X cannot show {f.name} ({f.content_type}): attach JPEG, PNG or WebP images, a GIF, "
                            "or an MP4 or MOV video.")
        elif not os.path.isfile(f.path):
            problems.append(f"The file {f.name} is missing from the desk's media store: attach it again.")
        elif os.path.getsize(f.path) > LIMITS[f.category]:
            limit = LIMITS[f.category] // (1024 * 1024)
            problems.append(f"{f.name} is too large for X: {NAMES[f.category]} may be at most {limit} MB.")
        if len(f.alt_text) > MAX_ALT_TEXT:
            problems.append(f"The description (alt text) of {f.name} has {len(f.alt_text)} characters; X takes at "
                            f"most {MAX_ALT_TEXT}. Shorten it by {len(f.alt_text) - MAX_ALT_TEXT}.")
    categories = [f.category for f in files if f.category]
    moving = [c for c in categories if c != "tweet_image"]
    if moving and len(categories) > 1:
        problems.append("An X post carries one video or one GIF on its own, or up to 4 images: remove the others.")
    elif len(categories) > MAX_IMAGES:
        problems.append(f"An X post carries at most {MAX_IMAGES} images; this one has {len(categories)}.")
    return problems


def upload_media(job, publisher, media: MediaFile) -> str:
    """Upload one file in chunks and wait until X has processed it; returns its media id."""
    size = os.path.getsize(media.path)
    # A repeated initialize only leaves an unused upload behind, which X discards: safe to retry.
    data = job.call("POST", "/2/media/upload/initialize", idempotent=True, json={
        "media_type": media.content_type, "total_bytes": size, "media_category": media.category}).get("data") or {}
    media_id = str(data.get("id") or "")
    if not media_id:
        raise PlatformError(TRANSIENT, "X did not start the upload of the media. The desk will try again.",
                            code="media-init")
    chunk_size = publisher.settings.upload_chunk_bytes
    with open(media.path, "rb") as handle:
        index = 0
        while chunk := handle.read(chunk_size):
            # Sending a segment again replaces it: safe to retry.
            job.call("POST", f"/2/media/upload/{media_id}/append", idempotent=True,
                     files={"media": ("blob", chunk, "application/octet-stream")}, data={"segment_index": str(index)})
            index += 1
    data = job.call("POST", f"/2/media/upload/{media_id}/finalize", idempotent=True).get("data") or {}
    _wait_for_processing(job, publisher, media, media_id, data.get("processing_info"))
    if media.alt_text and media.category != "tweet_video":  # X takes alt text for images and GIFs only
        job.call("POST", "/2/media/metadata", idempotent=True,
                 json={"id": media_id, "metadata": {"alt_text": {"text": media.alt_text}}})
    return media_id


def _wait_for_processing(job, publisher, media: MediaFile, media_id: str, info: dict | None) -> None:
    settings = publisher.settings
    deadline = publisher.clock() + settings.media_processing_timeout
    while info and info.get("state") in ("pending", "in_progress"):
        if publisher.clock() >= deadline:
            raise PlatformError(TRANSIENT, f"X is still processing {media.name} after "
                                f"{round(settings.media_processing_timeout / 60)} minutes. Nothing was posted; "
                                "the desk will try again.", code="media-processing-timeout")
        publisher.sleep(min(float(info.get("check_after_secs") or 1), settings.media_poll_max_wait))
        body = job.call("GET", "/2/media/upload", params={"command": "STATUS", "media_id": media_id})
        info = (body.get("data") or {}).get("processing_info")
    if info and info.get("state") == "failed":
        reason = (info.get("error") or {}).get("message") or "no reason given"
        raise PlatformError(PERMANENT, f"X could not process {media.name} ({reason}). Nothing was posted: replace "
                            "the file (an MP4 with H.264 video and AAC sound plays everywhere) and submit the post "
                            "again.", code="media-processing-failed")
