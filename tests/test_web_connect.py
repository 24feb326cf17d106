"""Connecting an X account from the desk's pages: the whole redirect dance through the desk's own routes
(Flask's test client at the desk, the fake X on 127.0.0.1 for the consent page), refusals, Reconnect."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import select, update
from test_web_posts import as_user, text_of

from desk import create_app, crypto
from desk.models import AuditEvent, Channel, ConnectionAttempt
from tests.fakes.fake_x import FakeX
from tests.fakes.server import FakeServer

from conftest import csrf_from, post_form


@pytest.fixture
def fake_x(monkeypatch):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the fake speaks plain HTTP on 127.0.0.1
    fake = FakeX()
    with FakeServer(fake) as server:
        fake.server = server
        yield fake


def x_env(fake) -> dict:
    return {"DESK_X_API_BASE": fake.server.url, "DESK_X_AUTHORIZE_URL": fake.server.url + "/i/oauth2/authorize",
            "DESK_X_CONSUMER_KEY": fake.consumer_key, "DESK_X_CONSUMER_SECRET": fake.consumer_secret,
            "DESK_X_CLIENT_ID": fake.client_id, "DESK_X_CLIENT_SECRET": fake.client_secret}


@pytest.fixture
def app(sqlite_engine, tmp_path, fake_x):
    """The desk with X's variables pointing at the fake X, as an operator would set them."""
    return create_app({
        "TESTING": True, "DESK_ENGINE": sqlite_engine, "TWO_FACTOR_ENFORCED": False,
        "ENV": {"DESK_ENV": "development", "DESK_SECRET_KEY": "test-secret", "DESK_TIMEZONE": "Europe/London",
                "DESK_MEDIA_DIR": str(tmp_path / "media"), "DESK_DATABASE_URL": str(sqlite_engine.url),
                **x_env(fake_x)},
    })


def words(resp) -> str:
    """The page's text without its tags, as a person reads it."""
    return " ".join(re.sub(r"<[^>]+>", " ", text_of(resp)).split())


def platform_env(app) -> dict:
    return app.config["DESK_SETTINGS"].extra["platform_env"]


def press_connect(client, unit_id, platform="x"):
    """Choose the unit and press Connect on the Channels page, as a person does."""
    page = client.get("/channels/").get_data(as_text=True)
    token = re.search(rf'id="{platform}-csrf_token" name="{platform}-csrf_token" type="hidden" value="([^"]+)"',
                      page).group(1)
    return client.post(f"/channels/connect/{platform}", data={f"{platform}-unit": unit_id,
                                                              f"{platform}-csrf_token": token})


def through_consent(client, resp):
    """The browser at X's consent page, then back at the desk's callback; returns the desk's answer."""
    assert resp.status_code == 302, text_of(resp)
    at_x = requests.get(resp.headers["Location"], allow_redirects=False, timeout=5)
    assert at_x.status_code == 302
    back = urlsplit(at_x.headers["Location"])
    assert (back.scheme, back.netloc) == ("http", "localhost")  # the desk's own external address
    return client.get(f"{back.path}?{back.query}")


def test_an_administrator_connects_x_and_sees_the_account(app, web_world, fake_x):
    w = web_world
    admin = as_user(app, w.admin.email)
    page = text_of(admin.get("/channels/"))
    assert "Connect an account" in page and "Connect X" in page and "— choose a unit —" in page
    start = press_connect(admin, w.other_unit.id)
    assert start.headers["Location"].startswith(fake_x.server.url + "/oauth/authorize?oauth_token=")
    back = through_consent(admin, start)
    with app.extensions["desk.sessions"]() as s:
        channel = s.scalar(select(Channel).where(Channel.platform == "x"))
        credentials = crypto.decrypt_json(channel.credentials)
    assert back.status_code == 302 and back.headers["Location"] == f"/channels/{channel.id}"
    assert channel.unit_id == w.other_unit.id
    shown = admin.get(f"/channels/{channel.id}")
    html, said = shown.get_data(as_text=True), words(shown)
    assert "Connected Met Police Events (@MetPoliceEvents) as a channel of CO11: its authors can post" in said
    assert "Met Police Events @MetPoliceEvents account id 1500000000000000001" in said
    assert credentials["oauth_token"] not in html and credentials["oauth_token_secret"] not in html
    listing = admin.get("/channels/").get_data(as_text=True)
    assert f'href="/channels/{channel.id}"' in listing and credentials["oauth_token"] not in listing
    # the people of the unit see the channel and its account, not how to connect
    outsider = as_user(app, w.outsider.email)
    assert "@MetPoliceEvents" in text_of(outsider.get(f"/channels/{channel.id}"))
    assert "Connect an account" not in text_of(outsider.get("/channels/"))
    assert as_user(app, w.author.email).get(f"/channels/{channel.id}").status_code == 403


