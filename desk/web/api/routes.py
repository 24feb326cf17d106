"""The JSON API at /api/v1: the same use cases as the web desk, for other force systems.

Callers authenticate with a personal access token (`Authorization: Bearer <token>`), never with the
browser's session cookie, which is why the blueprint can be exempt from CSRF. Every answer is JSON,
errors included: {"error": <stable code>, "message": <words>, "fields": {...} | null}.
"""
from __future__ import annotations

from flask import Blueprint, g, jsonify, request, url_for
from sqlalchemy import select
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge

from ...domain import limits
from ...domain import permissions as perm
from ...domain.clock import utcnow
from ...domain.errors import DeskError
from ...models import Channel, Post
from ...services import accounts, audit_trail, grants
from ...services import posts as post_service
from ...services.common import ensure, get_or_404
from ..context import db, platform_context
from ..extensions import csrf
from . import inputs as inp
from . import screening as api_screening
from . import serialise as out

api = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(api)

PUBLIC_ENDPOINTS = {"api.openapi"}


class Unauthenticated(DeskError):
    code = "unauthorized"
    http_status = 401

    def __init__(self, message: str, challenge: str):
        super().__init__(message)
        self.challenge = challenge


def error_response(code: str, message: str, status: int, fields=None):
    response = jsonify(error=code, message=message, fields=fields or None)
    response.status_code = status
    return response


@api.before_request
def authenticate():
    """Find the caller from the bearer token; the session cookie is deliberately ignored."""
    if request.endpoint in PUBLIC_ENDPOINTS or request.method == "OPTIONS":
        return
    scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("This API needs a personal access token: send 'Authorization: Bearer <token>'. "
                              "A desk administrator makes one with `flask --app app desk create-token EMAIL`.",
                              'Bearer realm="desk"')
    user = accounts.user_for_token(db(), token.strip(), request.remote_addr)
    if user is None:
        raise Unauthenticated("That token is not valid: it is mistyped, revoked, or its account is disabled. "
                              "Ask a desk administrator for a new one.",
                              'Bearer realm="desk", error="invalid_token"')
    g.api_user = grants.load_access(db(), user)  # with their business-case grants, checked against the clock


def caller():
    return g.api_user


@api.errorhandler(DeskError)
def desk_error(exc: DeskError):
    response = error_response(exc.code, exc.message, exc.http_status, out.api_fields(exc.field_errors))
    if isinstance(exc, Unauthenticated):
        response.headers["WWW-Authenticate"] = exc.challenge
    return response


@api.errorhandler(RequestEntityTooLarge)
def too_large(_exc):
    """A body past its cap was never read: say which cap, and that nothing changed."""
    if request.endpoint == "api.upload_media":
        cap = f"a media upload takes at most {(request.max_content_length or 0) >> 20} MB"
    else:
        cap = f"a JSON body takes at most {limits.BODY_MAX_BYTES >> 20} MB"
    return error_response("too_large", f"The request is larger than the desk takes here ({cap}), so it was not "
                                       "read and nothing was changed.", 413)


@api.app_errorhandler(HTTPException)
def http_error(exc: HTTPException):
    """No HTML error page under /api/: unknown paths, wrong methods and the like answer in JSON too."""
    if not request.path.startswith("/api/"):
        return exc
    code = (exc.name or "error").lower().replace(" ", "_")
    messages = {
        404: "There is nothing at this address. The API's routes are listed in /api/v1/openapi.json.",
        405: f"{request.method} is not allowed here; this address takes "
             f"{', '.join(getattr(exc, 'valid_methods', None) or ['other methods'])}. Nothing was changed.",
        500: "Something went wrong inside the desk, so the change may or may not have been made: read the "
             "post again (GET) before retrying, and tell the desk's administrator if it keeps happening.",
    }
    response = error_response(code, messages.get(exc.code, exc.description or exc.name), exc.code or 500)
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


def _post_response(post: Post, status: int = 200, problems=None):
    response = jsonify(out.post(post, caller(), utcnow(), problems))
    response.status_code = status
    return response


@api.get("/openapi.json")
def openapi():
    """The OpenAPI 3 description of this API (no token needed)."""
    from .openapi import document

    return jsonify(document())


