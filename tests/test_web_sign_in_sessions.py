"""Sessions that end when they should: at sign-out (a copy of the cookie dies with it), everywhere at once, on a
password change or a deactivation, after 30 minutes without use, and 12 hours after signing in whatever."""
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from desk import create_app
from desk.config import ConfigError, settings_from_env
from desk.domain import sign_in_sessions as rules
from desk.models import AuditEvent, SignInSession
from desk.services import admin

from conftest import OPERATOR, PASSWORD, login, post_form

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
IDLE, LIFETIME = timedelta(minutes=30), timedelta(hours=12)


# ---- the rules ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("last_seen, now, ended, why", [
    (T0, T0 + timedelta(minutes=29), False, None),
    (T0, T0 + timedelta(minutes=30), False, None),
    (T0, T0 + timedelta(minutes=30, seconds=1), False, "idle"),
    (T0 + timedelta(hours=11, minutes=59), T0 + timedelta(hours=12), False, None),
    (T0 + timedelta(hours=11, minutes=59), T0 + timedelta(hours=12, seconds=1), False, "expired"),
    (T0, T0 + timedelta(minutes=1), True, "ended"),
])
def test_why_a_session_is_over(last_seen, now, ended, why):
    assert rules.why_over(T0, last_seen, T0 if ended else None, now, IDLE, LIFETIME) == why


def test_last_use_is_written_at_most_once_a_minute():
    assert not rules.due_a_touch(T0, T0 + timedelta(seconds=59))
    assert rules.due_a_touch(T0, T0 + timedelta(seconds=60))


def test_the_settings_and_their_defaults(tmp_path):
    s = settings_from_env(str(tmp_path), {})
    assert (s.session_idle_minutes, s.session_max_hours) == (30, 12)
    s = settings_from_env(str(tmp_path), {"DESK_SESSION_IDLE_MINUTES": "15", "DESK_SESSION_MAX_HOURS": "8"})
    assert (s.session_idle_minutes, s.session_max_hours) == (15, 8)
    for env in ({"DESK_SESSION_IDLE_MINUTES": "0"}, {"DESK_SESSION_MAX_HOURS": "half a day"},
                {"DESK_SESSION_IDLE_MINUTES": "900", "DESK_SESSION_MAX_HOURS": "12"}):
        with pytest.raises(ConfigError) as exc:
            settings_from_env(str(tmp_path), env)
        assert "DESK_SESSION_" in str(exc.value)


# ---- in the web desk ---------------------------------------------------------------------------------

def audit(app, action):
    with app.extensions["desk.sessions"]() as s:
        return s.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)).all()


def cookie_of(client) -> str:
    return client.get_cookie("session").value


def with_cookie(app, value):
    other = app.test_client()
    other.set_cookie("session", value)
    return other


def signed_in(client) -> bool:
    return client.get("/dashboard").status_code == 200


def test_a_copy_of_the_cookie_dies_at_sign_out(app, client, web_world):
    login(client, web_world.author.email)
    copied = cookie_of(client)
    assert signed_in(with_cookie(app, copied))  # the copy works while the session lives
    post_form(client, "/logout", {}, page_url="/dashboard")
    assert not signed_in(client)
    refused = with_cookie(app, copied).get("/dashboard")
    assert refused.status_code == 302 and "/login" in refused.headers["Location"]
    [started] = audit(app, "auth.session_started")
    [signed_out] = audit(app, "auth.sign_out")
    assert json.loads(started.details)["session"] == json.loads(signed_out.details)["session"]


def test_each_sign_in_is_its_own_session(app, web_world):
    desk_pc, phone = app.test_client(), app.test_client()
    login(desk_pc, web_world.author.email)
    login(phone, web_world.author.email)
    post_form(phone, "/logout", {}, page_url="/dashboard")
    assert signed_in(desk_pc) and not signed_in(phone)


