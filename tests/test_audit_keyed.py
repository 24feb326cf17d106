"""The keyed audit chain (DESK_AUDIT_KEY), TRUNCATE refused, and an emptied trail caught by verify."""
from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError
from test_golden_hashes import doc_code

from desk import create_app
from desk.db import make_session_factory
from desk.domain import audit, audit_keys
from desk.domain.errors import DeskError
from desk.models import AuditEvent
from desk.services import admin, audit_trail
from desk.services.audit_trail import SystemActor

from conftest import World, login, post_form

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
KEY = audit_keys.key_bytes("an audit key of at least thirty-two characters")
OTHER_KEY = audit_keys.key_bytes("another audit key, also thirty-two characters")
CLI = SystemActor("cli:test")


def chain(n, key=None, keyed_from=1):
    """n rows; with a key, rows from `keyed_from` on carry the HMAC that record() would give them."""
    rows, prev = [], audit.GENESIS
    for i in range(1, n + 1):
        row = {"seq": i, "prev_hash": prev, "actor_id": 1, "actor": "a@desk.test", "at": audit.canonical_time(T0),
               "action": "post.created", "object_type": "post", "object_id": str(i), "unit_id": None,
               "channel_id": None, "post_id": i, "details": audit.canonical_details({"n": i})}
        row["hash"] = audit.row_hash(row)
        row["mac"] = audit_keys.row_mac(key, row["hash"]) if key and i >= keyed_from else None
        prev = row["hash"]
        rows.append(row)
    return rows


def rebuild(rows, start):
    """What someone with write access but no key can do: change a row, recompute every hash after it."""
    prev = rows[start - 2]["hash"] if start > 1 else audit.GENESIS
    for row in rows[start - 1:]:
        row["prev_hash"] = prev
        row["hash"] = audit.row_hash(row)
        prev = row["hash"]
    return rows


# ---- the domain: plain Python --------------------------------------------------------------------

def test_the_mac_is_hmac_sha256_of_the_row_hash_in_hex():
    digest = "824603a84c7b11519cc11cd961c20f6694a8a477c3a87078ea6fc3bd089413ab"
    expected = hmac.new(b"k" * 32, digest.encode("ascii"), hashlib.sha256).hexdigest()
    assert audit_keys.row_mac(b"k" * 32, digest) == expected
    assert audit_keys.mac_matches(b"k" * 32, digest, expected)
    assert not audit_keys.mac_matches(b"j" * 32, digest, expected)
    assert not audit_keys.mac_matches(b"k" * 32, digest, "é" * 64)  # a forged value, never an exception


def test_the_key_is_the_setting_without_surrounding_spaces_and_none_when_unset():
    assert audit_keys.key_bytes("  café key  ") == "café key".encode()
    assert audit_keys.key_bytes("") is None and audit_keys.key_bytes("   ") is None
    assert audit_keys.key_bytes(None) is None


def test_a_keyed_chain_verifies_with_its_key_and_says_where_the_keyed_part_starts():
    report = audit.verify_chain(chain(6, KEY, keyed_from=3), KEY)
    assert report.ok and report.checked == 6 and report.keyed_from == 3 and report.macs_checked


def test_without_the_key_a_keyed_chain_still_verifies_as_a_plain_chain():
    report = audit.verify_chain(chain(4, KEY), None)
    assert report.ok and report.keyed_from == 1 and not report.macs_checked


def test_a_chain_rebuilt_without_the_key_is_caught_at_the_altered_row():
    rows = chain(6, KEY)
    rows[2]["details"] = audit.canonical_details({"n": 99})
    rebuild(rows, 3)
    assert audit.verify_chain(rows, None).ok  # the plain chain alone cannot tell
    report = audit.verify_chain(rows, KEY)
    assert not report.ok and report.bad_seq == 3 and "HMAC" in report.problem and report.checked == 2


def test_a_chain_rebuilt_in_the_unkeyed_part_is_caught_at_the_first_keyed_row():
    rows = chain(6, KEY, keyed_from=4)
    rows[1]["details"] = audit.canonical_details({"n": 99})
    rebuild(rows, 2)
    report = audit.verify_chain(rows, KEY)
    assert not report.ok and report.bad_seq == 4


