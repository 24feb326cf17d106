"""How publishing stands, in one read-only snapshot: the workers and their heartbeats, what each has
claimed, how much is due, the oldest overdue post, the last day's failures, the channels being paced or
needing reconnection, the posts waiting for a person, and the second copies of posts still to remove.

Both `desk worker --status` and the administrators' page show it. Every figure is counted in the
database (a force has hundreds of channels and tens of thousands of targets); only short lists are
loaded as rows. A unit administrator's snapshot counts only their units' channels.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, or_, select, type_coerce
from sqlalchemy.orm import Session

from ..db import UTCDateTime
from ..domain import lateness
from ..domain import pauses as pause_rules
from ..domain import workflow as wf
from ..models import Channel, Post, PublishAttempt, Target, Unit, Worker
from .publishing import LIVE_POST_STATES
from .stray_copies import CopyRow, open_copies

ALIVE_BEATS = 3        # heartbeats a worker may miss before it counts as not reporting
FAILURE_WINDOW = timedelta(hours=24)
RECENT_FAILURES = 20
LISTED = 100           # the most channels or workers a list shows; the counts are always whole
STOPPED_SHOWN = timedelta(hours=24)  # stopped or silent workers stay listed this long


@dataclass(frozen=True)
class ClaimRow:
    target_id: int
    post_id: int
    channel_id: int
    channel_name: str
    worker: str | None
    lease_until: datetime | None
    lease_expired: bool


@dataclass(frozen=True)
class WorkerRow:
    id: str
    host: str
    pid: int
    pool_size: int
    started_at: datetime
    heartbeat_at: datetime
    heartbeat_age_seconds: float
    alive: bool
    stopped_at: datetime | None
    in_flight: int
    last_pass_at: datetime | None
    last_error: str | None
    claims: list[ClaimRow] = field(default_factory=list)


@dataclass(frozen=True)
class Overdue:
    target_id: int
    post_id: int
    channel_id: int
    channel_name: str
    status: str
    due_at: datetime
    late_seconds: float


@dataclass(frozen=True)
class Failure:
    target_id: int
    post_id: int
    channel_id: int
    channel_name: str
    platform: str
    finished_at: datetime
    outcome: str | None
    error_code: str | None
    message: str | None


@dataclass(frozen=True)
class ChannelRow:
    id: int
    name: str
    unit_code: str
    platform: str
    next_send_at: datetime | None = None
    rate_remaining: int | None = None
    rate_reset_at: datetime | None = None
    reason: str | None = None
    held: int = 0


@dataclass
class Snapshot:
    now: datetime
    heartbeat_seconds: int
    alive_within_seconds: int
    workers: list[WorkerRow]
    last_heartbeat_at: datetime | None   # of any worker ever: how long the desk has gone unwatched
    orphan_claims: list[ClaimRow]        # sending, claimed by a worker that no longer reports
    due_queued: int
    due_retrying: int
    scheduled_later: int
    sending: int
    held: int
    unknown: int
    waiting_for_person: int              # unknown + too late + time passed during a pause
    oldest_overdue: Overdue | None
    failures: int
    failures_by_code: dict[str, int]
    recent_failures: list[Failure]
    paced: list[ChannelRow]
    paced_count: int
    needs_reconnect: list[ChannelRow]
    stray_copies: list[CopyRow] = field(default_factory=list)  # a post sent twice: a person removes one

    @property
    def due_now(self) -> int:
        return self.due_queued + self.due_retrying

    @property
    def alive(self) -> list[WorkerRow]:
        return [w for w in self.workers if w.alive]

    @property
    def healthy(self) -> bool:
        """What monitoring asks: is someone publishing, or is there nothing to publish?"""
        return bool(self.alive) or self.due_now == 0

    def to_dict(self) -> dict:
        out = asdict(self)
        out.update(due_now=self.due_now, alive_workers=len(self.alive), healthy=self.healthy)
        return _jsonable(out)


def _jsonable(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def heartbeat_seconds(settings) -> int:
    beat = getattr(settings, "worker_heartbeat_seconds", None)
    return beat or max(1, settings.lease_seconds // 4)


def is_alive(heartbeat_at: datetime, stopped_at: datetime | None, now: datetime, beat_seconds: int) -> bool:
    """Alive: not stopped, and a heartbeat within ALIVE_BEATS intervals (one missed beat is a slow
    database, three are a dead or cut-off process)."""
    return stopped_at is None and now - heartbeat_at <= timedelta(seconds=ALIVE_BEATS * beat_seconds)


def snapshot(session: Session, now: datetime, settings, unit_ids: set[int] | None = None) -> Snapshot:
    """The whole picture at `now`; with `unit_ids`, only what concerns those units' channels."""
    beat = heartbeat_seconds(settings)

    def scoped(stmt):
        return stmt if unit_ids is None else stmt.where(Channel.unit_id.in_(unit_ids))

    claims = _claims(session, now, scoped)
    workers = _workers(session, now, beat, claims)
    alive_ids = {w.id for w in workers if w.alive}
    counts = _counts(session, now, scoped)
    failures, by_code, recent = _failures(session, now, scoped)
    paced_count, paced = _paced(session, now, scoped)
    return Snapshot(
        now=now, heartbeat_seconds=beat, alive_within_seconds=ALIVE_BEATS * beat, workers=workers,
        last_heartbeat_at=session.scalar(select(func.max(Worker.heartbeat_at))),
        orphan_claims=[c for c in claims if c.worker not in alive_ids],
        due_queued=counts.get("due_queued", 0), due_retrying=counts.get("due_retrying", 0),
        scheduled_later=counts.get("later", 0), sending=counts.get(wf.T_SENDING, 0),
        held=counts.get(wf.T_HELD, 0) + counts.get("late", 0) + counts.get("after_pause", 0),
        unknown=counts.get(wf.T_UNKNOWN, 0),
        waiting_for_person=counts.get(wf.T_UNKNOWN, 0) + counts.get("late", 0) + counts.get("after_pause", 0),
        oldest_overdue=_oldest_overdue(session, now, scoped),
        failures=failures, failures_by_code=by_code, recent_failures=recent,
        paced=paced, paced_count=paced_count, needs_reconnect=_needs_reconnect(session, scoped),
        stray_copies=open_copies(session, unit_ids))


