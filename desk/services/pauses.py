"""The emergency stop as use cases: pause (the whole desk or one unit), resume, and decide on the posts
whose time passed meanwhile.

The worker consults `active` on every pass: due targets of a paused unit are held, not claimed;
nothing already sending is interrupted. Resuming releases what was on its way before the stop and
leaves what fell due during it for a person to send now or withdraw.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain import pauses as rules
from ..domain import permissions as perm
from ..domain import workflow as wf
from ..domain.clock import utcnow
from ..domain.errors import ValidationFailed, WorkflowConflict
from ..models import Channel, Pause, Post, Target, Unit, User
from . import audit_trail
from . import target_decisions as decisions
from .common import ensure, get_or_404


@dataclass
class ResumeResult:
    pause: Pause
    released: list[int] = field(default_factory=list)   # target ids queued again
    awaiting: list[int] = field(default_factory=list)   # target ids a person must decide on


def _who(session: Session, user_id: int) -> str:
    user = session.get(User, user_id)
    return user.name if user else f"user {user_id}"


def active(session: Session) -> dict[int | None, rules.ActivePause]:
    """The pauses in force now, keyed by unit id (None for the whole desk)."""
    rows = session.execute(
        select(Pause, Unit.code, User.name).outerjoin(Unit, Pause.unit_id == Unit.id)
        .join(User, Pause.paused_by_id == User.id).where(Pause.resumed_at.is_(None)).order_by(Pause.id)).all()
    return {p.unit_id: rules.ActivePause(p.id, p.unit_id, code, p.reason, name, p.paused_at)
            for p, code, name in rows}


def visible_to(user, active_pauses: dict) -> list[rules.ActivePause]:
    """What the banner shows this person: a desk-wide pause to everyone, a unit's to its people."""
    return [p for p in active_pauses.values()
            if p.unit_id is None or user.is_admin or p.unit_id in user.roles_by_unit]


def pause(session: Session, actor, reason: str, unit_id: int | None = None, *, on_behalf_of: User | None = None,
          now: datetime | None = None) -> Pause:
    """Stop every publication of the desk (unit_id None) or of one unit, at once, with a reason."""
    now = now or utcnow()
    unit = get_or_404(session, Unit, unit_id, "unit") if unit_id is not None else None
    scope = "the whole desk" if unit is None else unit.code
    ensure(session, perm.can_pause(actor, unit_id), actor, "pause.start",
           "Only a desk administrator may pause the whole desk; a unit administrator may pause their unit.",
           object_type="unit" if unit else "desk", object_id=unit_id, unit_id=unit_id)
    person = actor if getattr(actor, "id", None) else on_behalf_of
    if person is None:
        raise ValidationFailed("A pause records the person on whose authority it was made: name them.",
                               field_errors={"by": ["Name the administrator on whose authority you pause."]})
    ensure(session, perm.can_pause(person, unit_id), actor, "pause.start",
           f"{person.email} may not pause {scope}.", object_type="unit" if unit else "desk",
           object_id=unit_id, unit_id=unit_id)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("Say why publishing stops: everyone sees it on every page.",
                               field_errors={"reason": ["Say why: everyone sees it on every page."]})
    current = active(session)
    if unit_id in current:
        raise WorkflowConflict(f"Publishing is already paused for {scope} (since "
                               f"{current[unit_id].paused_at:%d %b %H:%M} UTC): nothing more to stop.")
    row = Pause(unit_id=unit_id, reason=reason[:2000], paused_by_id=person.id, paused_at=now)
    session.add(row)
    session.flush()
    audit_trail.record(session, actor, "pause.started", "pause", row.id, unit_id=unit_id, now=now,
                       details={"scope": scope, "reason": row.reason, "paused_by": person.email})
    session.commit()
    return row


def _held_by_pause(session: Session, unit_ids: set[int] | None) -> list[Target]:
    stmt = (select(Target).join(Channel, Target.channel_id == Channel.id)
            .where(Target.status == wf.T_HELD, Target.held_reason.like(rules.PAUSED_PREFIX + "%")))
    if unit_ids is not None:
        stmt = stmt.where(Channel.unit_id.in_(unit_ids))
    return list(session.scalars(stmt.order_by(Target.id).with_for_update(of=Target)))


