"""The Flickr adapter, through its real code, against the fake Flickr on 127.0.0.1: the signed multipart upload,
delete, metrics, reconciliation by machine tag, and every Flickr error code PLATFORMS.md lists mapped to its
class. Connecting is in test_flickr_connect, the validation table in test_flickr_validation."""
from __future__ import annotations

import json
import logging
import time
from types import SimpleNamespace
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from cryptography.fernet import Fernet

from desk import crypto
from desk.config import Settings
from desk.platforms import Content, MediaItem, PlatformContext, PublishRequest, RemoteRef
from desk.platforms.base import AMBIGUOUS, AUTH, PERMANENT, RATE_LIMITED, TRANSIENT, PlatformError
from desk.platforms.flickr import FlickrPublisher
from desk.platforms.flickr_upload import machine_tag
from tests.fakes.fake_flickr import FakeFlickr
from tests.fakes.server import FakeServer
from tests.media_samples import jpeg, png

CALLBACK = "http://desk.test/channels/connect/flickr/callback?state=abc"
EXPIRED = ("The Flickr account's authorisation has expired or lacks permission: an administrator must reconnect it "
           "(with delete permission).")


@pytest.fixture(autouse=True)
def _loopback(monkeypatch):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the fake speaks plain HTTP on 127.0.0.1
    monkeypatch.setattr(crypto, "_cipher", crypto.cipher_from_env({"DESK_TOKEN_KEY": Fernet.generate_key().decode()}))


def flickr_env(fake: FakeFlickr, url: str) -> dict:
    return {"DESK_FLICKR_OAUTH_BASE": url + "/services/oauth", "DESK_FLICKR_UPLOAD_URL": url + "/services/upload/",
            "DESK_FLICKR_REST_URL": url + "/services/rest/", "DESK_FLICKR_API_KEY": fake.api_key,
            "DESK_FLICKR_API_SECRET": fake.api_secret}


class FlickrWorld:
    """The fake Flickr, its server, and the desk's side: settings, connected channels, publishers."""

    def __init__(self, fake: FakeFlickr, server: FakeServer):
        self.fake, self.server = fake, server
        self.env = flickr_env(fake, server.url)

    def context(self, timeout=(2.0, 2.0), **env) -> PlatformContext:
        settings = Settings(database_url="sqlite://", secret_key="test", extra={"platform_env": {**self.env, **env}})
        return PlatformContext(settings=settings, timeout=timeout)

    def connect(self, **env):
        """The whole consent dance, as the desk's routes and the administrator's browser will do it."""
        publisher = FlickrPublisher(None, self.context(**env))
        start = publisher.authorization_url(CALLBACK, "abc")
        consent = requests.get(start.url, allow_redirects=False, timeout=5)  # the browser at Flickr's page
        assert consent.status_code == 302 and consent.headers["Location"].startswith(CALLBACK + "&")
        [account] = publisher.complete_authorization(dict(parse_qsl(urlsplit(consent.headers["Location"]).query)),
                                                     start.pending)
        return account

    def channel(self, account, channel_id=None):
        return SimpleNamespace(id=channel_id, platform="flickr", credentials=crypto.encrypt_json(account.credentials),
                               remote_account_id=account.id)

    def publisher(self, account=None, **ctx) -> FlickrPublisher:
        return FlickrPublisher(self.channel(account or self.connect()), self.context(**ctx))


@pytest.fixture
def fl():
    fake = FakeFlickr()
    with FakeServer(fake) as server:
        yield FlickrWorld(fake, server)


@pytest.fixture
def photo(tmp_path):
    def make(name="cordon.jpg", data: bytes | None = None, mime="image/jpeg") -> MediaItem:
        data = jpeg() if data is None else data
        path = tmp_path / name
        path.write_bytes(data)
        return MediaItem(str(path), mime, len(data), name)
    return make


def req(media=(), text="Officers at the scene of a collision on the A40.", marker="desk-7-11", **extra):
    return PublishRequest(target_id=11, channel_id=1, marker=marker,
                          content=Content(text=text, link=extra.pop("link", None), media=tuple(media), extra=extra))


