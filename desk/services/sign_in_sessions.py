"""Sign-in sessions kept on the server: starting one, checking it on every request, ending one or all.

The browser's signed cookie carries a random token; only its SHA-256 is stored, so a copy of this table opens
no session. A session is live while the rules in domain/sign_in_sessions say so: idle and too-old sessions
are over by arithmetic on their times, with nothing written (and so nothing to audit) when they lapse.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..domain import sign_in_sessions as rules
from ..domain.clock import utcnow
from ..models import SignInSession, User
from . import audit_trail


@dataclass(frozen=True)
class Limits:
    idle: timedelta
    lifetime: timedelta

    @classmethod
    def of(cls, settings) -> Limits:
        return cls(timedelta(minutes=settings.session_idle_minutes), timedelta(hours=settings.session_max_hours))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start(session: Session, user: User, address: str | None, browser: str | None,
          now: datetime | None = None) -> str:
    """Open a session for a person who has just signed in (both factors); returns the token for the cookie."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    row = SignInSession(user_id=user.id, token_hash=_digest(token), started_at=now, last_seen_at=now,
                        address=(address or "")[:64] or None, browser=(browser or "")[:200] or None)
    session.add(row)
    session.flush()
    audit_trail.record(session, user, "auth.session_started", "user", user.id, now=now,
                       details={"session": row.id, "address": address})
    session.commit()
    return token


def find(session: Session, token: str | None) -> SignInSession | None:
    if not token:
        return None
    return session.scalar(select(SignInSession).where(SignInSession.token_hash == _digest(token)))


def check(session: Session, token: str | None, user_id: int, limits: Limits,
          now: datetime | None = None) -> tuple[SignInSession | None, str | None]:
    """The live session the token names for this person, or (None, why it is over). Notes the use, at most
    once a minute (its own small commit: a read that keeps the session alive, not a change to audit)."""
    now = now or utcnow()
    row = find(session, token)
    if row is None or row.user_id != user_id:
        return None, rules.ENDED
    why = rules.why_over(row.started_at, row.last_seen_at, row.ended_at, now, limits.idle, limits.lifetime)
    if why:
        return None, why
    if rules.due_a_touch(row.last_seen_at, now):
        row.last_seen_at = now
        session.commit()
    return row, None


def end_all(session: Session, user_id: int, reason: str, now: datetime) -> int:
    """End every session of the person still open, in the caller's transaction (whose audit event says why);
    returns how many. Lapsed ones are ended too, so that none can count as open again."""
    result = session.execute(update(SignInSession)
                             .where(SignInSession.user_id == user_id, SignInSession.ended_at.is_(None))
                             .values(ended_at=now, end_reason=reason)
                             .execution_options(synchronize_session=False))
    return result.rowcount or 0


def end_one(session: Session, token: str | None, now: datetime) -> int | None:
    """End the session the token names, in the caller's transaction; its id, or None when there is none."""
    row = find(session, token)
    if row is None:
        return None
    if row.ended_at is None:
        row.ended_at, row.end_reason = now, rules.SIGNED_OUT
    return row.id


def sign_out_everywhere(session: Session, user: User, now: datetime | None = None) -> int:
    """The person ends all their sessions, this one included (a lost phone, a shared computer left signed in)."""
    now = now or utcnow()
    ended = end_all(session, user.id, rules.SIGNED_OUT_EVERYWHERE, now)
    audit_trail.record(session, user, "auth.signed_out_everywhere", "user", user.id, now=now,
                       details={"sessions_ended": ended})
    session.commit()
    return ended


def open_sessions(session: Session, user: User, limits: Limits, now: datetime | None = None) -> list[SignInSession]:
    """The person's sessions that are live now, the most recently used first."""
    now = now or utcnow()
    rows = session.scalars(select(SignInSession)
                           .where(SignInSession.user_id == user.id, SignInSession.ended_at.is_(None),
                                  SignInSession.started_at >= now - limits.lifetime,
                                  SignInSession.last_seen_at >= now - limits.idle)
                           .order_by(SignInSession.last_seen_at.desc()))
    return list(rows)
