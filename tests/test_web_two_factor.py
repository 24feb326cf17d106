"""Two-factor sign-in in the browser flow: approvers must set it up first, the code step, recovery codes,
an administrator's reset, and the sign-in rate limits (memory, and Redis when it is running)."""
import re
import time
import uuid
from datetime import UTC, datetime, timezone

import pyotp
import pytest
from sqlalchemy import select

from desk import create_app
from desk.domain import two_factor as rules
from desk.models import AuditEvent, User
from desk.services import accounts
from desk.services import two_factor as svc

from conftest import PASSWORD, csrf_from, login, post_form


@pytest.fixture
def strict(app):
    app.config["TWO_FACTOR_ENFORCED"] = True
    return app


def audit(app, action):
    with app.extensions["desk.sessions"]() as s:
        return s.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)).all()


def set_up(client) -> tuple[str, list[str]]:
    """Set up two-factor sign-in from the settings page, as a person would; returns the key and the codes."""
    post_form(client, "/account/two-factor/start", {}, page_url="/account/two-factor")
    page = client.get("/account/two-factor/enrol").get_data(as_text=True)
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', page).group(1)
    assert "<svg" in page and "<path" in page  # the QR code, inline
    done = post_form(client, "/account/two-factor/confirm", {"code": pyotp.TOTP(secret).now()},
                     page_url="/account/two-factor/enrol")
    html = done.get_data(as_text=True)
    assert done.status_code == 200 and "shown <strong>this once</strong>" in html
    assert done.headers["Cache-Control"] == "no-store"
    return secret, re.findall(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>", html)


def next_code(secret: str) -> str:
    """The next time step's code: the current one was spent setting up (and is refused a second time)."""
    return pyotp.TOTP(secret).at(int(time.time()), counter_offset=1)


def sign_in_with_code(client, email, code):
    first = login(client, email)
    assert "Sign-in code" in first.get_data(as_text=True)
    return post_form(client, "/login/code", {"code": code}, follow_redirects=True)


def test_an_approver_must_set_up_two_factors_before_anything_else(strict, client, web_world):
    with strict.extensions["desk.sessions"]() as s:
        token = accounts.create_token(s, web_world.admin, s.get(User, web_world.approver.id))
    page = login(client, web_world.approver.email)
    assert "Approvers and administrators sign in with two factors" in page.get_data(as_text=True)
    assert client.get("/posts/").headers["Location"].endswith("/account/two-factor")
    # The API keeps its own second factor (the token itself): it is not sent to set anything up.
    me = strict.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.get_json()["email"] == web_world.approver.email
    assert client.get("/approvals/").status_code == 302
    secret, codes = set_up(client)
    assert len(codes) == 10
    assert client.get("/approvals/").status_code == 200
    with strict.extensions["desk.sessions"]() as s:
        assert s.get(User, web_world.approver.id).totp_enabled_at is not None


def test_an_author_is_not_forced_and_may_set_it_up(strict, client, web_world):
    login(client, web_world.author.email)
    assert client.get("/posts/").status_code == 200
    assert "It is optional for you" in client.get("/account/two-factor").get_data(as_text=True)
    secret, old_codes = set_up(client)
    assert "10 recovery codes left" in client.get("/account/two-factor").get_data(as_text=True)
    renewed = post_form(client, "/account/two-factor/recovery-codes", {"renew-code": next_code(secret)},
                        page_url="/account/two-factor")
    new_codes = re.findall(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>", renewed.get_data(as_text=True))
    assert len(new_codes) == 10 and set(new_codes).isdisjoint(old_codes)
    # Turning it off takes a fresh code: the one just used is refused.
    refused = post_form(client, "/account/two-factor/off", {"off-code": next_code(secret)},
                        page_url="/account/two-factor", follow_redirects=True)
    assert "That code has been used already" in refused.get_data(as_text=True)
    off = post_form(client, "/account/two-factor/off", {"off-code": new_codes[0]}, page_url="/account/two-factor",
                    follow_redirects=True)
    assert "Two-factor sign-in is off for your account." in off.get_data(as_text=True)


def test_enrolled_people_give_a_code_at_each_sign_in_and_a_code_works_once(strict, client, web_world):
    login(client, web_world.approver.email)
    secret, _ = set_up(client)
    post_form(client, "/logout", {}, page_url="/account/two-factor")
    # The password alone signs nobody in.
    login(client, web_world.approver.email)
    assert client.get("/approvals/").headers["Location"].startswith("/login")
    code = next_code(secret)
    done = post_form(client, "/login/code", {"code": code}, follow_redirects=True)
    assert done.request.path == "/dashboard"
    post_form(client, "/logout", {}, page_url="/dashboard")
    again = sign_in_with_code(client, web_world.approver.email, code)
    assert "That code has been used already" in again.get_data(as_text=True)
    assert client.get("/approvals/").status_code == 302
    assert len(audit(strict, "two_factor.code_accepted")) == 1
    assert '"reason":"code already used"' in audit(strict, "two_factor.code_refused")[-1].details


def test_a_recovery_code_signs_in_once(strict, client, web_world):
    login(client, web_world.approver.email)
    _, codes = set_up(client)
    post_form(client, "/logout", {}, page_url="/dashboard")
    done = sign_in_with_code(client, web_world.approver.email, codes[0])
    assert done.request.path == "/dashboard" and "9 left" in done.get_data(as_text=True)
    post_form(client, "/logout", {}, page_url="/dashboard")
    again = sign_in_with_code(client, web_world.approver.email, codes[0])
    assert "That recovery code has been used already" in again.get_data(as_text=True)


def test_an_administrator_resets_and_the_person_sets_up_again(strict, client, web_world, app):
    with app.extensions["desk.sessions"]() as s:  # the admin needs two factors too: give them theirs
        admin = s.get(User, web_world.admin.id)
        enrolment = svc.start_enrolment(s, admin)
        now = datetime.now(UTC)
        svc.confirm_enrolment(s, admin, rules.code_for_step(enrolment.secret, rules.step_at(now)), now=now)
    login(client, web_world.approver.email)
    set_up(client)
    post_form(client, "/logout", {}, page_url="/dashboard")

    sign_in_with_code(client, web_world.admin.email, next_code(enrolment.secret))
    url = f"/admin/users/{web_world.approver.id}/two-factor"
    assert "10 recovery codes left" in client.get(url).get_data(as_text=True)
    refused = post_form(client, url, {"reason": ""})
    assert "Say why, for the audit trail." in refused.get_data(as_text=True)
    done = post_form(client, url, {"reason": "Lost phone; identity checked in person"}, follow_redirects=True)
    assert "is reset" in done.get_data(as_text=True) and "Not set up." in done.get_data(as_text=True)
    assert f"/admin/users/{web_world.approver.id}/two-factor" in client.get(
        f"/admin/users/{web_world.approver.id}").get_data(as_text=True)
    post_form(client, "/logout", {}, page_url="/dashboard")
    login(client, web_world.approver.email)
    assert client.get("/approvals/").headers["Location"].endswith("/account/two-factor")
    assert "Lost phone" in audit(app, "two_factor.reset")[0].details


def test_only_administrators_open_the_reset_page(client, web_world, app):
    login(client, web_world.approver.email)
    assert client.get(f"/admin/users/{web_world.author.id}/two-factor").status_code == 403


def test_an_operator_resets_two_factor_sign_in_from_the_command_line(app, web_world):
    with app.extensions["desk.sessions"]() as s:
        person = s.get(User, web_world.admin.id)
        enrolment = svc.start_enrolment(s, person)
        svc.confirm_enrolment(s, person, rules.code_for_step(enrolment.secret, rules.step_at(datetime.now(UTC))))
    runner = app.test_cli_runner()
    missing = runner.invoke(args=["desk", "reset-two-factor", web_world.admin.email])
    assert missing.exit_code != 0 and "--reason" in missing.output
    done = runner.invoke(args=["desk", "reset-two-factor", web_world.admin.email, "--reason", "last admin lost phone"])
    assert done.exit_code == 0, done.output
    with app.extensions["desk.sessions"]() as s:
        assert s.get(User, web_world.admin.id).totp_enabled_at is None
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "two_factor.reset"))
        assert event.actor.startswith("cli:") and "last admin lost phone" in event.details