def _oauth_params(header: str) -> dict:
    return {k: v.strip('"') for k, v in (p.strip().split("=", 1) for p in header[len("OAuth "):].split(","))}


# ---- publishing ----------------------------------------------------------------------------------------

def test_publish_a_photo_with_every_field_signed_but_the_photo(fl, photo):
    item = photo()
    ref = fl.publisher().publish(req([item], title="Cordon on the A40", description="Please avoid the area.",
                                     tags=["road closure", "A40", "Acton"], privacy="public",
                                     link="https://www.met.police.uk/a40"))
    upload = fl.server.received("POST", "/services/upload/")[0]
    assert upload.form == {"title": "Cordon on the A40",
                           "description": "Please avoid the area.\n\nhttps://www.met.police.uk/a40",
                           "tags": f'"road closure" A40 Acton {machine_tag("desk-7-11")}', "is_public": "1",
                           "is_friend": "0", "is_family": "0", "safety_level": "1", "content_type": "1",
                           "hidden": "1"}
    assert upload.files == {"photo": open(item.path, "rb").read()}
    assert upload.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert int(upload.headers["Content-Length"]) == len(upload.body)
    assert "photo" not in _oauth_params(upload.headers["Authorization"])
    stored = fl.fake.photos[ref.id]
    assert stored["tags"] == ["road closure", "A40", "Acton", machine_tag("desk-7-11")]  # Flickr's reading
    assert ref == RemoteRef(ref.id, f"https://www.flickr.com/photos/12345678@N04/{ref.id}/")


def test_words_beyond_ascii_are_signed_and_sent_as_typed(fl, photo):
    ref = fl.publisher().publish(req([photo("zoë.png", png(), "image/png")], text="Café crème – 警察 🚓",
                                     tags=["Notting Hill", "Zoë"]))
    fields = fl.fake.photos[ref.id]["fields"]
    assert fields["title"] == fields["description"] == "Café crème – 警察 🚓"
    assert fl.fake.photos[ref.id]["filename"] == "zo.png"  # an ASCII name in the multipart header


@pytest.mark.parametrize("privacy,flags", [("public", "100"), ("friends", "010"), ("family", "001"),
                                           ("private", "000")])
def test_visibility(fl, photo, privacy, flags):
    ref = fl.publisher().publish(req([photo()], privacy=privacy))
    f = fl.fake.photos[ref.id]["fields"]
    assert f["is_public"] + f["is_friend"] + f["is_family"] == flags


def test_without_a_title_the_first_line_of_the_text_is_used(fl, photo):
    text = ("Appeal for witnesses after a collision on the A40 in Acton this morning at about eight, involving "
            "a cyclist and a van.\nCall 101.")
    ref = fl.publisher().publish(req([photo()], text=text))
    fields = fl.fake.photos[ref.id]["fields"]
    assert fields["title"] == ("Appeal for witnesses after a collision on the A40 in Acton this morning at about "
                               "eight, involving a\u2026")
    assert len(fields["title"]) <= 100 and fields["description"] == text


def test_the_photo_streams_in_blocks(fl, photo):
    big = jpeg(400, 300) + bytes(range(256)) * 40
    ref = fl.publisher(DESK_FLICKR_UPLOAD_BLOCK_BYTES="1000").publish(req([photo(data=big)]))
    assert fl.fake.photos[ref.id]["bytes"] == big


def test_publish_refuses_what_validation_refuses(fl):
    with pytest.raises(PlatformError) as caught:
        fl.publisher().publish(req([]))
    assert caught.value.error_class == PERMANENT and caught.value.code == "invalid"
    assert "Flickr needs a photo" in caught.value.message and "Nothing was posted" in caught.value.message
    assert fl.server.received("POST", "/services/upload/") == []


def test_a_photo_missing_from_the_store_is_explained(fl, tmp_path):
    gone = MediaItem(str(tmp_path / "gone.jpg"), "image/jpeg", 100, "gone.jpg")
    with pytest.raises(PlatformError) as caught:
        fl.publisher().publish(req([gone]))
    assert caught.value.error_class == PERMANENT and caught.value.code == "file-missing"


# ---- delete, metrics, reconciliation --------------------------------------------------------------------