def test_hmacs_dropped_from_the_tail_are_caught_with_or_without_the_key():
    rows = chain(6, KEY)
    rows[3]["details"] = audit.canonical_details({"n": 99})
    rebuild(rows, 4)
    for row in rows[3:]:
        row["mac"] = None
    for key in (KEY, None):
        report = audit.verify_chain(rows, key)
        assert not report.ok and report.bad_seq == 4 and "carries no HMAC" in report.problem
        assert "from row 1" in report.problem


def test_another_key_matches_no_row():
    report = audit.verify_chain(chain(3, KEY), OTHER_KEY)
    assert not report.ok and report.bad_seq == 1 and "DESK_AUDIT_KEY" in report.problem


def test_the_hash_is_checked_before_the_hmac():
    rows = chain(3, KEY)
    rows[1]["actor"] = "someone-else"
    report = audit.verify_chain(rows, KEY)
    assert not report.ok and report.bad_seq == 2 and "altered" in report.problem


def test_an_empty_trail_fails_when_the_desk_holds_other_records():
    assert audit.verify_chain([]).ok
    report = audit.verify_chain([], must_have_rows=True)
    assert not report.ok and report.bad_seq == 1 and report.checked == 0 and "empty" in report.problem
    assert audit.verify_chain(chain(2), must_have_rows=True).ok


# ---- the trail as the services write it ------------------------------------------------------------

@pytest.fixture
def keyed(engine):
    return make_session_factory(engine, audit_key=KEY)


def test_record_seals_each_row_with_the_key_from_the_session_factory(keyed):
    with keyed() as s:
        first = audit_trail.record(s, CLI, "unit.created", "unit", 1, now=T0)
        s.commit()
        assert first.mac == audit_keys.row_mac(KEY, first.hash)
        report = audit_trail.verify(s)
    assert report.ok and report.keyed_from == 1 and report.macs_checked


def test_rows_written_before_the_key_stay_verifiable_and_the_keyed_chain_starts_at_the_next(sessions, keyed):
    with sessions() as s:
        for i in (1, 2):
            assert audit_trail.record(s, CLI, "unit.created", "unit", i, now=T0).mac is None
        s.commit()
    with keyed() as s:
        audit_trail.record(s, CLI, "unit.created", "unit", 3, now=T0)
        s.commit()
        report = audit_trail.verify(s)
    assert report.ok and report.checked == 3 and report.keyed_from == 3


def test_a_keyed_trail_is_not_extended_without_the_key(sessions, keyed):
    with keyed() as s:
        audit_trail.record(s, CLI, "unit.created", "unit", 1, now=T0)
        s.commit()
    with sessions() as s, pytest.raises(DeskError, match="DESK_AUDIT_KEY"):
        audit_trail.record(s, CLI, "unit.created", "unit", 2, now=T0)
    with keyed() as s:
        assert audit_trail.verify(s).ok and s.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc())) == 1


def test_a_row_rewritten_in_the_database_with_recomputed_hashes_fails_verify(engine, keyed):
    with keyed() as s:
        for i in range(1, 5):
            audit_trail.record(s, CLI, "unit.created", "unit", i, now=T0)
        s.commit()
    with keyed() as s:
        rows = [audit_trail.event_row(e) for e in s.scalars(select(AuditEvent).order_by(AuditEvent.seq))]
    rows[1]["details"] = '{"forged":true}'
    rebuild(rows, 2)
    with engine.begin() as conn:
        _without_guard(conn, "UPDATE audit_events SET details = :d, prev_hash = :p, hash = :h WHERE seq = :s",
                       [{"d": r["details"], "p": r["prev_hash"], "h": r["hash"], "s": r["seq"]} for r in rows[1:]])
    with make_session_factory(engine)() as s:
        assert audit_trail.verify(s).ok is True  # without the key only the plain chain is checked
    with keyed() as s:
        report = audit_trail.verify(s)
    assert not report.ok and report.bad_seq == 2 and "HMAC" in report.problem


