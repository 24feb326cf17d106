"""Signing in, passwords and personal access tokens."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..domain.clock import utcnow
from ..models import ApiToken, User
from . import audit_trail, sign_in_sessions

_hasher = PasswordHasher()
TOKEN_PREFIX = "desk_"
MIN_PASSWORD = 10


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(user: User, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# A hash of nothing anyone types, made at the hasher's own cost the first time it is needed (and again if the
# hasher is replaced): checked when there is no account's hash to check, so that an unknown e-mail costs
# a sign-in the same Argon2 work as a wrong password and its answer time tells nobody which e-mails exist.
_dummy: tuple[PasswordHasher, str] | None = None


def _dummy_check(password: str) -> bool:
    global _dummy
    if _dummy is None or _dummy[0] is not _hasher:
        _dummy = (_hasher, _hasher.hash(secrets.token_urlsafe(16)))
    try:
        _hasher.verify(_dummy[1], password)
    except (VerificationError, InvalidHashError):
        pass
    return False


def verify_hash(stored_hash: str, secret: str) -> bool:
    """Check a secret made with hash_password (a recovery code, say) against its stored hash."""
    try:
        return _hasher.verify(stored_hash, secret)
    except (VerificationError, InvalidHashError):
        return False


def find_user(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.email) == (email or "").strip().lower()))


def sign_in(session: Session, email: str, password: str, address: str | None = None,
            now: datetime | None = None) -> User | None:
    """Check the credentials; success and failure are both audited (never the password)."""
    now = now or utcnow()
    user = find_user(session, email)
    # The password is checked even for a disabled account, for the same reason as the dummy check.
    password_ok = check_password(user, password) if user is not None else _dummy_check(password)
    ok = user is not None and user.active and password_ok
    if ok:
        user.last_sign_in_at = now
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        audit_trail.record(session, user, "auth.sign_in", "user", user.id, now=now, details={"address": address})
    else:
        reason = "unknown e-mail" if user is None else ("account disabled" if not user.active else "wrong password")
        audit_trail.record(session, None, "auth.sign_in_failed", "user", user.id if user else None, now=now,
                           details={"email": (email or "")[:254], "address": address, "reason": reason})
    session.commit()
    return user if ok else None


def sign_out(session: Session, user: User, token: str | None = None, now: datetime | None = None) -> None:
    """End the session the cookie's token names, so that no copy of the cookie opens it again."""
    now = now or utcnow()
    ended = sign_in_sessions.end_one(session, token, now)
    audit_trail.record(session, user, "auth.sign_out", "user", user.id, now=now, details={"session": ended})
    session.commit()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(session: Session, actor, user: User, now: datetime | None = None) -> str:
    """Make a personal access token; only its hash is stored, so it is shown this once."""
    now = now or utcnow()
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, token_hash=_digest(token), prefix=token[:12], created_at=now)
    session.add(row)
    session.flush()
    audit_trail.record(session, actor, "token.created", "user", user.id, now=now,
                       details={"token_id": row.id, "prefix": row.prefix})
    session.commit()
    return token


def user_for_token(session: Session, token: str, address: str | None = None,
                   now: datetime | None = None) -> User | None:
    """The token's user, or None; a refused token is audited by its prefix (never the whole token)."""
    now = now or utcnow()
    row = None
    if token and token.startswith(TOKEN_PREFIX):
        row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token),
                                                    ApiToken.revoked_at.is_(None)))
    if row is None or not row.user.active:
        reason = "unknown or revoked token" if row is None else "account disabled"
        audit_trail.record(session, None, "auth.token_refused", "user", row.user_id if row else None, now=now,
                           details={"prefix": (token or "")[:8], "address": address, "reason": reason})
        session.commit()
        return None
    row.last_used_at = now
    session.commit()
    return row.user