def test_delete_and_delete_again(fl, photo):
    publisher = fl.publisher()
    ref = publisher.publish(req([photo()]))
    publisher.delete(ref)
    assert fl.fake.photos[ref.id]["deleted"]
    delete = fl.server.received("POST", "/services/rest/")[0]
    assert delete.form["method"] == "flickr.photos.delete" and delete.form["photo_id"] == ref.id
    publisher.delete(ref)  # already gone (Flickr's code 1): nothing to do, no error


def test_a_token_with_write_permission_only_cannot_delete(fl, photo):
    """The trap: perms=write uploads, but only perms=delete deletes."""
    fl.fake.grant_perms = "write"
    publisher = fl.publisher()
    ref = publisher.publish(req([photo()]))
    with pytest.raises(PlatformError) as caught:
        publisher.delete(ref)
    assert caught.value.error_class == AUTH and caught.value.code == "99"
    assert caught.value.message.startswith(EXPIRED) and "The photo is still on Flickr." in caught.value.message
    assert not fl.fake.photos[ref.id]["deleted"]


def test_metrics(fl, photo):
    publisher = fl.publisher()
    ref = publisher.publish(req([photo()]))
    fl.fake.photos[ref.id].update(views=1234, comments=5, faves=17)
    assert publisher.fetch_metrics(ref) == {"views": 1234, "likes": 17, "comments": 5}
    methods = [r.query["method"] for r in fl.server.received("GET", "/services/rest/")]
    assert methods[-2:] == ["flickr.photos.getInfo", "flickr.photos.getFavorites"]
    publisher.delete(ref)
    with pytest.raises(PlatformError) as caught:
        publisher.fetch_metrics(ref)
    assert caught.value.error_class == PERMANENT and caught.value.code == "1"


def test_find_published_by_its_machine_tag(fl, photo):
    publisher = fl.publisher()
    publisher.publish(req([photo()], marker="desk-1-1"))
    ref = publisher.publish(req([photo()], marker="desk-7-11"))
    publisher.publish(req([photo()], marker="desk-7-111"))
    assert publisher.find_published(req([photo()], marker="desk-7-11")) == ref
    assert publisher.find_published(req([photo()], marker="desk-9-9")) is None
    asked = fl.server.received("GET", "/services/rest/")[-1].query
    assert asked["method"] == "flickr.people.getPhotos" and asked["user_id"] == "me"
    assert "machine_tags" in asked["extras"].split(",")


def test_find_published_looks_back_only_so_far_and_pages(fl, photo, monkeypatch):
    publisher = fl.publisher()
    ref = publisher.publish(req([photo()]))
    fl.fake.photos[ref.id]["uploaded"] -= 3600
    for n in range(150):  # newer uploads push it onto the second page
        fl.fake.photos[f"9{n:04d}"] = {"id": f"9{n:04d}", "fields": {}, "tags": [], "machine_tags": [],
                                       "deleted": False, "uploaded": int(time.time()) - n}
    assert publisher.find_published(req([photo()])) == ref
    pages = [r.query["page"] for r in fl.server.received("GET", "/services/rest/")
             if r.query["method"] == "flickr.people.getPhotos"]
    assert pages == ["1", "2"]
    monkeypatch.setattr(FlickrPublisher, "clock", staticmethod(lambda: time.time() + 31 * 86400))
    assert publisher.find_published(req([photo()])) is None  # older than the 30 days looked at


def test_read_timeout_on_the_upload_is_ambiguous_and_reconciliation_finds_it(fl, photo):
    publisher = fl.publisher(timeout=(2.0, 0.2))
    fl.fake.delay_next(0.4, path="/services/upload/")
    with pytest.raises(PlatformError) as caught:
        publisher.publish(req([photo()]))
    assert caught.value.error_class == AMBIGUOUS and caught.value.code == "timeout"
    for _ in range(100):  # Flickr stores the photo after the desk gave up waiting
        if fl.fake.live_photos():
            break
        time.sleep(0.01)
    [stored] = fl.fake.live_photos()
    assert publisher.find_published(req([photo()])) == RemoteRef(stored["id"], publisher._url({}, stored["id"]))


