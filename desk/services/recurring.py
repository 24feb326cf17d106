"""Recurring series: starting one when it is approved, making its occurrences ahead of time, and
withdrawing the occurrences not yet sent when the series is edited or stopped.

A series is a post with a rule; each occurrence is a post of its own (series_id, occurrence_at), approved
by the series' approval of the same content hash, with one queued target per series target. From then on
an occurrence is an ordinary approved post: the worker, pauses, screening and event feeds treat it so.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..domain import lateness
from ..domain import recurrence as rules
from ..domain import workflow as wf
from ..domain.clock import utcnow
from ..domain.timezones import display
from ..models import Approval, Post, Target, TargetMedia
from .audit_trail import SystemActor, record
from .common import lock

log = logging.getLogger("desk.worker")

# Far enough ahead that tomorrow's updates exist (and can be seen, or withdrawn one by one) a day before,
# and that a worker stopped for a day loses nothing; near enough that a rule every 15 minutes makes at
# most 192 posts at a time. A series that repeats less often always has its next occurrence made.
HORIZON = timedelta(hours=48)
MAX_PER_PASS = 500  # per series and pass: one transaction stays small; the next pass goes on
MAX_MISSED_LISTED = 20


def rule_of(post: Post) -> rules.Rule | None:
    return rules.parse(post.recurrence_rule) if post.recurrence_rule else None


def series_approvals(post: Post, content_hash: str | None = None) -> list[Approval]:
    """The approvals the post's current content (or `content_hash`) goes out on: for an occurrence, pass
    the series and the occurrence's hash. They stay the answer after a later edit withdrew them."""
    wanted = content_hash or post.content_hash
    return [a for a in post.approvals if a.decision == "approve" and a.content_hash == wanted
            and (content_hash is not None or a.withdrawn_at is None)]


def start(series: Post, now: datetime) -> None:
    """The last approval of a series: it runs from now; nothing before now is made (no back-filling)."""
    series.status = wf.RECURRING
    series.recurrence_generated_until = now
    for t in series.targets:
        t.status = wf.T_PATTERN
        t.attempts, t.next_attempt_at = 0, None


def lock_series(session: Session, series_id: int) -> Post:
    """Hold the series row while it changes, so that no worker makes occurrences of the old version."""
    return lock(session, Post, series_id, "post")


def _unsent(occurrence: Post) -> bool:
    return occurrence.status == wf.APPROVED and all(
        t.status in (wf.T_QUEUED, wf.T_RETRYING, wf.T_HELD) for t in occurrence.targets)


def withdraw_occurrences(session: Session, actor, series: Post, now: datetime, reason: str,
                         free_slots: bool) -> int:
    """Withdraw the series' occurrences that have not started going out, each audited, in the caller's
    transaction. With `free_slots`, each gives up its (series, time) slot (its time stays on its targets),
    so that a re-approved series makes that occurrence again, with the new content."""
    rows = session.scalars(select(Post).where(Post.series_id == series.id, Post.status == wf.APPROVED)
                           .order_by(Post.occurrence_at)).all()
    withdrawn = 0
    for occ in rows:
        if not _unsent(occ):
            continue  # on its way out, or out: it went on the approval it had
        at = occ.occurrence_at
        occ.status = wf.WITHDRAWN
        occ.updated_at = now
        for t in occ.targets:
            t.status = wf.T_CANCELLED
        if free_slots:
            occ.occurrence_at = None
        record(session, actor, "post.withdrawn", "post", occ.id, post_id=occ.id, now=now,
               details={"previous_status": wf.APPROVED, "reason": reason, "series_id": series.id,
                        "occurrence_at": at.isoformat() if at else None})
        withdrawn += 1
    return withdrawn


def _copy(series: Post, moment: datetime, now: datetime) -> Post:
    occ = Post(author_id=series.author_id, body=series.body, link=series.link, status=wf.APPROVED, version=1,
               content_hash=series.content_hash, created_at=now, updated_at=now, submitted_at=series.submitted_at,
               template_id=series.template_id, template_version=series.template_version,
               template_values=series.template_values, series_id=series.id, occurrence_at=moment)
    occ.author = series.author
    for t in series.targets:
        copy = Target(channel_id=t.channel_id, text=t.text, scheduled_at=moment, status=wf.T_QUEUED,
                      attempts=0, extra=t.extra or "{}")
        copy.channel = t.channel
        for link in t.media_links:
            copy.media_links.append(TargetMedia(media_id=link.media_id, position=link.position, media=link.media))
        occ.targets.append(copy)
    return occ


def _approvers(approvals: list[Approval]) -> list[dict]:
    return [{"approval_id": a.id, "approver_id": a.approver_id, "approver": a.approver.name,
             "decided_at": a.decided_at.isoformat()} for a in approvals]


def _plan(series: Post, rule: rules.Rule, zone: ZoneInfo, now: datetime, horizon: timedelta, late_after_minutes: int):
    """(missed, to make, made up to): what the rule gives since the series was last looked at."""
    since = series.recurrence_generated_until or now
    # An occurrence found later than its channels allow (the worker was stopped) is not made: a morning
    # traffic update is wrong by the afternoon. It is listed on the record instead.
    allowed = min(lateness.allowed_lateness(t.channel.late_after_minutes, late_after_minutes) for t in series.targets)
    missed, make = [], []
    # A rule rarer than the horizon (a weekly appeal) still has its next occurrence made.
    upto = max([since, now + horizon, *rules.upcoming(rule, zone, now, 1, series.recurrence_until)])
    for moment in rules.occurrences(rule, zone, since, min(upto, series.recurrence_until or upto)):
        if len(make) >= MAX_PER_PASS:
            return missed, make, make[-1]
        (missed if moment < now - allowed else make).append(moment)
    return missed, make, upto


