"""The Facebook adapter, through its real code, against the fake Facebook on 127.0.0.1: connecting Pages,
publishing text, links, photos and videos, delete, counts, reconciliation, every Graph error code
PLATFORMS.md lists, and the validation table."""
from __future__ import annotations

import json
import logging
import time
from types import SimpleNamespace
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
import requests
from cryptography.fernet import Fernet

from desk import crypto
from desk.config import Settings
from desk.platforms import Content, MediaItem, PlatformContext, PublishRequest, publisher_class
from desk.platforms.base import AMBIGUOUS, AUTH, PERMANENT, RATE_LIMITED, TRANSIENT, PlatformError
from desk.platforms.facebook import FacebookPublisher
from tests.fakes.fake_facebook import FakeFacebook
from tests.fakes.server import FakeServer

CALLBACK = "http://desk.test/channels/connect/facebook/callback"
EXPIRED = "The Facebook Page's authorisation has expired: an administrator must reconnect it."
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
MP4 = b"\x00\x00\x00\x18ftypmp42" + bytes(i % 251 for i in range(5000))


@pytest.fixture(autouse=True)
def _loopback(monkeypatch):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the fake speaks plain HTTP on 127.0.0.1
    monkeypatch.setattr(crypto, "_cipher", crypto.cipher_from_env({"DESK_TOKEN_KEY": Fernet.generate_key().decode()}))


class FacebookWorld:
    """The fake Facebook behind two servers (the Graph host and the video host), and the desk's side."""

    def __init__(self, fake: FakeFacebook, graph: FakeServer, video: FakeServer):
        self.fake, self.server, self.video = fake, graph, video
        self.env = {"DESK_FACEBOOK_GRAPH_BASE": graph.url, "DESK_FACEBOOK_VIDEO_BASE": video.url,
                    "DESK_FACEBOOK_DIALOG_URL": graph.url + "/v26.0/dialog/oauth",
                    "DESK_FACEBOOK_APP_ID": fake.app_id, "DESK_FACEBOOK_APP_SECRET": fake.app_secret}

    def context(self, timeout=(2.0, 2.0), **env) -> PlatformContext:
        settings = Settings(database_url="sqlite://", secret_key="test", extra={"platform_env": {**self.env, **env}})
        return PlatformContext(settings=settings, timeout=timeout)

    def consent(self, publisher, state="state-fb-1"):
        """The administrator's browser at Facebook's login dialog: where it is sent back to."""
        start = publisher.authorization_url(CALLBACK, state)
        reply = requests.get(start.url, allow_redirects=False, timeout=5)
        assert reply.status_code == 302 and reply.headers["Location"].startswith(CALLBACK + "?")
        return start, dict(parse_qsl(urlsplit(reply.headers["Location"]).query))

    def connect(self, **env):
        publisher = FacebookPublisher(None, self.context(**env))
        start, args = self.consent(publisher)
        return publisher.complete_authorization(args, start.pending)

    def channel(self, account, channel_id=1):
        return SimpleNamespace(id=channel_id, platform="facebook", credentials=crypto.encrypt_json(account.credentials),
                               remote_account_id=account.id)

    def publisher(self, account=None, **ctx) -> FacebookPublisher:
        return FacebookPublisher(self.channel(account or self.connect()[0]), self.context(**ctx))


@pytest.fixture
def fb():
    fake = FakeFacebook()
    with FakeServer(fake) as graph, FakeServer(fake) as video:
        yield FacebookWorld(fake, graph, video)


def req(text="Road closed on the A40 after a collision.", link=None, media=(), **extra):
    return PublishRequest(target_id=1, channel_id=1, content=Content(text=text, link=link, media=tuple(media),
                                                                     extra=extra), marker="desk-1-1")


def media(tmp_path, name, data, kind, **more) -> MediaItem:
    path = tmp_path / name
    path.write_bytes(data)
    return MediaItem(str(path), kind, len(data), name, **more)


# ---- connecting ------------------------------------------------------------------------------------------

def test_registered_as_facebook():
    assert publisher_class("facebook") is FacebookPublisher


