"""The audit chain: plain-Python verification, and the trail as the services write it."""
import json
from datetime import UTC, datetime, timezone

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError

from desk.domain import audit
from desk.models import AuditEvent
from desk.services import audit_trail
from desk.services.audit_trail import SystemActor

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def chain(n):
    rows, prev = [], audit.GENESIS
    for i in range(1, n + 1):
        row = {"seq": i, "prev_hash": prev, "actor_id": 1, "actor": "a@desk.test", "at": audit.canonical_time(T0),
               "action": "post.created", "object_type": "post", "object_id": str(i), "unit_id": None,
               "channel_id": None, "post_id": i, "details": audit.canonical_details({"n": i})}
        row["hash"] = audit.row_hash(row)
        prev = row["hash"]
        rows.append(row)
    return rows


def test_intact_chain():
    report = audit.verify_chain(chain(5))
    assert report.ok and report.checked == 5


def test_altered_row_is_named():
    rows = chain(5)
    rows[2]["details"] = audit.canonical_details({"n": 99})
    report = audit.verify_chain(rows)
    assert not report.ok and report.bad_seq == 3 and "altered" in report.problem


def test_deleted_row_is_named():
    rows = chain(5)
    del rows[1]
    report = audit.verify_chain(rows)
    assert not report.ok and report.bad_seq == 3 and "row 2 missing" in report.problem


def test_deleted_last_rows_are_caught_by_the_anchored_head():
    rows = chain(5)
    head = audit.verify_chain(rows).head_hash
    assert audit.verify_chain(rows[:4]).head_hash != head


def test_inserted_row_is_named():
    rows = chain(4)
    forged = dict(rows[1])
    forged["seq"] = 3
    forged["details"] = audit.canonical_details({"forged": True})
    forged["prev_hash"] = rows[1]["hash"]
    forged["hash"] = audit.row_hash(forged)
    rows.insert(2, forged)
    for r in rows[3:]:
        r["seq"] += 1
    report = audit.verify_chain(rows)
    assert not report.ok and report.bad_seq == 4


def test_secrets_never_enter_the_details():
    blob = json.loads(audit.canonical_details({"password": "hunter2", "nested": {"access_token": "x"}, "ok": 1}))
    assert blob == {"password": "[redacted]", "nested": {"access_token": "[redacted]"}, "ok": 1}


def test_trail_written_by_the_services_verifies_and_detects_tampering(world, session):
    report = audit_trail.verify(session)
    assert report.ok and report.checked > 10
    victim = session.scalars(select(AuditEvent).order_by(AuditEvent.seq).offset(4).limit(1)).one()
    dialect = session.bind.dialect.name
    with pytest.raises(DatabaseError):  # the database itself refuses edits of the trail
        session.execute(text("UPDATE audit_events SET actor = 'someone-else' WHERE seq = :s"), {"s": victim.seq})
        session.flush()
    session.rollback()
    # A DBA with the rights to drop the guard can change a row: verify still names it.
    if dialect == "postgresql":
        session.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
    else:
        session.execute(text("DROP TRIGGER audit_events_no_update"))
    session.execute(text("UPDATE audit_events SET actor = 'someone-else' WHERE seq = :s"), {"s": victim.seq})
    if dialect == "postgresql":
        session.execute(text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only"))
    session.commit()
    session.expire_all()
    report = audit_trail.verify(session)
    assert not report.ok and report.bad_seq == victim.seq


def test_record_chains_onto_the_head(session):
    a = audit_trail.record(session, SystemActor("cli:test"), "unit.created", "unit", 1, now=T0)
    b = audit_trail.record(session, SystemActor("cli:test"), "unit.created", "unit", 2, now=T0)
    session.commit()
    assert (a.seq, b.seq) == (1, 2) and b.prev_hash == a.hash and a.prev_hash == audit.GENESIS
