"""Pacing per channel: when the desk may call a channel's platform next, from what its last answers said.

The worker never has more than one call in flight per channel and never calls before the channel's
`next_send_at`. After each call, the headers of every response it got decide the next moment:
- X: `x-rate-limit-remaining` and `x-rate-limit-reset` (Unix seconds). Nothing left: wait for the reset;
  otherwise spread what is left evenly until the reset, so a burst of due posts never meets a 429.
- Facebook: `X-App-Usage` and `X-Business-Use-Case-Usage`, JSON percentages of the hourly budget used;
  the latter may say `estimated_time_to_regain_access` (minutes). The nearer to 100 %, the slower.
- Any platform: a `Retry-After` (seconds or an HTTP date) pushes the whole channel back, so no other
  post on that account is tried before it either.
Without any of these, a small per-platform spacing applies.

Plain Python: the adapters' HTTP helper feeds `observe` with each response's headers while the worker
is `observing()`; the worker turns what was seen into a `Pacing` and stores it with the outcome.
"""
from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

# Seconds between two calls to one account when its platform said nothing: small, since the desk's own
# volume is low, but enough that a backlog released at once is not a burst. Training is the desk itself.
DEFAULT_SPACING = {"training": 0.0, "x": 1.0, "facebook": 1.0, "youtube": 1.0, "flickr": 1.0}
FALLBACK_SPACING = 1.0
# Facebook's usage is a rolling hour: above these percentages, wait this long between calls.
FACEBOOK_SLOWDOWN = ((95, 600.0), (85, 60.0), (75, 10.0))
# Never trust a header to park a channel for more than a day: a wrong clock or a parse error would.
LONGEST_WAIT = timedelta(hours=24)

_sink: ContextVar[list[dict[str, str]] | None] = ContextVar("desk_rate_limit_sink", default=None)


@dataclass(frozen=True)
class Pacing:
    """What to store on the channel after a call."""

    next_send_at: datetime
    remaining: int | None = None
    reset_at: datetime | None = None


@contextmanager
def observing() -> Iterator[list[dict[str, str]]]:
    """Collect the headers of every platform response made in this context (this thread)."""
    seen: list[dict[str, str]] = []
    token = _sink.set(seen)
    try:
        yield seen
    finally:
        _sink.reset(token)


def observe(headers: Mapping[str, str]) -> None:
    """Called by the HTTP helper for each response; does nothing unless someone is observing."""
    sink = _sink.get()
    if sink is not None:
        sink.append({str(k).lower(): str(v) for k, v in headers.items()})


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Retry-After as seconds or an HTTP date, else x-rate-limit-reset (Unix seconds); None if neither."""
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    now = time.time() if now is None else now
    value = lowered.get("retry-after", "").strip()
    if value:
        if value.isdigit():
            return float(value)
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            when = None
        if when is not None and when.tzinfo is not None:
            return max(0.0, when.timestamp() - now)
    reset = lowered.get("x-rate-limit-reset", "").strip()
    if reset.isdigit():
        return max(0.0, float(reset) - now)
    return None


def _x_budget(h: dict[str, str], now: datetime, wall: datetime) -> tuple[datetime | None, int | None, datetime | None]:
    remaining, reset = h.get("x-rate-limit-remaining", "").strip(), h.get("x-rate-limit-reset", "").strip()
    if not (remaining.isdigit() and reset.isdigit()):
        return None, None, None
    left = int(remaining)
    reset_at = now + (datetime.fromtimestamp(int(reset), UTC) - wall)
    if reset_at <= now:
        return None, left, reset_at
    if left == 0:
        return reset_at, left, reset_at
    return now + (reset_at - now) / left, left, reset_at


def _percentages(raw: str) -> list[dict]:
    """The usage objects in an X-App-Usage (one object) or X-Business-Use-Case-Usage (per business id)."""
    try:
        value = json.loads(raw)
    except (ValueError, TypeError):
        return []
    if not isinstance(value, dict):
        return []
    if any(isinstance(v, list) for v in value.values()):
        return [u for v in value.values() if isinstance(v, list) for u in v if isinstance(u, dict)]
    return [value]


def _facebook_wait(h: dict[str, str], now: datetime) -> datetime | None:
    usages = _percentages(h.get("x-app-usage", "")) + _percentages(h.get("x-business-use-case-usage", ""))
    waits = []
    for usage in usages:
        regain = usage.get("estimated_time_to_regain_access")
        if isinstance(regain, (int, float)) and regain > 0:
            waits.append(now + timedelta(minutes=regain))
        used = max((v for k, v in usage.items() if k in ("call_count", "total_cputime", "total_time")
                    and isinstance(v, (int, float))), default=0)
        for threshold, seconds in FACEBOOK_SLOWDOWN:
            if used >= threshold:
                waits.append(now + timedelta(seconds=seconds))
                break
    return max(waits, default=None)


def after_call(platform: str, responses: list[Mapping[str, str]], now: datetime,
               retry_after: float | None = None, wall: datetime | None = None) -> Pacing:
    """The channel's pacing after a call that got these responses (headers, in order), at `now`.

    `retry_after` is what the adapter read from a refusal (seconds), when it refused for too many requests.
    Headers that name a moment (a reset time, a date) are read against `wall`, the real clock by default,
    and the wait they mean is counted from `now`: a desk whose time is frozen (tests) or set apart still
    waits as long as the platform asked.
    """
    wall = wall or datetime.now(UTC)
    candidates = [now + timedelta(seconds=DEFAULT_SPACING.get(platform, FALLBACK_SPACING))]
    remaining = reset_at = None
    for headers in responses:
        h = {str(k).lower(): str(v) for k, v in headers.items()}
        x_next, x_left, x_reset = _x_budget(h, now, wall)
        if x_left is not None:
            remaining, reset_at = x_left, x_reset  # the last response's budget is the current one
        if x_next:
            candidates.append(x_next)
        if fb_next := _facebook_wait(h, now):
            candidates.append(fb_next)
        if "retry-after" in h and (wait := retry_after_seconds(h, wall.timestamp())) is not None:
            candidates.append(now + timedelta(seconds=wait))
    if retry_after is not None:
        candidates.append(now + timedelta(seconds=max(0.0, retry_after)))
    return Pacing(min(max(candidates), now + LONGEST_WAIT), remaining, reset_at)
