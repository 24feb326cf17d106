"""Event feeds: channels that run only while their operation is on (live_from <= t < live_until).

Plain Python on any object with the Channel's attributes. The window opens at `live_from` exactly and
is closed at `live_until` exactly; an empty bound is open. A post for a feed is refused at submit when
the feed is not live at the post's time (or now, for "as soon as approved"), with the time it goes live.
Before the end the unit is reminded, once, to post a closing message; after it the feed goes dormant.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo

from .timezones import display

# How long before the end the unit is reminded: time enough to write, approve and send a closing message.
CLOSING_NOTICE = timedelta(hours=2)
LIVE, UPCOMING, ENDED, DORMANT = "live", "upcoming", "ended", "dormant"
STATE_LABELS = {LIVE: "Live now", UPCOMING: "Not live yet", ENDED: "Ended", DORMANT: "Dormant"}
MAX_OPERATION_NAME = 200


def is_open(channel, at: datetime) -> bool:
    return ((channel.live_from is None or channel.live_from <= at)
            and (channel.live_until is None or at < channel.live_until))


def state(channel, now: datetime) -> str | None:
    """Where an event feed stands now; None for a channel that is not an event feed."""
    if not channel.is_event_feed:
        return None
    if channel.status in ("dormant", "archived"):
        return DORMANT
    if channel.live_from is not None and now < channel.live_from:
        return UPCOMING
    if channel.live_until is not None and now >= channel.live_until:
        return ENDED
    return LIVE


def operation(channel) -> str:
    return channel.operation_name or channel.name


def refusal(channel, scheduled_at: datetime | None, now: datetime, zone: tzinfo = UTC) -> str | None:
    """Why this feed cannot take a post going out at `scheduled_at` (None: as soon as approved, i.e. now)."""
    if not channel.is_event_feed:
        return None
    at = scheduled_at or now
    if is_open(channel, at):
        return None
    op = operation(channel)
    if channel.live_from is not None and at < channel.live_from:
        opens = display(channel.live_from, zone)
        chosen = ", after the time you chose" if scheduled_at else ""
        return (f"{channel.name} is the event feed of {op}: it goes live at {opens}{chosen}. Schedule the post "
                "for then or later, or keep it as a draft until the operation starts.")
    ended = channel.live_until <= now
    if ended:
        return (f"{op} ended at {display(channel.live_until, zone)}: {channel.name} takes no more posts. "
                "Post elsewhere, or ask an administrator to reopen the feed with a new window.")
    return (f"{op} ends at {display(channel.live_until, zone)}: {channel.name} takes no post after then. "
            "Choose an earlier time.")


def reminder_due(channel, now: datetime) -> bool:
    """Time to remind the unit, once, to post a closing message before the feed stops."""
    if not channel.is_event_feed or channel.live_until is None or channel.closing_reminder_at is not None:
        return False
    if channel.status != "active":
        return False
    start = channel.live_until - CLOSING_NOTICE
    if channel.live_from is not None:
        start = max(start, channel.live_from)
    return now >= start


def goes_dormant(channel, now: datetime) -> bool:
    """The window is over: the feed should be dormant (it takes no posts anyway)."""
    return (channel.is_event_feed and channel.status == "active" and channel.live_until is not None
            and now >= channel.live_until)


def dormant_reason(channel, zone: tzinfo = UTC) -> str:
    return (f"{operation(channel)} ended at {display(channel.live_until, zone)}, so the feed is dormant. "
            "An administrator can reopen it with a new window.")


def settings_problems(is_event_feed: bool, operation_name: str | None) -> dict[str, list[str]]:
    """An event feed names its operation; the window's own checks are the channel's."""
    name = (operation_name or "").strip()
    if is_event_feed and not name:
        return {"operation_name": ["Name the operation this feed is for (e.g. Operation Meadow)."]}
    if len(name) > MAX_OPERATION_NAME:
        return {"operation_name": [f"At most {MAX_OPERATION_NAME} characters."]}
    return {}
