"""Access grants in the JSON API: list, request, decide, revoke. The same use cases as the /grants pages.

Routes are added to the API blueprint when this module is imported (before the blueprint is registered).
"""
from __future__ import annotations

from flask import jsonify, request

from ...domain import grants as rules
from ...domain import limits
from ...domain import permissions as perm
from ...domain.clock import utcnow
from ...models import AccessGrant, User
from ...services import grant_queries as queries
from ...services import grants as grant_service
from ...services.common import ensure
from ...services.grant_queries import GrantFilter
from ..context import db
from .inputs import MAX_PER_PAGE, MISSING, Shape, fields, json_body
from .openapi_kit import ID, INT, POSITIVE, STR, TIME, TIME_IN, _null, _obj, _op, _ref, describes, text
from .routes import api, caller
from .serialise import iso, person

SCOPES = ("mine", "to_decide", "team", "all")
LIST_INTS = ("person_id", "unit_id", "channel_id", "page", "per_page")


def grant(g: AccessGrant, now) -> dict:
    decider = g.decider_id and db().get(User, g.decider_id)
    return {
        "id": g.id, "person": person(g.user),
        "channel": {"id": g.channel.id, "name": g.channel.name, "unit_code": g.channel.unit.code},
        "role": g.role, "state": rules.state(g, now), "business_case": g.business_case,
        "period_days": g.period_days, "requested_at": iso(g.requested_at),
        "decider": person(decider) if decider else None, "decided_at": iso(g.decided_at),
        "decision_comment": g.decision_comment, "starts_at": iso(g.starts_at), "expires_at": iso(g.expires_at),
        "expiry_warned_at": iso(g.expiry_warned_at), "revoked_at": iso(g.revoked_at),
        "revoke_reason": g.revoke_reason,
    }


def _list_query(args) -> tuple[str, GrantFilter, int, int]:
    shape = Shape()
    shape.only(args, {"scope", *LIST_INTS, "role", "state", "since", "until"})
    scope = args.get("scope") or "mine"
    if scope not in SCOPES:
        shape.add("scope", f"One of {', '.join(SCOPES)}.")
    ints = shape.query_ints(args, LIST_INTS)
    if (ints["per_page"] or 0) > MAX_PER_PAGE:
        shape.add("per_page", f"At most {MAX_PER_PAGE} grants a page.")
    for name, allowed in (("role", rules.GRANT_ROLES), ("state", tuple(rules.STATE_LABELS))):
        if args.get(name) and args[name] not in allowed:
            shape.add(name, f"One of {', '.join(allowed)}.")
    since, until = (shape.time(args.get(n) or MISSING, n) for n in ("since", "until"))
    since, until = (None if v is MISSING else v for v in (since, until))
    if (since is None) != (until is None):
        shape.add("until" if until is None else "since", "Give both since and until: grants live at some moment "
                                                         "between them are listed.")
    shape.done()
    f = GrantFilter(user_id=ints["person_id"], unit_id=ints["unit_id"], channel_id=ints["channel_id"],
                    role=args.get("role") or None, state=args.get("state") or None, live_since=since,
                    live_until=until)
    return scope, f, ints["page"] or 1, ints["per_page"] or 50


