"""Administration use cases: units, users, memberships and channels, each audited."""
from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain import event_feeds, lateness
from ..domain import permissions as perm
from ..domain import sign_in_sessions as sign_in_rules
from ..domain.clock import utcnow
from ..domain.errors import ValidationFailed
from ..models import CHANNEL_STATUSES, ROLES, Channel, Membership, Unit, User
from ..platforms import registered_platforms
from . import audit_trail, sign_in_sessions
from .accounts import MIN_PASSWORD, find_user, hash_password
from .common import ensure, get_or_404

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,31}$")


def _must_admin(session, actor, action, object_type, object_id=None, unit_id=None):
    allowed = perm.can_manage_unit(actor, unit_id) if unit_id is not None else perm.can_administer(actor)
    ensure(session, allowed, actor, action, "Only a desk administrator (or the unit's administrator) may do this.",
           object_type=object_type, object_id=object_id, unit_id=unit_id)


def create_unit(session: Session, actor, code: str, name: str, now: datetime | None = None) -> Unit:
    now = now or utcnow()
    _must_admin(session, actor, "unit.create", "unit")
    code = (code or "").strip().upper()
    if not CODE_RE.match(code):
        raise ValidationFailed("A unit code is 1 to 32 letters, digits, '-' or '_' (e.g. CO11).",
                               field_errors={"code": ["Use 1 to 32 letters, digits, '-' or '_'."]})
    if not (name or "").strip():
        raise ValidationFailed("Give the unit a name.", field_errors={"name": ["Give the unit a name."]})
    if session.scalar(select(Unit).where(Unit.code == code)):
        raise ValidationFailed(f"A unit with code {code} already exists.", field_errors={"code": ["Already in use."]})
    unit = Unit(code=code, name=name.strip(), created_at=now)
    session.add(unit)
    session.flush()
    audit_trail.record(session, actor, "unit.created", "unit", unit.id, unit_id=unit.id, now=now,
                       details={"code": code, "name": unit.name})
    session.commit()
    return unit


def create_user(session: Session, actor, email: str, name: str, password: str, *, is_admin: bool = False,
                is_auditor: bool = False, line_manager_email: str | None = None,
                now: datetime | None = None) -> User:
    now = now or utcnow()
    _must_admin(session, actor, "user.create", "user")
    email = (email or "").strip().lower()
    errors = {}
    if not EMAIL_RE.match(email):
        errors["email"] = ["Give a valid e-mail address."]
    elif find_user(session, email):
        errors["email"] = ["A user with this e-mail already exists."]
    if not (name or "").strip():
        errors["name"] = ["Give the person's name."]
    if len(password or "") < MIN_PASSWORD:
        errors["password"] = [f"A password needs at least {MIN_PASSWORD} characters."]
    manager = None
    if line_manager_email:
        manager = find_user(session, line_manager_email)
        if manager is None:
            errors["line_manager"] = [f"There is no user {line_manager_email}."]
    if errors:
        raise ValidationFailed(" ".join(m for v in errors.values() for m in v), field_errors=errors)
    user = User(email=email, name=name.strip(), password_hash=hash_password(password), is_admin=is_admin,
                is_auditor=is_auditor, active=True, line_manager_id=manager.id if manager else None, created_at=now)
    session.add(user)
    session.flush()
    audit_trail.record(session, actor, "user.created", "user", user.id, now=now,
                       details={"email": email, "name": user.name, "is_admin": is_admin, "is_auditor": is_auditor,
                                "line_manager": manager.email if manager else None})
    session.commit()
    return user


