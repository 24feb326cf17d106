"""The worker's part in event feeds: remind the unit once before the end, make the feed dormant after it.

Refusing posts outside the window is the domain's rule (`desk.event_feeds.refusal`), applied by the post
use cases at submit; this module only moves time forward, and reads what the dashboards show.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..domain import event_feeds as rules
from ..domain.clock import utcnow
from ..models import Channel
from .audit_trail import SystemActor, record

REMINDER_SHOWN_FOR = timedelta(days=7)  # after the end, so that the unit sees what happened to the feed


def close_ended_feeds(session: Session, now: datetime | None = None, worker: str = "worker") -> tuple[int, int]:
    """Remind each ending feed's unit once to post a closing message; move ended feeds to dormant."""
    now = now or utcnow()
    actor = SystemActor(f"worker:{worker}")
    rows = session.scalars(
        select(Channel).where(Channel.is_event_feed.is_(True), Channel.status == "active",
                              Channel.live_until.is_not(None), Channel.live_until <= now + rules.CLOSING_NOTICE)
        .order_by(Channel.id).with_for_update(skip_locked=True, of=Channel)).all()
    reminded = dormant = 0
    for c in rows:
        if rules.reminder_due(c, now):
            c.closing_reminder_at = now
            record(session, actor, "channel.closing_reminder", "channel", c.id, channel_id=c.id, unit_id=c.unit_id,
                   now=now, details={"operation": rules.operation(c), "live_until": c.live_until})
            reminded += 1
        if rules.goes_dormant(c, now):
            c.status, c.status_reason = "dormant", rules.dormant_reason(c)
            record(session, actor, "channel.dormant", "channel", c.id, channel_id=c.id, unit_id=c.unit_id, now=now,
                   details={"operation": rules.operation(c), "live_until": c.live_until,
                            "reason": "the event window ended"})
            dormant += 1
    session.commit()
    return reminded, dormant


def reminders_for(session: Session, user, now: datetime | None = None) -> list[Channel]:
    """Feeds of the person's units whose closing reminder went out (shown until a week after the end)."""
    now = now or utcnow()
    units = list(user.roles_by_unit)
    if not units:
        return []
    return list(session.scalars(
        select(Channel).where(Channel.unit_id.in_(units), Channel.is_event_feed.is_(True),
                              Channel.closing_reminder_at.is_not(None),
                              or_(Channel.live_until.is_(None), Channel.live_until > now - REMINDER_SHOWN_FOR))
        .order_by(Channel.live_until)))
