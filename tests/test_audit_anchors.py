"""Anchors: the trail's head written to a file, to syslog (UDP) or by e-mail (SMTP), each a real server or
file on this machine; `audit verify --expect-head`; the worker's daily anchor; the settings behind them."""
from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, text

from desk import ConfigError, create_app
from desk.config import settings_from_env
from desk.domain import audit
from desk.domain import audit_anchors as anchors
from desk.domain.audit_anchors import Head
from desk.models import AuditEvent
from desk.services import admin, audit_anchors, audit_trail, housekeeping
from desk.services.audit_trail import SystemActor

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
HASH = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
CLI = SystemActor("cli:test")
NO_MAIL = audit_anchors.MailServer("127.0.0.1", 9, "desk@desk.test")
KEY = "an audit key of at least thirty-two characters"


# ---- the domain -----------------------------------------------------------------------------------

def test_a_head_is_read_as_the_anchor_writes_it():
    assert anchors.parse_head(f" 1234:{HASH.upper()} ") == Head(1234, HASH)
    assert str(Head(1234, HASH)) == f"1234:{HASH}"
    for bad in ("", "1234", f"x:{HASH}", f"1234:{HASH[:-1]}", f"-1:{HASH}", f"12:{HASH}zz", f"1 2:{HASH}"):
        with pytest.raises(ValueError, match="SEQ:HASH"):
            anchors.parse_head(bad)


def test_a_head_that_the_trail_no_longer_reaches_is_named():
    assert anchors.head_problem(Head(3, HASH), HASH, 5) is None
    cut = anchors.head_problem(Head(7, HASH), None, 5)
    assert "row 7" in cut and "ends at row 5" in cut and "cut from its end" in cut
    rebuilt = anchors.head_problem(Head(3, HASH), "0" * 63 + "1", 5)
    assert "row 3" in rebuilt and "rebuilt" in rebuilt
    assert anchors.head_problem(Head(0, audit.GENESIS), None, 0) is None  # an empty trail's head
    assert "rebuilt" in anchors.head_problem(Head(0, HASH), None, 0)


def test_expected_heads_fail_an_intact_report_and_leave_a_broken_one_as_it_was():
    intact = audit.ChainReport(True, 5, head_hash=HASH)
    assert anchors.expect_heads(intact, [Head(5, HASH)], {5: HASH}) is intact
    failed = anchors.expect_heads(intact, [Head(5, HASH), Head(6, HASH)], {5: HASH})
    assert not failed.ok and failed.bad_seq == 6 and "cut from its end" in failed.problem
    broken = audit.ChainReport(False, 2, "row 3 was altered", 3)
    assert anchors.expect_heads(broken, [Head(9, HASH)], {}) is broken


def test_the_anchor_line_carries_the_time_the_head_and_where_the_keyed_chain_starts():
    line = anchors.anchor_line(Head(12, HASH), T0, 3)
    assert line == f"2026-06-01T09:00:00.000000Z desk audit head 12:{HASH} keyed-from 3"
    assert anchors.anchor_line(Head(12, HASH), T0, None).endswith(f"12:{HASH} unkeyed")


def test_an_anchor_is_due_daily_and_an_hour_after_a_failure():
    day, hour = timedelta(days=1), timedelta(hours=1)
    assert anchors.anchor_due(T0, None, None)
    assert not anchors.anchor_due(T0, T0 - day + timedelta(seconds=1), None)
    assert anchors.anchor_due(T0, T0 - day, None)
    assert not anchors.anchor_due(T0, None, T0 - hour + timedelta(seconds=1))
    assert anchors.anchor_due(T0, None, T0 - hour)
    assert not anchors.anchor_due(T0, T0 - timedelta(hours=2), T0 - hour)


@pytest.mark.parametrize("setting, sink", [
    ("file:///var/lib/desk/anchors.log", anchors.Sink("file", "/var/lib/desk/anchors.log")),
    ("file://localhost/srv/a.log", anchors.Sink("file", "/srv/a.log")),
    ("syslog://logs.force.example", anchors.Sink("syslog", "logs.force.example", 514)),
    ("syslog://10.0.0.5:1514?facility=LOCAL3", anchors.Sink("syslog", "10.0.0.5", 1514, "local3")),
    ("syslog:///dev/log?facility=authpriv", anchors.Sink("syslog", "/dev/log", None, "authpriv")),
    (" mailto:records.officer@force.example ", anchors.Sink("mail", "records.officer@force.example")),
])
def test_the_sink_setting_names_a_file_syslog_or_a_mailbox(setting, sink):
    assert anchors.parse_sink(setting) == sink


