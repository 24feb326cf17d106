"""The emergency stop's rules: which pause covers a channel, how a held target says so, and which held
targets may simply go on after a resume and which wait for a person.

Plain Python: the services load the active pauses and the held targets, these functions decide.
A target held by a pause, or waiting for confirmation after one, says so in its `held_reason`, which
starts with one of the two prefixes below; the worker never releases either kind by itself.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

PAUSED_PREFIX = "Publishing is paused"
CONFIRM_PREFIX = "Its time passed while publishing was paused"
DESK_WIDE = None  # the key of a force-wide pause in the mapping of active pauses


@dataclass(frozen=True)
class ActivePause:
    id: int
    unit_id: int | None
    unit_code: str | None
    reason: str
    paused_by: str
    paused_at: datetime

    @property
    def scope(self) -> str:
        return "for the whole desk" if self.unit_id is None else f"for {self.unit_code}"


def covering(active: Mapping[int | None, ActivePause], unit_id: int) -> ActivePause | None:
    """The pause that stops this unit's channels: the desk-wide one first, else the unit's own."""
    return active.get(DESK_WIDE) or active.get(unit_id)


def held_reason(pause: ActivePause) -> str:
    return (f"{PAUSED_PREFIX} {pause.scope} (by {pause.paused_by}): {pause.reason} "
            "Nothing is lost: the post waits until publishing resumes.")


def confirm_reason(pause_scope: str) -> str:
    return (f"{CONFIRM_PREFIX} ({pause_scope}). A person decides: send it now, or withdraw it "
            "(on the emergency stop page).")


def is_pause_hold(reason: str | None) -> bool:
    return bool(reason) and reason.startswith(PAUSED_PREFIX)


def awaits_confirmation(reason: str | None) -> bool:
    return bool(reason) and reason.startswith(CONFIRM_PREFIX)


def worker_leaves_alone(reason: str | None) -> bool:
    """Held by a pause or waiting for a person: only a resume or a person's decision moves it."""
    return is_pause_hold(reason) or awaits_confirmation(reason)


def paused_since(spans: Iterable[tuple[datetime, datetime | None]], until: datetime) -> datetime:
    """When the unbroken stretch of pauses that ends at `until` began (spans: start, end or None).

    A desk-wide pause laid over a unit's own counts as one stop for that unit's channels.
    """
    start = until
    changed = True
    while changed:
        changed = False
        for began, ended in spans:
            if began < start and (ended is None or ended >= start):
                start, changed = began, True
    return start


def needs_confirmation(scheduled_at: datetime | None, attempts: int, paused_at: datetime) -> bool:
    """After a resume, should a person confirm this held target before it goes?

    Yes when its moment came during the pause: scheduled at or after the pause began, or 'as soon as
    approved' and never tried (approved while paused). A target already tried before the pause (a
    retry) or due before it was on its way out when the stop came: it goes on by itself.
    """
    if attempts:
        return False
    return scheduled_at is None or scheduled_at >= paused_at
