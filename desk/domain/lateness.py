"""How late is too late: when a held post may still go out by itself, and when a person must decide.

A post held because its channel could not publish (authorisation lapsed, dormant, event feed closed)
goes out by itself once the channel can publish again, unless its time is long past: a traffic update
for this morning's rush hour is wrong by the evening. Each channel says how many minutes late is still
fine (`late_after_minutes`; None takes the desk's default). Past that, the target stays held with a
reason that starts with LATE_PREFIX, the worker leaves it alone, and a person sends it or withdraws it.

Plain Python: the publishing use cases load the rows, these functions decide.
"""
from __future__ import annotations

from datetime import datetime, timedelta

LATE_PREFIX = "Its time passed long ago while it was held"
DEFAULT_LATE_AFTER_MINUTES = 60


def allowed_lateness(channel_minutes: int | None, default_minutes: int = DEFAULT_LATE_AFTER_MINUTES) -> timedelta:
    return timedelta(minutes=default_minutes if channel_minutes is None else max(0, channel_minutes))


def too_late(due_at: datetime | None, now: datetime, channel_minutes: int | None,
             default_minutes: int = DEFAULT_LATE_AFTER_MINUTES) -> bool:
    """Whether a held target released now would go out later than its channel accepts.

    `due_at` is when it should have gone: its scheduled time, or for 'as soon as approved' the moment
    it was held (the caller knows which). None means there is no moment to measure from: never too late.
    """
    if due_at is None:
        return False
    return now - due_at > allowed_lateness(channel_minutes, default_minutes)


def late_reason(due_at_local: str, channel_minutes: int | None,
                default_minutes: int = DEFAULT_LATE_AFTER_MINUTES) -> str:
    """The held reason a person reads; `due_at_local` is the due time already shown in the desk's zone."""
    minutes = default_minutes if channel_minutes is None else channel_minutes
    return (f"{LATE_PREFIX}: it was due at {due_at_local}, more than {minutes} minutes ago, the most this "
            "channel allows. A person decides: send it now, or withdraw it from this channel.")


def awaits_person(reason: str | None) -> bool:
    return bool(reason) and reason.startswith(LATE_PREFIX)


MAX_LATE_AFTER_MINUTES = 7 * 24 * 60  # a week: beyond that a post's moment has gone whatever it says


def late_after_problem(minutes: int | None) -> str | None:
    """Why a channel's 'how late is too late' cannot be this; None when it can (None: the desk default)."""
    if minutes is None:
        return None
    if not isinstance(minutes, int) or isinstance(minutes, bool) or not 0 <= minutes <= MAX_LATE_AFTER_MINUTES:
        return (f"Give a whole number of minutes from 0 (a person decides on anything late) to "
                f"{MAX_LATE_AFTER_MINUTES} (a week), or leave it blank for the desk's default.")
    return None
