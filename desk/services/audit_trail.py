"""Writing, reading, exporting and verifying the audit trail."""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import exists, func, or_, select, text
from sqlalchemy.orm import Session

from ..db import is_postgres
from ..domain import audit, audit_keys, limits
from ..domain.audit_anchors import Head, expect_heads
from ..domain.clock import utcnow
from ..models import AuditEvent, Channel, Target, Unit, User

# Any constant will do: it names the advisory lock that serialises appends to the chain.
_CHAIN_LOCK = 0x6465736B


@dataclass(frozen=True)
class SystemActor:
    """A non-person actor: the worker, or an operator at the server's shell (who holds the keys anyway)."""

    label: str
    id: None = None
    is_admin: bool = True
    is_auditor: bool = False
    roles_by_unit: dict = field(default_factory=dict)


def actor_fields(actor) -> tuple[int | None, str]:
    if actor is None:
        return None, "anonymous"
    if isinstance(actor, SystemActor):
        return None, actor.label
    return actor.id, actor.email


def audit_key(session: Session) -> bytes | None:
    """DESK_AUDIT_KEY, as the session factory was given it (db.make_session_factory)."""
    return session.info.get("audit_key")


def record(session: Session, actor, action: str, object_type: str, object_id=None, *,
           details: dict | None = None, unit_id: int | None = None, channel_id: int | None = None,
           post_id: int | None = None, now: datetime | None = None) -> AuditEvent:
    """Append one event in the caller's transaction: it commits or rolls back with the change. A text longer
    than limits.AUDIT_TEXT_MAX goes in as its hash and length, so that no request can fill the trail."""
    # Flush first so that, on SQLite, this transaction already holds the write lock when it reads
    # the chain's head; on PostgreSQL an advisory lock does the same across processes.
    session.flush()
    if is_postgres(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CHAIN_LOCK})
    head = session.execute(select(AuditEvent.seq, AuditEvent.hash, AuditEvent.mac)
                           .order_by(AuditEvent.seq.desc()).limit(1)).first()
    key = audit_key(session)
    if head and head.mac and key is None:
        # An unsealed row on a sealed trail would make verify fail there for ever: refuse, and say why.
        raise audit_keys.AuditKeyMissing(audit_keys.KEY_MISSING)
    seq, prev = (head[0] + 1, head[1]) if head else (1, audit.GENESIS)
    actor_id, actor_label = actor_fields(actor)
    at = now or utcnow()
    row = {
        "seq": seq, "prev_hash": prev, "actor_id": actor_id, "actor": actor_label,
        "at": audit.canonical_time(at), "action": action, "object_type": object_type,
        "object_id": None if object_id is None else str(object_id), "unit_id": unit_id,
        "channel_id": channel_id, "post_id": post_id,
        "details": audit.canonical_details(limits.bounded_details(details)),
    }
    digest = audit.row_hash(row)
    event = AuditEvent(
        seq=seq, at=at, actor_id=actor_id, actor=actor_label, action=action, object_type=object_type,
        object_id=row["object_id"], unit_id=unit_id, channel_id=channel_id, post_id=post_id,
        details=row["details"], prev_hash=prev, hash=digest, mac=audit_keys.row_mac(key, digest) if key else None,
    )
    session.add(event)
    session.flush()
    return event


def record_target(session: Session, actor, action: str, target, now: datetime | None = None, **details) -> AuditEvent:
    """An event on one post's channel: filed under the post, the channel and the channel's unit."""
    return record(session, actor, action, "target", target.id, post_id=target.post_id,
                  channel_id=target.channel_id, unit_id=target.channel.unit_id, now=now, details=details)


def event_row(e: AuditEvent) -> dict:
    return {
        "seq": e.seq, "prev_hash": e.prev_hash, "actor_id": e.actor_id, "actor": e.actor,
        "at": audit.canonical_time(e.at), "action": e.action, "object_type": e.object_type,
        "object_id": e.object_id, "unit_id": e.unit_id, "channel_id": e.channel_id, "post_id": e.post_id,
        "details": e.details, "hash": e.hash,
    }


