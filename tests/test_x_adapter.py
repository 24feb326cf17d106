"""The X adapter, through its real code, against the fake X on 127.0.0.1: connect, publish, delete,
metrics, reconciliation, and every error class and status PLATFORMS.md lists for X."""
from __future__ import annotations

import json
import logging
import time
from datetime import UTC
from types import SimpleNamespace
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
import requests
from cryptography.fernet import Fernet
from requests_oauthlib import OAuth1Session

from desk import crypto
from desk.config import Settings
from desk.platforms import Content, MediaItem, PlatformContext, PublishRequest, RemoteRef, publisher_class
from desk.platforms.base import AMBIGUOUS, AUTH, PERMANENT, RATE_LIMITED, TRANSIENT, PlatformError
from desk.platforms.x import XPublisher
from tests.fakes.fake_x import COULD_NOT_AUTHENTICATE, FakeX, http_date
from tests.fakes.server import FakeServer

CALLBACK = "http://desk.test/channels/connect/x/callback"
EXPIRED = ("The X account's authorisation has expired or was revoked: an administrator must reconnect the "
           "channel.")


@pytest.fixture(autouse=True)
def _loopback(monkeypatch):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the fake speaks plain HTTP on 127.0.0.1
    monkeypatch.setattr(crypto, "_cipher", crypto.cipher_from_env({"DESK_TOKEN_KEY": Fernet.generate_key().decode()}))


class XWorld:
    """The fake X, its server, and the desk's side: settings, connected channels, publishers."""

    def __init__(self, fake: FakeX, server: FakeServer):
        self.fake, self.server = fake, server
        self.env = {"DESK_X_API_BASE": server.url, "DESK_X_AUTHORIZE_URL": server.url + "/i/oauth2/authorize",
                    "DESK_X_CONSUMER_KEY": fake.consumer_key, "DESK_X_CONSUMER_SECRET": fake.consumer_secret,
                    "DESK_X_CLIENT_ID": fake.client_id, "DESK_X_CLIENT_SECRET": fake.client_secret,
                    "DESK_X_MEDIA_POLL_MAX_WAIT": "0.01"}

    def context(self, timeout=(2.0, 2.0), session_factory=None, **env) -> PlatformContext:
        settings = Settings(database_url="sqlite://", secret_key="test", extra={"platform_env": {**self.env, **env}})
        return PlatformContext(settings=settings, session_factory=session_factory, timeout=timeout)

    def connect(self, **env):
        """The whole consent dance, as the desk's routes and the administrator's browser will do it."""
        publisher = XPublisher(None, self.context(**env))
        start = publisher.authorization_url(CALLBACK, "state-123")
        consent = requests.get(start.url, allow_redirects=False, timeout=5)  # the browser at X's consent page
        assert consent.status_code == 302 and consent.headers["Location"].startswith(CALLBACK + "?")
        args = dict(parse_qsl(urlsplit(consent.headers["Location"]).query))
        [account] = publisher.complete_authorization(args, start.pending)
        return account

    def channel(self, account, channel_id=None):
        return SimpleNamespace(id=channel_id, platform="x", credentials=crypto.encrypt_json(account.credentials),
                               remote_account_id=account.id)

    def publisher(self, account=None, **ctx) -> XPublisher:
        return XPublisher(self.channel(account or self.connect()), self.context(**ctx))


@pytest.fixture
def x():
    fake = FakeX()
    with FakeServer(fake) as server:
        yield XWorld(fake, server)


def req(text="Road closed on the A40 after a collision.", link=None, media=()):
    return PublishRequest(target_id=1, channel_id=1, content=Content(text=text, link=link, media=tuple(media)),
                          marker="desk-1-1")


def _oauth_params(header: str) -> dict:
    return {k: v for k, v in (p.strip().split("=", 1) for p in header[len("OAuth "):].split(","))}


# ---- connecting ------------------------------------------------------------------------------------------

def test_registered_as_x():
    assert publisher_class("x") is XPublisher


def test_connect_with_oauth1_three_legged(x):
    account = x.connect()
    assert (account.id, account.name, account.handle) == ("1500000000000000001", "Met Police Events",
                                                           "@MetPoliceEvents")
    assert account.credentials["mode"] == "oauth1" and account.credentials["oauth_token"] in x.fake.access_tokens
    request_token, _authorize, access_token, me = x.server.requests
    assert request_token.path == "/oauth/request_token" and request_token.method == "POST"
    assert "oauth_callback" in _oauth_params(request_token.headers["Authorization"])
    assert "oauth_verifier" in _oauth_params(access_token.headers["Authorization"])
    assert me.path == "/2/users/me"
    assert account.credentials["oauth_token_secret"] not in repr(account)


