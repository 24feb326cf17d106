"""Storing uploaded media by content hash, and a unit's media library.

Each upload is kept twice: the original, for the record (under `originals/`), and the copy that is
published (under `published/`), cleaned of location and device data by `desk.media_clean`. Only the
published copy is ever shown or sent to a platform. A photo's thumbnail is made from the published copy
at upload and kept under `thumbnails/`, so that no page view decodes a photo. A photo with more pixels
than the desk's limit (DESK_MAX_IMAGE_PIXELS) is refused before any of its pixels are decoded.
"""
from __future__ import annotations

import hashlib
import os
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain import media_clean, media_thumbnails, media_types
from ..domain import permissions as perm
from ..domain.clock import utcnow
from ..domain.errors import ValidationFailed
from ..models import Media, Unit
from . import audit_trail
from .common import ensure, get_or_404

MAX_UPLOAD_BYTES = 512 * 1024 * 1024  # the largest any platform takes (YouTube allows more, the desk does not)


def _refuse(message: str) -> None:
    raise ValidationFailed(message, field_errors={"media": [message]})


def _store(media_dir: str, digest: str, ext: str, data: bytes, kind: str = "") -> str:
    folder = os.path.join(media_dir, kind, digest[:2], digest[2:4])
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{digest}.{ext}")
    if not os.path.exists(path):
        tmp = path + ".part"
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)  # never a half-written file under the final name
    return path


def store_upload(session: Session, actor, unit_id: int, filename: str, data: bytes, media_dir: str,
                 now: datetime | None = None,
                 max_pixels: int = media_types.DEFAULT_MAX_IMAGE_PIXELS) -> Media:
    """Check what the file really is, keep it once per content, and put it in the unit's library."""
    now = now or utcnow()
    unit = get_or_404(session, Unit, unit_id, "unit")
    ensure(session, perm.can_use_media_of(actor, unit.id, now), actor, "media.upload",
           f"Only members of {unit.code} may add to its media library.", object_type="unit", object_id=unit.id,
           unit_id=unit.id)
    name = os.path.basename(filename or "upload")[:255]
    if not data:
        _refuse(f"{name} is empty.")
    if len(data) > MAX_UPLOAD_BYTES:
        _refuse(f"{name} is {len(data) // (1024 * 1024)} MB; the desk takes files up to "
                f"{MAX_UPLOAD_BYTES // (1024 * 1024)} MB.")
    try:
        sniffed = media_types.sniff(data, max_pixels)
    except media_types.TooManyPixels as exc:
        _refuse(f"{name}: {exc}")
    if sniffed is None:
        _refuse(f"{name} is not a photo or video the desk can publish (JPEG, PNG, GIF, WebP, MP4 or MOV), "
                "whatever its name says. Export it in one of those formats and upload it again.")
    digest = hashlib.sha256(data).hexdigest()
    existing = session.scalar(select(Media).where(Media.unit_id == unit.id, Media.sha256 == digest))
    if existing:
        return existing
    try:
        cleaned = media_clean.clean(data, sniffed.mime_type, sniffed.width, sniffed.height, max_pixels)
    except (media_clean.CannotClean, media_types.TooManyPixels) as exc:
        _refuse(f"{name}: {exc}")
    ext = media_types.EXTENSIONS[sniffed.mime_type]
    path = _store(media_dir, digest, ext, data, "originals")
    published_digest = hashlib.sha256(cleaned.data).hexdigest()
    # Nothing to remove (a plain video, say): the original is the published copy; no second file.
    published = path if published_digest == digest else _store(media_dir, published_digest, ext, cleaned.data,
                                                                 "published")
    is_photo = sniffed.mime_type.startswith("image/")
    thumbnail = _make_thumbnail(media_dir, published_digest, cleaned.data, max_pixels) if is_photo else None
    # Sizes and measures are the published copy's: that is what the platforms receive and check.
    media = Media(unit_id=unit.id, sha256=digest, filename=name, mime_type=sniffed.mime_type,
                  size=len(cleaned.data), duration=sniffed.duration, width=cleaned.width, height=cleaned.height,
                  original_path=path, published_path=published, thumbnail_path=thumbnail, alt_text="",
                  uploaded_by_id=actor.id, uploaded_at=now)
    session.add(media)
    session.flush()
    audit_trail.record(session, actor, "media.uploaded", "media", media.id, unit_id=unit.id, now=now,
                       details={"filename": name, "sha256": digest, "mime_type": sniffed.mime_type,
                                "size": len(data), "published_sha256": published_digest,
                                "metadata_removed": list(cleaned.removed)})
    session.commit()
    return media


