"""What the worker does each pass besides publishing, because time passed: access grants that expire
or are due their 14-day warning, event feeds that end, the occurrences of recurring series to make, and
(when DESK_AUDIT_ANCHOR says where) the audit trail's daily anchor. Each part is its own transaction; a
failure is logged and never stops the publishing that follows (the next pass tries again)."""
from __future__ import annotations

import logging
from datetime import datetime
from functools import partial
from zoneinfo import ZoneInfo

from ..domain.clock import utcnow
from ..domain.lateness import DEFAULT_LATE_AFTER_MINUTES
from . import audit_anchors, event_feeds, grants, recurring

log = logging.getLogger("desk.worker")


STEPS = (("grants", grants.expire_and_warn, ("expired", "warned")),
         ("event_feeds", event_feeds.close_ended_feeds, ("reminded", "dormant")))


def run(session_factory, worker: str, now: datetime | None = None, *, zone: ZoneInfo,
        late_after_minutes: int = DEFAULT_LATE_AFTER_MINUTES, anchor_to: str = "",
        mail: audit_anchors.MailServer | None = None) -> dict[str, int]:
    """Counts per step, e.g. {"grants.expired": 1, "event_feeds.dormant": 0, ...}. `zone` is the desk's
    (a series' rule is read on its clock); `late_after_minutes` its default of how late is too late;
    `anchor_to` DESK_AUDIT_ANCHOR ("": no anchor), `mail` the server for an anchor sent by e-mail."""
    now = now or utcnow()
    counts: dict[str, int] = {}
    series = ("recurring", partial(recurring.generate, zone=zone, late_after_minutes=late_after_minutes),
              ("made", "missed", "ended"))
    steps = [*STEPS, series]
    if anchor_to:
        steps.append(("audit_anchor", partial(audit_anchors.anchor_if_due, setting=anchor_to, mail=mail),
                      ("anchored", "failed")))
    for name, step, labels in steps:
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