@pytest.mark.parametrize("setting", ["anchors.log", "/var/log/anchors.log", "file:relative.log",
                                     "file://otherhost/a.log", "syslog://", "syslog://host:notaport",
                                     "syslog://host?facility=kern7", "mailto:nobody", "mailto:a@b.c,d@e.f",
                                     "https://records.example/anchor"])
def test_a_sink_setting_that_names_nothing_is_refused_with_the_forms(setting):
    with pytest.raises(ValueError, match="DESK_AUDIT_ANCHOR"):
        anchors.parse_sink(setting)


def test_the_mail_server_is_host_and_port():
    assert anchors.parse_server("smtp.force.example") == ("smtp.force.example", 25)
    assert anchors.parse_server(" 127.0.0.1:2525 ") == ("127.0.0.1", 2525)
    for bad in ("", ":25", "host:", "host:0", "host:65536", "host:x", "two words:25"):
        with pytest.raises(ValueError, match="DESK_SMTP_SERVER"):
            anchors.parse_server(bad)


# ---- settings -----------------------------------------------------------------------------------------

def test_production_refuses_a_short_audit_key_and_settings_refuse_a_sink_that_names_nothing(tmp_path):
    base = {"DESK_ENV": "production", "DESK_SECRET_KEY": "s" * 40}
    with pytest.raises(ConfigError, match="DESK_AUDIT_KEY has 31 characters"):
        settings_from_env(str(tmp_path), {**base, "DESK_AUDIT_KEY": "k" * 31})
    assert settings_from_env(str(tmp_path), {**base, "DESK_AUDIT_KEY": "k" * 32}).audit_key == "k" * 32
    assert settings_from_env(str(tmp_path), {"DESK_AUDIT_KEY": "short"}).audit_key == "short"  # development
    with pytest.raises(ConfigError, match="DESK_AUDIT_ANCHOR 'anchors.log'"):
        settings_from_env(str(tmp_path), {"DESK_AUDIT_ANCHOR": "anchors.log"})
    with pytest.raises(ConfigError, match="DESK_SMTP_SERVER"):
        settings_from_env(str(tmp_path), {"DESK_SMTP_SERVER": "smtp:none"})
    plain = settings_from_env(str(tmp_path), {})
    assert (plain.audit_key, plain.audit_anchor, plain.smtp_server) == ("", "", "localhost:25")


# ---- the sinks, each a real file or server on this machine ---------------------------------------------

def _unit(session):
    admin.create_unit(session, CLI, "DPA", "Directorate of Public Affairs")
    session.commit()
    return session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()


def test_anchoring_to_a_file_appends_a_line_and_records_it(session, tmp_path):
    last = _unit(session)
    log = tmp_path / "records" / "anchors.log"
    log.parent.mkdir()
    log.write_text("an earlier line\n")
    head = audit_anchors.anchor(session, CLI, f"file://{log}", NO_MAIL, now=T0)
    assert head == Head(last.seq, last.hash)
    assert log.read_text().splitlines() == ["an earlier line",
                                            f"2026-06-01T09:00:00.000000Z desk audit head {head} unkeyed"]
    event = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert (event.action, event.actor) == ("audit.anchored", "cli:test")
    assert json.loads(event.details) == {"seq": head.seq, "hash": head.hash, "keyed_from": None, "to": f"file://{log}"}
    assert audit_trail.verify(session, (head,)).ok


def test_a_file_that_cannot_be_written_is_a_failed_anchor_on_the_trail(session, tmp_path):
    _unit(session)
    with pytest.raises(audit_anchors.AnchorFailed, match="could not be written to .*missing"):
        audit_anchors.anchor(session, CLI, f"file://{tmp_path}/missing/anchors.log", NO_MAIL, now=T0)
    event = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert event.action == "audit.anchor_failed" and "No such file" in json.loads(event.details)["error"]


def test_anchoring_to_syslog_sends_one_datagram_with_the_facility(session):
    last = _unit(session)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind(("127.0.0.1", 0))
        server.settimeout(5)
        port = server.getsockname()[1]
        audit_anchors.anchor(session, CLI, f"syslog://127.0.0.1:{port}?facility=local3", NO_MAIL, now=T0)
        datagram = server.recv(4096).decode("utf-8")
    # <PRI> is facility * 8 + severity: local3 is 19, info is 6.
    line = f"2026-06-01T09:00:00.000000Z desk audit head {last.seq}:{last.hash} unkeyed"
    assert datagram == f"<158>desk-audit: {line}\x00"


