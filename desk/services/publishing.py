"""What the worker does, as use cases: hold and release, claim what is due, record what happened.

Each function is one short transaction; the platform is called between them, never inside one.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, true
from sqlalchemy.orm import Session, contains_eager

from ..domain import lateness, rate_limits
from ..domain import pauses as pause_rules
from ..domain import workflow as wf
from ..domain.clock import utcnow
from ..domain.timezones import display
from ..models import AuditEvent, Channel, Post, PublishAttempt, Target
from ..platforms import PlatformError, PublishRequest, RemoteRef
from ..platforms.base import AMBIGUOUS, AUTH, PERMANENT, RATE_LIMITED, TRANSIENT
from . import post_screening, stray_copies
from .audit_trail import SystemActor, record, record_target
from .common import lock
from .pauses import active as active_pauses
from .post_content import content_of
from .post_rollup import roll_up as _roll_up

LIVE_POST_STATES = (wf.APPROVED, wf.PARTLY_PUBLISHED)
LOOKAHEAD = 20  # due targets looked at per channel and claim: those a pause or the screening holds, then one


@dataclass(frozen=True)
class Claim:
    target_id: int
    post_id: int
    attempt_id: int
    attempt_no: int
    channel: Channel  # detached copy, for the adapter
    request: PublishRequest


def request_for(target: Target, not_before: datetime | None = None) -> PublishRequest:
    return PublishRequest(
        target_id=target.id, channel_id=target.channel_id,
        content=content_of(target),
        marker=f"desk-{target.post_id}-{target.id}",
        not_before=not_before,
    )


def _due(now: datetime):
    """Queued or retrying targets whose moment has come (a retry also waits for its next attempt time)."""
    return (Target.status.in_((wf.T_QUEUED, wf.T_RETRYING)),
            or_(Target.scheduled_at.is_(None), Target.scheduled_at <= now),
            or_(Target.next_attempt_at.is_(None), Target.next_attempt_at <= now))


def _due_order():
    return func.coalesce(Target.next_attempt_at, Target.scheduled_at).asc().nulls_first(), Target.id


def _blocked_channel(now: datetime, paused) -> ColumnElement[bool]:
    """Channels that cannot take a post now: not active, outside their event window, or paused."""
    blocked = or_(Channel.status != "active",
                  and_(Channel.live_from.is_not(None), Channel.live_from > now),
                  and_(Channel.live_until.is_not(None), Channel.live_until <= now))
    if pause_rules.DESK_WIDE in paused:
        return true()
    if paused:
        blocked = or_(blocked, Channel.unit_id.in_(list(paused)))
    return blocked


def _held_since(session: Session, target: Target) -> datetime | None:
    return session.scalar(select(func.max(AuditEvent.at)).where(
        AuditEvent.object_type == "target", AuditEvent.object_id == str(target.id),
        AuditEvent.action == "target.held"))


def screening_hold(reason: str | None) -> bool:
    return bool(reason) and reason.startswith(post_screening.HOLD_PREFIX)


def hold_and_release(session: Session, worker: str, now: datetime | None = None, *, zone: ZoneInfo | None = None,
                     late_after_minutes: int = lateness.DEFAULT_LATE_AFTER_MINUTES) -> tuple[int, int, int]:
    """Hold due targets whose channel cannot take them; release held ones whose channel can again,
    unless their time is too long past: those wait for a person. Returns (held, released, late).

    Only held targets and the due targets of blocked channels are read, not the whole queue."""
    now = now or utcnow()
    zone = zone or ZoneInfo("Europe/London")
    actor = SystemActor(f"worker:{worker}")
    held = released = late = 0
    paused = active_pauses(session)
    rows = session.scalars(
        select(Target).join(Post).join(Channel, Target.channel_id == Channel.id)
        .where(Post.status.in_(LIVE_POST_STATES),
               or_(Target.status == wf.T_HELD, and_(_blocked_channel(now, paused), *_due(now))))
        .with_for_update(skip_locked=True, of=Target)
    ).all()
    for t in rows:
        c = t.channel
        if t.status == wf.T_HELD and (pause_rules.awaits_confirmation(t.held_reason)
                                      or lateness.awaits_person(t.held_reason)):
            continue  # its time passed while held: a person decides, never the worker
        if post_screening.still_blocked(t, now):
            continue  # the unit's screening policy blocks it now: released only when it no longer does
        pause = pause_rules.covering(paused, c.unit_id)
        reason = (pause_rules.held_reason(pause) if pause
                  else wf.channel_block_reason(c.status, c.live_from, c.live_until, now))
        if t.status == wf.T_HELD and reason is None and pause_rules.is_pause_hold(t.held_reason):
            continue  # a resume releases what a pause held (and asks about what fell due meanwhile)
        if t.status == wf.T_HELD and reason is None:
            # A channel that could not publish: how late is too late. (A screening hold ends when the
            # policy changes back, a decision people made knowing the time.)
            due_at = None if screening_hold(t.held_reason) else t.scheduled_at or _held_since(session, t)
            if lateness.too_late(due_at, now, c.late_after_minutes, late_after_minutes):
                t.held_reason = lateness.late_reason(display(due_at, zone), c.late_after_minutes,
                                                     late_after_minutes)
                record_target(session, actor, "target.held", t, now, reason=t.held_reason, late=True)
                late += 1
                continue
            t.status, t.held_reason = wf.T_QUEUED, None
            record_target(session, actor, "target.released", t, now)
            released += 1
        elif t.status != wf.T_HELD and reason and wf.is_due(t.status, t.scheduled_at, t.next_attempt_at, now):
            t.status, t.held_reason = wf.T_HELD, reason
            record_target(session, actor, "target.held", t, now, reason=reason)
            held += 1
        elif t.status == wf.T_HELD and reason != t.held_reason:
            t.held_reason = reason
    session.commit()
    return held, released, late


def expire_leases(session: Session, worker: str, now: datetime | None = None) -> int:
    """A target left in 'sending' past its lease belonged to a worker that died mid-call."""
    now = now or utcnow()
    actor = SystemActor(f"worker:{worker}")
    rows = session.scalars(select(Target).where(Target.status == wf.T_SENDING, Target.lease_until < now)
                           .with_for_update(skip_locked=True, of=Target)).all()
    for t in rows:
        previous = t.claimed_by
        t.status, t.claimed_by, t.lease_until = wf.T_UNKNOWN, None, None
        t.error_message = "A worker stopped while sending this; the desk is checking whether it went out."
        record_target(session, actor, "target.unknown", t, now, previous_worker=previous)
    session.commit()
    return len(rows)


def _claimable_channels(now: datetime, *problems) -> Select:
    """Active channels free to call now: their pacing allows it and no call is in flight on them.

    Called FOR UPDATE SKIP LOCKED, so two workers never pick the same channel; the claim then moves
    next_send_at past now, so a worker whose query began before that commit finds the row changed and
    passes it by too (PostgreSQL re-checks the condition on the new row)."""
    sending = select(Target.id).where(Target.channel_id == Channel.id, Target.status == wf.T_SENDING)
    return (select(Channel)
            .where(Channel.status == "active",
                   or_(Channel.next_send_at.is_(None), Channel.next_send_at <= now),
                   ~sending.exists(), *problems)
            .with_for_update(skip_locked=True, of=Channel))


def claim_due(session: Session, worker: str, now: datetime | None = None, limit: int = 20,
              lease_seconds: int = 120) -> list[Claim]:
    """Claim the earliest due target of up to `limit` channels, one per channel: each goes to 'sending'
    with an attempt row, committed before any platform is called."""
    now = now or utcnow()
    actor = SystemActor(f"worker:{worker}")
    due_here = (select(Target.id).join(Post, Post.id == Target.post_id)
                .where(Target.channel_id == Channel.id, Post.status.in_(LIVE_POST_STATES), *_due(now)))
    first_due = (select(func.min(func.coalesce(Target.next_attempt_at, Target.scheduled_at)))
                 .join(Post, Post.id == Target.post_id)
                 .where(Target.channel_id == Channel.id, Post.status.in_(LIVE_POST_STATES), *_due(now))
                 .scalar_subquery())
    channels = session.scalars(_claimable_channels(now, due_here.exists())
                               .order_by(first_due.asc().nulls_first(), Channel.id).limit(limit)).unique().all()
    claims, events = [], []
    paused = active_pauses(session)
    lease = timedelta(seconds=lease_seconds)
    for c in channels:
        if wf.channel_block_reason(c.status, c.live_from, c.live_until, now):
            continue  # hold_and_release deals with it
        due = session.scalars(
            select(Target).join(Post).where(Target.channel_id == c.id, Post.status.in_(LIVE_POST_STATES), *_due(now))
            .options(contains_eager(Target.post))  # its words are screened and sent: no second query for them
            .order_by(*_due_order()).limit(LOOKAHEAD).with_for_update(skip_locked=True, of=Target)).unique().all()
        for t in due:
            pause = pause_rules.covering(paused, c.unit_id)
            if pause:  # the emergency stop: held, not sent; what is already sending goes on
                t.status, t.held_reason = wf.T_HELD, pause_rules.held_reason(pause)
                events.append(("target.held", t, {"reason": t.held_reason, "pause_id": pause.id}))
                continue
            if blocked := post_screening.publish_block_reason(t, now):  # screened again with today's policy
                t.status, t.held_reason = wf.T_HELD, blocked
                events.append(("target.held", t, {"reason": blocked}))
                continue
            t.status, t.claimed_by = wf.T_SENDING, worker
            t.lease_until = c.next_send_at = now + lease  # the channel is ours until the outcome is in
            t.attempts += 1
            attempt = PublishAttempt(target_id=t.id, number=t.attempts, worker=worker, started_at=now)
            session.add(attempt)
            session.flush()
            events.append(("target.sending", t, {"attempt": t.attempts}))
            claims.append(Claim(t.id, t.post_id, attempt.id, t.attempts, c, request_for(t)))
            break
    # The audit chain is one lock for every worker: taken last, so it is held for the writes alone.
    for action, t, details in events:
        record_target(session, actor, action, t, now, **details)
    session.commit()
    return claims


def _pace(session: Session, channel_id: int, pacing: rate_limits.Pacing | None, now: datetime) -> Channel:
    """Store what the platform said of the channel's budget; this also ends the claim's reservation.
    Taken before any audit row is written: the lock order is posts, targets, channels, audit chain."""
    channel = lock(session, Channel, channel_id)
    pacing = pacing or rate_limits.after_call(channel.platform, [], now)
    channel.next_send_at = pacing.next_send_at
    if pacing.remaining is not None:
        channel.rate_remaining, channel.rate_reset_at = pacing.remaining, pacing.reset_at
    return channel


def _locked_outcome(session: Session, claim: Claim, pacing, now: datetime):
    post = lock(session, Post, claim.post_id, bare=True)
    target = lock(session, Target, claim.target_id)
    channel = _pace(session, target.channel_id, pacing, now)
    attempt = session.get(PublishAttempt, claim.attempt_id)
    attempt.finished_at = now
    return post, target, channel, attempt


def record_success(session: Session, claim: Claim, worker: str, ref: RemoteRef, now: datetime | None = None,
                   pacing: rate_limits.Pacing | None = None) -> str:
    """The platform published it: record that, whatever became of the claim meanwhile. A success is
    never lost: if our lease ran out (the database was away, the call was slow) and the target was
    marked unknown or even queued again, the platform's answer settles it. Returns the target's state."""
    now = now or utcnow()
    actor = SystemActor(f"worker:{worker}")
    post, target, _channel, attempt = _locked_outcome(session, claim, pacing, now)
    attempt.outcome = "published"
    ours = target.status == wf.T_SENDING and target.claimed_by == worker
    details = {"remote_id": ref.id, "url": ref.url, "attempt": claim.attempt_no}
    if target.status == wf.T_PUBLISHED:
        if target.remote_id != ref.id:
            # Sent after another worker had taken it over and published it (this one was frozen, or cut off
            # from the database, inside the creating call): a second copy, shown to a person to remove.
            stray_copies.found(session, actor, target, worker, ref.id, ref.url, claim.attempt_id, claim.attempt_no,
                               now)
        session.commit()
        return target.status
    if target.status in (wf.T_CANCELLED, wf.T_RETRACTED):
        record_target(session, actor, "target.published_after_withdrawal", target, now, **details)
        session.commit()
        return target.status
    if not ours:
        details.update(after_lease_expired=True, status_before=target.status, claimed_by=target.claimed_by,
                       note="The worker's lease ran out before it could record this; the platform's answer "
                            "says the post went out, so it is recorded as published.")
    target.status, target.remote_id, target.remote_url = wf.T_PUBLISHED, ref.id, ref.url
    target.published_at, target.claimed_by, target.lease_until = now, None, None
    target.error_class = target.error_code = target.error_message = target.held_reason = None
    record_target(session, actor, "target.published", target, now, **details)
    _roll_up(session, post, actor, now)
    session.commit()
    return target.status


def record_failure(session: Session, claim: Claim, worker: str, error: PlatformError, *, max_attempts: int,
                   retry_base_seconds: float, now: datetime | None = None, rng: random.Random | None = None,
                   pacing: rate_limits.Pacing | None = None) -> str:
    """Decide from the error's class what becomes of the target; returns its new state."""
    now = now or utcnow()
    actor = SystemActor(f"worker:{worker}")
    post, target, channel, attempt = _locked_outcome(session, claim, pacing, now)
    attempt.error_code, attempt.message = error.code, error.message
    if error.error_class == AUTH and channel.status == "active":
        channel.status, channel.status_reason = "needs_reconnect", error.message
        record(session, actor, "channel.needs_reconnect", "channel", channel.id, channel_id=channel.id,
               unit_id=channel.unit_id, now=now, details={"code": error.code, "message": error.message})
    if not (target.status == wf.T_SENDING and target.claimed_by == worker):
        # Our lease ran out meanwhile: the target is being reconciled or was settled; leave it be, and say so.
        attempt.outcome = "superseded"
        record_target(session, actor, "target.attempt_superseded", target, now, attempt=claim.attempt_no,
                      error_class=error.error_class, code=error.code, status_now=target.status,
                      claimed_by_now=target.claimed_by)
        session.commit()
        return target.status
    target.claimed_by, target.lease_until = None, None
    target.error_class, target.error_code, target.error_message = error.error_class, error.code, error.message
    details = {"error_class": error.error_class, "code": error.code, "message": error.message,
               "attempt": claim.attempt_no}
    if error.error_class in (TRANSIENT, RATE_LIMITED) and target.attempts < max_attempts:
        when = wf.backoff(target.attempts, retry_base_seconds, now, rng)
        if error.retry_after:
            when = max(when, now + timedelta(seconds=error.retry_after))
        target.status, target.next_attempt_at = wf.T_RETRYING, when
        details["next_attempt_at"] = when.isoformat()
    elif error.error_class in (TRANSIENT, RATE_LIMITED):
        target.status = wf.T_FAILED
        target.error_message = f"{error.message} The desk gave up after {target.attempts} attempts."
    elif error.error_class == AUTH:
        target.status, target.held_reason = wf.T_HELD, error.message
    elif error.error_class == AMBIGUOUS:
        target.status = wf.T_UNKNOWN
    else:
        assert error.error_class == PERMANENT
        target.status = wf.T_FAILED
    if error.error_class == RATE_LIMITED and error.retry_after:
        # The whole account is told to wait, not just this post: nothing else on it goes before then.
        channel.next_send_at = max(channel.next_send_at, now + timedelta(seconds=error.retry_after))
        details["channel_next_send_at"] = channel.next_send_at.isoformat()
    attempt.outcome = target.status
    record_target(session, actor, f"target.{target.status}", target, now, **details)
    _roll_up(session, post, actor, now)
    session.commit()
    return target.status


def next_due_at(session: Session, now: datetime | None = None) -> datetime | None:
    """The next moment after `now` at which something may become claimable: a scheduled time, a retry's
    next attempt, or a channel's pacing that holds back a due post. The worker wakes exactly then."""
    now = now or utcnow()
    live = Post.status.in_(LIVE_POST_STATES)
    waiting_on = select(Target.id).join(Post, Post.id == Target.post_id).where(
        Target.channel_id == Channel.id, live, Target.status.in_((wf.T_QUEUED, wf.T_RETRYING)))
    moments = [
        session.scalar(select(func.min(Target.scheduled_at)).join(Post)
                       .where(live, Target.status == wf.T_QUEUED, Target.scheduled_at > now)),
        session.scalar(select(func.min(Target.next_attempt_at)).join(Post)
                       .where(live, Target.status == wf.T_RETRYING, Target.next_attempt_at > now)),
        session.scalar(select(func.min(Channel.next_send_at))
                       .where(Channel.status == "active", Channel.next_send_at > now, waiting_on.exists())),
    ]
    session.rollback()  # a read: end the transaction, whatever the isolation level
    return min((m for m in moments if m is not None), default=None)