def test_the_dialog_asks_for_the_page_permissions_comma_separated(fb):
    start = FacebookPublisher(None, fb.context()).authorization_url(CALLBACK, "state-9")
    query = parse_qs(urlsplit(start.url).query)
    assert start.url.startswith(fb.server.url + "/v26.0/dialog/oauth?")
    assert query["client_id"] == [fb.fake.app_id] and query["redirect_uri"] == [CALLBACK]
    assert query["state"] == ["state-9"]
    assert query["scope"] == ["pages_show_list,pages_manage_posts,pages_read_engagement,publish_video"]
    assert start.pending == {"redirect_uri": CALLBACK, "state": "state-9"} and fb.server.requests == []


def test_connect_offers_every_page_with_its_own_token(fb):
    accounts = fb.connect()
    assert [(a.id, a.name, a.handle) for a in accounts] == [
        ("101000000000001", "Metropolitan Police Events", "@metpoliceevents"),
        ("101000000000002", "Met Police Roads and Transport", None),
        ("101000000000003", "Met Police Archive", None)]
    events, roads, archive = accounts
    assert events.details == {"category": "Government organization", "tasks": list(fb.fake.pages[0].tasks),
                              "can_publish": True, "can_post_videos": True}
    assert archive.details["can_publish"] is False and archive.details["tasks"] == ["ANALYZE"]
    for account, page in zip(accounts, fb.fake.pages):
        creds = account.credentials
        assert creds["page_id"] == page.id and creds["page_access_token"] in page.tokens
        assert creds["user_id"] == fb.fake.user_id and "pages_manage_posts" in creds["scopes"]
        assert creds["page_access_token"] not in repr(account)
    assert events.credentials["page_access_token"] != roads.credentials["page_access_token"]


def test_connect_exchanges_the_code_then_for_a_long_lived_token(fb):
    fb.connect()
    _dialog, code, longer, *graph = fb.server.requests
    assert (code.method, code.path, longer.path) == ("POST", "/v26.0/oauth/access_token", "/v26.0/oauth/access_token")
    assert code.form["client_secret"] == fb.fake.app_secret and code.form["redirect_uri"] == CALLBACK
    assert code.form["client_id"] == fb.fake.app_id and code.form["code"]
    assert longer.form["grant_type"] == "fb_exchange_token" and longer.form["fb_exchange_token"].startswith("EAAShort")
    assert "Authorization" not in longer.headers  # the short token travels in the body, once
    assert [r.path for r in graph] == ["/v26.0/me/permissions", "/v26.0/me", "/v26.0/me/accounts",
                                       "/v26.0/me/accounts"]
    accounts = [r for r in graph if r.path.endswith("/accounts")]
    assert "after" not in accounts[0].query and accounts[1].query["after"]  # the cursor, not the `next` link
    assert all(r.headers["Authorization"].startswith("Bearer EAALong") for r in graph)


def test_no_token_ever_travels_in_an_address(fb, tmp_path):
    publisher = fb.publisher()
    ref = publisher.publish(req(media=[media(tmp_path, "a.jpg", JPEG, "image/jpeg")]))
    publisher.fetch_metrics(ref)
    publisher.find_published(req())
    publisher.delete(ref)
    proofs = 0
    for recorded in fb.server.requests:
        assert "access_token" not in recorded.query and "EAA" not in json.dumps(recorded.query)
        if recorded.path.startswith("/v26.0/1") or recorded.path.startswith("/v26.0/me"):
            assert len(recorded.query["appsecret_proof"]) == 64
            proofs += 1
    assert fb.server.requests and proofs  # the loop ran, and met calls that must carry a proof


def test_the_fake_wants_the_app_secret_proof(fb):
    token = fb.connect()[0].credentials["page_access_token"]
    url = fb.server.url + "/v26.0/101000000000001/published_posts"
    bare = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=5)
    forged = requests.get(url, params={"appsecret_proof": "0" * 64}, headers={"Authorization": f"Bearer {token}"},
                          timeout=5)
    assert bare.status_code == forged.status_code == 400
    assert "appsecret_proof" in bare.json()["error"]["message"]
    assert forged.json()["error"]["message"] == "Invalid appsecret_proof provided in the API argument"


def test_declined_consent(fb):
    publisher = FacebookPublisher(None, fb.context())
    fb.fake.deny_next_consent = True
    start, args = fb.consent(publisher)
    assert args["error"] == "access_denied" and args["error_reason"] == "user_denied"
    with pytest.raises(PlatformError) as caught:
        publisher.complete_authorization(args, start.pending)
    assert caught.value.code == "denied" and "Continue" in caught.value.message