def test_the_pending_secret_never_shows(x):
    start = XPublisher(None, x.context()).authorization_url(CALLBACK, "s")
    secret = start.pending["oauth_token_secret"]
    assert secret not in repr(start) and secret not in repr(start.pending)
    assert parse_qs(urlsplit(start.url).query) == {"oauth_token": [start.pending["oauth_token"]]}


def test_the_fake_rejects_a_bad_signature_as_x_does(x):
    with OAuth1Session(x.fake.consumer_key, client_secret="not-the-secret", callback_uri=CALLBACK) as forged:
        reply = forged.post(x.server.url + "/oauth/request_token", timeout=5)
    assert reply.status_code == 401 and reply.json() == COULD_NOT_AUTHENTICATE
    account = x.connect()
    with OAuth1Session(x.fake.consumer_key, client_secret=x.fake.consumer_secret,
                       resource_owner_key=account.credentials["oauth_token"],
                       resource_owner_secret="wrong-token-secret") as forged:
        assert forged.get(x.server.url + "/2/users/me", timeout=5).status_code == 401
    # and the same request, properly signed, passes: the check is the signature, nothing else
    with OAuth1Session(x.fake.consumer_key, client_secret=x.fake.consumer_secret,
                       resource_owner_key=account.credentials["oauth_token"],
                       resource_owner_secret=account.credentials["oauth_token_secret"]) as honest:
        assert honest.get(x.server.url + "/2/users/me", timeout=5).status_code == 200


def test_a_wrong_consumer_secret_is_explained(x):
    with pytest.raises(PlatformError) as caught:
        XPublisher(None, x.context(DESK_X_CONSUMER_SECRET="wrong")).authorization_url(CALLBACK, "s")
    assert caught.value.error_class == PERMANENT and caught.value.code == "401"
    assert "DESK_X_CONSUMER_SECRET" in caught.value.message and CALLBACK in caught.value.message


def test_declined_consent(x):
    publisher = XPublisher(None, x.context())
    start = publisher.authorization_url(CALLBACK, "s")
    x.fake.deny_next_consent = True
    location = requests.get(start.url, allow_redirects=False, timeout=5).headers["Location"]
    with pytest.raises(PlatformError) as caught:
        publisher.complete_authorization(dict(parse_qsl(urlsplit(location).query)), start.pending)
    assert caught.value.code == "denied" and "Authorize app" in caught.value.message


def test_a_callback_for_another_connection_is_refused(x):
    publisher = XPublisher(None, x.context())
    start = publisher.authorization_url(CALLBACK, "s")
    with pytest.raises(PlatformError, match="does not match"):
        publisher.complete_authorization({"oauth_token": "rt-other", "oauth_verifier": "v"}, start.pending)


def test_not_configured_names_the_variables(x):
    with pytest.raises(PlatformError) as caught:
        XPublisher(None, x.context(DESK_X_CONSUMER_KEY="", DESK_X_CONSUMER_SECRET="", DESK_X_CLIENT_ID="")
                   ).authorization_url(CALLBACK, "s")
    assert caught.value.code == "not-configured"
    assert "DESK_X_CONSUMER_KEY" in caught.value.message and "DESK_X_CONSUMER_SECRET" in caught.value.message
    assert x.server.requests == []


def test_connect_with_oauth2_pkce(x):
    account = x.connect(DESK_X_AUTH="oauth2")
    consent, token, _me = x.server.requests
    challenge = consent.query
    assert challenge["code_challenge_method"] == "S256" and challenge["state"] == "state-123"
    assert challenge["scope"] == "tweet.read tweet.write users.read offline.access media.write"
    form = parse_qs(token.body.decode())
    assert form["grant_type"] == ["authorization_code"] and len(form["code_verifier"][0]) == 64
    assert token.headers["Authorization"].startswith("Basic ")  # a confidential client
    creds = account.credentials
    assert creds["mode"] == "oauth2" and creds["refresh_token"] and creds["expires_at"] > time.time() + 7000
    assert account.handle == "@MetPoliceEvents"