def test_sign_out_everywhere_ends_every_session_of_the_person_alone(app, web_world):
    desk_pc, phone, colleague = app.test_client(), app.test_client(), app.test_client()
    login(desk_pc, web_world.author.email)
    login(phone, web_world.author.email)
    login(colleague, web_world.approver.email)
    page = phone.get("/account/sessions").get_data(as_text=True)
    assert "Sign out everywhere" in page and page.count('class="sign-in-session') == 2
    done = post_form(phone, "/account/sessions/end-all", {}, page_url="/account/sessions", follow_redirects=True)
    assert "signed out everywhere (2 sign-ins ended)" in done.get_data(as_text=True)
    assert not signed_in(desk_pc) and not signed_in(phone)
    assert signed_in(colleague)
    [event] = audit(app, "auth.signed_out_everywhere")
    assert event.actor == web_world.author.email and '"sessions_ended":2' in event.details


@pytest.mark.parametrize("change, reason", [({"password": "a brand new password"}, "password_changed"),
                                            ({"active": False}, "account_disabled")])
def test_a_password_change_or_a_deactivation_ends_the_persons_sessions(app, client, web_world, change, reason):
    login(client, web_world.author.email)
    copied = with_cookie(app, cookie_of(client))
    with app.extensions["desk.sessions"]() as s:
        admin.update_user(s, OPERATOR, web_world.author.id, **change)
    assert not signed_in(client) and not signed_in(copied)
    [event] = audit(app, "user.updated")
    assert '"sessions_ended":1' in event.details
    with app.extensions["desk.sessions"]() as s:
        assert s.scalar(select(SignInSession.end_reason)) == reason
    if "active" in change:  # brought back, the person signs in afresh: the old session stays over
        with app.extensions["desk.sessions"]() as s:
            admin.update_user(s, OPERATOR, web_world.author.id, active=True)
        assert not signed_in(copied)


def _age(app, **times):
    """Move the session's recorded times back, as if that long had passed."""
    with app.extensions["desk.sessions"]() as s:
        s.execute(update(SignInSession).values(**times))
        s.commit()


def test_half_an_hour_without_use_ends_the_session(app, client, web_world):
    login(client, web_world.author.email)
    now = datetime.now(UTC)
    _age(app, last_seen_at=now - timedelta(minutes=29))
    assert signed_in(client)  # and the use is written down
    with app.extensions["desk.sessions"]() as s:
        assert s.scalar(select(SignInSession.last_seen_at)) > now - timedelta(minutes=1)
    _age(app, last_seen_at=now - timedelta(minutes=31))
    page = client.get("/dashboard", follow_redirects=True).get_data(as_text=True)
    assert "30 minutes without use" in page and "Sign in" in page
    assert not signed_in(client)


def test_twelve_hours_after_signing_in_the_session_ends_however_busy(app, client, web_world):
    login(client, web_world.author.email)
    _age(app, started_at=datetime.now(UTC) - timedelta(hours=12, minutes=1))
    page = client.get("/posts/", follow_redirects=True).get_data(as_text=True)
    assert "12 hours" in page
    assert not signed_in(client)


def test_the_idle_timeout_is_the_settings(sqlite_engine, tmp_path):
    app = create_app({"TESTING": True, "TWO_FACTOR_ENFORCED": False, "DESK_ENGINE": sqlite_engine,
                      "ENV": {"DESK_SECRET_KEY": "test-secret", "DESK_SESSION_IDLE_MINUTES": "5",
                              "DESK_MEDIA_DIR": str(tmp_path / "media")}})
    with app.extensions["desk.sessions"]() as s:
        admin.create_user(s, OPERATOR, "pat@desk.test", "Pat Press", PASSWORD)
    client = app.test_client()
    login(client, "pat@desk.test")
    _age(app, last_seen_at=datetime.now(UTC) - timedelta(minutes=6))
    assert "5 minutes without use" in client.get("/dashboard", follow_redirects=True).get_data(as_text=True)


def test_a_cookie_from_before_sessions_were_kept_signs_in_again(app, client, web_world):
    login(client, web_world.author.email)
    with client.session_transaction() as cookie:
        cookie.pop(rules.COOKIE_KEY)
    assert not signed_in(client)