def test_a_callback_for_another_connection_is_refused(fb):
    publisher = FacebookPublisher(None, fb.context())
    start, args = fb.consent(publisher)
    with pytest.raises(PlatformError) as caught:
        publisher.complete_authorization({**args, "state": "someone-elses"}, start.pending)
    assert caught.value.code == "mismatch" and not fb.server.received("POST", "/v26.0/oauth/access_token")


def test_a_wrong_app_secret_names_the_variables(fb):
    publisher = FacebookPublisher(None, fb.context(DESK_FACEBOOK_APP_SECRET="not-the-secret"))
    start, args = fb.consent(publisher)
    with pytest.raises(PlatformError) as caught:
        publisher.complete_authorization(args, start.pending)
    assert caught.value.error_class == PERMANENT and caught.value.code == "1"
    assert "DESK_FACEBOOK_APP_SECRET" in caught.value.message and "not-the-secret" not in caught.value.message


@pytest.mark.parametrize("tamper,code", [("reuse", "100/36009"), ("redirect", "100/36008")])
def test_a_used_code_or_another_redirect_is_refused(fb, tamper, code):
    publisher = FacebookPublisher(None, fb.context())
    start, args = fb.consent(publisher)
    if tamper == "reuse":
        publisher.complete_authorization(args, start.pending)
    pending = {**start.pending, "redirect_uri": CALLBACK + "/elsewhere"} if tamper == "redirect" else start.pending
    with pytest.raises(PlatformError) as caught:
        publisher.complete_authorization(args, pending)
    assert caught.value.error_class == PERMANENT and caught.value.code == code
    assert "start again" in caught.value.message


def test_unticked_permissions_are_explained(fb):
    fb.fake.decline("pages_manage_posts")
    with pytest.raises(PlatformError) as caught:
        fb.connect()
    assert caught.value.code == "permissions-declined" and "pages_manage_posts" in caught.value.message
    assert not fb.server.received("GET", "/v26.0/me/accounts")


def test_without_publish_video_pages_connect_but_say_so(fb, tmp_path):
    fb.fake.decline("publish_video")
    accounts = fb.connect()
    assert accounts and all(a.details["can_post_videos"] is False for a in accounts)
    with pytest.raises(PlatformError) as caught:
        fb.publisher(accounts[0]).publish(req(media=[media(tmp_path, "v.mp4", MP4, "video/mp4")]))
    assert caught.value.error_class == AUTH and caught.value.code == "10"


def test_an_account_with_no_pages(fb):
    fb.fake.pages = []
    with pytest.raises(PlatformError) as caught:
        fb.connect()
    assert caught.value.code == "no-pages"


def test_not_configured_names_the_variables(fb):
    with pytest.raises(PlatformError) as caught:
        FacebookPublisher(None, fb.context(DESK_FACEBOOK_APP_ID="", DESK_FACEBOOK_APP_SECRET="")
                          ).authorization_url(CALLBACK, "s")
    assert caught.value.code == "not-configured"
    assert "DESK_FACEBOOK_APP_ID and DESK_FACEBOOK_APP_SECRET" in caught.value.message and fb.server.requests == []


def test_page_tokens_have_nothing_to_refresh(fb):
    assert fb.publisher().refresh() is None


# ---- publishing ----------------------------------------------------------------------------------------

def test_publish_text_with_a_link(fb):
    ref = fb.publisher().publish(req("Appeal for witnesses", link="https://www.met.police.uk/appeal/1"))
    sent = fb.server.received("POST", "/v26.0/101000000000001/feed")[0]
    assert sent.form == {"message": "Appeal for witnesses", "link": "https://www.met.police.uk/appeal/1"}
    page, post = ref.id.split("_")
    assert ref.url == f"https://www.facebook.com/{page}/posts/{post}" and fb.fake.objects[ref.id]["link"]


def test_publish_refuses_what_validation_refuses(fb):
    publisher = fb.publisher()
    with pytest.raises(PlatformError) as caught:
        publisher.publish(req("a" * 63207))
    assert caught.value.error_class == PERMANENT and caught.value.code == "invalid"
    assert not fb.server.received("POST", "/v26.0/101000000000001/feed")


