"""The OpenAPI 3.1 description of /api/v1, as Python data; served at /api/v1/openapi.json.

Enumerations come from the domain modules, so a new state shows up here without a second edit;
tests check that every route is described and that real answers fit their schemas.
"""
from __future__ import annotations

import copy

from ...domain import limits
from ...domain import workflow as wf
from ...domain.screening import SEVERITIES
from ...models import CHANNEL_STATUSES, PLATFORMS, ROLES
from ...platforms.base import ERROR_CLASSES
from .inputs import FIELD_LIMITS, MAX_PER_PAGE
from .openapi_kit import BOOL, ID, INT, POSITIVE, STR, TIME, TIME_IN, _null, _obj, _op, _ref, parts, text

FIELD_ERRORS = {"type": "object", "additionalProperties": {"type": "array", "items": STR},
                "description": "Messages per field. In a request's shape: its path ('targets[1].scheduled_at'); "
                               "in a saved post's problems: 'body', 'link', 'targets', or "
                               "'targets.<channel_id>.<field>' where field is text, scheduled_at, media, "
                               "title, description, tags or privacy (the platform's own rules)."}
ACTIONS = ["edit", "submit", "approve", "reject", "withdraw", "retract"]

SCHEMAS = {
    "Error": _obj({
        "error": {"type": "string", "description": "A stable code: unauthorized, forbidden, not_found, "
                  "method_not_allowed, invalid, invalid_json, conflict, unsupported_media_type, too_large, "
                  "internal_server_error, error, ..."},
        "message": {"type": "string", "description": "What happened, what was kept and what to do, in words."},
        "fields": _null(FIELD_ERRORS),
    }),
    "FieldErrors": FIELD_ERRORS,
    "Person": _obj({"id": INT, "name": STR, "email": STR}),
    "Role": _obj({"unit_id": INT, "unit_code": STR, "unit_name": STR, "role": {"type": "string", "enum": list(ROLES)}}),
    "Me": _obj({"id": INT, "name": STR, "email": STR, "is_admin": BOOL, "is_auditor": BOOL,
                "roles": {"type": "array", "items": _ref("Role")}}),
    "Channel": _obj({
        "id": INT, "name": STR, "platform": {"type": "string", "enum": list(PLATFORMS)},
        "status": {"type": "string", "enum": list(CHANNEL_STATUSES)}, "status_reason": _null(STR),
        "approvals_required": {"type": "integer", "minimum": 1},
        "unit": _obj({"id": INT, "code": STR, "name": STR}),
        "live_from": _null(TIME), "live_until": _null(TIME),
        "remote_account_id": _null({**STR, "description": "The connected account's id on the platform."}),
        "remote_name": _null({**STR, "description": "Its name there."}),
        "remote_handle": _null({**STR, "description": "Its handle there (X's @name, ...)."}),
        "may_draft": BOOL, "may_approve": BOOL,
    }, description="A channel; its credentials never leave the desk. status needs_reconnect: an administrator "
                   "must reconnect it (status_reason says why); its posts wait meanwhile."),
    "ChannelList": _obj({"channels": {"type": "array", "items": _ref("Channel")}}),
    "Target": _obj({
        "id": INT, "channel_id": INT, "channel_name": STR, "platform": STR,
        "text": _null({**STR, "description": "This channel's own text; null: the post's body."}),
        "effective_text": {**STR, "description": "What goes out on this channel."},
        "scheduled_at": _null({**TIME, "description": "When it goes out; null: as soon as approved."}),
        "state": {"type": "string", "enum": list(wf.TARGET_STATE_LABELS)}, "state_label": STR,
        "attempts": INT, "next_attempt_at": _null(TIME), "published_at": _null(TIME),
        "remote_id": _null(STR), "remote_url": _null(STR),
        "error_class": _null({"type": "string", "enum": list(ERROR_CLASSES)}),
        "error_message": _null(STR), "held_reason": _null(STR),
        "extra": {**_ref("TargetExtra"), "description": "This channel's platform fields (keys without a value "
                  "are left out)."},
        "media": {"type": "array", "items": _ref("TargetMedia"), "description": "Its files, in the order they go "
                  "out."},
    }),
    "TargetExtra": _obj({
        "title": STR, "description": STR,
        "tags": {"type": "array", "items": STR},
        "privacy": {**STR, "description": "YouTube: public, unlisted or private; Flickr: public, friends, "
                    "family or private."},
    }, required=[], description="The per-platform fields (YouTube and Flickr use them; others ignore them)."),
    "TargetMedia": _obj({"id": INT, "sha256": STR, "mime_type": STR, "size": INT, "filename": STR}),
    "Approval": _obj({
        "id": INT, "approver": _ref("Person"), "decision": {"type": "string", "enum": ["approve", "reject"]},
        "content_hash": STR, "comment": _null(STR), "decided_at": TIME, "withdrawn_at": _null(TIME),
        "counts": {**BOOL, "description": "Whether it counts for the post's current version."},
    }),
    "Post": _obj({
        "id": INT, "state": {"type": "string", "enum": list(wf.POST_STATE_LABELS)}, "state_label": STR,
        "version": INT, "content_hash": {**STR, "description": "What an approval is bound to; send it back as "
                                         "expected_hash to approve only the version you read."},
        "body": STR, "link": _null(STR), "author": _ref("Person"),
        "created_at": TIME, "updated_at": TIME, "submitted_at": _null(TIME),
        "rejection_comment": _null(STR), "retraction_reason": _null(STR),
        "targets": {"type": "array", "items": _ref("Target")},
        "approvals": {"type": "array", "items": _ref("Approval")},
        "outstanding_approvals": {"type": "array", "items": _obj({"channel_id": INT, "approvals_needed": INT}),
                                  "description": "While in review: the approvals each channel still needs."},
        "problems": {**_ref("FieldErrors"), "description": "What stops a draft being submitted (empty when "
                     "nothing does). The draft is saved all the same."},
        "allowed_actions": {"type": "array", "items": {"type": "string", "enum": ACTIONS},
                            "description": "What the caller may do to the post now."},
        "screening": {"type": "array", "items": _ref("Finding"), "description": "What the screening finds, per "
                      "channel: a `block` finding stops submission; `warn` findings need acknowledge_warnings."},
        "recurrence": _null({**_ref("Recurrence"), "description": "Set on a repeating post (a series): once "
                             "approved, its state is `recurring` and each occurrence is a post of its own."}),
        "series_id": _null({**INT, "description": "On an occurrence: the series it was made from, whose "
                            "approvals of the same content_hash it goes out on."}),
        "occurrence_at": _null({**TIME, "description": "On an occurrence: the time the rule gave it."}),
    }),
    "Recurrence": _obj({
        "rule": {**STR, "description": "As written: 'daily 08:00', 'weekdays 07:30', 'weekly MON 09:00', "
                 "'monthly 1 09:00' or a five-part cron rule, read in the desk's time zone."},
        "until": _null({**TIME, "description": "No occurrence after this time; null: until it is stopped."}),
        "description": {**STR, "description": "The rule in words."},
        "next_occurrences": {"type": "array", "items": TIME, "description": "The next (up to 5) times it gives; "
                             "empty once withdrawn or ended."},
        "generated_until": _null({**TIME, "description": "How far ahead its occurrences have been made."}),
    }),
    "RecurrenceInput": _obj({
        "rule": text(limits.RULE_MAX, "When it repeats (see Recurrence.rule); at most every 15 minutes."),
        "until": _null({**TIME_IN, "description": TIME_IN["description"] + " The last time it may repeat."}),
    }, required=["rule"], description="Part of what is approved: changing it withdraws the approvals."),
    "Finding": _obj({
        "rule": STR, "label": STR, "severity": {"type": "string", "enum": list(SEVERITIES)},
        "matched": {**STR, "description": "The exact words that matched."}, "start": INT, "end": INT,
        "why": {**STR, "description": "Why it matters, in a sentence."}, "channel_id": INT,
        "field": {**STR, "description": "Where the words are: body, link, targets.<channel_id>.text, ..."},
        "where": STR,
    }),
    "TargetInput": _obj({
        "channel_id": ID,
        "text": _null(text(limits.POST_TEXT_MAX, "This channel's own text; null or absent: the post's body. At "
                                                 "most Facebook's 63,206 characters, the longest any platform takes; "
                                                 "each channel's own limit is checked as a problem of the draft.")),
        "scheduled_at": _null({**TIME_IN, "description": TIME_IN["description"] + " Null or absent: as soon "
                               "as approved. In a PATCH, absent keeps the channel's current time."}),
        "extra": _obj({
            "title": _null(text(limits.TITLE_MAX, "Flickr's ceiling in the desk; YouTube takes 100.")),
            "description": _null(text(limits.DESCRIPTION_MAX, "Flickr's ceiling in the desk; YouTube takes 5,000 "
                                                              "bytes.")),
            "tags": _null({"type": "array", "items": text(limits.TAG_MAX), "maxItems": limits.TAGS_MAX,
                           "description": "Each tag once; spaces are tidied. Flickr keeps 75 a photo; YouTube 500 "
                                          "characters in all."}),
            "privacy": _null(text(limits.SHORT_MAX, "YouTube: public, unlisted or private; Flickr: public, "
                                                    "friends, family or private.")),
        }, required=[], description="Platform fields. In a PATCH, keys left out keep their value and null "
                                    "clears one; extra left out keeps them all."),
        "media_ids": {"type": "array", "items": ID, "uniqueItems": True,
                      "description": "Files from the unit's media library (POST /media), in the order they go "
                                     "out; [] for none. In a PATCH, absent keeps the channel's files."},
    }, required=["channel_id"]),
    "PostCreate": _obj({
        "body": text(limits.POST_TEXT_MAX, "At most Facebook's 63,206 characters, the longest any platform takes."),
        "link": _null(text(limits.LINK_MAX)),
        "targets": {"type": "array", "items": _ref("TargetInput"), "description": "One per channel."},
        "recurrence": _null({**_ref("RecurrenceInput"), "description": "To make it repeat; then leave each "
                             "target's scheduled_at out."}),
    }, required=["body", "targets"]),
    "PostPatch": _obj({
        "body": text(limits.POST_TEXT_MAX, "At most Facebook's 63,206 characters, the longest any platform takes."),
        "link": _null(text(limits.LINK_MAX)),
        "targets": {"type": "array", "items": _ref("TargetInput"),
                    "description": "The post's channels from now on (a channel left out is dropped)."},
        "recurrence": _null({**_ref("RecurrenceInput"), "description": "null makes it a one-off post."}),
    }, required=[], description="Fields left out keep their value."),
    "SubmitInput": _obj({}, description="Nothing to send; an empty body is fine."),
    "ApproveInput": _obj({"expected_hash": _null(text(FIELD_LIMITS["expected_hash"])),
                          "comment": _null(text(limits.NOTE_MAX)), "acknowledge_warnings": {
        **BOOL, "description": "Required (true) when the screening warns: the caller has read the warnings."}},
        required=[]),
    "RejectInput": _obj({"comment": text(limits.NOTE_MAX, "Why, for the author; not blank.", not_blank=True),
                         "expected_hash": _null(text(FIELD_LIMITS["expected_hash"]))}, required=["comment"]),
    "WithdrawInput": _obj({"reason": _null(text(limits.NOTE_MAX))}, required=[]),
    "RetractInput": _obj({"reason": text(limits.NOTE_MAX, "Goes on the record; not blank.", not_blank=True)}),
    "AuditEvent": _obj({
        "seq": INT, "at": TIME, "actor_id": _null(INT), "actor": STR, "action": STR, "object_type": STR,
        "object_id": _null(STR), "unit_id": _null(INT), "channel_id": _null(INT), "post_id": _null(INT),
        "details": {"type": "object"}, "prev_hash": STR, "hash": STR,
    }),
    "AuditPage": _obj({
        "events": {"type": "array", "items": _ref("AuditEvent"), "description": "Newest first."},
        "page": INT, "per_page": INT, "total": INT, "pages": INT, "next_page": _null(INT),
    }),
}

