"""The API's JSON out: posts, channels, people and audit events as the OpenAPI document describes them.

Times go out as ISO 8601 in UTC with a 'Z'; the desk's own field keys (shaped for the web form) are
renamed to the API's (see `api_field`).
"""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from ...domain import permissions as perm
from ...domain import recurrence as rules
from ...domain import workflow as wf
from ...models import AuditEvent, Channel, Media, Post, User
from ...services import posts as post_service
from ..context import settings
from . import screening as api_screening

# 'target-12-text', '-scheduled_at', '-media', '-title', '-tags', ...: whatever the services and adapters key.
_TARGET_KEY = re.compile(r"^target-(\d+)-([a-z_]+)$")


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


SERIES_FIELDS = {"recurrence_rule": "recurrence.rule", "recurrence_until": "recurrence.until"}


def api_field(key: str) -> str:
    """The web form's field name -> the API's: 'target-12-text' -> 'targets.12.text' (12: channel id)."""
    if key == "channels":
        return "targets"
    if key in SERIES_FIELDS:
        return SERIES_FIELDS[key]
    m = _TARGET_KEY.match(key)
    return f"targets.{m.group(1)}.{m.group(2)}" if m else key


def api_fields(errors: dict[str, list[str]] | None) -> dict[str, list[str]] | None:
    if not errors:
        return None
    out: dict[str, list[str]] = {}
    for key, messages in errors.items():
        out.setdefault(api_field(key), []).extend(messages)
    return out


def person(user: User) -> dict:
    return {"id": user.id, "name": user.name, "email": user.email}


def me(user: User) -> dict:
    roles = sorted(((m.unit.code, m.role, m) for m in user.memberships), key=lambda r: (r[0], r[1]))
    return {**person(user), "is_admin": bool(user.is_admin), "is_auditor": bool(user.is_auditor),
            "roles": [{"unit_id": m.unit_id, "unit_code": m.unit.code, "unit_name": m.unit.name, "role": role}
                      for _code, role, m in roles]}


def channel(c: Channel, user: User) -> dict:
    return {
        "id": c.id, "name": c.name, "platform": c.platform, "status": c.status,
        "status_reason": c.status_reason, "approvals_required": c.approvals_required,
        "unit": {"id": c.unit.id, "code": c.unit.code, "name": c.unit.name},
        "live_from": iso(c.live_from), "live_until": iso(c.live_until),
        # The account it is connected to, as the platform named it; its credentials never leave the desk.
        "remote_account_id": c.remote_account_id, "remote_name": c.remote_name, "remote_handle": c.remote_handle,
        "may_draft": perm.can_draft_for(user, c) and c.status != "archived",
        "may_approve": perm.can_approve_for(user, c),
    }


def _target(t) -> dict:
    return {
        "id": t.id, "channel_id": t.channel_id, "channel_name": t.channel.name, "platform": t.channel.platform,
        "text": t.text, "effective_text": t.effective_text, "scheduled_at": iso(t.scheduled_at),
        "state": t.status, "state_label": wf.TARGET_STATE_LABELS.get(t.status, t.status),
        "attempts": t.attempts, "next_attempt_at": iso(t.next_attempt_at), "published_at": iso(t.published_at),
        "remote_id": t.remote_id, "remote_url": t.remote_url, "error_class": t.error_class,
        "error_message": t.error_message, "held_reason": t.held_reason,
        "extra": post_service.extra_of(t),
        "media": [media_ref(link.media) for link in sorted(t.media_links, key=lambda link: link.position)],
    }


def media_ref(m: Media) -> dict:
    """A file as a post's target carries it."""
    return {"id": m.id, "sha256": m.sha256, "mime_type": m.mime_type, "size": m.size, "filename": m.filename}


def media(m: Media) -> dict:
    """A file of a unit's media library; sizes and measures are those of the copy that is published."""
    return {**media_ref(m), "unit_id": m.unit_id, "width": m.width, "height": m.height, "duration": m.duration,
            "uploaded_at": iso(m.uploaded_at)}


def _approval(a, post: Post) -> dict:
    return {
        "id": a.id, "approver": person(a.approver), "decision": a.decision, "content_hash": a.content_hash,
        "comment": a.comment, "decided_at": iso(a.decided_at), "withdrawn_at": iso(a.withdrawn_at),
        # An approval counts only for the exact version it was given for.
        "counts": a.decision == "approve" and a.withdrawn_at is None and a.content_hash == post.content_hash,
    }


def allowed_actions(post: Post, user: User) -> list[str]:
    """What the caller could do to the post now (the services decide again when asked)."""
    may = {
        # An occurrence is changed through its series; it may only be withdrawn on its own.
        "edit": perm.can_edit_post(user, post) and post.series_id is None, "submit": perm.can_edit_post(user, post),
        "approve": perm.can_approve_post(user, post), "reject": perm.can_approve_post(user, post),
        "withdraw": perm.can_withdraw(user, post), "retract": perm.can_retract(user, post),
    }
    return [action for action, ok in may.items() if ok and post.status in wf.TRANSITIONS[action]]


def post(p: Post, user: User, now: datetime, problems: dict | None = None) -> dict:
    if problems is None:
        problems = post_service.problems_of(p, now) if p.status in (wf.DRAFT, wf.REJECTED) else {}
    waiting = post_service.outstanding(p) if p.status == wf.IN_REVIEW else {}
    return {
        "id": p.id, "state": p.status, "state_label": wf.POST_STATE_LABELS.get(p.status, p.status),
        "version": p.version, "content_hash": p.content_hash, "body": p.body, "link": p.link,
        "author": person(p.author), "created_at": iso(p.created_at), "updated_at": iso(p.updated_at),
        "submitted_at": iso(p.submitted_at), "rejection_comment": p.rejection_comment,
        "retraction_reason": p.retraction_reason,
        "targets": [_target(t) for t in p.targets],
        "approvals": [_approval(a, p) for a in p.approvals],
        "outstanding_approvals": [{"channel_id": cid, "approvals_needed": n} for cid, n in sorted(waiting.items())],
        "problems": api_fields(problems) or {},
        "screening": api_screening.findings(p, now, api_field),
        "allowed_actions": allowed_actions(p, user),
        "recurrence": recurrence(p, now),
        "series_id": p.series_id, "occurrence_at": iso(p.occurrence_at),
    }


def recurrence(p: Post, now: datetime) -> dict | None:
    """A series' rule as sent, in words, and its next times; None for other posts."""
    if not p.recurrence_rule:
        return None
    rule = rules.parse(p.recurrence_rule)
    running = p.status not in (wf.WITHDRAWN, wf.ENDED)
    return {"rule": p.recurrence_rule, "until": iso(p.recurrence_until), "description": rules.describe(rule),
            "next_occurrences": [iso(m) for m in rules.upcoming(rule, settings().zone, now, 5, p.recurrence_until)]
            if running else [],
            "generated_until": iso(p.recurrence_generated_until)}


def audit_event(e: AuditEvent) -> dict:
    try:
        details = json.loads(e.details or "{}")
    except ValueError:  # shown as stored: a damaged row is for `audit verify` to name
        details = {"unparsed": e.details}
    return {
        "seq": e.seq, "at": iso(e.at), "actor_id": e.actor_id, "actor": e.actor, "action": e.action,
        "object_type": e.object_type, "object_id": e.object_id, "unit_id": e.unit_id,
        "channel_id": e.channel_id, "post_id": e.post_id, "details": details,
        "prev_hash": e.prev_hash, "hash": e.hash,
    }