def test_publish_one_photo_with_its_caption_and_alt_text(fb, tmp_path):
    photo = media(tmp_path, "cordon.jpg", JPEG, "image/jpeg", alt_text="Officers at a cordon on the A40")
    ref = fb.publisher().publish(req("Road closed", link="https://tfl.gov.uk/a40", media=[photo]))
    sent = fb.server.received("POST", "/v26.0/101000000000001/photos")[0]
    assert sent.files["source"] == JPEG and sent.form["alt_text_custom"] == "Officers at a cordon on the A40"
    # Uploaded unpublished, then one feed post: the upload is never the call that creates the post.
    assert sent.form["published"] == "false" and "message" not in sent.form
    assert sent.headers["Content-Length"] == str(len(sent.body)) and "Transfer-Encoding" not in sent.headers
    feed = fb.server.received("POST", "/v26.0/101000000000001/feed")[0].form
    assert feed["message"] == "Road closed\n\nhttps://tfl.gov.uk/a40"  # no link preview with a photo
    assert fb.fake.objects[ref.id]["kind"] == "post" and len(fb.fake.objects[ref.id]["media"]) == 1


def test_publish_several_photos_as_one_post(fb, tmp_path):
    photos = [media(tmp_path, f"p{i}.png", PNG + bytes([i]), "image/png") for i in range(3)]
    ref = fb.publisher().publish(req("Three views of the scene", media=photos))
    uploads = fb.server.received("POST", "/v26.0/101000000000001/photos")
    assert [u.form["published"] for u in uploads] == ["false"] * 3
    assert [u.files["source"] for u in uploads] == [PNG + bytes([i]) for i in range(3)]
    feed = fb.server.received("POST", "/v26.0/101000000000001/feed")[0].form
    ids = [json.loads(feed[f"attached_media[{i}]"])["media_fbid"] for i in range(3)]
    assert feed["message"] == "Three views of the scene" and fb.fake.objects[ref.id]["media"] == ids
    assert all(fb.fake.objects[i]["post_id"] == ref.id for i in ids)


def test_publish_a_video_on_the_video_host(fb, tmp_path):
    clip = media(tmp_path, "appeal.mp4", MP4, "video/mp4", duration=42.0)
    ref = fb.publisher().publish(req("Can you help us find him?", media=[clip], title="CCTV appeal"))
    sent = fb.video.received("POST", "/v26.0/101000000000001/videos")[0]
    assert sent.files["source"] == MP4
    assert sent.form == {"title": "CCTV appeal", "description": "Can you help us find him?"}
    assert not fb.server.received("POST", "/v26.0/101000000000001/videos")
    assert ref.url == f"https://www.facebook.com/101000000000001/videos/{ref.id}"
    assert fb.fake.objects[ref.id]["kind"] == "video"


def test_a_page_the_person_cannot_post_to(fb):
    archive = fb.connect()[2]
    with pytest.raises(PlatformError) as caught:
        fb.publisher(archive).publish(req())
    assert caught.value.error_class == AUTH and caught.value.code == "200"


def test_a_user_token_where_a_page_token_is_needed(fb):
    account = fb.connect()[0]
    user_token = next(t for t, g in fb.fake.user_tokens.items() if g["long"])
    account.credentials["page_access_token"] = user_token
    with pytest.raises(PlatformError) as caught:
        fb.publisher(account).publish(req())
    assert caught.value.error_class == AUTH and caught.value.code == "210"
    assert user_token not in caught.value.message


# ---- delete, counts, reconciliation ------------------------------------------------------------------

def test_delete_and_delete_again(fb):
    publisher = fb.publisher()
    ref = publisher.publish(req())
    publisher.delete(ref)
    assert fb.fake.objects[ref.id]["deleted"]
    publisher.delete(ref)  # already gone: nothing to do, no error


def test_delete_a_video(fb, tmp_path):
    publisher = fb.publisher()
    ref = publisher.publish(req(media=[media(tmp_path, "v.mp4", MP4, "video/mp4")]))
    publisher.delete(ref)
    video = fb.fake.objects[ref.id]
    assert video["deleted"] and fb.fake.objects[video["post_id"]]["deleted"]


def test_counts_of_a_post(fb):
    publisher = fb.publisher()
    ref = publisher.publish(req(link="https://www.met.police.uk/a"))
    post = fb.fake.objects[ref.id]
    assert publisher.fetch_metrics(ref) == {"likes": post["reactions"], "comments": 2, "shares": 3,
                                            "views": post["views"]}
    fields = fb.server.received("GET", f"/v26.0/{ref.id}")[0].query["fields"]
    assert fields == "reactions.summary(total_count).limit(0),comments.summary(total_count).limit(0),shares"
    plain = publisher.publish(req("No link, so no shares yet"))
    assert publisher.fetch_metrics(plain)["shares"] == 0  # Facebook leaves the field out at zero
    publisher.delete(ref)
    with pytest.raises(PlatformError) as caught:
        publisher.fetch_metrics(ref)
    assert caught.value.error_class == PERMANENT and caught.value.code == "not-found"