def update_user(session: Session, actor, user_id: int, *, name: str | None = None, is_admin: bool | None = None,
                is_auditor: bool | None = None, active: bool | None = None,
                line_manager_id: int | None | str = "unchanged", password: str | None = None,
                now: datetime | None = None) -> User:
    now = now or utcnow()
    _must_admin(session, actor, "user.update", "user", user_id)
    user = get_or_404(session, User, user_id, "user")
    changes = {}
    if line_manager_id != "unchanged":
        if line_manager_id == user.id:
            raise ValidationFailed("Nobody can be their own line manager.",
                                   field_errors={"line_manager": ["Nobody can be their own line manager."]})
        if line_manager_id is not None:
            get_or_404(session, User, line_manager_id, "user")
        if user.line_manager_id != line_manager_id:
            changes["line_manager_id"] = [user.line_manager_id, line_manager_id]
            user.line_manager_id = line_manager_id
    for attr, value in (("name", name), ("is_admin", is_admin), ("is_auditor", is_auditor), ("active", active)):
        if value is not None and getattr(user, attr) != value:
            if attr == "active" and not value and user.id == actor.id:
                raise ValidationFailed("You cannot disable your own account.")
            changes[attr] = [getattr(user, attr), value]
            setattr(user, attr, value)
    if password:
        if len(password) < MIN_PASSWORD:
            raise ValidationFailed(f"A password needs at least {MIN_PASSWORD} characters.",
                                   field_errors={"password": [f"At least {MIN_PASSWORD} characters."]})
        user.password_hash = hash_password(password)
        changes["password"] = "changed"
    # A new password or a disabled account ends every session the person has open: whoever held the old
    # password, or a copy of a cookie, is out at once (and stays out if the account comes back).
    if "password" in changes or changes.get("active") == [True, False]:
        reason = sign_in_rules.ACCOUNT_DISABLED if "active" in changes else sign_in_rules.PASSWORD_CHANGED
        changes["sessions_ended"] = sign_in_sessions.end_all(session, user.id, reason, now)
    if changes:
        audit_trail.record(session, actor, "user.updated", "user", user.id, now=now, details=changes)
    session.commit()
    return user


def add_membership(session: Session, actor, user_id: int, unit_id: int, role: str,
                   now: datetime | None = None) -> Membership:
    now = now or utcnow()
    _must_admin(session, actor, "membership.add", "membership", unit_id=unit_id)
    if role not in ROLES:
        raise ValidationFailed(f"The role must be one of {', '.join(ROLES)}.", field_errors={"role": ["Unknown role."]})
    user = get_or_404(session, User, user_id, "user")
    unit = get_or_404(session, Unit, unit_id, "unit")
    existing = session.scalar(select(Membership).where(Membership.user_id == user.id, Membership.unit_id == unit.id,
                                                       Membership.role == role))
    if existing:
        raise ValidationFailed(f"{user.email} is already {role} in {unit.code}.")
    m = Membership(user_id=user.id, unit_id=unit.id, role=role)
    session.add(m)
    session.flush()
    audit_trail.record(session, actor, "membership.added", "user", user.id, unit_id=unit.id, now=now,
                       details={"email": user.email, "unit": unit.code, "role": role})
    session.commit()
    session.refresh(user)
    return m


def remove_membership(session: Session, actor, membership_id: int, now: datetime | None = None) -> None:
    now = now or utcnow()
    m = get_or_404(session, Membership, membership_id, "membership")
    _must_admin(session, actor, "membership.remove", "membership", m.id, unit_id=m.unit_id)
    details = {"email": m.user.email, "unit": m.unit.code, "role": m.role}
    user_id, unit_id = m.user_id, m.unit_id
    session.delete(m)
    audit_trail.record(session, actor, "membership.removed", "user", user_id, unit_id=unit_id, now=now,
                       details=details)
    session.commit()


def _check_channel_fields(platform, name, approvals_required, live_from, live_until, is_event_feed=False,
                          operation_name=None):
    errors = {}
    if platform not in registered_platforms():
        errors["platform"] = [f"Choose one of: {', '.join(registered_platforms())}."]
    if not (name or "").strip():
        errors["name"] = ["Give the channel a name."]
    if not isinstance(approvals_required, int) or not 1 <= approvals_required <= 5:
        errors["approvals_required"] = ["Between 1 and 5 approvals."]
    if live_from and live_until and live_until <= live_from:
        errors["live_until"] = ["The event window must end after it starts."]
    errors.update(event_feeds.settings_problems(is_event_feed, operation_name))
    if errors:
        raise ValidationFailed(" ".join(m for v in errors.values() for m in v), field_errors=errors)


