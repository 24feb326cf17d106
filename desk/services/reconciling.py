"""Settling targets whose outcome is unknown: a worker stopped (or lost the database) mid-call, so the
platform is asked whether the post exists before anything is sent again.

Asking is a platform call like any other: it respects the channel's pacing and the one-call-per-channel
rule, by reserving the channel (its next_send_at) for the question, exactly as a claim does.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ..domain import rate_limits
from ..domain import workflow as wf
from ..domain.clock import utcnow
from ..domain.person_decisions import NEEDS_PERSON
from ..models import Channel, Post, PublishAttempt, Target
from ..platforms import PublishRequest, RemoteRef
from ..platforms.base import AMBIGUOUS, publisher_class
from .audit_trail import SystemActor, record_target
from .common import lock
from .post_rollup import roll_up as _roll_up
from .publishing import _claimable_channels, _pace, request_for

CANNOT_CHECK = ("The desk lost track of this post while sending it, and the platform cannot tell the desk whether "
                "it went out. Look at the account: if the post is there, choose \"it was published\" and give its "
                "link; if it is not, choose \"it was not published: send it\".")


@dataclass(frozen=True)
class Check:
    target_id: int
    channel: Channel  # detached copy, for the adapter
    request: PublishRequest


def _askable():
    return Target.status == wf.T_UNKNOWN, or_(Target.error_code.is_(None), Target.error_code != NEEDS_PERSON)


def claim_checks(session: Session, worker: str, now: datetime | None = None, limit: int = 20,
                 lease_seconds: int = 120) -> list[Check]:
    """Reserve up to `limit` free channels that have a target to ask about, one target each."""
    now = now or utcnow()
    unknown_here = select(Target.id).where(Target.channel_id == Channel.id, *_askable())
    channels = session.scalars(_claimable_channels(now, unknown_here.exists()).order_by(Channel.id).limit(limit)
                               ).unique().all()
    checks = []
    for c in channels:
        t = session.scalars(select(Target).where(Target.channel_id == c.id, *_askable()).order_by(Target.id)
                            .limit(1).with_for_update(skip_locked=True, of=Target)).first()
        if t is None:
            continue
        c.next_send_at = now + timedelta(seconds=lease_seconds)
        first_try = session.scalar(select(func.min(PublishAttempt.started_at)).where(PublishAttempt.target_id == t.id))
        checks.append(Check(t.id, c, request_for(t, not_before=first_try)))
    session.commit()
    return checks


def _locked(session: Session, check: Check, pacing, now: datetime) -> tuple[Post, Target]:
    # Posts before targets before channels, everywhere: one lock order, so two workers never deadlock.
    post = lock(session, Post, session.scalar(select(Target.post_id).where(Target.id == check.target_id)))
    target = lock(session, Target, check.target_id)
    _pace(session, check.channel.id, pacing, now)
    return post, target


def settle(session: Session, check: Check, worker: str, found: RemoteRef | None, now: datetime | None = None,
           pacing: rate_limits.Pacing | None = None, *, max_attempts: int = 5, retry_base_seconds: float = 30,
           rng: random.Random | None = None) -> str:
    """After asking the platform: published (with what it found), or tried again.

    Not found after the platform itself gave an unclear answer (a 500 or a timeout on the post): a retry
    like a transient error's, with backoff and within the attempt limit, so a platform that fails every
    post is not sent it every few seconds for ever. Not found after a worker died: back to the queue at
    once (the platform did nothing wrong), still within the limit, so a post that kills workers stops."""
    now = now or utcnow()
    actor = SystemActor(f"worker:{worker}")
    post, target = _locked(session, check, pacing, now)
    if target.status != wf.T_UNKNOWN:
        session.commit()  # someone settled it meanwhile; the channel's reservation still ends
        return target.status
    if found:
        target.status, target.remote_id, target.remote_url = wf.T_PUBLISHED, found.id, found.url
        target.published_at = target.published_at or now
        target.error_class = target.error_code = target.error_message = None
        record_target(session, actor, "target.reconciled_published", target, now, remote_id=found.id)
    elif target.attempts >= max_attempts:
        target.status = wf.T_FAILED
        label = publisher_class(check.channel.platform).label
        target.error_message = (f"{label} did not take this post in {target.attempts} "
                                "attempts (the desk checked each time that it had not gone out). The desk gave up: "
                                "check the post and the account, then ask an approver to send it again.")
        record_target(session, actor, "target.reconciled_not_found", target, now, then=wf.T_FAILED)
    else:
        details = {}
        if target.error_class == AMBIGUOUS:
            target.status, target.next_attempt_at = wf.T_RETRYING, wf.backoff(target.attempts, retry_base_seconds,
                                                                              now, rng)
            details["next_attempt_at"] = target.next_attempt_at.isoformat()
        else:
            target.status = wf.T_QUEUED
        target.error_class = target.error_code = target.error_message = None
        record_target(session, actor, "target.reconciled_not_found", target, now, then=target.status, **details)
    _roll_up(session, post, actor, now)
    session.commit()
    return target.status


def hand_to_person(session: Session, check: Check, worker: str, now: datetime | None = None,
                   pacing: rate_limits.Pacing | None = None) -> str:
    """The platform cannot say: the target stays unknown, and a person decides (the worker asks no more)."""
    now = now or utcnow()
    post, target = _locked(session, check, pacing, now)
    if target.status == wf.T_UNKNOWN and target.error_code != NEEDS_PERSON:
        target.error_class, target.error_code, target.error_message = None, NEEDS_PERSON, CANNOT_CHECK
        record_target(session, SystemActor(f"worker:{worker}"), "target.needs_person", target, now,
                      reason=CANNOT_CHECK)
    session.commit()
    return target.status


def not_answered(session: Session, check: Check, pacing: rate_limits.Pacing | None = None,
                 now: datetime | None = None) -> None:
    """The question failed (the platform was down, slow, or asked us to wait): ask again when paced."""
    now = now or utcnow()
    _pace(session, check.channel.id, pacing, now)
    session.commit()