def test_counts_of_a_video(fb, tmp_path):
    publisher = fb.publisher()
    ref = publisher.publish(req(media=[media(tmp_path, "v.mp4", MP4, "video/mp4")]))
    assert publisher.fetch_metrics(ref) == {"likes": 7, "comments": 1, "views": 40}
    assert fb.server.received("GET", f"/v26.0/{ref.id}/video_insights")[0].query["metric"] == "total_video_views"


def test_a_renamed_views_metric_leaves_the_other_counts(fb):
    publisher = fb.publisher(DESK_FACEBOOK_POST_VIEWS_METRIC="post_impressions")  # retired in November 2025
    ref = publisher.publish(req())
    assert set(publisher.fetch_metrics(ref)) == {"likes", "comments", "shares"}


def test_find_published_sees_through_spacing_and_case(fb, tmp_path):
    publisher = fb.publisher()
    publisher.publish(req("Earlier post"))
    wanted = req("Road  closed on the A40\n", link="https://tfl.gov.uk")
    ref = publisher.publish(wanted)
    assert publisher.find_published(req("road closed on the a40", link="https://tfl.gov.uk")) == ref
    assert publisher.find_published(req("Never posted")) is None
    photo_post = req("Officers at the scene", link="https://tfl.gov.uk",
                     media=[media(tmp_path, "p.jpg", JPEG, "image/jpeg")])
    assert publisher.find_published(photo_post) is None
    ref2 = publisher.publish(photo_post)  # its message carries the link: photos leave no room for a preview
    assert publisher.find_published(photo_post) == ref2
    since = int(fb.server.received("GET", "/v26.0/101000000000001/published_posts")[0].query["since"])
    assert time.time() - 72 * 3600 - 5 <= since <= time.time() - 72 * 3600 + 5


def test_find_published_looks_only_at_recent_posts(fb, monkeypatch):
    publisher = fb.publisher()
    publisher.publish(req("Old news"))
    monkeypatch.setattr(FacebookPublisher, "clock", staticmethod(lambda: time.time() + 73 * 3600))
    assert publisher.find_published(req("Old news")) is None


def test_find_published_follows_the_cursor(fb):
    from tests.fakes.fake_facebook_graph import _new_post

    publisher = fb.publisher()
    ref = publisher.publish(req("The one we look for"))
    page = fb.fake.pages[0]
    for i in range(60):  # newer posts push it to the second page of results
        _new_post(fb.fake, page, f"Later post {i}")["created"] += 1
    assert publisher.find_published(req("The one we look for")) == ref
    calls = fb.server.received("GET", "/v26.0/101000000000001/published_posts")
    assert len(calls) == 2 and calls[1].query["after"]


# ---- errors: every class and code --------------------------------------------------------------------

def _publish_error(fb, publisher=None, request=None) -> PlatformError:
    with pytest.raises(PlatformError) as caught:
        (publisher or fb.publisher()).publish(request or req())
    return caught.value


FEED = "/101000000000001/feed"


def test_an_expired_page_token_needs_a_reconnect(fb):
    publisher = fb.publisher()
    fb.fake.expire_tokens(463)
    error = _publish_error(fb, publisher)
    assert error.error_class == AUTH and error.code == "190/463" and error.message.startswith(EXPIRED)


@pytest.mark.parametrize("code,subcode,words", [
    (190, 458, "app was removed"), (190, 459, "security check"), (190, 460, "password"), (190, 463, EXPIRED),
    (190, 464, "not confirmed"), (190, 467, "logged out"), (190, None, "no longer valid"),
    (102, None, "no longer valid"),
])
def test_token_errors_need_a_reconnect(fb, code, subcode, words):
    publisher = fb.publisher()
    fb.fake.error_next(code, "Error validating access token", subcode, path=FEED)
    error = _publish_error(fb, publisher)
    assert error.error_class == AUTH and error.code == (f"{code}/{subcode}" if subcode else str(code))
    assert words in error.message and "reconnect" in error.message


