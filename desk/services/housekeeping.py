"""What the worker does each pass besides publishing, because time passed: access grants that expire
or are due their 14-day warning, event feeds that end, and the occurrences of recurring series to make.
Each part is its own transaction; a failure is logged and never stops the publishing that follows (the
next pass tries again)."""
from __future__ import annotations

import logging
from datetime import datetime
from functools import partial
from zoneinfo import ZoneInfo

from ..domain.clock import utcnow
from . import event_feeds, grants, recurring

log = logging.getLogger("desk.worker")


STEPS = (("grants", grants.expire_and_warn, ("expired", "warned")),
         ("event_feeds", event_feeds.close_ended_feeds, ("reminded", "dormant")))


def run(session_factory, worker: str, now: datetime | None = None, *, zone: ZoneInfo) -> dict[str, int]:
    """Counts per step, e.g. {"grants.expired": 1, "event_feeds.dormant": 0, ...}. `zone` is the desk's
    (a series' rule is read on its clock)."""
    now = now or utcnow()
    counts: dict[str, int] = {}
    series = ("recurring", partial(recurring.generate, zone=zone), ("made", "missed", "ended"))
    for name, step, labels in (*STEPS, series):
        try:
            with session_factory() as s:
                done = step(s, now, worker=worker)
        except Exception as exc:  # noqa: BLE001 (logged by type: a message may carry data; publishing goes on)
            log.error("housekeeping %s failed: %s; it runs again next pass", name, type(exc).__name__)
            continue
        counts.update({f"{name}.{label}": n for label, n in zip(labels, done)})
        if any(done):
            log.info("housekeeping %s: %s", name, " ".join(f"{label}={n}" for label, n in zip(labels, done)))
    return counts