_ERRORS = {
    400: "The request is malformed or breaks a rule; `fields` says where. Nothing was changed.",
    401: "No token, or not a valid one.",
    403: "The caller may not do this (the refusal is on the audit trail).",
    404: "No such post (or whatever else the address or request names by id).",
    409: "The post's state does not allow this, or it changed since the caller read it.",
    415: "The body is not JSON (send it with Content-Type: application/json). Nothing was changed.",
}
RESPONSES = {str(code): {"description": words, "content": {"application/json": {"schema": _ref("Error")}}}
             for code, words in _ERRORS.items()}
RESPONSES["401"]["headers"] = {"WWW-Authenticate": {"schema": STR, "description": 'Bearer realm="desk"'}}
RESPONSES["default"] = {"description": "Any other error (405 for a method the route does not take, 413 for a body "
                                      f"over {limits.BODY_MAX_BYTES >> 20} MB, ...).",
                        "content": {"application/json": {"schema": _ref("Error")}}}


POST_ID = {"name": "post_id", "in": "path", "required": True, "schema": ID}


def _action(name: str, summary: str, body: str, required: bool, errors=(400, 403, 404, 409)) -> dict:
    return {"post": _op(f"{name}Post", summary, (200, "Post", "The post after the action."), errors,
                        body=body, body_required=required)}