# ---- rate limits -----------------------------------------------------------------------------------

def attempt(client, email, password):
    page = client.get("/login")
    return client.post("/login", data={"email": email, "password": password,
                                       "csrf_token": csrf_from(page.get_data(as_text=True))})


def test_failed_sign_ins_are_limited_per_account_with_a_clear_message(client, web_world, app):
    for _ in range(5):
        assert attempt(client, web_world.author.email, "wrong password!").status_code == 200
    blocked = attempt(client, web_world.author.email.upper(), PASSWORD)  # even the right password now
    html = blocked.get_data(as_text=True)
    assert blocked.status_code == 429
    assert "Too many sign-in attempts for this account: wait 15 minutes or ask an administrator." in html
    assert client.get("/posts/").status_code == 302  # not signed in
    events = audit(app, "auth.rate_limited")
    assert len(events) == 1 and '"scope":"account"' in events[0].details
    assert events[0].object_id == str(web_world.author.id)
    # Someone else from the same address is not blocked by this account's limit.
    assert login(client, web_world.approver.email).request.path == "/dashboard"


def test_wrong_codes_count_against_the_account_too(strict, client, web_world, app):
    login(client, web_world.author.email)
    set_up(client)
    post_form(client, "/logout", {}, page_url="/dashboard")
    login(client, web_world.author.email)
    for _ in range(5):
        post_form(client, "/login/code", {"code": "000000"})
    blocked = post_form(client, "/login/code", {"code": "000000"})
    assert blocked.status_code == 429 and "Too many sign-in attempts for this account" in blocked.get_data(as_text=True)