def _claims(session: Session, now: datetime, scoped) -> list[ClaimRow]:
    rows = session.execute(scoped(
        select(Target.id, Target.post_id, Target.channel_id, Channel.name, Target.claimed_by, Target.lease_until)
        .join(Channel, Target.channel_id == Channel.id).where(Target.status == wf.T_SENDING)
        .order_by(Target.lease_until, Target.id)))
    return [ClaimRow(tid, pid, cid, name, by, until, until is None or until < now)
            for tid, pid, cid, name, by, until in rows]


def _workers(session: Session, now: datetime, beat: int, claims: list[ClaimRow]) -> list[WorkerRow]:
    rows = session.scalars(select(Worker).where(Worker.heartbeat_at >= now - STOPPED_SHOWN)
                           .order_by(Worker.heartbeat_at.desc()).limit(LISTED))
    return [WorkerRow(w.id, w.host, w.pid, w.pool_size, w.started_at, w.heartbeat_at,
                      max(0.0, (now - w.heartbeat_at).total_seconds()),
                      is_alive(w.heartbeat_at, w.stopped_at, now, beat),
                      w.stopped_at, w.in_flight, w.last_pass_at, w.last_error,
                      [c for c in claims if c.worker == w.id]) for w in rows]


def _counts(session: Session, now: datetime, scoped) -> dict[str, int]:
    """Targets by what they wait for, counted in one grouped query."""
    kind = case(
        (and_(Target.status == wf.T_QUEUED, or_(Target.scheduled_at.is_(None), Target.scheduled_at <= now)),
         "due_queued"),
        (and_(Target.status == wf.T_RETRYING, or_(Target.next_attempt_at.is_(None), Target.next_attempt_at <= now)),
         "due_retrying"),
        (Target.status.in_((wf.T_QUEUED, wf.T_RETRYING)), "later"),
        (and_(Target.status == wf.T_HELD, Target.held_reason.like(lateness.LATE_PREFIX + "%")), "late"),
        (and_(Target.status == wf.T_HELD, Target.held_reason.like(pause_rules.CONFIRM_PREFIX + "%")), "after_pause"),
        else_=Target.status).label("kind")
    # A series' own targets never go out (its occurrences do): only live posts' queues count.
    inner = scoped(select(kind).join(Post, Target.post_id == Post.id).join(Channel, Target.channel_id == Channel.id)
                   .where(Target.status.in_((wf.T_QUEUED, wf.T_RETRYING, wf.T_SENDING, wf.T_HELD, wf.T_UNKNOWN)),
                          or_(Post.status.in_(LIVE_POST_STATES),
                              Target.status.in_((wf.T_SENDING, wf.T_HELD, wf.T_UNKNOWN))))).subquery()
    return dict(session.execute(select(inner.c.kind, func.count()).group_by(inner.c.kind)).all())


def _oldest_overdue(session: Session, now: datetime, scoped) -> Overdue | None:
    """The due target waiting longest: due at its time, a retry at its next attempt, 'as soon as
    approved' when its post last changed (its approval)."""
    due_at = type_coerce(case((Target.status == wf.T_RETRYING,
                               func.coalesce(Target.next_attempt_at, Target.scheduled_at, Post.updated_at)),
                              else_=func.coalesce(Target.scheduled_at, Post.updated_at)), UTCDateTime()).label("due_at")
    row = session.execute(scoped(
        select(Target.id, Target.post_id, Target.channel_id, Channel.name, Target.status, due_at)
        .join(Post, Target.post_id == Post.id).join(Channel, Target.channel_id == Channel.id)
        .where(Post.status.in_(LIVE_POST_STATES),
               or_(and_(Target.status == wf.T_QUEUED,
                        or_(Target.scheduled_at.is_(None), Target.scheduled_at <= now)),
                   and_(Target.status == wf.T_RETRYING,
                        or_(Target.next_attempt_at.is_(None), Target.next_attempt_at <= now))))
        .order_by(due_at, Target.id).limit(1))).first()
    if row is None:
        return None
    tid, pid, cid, name, status, due = row
    return Overdue(tid, pid, cid, name, status, due, max(0.0, (now - due).total_seconds()))


