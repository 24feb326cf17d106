"""Use cases of access grants: request with a business case, decide, revoke, and the worker's expiry pass.

Each is one transaction with its audit event. Refusals (deciding one's own request, deciding for
someone else's team) go through `ensure`: 403, and on the audit trail.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain import grants as rules
from ..domain import permissions as perm
from ..domain.clock import utcnow
from ..domain.errors import ValidationFailed, WorkflowConflict
from ..models import AccessGrant, Channel, Membership, Unit, User
from . import audit_trail
from .audit_trail import SystemActor
from .common import ensure, get_or_404, lock


def load_access(session: Session, user):
    """Give a person object their approved grants, for `permissions` to check against the clock.

    Called once per request by the web and API layers and by the use cases that check drafting or
    approving, so that a grant decided or revoked a moment ago counts at once.
    """
    if not isinstance(user, User):
        return user  # the worker or an operator: they draft for nobody
    rows = session.execute(
        select(AccessGrant.id, AccessGrant.channel_id, AccessGrant.role, AccessGrant.status, AccessGrant.starts_at,
               AccessGrant.expires_at, AccessGrant.revoked_at, Channel.unit_id)
        .join(Channel, AccessGrant.channel_id == Channel.id)
        .where(AccessGrant.user_id == user.id, AccessGrant.status == rules.APPROVED)).all()
    user.access_grants = tuple(rules.GrantView(*row) for row in rows)
    return user


def unit_admin_ids(session: Session, unit_id: int) -> set[int]:
    return set(session.scalars(select(Membership.user_id).join(User, Membership.user_id == User.id)
                               .where(Membership.unit_id == unit_id, Membership.role == "unit_admin",
                                      User.active.is_(True))))


def deciders_of(session: Session, grant: AccessGrant) -> set[int]:
    return rules.deciders(grant.user, unit_admin_ids(session, grant.channel.unit_id))


def _audit(session, actor, action: str, grant: AccessGrant, now: datetime, **details) -> None:
    audit_trail.record(session, actor, action, "grant", grant.id, channel_id=grant.channel_id,
                       unit_id=grant.channel.unit_id, now=now,
                       details={"person": grant.user.email, "channel": grant.channel.name, "role": grant.role,
                                **details})


def request(session: Session, actor, channel_id: int, role: str, business_case: str,
            period_days: int | None = None, now: datetime | None = None) -> AccessGrant:
    """Ask for the author or approver role on one channel; it goes to the line manager (or unit admins)."""
    now = now or utcnow()
    ensure(session, isinstance(actor, User), actor, "grant.request",
           "Only a person signed in to the desk may ask for access.", object_type="grant")
    channel = session.get(Channel, channel_id) if channel_id else None
    errors: dict[str, list[str]] = {}
    if channel is None or channel.status == "archived":
        errors["channel"] = ["Choose a channel." if channel is None else f"{channel.name} is archived."]
    if role not in rules.GRANT_ROLES:
        errors["role"] = ["Choose author or approver."]
    if problems := rules.business_case_problems(business_case):
        errors["business_case"] = problems
    if channel is not None:
        unit = channel.unit
        period_days = unit.grant_period_days if period_days is None else period_days
        if problems := rules.period_problems(period_days, unit.grant_period_days):
            errors["period_days"] = problems
    if errors:
        raise ValidationFailed("The request was not sent: " + " ".join(m for v in errors.values() for m in v),
                               field_errors=errors)
    existing = session.scalars(select(AccessGrant).where(
        AccessGrant.user_id == actor.id, AccessGrant.channel_id == channel.id, AccessGrant.role == role,
        AccessGrant.status.in_((rules.PENDING, rules.APPROVED)))).all()
    if any(g.status == rules.PENDING for g in existing):
        raise ValidationFailed(f"You already asked for this access to {channel.name}: the request is waiting "
                               "for a decision. Nothing new was sent.")
    if any(rules.is_live(g, now) and now < g.expires_at - rules.WARNING_BEFORE for g in existing):
        raise ValidationFailed(f"You already hold this access to {channel.name}. You can ask to renew it in "
                               "the 14 days before it expires.")
    if not rules.deciders(actor, unit_admin_ids(session, channel.unit_id)):
        raise ValidationFailed(f"Nobody can decide this request: you have no line manager and {channel.unit.code} "
                               "has no unit administrator. Ask a desk administrator to record your line manager; "
                               "nothing was sent.")
    grant = AccessGrant(user_id=actor.id, channel_id=channel.id, role=role, business_case=business_case.strip(),
                        period_days=period_days, status=rules.PENDING, requested_at=now)
    grant.user, grant.channel = actor, channel
    session.add(grant)
    session.flush()
    _audit(session, actor, "grant.requested", grant, now, business_case=grant.business_case,
           period_days=period_days, deciders=sorted(rules.deciders(actor, unit_admin_ids(session, channel.unit_id))))
    session.commit()
    return grant


def decide(session: Session, actor, grant_id: int, approve: bool, comment: str | None = None,
           now: datetime | None = None) -> AccessGrant:
    """Approve (access starts now, for the period asked, capped by the unit's policy) or refuse, with a comment."""
    now = now or utcnow()
    grant = get_or_404(session, AccessGrant, grant_id, "access request")
    ids = dict(object_type="grant", object_id=grant.id, channel_id=grant.channel_id, unit_id=grant.channel.unit_id)
    ensure(session, grant.user_id != getattr(actor, "id", None), actor, "grant.decide",
           "Nobody decides their own request: it goes to your line manager (or your unit's administrators).", **ids)
    ensure(session, getattr(actor, "id", None) in deciders_of(session, grant), actor, "grant.decide",
           f"Only {grant.user.name}'s line manager (or, when none is set, the administrators of "
           f"{grant.channel.unit.code}) may decide this request.", **ids)
    grant = lock(session, AccessGrant, grant.id)
    if grant.status != rules.PENDING:
        raise WorkflowConflict(f"This request was already decided ({rules.STATE_LABELS[rules.state(grant, now)]}"
                               "). Nothing was changed.")
    comment = (comment or "").strip() or None
    if not approve and not comment:
        raise ValidationFailed("Say why the request is refused, so that the person knows what to do.",
                               field_errors={"comment": ["Say why it is refused."]})
    grant.decider_id, grant.decided_at, grant.decision_comment = actor.id, now, comment
    if approve:
        period = min(grant.period_days, grant.channel.unit.grant_period_days)
        grant.status, grant.starts_at, grant.expires_at = rules.APPROVED, now, rules.expiry(now, period)
        _audit(session, actor, "grant.approved", grant, now, comment=comment, starts_at=grant.starts_at,
               expires_at=grant.expires_at, period_days=period)
    else:
        grant.status = rules.REFUSED
        _audit(session, actor, "grant.refused", grant, now, comment=comment)
    session.commit()
    return grant


def revoke(session: Session, actor, grant_id: int, reason: str, now: datetime | None = None) -> AccessGrant:
    """End a grant at once, with the reason on the record (a person leaves, a disciplinary case)."""
    now = now or utcnow()
    grant = get_or_404(session, AccessGrant, grant_id, "access grant")
    ensure(session, rules.may_revoke(actor, grant, unit_admin_ids(session, grant.channel.unit_id)), actor,
           "grant.revoke", "Only the holder's line manager, the unit's administrators or a desk administrator "
           "may revoke this grant.", object_type="grant", object_id=grant.id, channel_id=grant.channel_id,
           unit_id=grant.channel.unit_id)
    grant = lock(session, AccessGrant, grant.id)
    if rules.state(grant, now) != "live":
        raise WorkflowConflict(f"This grant is not live ({rules.STATE_LABELS[rules.state(grant, now)].lower()}): "
                               "there is nothing to revoke.")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("Give the reason for revoking the grant: it goes on the record.",
                               field_errors={"reason": ["Give the reason."]})
    grant.status, grant.revoked_at, grant.revoked_by_id, grant.revoke_reason = rules.REVOKED, now, actor.id, reason
    _audit(session, actor, "grant.revoked", grant, now, reason=reason, expires_at=grant.expires_at)
    session.commit()
    return grant


def expire_and_warn(session: Session, now: datetime | None = None, worker: str = "worker") -> tuple[int, int]:
    """The worker's pass: record each expiry (the grant stopped working at its time already), and warn
    each holder and their manager once, 14 days before."""
    now = now or utcnow()
    actor = SystemActor(f"worker:{worker}")
    rows = session.scalars(select(AccessGrant).where(AccessGrant.status == rules.APPROVED,
                                                     AccessGrant.expires_at <= now + rules.WARNING_BEFORE)
                           .order_by(AccessGrant.id).with_for_update(skip_locked=True, of=AccessGrant)).all()
    expired = warned = 0
    for g in rows:
        if rules.has_expired(g, now):
            g.status = rules.EXPIRED
            _audit(session, actor, "grant.expired", g, now, expires_at=g.expires_at)
            expired += 1
        elif rules.warning_due(g, now):
            g.expiry_warned_at = now
            manager = g.user.line_manager
            _audit(session, actor, "grant.expiry_warned", g, now, expires_at=g.expires_at,
                   manager=manager.email if manager else None)
            warned += 1
    session.commit()
    return expired, warned


def update_unit_policy(session: Session, actor, unit_id: int, grant_period_days: int, roles_grant_access: bool,
                       now: datetime | None = None) -> Unit:
    """A desk administrator sets how long grants last, and whether a unit role alone gives access."""
    now = now or utcnow()
    ensure(session, perm.can_administer(actor), actor, "unit.policy",
           "Only a desk administrator may change a unit's access policy.", object_type="unit", object_id=unit_id,
           unit_id=unit_id)
    unit = get_or_404(session, Unit, unit_id, "unit")
    if not isinstance(grant_period_days, int) or not 1 <= grant_period_days <= rules.MAX_PERIOD_DAYS:
        raise ValidationFailed(f"A grant lasts 1 to {rules.MAX_PERIOD_DAYS} days.",
                               field_errors={"grant_period_days": [f"1 to {rules.MAX_PERIOD_DAYS} days."]})
    changes = {k: [getattr(unit, k), v] for k, v in (("grant_period_days", grant_period_days),
                                                    ("roles_grant_access", bool(roles_grant_access)))
               if getattr(unit, k) != v}
    for k, (_, v) in changes.items():
        setattr(unit, k, v)
    if changes:
        audit_trail.record(session, actor, "unit.policy_updated", "unit", unit.id, unit_id=unit.id, now=now,
                           details={"code": unit.code, **changes})
    session.commit()
    return unit