@api.get("/grants")
def list_grants():
    """The caller's grants (scope=mine), requests they decide, their team's, or every grant (admins, auditors)."""
    user, now = caller(), utcnow()
    scope, f, page, per_page = _list_query(request.args)
    if scope == "all":
        ensure(db(), perm.can_administer(user) or perm.can_read_audit(user), user, "grants.list",
               "Only desk administrators and auditors may list every grant.", object_type="grant")
        rows, total = queries.search(db(), f, page, per_page, now=now)
    else:
        rows = {"mine": queries.mine, "to_decide": queries.to_decide, "team": queries.team}[scope](db(), user)
        total, page, per_page = len(rows), 1, max(len(rows), 1)
    pages = max((total + per_page - 1) // per_page, 1)
    return jsonify(grants=[grant(g, now) for g in rows], page=page, per_page=per_page, total=total, pages=pages,
                   next_page=page + 1 if page < pages else None)


@api.post("/grants")
def request_grant():
    """Ask for author or approver access to a channel, with a business case; it goes to the line manager."""
    body = json_body()
    shape = Shape()
    shape.only(body, {"channel_id", "role", "business_case", "period_days"})
    channel_id = shape.integer(body, "channel_id", "channel_id")
    role = shape.string(body, "role", "role", required=True, nullable=False)
    case = shape.string(body, "business_case", "business_case", required=True, nullable=False,
                        limit=limits.BUSINESS_CASE_MAX)
    period = body.get("period_days")
    if period is not None and (isinstance(period, bool) or not isinstance(period, int)):
        shape.add("period_days", "Must be a whole number of days, or null for the unit's usual period.")
    shape.done()
    g = grant_service.request(db(), caller(), channel_id, role, case, period)
    response = jsonify(grant(g, utcnow()))
    response.status_code = 201
    return response


@api.post("/grants/<int:grant_id>/decide")
def decide_grant(grant_id: int):
    """Approve or refuse a request (its requester's line manager, or the unit's administrators)."""
    body = fields(json_body(), {"decision": True, "comment": False})
    if body["decision"] not in ("approve", "refuse"):
        shape = Shape()
        shape.add("decision", "Either 'approve' or 'refuse'.")
        shape.done()
    g = grant_service.decide(db(), caller(), grant_id, body["decision"] == "approve", body["comment"])
    return jsonify(grant(g, utcnow()))


@api.post("/grants/<int:grant_id>/revoke")
def revoke_grant(grant_id: int):
    """End a live grant at once, with the reason on the record."""
    body = fields(json_body(), {"reason": True})
    return jsonify(grant(grant_service.revoke(db(), caller(), grant_id, body["reason"]), utcnow()))


# ---- their part of the OpenAPI description (gathered into openapi.py through the registry) ----------

@describes
def openapi_parts() -> tuple[dict, dict]:
    """(schemas, paths) for the grant routes, built with the document's own helpers (called once they exist)."""

    schemas = {
        "Grant": _obj({
            "id": INT, "person": _ref("Person"),
            "channel": _obj({"id": INT, "name": STR, "unit_code": STR}),
            "role": {"type": "string", "enum": list(rules.GRANT_ROLES)},
            "state": {"type": "string", "enum": list(rules.STATE_LABELS),
                      "description": "live and expired are worked out from the clock."},
            "business_case": STR, "period_days": INT, "requested_at": TIME,
            "decider": _null(_ref("Person")), "decided_at": _null(TIME), "decision_comment": _null(STR),
            "starts_at": _null(TIME), "expires_at": _null(TIME), "expiry_warned_at": _null(TIME),
            "revoked_at": _null(TIME), "revoke_reason": _null(STR),
        }),
        "GrantPage": _obj({"grants": {"type": "array", "items": _ref("Grant")}, "page": INT, "per_page": INT,
                           "total": INT, "pages": INT, "next_page": _null(INT)}),
        "GrantRequest": _obj({
            "channel_id": ID, "role": {"type": "string", "enum": list(rules.GRANT_ROLES)},
            "business_case": text(limits.BUSINESS_CASE_MAX, f"Why, and for how long: a sentence of at least "
                                  f"{rules.MIN_BUSINESS_CASE} characters and {rules.MIN_BUSINESS_CASE_WORDS} words "
                                  "(spaces at either end not counted).", not_blank=True,
                                  min_length=rules.MIN_BUSINESS_CASE),
            "period_days": _null({"type": "integer", "minimum": 1, "maximum": rules.MAX_PERIOD_DAYS,
                                  "description": "Days, at most the unit's policy allows (400 past it); null or "
                                                 "absent: the unit's usual period (its maximum)."}),
        }, required=["channel_id", "role", "business_case"]),
        "GrantDecision": _obj({"decision": {"type": "string", "enum": ["approve", "refuse"]},
                               "comment": _null(text(limits.NOTE_MAX, "Required (not blank) to refuse."))},
                              required=["decision"]),
        "GrantRevocation": _obj({"reason": text(limits.NOTE_MAX, "Goes on the record; not blank.",
                                                not_blank=True)}),
    }

    def q(name, schema, description):
        return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}

    grant_id = {"name": "grant_id", "in": "path", "required": True, "schema": ID}
    listing = [
        q("scope", {"type": "string", "enum": list(SCOPES), "default": "mine"},
          "mine; to_decide (requests the caller decides); team (their team's grants); all (admins, auditors)."),
        q("person_id", POSITIVE, "scope=all: only this person's."), q("unit_id", POSITIVE, "scope=all: this unit's."),
        q("channel_id", POSITIVE, "scope=all: this channel's."),
        q("role", {"type": "string", "enum": list(rules.GRANT_ROLES)}, "scope=all: this access only."),
        q("state", {"type": "string", "enum": list(rules.STATE_LABELS)}, "scope=all: in this state now."),
        q("since", TIME_IN, "Needs until (400 without it): grants live at some moment in [since, until) — who "
                            "could post where, then."),
        q("until", TIME_IN, "Needs since (400 without it)."),
        q("page", POSITIVE, "scope=all: page number, from 1."),
        q("per_page", {**POSITIVE, "maximum": MAX_PER_PAGE, "default": 50}, "scope=all: grants a page."),
    ]
    request_op = _op("requestGrant", "Ask for access to a channel with a business case.",
                     (201, "Grant", "The request, waiting for a decision."), (400, 403), body="GrantRequest")
    request_op["responses"]["201"]["links"] = {  # the request's id is what its decider and revoker name
        op: {"operationId": op, "parameters": {"grant_id": "$response.body#/id"}}
        for op in ("decideGrant", "revokeGrant")}
    paths = {
        "/grants": {
            "get": _op("listGrants", "Access grants: the caller's, those they decide, their team's, or all.",
                       (200, "GrantPage", "Newest request first."), (400, 403), parameters=listing),
            "post": request_op,
        },
        "/grants/{grant_id}/decide": {"parameters": [grant_id], "post": _op(
            "decideGrant", "Approve or refuse a request (never one's own).", (200, "Grant", "The decided grant."),
            (400, 403, 404, 409), body="GrantDecision")},
        "/grants/{grant_id}/revoke": {"parameters": [grant_id], "post": _op(
            "revokeGrant", "End a live grant at once, with a reason.", (200, "Grant", "The revoked grant."),
            (400, 403, 404, 409), body="GrantRevocation")},
    }
    return schemas, paths