def _make_thumbnail(media_dir: str, published_digest: str, data: bytes, max_pixels: int) -> str | None:
    """The stored thumbnail's path, named by the published copy it shows; None if the photo cannot be read
    (the page then says so; the upload itself stands)."""
    try:
        thumb = media_thumbnails.make_thumbnail(data, max_pixels)
    except media_thumbnails.CannotThumbnail:
        return None
    return _store(media_dir, f"{published_digest}-{media_thumbnails.THUMBNAIL_PX}", thumb.extension, thumb.data,
                  "thumbnails")


def thumbnail_of(session: Session, media: Media, media_dir: str,
                 max_pixels: int = media_types.DEFAULT_MAX_IMAGE_PIXELS) -> str:
    """The path of a photo's stored thumbnail; a photo stored before thumbnails were kept gets one now, once.

    Not audited: a thumbnail is derived from the published copy and changes nothing that anyone decides
    on or that goes out. Raises TooManyPixels for a photo stored before the pixel limit, which is then
    not decoded, and CannotThumbnail for one that cannot be read."""
    if media.thumbnail_path and os.path.isfile(media.thumbnail_path):
        return media.thumbnail_path
    with open(media.published_path, "rb") as fh:
        data = fh.read()
    thumb = media_thumbnails.make_thumbnail(data, max_pixels)
    digest = hashlib.sha256(data).hexdigest()
    media.thumbnail_path = _store(media_dir, f"{digest}-{media_thumbnails.THUMBNAIL_PX}", thumb.extension,
                                  thumb.data, "thumbnails")
    session.commit()
    return media.thumbnail_path


def unit_library(session: Session, actor, unit_id: int) -> list[Media]:
    if not perm.can_use_media_of(actor, unit_id):
        return []
    return list(session.scalars(select(Media).where(Media.unit_id == unit_id).order_by(Media.uploaded_at.desc())))


def clean_stored(session: Session, actor, media_dir: str, now: datetime | None = None,
                 max_pixels: int = media_types.DEFAULT_MAX_IMAGE_PIXELS) -> tuple[int, list[str]]:
    """Give files stored before cleaning existed a cleaned published copy (the original stays as it was).

    Returns how many were cleaned, and the files that could not be (by name, with the reason); those keep
    their state and should be replaced by hand. The approved content hash names the original, so approvals
    stand.
    """
    now = now or utcnow()
    cleaned_count, problems = 0, []
    rows = session.scalars(select(Media).where(Media.published_path == Media.original_path).order_by(Media.id))
    for media in list(rows):
        try:
            with open(media.original_path, "rb") as fh:
                data = fh.read()
            cleaned = media_clean.clean(data, media.mime_type, media.width, media.height, max_pixels)
        except (OSError, media_clean.CannotClean, media_types.TooManyPixels) as exc:
            problems.append(f"{media.filename} (media {media.id}): {exc}")
            continue
        if not cleaned.removed:
            continue
        digest = hashlib.sha256(cleaned.data).hexdigest()
        media.published_path = _store(media_dir, digest, media_types.EXTENSIONS[media.mime_type], cleaned.data,
                                      "published")
        media.size, media.width, media.height = len(cleaned.data), cleaned.width, cleaned.height
        media.thumbnail_path = None  # made again from the new published copy at its next view
        audit_trail.record(session, actor, "media.cleaned", "media", media.id, unit_id=media.unit_id, now=now,
                           details={"published_sha256": digest, "metadata_removed": list(cleaned.removed)})
        session.commit()  # one file at a time: a long backfill keeps what it has done
        cleaned_count += 1
    return cleaned_count, problems
