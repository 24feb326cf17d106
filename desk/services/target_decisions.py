"""A person settles what the worker could not: a post whose outcome is unknown, or one too late to go by
itself; and the lists of such posts for the people who may decide.

Each decision is one transaction with its audit event. Two people deciding at once are serialised by the
row locks (posts before targets, the worker's lock order): the second finds the target already moved and
is told someone decided already. The emergency stop's decisions on posts whose time passed during a
pause (services/pauses) go through the same pieces: `locked_for_decision`, `send_again`, `do_not_send`.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from ..domain import lateness
from ..domain import pauses as pause_rules
from ..domain import permissions as perm
from ..domain import person_decisions as rules
from ..domain import workflow as wf
from ..domain.clock import utcnow
from ..domain.errors import WorkflowConflict
from ..models import Channel, Post, PublishAttempt, Target
from . import audit_trail
from .common import ensure, get_or_404, lock
from .post_rollup import roll_up as _roll_up

AFTER_PAUSE = "after_pause"  # decided on the emergency stop page, listed with the others
STALE = "Someone has decided on this post already: reload the page to see where it stands."


@dataclass(frozen=True)
class Waiting:
    """One post on one channel waiting for a person, as the dashboard and the status page list it."""

    target_id: int
    post_id: int
    channel_id: int
    channel_name: str
    unit_code: str
    platform: str
    kind: str            # rules.UNKNOWN, rules.LATE or AFTER_PAUSE
    decidable: bool      # False: an unknown the worker is still checking
    due_at: datetime | None
    since: datetime | None  # the last attempt's start (unknown targets)
    reason: str
    text: str


def locked_for_decision(session: Session, actor, target_id: int, action: str, *,
                        allowed: Callable[[Target], bool], refusal: Callable[[Target], str],
                        waiting: Callable[[Target], bool], stale: str = STALE) -> tuple[Post, Target]:
    """Lock the post and the target, refuse (audited) whoever may not decide, and refuse a decision that
    came too late (the target no longer waits for it)."""
    post_id = session.scalar(select(Target.post_id).where(Target.id == target_id))
    if post_id is None:
        get_or_404(session, Target, target_id, "post on a channel")
    post = lock(session, Post, post_id)  # posts before targets: the worker's lock order
    target = lock(session, Target, target_id)
    ensure(session, allowed(target), actor, action, refusal(target), object_type="target", object_id=target.id,
           post_id=post.id, channel_id=target.channel_id, unit_id=target.channel.unit_id)
    if not waiting(target):
        session.rollback()
        raise WorkflowConflict(stale)
    return post, target


def send_again(session: Session, actor, target: Target, now: datetime, action: str, **details) -> Target:
    """Back to the queue: the worker sends it on its next pass (the attempts so far still count)."""
    target.status, target.held_reason, target.next_attempt_at = wf.T_QUEUED, None, None
    target.error_class = target.error_code = target.error_message = None
    audit_trail.record_target(session, actor, action, target, now, **details)
    session.commit()
    return target


def do_not_send(session: Session, actor, post: Post, target: Target, now: datetime, action: str,
                reason: str) -> Target:
    """Not to this channel after all; a post left with nothing to send is withdrawn."""
    target.status, target.held_reason = wf.T_CANCELLED, None
    audit_trail.record_target(session, actor, action, target, now)
    if all(t.status == wf.T_CANCELLED for t in post.targets):
        before, post.status, post.updated_at = post.status, wf.WITHDRAWN, now
        audit_trail.record(session, actor, f"post.{wf.WITHDRAWN}", "post", post.id, post_id=post.id, now=now,
                           details={"previous_status": before, "reason": reason})
    else:
        _roll_up(session, post, actor, now)
    session.commit()
    return target


# ---- the decisions ---------------------------------------------------------------------------------

def _refusal(target: Target) -> str:
    return (f"Only approvers of {target.channel.name} and administrators of {target.channel.unit.code} decide "
            "on its posts that the desk could not settle.")


def _may(actor) -> Callable[[Target], bool]:
    return lambda t: perm.can_decide_on_target(actor, t.channel)


def _unknown(session: Session, actor, target_id: int, action: str, now: datetime) -> tuple[Post, Target]:
    post, target = locked_for_decision(session, actor, target_id, action, allowed=_may(actor), refusal=_refusal,
                                       waiting=lambda t: t.status == wf.T_UNKNOWN)
    if not rules.unknown_decidable(target.error_code, unknown_since(session, target.id), now):
        session.rollback()
        raise WorkflowConflict("The desk is still asking the platform whether this went out: decide in a few "
                               "minutes if it has not settled by then.")
    return post, target


def not_published(session: Session, actor, target_id: int, now: datetime | None = None) -> Target:
    """"It was not published: send it." The person checked the account; the worker sends it again."""
    now = now or utcnow()
    _, target = _unknown(session, actor, target_id, "target.decide_not_published", now)
    return send_again(session, actor, target, now, "target.confirmed_not_published",
                      previous_error_code=target.error_code)


def published(session: Session, actor, target_id: int, url: str, now: datetime | None = None) -> Target:
    """"It was published: here is the link." Recorded as published with that link; never sent again."""
    now = now or utcnow()
    post, target = _unknown(session, actor, target_id, "target.decide_published", now)
    url, remote_id = rules.read_published_link(url, target.channel.platform)
    target.status, target.remote_url, target.remote_id = wf.T_PUBLISHED, url, remote_id
    target.published_at, target.claimed_by, target.lease_until = now, None, None
    target.error_class = target.error_code = target.error_message = None
    audit_trail.record_target(session, actor, "target.confirmed_published", target, now, url=url, remote_id=remote_id)
    _roll_up(session, post, actor, now)
    session.commit()
    return target


def _late(session: Session, actor, target_id: int, action: str) -> tuple[Post, Target]:
    return locked_for_decision(session, actor, target_id, action, allowed=_may(actor), refusal=_refusal,
                               waiting=lambda t: rules.kind_of(t.status, t.held_reason) == rules.LATE)


def send_late(session: Session, actor, target_id: int, now: datetime | None = None) -> Target:
    """"Send it now": a person confirms a post whose time passed long ago while its channel was down."""
    now = now or utcnow()
    _, target = _late(session, actor, target_id, "target.decide_send_late")
    c = target.channel
    if blocked := wf.channel_block_reason(c.status, c.live_from, c.live_until, now):
        session.rollback()
        raise WorkflowConflict(f"{c.name} cannot publish just now ({blocked}) Decide once it can again.")
    return send_again(session, actor, target, now, "target.confirmed_late",
                      scheduled_at=target.scheduled_at.isoformat() if target.scheduled_at else None)


def drop_late(session: Session, actor, target_id: int, now: datetime | None = None) -> Target:
    """"Don't send": the post's moment has gone; it does not go to this channel."""
    now = now or utcnow()
    post, target = _late(session, actor, target_id, "target.decide_drop_late")
    return do_not_send(session, actor, post, target, now, "target.withdrawn_late", "too late to send")


