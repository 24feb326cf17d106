"""The audit chain: plain-Python verification, and the trail as the services write it."""
import json
from datetime import UTC, datetime, timezone

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError
from test_audit_keyed import chain  # the same rows, unkeyed when no key is given

from desk.domain import audit, audit_keys
from desk.models import AuditEvent
from desk.services import audit_trail
from desk.services.audit_trail import SystemActor

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


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


KEY = b"a key kept outside the database"


def keyed(rows, key=KEY, start=1):
    """The rows sealed with an HMAC from row `start` on, as the desk writes them once DESK_AUDIT_KEY is set."""
    for row in rows[start - 1:]:
        row["mac"] = audit_keys.row_mac(key, row["hash"])
    return rows


def outcome(report):
    """Everything a verify reports but its words."""
    return report.ok, report.checked, report.bad_seq, report.head_hash, report.keyed_from, report.macs_checked


def test_an_intact_chain_reports_every_row_its_head_and_how_it_was_keyed():
    rows = chain(5)
    head = rows[-1]["hash"]
    assert outcome(audit.verify_chain(rows)) == (True, 5, None, head, None, False)
    assert outcome(audit.verify_chain(rows, KEY)) == (True, 5, None, head, None, True)
    assert outcome(audit.verify_chain(keyed(rows, start=3), KEY)) == (True, 5, None, head, 3, True)
    assert outcome(audit.verify_chain(rows)) == (True, 5, None, head, 3, False)  # keyed, but no key to check it
    assert audit.verify_chain(rows).problem is None
    assert outcome(audit.verify_chain([])) == (True, 0, None, audit.GENESIS, None, False)


def test_a_broken_chain_reports_the_rows_checked_before_it_and_the_last_good_head():
    rows = keyed(chain(5), start=2)
    rows[3]["details"] = audit.canonical_details({"n": 99})
    report = audit.verify_chain(rows, KEY)
    assert outcome(report) == (False, 3, 4, rows[2]["hash"], 2, True)
    assert "row 4 was altered" in report.problem
    assert outcome(audit.verify_chain(rows)) == (False, 3, 4, rows[2]["hash"], 2, False)


def test_one_deleted_row_is_named_and_so_is_each_of_several():
    rows = chain(6)
    one = audit.verify_chain(rows[:2] + rows[3:], KEY)
    assert outcome(one) == (False, 2, 4, rows[1]["hash"], None, True)
    assert "row 3 missing before row 4" in one.problem
    several = audit.verify_chain(rows[:1] + rows[4:])
    assert outcome(several) == (False, 1, 5, rows[0]["hash"], None, False)
    assert "rows 2 to 4 missing before row 5" in several.problem


def test_a_row_that_comes_again_is_named_as_inserted_after_the_last_good_row():
    rows = keyed(chain(3))
    report = audit.verify_chain(rows + [dict(rows[1])], KEY)
    assert outcome(report) == (False, 3, 2, rows[2]["hash"], 1, True)
    assert "row 2 appears again after row 3: inserted" in report.problem


def test_a_row_that_does_not_follow_the_one_before_is_named():
    rows = keyed(chain(4))
    rows[2]["prev_hash"] = "f" * 64
    rows[2]["hash"] = audit.row_hash(rows[2])  # recomputed, so only its link to row 2 is wrong
    report = audit.verify_chain(rows, KEY)
    assert outcome(report) == (False, 2, 3, rows[1]["hash"], 1, True)
    assert "row 3 does not follow row 2" in report.problem


def test_a_row_whose_hmac_is_missing_or_wrong_is_named_with_where_the_keyed_chain_starts():
    rows = keyed(chain(5), start=2)
    del rows[3]["mac"]
    dropped = audit.verify_chain(rows, KEY)
    assert outcome(dropped) == (False, 3, 4, rows[2]["hash"], 2, True)
    assert "row 4 carries no HMAC though every row from row 2 does" in dropped.problem
    rows = keyed(chain(5), key=b"another key", start=2)
    forged = audit.verify_chain(rows, KEY)
    assert outcome(forged) == (False, 1, 2, rows[0]["hash"], None, True)
    assert "row 2 does not match its HMAC" in forged.problem


def test_an_empty_trail_is_intact_unless_the_desk_holds_audited_records():
    assert audit.verify_chain([], must_have_rows=False).ok
    emptied = audit.verify_chain([], KEY, must_have_rows=True)
    assert outcome(emptied) == (False, 0, 1, audit.GENESIS, None, True)
    assert emptied.problem == audit.EMPTIED
    assert outcome(audit.verify_chain([], must_have_rows=True)) == (False, 0, 1, audit.GENESIS, None, False)
    assert audit.verify_chain(chain(1), must_have_rows=True).ok


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