def resume(session: Session, actor, pause_id: int, *, on_behalf_of: User | None = None,
           now: datetime | None = None) -> ResumeResult:
    """End a pause: release what was on its way before it; what fell due during it waits for a person."""
    now = now or utcnow()
    row = get_or_404(session, Pause, pause_id, "pause")
    ensure(session, perm.can_pause(actor, row.unit_id), actor, "pause.end",
           "Only those who may pause this may resume it.", object_type="pause", object_id=row.id,
           unit_id=row.unit_id)
    if row.resumed_at is not None:
        raise WorkflowConflict("This pause has already ended.")
    person = actor if getattr(actor, "id", None) else on_behalf_of
    row.resumed_at, row.resumed_by_id = now, person.id if person else None
    session.flush()
    still = active(session)  # without this pause: another (desk-wide, or the unit's own) may still hold
    spans = session.execute(select(Pause.unit_id, Pause.paused_at, Pause.resumed_at)).all()
    result = ResumeResult(row)
    scope = "the whole desk" if row.unit_id is None else f"{_unit_code(session, row.unit_id)}"
    for t in _held_by_pause(session, None if row.unit_id is None else {row.unit_id}):
        unit_id = t.channel.unit_id
        other = rules.covering(still, unit_id)
        if other is not None:
            t.held_reason = rules.held_reason(other)
            continue
        since = rules.paused_since([(s, e) for u, s, e in spans if u is None or u == unit_id], now)
        if rules.needs_confirmation(t.scheduled_at, t.attempts, since):
            t.held_reason = rules.confirm_reason(f"{scope}, {row.reason}")
            result.awaiting.append(t.id)
            audit_trail.record_target(session, actor, "target.awaiting_confirmation", t, now, pause_id=row.id)
        else:
            t.status, t.held_reason = wf.T_QUEUED, None
            result.released.append(t.id)
            audit_trail.record_target(session, actor, "target.released", t, now, pause_id=row.id)
    audit_trail.record(session, actor, "pause.ended", "pause", row.id, unit_id=row.unit_id, now=now,
                       details={"scope": scope, "reason": row.reason, "released": len(result.released),
                                "awaiting_confirmation": len(result.awaiting),
                                "resumed_by": person.email if person else None})
    session.commit()
    return result


def _unit_code(session: Session, unit_id: int) -> str:
    unit = session.get(Unit, unit_id)
    return unit.code if unit else f"unit {unit_id}"


def awaiting(session: Session, actor) -> list[Target]:
    """Targets whose time passed during a pause, in the units this person may decide for."""
    rows = session.scalars(select(Target).where(Target.status == wf.T_HELD,
                                                Target.held_reason.like(rules.CONFIRM_PREFIX + "%"))
                           .order_by(Target.scheduled_at, Target.id))
    return [t for t in rows if perm.can_pause(actor, t.channel.unit_id)]


def _late_target(session: Session, actor, target_id: int, action: str) -> tuple[Post, Target]:
    post, target = decisions.locked_for_decision(
        session, actor, target_id, action, allowed=lambda t: perm.can_pause(actor, t.channel.unit_id),
        refusal=lambda t: f"Only an administrator of {t.channel.unit.code} decides on its posts after a pause.",
        waiting=lambda t: t.status == wf.T_HELD and rules.awaits_confirmation(t.held_reason),
        stale="This post is no longer waiting for a decision after the pause (someone decided already): "
              "reload the page.")
    pausing = rules.covering(active(session), target.channel.unit_id)
    if pausing is not None:
        session.rollback()
        raise WorkflowConflict(f"Publishing is paused again {pausing.scope}: decide once it resumes.")
    return post, target


def send_now(session: Session, actor, target_id: int, now: datetime | None = None) -> Target:
    """A person confirms a post whose time passed during the pause: it goes on the worker's next pass."""
    now = now or utcnow()
    _, target = _late_target(session, actor, target_id, "pause.send_now")
    return decisions.send_again(session, actor, target, now, "target.confirmed_after_pause",
                                scheduled_at=target.scheduled_at.isoformat() if target.scheduled_at else None)


def withdraw(session: Session, actor, target_id: int, now: datetime | None = None) -> Target:
    """A person decides a post whose time passed during the pause should not go to this channel."""
    now = now or utcnow()
    post, target = _late_target(session, actor, target_id, "pause.withdraw")
    return decisions.do_not_send(session, actor, post, target, now, "target.withdrawn_after_pause",
                                 "withdrawn after a pause")


def recent(session: Session, actor, limit: int = 20) -> list[tuple[Pause, str | None]]:
    """The latest pauses this person may see, each with its unit's code (None: the whole desk)."""
    rows = session.execute(select(Pause, Unit.code).outerjoin(Unit, Pause.unit_id == Unit.id)
                           .order_by(Pause.paused_at.desc(), Pause.id.desc()).limit(limit)).all()
    return [(p, code) for p, code in rows if p.unit_id is None or perm.can_pause(actor, p.unit_id)]