def test_oauth2_public_client_sends_its_id_in_the_body(x):
    x.fake.client_secret = ""
    x.connect(DESK_X_AUTH="oauth2", DESK_X_CLIENT_SECRET="")
    token = x.server.received("POST", "/2/oauth2/token")[0]
    assert "Authorization" not in token.headers and parse_qs(token.body.decode())["client_id"] == ["fake-client-id"]


def test_oauth2_a_wrong_verifier_is_refused(x):
    publisher = XPublisher(None, x.context(DESK_X_AUTH="oauth2"))
    start = publisher.authorization_url(CALLBACK, "state-9")
    location = requests.get(start.url, allow_redirects=False, timeout=5).headers["Location"]
    tampered = {**start.pending, "code_verifier": "x" * 64}
    with pytest.raises(PlatformError) as caught:
        publisher.complete_authorization(dict(parse_qsl(urlsplit(location).query)), tampered)
    assert caught.value.error_class == PERMANENT and caught.value.code == "token"


def test_oauth2_refreshes_on_401_and_keeps_the_new_tokens(x, sqlite_engine):
    from sqlalchemy import select, update

    from desk.db import make_session_factory
    from desk.models import Channel
    from desk.services import admin
    from desk.services.audit_trail import SystemActor

    account = x.connect(DESK_X_AUTH="oauth2")
    factory = make_session_factory(sqlite_engine)
    with factory() as s:
        operator = SystemActor("cli:test-setup")
        unit = admin.create_unit(s, operator, "CO11", "Public Order")
        channel_id = admin.create_channel(s, operator, unit.id, "x", "CO11 on X").id
        s.execute(update(Channel).where(Channel.id == channel_id).values(
            credentials=crypto.encrypt_json(account.credentials)))
        s.commit()
    channel = x.channel(account, channel_id)
    x.fake.expire_tokens()
    publisher = XPublisher(channel, x.context(session_factory=factory))
    ref = publisher.publish(req())
    assert ref.id in x.fake.tweets
    first, refresh, second = x.server.received("POST")[-3:]
    assert (first.path, refresh.path, second.path) == ("/2/tweets", "/2/oauth2/token", "/2/tweets")
    assert parse_qs(refresh.body.decode())["refresh_token"] == [account.credentials["refresh_token"]]
    with factory() as s:
        stored = crypto.decrypt_json(s.scalar(select(Channel.credentials).where(Channel.id == channel_id)))
    assert stored["refresh_token"] != account.credentials["refresh_token"]  # rotated and kept
    assert stored["access_token"] == crypto.decrypt_json(channel.credentials)["access_token"]
    # the old refresh token is spent: only the stored one works now
    with pytest.raises(PlatformError) as caught:
        XPublisher(x.channel(account), x.context()).refresh()
    assert caught.value.error_class == AUTH
    assert XPublisher(channel, x.context()).refresh()["refresh_token"] != stored["refresh_token"]


def test_oauth2_refreshes_before_an_expired_token_is_used(x):
    account = x.connect(DESK_X_AUTH="oauth2")
    account.credentials["expires_at"] = time.time() - 10
    publisher = x.publisher(account)
    publisher.publish(req())
    assert [r.path for r in x.server.received("POST")][-2:] == ["/2/oauth2/token", "/2/tweets"]


def test_oauth2_a_revoked_refresh_token_needs_a_reconnect(x):
    account = x.connect(DESK_X_AUTH="oauth2")
    x.fake.refresh_tokens.clear()
    x.fake.expire_tokens()
    with pytest.raises(PlatformError) as caught:
        x.publisher(account).publish(req())
    assert caught.value.error_class == AUTH and caught.value.message.startswith(EXPIRED)


def test_oauth1_has_nothing_to_refresh(x):
    assert x.publisher().refresh() is None


# ---- publishing ----------------------------------------------------------------------------------------

def test_publish_text_with_its_link(x):
    ref = x.publisher().publish(req("Appeal for witnesses & dashcam footage", link="https://www.met.police.uk/a1"))
    sent = x.server.received("POST", "/2/tweets")[0].json
    assert sent == {"text": "Appeal for witnesses & dashcam footage https://www.met.police.uk/a1"}
    assert ref == RemoteRef(ref.id, f"https://x.com/MetPoliceEvents/status/{ref.id}")


