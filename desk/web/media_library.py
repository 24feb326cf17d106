"""A unit's media library: its photos and videos, what was removed from each before publishing, which of
its channels would take each; uploads; and a clear page when an upload is larger than the server takes."""
from __future__ import annotations

import json

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge

from ..domain import limits
from ..domain.errors import DeskError, NotFound, ValidationFailed
from ..models import AuditEvent, Channel, Unit, User
from ..services import media as media_service
from ..services.common import get_or_404
from .context import db, settings
from .post_media import Refusals

bp = Blueprint("media_library", __name__)
# One file as large as the library takes, plus the form's few fields.
UPLOAD_LIMIT = media_service.MAX_UPLOAD_BYTES + (1 << 20)


def me() -> User:
    return current_user._get_current_object()


def _megabytes(size: int | None) -> int:
    return (size or 0) // (1 << 20)


def _human(size: int | None) -> str:
    size = size or 0
    return f"{size // (1 << 20)} MB" if size >= (1 << 20) else f"{max(1, size // 1024)} KB"


@bp.app_errorhandler(RequestEntityTooLarge)
def too_large(_exc):
    """More bytes than the server takes: nothing was read, so nothing was saved; say so and what to do."""
    limit = request.max_content_length or current_app.config.get("MAX_CONTENT_LENGTH")
    message = (f"What you sent is larger than the desk takes in one go ({_human(limit)}), so nothing was "
               "received and nothing was saved. Make the file smaller (export the video at a lower resolution, "
               "or the photo at a smaller size) and send it again, or add large files one at a time.")
    if request.path.startswith("/api/"):
        return jsonify(error="too_large", message=message, fields=None), 413
    error = DeskError(message)
    error.http_status = 413
    return render_template("error.html", error=error, title="Too large to upload"), 413


@bp.url_value_preprocessor
def _allow_uploads(endpoint, _values):
    # Before the CSRF check reads the body: the larger limit applies to the library's upload only.
    if endpoint == "media_library.library" and request.method == "POST":
        request.max_content_length = UPLOAD_LIMIT


def _units(user) -> list[Unit]:
    units = db().scalars(select(Unit).order_by(Unit.code)).all()
    return [u for u in units if user.is_admin or u.id in user.roles_by_unit]


def _removed(media_ids: list[int]) -> dict[int, list[str]]:
    """What was taken out of each file before publishing, as recorded when it was uploaded."""
    if not media_ids:
        return {}
    rows = db().execute(select(AuditEvent.object_id, AuditEvent.details).where(
        AuditEvent.action == "media.uploaded", AuditEvent.object_type == "media",
        AuditEvent.object_id.in_([str(i) for i in media_ids]))).all()
    return {int(oid): json.loads(details or "{}").get("metadata_removed", []) for oid, details in rows}


def _upload_unit(shown: Unit) -> Unit:
    """The unit an upload names (the address first, as the page does), for the service to allow or refuse
    with its audited refusal; never the page's fallback for a unit one may not see, which put another
    unit's upload in one's own library."""
    wanted = request.args.get("unit") or request.form.get("unit")
    if not wanted:
        return shown
    unit_id = limits.row_id(wanted)
    if unit_id is None:
        raise NotFound(f"There is no unit '{wanted[:40]}', so nothing was stored.")
    return get_or_404(db(), Unit, unit_id, "unit")


@bp.route("/media", methods=["GET", "POST"])
@login_required
def library():
    """A unit's photos and videos, to reuse in posts; upload more here."""
    user = me()
    units = _units(user)
    chosen = request.values.get("unit", type=int)
    own = [u for u in units if u.id in user.roles_by_unit]  # an administrator may look at every unit's
    unit = next((u for u in units if u.id == chosen), (own or units or [None])[0])
    if request.method == "POST" and unit is not None:
        unit = _upload_unit(unit)
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            flash("Choose a photo or video to upload.", "error")
        else:
            try:
                media = media_service.store_upload(db(), user, unit.id, upload.filename, upload.read(),
                                                   settings().media_dir, max_pixels=settings().max_image_pixels)
            except ValidationFailed as exc:
                flash(exc.message, "error")
            else:
                flash(f"{media.filename} is in {unit.code}'s library. What is published is a copy without "
                      "location or camera data; the original is kept for the record.", "success")
        return redirect(url_for("media_library.library", unit=unit.id))
    files = media_service.unit_library(db(), user, unit.id) if unit else []
    channels = db().scalars(select(Channel).where(Channel.unit_id == unit.id, Channel.status != "archived")
                            .order_by(Channel.name)).all() if unit else []
    refused = Refusals()
    refusals = {m.id: [(c, why) for c in channels if (why := refused(c.platform, m))] for m in files}
    return render_template("media/library.html", units=units, unit=unit, files=files, channels=channels,
                           refusals=refusals, removed=_removed([m.id for m in files]),
                           may_upload=bool(unit and unit.id in user.roles_by_unit),
                           limit_mb=_megabytes(media_service.MAX_UPLOAD_BYTES))