def test_oauth2_the_state_comes_back_from_x(app, web_world, fake_x):
    platform_env(app)["DESK_X_AUTH"] = "oauth2"
    admin = as_user(app, web_world.admin.email)
    start = press_connect(admin, web_world.unit.id)
    assert "/i/oauth2/authorize?" in start.headers["Location"]
    assert "redirect_uri=http%3A%2F%2Flocalhost%2Fchannels%2Fconnect%2Fx%2Fcallback&" in start.headers["Location"]
    back = through_consent(admin, start)
    assert back.status_code == 302 and back.headers["Location"].startswith("/channels/")
    with app.extensions["desk.sessions"]() as s:
        channel = s.scalar(select(Channel).where(Channel.platform == "x"))
        assert crypto.decrypt_json(channel.credentials)["mode"] == "oauth2"


def test_declined_consent_says_so_on_the_channels_page(app, web_world, fake_x):
    admin = as_user(app, web_world.admin.email)
    fake_x.deny_next_consent = True
    back = through_consent(admin, press_connect(admin, web_world.unit.id))
    assert back.headers["Location"] == "/channels/"
    assert "The X consent was cancelled: nothing was connected." in text_of(admin.get("/channels/"))
    with app.extensions["desk.sessions"]() as s:
        assert not s.scalars(select(Channel).where(Channel.platform == "x")).all()
        assert s.scalar(select(AuditEvent).where(AuditEvent.action == "connection.cancelled")) is not None


def test_the_callback_refuses_another_person_and_a_replay(app, web_world, fake_x):
    admin = as_user(app, web_world.admin.email)
    at_x = requests.get(press_connect(admin, web_world.unit.id).headers["Location"], allow_redirects=False, timeout=5)
    back = urlsplit(at_x.headers["Location"])
    callback = f"{back.path}?{back.query}"
    manager = as_user(app, web_world.manager.email)
    assert manager.get(callback).status_code == 403
    assert admin.get(callback).status_code == 302
    again = admin.get(callback)
    assert again.headers["Location"] == "/channels/"
    assert "already been finished" in text_of(admin.get("/channels/"))
    unknown = admin.get("/channels/connect/x/callback?state=nope&oauth_token=t&oauth_verifier=v")
    assert unknown.headers["Location"] == "/channels/"
    assert "not one the desk started" in text_of(admin.get("/channels/"))
    assert app.test_client().get(callback).status_code == 302  # signed out: to the sign-in page first


def test_not_configured_is_shown_with_what_to_set(app, web_world):
    for name in ("DESK_X_CONSUMER_KEY", "DESK_X_CONSUMER_SECRET", "DESK_X_CLIENT_ID"):
        platform_env(app).pop(name)
    admin = as_user(app, web_world.admin.email)
    page = text_of(admin.get("/channels/"))
    assert "not configured: X is not configured: set DESK_X_CONSUMER_KEY and DESK_X_CONSUMER_SECRET" in page
    assert "Connect X" not in page
    token = csrf_from(admin.get("/channels/").get_data(as_text=True))
    refused = admin.post("/channels/connect/x", data={"x-unit": web_world.unit.id, "x-csrf_token": token})
    assert refused.status_code == 302 and refused.headers["Location"] == "/channels/"
    assert "set DESK_X_CONSUMER_KEY" in text_of(admin.get("/channels/"))
    with app.extensions["desk.sessions"]() as s:
        assert not s.scalars(select(ConnectionAttempt)).all()


def test_only_administrators_may_connect(app, web_world):
    author = as_user(app, web_world.author.email)
    token = csrf_from(author.get("/posts/new").get_data(as_text=True))
    assert author.post("/channels/connect/x", data={"x-unit": web_world.unit.id, "x-csrf_token": token}
                       ).status_code == 403
    assert author.post("/channels/connect/x", data={"x-unit": web_world.unit.id}).status_code == 400  # no CSRF


def test_reconnect_from_the_channels_list(app, web_world, fake_x):
    admin = as_user(app, web_world.admin.email)
    through_consent(admin, press_connect(admin, web_world.unit.id))
    reason = "The X account's authorisation has expired or was revoked: an administrator must reconnect the channel."
    with app.extensions["desk.sessions"]() as s:
        channel_id = s.scalar(select(Channel.id).where(Channel.platform == "x"))
        s.execute(update(Channel).where(Channel.id == channel_id).values(status="needs_reconnect",
                                                                         status_reason=reason))
        s.commit()
    listing = text_of(admin.get("/channels/"))
    assert reason in listing and "Reconnect" in listing
    assert "Reconnect" not in text_of(as_user(app, web_world.author.email).get("/channels/"))
    assert reason in text_of(admin.get(f"/channels/{channel_id}"))
    start = post_form(admin, f"/channels/{channel_id}/reconnect", {}, page_url="/channels/")
    back = through_consent(admin, start)
    assert back.headers["Location"] == f"/channels/{channel_id}"
    page = text_of(admin.get(f"/channels/{channel_id}"))
    assert "Reconnected Met Police Events (@MetPoliceEvents) to X" in page and reason not in page
    with app.extensions["desk.sessions"]() as s:
        assert s.get(Channel, channel_id).status == "active"
        assert len(s.scalars(select(Channel).where(Channel.platform == "x")).all()) == 1