def _ended(series: Post, rule: rules.Rule, zone: ZoneInfo) -> bool:
    until = series.recurrence_until
    return until is not None and not rules.upcoming(rule, zone, series.recurrence_generated_until, 1, until)


def _generate_one(session: Session, series: Post, zone: ZoneInfo, now: datetime, horizon: timedelta,
                  actor, late_after_minutes: int) -> tuple[int, int, int]:
    rule = rule_of(series)
    approvals = series_approvals(series)
    if rule is None or not approvals or not series.targets:
        log.error("series %s is running without a rule, targets or approval: nothing made", series.id)
        return 0, 0, 0
    missed, make, upto = _plan(series, rule, zone, now, horizon, late_after_minutes)
    taken = set(session.scalars(select(Post.occurrence_at).where(
        Post.series_id == series.id, Post.occurrence_at.in_(make)))) if make else set()
    made = 0
    for moment in make:
        if moment in taken:
            continue  # a person withdrew that one occurrence: it stays withdrawn
        occ = _copy(series, moment, now)
        session.add(occ)
        session.flush()
        record(session, actor, "post.occurrence_created", "post", occ.id, post_id=occ.id, now=now,
               details={"series_id": series.id, "occurrence_at": moment.isoformat(),
                        "local_time": display(moment, zone), "rule": series.recurrence_rule,
                        "rule_words": rules.describe(rule), "content_hash": series.content_hash,
                        "approvals": _approvers(approvals)})
        made += 1
    if missed:
        record(session, actor, "post.occurrences_missed", "post", series.id, post_id=series.id, now=now,
               details={"count": len(missed), "reason": "found too late to go out (the worker was stopped?)",
                        "local_times": [display(m, zone) for m in missed[:MAX_MISSED_LISTED]]})
    series.recurrence_generated_until = upto
    ended = _ended(series, rule, zone)
    if ended:
        series.status = wf.ENDED
        series.updated_at = now
        record(session, actor, "post.series_ended", "post", series.id, post_id=series.id, now=now,
               details={"reason": "its last occurrence before its end date has been made",
                        "until": series.recurrence_until.isoformat()})
    return made, len(missed), int(ended)


def generate(session: Session, now: datetime | None = None, worker: str = "worker",
             horizon: timedelta = HORIZON, *, zone: ZoneInfo,
             late_after_minutes: int = lateness.DEFAULT_LATE_AFTER_MINUTES) -> tuple[int, int, int]:
    """Make the occurrences of every running series up to `horizon` ahead: (made, missed, ended).
    `late_after_minutes` is the desk's default of how late is too late, for channels without their own.

    One transaction per series, holding its row (skipped when another worker or an edit holds it);
    the unique (series, time) slot is the last guard, so running it twice, or twice at once, makes
    each occurrence once."""
    now = now or utcnow()
    actor = SystemActor(f"worker:{worker}")
    totals = [0, 0, 0]
    ids = session.scalars(select(Post.id).where(Post.status == wf.RECURRING).order_by(Post.id)).all()
    session.rollback()
    for series_id in ids:
        series = session.scalars(
            select(Post).where(Post.id == series_id, Post.status == wf.RECURRING)
            .with_for_update(skip_locked=True, of=Post).execution_options(populate_existing=True)
        ).unique().one_or_none()
        if series is None:
            session.rollback()
            continue  # stopped meanwhile, or another worker has it now
        try:
            done = _generate_one(session, series, zone, now, horizon, actor, late_after_minutes)
            session.commit()
        except IntegrityError:
            session.rollback()  # another worker made the same occurrence first: it exists once
            log.info("series %s: occurrences already made by another worker", series_id)
            continue
        except Exception as exc:  # noqa: BLE001 (one broken series never stops the others; next pass retries)
            session.rollback()
            log.error("series %s: occurrences not made: %s", series_id, type(exc).__name__)
            continue
        totals = [a + b for a, b in zip(totals, done)]
    return tuple(totals)


# ---- what a post's page shows -------------------------------------------------------------------------

LISTED = 50


def overview(session: Session, post: Post, zone: ZoneInfo, now: datetime) -> dict | None:
    """For a series: the rule in words, its next times, the clock-change notes and the occurrences made
    (newest first). For an occurrence: its series and the approvals it went out on. None for other posts."""
    if post.series_id is not None:
        series = session.get(Post, post.series_id)
        rule = rule_of(series)
        return {"kind": "occurrence", "series": series, "words": rules.describe(rule) if rule else "",
                "approvals": series_approvals(series, post.content_hash)}
    if not post.recurrence_rule:
        return None
    rule = rule_of(post)
    made = session.scalars(select(Post).where(Post.series_id == post.id)
                           .order_by(Post.id.desc()).limit(LISTED)).all()
    return {"kind": "series", "words": rules.describe(rule),
            "upcoming": rules.upcoming(rule, zone, now, 5, post.recurrence_until),
            "notes": rules.clock_change_notes(rule, zone, now),
            "policy": rules.POLICY, "occurrences": made}
