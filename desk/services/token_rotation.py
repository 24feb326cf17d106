"""Re-encrypting every stored credential with the newest key of DESK_TOKEN_KEY, as one audited use case.

After a new key is put first in DESK_TOKEN_KEY (the old one still listed after it), this rewrites every
channel's credentials and every pending connection under the new key; then the old key can be removed.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import crypto
from ..domain.clock import utcnow
from ..models import Channel, ConnectionAttempt
from . import audit_trail
from .connections import NotConfigured


@dataclass(frozen=True)
class Rotation:
    channels: int
    attempts: int
    unreadable_channels: list[int]
    unreadable_attempts: int


def rotate_token_key(session: Session, actor, now: datetime | None = None) -> Rotation:
    """Re-encrypt every channel's credentials and every pending connection with DESK_TOKEN_KEY's newest key."""
    now = now or utcnow()
    try:
        cipher = crypto.current_cipher()
    except crypto.TokenKeyError as exc:
        raise NotConfigured(str(exc)) from None
    if cipher.derived:
        raise NotConfigured("DESK_TOKEN_KEY is not set, so there is no newest key to re-encrypt with. Set it to "
                            f"the new key ({crypto.GENERATE_HINT}), then run this again.")
    done = {"channels": 0, "attempts": 0}
    unreadable_channels, unreadable_attempts = [], 0
    channels = session.scalars(select(Channel).where(Channel.credentials.is_not(None))
                               .order_by(Channel.id).with_for_update(of=Channel)).all()
    for channel in channels:
        try:
            channel.credentials = cipher.rotate(channel.credentials)
            done["channels"] += 1
        except crypto.CredentialsUnreadable:
            unreadable_channels.append(channel.id)
    for attempt in session.scalars(select(ConnectionAttempt).order_by(ConnectionAttempt.id)
                                   .with_for_update(of=ConnectionAttempt)).all():
        try:
            attempt.pending = cipher.rotate(attempt.pending)
            done["attempts"] += 1
        except crypto.CredentialsUnreadable:
            unreadable_attempts += 1
    audit_trail.record(session, actor, "credentials.rotated", "system", None, now=now,
                       details={"channels": done["channels"], "connection_attempts": done["attempts"],
                                "keys_listed": cipher.key_count, "unreadable_channels": unreadable_channels,
                                "unreadable_connection_attempts": unreadable_attempts})
    session.commit()
    return Rotation(done["channels"], done["attempts"], unreadable_channels, unreadable_attempts)