def _failures(session: Session, now: datetime, scoped) -> tuple[int, dict[str, int], list[Failure]]:
    """Attempts that ended in an error in the last 24 hours: how many, of which kind, the latest."""
    ended_badly = and_(PublishAttempt.finished_at >= now - FAILURE_WINDOW, PublishAttempt.finished_at <= now,
                       or_(PublishAttempt.outcome.is_(None), PublishAttempt.outcome != wf.T_PUBLISHED))
    base = scoped(select(PublishAttempt).join(Target, PublishAttempt.target_id == Target.id)
                  .join(Channel, Target.channel_id == Channel.id).where(ended_badly)).subquery()
    code = func.coalesce(base.c.error_code, "unspecified")
    by_code = dict(session.execute(select(code, func.count()).group_by(code).order_by(func.count().desc())).all())
    recent = session.execute(scoped(
        select(PublishAttempt.target_id, Target.post_id, Target.channel_id, Channel.name, Channel.platform,
               PublishAttempt.finished_at, PublishAttempt.outcome, PublishAttempt.error_code, PublishAttempt.message)
        .join(Target, PublishAttempt.target_id == Target.id).join(Channel, Target.channel_id == Channel.id)
        .where(ended_badly).order_by(PublishAttempt.finished_at.desc(), PublishAttempt.id.desc())
        .limit(RECENT_FAILURES)))
    return sum(by_code.values()), by_code, [Failure(*r) for r in recent]


def _channel_row(c: Channel, **extra) -> ChannelRow:
    return ChannelRow(c.id, c.name, c.unit.code, c.platform, **extra)


def _paced(session: Session, now: datetime, scoped) -> tuple[int, list[ChannelRow]]:
    paced = Channel.next_send_at > now
    count = session.scalar(scoped(select(func.count(Channel.id)).where(paced)))
    rows = session.scalars(scoped(select(Channel).where(paced).order_by(Channel.next_send_at.desc()).limit(LISTED)))
    return count or 0, [_channel_row(c, next_send_at=c.next_send_at, rate_remaining=c.rate_remaining,
                                     rate_reset_at=c.rate_reset_at) for c in rows]


def _needs_reconnect(session: Session, scoped) -> list[ChannelRow]:
    held = (select(func.count(Target.id)).where(Target.channel_id == Channel.id, Target.status == wf.T_HELD)
            .correlate(Channel).scalar_subquery())
    rows = session.execute(scoped(select(Channel, held).join(Unit, Channel.unit_id == Unit.id)
                                  .where(Channel.status == "needs_reconnect").order_by(Unit.code, Channel.name)
                                  .limit(LISTED)))
    return [_channel_row(c, reason=c.status_reason, held=n) for c, n in rows]


# ---- in words -------------------------------------------------------------------------------------

START_HINT = "Start one with `flask --app app desk worker` (or the worker: line of the Procfile)."


def spoken(seconds: float) -> str:
    """A duration as a person says it: '45 seconds', '3 minutes', '2 hours', '4 days'."""
    seconds = int(seconds)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def headline(s: Snapshot) -> tuple[str, str]:
    """('ok' | 'warning' | 'alarm', one sentence): what a person needs to know first."""
    alive = len(s.alive)
    due = f"{s.due_now} post{'s are' if s.due_now != 1 else ' is'} due"
    if alive:
        return "ok", (f"{alive} worker{'s are' if alive != 1 else ' is'} publishing"
                      f"{'; ' + due + ' now' if s.due_now else '; nothing is overdue'}.")
    silent = (f"No worker has reported for {spoken((s.now - s.last_heartbeat_at).total_seconds())}"
              if s.last_heartbeat_at else "No worker has ever reported")
    if s.due_now:
        return "alarm", f"{silent}: nothing is being published, and {due}. {START_HINT}"
    later = (f" {s.scheduled_later} scheduled post{'s' if s.scheduled_later != 1 else ''} will need one."
             if s.scheduled_later else "")
    return "warning", f"{silent}. Nothing is due now.{later} {START_HINT}"


def notes(s: Snapshot) -> list[str]:
    """The other things a person should act on, in plain words."""
    out = []
    if s.orphan_claims:
        out.append(f"{len(s.orphan_claims)} post(s) were being sent by a worker that stopped reporting: when "
                   "their lease runs out the desk asks the platform whether they went out before sending again.")
    if s.waiting_for_person:
        out.append(f"{s.waiting_for_person} post(s) wait for a person to decide (outcome unknown, or too late "
                   "to go by themselves): see the list below, or the post's own page.")
    if s.needs_reconnect:
        out.append(f"{len(s.needs_reconnect)} channel(s) need reconnecting: their posts are held until an "
                   "administrator reconnects them on the Channels page.")
    if s.stray_copies:
        out.append(f"{len(s.stray_copies)} post(s) went out twice: a worker sent them after another had taken them "
                   "over and published them. Remove each second copy (see the list below, or the post's page).")
    return out