def test_publish_refuses_what_validation_refuses(x):
    with pytest.raises(PlatformError) as caught:
        x.publisher().publish(req("a" * 281))
    assert caught.value.error_class == PERMANENT and caught.value.code == "invalid"
    assert x.server.received("POST", "/2/tweets") == []


def _file(tmp_path, name, size):
    path = tmp_path / name
    path.write_bytes(bytes(i % 251 for i in range(size)))
    return path


def test_publish_images_in_chunks_with_alt_text(x, tmp_path):
    images = [MediaItem(str(_file(tmp_path, f"scene{i}.jpg", 2500)), "image/jpeg", 2500, f"scene{i}.jpg",
                        alt_text=f"Cordon at the scene, view {i}") for i in (1, 2)]
    ref = x.publisher(DESK_X_UPLOAD_CHUNK_BYTES="1000").publish(req(media=images))
    inits = x.server.received("POST", "/2/media/upload/initialize")
    assert [i.json for i in inits] == [{"media_type": "image/jpeg", "total_bytes": 2500,
                                        "media_category": "tweet_image"}] * 2
    appends = [r for r in x.server.received("POST") if r.path.endswith("/append")]
    assert [a.form["segment_index"] for a in appends] == ["0", "1", "2"] * 2
    assert b"".join(a.files["media"] for a in appends[:3]) == (tmp_path / "scene1.jpg").read_bytes()
    assert x.server.received("GET", "/2/media/upload") == []  # images need no processing
    media_ids = x.fake.tweets[ref.id]["media_ids"]
    assert len(media_ids) == 2 and x.fake.media[media_ids[1]]["alt_text"] == "Cordon at the scene, view 2"


def test_publish_video_waits_for_processing(x, tmp_path, monkeypatch):
    waits = []
    monkeypatch.setattr(XPublisher, "sleep", staticmethod(waits.append))
    x.fake.processing_polls = 3
    video = MediaItem(str(_file(tmp_path, "appeal.mp4", 5000)), "video/mp4", 5000, "appeal.mp4", duration=12.0)
    ref = x.publisher(DESK_X_UPLOAD_CHUNK_BYTES="2048").publish(req("Can you help?", media=[video]))
    statuses = x.server.received("GET", "/2/media/upload")
    assert len(statuses) == 3 and all(s.query["command"] == "STATUS" for s in statuses)
    assert waits == [0.01, 0.01, 0.01]  # check_after_secs, capped by the setting
    assert x.server.received("POST", "/2/media/upload/initialize")[0].json["media_category"] == "tweet_video"
    assert x.fake.tweets[ref.id]["media_ids"] == [statuses[0].query["media_id"]]


def test_video_processing_failure_posts_nothing(x, tmp_path):
    x.fake.processing_outcome = "failed"
    video = MediaItem(str(_file(tmp_path, "clip.mp4", 100)), "video/mp4", 100, "clip.mp4")
    with pytest.raises(PlatformError) as caught:
        x.publisher().publish(req(media=[video]))
    assert caught.value.error_class == PERMANENT and caught.value.code == "media-processing-failed"
    assert "Unsupported video format" in caught.value.message and "clip.mp4" in caught.value.message
    assert x.fake.tweets == {}


def test_video_processing_that_never_ends_is_retried_later(x, tmp_path):
    x.fake.processing_polls = 10_000
    video = MediaItem(str(_file(tmp_path, "clip.mp4", 100)), "video/mp4", 100, "clip.mp4")
    with pytest.raises(PlatformError) as caught:
        x.publisher(DESK_X_MEDIA_PROCESSING_TIMEOUT="0.05").publish(req(media=[video]))
    assert caught.value.error_class == TRANSIENT and caught.value.code == "media-processing-timeout"
    assert x.fake.tweets == {}


@pytest.mark.parametrize("kinds,complaint", [
    (["image/jpeg"] * 5, "at most 4 images"),
    (["video/mp4", "image/jpeg"], "one video or one GIF on its own"),
    (["image/gif", "image/gif"], "one video or one GIF on its own"),
    (["application/pdf"], "cannot show"),
])
def test_media_validation(tmp_path, kinds, complaint):
    media = [MediaItem(str(_file(tmp_path, f"f{i}", 10)), kind, 10, f"f{i}") for i, kind in enumerate(kinds)]
    problems = XPublisher.validate(Content(text="hello", media=tuple(media)))
    assert any(complaint in p.message for p in problems) and {p.field for p in problems} == {"media"}


