"""When a sign-in session is over: ended by a person or a change to the account, idle too long, or too old.

A session is one sign-in in one browser. Its times are kept on the server; the browser's cookie only names it,
so ending it on the server ends it for every copy of the cookie.
"""
from __future__ import annotations

from datetime import datetime, timedelta

DEFAULT_IDLE_MINUTES = 30
# A long shift: a session lasts no longer than this whatever its use, so a cookie taken from a browser left
# signed in (or a page that refreshes itself) does not open the desk for ever.
DEFAULT_MAX_HOURS = 12
# Last use is written when older than this, not on every request: the idle timeout is then exact to a minute.
TOUCH_EVERY = timedelta(minutes=1)
# The key in the signed cookie that names the session.
COOKIE_KEY = "desk_session"

ENDED = "ended"  # signed out, here or everywhere, or the account changed (the row says which)
IDLE = "idle"
EXPIRED = "expired"

# Why the desk ended sessions, as recorded on each session it ended.
SIGNED_OUT = "signed_out"
SIGNED_OUT_EVERYWHERE = "signed_out_everywhere"
PASSWORD_CHANGED = "password_changed"
ACCOUNT_DISABLED = "account_disabled"


def why_over(started_at: datetime, last_seen_at: datetime, ended_at: datetime | None, now: datetime,
             idle: timedelta, lifetime: timedelta) -> str | None:
    """None while the session is live; otherwise ENDED, IDLE or EXPIRED (a limit is met only once passed)."""
    if ended_at is not None:
        return ENDED
    if now - started_at > lifetime:
        return EXPIRED
    if now - last_seen_at > idle:
        return IDLE
    return None


def due_a_touch(last_seen_at: datetime, now: datetime) -> bool:
    return now - last_seen_at >= TOUCH_EVERY


def message(why: str, idle_minutes: int, max_hours: int) -> str:
    """What the person is told on the sign-in page when their session was over."""
    if why == IDLE:
        return (f"You were signed out after {idle_minutes} minutes without use, so that an unattended screen "
                "does not stay open. Sign in again; anything you had saved is kept.")
    if why == EXPIRED:
        return (f"You were signed out {max_hours} hours after signing in, as everyone is. Sign in again; "
                "anything you had saved is kept.")
    return ("Your sign-in has ended: you signed out (perhaps everywhere, from another browser), or your password "
            "or account was changed. Sign in again.")