class Mailbox:
    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield mailbox, controller.port
    controller.stop()


def test_anchoring_by_mail_sends_the_head_to_the_records_officer(session, smtp_server):
    mailbox, port = smtp_server
    last = _unit(session)
    mail = audit_anchors.MailServer("127.0.0.1", port, "desk@force.example")
    audit_anchors.anchor(session, CLI, "mailto:records.officer@force.example", mail, now=T0)
    [envelope] = mailbox.envelopes
    assert envelope.mail_from == "desk@force.example" and envelope.rcpt_tos == ["records.officer@force.example"]
    message = envelope.content.decode("utf-8")
    assert f"Subject: Audit trail head: row {last.seq}" in message
    assert f"desk audit head {last.seq}:{last.hash} unkeyed" in message
    assert f"audit verify --expect-head {last.seq}:{last.hash}" in message


def test_a_mail_server_that_does_not_answer_is_a_failed_anchor(session):
    _unit(session)
    mail = audit_anchors.MailServer("127.0.0.1", _free_port(), "desk@force.example")
    with pytest.raises(audit_anchors.AnchorFailed, match="could not be sent to records@force.example through"):
        audit_anchors.anchor(session, CLI, "mailto:records@force.example", mail, now=T0)
    assert session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq.desc())).first() == "audit.anchor_failed"


# ---- the worker's daily anchor ----------------------------------------------------------------------------

def test_the_worker_anchors_daily_and_only_when_a_sink_is_set(sessions, session, tmp_path):
    _unit(session)
    log = tmp_path / "anchors.log"
    run = lambda at, **kw: housekeeping.run(sessions, "w1", at, zone=UTC, **kw)  # noqa: E731
    assert not any(k.startswith("audit_anchor") for k in run(T0))
    to = {"anchor_to": f"file://{log}", "mail": NO_MAIL}
    assert run(T0, **to)["audit_anchor.anchored"] == 1
    assert run(T0 + timedelta(hours=23), **to)["audit_anchor.anchored"] == 0
    assert run(T0 + timedelta(hours=24), **to)["audit_anchor.anchored"] == 1
    assert len(log.read_text().splitlines()) == 2
    actors = session.scalars(select(AuditEvent.actor).where(AuditEvent.action == "audit.anchored")).all()
    assert actors == ["worker:w1", "worker:w1"]


def test_after_a_failed_anchor_the_worker_waits_an_hour(sessions, session, tmp_path):
    _unit(session)
    to = {"anchor_to": f"file://{tmp_path}/missing/anchors.log", "mail": NO_MAIL}
    run = lambda at: housekeeping.run(sessions, "w1", at, zone=UTC, **to)  # noqa: E731
    assert run(T0)["audit_anchor.failed"] == 1
    assert run(T0 + timedelta(minutes=59))["audit_anchor.failed"] == 0
    (tmp_path / "missing").mkdir()
    assert run(T0 + timedelta(hours=1))["audit_anchor.anchored"] == 1


def test_two_workers_anchoring_at_once_write_one_anchor(engine, sessions, session, tmp_path):
    if engine.dialect.name != "postgresql":
        pytest.skip("on SQLite one worker runs at a time (the worker's file lock)")
    _unit(session)
    log = tmp_path / "anchors.log"
    holder = sessions()
    holder.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": audit_anchors._ANCHOR_LOCK})
    try:  # another worker's anchor is under way: this one skips it rather than wait
        with sessions() as s:
            assert audit_anchors.anchor_if_due(s, T0, worker="w2", setting=f"file://{log}", mail=NO_MAIL) == (0, 0)
    finally:
        holder.rollback()
        holder.close()
    with sessions() as s:
        assert audit_anchors.anchor_if_due(s, T0, worker="w2", setting=f"file://{log}", mail=NO_MAIL) == (1, 0)


# ---- the commands -------------------------------------------------------------------------------------------

def _app(sqlite_engine, tmp_path, **env):
    return create_app({"TESTING": True, "DESK_ENGINE": sqlite_engine,
                       "ENV": {"DESK_ENV": "development", "DESK_SECRET_KEY": "test-secret", "DESK_AUDIT_KEY": "",
                               "DESK_AUDIT_ANCHOR": "", "DESK_MEDIA_DIR": str(tmp_path / "media"), **env}})


def _run(app, *args):
    return app.test_cli_runner().invoke(args=["desk", *args])