@api.get("/me")
def me():
    """The caller: who the token belongs to, and their roles per unit."""
    return jsonify(out.me(caller()))


@api.get("/channels")
def channels():
    """The channels the caller may draft or approve for (every channel for admins and auditors)."""
    user = caller()
    rows = db().scalars(select(Channel).order_by(Channel.name, Channel.id)).all()
    if not (user.is_admin or user.is_auditor):
        rows = [c for c in rows if perm.can_draft_for(user, c) or perm.can_approve_for(user, c)]
    return jsonify(channels=[out.channel(c, user) for c in rows])


@api.post("/posts")
def create_post():
    """Save a new draft; problems that would stop its submission come back with it."""
    data = inp.post_input(inp.json_body())
    result = post_service.save_draft(db(), caller(), data)
    response = _post_response(result.post, 201, result.problems)
    response.headers["Location"] = url_for("api.get_post", post_id=result.post.id)
    return response


@api.get("/posts/<int:post_id>")
def get_post(post_id: int):
    """One post with its targets' states, its approvals and what it still needs."""
    post = get_or_404(db(), Post, post_id, "post")
    user = caller()
    ensure(db(), perm.can_view_post(user, post), user, "post.view",
           "You may not see this post: it is for channels of units you have no role in.",
           object_type="post", object_id=post.id, post_id=post.id)
    return _post_response(post)


@api.patch("/posts/<int:post_id>")
def update_post(post_id: int):
    """Edit a post: fields left out keep their value; any change withdraws its approvals."""
    existing = get_or_404(db(), Post, post_id, "post")
    data = inp.post_input(inp.json_body(), existing=existing)
    result = post_service.save_draft(db(), caller(), data, post_id=post_id)
    return _post_response(result.post, 200, result.problems)


@api.post("/posts/<int:post_id>/submit")
def submit(post_id: int):
    """Send a draft (or a rejected post) for approval."""
    inp.fields(inp.json_body(required=False), {})
    return _post_response(post_service.submit(db(), caller(), post_id))


@api.post("/posts/<int:post_id>/approve")
def approve(post_id: int):
    """Approve the post; with expected_hash, only if it is still the version the caller read; with
    acknowledge_warnings, over the screening's warnings."""
    raw = inp.json_body(required=False)
    acknowledged = api_screening.take_acknowledgement(raw)  # needed when the screening warns
    body = inp.fields(raw, {"expected_hash": False, "comment": False})
    return _post_response(post_service.approve(db(), caller(), post_id, expected_hash=body["expected_hash"],
                                               comment=body["comment"], acknowledge_warnings=acknowledged))


@api.post("/posts/<int:post_id>/reject")
def reject(post_id: int):
    """Reject the post with a comment for its author."""
    body = inp.fields(inp.json_body(), {"comment": True, "expected_hash": False})
    return _post_response(post_service.reject(db(), caller(), post_id, body["comment"],
                                              expected_hash=body["expected_hash"]))


@api.post("/posts/<int:post_id>/withdraw")
def withdraw(post_id: int):
    """Withdraw a post that has not gone out yet."""
    body = inp.fields(inp.json_body(required=False), {"reason": False})
    return _post_response(post_service.withdraw(db(), caller(), post_id, body["reason"]))


@api.post("/posts/<int:post_id>/retract")
def retract(post_id: int):
    """Delete a published post from its platforms, with the reason on the record."""
    body = inp.fields(inp.json_body(), {"reason": True})
    return _post_response(post_service.retract(db(), caller(), post_id, body["reason"], platform_context()))


@api.get("/audit")
def audit():
    """The audit trail, newest first, filtered and a page at a time (auditors and administrators)."""
    user = caller()
    ensure(db(), perm.can_read_audit(user), user, "audit.read",
           "Only auditors and desk administrators may read the audit trail.", object_type="audit")
    audit_filter, page, per_page = inp.audit_query(request.args)
    rows, total = audit_trail.query(db(), audit_filter, page, per_page)
    pages = (total + per_page - 1) // per_page
    return jsonify(events=[out.audit_event(e) for e in rows], page=page, per_page=per_page, total=total,
                   pages=pages, next_page=page + 1 if page < pages else None)
