"""Photos and videos in the API (on the `api` blueprint): upload one into a unit's media library, list the
library. A post's target then names its files by id (`media_ids`), in the order they go out.

The upload is multipart/form-data, not JSON: a file of hundreds of megabytes has no business in base64.
"""
from __future__ import annotations

from flask import jsonify, request

from ...domain import limits
from ...domain import permissions as perm
from ...domain.clock import utcnow
from ...domain.errors import ValidationFailed
from ...models import Unit
from ...services import media as media_service
from ...services.common import ensure, get_or_404
from ..context import db, settings
from ..media_library import UPLOAD_LIMIT
from ..request_checks import form_problems
from . import inputs as inp
from . import serialise as out
from .openapi_kit import ID, INT, STR, TIME, _json, _null, _obj, _op, _ref, describes
from .routes import api, caller

UPLOAD_FIELDS = {"unit_id"}
UPLOAD_FILES = {"file"}


@api.url_value_preprocessor
def _allow_uploads(endpoint, _values):
    # Before anything reads the body: the larger limit is for the upload alone, as on the library's page.
    if endpoint == "api.upload_media":
        request.max_content_length = UPLOAD_LIMIT


def _unit_id(shape: inp.Shape, text: str | None) -> int | None:
    if text is None or text == "":
        shape.add("unit_id", "Required: the id of the unit whose library keeps the file (GET /api/v1/me lists "
                             "your units).")
    else:
        number = limits.whole_number(text)
        problem = limits.id_problem(number) if number is not None else "Must be a whole number of 1 or more."
        if not problem:
            return number
        shape.add("unit_id", f"{problem} Not '{text[:40]}'.")
    return None


def _upload_input():
    """The unit and the one file of a multipart request; every problem with its shape at once."""
    shape = inp.Shape()
    if request.mimetype != "multipart/form-data":
        raise ValidationFailed("Send the file as multipart/form-data, with the file in the field `file` and the "
                              "unit's id in `unit_id` (curl -F file=@photo.jpg -F unit_id=3 ...). Nothing was "
                              "stored.")
    for name, problems in form_problems().items():
        for problem in problems:
            shape.add(name, problem)
    shape.only(request.form, UPLOAD_FIELDS)
    shape.only(request.files, UPLOAD_FILES)
    unit_id = _unit_id(shape, request.form.get("unit_id"))
    files = [f for f in request.files.getlist("file") if f.filename]
    if not files:
        shape.add("file", "Required: the photo or video, as a file with its name.")
    elif len(files) > 1:
        shape.add("file", f"One file per request; this one has {len(files)}. Send them one at a time.")
    shape.done()
    return unit_id, files[0]


@api.post("/media")
def upload_media():
    """Store a photo or video in a unit's library (members of the unit); checked by its content, and
    cleaned of location and device data before anything is published."""
    unit_id, upload = _upload_input()
    now = utcnow()
    try:
        media = media_service.store_upload(db(), caller(), unit_id, upload.filename, upload.read(),
                                           settings().media_dir, now=now, max_pixels=settings().max_image_pixels)
    except ValidationFailed as exc:  # the service keys its refusals as the web form's `media` field
        messages = exc.field_errors.get("media") or [exc.message]
        raise ValidationFailed(f"{messages[0]} Nothing was stored.", field_errors={"file": messages}) from None
    # The library keeps each content once: the same file again answers with the one already there.
    created = media.uploaded_at == now
    response = jsonify(out.media(media))
    response.status_code = 201 if created else 200
    return response


@api.get("/media")
def list_media():
    """A unit's media library, newest first (its members, and desk administrators)."""
    shape = inp.Shape()
    shape.only(request.args, {"unit_id"})
    unit_id = _unit_id(shape, request.args.get("unit_id"))
    shape.done()
    user = caller()
    unit = get_or_404(db(), Unit, unit_id, "unit")
    # The same rule as the service's listing, which would otherwise answer an empty list for a stranger.
    ensure(db(), perm.can_use_media_of(user, unit.id), user, "media.list",
           f"Only members of {unit.code} may see its media library.", object_type="unit", object_id=unit.id,
           unit_id=unit.id)
    return jsonify(unit_id=unit.id, media=[out.media(m) for m in media_service.unit_library(db(), user, unit.id)])


@describes
def openapi_parts() -> tuple[dict, dict]:
    """(schemas, paths) for the media routes, built with the document's own helpers."""

    schemas = {
        "Media": _obj({
            "id": INT, "unit_id": INT, "filename": {**STR, "description": "The name it was uploaded with."},
            "sha256": {**STR, "description": "The uploaded file's SHA-256, in hex."},
            "mime_type": {**STR, "description": "What the file really is, from its content: image/jpeg, "
                          "image/png, image/gif, image/webp, video/mp4 or video/quicktime."},
            "size": {**INT, "description": "Bytes of the copy that is published (cleaned of location and "
                     "device data)."},
            "width": _null(INT), "height": _null(INT),
            "duration": _null({"type": "number", "description": "Seconds, for a video."}),
            "uploaded_at": TIME,
        }),
        "MediaList": _obj({"unit_id": INT, "media": {"type": "array", "items": _ref("Media"),
                                                     "description": "Newest first."}}),
        "MediaUpload": _obj({
            "file": {"type": "string", "contentMediaType": "application/octet-stream",
                     "description": "One photo or video (JPEG, PNG, GIF, WebP, MP4 or MOV), judged by its "
                                    f"content, not its name; at most {media_service.MAX_UPLOAD_BYTES >> 20} MB."},
            "unit_id": {**ID, "description": "The unit whose library keeps it; the caller must be a member."},
        }),
    }
    upload = _op("uploadMedia", "Upload a photo or video into a unit's media library. A file the library "
                 "already holds is not stored twice: the answer is then 200 with the file already there.",
                 (201, "Media", "The stored file."), (400, 403, 404))
    upload["responses"]["200"] = _json("Media", "The library already held this file: the one already there.")
    upload["responses"]["400"] = {**upload["responses"]["400"], "description": "Not a photo or video the desk "
                                  "can publish (`fields.file` says why), or the request's shape is wrong."}
    upload["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": _ref("MediaUpload")}}}
    listing = _op("listMedia", "A unit's media library, newest first (its members and desk administrators).",
                  (200, "MediaList", "The unit's files."), (400, 403, 404), parameters=[
                      {"name": "unit_id", "in": "query", "required": True, "schema": ID,
                       "description": "The unit."}])
    return schemas, {"/media": {"get": listing, "post": upload}}
