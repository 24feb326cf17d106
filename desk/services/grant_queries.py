"""Reading access grants: a person's own, a line manager's team, and every grant for administrators,
filtered (down to "who could post where on date D", the FOI question) and exported as CSV."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from ..domain import grants as rules
from ..domain import permissions as perm
from ..domain.clock import utcnow
from ..models import AccessGrant, Channel, Membership, User
from . import audit_trail
from .common import ensure
from .grants import unit_admin_ids


def mine(session: Session, user) -> list[AccessGrant]:
    return list(session.scalars(select(AccessGrant).where(AccessGrant.user_id == user.id)
                                .order_by(AccessGrant.requested_at.desc(), AccessGrant.id.desc())))


def _admin_units(session: Session, user) -> list[int]:
    return list(session.scalars(select(Membership.unit_id).where(Membership.user_id == user.id,
                                                                 Membership.role == "unit_admin")))


def to_decide(session: Session, user) -> list[AccessGrant]:
    """Pending requests this person decides: their team's, and, as a unit administrator, those of people
    with no line manager."""
    units = _admin_units(session, user)
    requester = aliased(User)
    candidates = session.scalars(
        select(AccessGrant).join(requester, AccessGrant.user_id == requester.id)
        .join(Channel, AccessGrant.channel_id == Channel.id)
        .where(AccessGrant.status == rules.PENDING, AccessGrant.user_id != user.id,
               or_(requester.line_manager_id == user.id, Channel.unit_id.in_(units)))
        .order_by(AccessGrant.requested_at, AccessGrant.id)).all()
    admins = {u: unit_admin_ids(session, u) for u in {g.channel.unit_id for g in candidates}}
    return [g for g in candidates if user.id in rules.deciders(g.user, admins[g.channel.unit_id])]


def team(session: Session, user) -> list[AccessGrant]:
    """Decided grants of the people this person manages, and of the channels of units they administer."""
    units = _admin_units(session, user)
    holder = aliased(User)
    return list(session.scalars(
        select(AccessGrant).join(holder, AccessGrant.user_id == holder.id)
        .join(Channel, AccessGrant.channel_id == Channel.id)
        .where(AccessGrant.status != rules.PENDING,
               or_(holder.line_manager_id == user.id, Channel.unit_id.in_(units)))
        .order_by(AccessGrant.decided_at.desc(), AccessGrant.id.desc())))


def expiring_soon(session: Session, user, now: datetime) -> tuple[list[AccessGrant], list[AccessGrant]]:
    """Warned, still-live grants: the person's own, and their team's (the dashboards show both)."""
    holder = aliased(User)
    stmt = (select(AccessGrant).join(holder, AccessGrant.user_id == holder.id)
            .where(AccessGrant.status == rules.APPROVED, AccessGrant.expiry_warned_at.is_not(None),
                   AccessGrant.expires_at > now).order_by(AccessGrant.expires_at))
    own = session.scalars(stmt.where(AccessGrant.user_id == user.id)).all()
    theirs = session.scalars(stmt.where(holder.line_manager_id == user.id)).all()
    return list(own), list(theirs)


@dataclass
class GrantFilter:
    user_id: int | None = None
    unit_id: int | None = None
    channel_id: int | None = None
    role: str | None = None
    state: str | None = None            # pending, live, expired, refused, revoked
    live_since: datetime | None = None  # with live_until: grants that worked at some moment in [since, until)
    live_until: datetime | None = None

    def described(self) -> dict:
        return {k: v for k, v in vars(self).items() if v is not None}


def _filtered(stmt, f: GrantFilter, now: datetime):
    if f.user_id:
        stmt = stmt.where(AccessGrant.user_id == f.user_id)
    if f.channel_id:
        stmt = stmt.where(AccessGrant.channel_id == f.channel_id)
    if f.unit_id:
        stmt = stmt.where(AccessGrant.channel_id.in_(select(Channel.id).where(Channel.unit_id == f.unit_id)))
    if f.role:
        stmt = stmt.where(AccessGrant.role == f.role)
    approved = AccessGrant.status == rules.APPROVED
    if f.state == "live":
        stmt = stmt.where(approved, AccessGrant.starts_at <= now, AccessGrant.expires_at > now)
    elif f.state == rules.EXPIRED:  # recorded by the worker, or past its end before the worker's next pass
        stmt = stmt.where(or_(AccessGrant.status == rules.EXPIRED, and_(approved, AccessGrant.expires_at <= now)))
    elif f.state:
        stmt = stmt.where(AccessGrant.status == f.state)
    if f.live_since and f.live_until:
        # Worked at some moment of the period: started before its end, and neither expired nor revoked
        # before its start.
        stmt = stmt.where(AccessGrant.status.in_((rules.APPROVED, rules.EXPIRED, rules.REVOKED)),
                          AccessGrant.starts_at < f.live_until, AccessGrant.expires_at > f.live_since,
                          or_(AccessGrant.revoked_at.is_(None), AccessGrant.revoked_at > f.live_since))
    return stmt


def search(session: Session, f: GrantFilter, page: int = 1, per_page: int = 50,
           now: datetime | None = None) -> tuple[list[AccessGrant], int]:
    now = now or utcnow()
    total = session.scalar(_filtered(select(func.count(AccessGrant.id)), f, now)) or 0
    rows = session.scalars(_filtered(select(AccessGrant), f, now)
                           .order_by(AccessGrant.requested_at.desc(), AccessGrant.id.desc())
                           .offset((page - 1) * per_page).limit(per_page)).all()
    return list(rows), total


CSV_COLUMNS = ["grant_id", "person", "email", "unit", "channel", "channel_id", "role", "state", "business_case",
               "period_days", "requested_at", "decided_by", "decided_at", "decision_comment", "starts_at",
               "expires_at", "revoked_by", "revoked_at", "revoke_reason"]


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""


def _text(value: str | None) -> str:
    """Typed text as a spreadsheet shows it, never as a formula it would run (OWASP's CSV injection)."""
    value = value or ""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _people(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {uid: email for uid, email in session.execute(select(User.id, User.email).where(User.id.in_(ids)))}


def export_csv(session: Session, actor, f: GrantFilter, out: io.TextIOBase, now: datetime | None = None) -> int:
    """Every grant the filter matches, oldest first; the export itself goes on the audit trail."""
    now = now or utcnow()
    ensure(session, perm.can_administer(actor) or perm.can_read_audit(actor), actor, "grants.export",
           "Only desk administrators and auditors may export the access grants.", object_type="grant")
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    count, last = 0, 0
    while True:
        rows = session.scalars(_filtered(select(AccessGrant), f, now).where(AccessGrant.id > last)
                               .order_by(AccessGrant.id).limit(1000)).all()
        if not rows:
            break
        names = _people(session, {i for g in rows for i in (g.decider_id, g.revoked_by_id) if i})
        for g in rows:
            writer.writerow([g.id, _text(g.user.name), g.user.email, g.channel.unit.code, _text(g.channel.name),
                             g.channel_id, g.role, rules.state(g, now), _text(g.business_case), g.period_days,
                             _iso(g.requested_at), names.get(g.decider_id, ""), _iso(g.decided_at),
                             _text(g.decision_comment), _iso(g.starts_at), _iso(g.expires_at),
                             names.get(g.revoked_by_id, ""), _iso(g.revoked_at), _text(g.revoke_reason)])
            count += 1
        last = rows[-1].id
    audit_trail.record(session, actor, "grants.exported", "grant", None, now=now,
                       details={"rows": count, "filters": f.described()})
    session.commit()
    return count
