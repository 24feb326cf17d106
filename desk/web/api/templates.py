"""Templates in the API: list them, and post an update from an approved one (on the `api` blueprint)."""
from __future__ import annotations

from flask import jsonify, url_for

from ...domain import limits
from ...domain import permissions as perm
from ...domain.clock import utcnow
from ...domain.errors import ValidationFailed
from ...models import PostTemplate
from ...services import templates as service
from ...services.common import ensure, get_or_404
from ..context import db
from . import inputs as inp
from . import serialise as out
from .openapi_kit import BOOL, ID, INT, STR, TIME, TIME_IN, _null, _obj, _op, _ref, describes, text
from .routes import api, caller
from .screening import take_acknowledgement


def template_json(t: PostTemplate, user, now) -> dict:
    channels = service.channels_of(db(), t)
    return {
        "id": t.id, "unit_id": t.unit_id, "name": t.name, "body": t.body, "status": t.status, "version": t.version,
        "content_hash": t.content_hash, "approved_at": out.iso(t.approved_at),
        "fields": [s.as_dict() for s in service.fields_of(t)],
        "channel_ids": [c.id for c in channels],
        "may_publish": t.status == service.APPROVED and perm.can_publish_template(user, channels, now),
    }


@api.get("/templates")
def list_templates():
    """The templates of the units the caller works for, with their fields and whether the caller may post."""
    user, now = caller(), utcnow()
    return jsonify(templates=[template_json(t, user, now) for t in service.visible_templates(db(), user)])


def _publish_input(body: dict) -> tuple[dict, object]:
    shape = inp.Shape()
    shape.only(body, {"values", "scheduled_at"})
    values = body.get("values", inp.MISSING)
    if values is inp.MISSING:
        shape.add("values", "Required: an object with a value for each of the template's fields.")
    elif not isinstance(values, dict):
        shape.add("values", "Must be an object {field: value}.")
    when = shape.time(shape.string(body, "scheduled_at", "scheduled_at"), "scheduled_at")
    shape.done()
    return values, (None if when is inp.MISSING else when)


@api.post("/templates/<int:template_id>/publish")
def publish_template(template_id: int):
    """Post an update from an approved template: no second approval, queued at once or for scheduled_at; or,
    when the screening warns about its values and the caller acknowledged it, in review for an approver."""
    user = caller()
    t = get_or_404(db(), PostTemplate, template_id, "template")
    ensure(db(), t in service.visible_templates(db(), user), user, "template.view",
           "This template belongs to a unit you have no role or grant in.", object_type="template",
           object_id=t.id, unit_id=t.unit_id)
    body = inp.json_body()
    acknowledged = take_acknowledgement(body)
    values, when = _publish_input(body)
    try:
        result = service.publish_from_template(db(), user, t.id, values, when, acknowledge_warnings=acknowledged)
    except ValidationFailed as exc:
        raise ValidationFailed(exc.message, field_errors=out.api_fields(exc.field_errors)) from None
    response = jsonify(out.post(result.post, user, utcnow()))
    response.status_code = 201
    response.headers["Location"] = url_for("api.get_post", post_id=result.post.id)
    return response


@describes
def openapi_parts() -> tuple[dict, dict]:
    """(schemas, paths) for the template routes, built with the document's own helpers."""
    from ...domain.post_templates import FIELD_TYPES

    schemas = {
        "TemplateField": _obj({
            "name": {**STR, "description": "As written in the text: {name}."}, "label": STR,
            "type": {"type": "string", "enum": list(FIELD_TYPES)},
            "limit": _null({**INT, "description": "text: the most characters; number: the highest value (the "
                                                  "lowest is 0)."}),
            "choices": {"type": "array", "items": STR, "description": "choice: the values allowed."},
        }),
        "Template": _obj({
            "id": INT, "unit_id": INT, "name": STR, "body": {**STR, "description": "The text, fields in braces."},
            "status": {"type": "string", "enum": ["draft", "approved", "suspended"]}, "version": INT,
            "content_hash": STR, "approved_at": _null(TIME),
            "fields": {"type": "array", "items": _ref("TemplateField")},
            "channel_ids": {"type": "array", "items": INT},
            "may_publish": {**BOOL, "description": "Whether the caller may post an update from it now."},
        }),
        "TemplateList": _obj({"templates": {"type": "array", "items": _ref("Template")}}),
        "TemplatePublish": _obj({
            "values": {"type": "object", "additionalProperties": text(limits.POST_TEXT_MAX),
                       "description": "A value for each field, as a string: a choice as listed, a time as HH:MM, "
                                      "a whole number in digits up to its limit, text within its limit."},
            "scheduled_at": _null({**TIME_IN, "description": TIME_IN["description"] + " Null or absent: at once."}),
            "acknowledge_warnings": {**BOOL, "description": (
                "When the screening warns about what was filled in (and the template's approver did not read it), "
                "the update needs an approver like any post: without true it is refused (400) and nothing is made; "
                "with true it is made in review (state in_review) for the usual approvals of its channels.")},
        }, required=["values"]),
    }
    template_id = {"name": "template_id", "in": "path", "required": True, "schema": ID}
    publish = _op("publishTemplate", "Post an update from an approved template, without a second approval: its "
                  "values are checked and screened; it is queued at once or for scheduled_at. The template's "
                  "approval covers its own words, not what is typed into it: when the screening warns about a "
                  "value, the update goes to an approver instead (see acknowledge_warnings); a blocking finding "
                  "refuses it.",
                  (201, "Post", "The update: approved and queued (state approved), or, when the screening warned "
                                "about what was filled in, in review for an approver (state in_review)."),
                  (400, 403, 404, 409), body="TemplatePublish")
    publish["responses"]["201"]["headers"] = {
        "Location": {"schema": STR, "description": "The new post's address in this API."}}
    publish["responses"]["201"]["links"] = {  # the update is a post like any other: read it, withdraw it
        op: {"operationId": op, "parameters": {"post_id": "$response.body#/id"}} for op in ("getPost", "withdrawPost")}
    paths = {
        "/templates": {"get": _op("listTemplates", "The templates of the units the caller works for.",
                                  (200, "TemplateList", "The templates."), ())},
        "/templates/{template_id}/publish": {"parameters": [template_id], "post": publish},
    }
    return schemas, paths