def test_media_validation_accepts_four_images_or_one_video(tmp_path):
    four = tuple(MediaItem(str(_file(tmp_path, f"i{i}.png", 10)), "image/png", 10) for i in range(4))
    assert XPublisher.validate(Content(text="", media=four)) == []
    video = MediaItem(str(_file(tmp_path, "v.mp4", 10)), "video/mp4", 10)
    assert XPublisher.validate(Content(text="", media=(video,))) == []
    too_long_alt = MediaItem(str(_file(tmp_path, "a.png", 10)), "image/png", 10, alt_text="x" * 1001)
    assert "Shorten it by 1" in XPublisher.validate(Content(text="hi", media=(too_long_alt,)))[0].message


# ---- delete, metrics, reconciliation --------------------------------------------------------------------

def test_delete_and_delete_again(x):
    publisher = x.publisher()
    ref = publisher.publish(req())
    publisher.delete(ref)
    assert x.fake.tweets[ref.id]["deleted"]
    publisher.delete(ref)  # already gone: nothing to do, no error


def test_metrics(x):
    publisher = x.publisher()
    ref = publisher.publish(req())
    n = int(ref.id) % 1000
    assert publisher.fetch_metrics(ref) == {"views": 1000 + n, "likes": 10 + n % 7, "shares": 4, "comments": 2}
    assert x.server.received("GET", f"/2/tweets/{ref.id}")[0].query == {"tweet.fields": "public_metrics"}
    publisher.delete(ref)
    with pytest.raises(PlatformError) as caught:
        publisher.fetch_metrics(ref)
    assert caught.value.code == "not-found"


def test_find_published_sees_through_x_rewriting(x, tmp_path):
    publisher = x.publisher()
    publisher.publish(req("Earlier post"))
    wanted = req("Road closed <A40> & M25 junction 16", link="https://www.met.police.uk/traffic")
    ref = publisher.publish(wanted)
    # the fake gives the text back with t.co links, &amp; escapes and a link to the media, as X does
    assert publisher.find_published(wanted) == ref
    assert publisher.find_published(req("Never posted")) is None
    image = MediaItem(str(_file(tmp_path, "p.jpg", 10)), "image/jpeg", 10)
    with_media = req("Officers at the scene", media=[image])
    ref2 = publisher.publish(with_media)
    assert publisher.find_published(with_media) == ref2
    assert x.server.received("GET", "/2/users/1500000000000000001/tweets")[0].query["max_results"] == "50"


def test_find_published_does_not_take_an_older_post_with_the_same_words(x):
    """A daily update says the same words every day: yesterday's post is not today's."""
    from dataclasses import replace
    from datetime import datetime, timedelta, timezone

    publisher = x.publisher()
    ref = publisher.publish(req("Daily traffic and travel update: see the link."))
    first_try_today = datetime.now(UTC) + timedelta(hours=1)  # the earlier post is an hour too old
    assert publisher.find_published(replace(req("Daily traffic and travel update: see the link."),
                                            not_before=first_try_today)) is None
    tried_just_before = datetime.now(UTC) - timedelta(seconds=5)
    assert publisher.find_published(replace(req("Daily traffic and travel update: see the link."),
                                            not_before=tried_just_before)) == ref


def test_find_published_on_an_empty_timeline(x):
    assert x.publisher().find_published(req()) is None


# ---- errors: every class and status -----------------------------------------------------------------------

def _publish_error(x, publisher=None, request=None) -> PlatformError:
    with pytest.raises(PlatformError) as caught:
        (publisher or x.publisher()).publish(request or req())
    return caught.value


def test_duplicate_is_refused_in_words(x):
    publisher = x.publisher()
    publisher.publish(req("Same words"))
    error = _publish_error(x, publisher, req("Same words"))
    assert error.error_class == PERMANENT and error.code == "duplicate"
    assert error.message.startswith("X refuses a post identical to a recent one from this account.")


def test_expired_or_revoked_oauth1_token_needs_a_reconnect(x):
    publisher = x.publisher()
    x.fake.expire_tokens()
    error = _publish_error(x, publisher)
    assert error.error_class == AUTH and error.code == "401" and error.message.startswith(EXPIRED)