def test_anchor_then_verify_against_the_anchor_until_the_tail_is_cut(sqlite_engine, tmp_path):
    log = tmp_path / "anchors.log"
    app = _app(sqlite_engine, tmp_path, DESK_AUDIT_ANCHOR=f"file://{log}")
    assert _run(app, "create-unit", "DPA", "--name", "Directorate of Public Affairs").exit_code == 0
    assert _run(app, "create-unit", "CO11", "--name", "Public Order").exit_code == 0
    result = _run(app, "audit", "anchor")
    assert result.exit_code == 0, result.output
    head = log.read_text().split()[4]
    assert head.startswith("2:") and f"--expect-head {head}" in result.stdout

    verified = _run(app, "audit", "verify", "--expect-head", head)
    assert verified.exit_code == 0, verified.output
    assert f"Reaches the anchored head {head}" in verified.stdout and "Head: row 3" in verified.stdout

    with sqlite_engine.begin() as conn:  # someone with the rights to drop the guard cuts the tail
        conn.execute(text("DROP TRIGGER audit_events_no_delete"))
        conn.execute(text("DELETE FROM audit_events WHERE seq >= 2"))
    assert _run(app, "audit", "verify").exit_code == 0  # the chain alone cannot tell
    cut = _run(app, "audit", "verify", "--expect-head", head)
    assert cut.exit_code == 1 and "BROKEN at row 2" in cut.stderr and "cut from its end" in cut.stderr


def test_verify_against_the_anchor_catches_a_rebuilt_chain(sqlite_engine, tmp_path):
    app = _app(sqlite_engine, tmp_path)
    assert _run(app, "create-unit", "DPA", "--name", "Directorate of Public Affairs").exit_code == 0
    with app.extensions["desk.sessions"]() as s:
        row = audit_trail.event_row(s.scalars(select(AuditEvent)).one())
    anchored = f"1:{row['hash']}"
    row["details"] = '{"code":"DPA","name":"Someone Else"}'
    with sqlite_engine.begin() as conn:
        conn.execute(text("DROP TRIGGER audit_events_no_update"))
        conn.execute(text("UPDATE audit_events SET details = :d, hash = :h WHERE seq = 1"),
                     {"d": row["details"], "h": audit.row_hash(row)})
    assert _run(app, "audit", "verify").exit_code == 0
    rebuilt = _run(app, "audit", "verify", "--expect-head", anchored)
    assert rebuilt.exit_code == 1 and "rebuilt" in rebuilt.stderr and "rows before it are intact" not in rebuilt.stderr


def test_a_head_that_is_not_one_is_refused_before_anything_is_read(sqlite_engine, tmp_path):
    result = _run(_app(sqlite_engine, tmp_path), "audit", "verify", "--expect-head", "yesterday")
    assert result.exit_code == 2 and "SEQ:HASH" in result.output and "Traceback" not in result.output


def test_anchor_without_a_sink_or_to_a_failing_one_says_what_to_do(sqlite_engine, tmp_path):
    result = _run(_app(sqlite_engine, tmp_path), "audit", "anchor")
    assert result.exit_code == 1 and "DESK_AUDIT_ANCHOR is not set" in result.stderr
    failing = _app(sqlite_engine, tmp_path, DESK_AUDIT_ANCHOR="mailto:records@force.example",
                   DESK_SMTP_SERVER=f"127.0.0.1:{_free_port()}")
    result = _run(failing, "audit", "anchor")
    assert result.exit_code == 1 and "could not be sent" in result.stderr and "Traceback" not in result.output


def test_verify_says_where_the_keyed_chain_starts_and_whether_it_checked_it(sqlite_engine, tmp_path):
    plain, keyed = _app(sqlite_engine, tmp_path), _app(sqlite_engine, tmp_path, DESK_AUDIT_KEY=KEY)
    assert _run(plain, "create-unit", "DPA", "--name", "Directorate of Public Affairs").exit_code == 0
    assert "No row carries an HMAC (DESK_AUDIT_KEY is not set)" in _run(plain, "audit", "verify").stdout
    assert "the next row written starts the keyed chain" in _run(keyed, "audit", "verify").stdout
    assert _run(keyed, "create-unit", "CO11", "--name", "Public Order").exit_code == 0
    assert "Keyed from row 2: every row from there matches" in _run(keyed, "audit", "verify").stdout
    unchecked = _run(plain, "audit", "verify")
    assert unchecked.exit_code == 0 and "the HMACs were not checked" in unchecked.stdout
    refused = _run(plain, "create-unit", "X1", "--name", "Unit X")
    assert refused.exit_code == 1 and "DESK_AUDIT_KEY" in refused.stderr and "nothing was changed" in refused.stderr

