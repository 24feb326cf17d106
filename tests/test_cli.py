"""The operator's command line, through Flask's CLI runner against the app's own SQLite database."""
from __future__ import annotations

import csv
import logging

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, text

from desk import create_app
from desk.db import make_engine
from desk.migrate import current_revision
from desk.models import AuditEvent, Channel, Membership, Post, Unit, User
from desk.services import accounts, audit_trail

from conftest import PASSWORD


@pytest.fixture
def run(app):
    runner = app.test_cli_runner()

    def invoke(*args, input=None):
        return runner.invoke(args=["desk", *args], input=input)

    return invoke


@pytest.fixture
def db(app):
    with app.extensions["desk.sessions"]() as s:
        yield s


def failed(result, *words):
    """A refusal: non-zero exit, one clear line on stderr naming the problem, never a traceback."""
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    for w in words:
        assert w in result.stderr, result.stderr
    return result.stderr


def test_upgrade_db_migrates_an_empty_database(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.sqlite'}")
    app = create_app({"TESTING": True, "DESK_ENGINE": engine, "ENV": {"DESK_SECRET_KEY": "t"}})
    result = app.test_cli_runner().invoke(args=["desk", "upgrade-db"])
    assert result.exit_code == 0, result.output
    assert current_revision(engine) is not None
    assert f"revision {current_revision(engine)}" in result.stdout
    engine.dispose()


def test_the_derived_token_key_is_said_once_by_upgrade_db_and_not_by_every_process(tmp_path, caplog, monkeypatch):
    monkeypatch.delenv("DESK_TOKEN_KEY", raising=False)
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.sqlite'}")
    with caplog.at_level(logging.INFO):
        app = create_app({"TESTING": True, "DESK_ENGINE": engine,
                          "ENV": {"DESK_SECRET_KEY": "t", "DESK_ENV": "development"}})
    assert "DESK_TOKEN_KEY" not in caplog.text  # each web process, the worker and every command build an app
    result = app.test_cli_runner().invoke(args=["desk", "upgrade-db"])
    assert result.exit_code == 0, result.output
    assert result.stderr.count("DESK_TOKEN_KEY is not set") == 1
    assert "DESK_TOKEN_KEY" not in result.stdout

    key = Fernet.generate_key().decode()
    keyed = create_app({"TESTING": True, "DESK_ENGINE": engine,
                        "ENV": {"DESK_SECRET_KEY": "t", "DESK_ENV": "development", "DESK_TOKEN_KEY": key}})
    result = keyed.test_cli_runner().invoke(args=["desk", "upgrade-db"])
    assert result.exit_code == 0 and "DESK_TOKEN_KEY" not in result.output
    engine.dispose()


def test_create_unit_and_its_refusals(run, db):
    result = run("create-unit", "co12", "--name", "Public Order West")
    assert result.exit_code == 0, result.output
    unit = db.scalar(select(Unit).where(Unit.code == "CO12"))
    assert unit.name == "Public Order West"
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "unit.created"))
    assert event.actor.startswith("cli:")
    failed(run("create-unit", "CO12", "--name", "Again"), "already exists")
    failed(run("create-unit", "no spaces!", "--name", "X"), "CODE", "letters")
    failed(run("create-unit", "CO13"), "--name")


