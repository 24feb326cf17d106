"""Connecting a Flickr account: the OAuth 1.0a steps through the adapter against the fake Flickr (perms=delete,
every signature verified), refusals in words, and the whole redirect dance through the desk's own pages."""
from __future__ import annotations

from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
import requests
from requests_oauthlib import OAuth1, OAuth1Session
from sqlalchemy import select
from test_flickr_adapter import CALLBACK, _loopback, _oauth_params, fl, flickr_env, photo  # noqa: F401 (fixtures: the fake Flickr, loopback HTTP)
from test_web_connect import press_connect, through_consent, words
from test_web_posts import as_user

from desk import create_app, crypto
from desk.models import Channel
from desk.platforms import publisher_class
from desk.platforms.base import PERMANENT, TRANSIENT, PlatformError
from desk.platforms.flickr import FlickrPublisher
from tests.fakes.fake_flickr import FakeFlickr
from tests.fakes.server import FakeServer

# ---- connecting ------------------------------------------------------------------------------------------

def test_registered_as_flickr():
    assert publisher_class("flickr") is FlickrPublisher


def test_connect_three_legged_asks_for_delete_permission(fl):
    account = fl.connect()
    assert (account.id, account.name, account.handle) == ("12345678@N04", "Metropolitan Police", "metpoliceuk")
    creds = account.credentials
    assert creds["perms"] == "delete" and fl.fake.access_tokens[creds["oauth_token"]]["perms"] == "delete"
    request_token, authorize, access_token, login = fl.server.requests
    assert (request_token.method, request_token.path) == ("POST", "/services/oauth/request_token")
    assert _oauth_params(request_token.headers["Authorization"])["oauth_callback"].startswith("http%3A%2F%2Fdesk")
    assert authorize.query["perms"] == "delete" and "Authorization" not in authorize.headers  # the browser
    assert "oauth_verifier" in _oauth_params(access_token.headers["Authorization"])
    assert login.query["method"] == "flickr.test.login" and login.query["nojsoncallback"] == "1"
    assert creds["oauth_token_secret"] not in repr(account)


def test_the_pending_secret_never_shows(fl):
    start = FlickrPublisher(None, fl.context()).authorization_url(CALLBACK, "abc")
    secret = start.pending["oauth_token_secret"]
    assert secret not in repr(start) and secret not in repr(start.pending) and secret not in start.url
    assert parse_qs(urlsplit(start.url).query) == {"oauth_token": [start.pending["oauth_token"]], "perms": ["delete"]}


def test_the_fake_verifies_every_signature_as_flickr_does(fl):
    with OAuth1Session(fl.fake.api_key, client_secret="not-the-secret", callback_uri=CALLBACK) as forged:
        reply = forged.post(fl.server.url + "/services/oauth/request_token", timeout=5)
    assert reply.status_code == 401 and parse_qs(reply.text)["oauth_problem"] == ["signature_invalid"]
    creds = fl.connect().credentials
    rest = fl.server.url + "/services/rest/"
    query = {"method": "flickr.test.login", "format": "json", "nojsoncallback": "1"}
    for secret, code in (("wrong-token-secret", 96), (creds["oauth_token_secret"], None)):
        with OAuth1Session(fl.fake.api_key, client_secret=fl.fake.api_secret, resource_owner_key=creds["oauth_token"],
                           resource_owner_secret=secret) as s:
            body = s.get(rest, params=query, timeout=5).json()
        assert body.get("code") == code and body["stat"] == ("fail" if code else "ok")
    unsigned = requests.get(rest, params=query, timeout=5)
    assert unsigned.status_code == 200
    assert unsigned.json() == {"stat": "fail", "code": 97, "message": "Missing signature"}


def test_a_naively_signed_multipart_upload_is_refused_as_on_flickr(fl, photo):
    """The trap: requests-oauthlib signs a multipart body without its fields, and Flickr says 96."""
    creds = fl.connect().credentials
    auth = OAuth1(fl.fake.api_key, fl.fake.api_secret, creds["oauth_token"], creds["oauth_token_secret"])
    with open(photo().path, "rb") as f:
        reply = requests.post(fl.server.url + "/services/upload/", data={"title": "Cordon"}, files={"photo": f},
                              auth=auth, timeout=5)
    assert reply.status_code == 200 and '<err code="96" msg="Invalid signature" />' in reply.text
    assert fl.fake.photos == {}


def test_a_wrong_api_secret_or_key_is_explained(fl):
    for env, variable, code in ((dict(DESK_FLICKR_API_SECRET="wrong"), "DESK_FLICKR_API_SECRET", "signature_invalid"),
                                (dict(DESK_FLICKR_API_KEY="wrong"), "DESK_FLICKR_API_KEY", "consumer_key_unknown")):
        with pytest.raises(PlatformError) as caught:
            FlickrPublisher(None, fl.context(**env)).authorization_url(CALLBACK, "abc")
        assert caught.value.error_class == PERMANENT and caught.value.code == code
        assert variable in caught.value.message and "Nothing was connected" in caught.value.message