@pytest.mark.parametrize("code", [10, 200, 210, 230, 299])
def test_permission_errors_need_a_reconnect(fb, code):
    publisher = fb.publisher()
    fb.fake.error_next(code, f"(#{code}) Permissions error", path=FEED)
    error = _publish_error(fb, publisher)
    assert error.error_class == AUTH and error.code == str(code) and "keep every permission" in error.message


@pytest.mark.parametrize("code", [4, 17, 32, 613, 341, 80001])
def test_throttling_waits_as_long_as_facebook_says(fb, code):
    publisher = fb.publisher()
    fb.fake.rate_limit_next(code, minutes=7, path=FEED)
    error = _publish_error(fb, publisher)
    assert error.error_class == RATE_LIMITED and error.code == str(code) and error.retry_after == 420
    assert "about 7 minute(s)" in error.message


def test_throttling_without_a_hint_waits_a_quarter_hour(fb):
    publisher = fb.publisher()
    fb.fake.rate_limit_next(4, path=FEED)
    assert _publish_error(fb, publisher).retry_after == 900


def test_throttling_with_retry_after_and_a_bare_429(fb):
    publisher = fb.publisher()
    fb.fake.error_next(613, "(#613) Calls to this api have exceeded the rate limit.", path=FEED,
                       headers={"Retry-After": "120"})
    assert _publish_error(fb, publisher).retry_after == 120
    fb.fake.error_next(1, "Too many", status=429, path=FEED, headers={"Retry-After": "30"})
    error = _publish_error(fb, publisher)
    assert error.error_class == RATE_LIMITED and error.retry_after == 30


@pytest.mark.parametrize("code", [1, 2])
def test_facebook_trouble_on_the_post_itself_is_ambiguous(fb, code):
    publisher = fb.publisher()
    fb.fake.error_next(code, "An unexpected error has occurred. Please retry your request later.", status=500,
                       path=FEED)
    error = _publish_error(fb, publisher)
    assert error.error_class == AMBIGUOUS and error.code == str(code)


@pytest.mark.parametrize("code", [1, 2])
def test_facebook_trouble_elsewhere_is_transient(fb, code):
    publisher = fb.publisher()
    ref = publisher.publish(req())
    fb.fake.error_next(code, "Service temporarily unavailable", status=500, path=f"/{ref.id}")
    with pytest.raises(PlatformError) as caught:
        publisher.fetch_metrics(ref)
    assert caught.value.error_class == TRANSIENT and caught.value.code == str(code)


@pytest.mark.parametrize("status,expected", [(500, AMBIGUOUS), (502, AMBIGUOUS), (504, AMBIGUOUS),
                                             (503, TRANSIENT)])
def test_a_bare_5xx_on_the_post(fb, status, expected):
    publisher = fb.publisher()
    fb.fake.fail_next(status, path=FEED)
    error = _publish_error(fb, publisher)
    assert error.error_class == expected and error.code == str(status)


def test_a_bare_5xx_while_reading_is_transient(fb):
    publisher = fb.publisher()
    ref = publisher.publish(req())
    fb.fake.fail_next(502, path=f"/{ref.id}")
    with pytest.raises(PlatformError) as caught:
        publisher.fetch_metrics(ref)
    assert caught.value.error_class == TRANSIENT


def test_duplicate_is_refused_in_words(fb):
    publisher = fb.publisher()
    publisher.publish(req("Same words"))
    error = _publish_error(fb, publisher, req("Same words"))
    assert error.error_class == PERMANENT and error.code == "506"
    assert error.message.startswith("Facebook refuses a post identical to a recent one from this Page.")


@pytest.mark.parametrize("code,subcode,words", [
    (368, None, "temporarily blocked this Page"), (100, None, "refused part of the request"),
    (1609005, None, "could not read the page the link points to"), (324, None, "could not read one of the photos"),
    (2635, None, "deprecated version"), (12345, None, "error 12345"),
])
def test_refusals_are_permanent_and_explained(fb, code, subcode, words):
    publisher = fb.publisher()
    fb.fake.error_next(code, f"(#{code}) You are calling a deprecated version" if code == 2635 else "Nope",
                       subcode, path=FEED)
    error = _publish_error(fb, publisher)
    assert error.error_class == PERMANENT and error.code == str(code) and words in error.message
    assert "Nothing was posted" in error.message