def create_channel(session: Session, actor, unit_id: int, platform: str, name: str, approvals_required: int = 1,
                   live_from: datetime | None = None, live_until: datetime | None = None,
                   is_event_feed: bool = False, operation_name: str | None = None,
                   now: datetime | None = None) -> Channel:
    now = now or utcnow()
    _must_admin(session, actor, "channel.create", "channel", unit_id=unit_id)
    unit = get_or_404(session, Unit, unit_id, "unit")
    _check_channel_fields(platform, name, approvals_required, live_from, live_until, is_event_feed, operation_name)
    channel = Channel(unit_id=unit.id, platform=platform, name=name.strip(), status="active",
                      approvals_required=approvals_required, live_from=live_from, live_until=live_until,
                      is_event_feed=bool(is_event_feed), operation_name=(operation_name or "").strip() or None,
                      created_at=now)
    if platform == "training":
        channel.remote_name = "Training (publishes inside the desk)"
    session.add(channel)
    session.flush()
    audit_trail.record(session, actor, "channel.created", "channel", channel.id, channel_id=channel.id,
                       unit_id=unit.id, now=now,
                       details={"platform": platform, "name": channel.name, "approvals_required": approvals_required,
                                "live_from": live_from, "live_until": live_until,
                                "is_event_feed": channel.is_event_feed, "operation_name": channel.operation_name})
    session.commit()
    return channel


def update_channel(session: Session, actor, channel_id: int, *, name: str | None = None, status: str | None = None,
                   approvals_required: int | None = None, live_from: datetime | None | str = "unchanged",
                   live_until: datetime | None | str = "unchanged", is_event_feed: bool | None = None,
                   operation_name: str | None = None, late_after_minutes: int | None | str = "unchanged",
                   now: datetime | None = None) -> Channel:
    now = now or utcnow()
    channel = get_or_404(session, Channel, channel_id, "channel")
    _must_admin(session, actor, "channel.update", "channel", channel.id, unit_id=channel.unit_id)
    new = {
        "name": name if name is not None else channel.name,
        "status": status if status is not None else channel.status,
        "approvals_required": approvals_required if approvals_required is not None else channel.approvals_required,
        "live_from": channel.live_from if live_from == "unchanged" else live_from,
        "live_until": channel.live_until if live_until == "unchanged" else live_until,
        "is_event_feed": channel.is_event_feed if is_event_feed is None else bool(is_event_feed),
        "operation_name": channel.operation_name if operation_name is None else (operation_name.strip() or None),
        "late_after_minutes": channel.late_after_minutes if late_after_minutes == "unchanged" else late_after_minutes,
    }
    if problem := lateness.late_after_problem(new["late_after_minutes"]):
        raise ValidationFailed(problem, field_errors={"late_after_minutes": [problem]})
    if new["status"] not in CHANNEL_STATUSES:
        raise ValidationFailed(f"The status must be one of {', '.join(CHANNEL_STATUSES)}.",
                               field_errors={"status": ["Unknown status."]})
    _check_channel_fields(channel.platform, new["name"], new["approvals_required"], new["live_from"], new["live_until"],
                          new["is_event_feed"], new["operation_name"])
    changes = {k: [getattr(channel, k), v] for k, v in new.items() if getattr(channel, k) != v}
    for k, v in new.items():
        setattr(channel, k, v)
    if "status" in changes and new["status"] == "active":
        channel.status_reason = None
    if {"live_until", "is_event_feed"} & set(changes):
        channel.closing_reminder_at = None  # a new end: a new closing reminder
    if changes:
        audit_trail.record(session, actor, "channel.updated", "channel", channel.id, channel_id=channel.id,
                           unit_id=channel.unit_id, now=now, details=changes)
    session.commit()
    return channel