def test_flickr_down_while_connecting_is_transient(fl):
    fl.fake.fail_next(502, path="/services/oauth/request_token")
    with pytest.raises(PlatformError) as caught:
        FlickrPublisher(None, fl.context()).authorization_url(CALLBACK, "abc")
    assert caught.value.error_class == TRANSIENT and caught.value.code == "502"


def test_declined_mismatched_or_replayed_answers_connect_nothing(fl):
    publisher = FlickrPublisher(None, fl.context())
    start = publisher.authorization_url(CALLBACK, "abc")
    location = requests.get(start.url, allow_redirects=False, timeout=5).headers["Location"]
    args = dict(parse_qsl(urlsplit(location).query))
    cases = [({"denied": start.pending["oauth_token"]}, "denied"),
             ({**args, "oauth_token": "72157-other"}, "mismatch"),
             ({k: v for k, v in args.items() if k != "oauth_verifier"}, "mismatch"),
             ({**args, "oauth_verifier": "guessed"}, "verifier_invalid")]
    for callback_args, code in cases:
        with pytest.raises(PlatformError) as caught:
            publisher.complete_authorization(callback_args, start.pending)
        assert caught.value.error_class == PERMANENT and caught.value.code == code
    publisher.complete_authorization(args, start.pending)
    with pytest.raises(PlatformError) as caught:  # the request token is spent
        publisher.complete_authorization(args, start.pending)
    assert caught.value.code == "token_rejected" and "start the connection again" in caught.value.message


def test_not_configured_names_the_variables(fl):
    with pytest.raises(PlatformError) as caught:
        FlickrPublisher(None, fl.context(DESK_FLICKR_API_KEY="", DESK_FLICKR_API_SECRET="")).authorization_url(
            CALLBACK, "abc")
    assert caught.value.code == "not-configured"
    assert "DESK_FLICKR_API_KEY and DESK_FLICKR_API_SECRET" in caught.value.message
    assert fl.server.requests == []


def test_oauth1_has_nothing_to_refresh(fl):
    assert fl.publisher().refresh() is None




# ---- through the desk's own pages ----------------------------------------------------------------------

@pytest.fixture
def fake_flickr():
    fake = FakeFlickr()
    with FakeServer(fake) as server:
        fake.server = server
        yield fake


@pytest.fixture
def app(sqlite_engine, tmp_path, fake_flickr):
    """The desk with Flickr's variables pointing at the fake Flickr, as an operator would set them."""
    return create_app({
        "TESTING": True, "DESK_ENGINE": sqlite_engine, "TWO_FACTOR_ENFORCED": False,
        "ENV": {"DESK_ENV": "development", "DESK_SECRET_KEY": "test-secret", "DESK_TIMEZONE": "Europe/London",
                "DESK_MEDIA_DIR": str(tmp_path / "media"), "DESK_DATABASE_URL": str(sqlite_engine.url),
                **flickr_env(fake_flickr, fake_flickr.server.url)},
    })


def test_an_administrator_connects_flickr_from_the_channels_page(app, web_world, fake_flickr):
    admin = as_user(app, web_world.admin.email)
    start = press_connect(admin, web_world.other_unit.id, "flickr")
    consent = urlsplit(start.headers["Location"])
    assert f"{consent.scheme}://{consent.netloc}{consent.path}" == fake_flickr.server.url + "/services/oauth/authorize"
    assert parse_qs(consent.query)["perms"] == ["delete"]
    # OAuth 1.0a brings back no state of its own: the desk's rides in the callback address
    callback = _oauth_params(fake_flickr.server.requests[0].headers["Authorization"])["oauth_callback"]
    assert "state%3D" in callback
    back = through_consent(admin, start)
    with app.extensions["desk.sessions"]() as s:
        channel = s.scalar(select(Channel).where(Channel.platform == "flickr"))
        credentials = crypto.decrypt_json(channel.credentials)
    assert back.status_code == 302 and back.headers["Location"] == f"/channels/{channel.id}"
    assert (channel.unit_id, channel.remote_account_id, channel.remote_name, channel.remote_handle) == (
        web_world.other_unit.id, "12345678@N04", "Metropolitan Police", "metpoliceuk")
    assert credentials["perms"] == "delete"
    shown = admin.get(f"/channels/{channel.id}")
    assert "Connected Metropolitan Police (metpoliceuk) as a channel of CO11" in words(shown)
    assert credentials["oauth_token_secret"] not in shown.get_data(as_text=True)