# ---- what waits for a person -----------------------------------------------------------------------

def _last_attempt_started():
    return (select(func.max(PublishAttempt.started_at)).where(PublishAttempt.target_id == Target.id)
            .correlate(Target).scalar_subquery())


def unknown_since(session: Session, target_id: int) -> datetime | None:
    """When the call whose outcome is unknown began (the last attempt's start)."""
    return session.scalar(select(func.max(PublishAttempt.started_at)).where(PublishAttempt.target_id == target_id))


def may_decide(actor, kind: str, channel) -> bool:
    if kind == AFTER_PAUSE:
        return perm.can_pause(actor, channel.unit_id)
    return perm.can_decide_on_target(actor, channel)


def waiting_for_person(session: Session, actor, now: datetime | None = None, limit: int = 50) -> list[Waiting]:
    """The posts waiting for a decision that this person may take, oldest first.

    Who may decide is checked once per channel on light rows; only the rows shown are loaded whole.
    """
    now = now or utcnow()
    waiting = or_(Target.status == wf.T_UNKNOWN,
                  and_(Target.status == wf.T_HELD, or_(Target.held_reason.like(lateness.LATE_PREFIX + "%"),
                                                       Target.held_reason.like(pause_rules.CONFIRM_PREFIX + "%"))))
    light = session.execute(select(Target.id, Target.channel_id, Target.status, Target.held_reason).where(waiting)
                            .order_by(Target.scheduled_at, Target.id)).all()
    channels = {c.id: c for c in session.scalars(select(Channel).where(Channel.id.in_({r.channel_id for r in light})))}
    allowed: dict[tuple[str, int], bool] = {}
    chosen = []
    for tid, channel_id, status, reason in light:
        kind = rules.kind_of(status, reason) or AFTER_PAUSE
        key = (kind, channel_id)
        if key not in allowed:
            allowed[key] = may_decide(actor, kind, channels[channel_id])
        if allowed[key]:
            chosen.append(tid)
            if len(chosen) >= limit:
                break
    rows = {t.id: (t, since) for t, since in session.execute(
        select(Target, _last_attempt_started()).where(Target.id.in_(chosen)).options(selectinload(Target.post)))}
    found = []
    for tid in chosen:
        t, since = rows[tid]
        kind = rules.kind_of(t.status, t.held_reason) or AFTER_PAUSE
        decidable = kind != rules.UNKNOWN or rules.unknown_decidable(t.error_code, since, now)
        found.append(Waiting(t.id, t.post_id, t.channel_id, t.channel.name, t.channel.unit.code,
                             t.channel.platform, kind, decidable, t.scheduled_at, since,
                             t.error_message if kind == rules.UNKNOWN else (t.held_reason or ""),
                             t.effective_text))
    return found


def offers_for(session: Session, actor, post: Post, now: datetime | None = None) -> dict[int, str]:
    """For the post page: target id -> the decision this person may take on it now."""
    now = now or utcnow()
    offers = {}
    for t in post.targets:
        kind = rules.kind_of(t.status, t.held_reason)
        if kind is None or not may_decide(actor, kind, t.channel):
            continue
        since = unknown_since(session, t.id) if kind == rules.UNKNOWN else None
        if rules.offered(t.status, t.held_reason, t.error_code, since, now):
            offers[t.id] = kind
    return offers
