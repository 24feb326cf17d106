"""Stored photos and videos shown back to the people who may see them: a thumbnail, and the file itself."""
from __future__ import annotations

import os

from flask import Blueprint, Response, send_file
from flask_login import login_required

from ..domain import media_thumbnails, media_types
from ..domain.errors import NotFound
from ..domain.media_thumbnails import THUMBNAIL_PX
from ..models import Media
from ..services import media as media_service
from ..services.common import ensure, get_or_404
from .context import db, settings
from .post_media import may_see
from .posts import me

bp = Blueprint("media", __name__, url_prefix="/media")
# A stored file never changes (it is named by its content), but it is the force's own: private caches only.
CACHE = "private, max-age=86400"


def _secure(resp: Response) -> Response:
    """An uploaded file is shown as what its bytes say it is, and can run nothing."""
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    resp.headers["Cache-Control"] = CACHE
    return resp


def _load(media_id: int) -> Media:
    media = get_or_404(db(), Media, media_id, "media file")
    ensure(db(), may_see(db(), me(), media), me(), "media.view",
           "This file belongs to another unit's media library.", object_type="media", object_id=media.id,
           unit_id=media.unit_id)
    if not os.path.isfile(media.published_path):
        raise NotFound(f"The file {media.filename} is missing from the desk's media store: upload it again.")
    return media


@bp.route("/<int:media_id>/thumbnail")
@login_required
def thumbnail(media_id: int):
    """A small copy of a photo, for the post form, the post's page and the approver's review."""
    media = _load(media_id)
    if not media.mime_type.startswith("image/"):
        raise NotFound("Only photos have a thumbnail; a video is shown by its name and length.")
    try:
        path = media_service.thumbnail_of(db(), media, settings().media_dir, settings().max_image_pixels)
    except media_types.TooManyPixels as exc:  # stored before the limit: not decoded now, for a preview
        raise NotFound(f"{media.filename} is larger than the desk now takes, so it has no thumbnail. {exc}") from None
    except media_thumbnails.CannotThumbnail:
        raise NotFound(f"The desk cannot read {media.filename} to make a thumbnail.") from None
    mime = "image/png" if path.endswith(".png") else "image/jpeg"
    resp = send_file(path, mimetype=mime, conditional=True, etag=f"{media.sha256}-{THUMBNAIL_PX}", max_age=None)
    return _secure(resp)


@bp.route("/<int:media_id>/file")
@login_required
def original(media_id: int):
    """The file as it will be published (a video plays in the browser; ranges are honoured)."""
    media = _load(media_id)
    resp = send_file(media.published_path, mimetype=media.mime_type, conditional=True, etag=media.sha256,
                     download_name=media.filename, max_age=None)
    return _secure(resp)


@bp.app_template_filter("filesize")
def filesize(size: int | None) -> str:
    size = size or 0
    for unit, step in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= step:
            return f"{size / step:.1f} {unit}"
    return f"{size} bytes"


@bp.app_template_filter("duration")
def duration(seconds: float | None) -> str:
    if seconds is None:
        return "length unknown"
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"
