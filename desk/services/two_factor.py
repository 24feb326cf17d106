"""Two-factor sign-in as use cases: enrol, confirm, check a code at sign-in, recovery codes, reset.

A code is refused a second time whichever process sees it: the last accepted time step and a recovery
code's use are written with a conditional UPDATE whose row count says whether this request won.
Every acceptance, refusal, enrolment and reset is audited; the secret is stored Fernet-encrypted.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from .. import crypto
from ..domain import permissions as perm
from ..domain import two_factor as rules
from ..domain.clock import utcnow
from ..domain.errors import ValidationFailed, WorkflowConflict
from ..models import AccessGrant, RecoveryCode, User
from . import accounts, audit_trail
from .common import ensure, get_or_404

UNREADABLE = ("Your two-factor secret cannot be read with the desk's current key. Sign in with a recovery "
              "code, or ask an administrator to reset your two-factor sign-in.")


@dataclass(frozen=True)
class Enrolment:
    secret: str
    uri: str


def holds_approver_grant(session: Session, user: User, now: datetime) -> bool:
    """A live, approved business-case grant to approve for some channel."""
    return session.scalar(
        select(func.count(AccessGrant.id)).where(
            AccessGrant.user_id == user.id, AccessGrant.role == "approver", AccessGrant.status == "approved",
            AccessGrant.revoked_at.is_(None),
            or_(AccessGrant.starts_at.is_(None), AccessGrant.starts_at <= now),
            or_(AccessGrant.expires_at.is_(None), AccessGrant.expires_at > now))) > 0


def is_required(session: Session, user: User, now: datetime | None = None) -> bool:
    return rules.is_required(bool(user.is_admin), user.roles_by_unit,
                             holds_approver_grant(session, user, now or utcnow()))


def is_enrolled(user: User) -> bool:
    return user.totp_enabled_at is not None and bool(user.totp_secret)


def _secret_of(user: User) -> str:
    try:
        return crypto.decrypt_json(user.totp_secret)["totp_secret"]
    except (crypto.CredentialsUnreadable, crypto.TokenKeyError, KeyError):
        raise ValidationFailed(UNREADABLE, field_errors={"code": [UNREADABLE]}) from None


def _refuse(session: Session, user: User, reason: str, message: str, now: datetime, **details) -> None:
    """Audit a refused code, commit that record, and raise the message against the code field."""
    session.rollback()
    audit_trail.record(session, user, "two_factor.code_refused", "user", user.id, now=now,
                       details={"reason": reason, **details})
    session.commit()
    raise ValidationFailed(message, field_errors={"code": [message]})


def _claim_step(session: Session, user: User, step: int) -> bool:
    """Move the user's last accepted step forward to `step`, only if it is still behind: atomic."""
    result = session.execute(
        update(User).where(User.id == user.id,
                           or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step).execution_options(synchronize_session=False))
    return result.rowcount == 1


def pending_enrolment(user: User) -> Enrolment | None:
    if is_enrolled(user) or not user.totp_secret:
        return None
    secret = _secret_of(user)
    return Enrolment(secret, rules.provisioning_uri(secret, user.email))


def start_enrolment(session: Session, actor: User, now: datetime | None = None) -> Enrolment:
    """A new secret for this person (kept, encrypted, until they confirm it with a first code)."""
    now = now or utcnow()
    if is_enrolled(actor):
        raise WorkflowConflict("Two-factor sign-in is already set up for your account. To move it to a new "
                               "phone, turn it off in your settings (or ask an administrator) and set it up again.")
    pending = pending_enrolment(actor)
    if pending:  # the same secret while the page is reloaded: the app may already have scanned it
        return pending
    secret = rules.new_secret()
    try:
        actor.totp_secret = crypto.encrypt_json({"totp_secret": secret})
    except crypto.TokenKeyError:
        raise WorkflowConflict("Two-factor sign-in cannot be set up yet: the desk keeps the key encrypted and "
                               "has no DESK_TOKEN_KEY. Ask the desk's operator to set it; nothing was "
                               "changed.") from None
    actor.totp_last_step = None
    audit_trail.record(session, actor, "two_factor.enrolment_started", "user", actor.id, now=now)
    session.commit()
    return Enrolment(secret, rules.provisioning_uri(secret, actor.email))


def _new_recovery_codes(session: Session, user: User) -> list[str]:
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = rules.new_recovery_codes()
    session.add_all(RecoveryCode(user_id=user.id, code_hash=accounts.hash_password(rules.recovery_key(c)))
                    for c in codes)
    return codes


def confirm_enrolment(session: Session, actor: User, code: str, now: datetime | None = None) -> list[str]:
    """The first code proves the app holds the secret; returns the recovery codes, shown this once."""
    now = now or utcnow()
    pending = pending_enrolment(actor)
    if pending is None:
        raise WorkflowConflict("There is no two-factor set-up waiting for a first code: start it again.")
    typed = rules.normalise(code)
    step = rules.matching_step(pending.secret, typed, now)
    if step is None:
        _refuse(session, actor, "wrong code while enrolling",
                "That code does not match. Check that the phone's clock is right and type the code the app "
                "shows now (6 digits).", now)
    if not _claim_step(session, actor, step):
        _refuse(session, actor, "code already used", "That code has been used already: wait for the next one.", now)
    actor.totp_enabled_at = now
    codes = _new_recovery_codes(session, actor)
    audit_trail.record(session, actor, "two_factor.enrolled", "user", actor.id, now=now,
                       details={"recovery_codes": len(codes)})
    session.commit()
    session.refresh(actor)
    return codes


