"""What the worker does, as use cases: hold and release, claim what is due, record what happened.

Each function is one short transaction; the platform is called between them, never inside one.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from .. import pauses as pause_rules
from .. import workflow as wf
from ..clock import utcnow
from ..models import Channel, Post, PublishAttempt, Target
from ..platforms import PlatformError, PublishRequest, RemoteRef
from ..platforms.base import AMBIGUOUS, AUTH, PERMANENT, RATE_LIMITED, TRANSIENT
from .audit_trail import SystemActor, record
from .common import lock
from .pauses import active as active_pauses
from . import post_screening
from .posts import content_of

LIVE_POST_STATES = (wf.APPROVED, wf.PARTLY_PUBLISHED)


@dataclass(frozen=True)
class Claim:
    target_id: int
    post_id: int
    attempt_id: int
    attempt_no: int
    channel: Channel  # detached copy, for the adapter
    request: PublishRequest


def request_for(target: Target) -> PublishRequest:
    return PublishRequest(
        target_id=target.id, channel_id=target.channel_id,
        content=content_of(target),
        marker=f"desk-{target.post_id}-{target.id}",
    )


def _audit_target(session, actor, action, target: Target, now, **details):
    record(session, actor, action, "target", target.id, post_id=target.post_id, channel_id=target.channel_id,
           unit_id=target.channel.unit_id, now=now, details=details)


def _roll_up(session: Session, post: Post, actor, now: datetime) -> None:
    new = wf.rollup([t.status for t in post.targets], post.status)
    if new != post.status:
        before, post.status = post.status, new
        post.updated_at = now
        record(session, actor, f"post.{new}", "post", post.id, post_id=post.id, now=now,
               details={"previous_status": before,
                        "targets": {str(t.channel_id): t.status for t in post.targets}})


def hold_and_release(session: Session, worker: str, now: datetime | None = None) -> tuple[int, int]:
    """Hold due targets whose channel cannot take them; release held ones whose channel can again."""
    now = now or utcnow()
    actor = SystemActor(f"worker:{worker}")
    held = released = 0
    rows = session.scalars(
        select(Target).join(Post).where(Post.status.in_(LIVE_POST_STATES),
                                         Target.status.in_((wf.T_QUEUED, wf.T_RETRYING, wf.T_HELD)))
        .with_for_update(skip_locked=True, of=Target)
    ).all()
    paused = active_pauses(session)
    for t in rows:
        c = t.channel
        if t.status == wf.T_HELD and pause_rules.awaits_confirmation(t.held_reason):
            continue  # its time passed during a pause: a person decides, never the worker
        if post_screening.still_blocked(t, now):
            continue  # the unit's screening policy blocks it now: released only when it no longer does
        pause = pause_rules.covering(paused, c.unit_id)
        reason = (pause_rules.held_reason(pause) if pause
                  else wf.channel_block_reason(c.status, c.live_from, c.live_until, now))
        if t.status == wf.T_HELD and reason is None and pause_rules.is_pause_hold(t.held_reason):
            continue  # a resume releases what a pause held (and asks about what fell due meanwhile)
        if t.status == wf.T_HELD and reason is None:
            t.status, t.held_reason = wf.T_QUEUED, None
            _audit_target(session, actor, "target.released", t, now)
            released += 1
        elif t.status != wf.T_HELD and reason and wf.is_due(t.status, t.scheduled_at, t.next_attempt_at, now):
            t.status, t.held_reason = wf.T_HELD, reason
            _audit_target(session, actor, "target.held", t, now, reason=reason)
            held += 1
        elif t.status == wf.T_HELD and reason != t.held_reason:
            t.held_reason = reason
    session.commit()
    return held, released


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
        _audit_target(session, actor, "target.unknown", t, now, previous_worker=previous)
    session.commit()
    return len(rows)


def claim_due(session: Session, worker: str, now: datetime | None = None, limit: int = 20,
              lease_seconds: int = 120) -> list[Claim]:
    """Move due targets to 'sending' with an attempt row, committed before any platform is called."""
    now = now or utcnow()
    actor = SystemActor(f"worker:{worker}")
    stmt = (
        select(Target).join(Post).join(Channel, Target.channel_id == Channel.id)
        .where(Post.status.in_(LIVE_POST_STATES), Channel.status == "active",
               or_(Target.status == wf.T_QUEUED, Target.status == wf.T_RETRYING),
               or_(Target.scheduled_at.is_(None), Target.scheduled_at <= now),
               or_(Target.next_attempt_at.is_(None), Target.next_attempt_at <= now))
        .order_by(Target.scheduled_at, Target.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=Target)
    )
    claims = []
    paused = active_pauses(session)
    for t in session.scalars(stmt).all():
        c = t.channel
        pause = pause_rules.covering(paused, c.unit_id)
        if pause:  # the emergency stop: held, not sent; what is already sending goes on
            t.status, t.held_reason = wf.T_HELD, pause_rules.held_reason(pause)
            _audit_target(session, actor, "target.held", t, now, reason=t.held_reason, pause_id=pause.id)
            continue
        if blocked := post_screening.publish_block_reason(t, now):  # screened again with today's policy
            t.status, t.held_reason = wf.T_HELD, blocked
            _audit_target(session, actor, "target.held", t, now, reason=blocked)
            continue
        if wf.channel_block_reason(c.status, c.live_from, c.live_until, now):
            continue  # hold_and_release deals with it
        t.status, t.claimed_by = wf.T_SENDING, worker
        t.lease_until = now + timedelta(seconds=lease_seconds)
        t.attempts += 1
        attempt = PublishAttempt(target_id=t.id, number=t.attempts, worker=worker, started_at=now)
        session.add(attempt)
        session.flush()
        _audit_target(session, actor, "target.sending", t, now, attempt=t.attempts)
        claims.append(Claim(t.id, t.post_id, attempt.id, t.attempts, c, request_for(t)))
    session.commit()
    return claims


def record_success(session: Session, claim: Claim, worker: str, ref: RemoteRef,
                   now: datetime | None = None) -> None:
    now = now or utcnow()
    actor = SystemActor(f"worker:{worker}")
    post = lock(session, Post, claim.post_id)
    target = lock(session, Target, claim.target_id)
    attempt = session.get(PublishAttempt, claim.attempt_id)
    attempt.finished_at, attempt.outcome = now, "published"
    target.status, target.remote_id, target.remote_url = wf.T_PUBLISHED, ref.id, ref.url
    target.published_at, target.claimed_by, target.lease_until = now, None, None
    target.error_class = target.error_code = target.error_message = None
    _audit_target(session, actor, "target.published", target, now, remote_id=ref.id, url=ref.url,
                  attempt=claim.attempt_no)
    _roll_up(session, post, actor, now)
    session.commit()


def record_failure(session: Session, claim: Claim, worker: str, error: PlatformError, *, max_attempts: int,
                   retry_base_seconds: float, now: datetime | None = None, rng: random.Random | None = None) -> str:
    """Decide from the error's class what becomes of the target; returns its new state."""
    now = now or utcnow()
    actor = SystemActor(f"worker:{worker}")
    post = lock(session, Post, claim.post_id)
    target = lock(session, Target, claim.target_id)
    attempt = session.get(PublishAttempt, claim.attempt_id)
    attempt.finished_at, attempt.error_code, attempt.message = now, error.code, error.message
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
        channel = lock(session, Channel, target.channel_id)
        if channel.status == "active":
            channel.status, channel.status_reason = "needs_reconnect", error.message
            record(session, actor, "channel.needs_reconnect", "channel", channel.id, channel_id=channel.id,
                   unit_id=channel.unit_id, now=now, details={"code": error.code, "message": error.message})
    elif error.error_class == AMBIGUOUS:
        target.status = wf.T_UNKNOWN
    else:
        assert error.error_class == PERMANENT
        target.status = wf.T_FAILED
    attempt.outcome = target.status
    _audit_target(session, actor, f"target.{target.status}", target, now, **details)
    _roll_up(session, post, actor, now)
    session.commit()
    return target.status