def _without_guard(conn, sql, params):
    if conn.dialect.name == "postgresql":
        conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
        conn.execute(text(sql), params)
        conn.execute(text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only"))
    else:
        conn.execute(text("DROP TRIGGER audit_events_no_update"))
        conn.execute(text(sql), params)


# ---- an emptied trail --------------------------------------------------------------------------------

def test_truncate_is_refused_by_the_database(engine, session):
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE; its DELETE trigger refuses DELETE FROM audit_events")
    admin.create_unit(session, CLI, "DPA", "Directorate of Public Affairs")
    session.commit()
    with pytest.raises(DatabaseError, match="append-only"), engine.begin() as conn:
        conn.execute(text("TRUNCATE audit_events"))
    assert audit_trail.verify(session).ok and audit_trail.verify(session).checked == 1


def test_delete_of_every_row_is_refused_on_sqlite_too(engine, session):
    admin.create_unit(session, CLI, "DPA", "Directorate of Public Affairs")
    session.commit()
    with pytest.raises(DatabaseError, match="append-only"), engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events"))


def test_verify_fails_on_an_empty_trail_when_the_desk_has_other_rows(engine, session):
    assert audit_trail.verify(session).ok  # a new desk: nothing yet, nothing missing
    admin.create_unit(session, CLI, "DPA", "Directorate of Public Affairs")
    session.commit()
    with engine.begin() as conn:  # someone with the rights to lift the guard empties the trail
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
            conn.execute(text("TRUNCATE audit_events"))
            conn.execute(text("ALTER TABLE audit_events ENABLE TRIGGER USER"))
        else:
            conn.execute(text("DROP TRIGGER audit_events_no_delete"))
            conn.execute(text("DELETE FROM audit_events"))
    session.expire_all()
    report = audit_trail.verify(session)
    assert not report.ok and report.checked == 0 and report.bad_seq == 1 and "empty" in report.problem


# ---- the Verify button ----------------------------------------------------------------------------------

def test_the_verify_page_says_the_keyed_part_was_checked_and_names_an_emptied_trail(sqlite_engine, tmp_path):
    app = create_app({"TESTING": True, "TWO_FACTOR_ENFORCED": False, "DESK_ENGINE": sqlite_engine,
                      "ENV": {"DESK_ENV": "development", "DESK_SECRET_KEY": "test-secret",
                              "DESK_AUDIT_KEY": KEY.decode(), "DESK_MEDIA_DIR": str(tmp_path / "media")}})
    with app.extensions["desk.sessions"]() as s:
        World(s)
    client = app.test_client()
    login(client, "auditor@desk.test")
    page = post_form(client, "/audit/verify", {}, page_url="/audit/").get_data(as_text=True)
    assert "The chain is intact" in page and "Every row from row 1 also matches its HMAC" in page
    with sqlite_engine.begin() as conn:
        conn.execute(text("DROP TRIGGER audit_events_no_delete"))
        conn.execute(text("DELETE FROM audit_events"))
    page = post_form(client, "/audit/verify", {}, page_url="/audit/").get_data(as_text=True)
    assert "The chain is broken at row 1" in page and "The trail is empty" in page and "was emptied" in page


# ---- the keyed form as docs/hash-formats.md gives it to an auditor ---------------------------------------

EXAMPLE_KEY = "an example key: never use this one in production"
ROW_1_HASH = "824603a84c7b11519cc11cd961c20f6694a8a477c3a87078ea6fc3bd089413ab"
ROW_1_MAC = "509a97c3580d8822449cfffc203dba6e409f7cbdefa8dfdb5206887f50b19ff5"


def test_the_worked_example_of_the_docs_is_the_hmac_the_desk_writes():
    assert audit_keys.row_mac(audit_keys.key_bytes(EXAMPLE_KEY), ROW_1_HASH) == ROW_1_MAC
    assert doc_code()["row_mac"](f" {EXAMPLE_KEY} ", ROW_1_HASH) == ROW_1_MAC


def test_the_code_in_the_docs_checks_the_hmacs_of_an_export(engine, sessions, keyed, tmp_path):
    code = doc_code()
    for factory, i in ((sessions, 1), (sessions, 2), (keyed, 3), (keyed, 4)):
        with factory() as s:
            audit_trail.record(s, CLI, "unit.created", "unit", i, now=T0)
            s.commit()
    export = tmp_path / "audit.csv"
    with keyed() as s, export.open("w", encoding="utf-8", newline="") as out:
        audit_trail.export_csv(s, audit_trail.AuditFilter(), out)
    assert code["verify_export"](str(export))[0] == 4
    assert code["verify_export_macs"](str(export), KEY.decode()) == 3
    with pytest.raises(SystemExit, match="row 3 does not match its HMAC"):
        code["verify_export_macs"](str(export), OTHER_KEY.decode())