def check_sign_in_code(session: Session, user: User, code: str, address: str | None = None,
                       now: datetime | None = None) -> str:
    """The second step of signing in: a fresh TOTP code, or an unused recovery code. Returns which."""
    now = now or utcnow()
    method = _accept(session, user, code, address, now)
    session.commit()
    return method


def _accept(session: Session, user: User, code: str, address: str | None, now: datetime) -> str:
    """Accept the code and audit it in the caller's transaction; a refusal is audited, committed, raised."""
    typed = rules.normalise(code)
    if rules.looks_like_recovery_code(typed):
        return _use_recovery_code(session, user, typed, address, now)
    step = rules.matching_step(_secret_of(user), typed, now)
    if step is None:
        _refuse(session, user, "wrong code", "That code does not match. Type the 6 digits your authenticator "
                "app shows now, or one of your recovery codes.", now, address=address)
    # The loaded value may be stale (another process may have just accepted this code): the UPDATE decides.
    if rules.is_replay(step, user.totp_last_step) or not _claim_step(session, user, step):
        _refuse(session, user, "code already used", "That code has been used already. Wait for the app to "
                "show the next one and type that.", now, address=address, step=step)
    audit_trail.record(session, user, "two_factor.code_accepted", "user", user.id, now=now,
                       details={"method": "authenticator", "address": address})
    return "totp"


def _use_recovery_code(session: Session, user: User, typed: str, address: str | None, now: datetime) -> str:
    key = rules.recovery_key(typed)
    rows = session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id)).all()
    match = next((r for r in rows if accounts.verify_hash(r.code_hash, key)), None)
    if match is None:
        _refuse(session, user, "wrong recovery code", "That is not one of your recovery codes. Check it, or "
                "ask an administrator to reset your two-factor sign-in.", now, address=address)
    claimed = session.execute(
        update(RecoveryCode).where(RecoveryCode.id == match.id, RecoveryCode.used_at.is_(None))
        .values(used_at=now).execution_options(synchronize_session=False)).rowcount == 1
    if not claimed:
        _refuse(session, user, "recovery code already used", "That recovery code has been used already; each "
                "works once. Use another, or ask an administrator to reset your two-factor sign-in.", now,
                address=address, recovery_code_id=match.id)
    left = sum(1 for r in rows if r.used_at is None and r.id != match.id)
    audit_trail.record(session, user, "two_factor.recovery_code_used", "user", user.id, now=now,
                       details={"recovery_code_id": match.id, "left": left, "address": address})
    return "recovery"


def recovery_codes_left(session: Session, user: User) -> int:
    return session.scalar(select(func.count(RecoveryCode.id))
                          .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)))


def new_recovery_codes(session: Session, actor: User, code: str, now: datetime | None = None) -> list[str]:
    """Replace the recovery codes (the old ones stop working), after a fresh code from the app."""
    now = now or utcnow()
    if not is_enrolled(actor):
        raise WorkflowConflict("Set up two-factor sign-in first.")
    _accept(session, actor, code, None, now)
    codes = _new_recovery_codes(session, actor)
    audit_trail.record(session, actor, "two_factor.recovery_codes_replaced", "user", actor.id, now=now,
                       details={"recovery_codes": len(codes)})
    session.commit()
    return codes


def _clear(session: Session, user: User) -> None:
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))


def turn_off(session: Session, actor: User, code: str, now: datetime | None = None) -> None:
    """Someone for whom two factors are optional stops using them (with a fresh code, to prove it is them)."""
    now = now or utcnow()
    if is_required(session, actor, now):
        raise WorkflowConflict("Approvers and administrators must sign in with two factors, so it cannot be "
                               "turned off. If you lost your phone, ask an administrator to reset it.")
    if is_enrolled(actor):
        _accept(session, actor, code, None, now)
    _clear(session, actor)
    audit_trail.record(session, actor, "two_factor.turned_off", "user", actor.id, now=now)
    session.commit()


def reset(session: Session, actor, user_id: int, reason: str, now: datetime | None = None) -> User:
    """An administrator clears someone's two-factor set-up (a lost phone); they enrol again at sign-in."""
    now = now or utcnow()
    user = get_or_404(session, User, user_id, "user")
    ensure(session, perm.can_administer(actor) and getattr(actor, "id", None) != user.id, actor,
           "two_factor.reset", "Only another desk administrator may reset a person's two-factor sign-in "
           "(never their own).", object_type="user", object_id=user.id)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("Say why (for the audit trail), e.g. 'lost phone, identity checked in person'.",
                               field_errors={"reason": ["Say why, for the audit trail."]})
    was_enrolled = is_enrolled(user)
    _clear(session, user)
    audit_trail.record(session, actor, "two_factor.reset", "user", user.id, now=now,
                       details={"reason": reason, "was_enrolled": was_enrolled})
    session.commit()
    return user


def record_rate_limited(session: Session, email: str, address: str | None, breach: rules.LimitBreach,
                        now: datetime | None = None) -> None:
    """A sign-in refused by the rate limit, in the audit trail (never the password)."""
    user = accounts.find_user(session, email) if email else None
    audit_trail.record(session, None, "auth.rate_limited", "user", user.id if user else None,
                       now=now or utcnow(),
                       details={"email": (email or "")[:254], "address": address, "scope": breach.scope,
                                "wait_seconds": breach.wait_seconds})
    session.commit()