def test_503_is_transient(x):
    publisher = x.publisher()
    x.fake.fail_next(503, path="/2/tweets", method="POST")
    error = _publish_error(x, publisher)
    assert error.error_class == TRANSIENT and error.code == "503"
    assert x.fake.tweets == {}


@pytest.mark.parametrize("status", [500, 502, 504])
def test_a_gateway_error_on_the_post_itself_is_ambiguous(x, status):
    publisher = x.publisher()
    x.fake.fail_next(status, path="/2/tweets", method="POST")
    error = _publish_error(x, publisher)
    assert error.error_class == AMBIGUOUS and error.code == str(status)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_elsewhere_is_transient(x, status):
    publisher = x.publisher()
    ref = publisher.publish(req())
    x.fake.fail_next(status, path=f"/2/tweets/{ref.id}")
    with pytest.raises(PlatformError) as caught:
        publisher.fetch_metrics(ref)
    assert caught.value.error_class == TRANSIENT and caught.value.code == str(status)


def test_5xx_during_media_upload_is_transient(x, tmp_path):
    publisher = x.publisher()
    x.fake.fail_next(500, path="/2/media/upload/initialize")
    image = MediaItem(str(_file(tmp_path, "p.jpg", 10)), "image/jpeg", 10)
    assert _publish_error(x, publisher, req(media=[image])).error_class == TRANSIENT


@pytest.mark.parametrize("retry_after,reset,expected", [
    ("30", None, 30),
    ("date", None, 120),  # an HTTP date two minutes ahead
    (None, 600, 600),
])
def test_429_says_when_to_try_again(x, retry_after, reset, expected):
    publisher = x.publisher()
    x.fake.rate_limit_next(retry_after=http_date(120) if retry_after == "date" else retry_after,
                           reset=int(time.time()) + reset if reset else None, path="/2/tweets")
    error = _publish_error(x, publisher)
    assert error.error_class == RATE_LIMITED and error.code == "429"
    assert expected - 3 <= error.retry_after <= expected + 1


def test_429_headers_come_as_x_sends_them(x):
    x.fake.rate_limit_next(retry_after="30", path="/2/users/me")
    reply = requests.get(x.server.url + "/2/users/me", timeout=5)
    assert reply.status_code == 429 and reply.json()["title"] == "Too Many Requests"
    assert reply.headers["x-rate-limit-remaining"] == "0" and reply.headers["Retry-After"] == "30"


def test_usage_cap_is_explained(x):
    publisher = x.publisher()
    x.fake.rate_limit_next(usage_cap=True, path="/2/tweets")
    error = _publish_error(x, publisher)
    assert error.error_class == PERMANENT and error.code == "usage-capped" and "monthly cap" in error.message


def test_400_is_permanent_with_xs_reason(x):
    publisher = x.publisher()
    x.fake.fail_next(400, path="/2/tweets")
    error = _publish_error(x, publisher)
    assert error.error_class == PERMANENT and error.code == "400" and "Nothing was posted" in error.message


def test_a_token_without_write_scope_needs_a_reconnect(x):
    account = x.connect(DESK_X_AUTH="oauth2", DESK_X_SCOPES="tweet.read users.read offline.access")
    error = _publish_error(x, x.publisher(account))
    assert error.error_class == AUTH and error.code == "403-permission"


def test_read_timeout_on_the_post_is_ambiguous_and_reconciliation_finds_it(x):
    publisher = x.publisher(timeout=(2.0, 0.2))
    x.fake.delay_next(0.4, path="/2/tweets", method="POST")
    error = _publish_error(x, publisher, req("Sent while X was slow"))
    assert error.error_class == AMBIGUOUS and error.code == "timeout"
    for _ in range(100):  # the fake creates the post after the desk gave up waiting, as X may
        if x.fake.tweets:
            break
        time.sleep(0.01)
    found = publisher.find_published(req("Sent while X was slow"))
    assert found is not None and x.fake.tweets[found.id]["text"] == "Sent while X was slow"


def test_read_timeout_on_a_read_is_transient(x):
    publisher = x.publisher(timeout=(2.0, 0.2))
    ref = publisher.publish(req())
    x.fake.delay_next(0.5, path=f"/2/tweets/{ref.id}")
    with pytest.raises(PlatformError) as caught:
        publisher.fetch_metrics(ref)
    assert caught.value.error_class == TRANSIENT and caught.value.code == "timeout"


