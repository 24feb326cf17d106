"""Fixtures: a migrated database (SQLite, and PostgreSQL when DESK_TEST_DATABASE_URL is set),
the app with CSRF on, and the personas of the desk."""
from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from desk.db import Base, make_engine, make_session_factory
from desk.migrate import upgrade
from desk.services.audit_trail import SystemActor

PG_URL = os.environ.get("DESK_TEST_DATABASE_URL")
OPERATOR = SystemActor("cli:test-setup")
PASSWORD = "correct horse battery"



@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing():
    """Argon2 with its production cost takes ~50 ms a hash; tests make hundreds. Same code, cheaper cost."""
    from argon2 import PasswordHasher

    from desk.services import accounts

    original = accounts._hasher
    accounts._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    accounts._hasher = original


DB_PARAMS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def _reset_postgres(engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))


@pytest.fixture(scope="session")
def pg_engine():
    if not PG_URL:
        pytest.skip("PostgreSQL tests need DESK_TEST_DATABASE_URL (e.g. postgresql+psycopg://postgres@127.0.0.1/test)")
    engine = make_engine(PG_URL)
    _reset_postgres(engine)
    upgrade(engine)
    yield engine
    engine.dispose()


def _truncate_postgres(engine) -> None:
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        conn.execute(text("ALTER TABLE audit_events ENABLE TRIGGER USER"))


@pytest.fixture(params=DB_PARAMS)
def engine(request, tmp_path):
    """A migrated, empty database: a fresh SQLite file, or the shared PostgreSQL one emptied."""
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'desk.sqlite'}")
        upgrade(eng)
        yield eng
        eng.dispose()
    else:
        eng = request.getfixturevalue("pg_engine")
        _truncate_postgres(eng)
        yield eng


@pytest.fixture
def sqlite_engine(tmp_path):
    eng = make_engine(f"sqlite:///{tmp_path / 'desk.sqlite'}")
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def sessions(engine):
    return make_session_factory(engine)


@pytest.fixture
def session(sessions):
    with sessions() as s:
        yield s


@pytest.fixture
def now():
    return datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


class World:
    """The personas and a unit with training channels, made through the real services."""

    def __init__(self, session):
        from desk.services import admin

        self.session = session
        s = session
        self.unit = admin.create_unit(s, OPERATOR, "DPA", "Directorate of Public Affairs")
        self.other_unit = admin.create_unit(s, OPERATOR, "CO11", "Public Order")
        # Units as the migration left existing ones: a role in the unit gives access to its channels.
        # New units need business-case grants (tests/test_grants.py makes its own units for those).
        self.unit.roles_grant_access = self.other_unit.roles_grant_access = True
        s.commit()
        mk = lambda email, name, **kw: admin.create_user(s, OPERATOR, email, name, PASSWORD, **kw)  # noqa: E731
        self.admin = mk("admin@desk.test", "Ada Admin", is_admin=True)
        self.manager = mk("manager@desk.test", "Mo Manager")
        self.author = mk("author@desk.test", "Pat Press", line_manager_email="manager@desk.test")
        self.approver = mk("approver@desk.test", "Sam Senior")
        self.approver2 = mk("approver2@desk.test", "Kim Head-of-News")
        self.auditor = mk("auditor@desk.test", "Alex Auditor", is_auditor=True)
        self.outsider = mk("outsider@desk.test", "Olly Other")
        for user, role in ((self.author, "author"), (self.approver, "approver"), (self.approver2, "approver"),
                           (self.approver, "author")):
            admin.add_membership(s, OPERATOR, user.id, self.unit.id, role)
        admin.add_membership(s, OPERATOR, self.outsider.id, self.other_unit.id, "author")
        self.channel = admin.create_channel(s, OPERATOR, self.unit.id, "training", "DPA training feed")
        self.channel2 = admin.create_channel(s, OPERATOR, self.unit.id, "training", "DPA two-key feed",
                                             approvals_required=2)
        self.other_channel = admin.create_channel(s, OPERATOR, self.other_unit.id, "training", "CO11 event feed")
        for u in (self.author, self.approver, self.approver2, self.outsider):
            s.refresh(u)


@pytest.fixture
def world(session):
    return World(session)


def in_hours(now, hours):
    return now + timedelta(hours=hours)


# ---- the web app, with CSRF on as in production -------------------------------------------

import re  # noqa: E402

from desk import create_app  # noqa: E402

CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


@pytest.fixture
def app(sqlite_engine, tmp_path):
    """Web tests run on SQLite: the database behaviour itself is covered on both in the service tests."""
    engine = sqlite_engine
    app = create_app({
        "TESTING": True,
        # Other pages' tests sign approvers in with a password alone; tests/test_web_two_factor.py turns it on.
        "TWO_FACTOR_ENFORCED": False,
        "DESK_ENGINE": engine,
        "ENV": {"DESK_ENV": "development", "DESK_SECRET_KEY": "test-secret", "DESK_TIMEZONE": "Europe/London",
                "DESK_MEDIA_DIR": str(tmp_path / "media"), "DESK_DATABASE_URL": str(engine.url)},
    })
    yield app


@pytest.fixture
def web_world(app):
    """The personas, in the app's own database."""
    with app.extensions["desk.sessions"]() as s:
        w = World(s)
        yield w


@pytest.fixture
def client(app):
    return app.test_client()


def csrf_from(html: str) -> str:
    m = CSRF_RE.search(html)
    assert m, "no CSRF token on the page"
    return m.group(1) or m.group(2)


def login(client, email: str, password: str = PASSWORD):
    page = client.get("/login")
    token = csrf_from(page.get_data(as_text=True))
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token},
                       follow_redirects=True)


def post_form(client, url: str, data: dict, page_url: str | None = None, **kw):
    """Submit a form as a browser would: with the CSRF token of the page it sits on."""
    page = client.get(page_url or url)
    data = dict(data)
    data.setdefault("csrf_token", csrf_from(page.get_data(as_text=True)))
    return client.post(url, data=data, **kw)