def test_a_wrong_api_version_is_refused_by_the_fake(fb):
    error = _publish_error(fb, fb.publisher(DESK_FACEBOOK_API_VERSION="v19.0"))
    assert error.error_class == PERMANENT and error.code == "2635" and "v26.0" in error.message


@pytest.mark.parametrize("code,subcode,expected", [
    (390, 1363030, TRANSIENT), (6000, 1363019, TRANSIENT), (6000, 1363033, TRANSIENT), (6000, 1363037, TRANSIENT),
    (6000, None, TRANSIENT), (100, 1363022, PERMANENT), (100, 1363023, PERMANENT), (100, 1363020, PERMANENT),
    (100, 1363031, PERMANENT), (100, 1363042, AUTH),
])
def test_video_upload_errors(fb, tmp_path, code, subcode, expected):
    publisher = fb.publisher()
    fb.fake.error_next(code, "There was a problem uploading your video.", subcode, path="/101000000000001/videos")
    error = _publish_error(fb, publisher, req(media=[media(tmp_path, "v.mp4", MP4, "video/mp4")]))
    assert error.error_class == expected and error.code == (f"{code}/{subcode}" if subcode else str(code))
    assert not fb.fake.live("video")


def test_read_timeout_on_the_post_is_ambiguous_and_reconciliation_finds_it(fb):
    publisher = fb.publisher(timeout=(2.0, 0.2))
    fb.fake.delay_next(0.4, path=FEED, method="POST")
    error = _publish_error(fb, publisher, req("Sent while Facebook was slow"))
    assert error.error_class == AMBIGUOUS and error.code == "timeout"
    for _ in range(100):  # the fake creates the post after the desk gave up waiting, as Facebook may
        if fb.fake.live():
            break
        time.sleep(0.01)
    found = publisher.find_published(req("Sent while Facebook was slow"))
    assert found is not None and fb.fake.objects[found.id]["message"] == "Sent while Facebook was slow"


def test_read_timeout_on_an_unpublished_photo_is_transient(fb, tmp_path):
    publisher = fb.publisher(timeout=(2.0, 0.2))
    fb.fake.delay_next(0.4, path="/101000000000001/photos")
    photos = [media(tmp_path, f"p{i}.jpg", JPEG + bytes([i]), "image/jpeg") for i in range(2)]
    error = _publish_error(fb, publisher, req(media=photos))
    assert error.error_class == TRANSIENT and error.code == "timeout"  # nothing is public yet


def test_facebook_unreachable_is_transient(fb):
    publisher = fb.publisher()
    fb.server.stop()
    error = _publish_error(fb, publisher)
    assert error.error_class == TRANSIENT and error.code == "connect"


def test_a_channel_without_credentials_needs_connecting(fb):
    channel = SimpleNamespace(id=1, platform="facebook", credentials=None, remote_account_id=None)
    error = _publish_error(fb, FacebookPublisher(channel, fb.context()))
    assert error.error_class == AUTH and error.code == "not-connected"


def test_credentials_under_a_lost_key_need_a_reconnect(fb):
    stranger = crypto.cipher_from_env({"DESK_TOKEN_KEY": Fernet.generate_key().decode()})
    channel = SimpleNamespace(id=1, platform="facebook", credentials=stranger.encrypt_json({"page_id": "1"}),
                              remote_account_id="1")
    error = _publish_error(fb, FacebookPublisher(channel, fb.context()))
    assert error.error_class == AUTH and error.code == "credentials-unreadable"


def test_no_credential_reaches_the_log_or_a_message(fb, caplog, tmp_path):
    messages = []
    with caplog.at_level(logging.DEBUG):
        accounts = fb.connect()
        publisher = fb.publisher(accounts[0])
        ref = publisher.publish(req(media=[media(tmp_path, "a.jpg", JPEG, "image/jpeg")]))
        fb.fake.expire_tokens(460)
        for action in (lambda: publisher.fetch_metrics(ref), lambda: publisher.publish(req("again"))):
            try:
                action()
            except PlatformError as exc:
                messages.append(exc.message)
    secrets = set(fb.fake.user_tokens) | {t for p in fb.fake.pages for t in p.tokens} | {fb.fake.app_secret}
    logged = caplog.text + json.dumps([r.getMessage() for r in caplog.records]) + " ".join(messages)
    assert len(messages) == 2 and secrets and not any(s in logged for s in secrets)