def _stream(session: Session, batch: int = 2000) -> Iterator[dict]:
    last = 0
    while True:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch)).all()
        if not rows:
            return
        for e in rows:
            yield {**event_row(e), "mac": e.mac}
        last = rows[-1].seq
        session.expunge_all()


def desk_has_records(session: Session) -> bool:
    """Whether the desk holds rows whose making is always audited: then its trail cannot be empty."""
    return bool(session.scalar(select(exists(select(User.id)) | exists(select(Unit.id)))))


def verify(session: Session, expected_heads: tuple[Head, ...] = ()) -> audit.ChainReport:
    """Walk the whole chain (checking HMACs when the session has the key), then each anchored head."""
    report = audit.verify_chain(_stream(session), audit_key(session), must_have_rows=desk_has_records(session))
    if not report.ok or not expected_heads:
        return report
    seqs = [h.seq for h in expected_heads]
    found = dict(session.execute(select(AuditEvent.seq, AuditEvent.hash).where(AuditEvent.seq.in_(seqs))).all())
    return expect_heads(report, list(expected_heads), found)


@dataclass
class AuditFilter:
    actor_id: int | None = None
    unit_id: int | None = None
    channel_id: int | None = None
    post_id: int | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _filtered(stmt, f: AuditFilter):
    if f.actor_id:
        stmt = stmt.where(AuditEvent.actor_id == f.actor_id)
    if f.unit_id:
        # A post belongs to every unit it targets: match it through its channels.
        unit_channels = select(Channel.id).where(Channel.unit_id == f.unit_id)
        unit_posts = select(Target.post_id).where(Target.channel_id.in_(unit_channels))
        stmt = stmt.where(or_(AuditEvent.unit_id == f.unit_id, AuditEvent.channel_id.in_(unit_channels),
                              AuditEvent.post_id.in_(unit_posts)))
    if f.channel_id:
        stmt = stmt.where(AuditEvent.channel_id == f.channel_id)
    if f.post_id:
        stmt = stmt.where(AuditEvent.post_id == f.post_id)
    if f.action:
        stmt = stmt.where(AuditEvent.action.like(f.action.replace("*", "%")))
    if f.since:
        stmt = stmt.where(AuditEvent.at >= f.since)
    if f.until:
        stmt = stmt.where(AuditEvent.at < f.until)
    return stmt


def query(session: Session, f: AuditFilter, page: int = 1, per_page: int = 50) -> tuple[list[AuditEvent], int]:
    total = session.scalar(_filtered(select(func.count(AuditEvent.id)), f)) or 0
    rows = session.scalars(
        _filtered(select(AuditEvent), f).order_by(AuditEvent.seq.desc()).offset((page - 1) * per_page).limit(per_page)
    ).all()
    return list(rows), total


CSV_COLUMNS = ["seq", "at", "actor", "actor_id", "action", "object_type", "object_id", "unit_id", "channel_id",
               "post_id", "details", "prev_hash", "hash", "mac"]


def export_csv(session: Session, f: AuditFilter, out: io.TextIOBase) -> int:
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    count = 0
    last = 0
    while True:
        rows = session.scalars(_filtered(select(AuditEvent), f).where(AuditEvent.seq > last)
                               .order_by(AuditEvent.seq).limit(2000)).all()
        if not rows:
            return count
        for e in rows:
            r = {**event_row(e), "mac": e.mac}
            writer.writerow([r[c] if c != "at" else r["at"] for c in CSV_COLUMNS])
            count += 1
        last = rows[-1].seq


def export(session: Session, actor, f: AuditFilter, out, destination: str) -> int:
    """Export for a person: who took a copy of the trail, and of which part, is itself on the trail."""
    count = export_csv(session, f, out)
    record(session, actor, "audit.exported", "audit", None,
           details={"rows": count, "destination": destination,
                    "filters": {k: v for k, v in vars(f).items() if v is not None}})
    session.commit()
    return count


def details_of(event: AuditEvent) -> dict:
    try:
        return json.loads(event.details or "{}")
    except ValueError:
        return {}
