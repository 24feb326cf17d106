"""What a post's targets carry, and the limits it must meet before it may be submitted.

Read by drafting (posts), screening (post_screening) and publishing alike, so it depends on none of them.
"""
from __future__ import annotations

import json
from datetime import datetime

from ..domain import event_feeds
from ..domain import workflow as wf
from ..domain.errors import ValidationFailed
from ..models import Post, Target
from ..platforms import Content, MediaItem, publisher_class


def canonical_extra(extra: dict | None) -> str:
    clean = {k: v for k, v in (extra or {}).items() if v not in (None, "", [], ())}
    return json.dumps(clean, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def extra_of(target: Target) -> dict:
    return json.loads(target.extra or "{}")


def media_items(target: Target) -> tuple[MediaItem, ...]:
    return tuple(MediaItem(path=m.media.published_path, mime_type=m.media.mime_type, size=m.media.size,
                           filename=m.media.filename, duration=m.media.duration, alt_text=m.media.alt_text)
                 for m in target.media_links)


def content_of(target: Target) -> Content:
    """What the platform adapter is given for this target: the one place it is assembled."""
    return Content(text=target.effective_text, link=target.post.link, media=media_items(target),
                   extra=extra_of(target))


def _series_problems(post: Post, now: datetime, problems: dict[str, list[str]]) -> None:
    """A series goes out at its rule's times: a channel's own time has no place in it."""
    if not post.recurrence_rule:
        return
    for t in post.targets:
        if t.scheduled_at is not None:
            problems.setdefault(target_field(t.channel_id, "scheduled_at"), []).append(
                "A repeating post goes out at the times of its rule: leave this channel's own time empty.")
    if post.recurrence_until is not None and post.recurrence_until <= now:
        problems.setdefault("recurrence_until", []).append("That end date has passed: choose a later one, "
                                                           "or leave it empty.")


def target_field(channel_id: int, name: str) -> str:
    return f"target-{channel_id}-{name}"


def limit_problems(post: Post, now: datetime) -> dict[str, list[str]]:
    """Every platform's limits, and the schedule, checked for each target; keyed by form field."""
    problems: dict[str, list[str]] = {}
    if not post.targets:
        problems.setdefault("channels", []).append("Choose at least one channel.")
    for t in post.targets:
        for p in publisher_class(t.channel.platform).validate(content_of(t)):
            if p.field == "link":
                key = "link"
            elif p.field == "text":
                key = target_field(t.channel_id, "text") if t.text else "body"
            else:  # media, title, description, tags, privacy...
                key = target_field(t.channel_id, p.field)
            label = "" if key != "body" or len(post.targets) == 1 else f"{t.channel.name}: "
            msgs = problems.setdefault(key, [])
            if label + p.message not in msgs:
                msgs.append(label + p.message)
        key = target_field(t.channel_id, "scheduled_at")
        try:
            wf.check_schedule(t.scheduled_at, now, field=key)
        except ValidationFailed as exc:
            problems.setdefault(key, []).extend(exc.field_errors[key])
        if feed_closed := event_feeds.refusal(t.channel, t.scheduled_at, now):  # outside the event's window
            problems.setdefault(key, []).append(feed_closed)
    _series_problems(post, now, problems)
    return problems