def make_app(tmp_path, sqlite_engine, **extra_env):
    return create_app({
        "TESTING": True, "DESK_ENGINE": sqlite_engine, "DESK_SIGN_IN_ADDRESS_LIMIT": "3 per 15 minutes",
        **extra_env.pop("config", {}),
        "ENV": {"DESK_ENV": "development", "DESK_SECRET_KEY": "test-secret", "DESK_MEDIA_DIR": str(tmp_path),
                **extra_env},
    })


def test_failed_sign_ins_are_limited_per_address(tmp_path, sqlite_engine):
    app = make_app(tmp_path, sqlite_engine)
    client = app.test_client()
    for n in range(3):
        attempt(client, f"nobody{n}@desk.test", "guess")
    blocked = attempt(client, "someone-else@desk.test", "guess")
    assert blocked.status_code == 429
    assert "Too many sign-in attempts for this network address: wait 15 minutes" in blocked.get_data(as_text=True)
    assert '"scope":"address"' in audit(app, "auth.rate_limited")[0].details


def _redis_or_skip(url):
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except redis.exceptions.RedisError as exc:
        pytest.skip(f"no Redis at {url} ({type(exc).__name__}): the shared-storage test needs one running")
    return redis.Redis.from_url(url)


def test_with_desk_redis_url_the_count_is_shared_between_processes(tmp_path, sqlite_engine):
    url = "redis://127.0.0.1:6379/0"
    redis = _redis_or_skip(url)
    prefix = f"desk-test-{uuid.uuid4().hex[:8]}"
    try:
        # Two apps stand for two web processes: nothing is shared between them but Redis.
        one = make_app(tmp_path, sqlite_engine, DESK_REDIS_URL=url, config={"RATELIMIT_KEY_PREFIX": prefix})
        two = make_app(tmp_path, sqlite_engine, DESK_REDIS_URL=url, config={"RATELIMIT_KEY_PREFIX": prefix})
        assert type(one.extensions["desk.sign_in_limits"].limiter.storage).__name__ == "RedisStorage"
        for _ in range(3):
            attempt(one.test_client(), "target@desk.test", "guess")
        assert redis.keys(f"*{prefix}*")
        blocked = attempt(two.test_client(), "other@desk.test", "guess")
        assert blocked.status_code == 429 and "network address" in blocked.get_data(as_text=True)
    finally:
        for key in redis.keys(f"*{prefix}*"):
            redis.delete(key)