@pytest.fixture
def fake_facebook(app):
    from tests.fakes.fake_facebook import FakeFacebook

    fake = FakeFacebook()
    with FakeServer(fake) as graph:
        platform_env(app).update({
            "DESK_FACEBOOK_GRAPH_BASE": graph.url, "DESK_FACEBOOK_VIDEO_BASE": graph.url,
            "DESK_FACEBOOK_DIALOG_URL": graph.url + f"/{fake.version}/dialog/oauth",
            "DESK_FACEBOOK_APP_ID": fake.app_id, "DESK_FACEBOOK_APP_SECRET": fake.app_secret})
        yield fake


def test_facebook_pages_are_picked_on_the_desk(app, web_world, fake_facebook):
    admin = as_user(app, web_world.admin.email)
    back = through_consent(admin, press_connect(admin, web_world.unit.id, "facebook"))
    picker_url = back.headers["Location"]
    assert back.status_code == 302 and picker_url.startswith("/channels/connect/pages/")
    picker = admin.get(picker_url)
    said = words(picker)
    assert "Choose the Facebook Pages to connect" in said and "Directorate of Public Affairs (DPA)" in said
    assert "Metropolitan Police Events @metpoliceevents · Government organization" in said
    assert "Met Police Archive · Community Not available: your role on it does not let you publish" in said
    archive = fake_facebook.pages[2].id
    assert re.search(rf'value="{archive}" disabled', picker.get_data(as_text=True))

    nothing = post_form(admin, picker_url, {})
    assert nothing.status_code == 200 and "Choose at least one Page to connect." in words(nothing)
    chosen = [fake_facebook.pages[0].id, fake_facebook.pages[1].id]
    done = post_form(admin, picker_url, {"pages": chosen})
    assert done.status_code == 302 and done.headers["Location"] == "/channels/"
    listing = words(admin.get("/channels/"))
    assert ("Connected Metropolitan Police Events (@metpoliceevents), Met Police Roads and Transport as channels "
            "of DPA") in listing
    with app.extensions["desk.sessions"]() as s:
        pages = s.scalars(select(Channel.remote_account_id).where(Channel.platform == "facebook")).all()
    assert sorted(pages) == sorted(chosen)
    assert admin.get(picker_url).headers["Location"] == "/channels/"  # finished: the picker is gone
    assert "already been finished" in words(admin.get("/channels/"))


def _youtube(url, fake):
    return {"DESK_GOOGLE_AUTH_URL": url + "/o/oauth2/v2/auth", "DESK_GOOGLE_TOKEN_URL": url + "/token",
            "DESK_YOUTUBE_API_BASE": url, "DESK_GOOGLE_CLIENT_ID": fake.oauth.client_id,
            "DESK_GOOGLE_CLIENT_SECRET": fake.oauth.client_secret}


def _flickr(url, fake):
    return {"DESK_FLICKR_OAUTH_BASE": url + "/services/oauth", "DESK_FLICKR_UPLOAD_URL": url + "/services/upload/",
            "DESK_FLICKR_REST_URL": url + "/services/rest/", "DESK_FLICKR_API_KEY": fake.api_key,
            "DESK_FLICKR_API_SECRET": fake.api_secret}


@pytest.mark.parametrize("platform,expected", [
    ("youtube", ("UCmetpolice000000000001", "Metropolitan Police", "@metpoliceuk")),   # OAuth 2.0: state comes back
    ("flickr", ("12345678@N04", "Metropolitan Police", "metpoliceuk")),  # OAuth 1.0a: state in the callback
])
def test_youtube_and_flickr_connect_through_the_desk(app, web_world, platform, expected):
    from tests.fakes.fake_flickr import FakeFlickr
    from tests.fakes.fake_youtube import FakeYouTube

    fake, env = (FakeYouTube(), _youtube) if platform == "youtube" else (FakeFlickr(), _flickr)
    with FakeServer(fake) as server:
        platform_env(app).update(env(server.url, fake))
        admin = as_user(app, web_world.admin.email)
        back = through_consent(admin, press_connect(admin, web_world.unit.id, platform))
    assert back.status_code == 302 and back.headers["Location"].startswith("/channels/"), words(admin.get("/channels/"))
    with app.extensions["desk.sessions"]() as s:
        channel = s.scalar(select(Channel).where(Channel.platform == platform))
    account = (channel.remote_account_id, channel.remote_name, channel.remote_handle)
    assert account[:2] == expected[:2] and expected[2] in (account[2] or "")
    assert expected[0] in words(admin.get(f"/channels/{channel.id}"))


def test_behind_a_proxy_the_public_address_is_the_callback(app, web_world, fake_x):
    platform_env(app).update(DESK_PUBLIC_URL="https://desk.force.example/", DESK_X_AUTH="oauth2")
    admin = as_user(app, web_world.admin.email)
    start = press_connect(admin, web_world.unit.id)
    assert "redirect_uri=https%3A%2F%2Fdesk.force.example%2Fchannels%2Fconnect%2Fx%2Fcallback&" in start.headers[
        "Location"]