def test_x_unreachable_is_transient(x):
    publisher = x.publisher()
    x.server.stop()
    error = _publish_error(x, publisher)
    assert error.error_class == TRANSIENT and error.code == "connect"


def test_a_channel_without_credentials_needs_connecting(x):
    channel = SimpleNamespace(id=1, platform="x", credentials=None, remote_account_id=None)
    error = _publish_error(x, XPublisher(channel, x.context()))
    assert error.error_class == AUTH and error.code == "not-connected"


def test_credentials_under_a_lost_key_need_a_reconnect(x):
    stranger = crypto.cipher_from_env({"DESK_TOKEN_KEY": Fernet.generate_key().decode()})
    channel = SimpleNamespace(id=1, platform="x", credentials=stranger.encrypt_json({"mode": "oauth1"}),
                              remote_account_id="1")
    error = _publish_error(x, XPublisher(channel, x.context()))
    assert error.error_class == AUTH and error.code == "credentials-unreadable"


def test_no_credential_reaches_the_log(x, caplog, tmp_path):
    with caplog.at_level(logging.DEBUG):
        for mode in ("oauth1", "oauth2"):
            account = x.connect(DESK_X_AUTH=mode)
            publisher = x.publisher(account)
            ref = publisher.publish(req(f"Logged? {mode}"))
            x.fake.expire_tokens()
            try:
                publisher.fetch_metrics(ref)
            except PlatformError:
                pass
    secrets = set(x.fake.access_tokens.values()) | set(x.fake.bearers) | x.fake.refresh_tokens
    secrets |= {x.fake.consumer_secret, x.fake.client_secret}
    logged = caplog.text + json.dumps([r.getMessage() for r in caplog.records])
    assert secrets and not any(s in logged for s in secrets)


# ---- settings ------------------------------------------------------------------------------------------

def test_x_settings_defaults_and_choice_of_oauth():
    from desk.platforms.platform_settings import platform_settings

    bare = platform_settings({})
    assert bare.x.api_base == "https://api.x.com" and bare.x.authorize_url == "https://x.com/i/oauth2/authorize"
    assert bare.x.auth_mode == "oauth1" and not bare.x.configured
    assert bare.not_configured()["x"] == bare.x.not_configured_message
    assert "DESK_X_CONSUMER_KEY and DESK_X_CONSUMER_SECRET" in bare.x.not_configured_message
    assert platform_settings({"DESK_X_CLIENT_ID": "c"}).x.auth_mode == "oauth2"  # only OAuth 2.0 is set up
    both = platform_settings({"DESK_X_CLIENT_ID": "c", "DESK_X_CONSUMER_KEY": "k", "DESK_X_CONSUMER_SECRET": "s"})
    assert both.x.auth_mode == "oauth1" and both.x.configured and "x" not in both.not_configured()
    assert platform_settings({"DESK_X_AUTH": "OAuth2", "DESK_X_CONSUMER_KEY": "k"}).x.missing == ["DESK_X_CLIENT_ID"]
    assert "s3cret" not in repr(platform_settings({"DESK_X_CONSUMER_SECRET": "s3cret"}))


@pytest.mark.parametrize("env,complaint", [
    ({"DESK_X_AUTH": "oauth3"}, "DESK_X_AUTH"),
    ({"DESK_X_UPLOAD_CHUNK_BYTES": "lots"}, "DESK_X_UPLOAD_CHUNK_BYTES"),
    ({"DESK_X_MEDIA_POLL_MAX_WAIT": "-1"}, "DESK_X_MEDIA_POLL_MAX_WAIT"),
])
def test_x_settings_refuse_nonsense(env, complaint):
    from desk.config import ConfigError
    from desk.platforms.platform_settings import platform_settings

    with pytest.raises(ConfigError, match=complaint):
        platform_settings(env)


def test_settings_come_from_the_environment_unless_given(monkeypatch):
    from desk.platforms.platform_settings import for_settings

    monkeypatch.setenv("DESK_X_API_BASE", "https://proxy.force.example/x/")
    plain = Settings(database_url="sqlite://", secret_key="t")
    assert for_settings(plain).x.api_base == "https://proxy.force.example/x"
    given = Settings(database_url="sqlite://", secret_key="t", extra={"platform_env": {}})
    assert for_settings(given).x.api_base == "https://api.x.com"