def _query(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


AUDIT_PARAMETERS = [
    _query("actor_id", POSITIVE, "Only what this person did."),
    _query("unit_id", POSITIVE, "Only events about this unit, its channels, or posts to them."),
    _query("channel_id", POSITIVE, "Only events about this channel."),
    _query("post_id", POSITIVE, "Only events about this post."),
    _query("action", text(limits.SHORT_MAX), "An action such as post.approved; '*' matches anything (post.*)."),
    _query("since", TIME_IN, "From this time (inclusive)."),
    _query("until", TIME_IN, "Up to this time (exclusive)."),
    _query("page", POSITIVE, "Page number, from 1."),
    _query("per_page", {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE, "default": 50},
           f"Events a page, at most {MAX_PER_PAGE}."),
]

PATHS = {
    "/openapi.json": {"get": {
        "operationId": "openapi", "summary": "This description.", "security": [],
        "responses": {"200": {"description": "The OpenAPI document.",
                              "content": {"application/json": {"schema": {"type": "object"}}}}}}},
    "/me": {"get": _op("me", "Who the token belongs to, and their roles.", (200, "Me", "The caller."), ())},
    "/channels": {"get": _op("listChannels", "Channels the caller may draft or approve for (all, for admins "
                             "and auditors).", (200, "ChannelList", "The channels."), ())},
    "/posts": {"post": {**_op("createPost", "Save a new draft.",
                              (201, "Post", "The saved draft, with any problems that would stop its submission."),
                              (400, 403), body="PostCreate")}},
    "/posts/{post_id}": {
        "parameters": [POST_ID],
        "get": _op("getPost", "A post, its targets' states, approvals and what it still needs.",
                   (200, "Post", "The post."), (403, 404)),
        "patch": _op("updatePost", "Edit a post; fields left out keep their value. A change withdraws its "
                     "approvals and makes it a draft again.", (200, "Post", "The saved post."),
                     (400, 403, 404, 409), body="PostPatch"),
    },
    "/posts/{post_id}/submit": _action("submit", "Send a draft for approval.", "SubmitInput", False),
    "/posts/{post_id}/approve": _action("approve", "Approve (not one's own post). With expected_hash, only "
                                        "if it is still that version (409 otherwise).", "ApproveInput", False),
    "/posts/{post_id}/reject": _action("reject", "Reject, with a comment for the author.", "RejectInput", True),
    "/posts/{post_id}/withdraw": _action("withdraw", "Withdraw a post that has not gone out.",
                                         "WithdrawInput", False),
    "/posts/{post_id}/retract": _action("retract", "Delete a published post from its platforms, with a "
                                        "reason.", "RetractInput", True),
    "/audit": {"get": _op("listAudit", "The audit trail, newest first (auditors and administrators).",
                          (200, "AuditPage", "A page of events."), (400, 403), parameters=AUDIT_PARAMETERS)},
}
for _path, _item in PATHS.items():
    if _path.startswith("/posts/{post_id}/"):
        _item["parameters"] = [POST_ID]
PATHS["/posts"]["post"]["responses"]["201"]["headers"] = {
    "Location": {"schema": STR, "description": "The new post's address in this API."}}
# What a client can do next with the post it made: the id in the answer is the next call's post_id.
POST_LINKS = {op: {"operationId": op, "parameters": {"post_id": "$response.body#/id"}}
              for op in ("getPost", "updatePost", "submitPost", "approvePost", "rejectPost", "withdrawPost",
                         "retractPost")}
PATHS["/posts"]["post"]["responses"]["201"]["links"] = POST_LINKS
for _op_item in (PATHS["/posts/{post_id}"]["patch"], *(PATHS[f"/posts/{{post_id}}/{a}"]["post"] for a in ACTIONS[1:])):
    _op_item["responses"]["200"]["links"] = POST_LINKS

def document() -> dict:
    """A fresh copy each time, so that no caller can alter what the next one is served. The route modules'
    own parts (grants, media, templates) come from the registry they added themselves to."""
    schemas, paths = dict(SCHEMAS), dict(PATHS)
    for part in parts():
        part_schemas, part_paths = part()
        schemas.update(part_schemas)
        paths.update(part_paths)
    return copy.deepcopy({
        "openapi": "3.1.0",
        "info": {
            "title": "The desk",
            "version": "1",
            "description": "Drafting, four-eyes approval and scheduling of the force's official posts, with "
                           "the same rules as the web desk. Authenticate with a personal access token "
                           "(`flask --app app desk create-token EMAIL`) as `Authorization: Bearer <token>`. "
                           "Errors are JSON: a stable `error` code, a `message` in words, and `fields`.",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "description": "A personal access token (desk_...)."}},
            "schemas": schemas,
            "responses": {f"E{code}": response for code, response in RESPONSES.items()},
        },
    })