def unknown_targets(session: Session, limit: int = 20) -> list[Target]:
    return list(session.scalars(select(Target).where(Target.status == wf.T_UNKNOWN).order_by(Target.id).limit(limit)))


def settle_unknown(session: Session, target_id: int, worker: str, found: RemoteRef | None,
                   now: datetime | None = None) -> str:
    """After asking the platform: published (with what it found), or back to the queue."""
    now = now or utcnow()
    actor = SystemActor(f"worker:{worker}")
    # Posts before targets, everywhere: one lock order, so two workers never deadlock.
    post_id = session.scalar(select(Target.post_id).where(Target.id == target_id))
    post = lock(session, Post, post_id)
    target = lock(session, Target, target_id)
    if target.status != wf.T_UNKNOWN:
        session.rollback()
        return target.status
    if found:
        target.status, target.remote_id, target.remote_url = wf.T_PUBLISHED, found.id, found.url
        target.published_at = target.published_at or now
        target.error_message = None
        _audit_target(session, actor, "target.reconciled_published", target, now, remote_id=found.id)
    else:
        target.status, target.error_message = wf.T_QUEUED, None
        _audit_target(session, actor, "target.reconciled_not_found", target, now)
    _roll_up(session, post, actor, now)
    session.commit()
    return target.status