# ---- errors: every code PLATFORMS.md lists, and the HTTP failures ----------------------------------------

UPLOAD_CODES = [(0, TRANSIENT, "video uploads"), (2, PERMANENT, "no photo"), (3, TRANSIENT, "general upload failure"),
                (4, PERMANENT, "empty file"), (5, PERMANENT, "JPEG, PNG and GIF"), (6, PERMANENT, "upload limit"),
                (7, PERMANENT, "limit of videos"), (8, PERMANENT, "200 MB"), (9, PERMANENT, "already has"),
                (14, TRANSIENT, "capacity"), (95, PERMANENT, "https://"), (96, AUTH, "DESK_FLICKR_API_SECRET"),
                (97, AUTH, "without the desk's signature"), (98, AUTH, EXPIRED), (99, AUTH, EXPIRED),
                (100, AUTH, "DESK_FLICKR_API_KEY"), (105, TRANSIENT, "temporarily unavailable"),
                (106, TRANSIENT, "could not save"), (111, PERMANENT, "format"), (112, PERMANENT, "method"),
                (114, PERMANENT, "could not read"), (115, PERMANENT, "could not read"), (116, PERMANENT, "abuse"),
                (42, PERMANENT, "\u201cSomething new\u201d")]


@pytest.mark.parametrize("code,error_class,words", UPLOAD_CODES)
def test_every_upload_error_code(fl, photo, code, error_class, words):
    publisher = fl.publisher()
    fl.fake.error_next(code, "Something new" if code == 42 else "", method="upload")
    with pytest.raises(PlatformError) as caught:
        publisher.publish(req([photo()]))
    error = caught.value
    assert (error.error_class, error.code) == (error_class, str(code)) and words in error.message
    assert "Nothing was posted" in error.message and fl.fake.photos == {}


@pytest.mark.parametrize("code,error_class", [(96, AUTH), (97, AUTH), (98, AUTH), (99, AUTH), (100, AUTH),
                                              (105, TRANSIENT), (106, TRANSIENT), (112, PERMANENT)])
def test_rest_error_codes_on_delete(fl, photo, code, error_class):
    publisher = fl.publisher()
    ref = publisher.publish(req([photo()]))
    fl.fake.error_next(code, method="flickr.photos.delete")
    with pytest.raises(PlatformError) as caught:
        publisher.delete(ref)
    assert (caught.value.error_class, caught.value.code) == (error_class, str(code))
    assert "The photo is still on Flickr." in caught.value.message


def test_what_the_fake_itself_refuses(fl, photo):
    """Not injected: the fake checks the file and the account as Flickr does."""
    publisher = fl.publisher()
    cases = [(photo("blank.jpg", b""), 1, "4"), (photo("notes.jpg", b"%PDF-1.7 not a photo"), None, "5")]
    for item, size, code in cases:
        item = MediaItem(item.path, item.mime_type, size or item.size, item.filename)
        with pytest.raises(PlatformError) as caught:
            publisher.publish(req([item]))
        assert (caught.value.error_class, caught.value.code) == (PERMANENT, code)
    fl.fake.max_photo_bytes = 100
    with pytest.raises(PlatformError) as caught:
        publisher.publish(req([photo()]))
    assert caught.value.code == "8"
    fl.fake.max_photo_bytes, fl.fake.upload_limit = 10**9, 1
    publisher.publish(req([photo()]))
    with pytest.raises(PlatformError) as caught:
        publisher.publish(req([photo()]))
    assert caught.value.code == "6" and "Flickr Pro" in caught.value.message


def test_a_revoked_token_holds_the_post(fl, photo):
    publisher = fl.publisher()
    fl.fake.revoke_tokens()
    with pytest.raises(PlatformError) as caught:
        publisher.publish(req([photo()]))
    assert caught.value.error_class == AUTH and caught.value.code == "98"
    assert caught.value.message.startswith(EXPIRED) and "nothing is lost" in caught.value.message


def test_a_changed_api_secret_or_key_after_connecting(fl, photo):
    account = fl.connect()
    for env, code in ((dict(DESK_FLICKR_API_SECRET="changed"), "96"), (dict(DESK_FLICKR_API_KEY="changed"), "100")):
        with pytest.raises(PlatformError) as caught:
            fl.publisher(account, **env).publish(req([photo()]))
        assert (caught.value.error_class, caught.value.code) == (AUTH, code)


