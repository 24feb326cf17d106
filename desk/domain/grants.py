"""Access grants by business case: who decides a request, when a grant is live, when its holder is warned.

Plain Python on any objects with the attributes used (the ORM's AccessGrant and User, or test doubles).
A grant works only while it is live; expiry needs nobody to act, because every check compares with `now`.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

GRANT_ROLES = ("author", "approver")
ROLE_LABELS = {"author": "Author (drafts posts)", "approver": "Approver (approves posts)"}
PENDING, APPROVED, REFUSED, REVOKED, EXPIRED = "pending", "approved", "refused", "revoked", "expired"
# What a grant's state is called on the pages; "live" and "expired" are worked out from the clock.
STATE_LABELS = {PENDING: "Waiting for a decision", "live": "Live", EXPIRED: "Expired", REFUSED: "Refused",
                REVOKED: "Revoked"}
WARNING_BEFORE = timedelta(days=14)
MIN_BUSINESS_CASE = 20
MIN_BUSINESS_CASE_WORDS = 4
MAX_PERIOD_DAYS = 3660  # the most a unit's policy may set: ten years


@dataclass(frozen=True)
class GrantView:
    """What a permission check needs of a grant: loaded once, never lazily from the database."""

    id: int
    channel_id: int
    role: str
    status: str
    starts_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None = None
    unit_id: int | None = None  # the channel's unit: whose media library the holder may use


def is_live(grant, now: datetime) -> bool:
    """Approved, started, not yet expired and not revoked: the only state in which a grant works."""
    return (grant.status == APPROVED and grant.revoked_at is None and grant.starts_at is not None
            and grant.expires_at is not None and grant.starts_at <= now < grant.expires_at)


def holds(grants: Iterable, channel_id: int, role: str, now: datetime) -> bool:
    return any(g.channel_id == channel_id and g.role == role and is_live(g, now) for g in grants)


def state(grant, now: datetime) -> str:
    """The state a person sees: pending, live, expired (by the clock, even before the worker noted it)..."""
    if grant.status == APPROVED:
        return "live" if is_live(grant, now) else EXPIRED
    return grant.status


def has_expired(grant, now: datetime) -> bool:
    """Approved and past its end: the worker records the expiry (the grant stopped working already)."""
    return grant.status == APPROVED and grant.expires_at is not None and grant.expires_at <= now


def warning_due(grant, now: datetime) -> bool:
    """Live, within 14 days of its end, and not warned yet: the holder and their manager are told once."""
    return (is_live(grant, now) and grant.expiry_warned_at is None
            and now >= grant.expires_at - WARNING_BEFORE)


def expiry(starts_at: datetime, period_days: int) -> datetime:
    return starts_at + timedelta(days=period_days)


def was_live_during(grant, since: datetime, until: datetime) -> bool:
    """Whether the grant worked at any moment in [since, until): the FOI question for a past day."""
    if grant.starts_at is None or grant.expires_at is None or grant.status not in (APPROVED, EXPIRED, REVOKED):
        return False
    end = grant.expires_at if grant.revoked_at is None else min(grant.expires_at, grant.revoked_at)
    return grant.starts_at < until and end > since


def deciders(requester, unit_admin_ids: Iterable[int]) -> set[int]:
    """Who may decide the person's request: their line manager; when none is set (or they have left),
    the channel's unit administrators. Never the requester themselves."""
    manager = getattr(requester, "line_manager", None)
    if requester.line_manager_id is not None and (manager is None or manager.active):
        return {requester.line_manager_id} - {requester.id}
    return set(unit_admin_ids) - {requester.id}


def may_revoke(actor, grant, unit_admin_ids: Iterable[int]) -> bool:
    """The holder's line manager, the channel's unit administrators and desk administrators revoke;
    the holder may give a grant up."""
    return bool(actor.is_admin or actor.id == grant.user_id or actor.id == grant.user.line_manager_id
                or actor.id in set(unit_admin_ids))


def business_case_problems(text: str) -> list[str]:
    """A business case is a real sentence: why the access is needed, and for how long."""
    text = (text or "").strip()
    if not text:
        return ["Write your business case: why you need this access, and for how long."]
    if len(text) < MIN_BUSINESS_CASE or len(text.split()) < MIN_BUSINESS_CASE_WORDS:
        return [f"Write the business case as a sentence of at least {MIN_BUSINESS_CASE} characters: why you "
                "need this access (the work, the event), and for how long."]
    return []


def period_problems(period_days, unit_max: int) -> list[str]:
    if not isinstance(period_days, int) or not 1 <= period_days <= unit_max:
        return [f"Ask for 1 to {unit_max} days: the unit's policy grants access for at most {unit_max} days."]
    return []