def test_create_user_reads_the_password_from_stdin(run, db):
    assert run("create-user", "boss@desk.test", "--name", "Bo Boss", "--password-stdin",
               input=PASSWORD + "\n").exit_code == 0
    result = run("create-user", "Clerk@Desk.test", "--name", "Cy Clerk", "--password-stdin", "--auditor",
                 "--line-manager", "boss@desk.test", input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    clerk = accounts.find_user(db, "clerk@desk.test")
    assert clerk.is_auditor and not clerk.is_admin and clerk.line_manager.email == "boss@desk.test"
    assert accounts.sign_in(db, "clerk@desk.test", PASSWORD) is not None
    assert PASSWORD not in " ".join(db.scalars(select(AuditEvent.details)))

    failed(run("create-user", "boss@desk.test", "--name", "Twin", "--password-stdin", input=PASSWORD + "\n"),
           "already exists")
    failed(run("create-user", "new@desk.test", "--name", "New", "--password-stdin", input="\n"),
           "No password on standard input")
    failed(run("create-user", "new@desk.test", "--name", "New"), "--password-stdin")
    failed(run("create-user", "new@desk.test", "--name", "New", "--password-stdin", input="short\n"),
           "the password", "10 characters")
    failed(run("create-user", "new@desk.test", "--name", "New", "--password-stdin", "--line-manager",
               "ghost@desk.test", input=PASSWORD + "\n"), "--line-manager", "ghost@desk.test")
    assert accounts.find_user(db, "new@desk.test") is None


def test_create_admin(run, db):
    assert run("create-user", "root@desk.test", "--name", "Ro Root", "--password-stdin", "--admin",
               input=PASSWORD + "\n").exit_code == 0
    assert accounts.find_user(db, "root@desk.test").is_admin


def test_add_membership(run, db, web_world):
    result = run("add-membership", "outsider@desk.test", "dpa", "approver")
    assert result.exit_code == 0, result.output
    assert db.scalar(select(Membership).where(Membership.user_id == web_world.outsider.id,
                                              Membership.unit_id == web_world.unit.id, Membership.role == "approver"))
    failed(run("add-membership", "outsider@desk.test", "DPA", "boss"), "ROLE", "author, approver, unit_admin")
    failed(run("add-membership", "outsider@desk.test", "NOPE", "author"), "no unit 'NOPE'", "DPA")
    failed(run("add-membership", "ghost@desk.test", "DPA", "author"), "no user 'ghost@desk.test'")
    failed(run("add-membership", "outsider@desk.test", "DPA", "approver"), "already approver")


def test_create_channel_prints_only_its_id(run, db, web_world):
    result = run("create-channel", "--unit", "CO11", "--platform", "training", "--name", "CO11 march feed",
                 "--approvals-required", "2")
    assert result.exit_code == 0, result.output
    channel = db.get(Channel, int(result.stdout.strip()))
    assert (channel.name, channel.unit_id, channel.approvals_required) == (
        "CO11 march feed", web_world.other_unit.id, 2)
    failed(run("create-channel", "--unit", "XX", "--platform", "training", "--name", "N"), "no unit 'XX'")
    failed(run("create-channel", "--unit", "DPA", "--platform", "myspace", "--name", "N"), "--platform", "training")
    failed(run("create-channel", "--unit", "DPA", "--platform", "training", "--name", "N",
               "--approvals-required", "9"), "--approvals-required", "Between 1 and 5")
    failed(run("create-channel", "--unit", "DPA", "--platform", "training", "--name", "N",
               "--approvals-required", "two"), "not a valid integer")


def test_create_token_prints_a_working_token(run, db, web_world):
    result = run("create-token", "author@desk.test")
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert "\n" not in token and token.startswith(accounts.TOKEN_PREFIX)
    assert accounts.user_for_token(db, token).id == web_world.author.id
    assert token not in " ".join(db.scalars(select(AuditEvent.details)))
    failed(run("create-token", "ghost@desk.test"), "no user 'ghost@desk.test'")


def test_demo_loads_once(run, db):
    result = run("demo")
    assert result.exit_code == 0, result.output
    assert "press@desk.example" in result.stdout and "demo-password-1" in result.stdout
    assert db.scalar(select(Channel).where(Channel.name == "CO11 event feed (training)")).approvals_required == 2
    assert sorted(p.status for p in db.scalars(select(Post))) == ["draft", "in_review"]
    assert accounts.sign_in(db, "co11.lead@desk.example", "demo-password-1")
    press = accounts.find_user(db, "press@desk.example")
    assert press.line_manager.email == "approver@desk.example"
    users = db.scalar(select(User.id).order_by(User.id.desc()))

    failed(run("demo"), "already has users", "Nothing was changed")
    again = run("demo", "--if-empty")
    assert again.exit_code == 0 and "not loaded" in again.stdout and "press@desk.example" in again.stdout
    assert db.scalar(select(User.id).order_by(User.id.desc())) == users
    assert run("audit", "verify").exit_code == 0


def test_audit_verify_intact_then_broken(app, run, web_world):
    result = run("audit", "verify")
    assert result.exit_code == 0, result.output
    with app.extensions["desk.sessions"]() as s:
        rows = audit_trail.verify(s).checked
    assert f"Audit chain intact: {rows} rows" in result.stdout

    with app.extensions["desk.engine"].begin() as conn:
        conn.execute(text("DROP TRIGGER audit_events_no_update"))
        conn.execute(text("UPDATE audit_events SET details = '{\"role\":\"unit_admin\"}' WHERE seq = 5"))
    result = run("audit", "verify")
    assert result.exit_code == 1
    failed(result, "row 5", "altered")


def test_audit_verify_names_a_deleted_row(app, run, web_world):
    with app.extensions["desk.engine"].begin() as conn:
        conn.execute(text("DROP TRIGGER audit_events_no_delete"))
        conn.execute(text("DELETE FROM audit_events WHERE seq = 3"))
    failed(run("audit", "verify"), "row 3", "deleted")


def test_audit_export_csv_with_filters(run, web_world, tmp_path):
    everything = tmp_path / "all.csv"
    result = run("audit", "export", "--csv", str(everything))
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(everything.open(encoding="utf-8")))
    assert rows[0]["action"] == "unit.created" and [int(r["seq"]) for r in rows] == list(range(1, len(rows) + 1))
    assert f"Wrote {len(rows)} audit events" in result.stderr

    units = tmp_path / "units.csv"
    assert run("audit", "export", "--csv", str(units), "--action", "unit.*", "--since", "2000-01-01").exit_code == 0
    assert [r["details"] for r in csv.DictReader(units.open(encoding="utf-8"))] == [
        '{"code":"DPA","name":"Directorate of Public Affairs"}', '{"code":"CO11","name":"Public Order"}']

    none = tmp_path / "none.csv"
    assert run("audit", "export", "--csv", str(none), "--until", "2000-01-01").exit_code == 0
    assert list(csv.DictReader(none.open(encoding="utf-8"))) == []

    failed(run("audit", "export", "--csv", str(tmp_path / "x.csv"), "--unit", "NOPE"), "no unit 'NOPE'")
    failed(run("audit", "export", "--csv", str(tmp_path / "x.csv"), "--since", "yesterday"), "--since", "YYYY-MM-DD")
    assert not (tmp_path / "x.csv").exists()
    # Taking a copy of the trail is itself recorded, and the chain stays intact.
    assert run("audit", "verify").exit_code == 0