def test_503_on_the_upload_is_transient(fl, photo):
    publisher = fl.publisher()
    fl.fake.fail_next(503, path="/services/upload/")
    with pytest.raises(PlatformError) as caught:
        publisher.publish(req([photo()]))
    assert caught.value.error_class == TRANSIENT and caught.value.code == "503"
    assert "Nothing was posted" in caught.value.message


@pytest.mark.parametrize("status", [500, 502, 504])
def test_a_gateway_error_on_the_upload_is_ambiguous(fl, photo, status):
    publisher = fl.publisher()
    fl.fake.fail_next(status, path="/services/upload/")
    with pytest.raises(PlatformError) as caught:
        publisher.publish(req([photo()]))
    assert caught.value.error_class == AMBIGUOUS and caught.value.code == str(status)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_on_the_rest_api_is_transient(fl, photo, status):
    publisher = fl.publisher()
    ref = publisher.publish(req([photo()]))
    fl.fake.fail_next(status, path="/services/rest/")
    with pytest.raises(PlatformError) as caught:
        publisher.fetch_metrics(ref)
    assert caught.value.error_class == TRANSIENT and caught.value.code == str(status)


def test_429_says_when_to_try_again(fl, photo):
    publisher = fl.publisher()
    fl.fake.rate_limit_next(retry_after="30", path="/services/upload/")
    with pytest.raises(PlatformError) as caught:
        publisher.publish(req([photo()]))
    assert caught.value.error_class == RATE_LIMITED and caught.value.retry_after == 30


def test_read_timeout_on_a_read_is_transient(fl, photo):
    publisher = fl.publisher(timeout=(2.0, 0.2))
    ref = publisher.publish(req([photo()]))
    fl.fake.delay_next(0.5, path="/services/rest/")
    with pytest.raises(PlatformError) as caught:
        publisher.fetch_metrics(ref)
    assert caught.value.error_class == TRANSIENT and caught.value.code == "timeout"


def test_flickr_unreachable_is_transient(fl, photo):
    publisher = fl.publisher()
    fl.server.stop()
    with pytest.raises(PlatformError) as caught:
        publisher.publish(req([photo()]))
    assert caught.value.error_class == TRANSIENT and caught.value.code == "connect"


def test_channels_without_usable_credentials_need_connecting(fl, photo):
    bare = SimpleNamespace(id=1, platform="flickr", credentials=None, remote_account_id=None)
    stranger = crypto.cipher_from_env({"DESK_TOKEN_KEY": Fernet.generate_key().decode()})
    lost = SimpleNamespace(id=1, platform="flickr", credentials=stranger.encrypt_json({"oauth_token": "t"}),
                           remote_account_id="1")
    for channel, code in ((bare, "not-connected"), (lost, "credentials-unreadable")):
        with pytest.raises(PlatformError) as caught:
            FlickrPublisher(channel, fl.context()).publish(req([photo()]))
        assert (caught.value.error_class, caught.value.code) == (AUTH, code)


def test_no_credential_reaches_the_log_or_a_message(fl, photo, caplog):
    messages = []
    with caplog.at_level(logging.DEBUG):
        account = fl.connect()
        publisher = fl.publisher(account)
        ref = publisher.publish(req([photo()]))
        fl.fake.revoke_tokens()
        for call in (lambda: publisher.fetch_metrics(ref), lambda: publisher.delete(ref)):
            try:
                call()
            except PlatformError as exc:
                messages.append(exc.message)
        try:
            FlickrPublisher(None, fl.context(DESK_FLICKR_API_SECRET="wrong")).authorization_url(CALLBACK, "abc")
        except PlatformError as exc:
            messages.append(exc.message)
    secrets = {account.credentials["oauth_token"], account.credentials["oauth_token_secret"], fl.fake.api_secret}
    logged = caplog.text + json.dumps([r.getMessage() for r in caplog.records]) + " ".join(messages)
    assert len(messages) == 3 and not any(s in logged for s in secrets) and "debug_sbs" not in logged
