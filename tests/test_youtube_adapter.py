"""The YouTube adapter, through its real code, against the fake YouTube on 127.0.0.1: connect (the Google
consent dance), refresh, publish a video, delete, metrics and reconciliation. Errors: test_youtube_errors.py;
the resumable upload's interruptions: test_youtube_upload.py; the rules: test_youtube_validation.py."""
from __future__ import annotations

import time
from urllib.parse import parse_qs

import pytest
import requests

from desk import crypto
from desk.platforms import RemoteRef, publisher_class
from desk.platforms.base import AUTH, PERMANENT, RATE_LIMITED, TRANSIENT, PlatformError
from desk.platforms.youtube import YouTubePublisher
from tests.youtube_support import CALLBACK, CHUNK, req, video_file, video_item, yt  # noqa: F401

YOUTUBE = "https://www.googleapis.com/auth/youtube"
EXPIRED = ("The YouTube channel's authorisation has expired or was revoked: an administrator must reconnect it.")


def _connect_error(yt, **env) -> PlatformError:
    publisher = YouTubePublisher(None, yt.context(**env))
    start, args = yt.consent(publisher)
    with pytest.raises(PlatformError) as caught:
        publisher.complete_authorization(args, start.pending)
    return caught.value


# ---- connecting ------------------------------------------------------------------------------------------

def test_registered_as_youtube():
    assert publisher_class("youtube") is YouTubePublisher


def test_connect_through_googles_consent(yt):
    account = yt.connect()
    assert (account.id, account.name, account.handle) == ("UCmetpolice000000000001", "Metropolitan Police",
                                                           "@metpoliceuk")
    consent, token, channels = yt.server.requests
    asked = consent.query
    assert asked["access_type"] == "offline" and asked["prompt"] == "consent"  # a refresh token, every time
    assert asked["scope"] == YOUTUBE and asked["response_type"] == "code" and asked["redirect_uri"] == CALLBACK
    assert asked["state"] == "state-yt-1" and asked["code_challenge_method"] == "S256"
    form = parse_qs(token.body.decode())
    assert form["grant_type"] == ["authorization_code"] and form["redirect_uri"] == [CALLBACK]
    assert form["client_id"] == [yt.fake.oauth.client_id] and form["client_secret"] == [yt.fake.oauth.client_secret]
    assert len(form["code_verifier"][0]) == 64
    assert channels.query == {"part": "snippet,contentDetails", "mine": "true"}
    assert channels.headers["Authorization"].startswith("Bearer ya29.")
    creds = account.credentials
    assert creds["refresh_token"] in yt.fake.oauth.refresh_tokens and creds["scope"] == YOUTUBE
    assert creds["uploads_playlist"] == "UUmetpolice000000000001" and creds["expires_at"] > time.time() + 3500
    assert creds["refresh_token"] not in repr(account) and creds["access_token"] not in repr(account)


def test_the_pending_verifier_never_shows(yt):
    start = YouTubePublisher(None, yt.context()).authorization_url(CALLBACK, "s")
    verifier = start.pending["code_verifier"]
    assert verifier not in repr(start) and verifier not in start.url


def test_declined_consent(yt):
    yt.fake.oauth.deny_next_consent = True
    error = _connect_error(yt)
    assert error.error_class == PERMANENT and error.code == "access_denied" and "Allow" in error.message
    assert yt.server.received("POST", "/token") == []


def test_a_callback_for_another_connection_is_refused(yt):
    publisher = YouTubePublisher(None, yt.context())
    start, args = yt.consent(publisher)
    with pytest.raises(PlatformError, match="does not match"):
        publisher.complete_authorization({**args, "state": "someone-elses"}, start.pending)
    assert yt.server.received("POST", "/token") == []


def test_a_code_used_twice_is_refused(yt):
    publisher = YouTubePublisher(None, yt.context())
    start, args = yt.consent(publisher)
    publisher.complete_authorization(args, start.pending)
    with pytest.raises(PlatformError) as caught:
        publisher.complete_authorization(args, start.pending)
    assert caught.value.error_class == PERMANENT and caught.value.code == "invalid_grant"
    assert "start the connection again" in caught.value.message


def test_a_wrong_verifier_is_refused(yt):
    publisher = YouTubePublisher(None, yt.context())
    start, args = yt.consent(publisher)
    with pytest.raises(PlatformError) as caught:
        publisher.complete_authorization(args, {**start.pending, "code_verifier": "x" * 64})
    assert caught.value.code == "invalid_grant"


def test_unticked_permission_is_explained(yt):
    yt.fake.oauth.grant_only = {"https://www.googleapis.com/auth/youtube.readonly"}
    error = _connect_error(yt, DESK_YOUTUBE_SCOPES=f"{YOUTUBE} https://www.googleapis.com/auth/youtube.readonly")
    assert error.error_class == PERMANENT and error.code == "scope"
    assert "Manage your YouTube account" in error.message


def test_a_wrong_client_secret_is_explained(yt):
    error = _connect_error(yt, DESK_GOOGLE_CLIENT_SECRET="not-the-secret")
    assert error.code == "invalid_client" and "DESK_GOOGLE_CLIENT_SECRET" in error.message
    assert "not-the-secret" not in error.message


def test_no_refresh_token_means_no_channel(yt):
    yt.fake.oauth.issue_refresh_tokens = False
    error = _connect_error(yt)
    assert error.error_class == PERMANENT and error.code == "no-refresh-token"


def test_a_google_account_without_a_channel(yt):
    yt.fake.channel = None
    error = _connect_error(yt)
    assert error.error_class == PERMANENT and error.code == "no-channel" and "create" in error.message


def test_not_configured_names_the_variables(yt):
    with pytest.raises(PlatformError) as caught:
        YouTubePublisher(None, yt.context(DESK_GOOGLE_CLIENT_ID="", DESK_GOOGLE_CLIENT_SECRET="")
                         ).authorization_url(CALLBACK, "s")
    assert caught.value.code == "not-configured"
    assert "DESK_GOOGLE_CLIENT_ID and DESK_GOOGLE_CLIENT_SECRET" in caught.value.message
    assert yt.server.requests == []


# ---- refresh ---------------------------------------------------------------------------------------------

def test_an_expired_token_is_refreshed_before_use(yt, tmp_path):
    account = yt.connect()
    account.credentials["expires_at"] = time.time() - 10
    publisher = yt.publisher(account)
    publisher.publish(req([video_item(tmp_path, 1000)]))
    refresh = yt.server.received("POST", "/token")[-1]
    form = parse_qs(refresh.body.decode())
    assert form["grant_type"] == ["refresh_token"] and form["refresh_token"] == [account.credentials["refresh_token"]]
    assert form["client_secret"] == [yt.fake.oauth.client_secret]
    stored = crypto.decrypt_json(publisher.channel.credentials)
    assert stored["refresh_token"] == account.credentials["refresh_token"]  # Google sent none: the old one stays
    assert stored["access_token"] != account.credentials["access_token"] and stored["expires_at"] > time.time() + 3500


def test_a_401_refreshes_once_and_the_new_token_is_stored(yt, tmp_path, sqlite_engine):
    from sqlalchemy import select, update

    from desk.db import make_session_factory
    from desk.models import Channel
    from desk.services import admin
    from desk.services.audit_trail import SystemActor

    account = yt.connect()
    factory = make_session_factory(sqlite_engine)
    with factory() as s:
        operator = SystemActor("cli:test-setup")
        unit = admin.create_unit(s, operator, "DPA", "Public Affairs")
        channel_id = admin.create_channel(s, operator, unit.id, "youtube", "Met on YouTube").id
        s.execute(update(Channel).where(Channel.id == channel_id).values(
            credentials=crypto.encrypt_json(account.credentials)))
        s.commit()
    yt.fake.oauth.expire_tokens()  # Google ended the token before its announced expiry
    publisher = YouTubePublisher(yt.channel(account, channel_id), yt.context(session_factory=factory))
    ref = publisher.publish(req([video_item(tmp_path, 1000)]))
    assert ref.id in yt.fake.videos and yt.fake.oauth.refreshes == 1
    paths = [(r.method, r.path) for r in yt.server.requests][-4:]
    start = ("POST", "/upload/youtube/v3/videos")
    assert paths[:3] == [start, ("POST", "/token"), start]
    with factory() as s:
        stored = crypto.decrypt_json(s.scalar(select(Channel.credentials).where(Channel.id == channel_id)))
    assert stored["access_token"] in yt.fake.oauth.bearers
    assert stored["refresh_token"] == account.credentials["refresh_token"]


def test_refresh_returns_new_credentials(yt):
    account = yt.connect()
    fresh = yt.publisher(account).refresh()
    assert fresh["access_token"] != account.credentials["access_token"]
    assert fresh["refresh_token"] == account.credentials["refresh_token"]


def test_a_revoked_grant_needs_a_reconnect(yt, tmp_path):
    publisher = yt.publisher()
    yt.fake.oauth.revoke()
    with pytest.raises(PlatformError) as caught:
        publisher.publish(req([video_item(tmp_path, 1000)]))
    assert caught.value.error_class == AUTH and caught.value.code == "invalid_grant"
    assert caught.value.message.startswith(EXPIRED)


@pytest.mark.parametrize("status,error,error_class", [
    (500, "internal_failure", TRANSIENT),
    (503, "temporarily_unavailable", TRANSIENT),
    (429, "rate_limit_exceeded", RATE_LIMITED),
    (401, "invalid_client", AUTH),
    (400, "invalid_request", PERMANENT),
])
def test_token_endpoint_failures_during_refresh(yt, status, error, error_class):
    publisher = yt.publisher()
    yt.fake.oauth.token_failures.append((status, error))
    with pytest.raises(PlatformError) as caught:
        publisher.refresh()
    assert caught.value.error_class == error_class and caught.value.code == error


# ---- publishing ----------------------------------------------------------------------------------------

def test_publish_a_video(yt, tmp_path):
    size = 2 * CHUNK + 5000
    video = video_item(tmp_path, size)
    ref = yt.publisher().publish(req([video], link="https://www.met.police.uk/appeal", tags=["Camden", "road safety"]))
    assert ref == RemoteRef(ref.id, f"https://www.youtube.com/watch?v={ref.id}")
    [start] = yt.server.received("POST", "/upload/youtube/v3/videos")
    assert start.query == {"uploadType": "resumable", "part": "snippet,status"}
    assert start.headers["X-Upload-Content-Length"] == str(size)
    assert start.headers["X-Upload-Content-Type"] == "video/mp4"
    assert start.headers["Content-Type"].startswith("application/json")
    assert start.json == {"snippet": {"title": "Camden collision: can you help?", "description":
                                      "Appeal for witnesses after a collision in Camden.\n\n"
                                      "https://www.met.police.uk/appeal", "categoryId": "25",
                                      "tags": ["Camden", "road safety"]},
                          "status": {"privacyStatus": "public", "selfDeclaredMadeForKids": False}}
    puts = yt.server.received("PUT", "/upload/youtube/v3/videos")
    assert [p.headers["Content-Range"] for p in puts] == [
        f"bytes 0-{CHUNK - 1}/{size}", f"bytes {CHUNK}-{2 * CHUNK - 1}/{size}", f"bytes {2 * CHUNK}-{size - 1}/{size}"]
    assert all(p.headers["Content-Type"] == "video/mp4" for p in puts)
    assert yt.fake.videos[ref.id]["bytes"] == video_file(tmp_path, size).read_bytes()


def test_publish_with_youtubes_own_fields(yt, tmp_path):
    ref = yt.publisher(DESK_YOUTUBE_CATEGORY_ID="22").publish(req(
        [video_item(tmp_path, 100, "clip.mov", "video/quicktime")], description="Written for YouTube.",
        privacy="Unlisted"))
    resource = yt.fake.videos[ref.id]["resource"]
    assert resource["snippet"]["description"] == "Written for YouTube." and resource["snippet"]["categoryId"] == "22"
    assert resource["status"]["privacyStatus"] == "unlisted" and "tags" not in resource["snippet"]


def test_an_upload_answered_with_200_is_as_good(yt, tmp_path):
    yt.fake.complete_status = 200
    assert yt.publisher().publish(req([video_item(tmp_path, 100)])).id in yt.fake.videos


def test_publish_refuses_what_validation_refuses(yt, tmp_path):
    publisher = yt.publisher()
    yt.server.clear()
    with pytest.raises(PlatformError) as caught:
        publisher.publish(req([video_item(tmp_path, 100)], title="Arrest <update>"))
    assert caught.value.error_class == PERMANENT and caught.value.code == "invalid"
    assert yt.server.requests == []


# ---- delete, metrics, reconciliation --------------------------------------------------------------------

def test_delete_and_delete_again(yt, tmp_path):
    publisher = yt.publisher()
    ref = publisher.publish(req([video_item(tmp_path, 100)]))
    publisher.delete(ref)
    assert yt.fake.videos[ref.id]["deleted"]
    assert yt.server.received("DELETE", "/youtube/v3/videos")[0].query == {"id": ref.id}
    publisher.delete(ref)  # already gone: nothing to do, no error


def test_delete_with_an_upload_only_token_needs_a_reconnect(yt, tmp_path):
    """The trap in PLATFORMS.md: videos.delete does not accept youtube.upload."""
    account = yt.connect()
    publisher = yt.publisher(account)
    ref = publisher.publish(req([video_item(tmp_path, 100)]))
    yt.fake.oauth.bearers[account.credentials["access_token"]]["scope"] = YOUTUBE + ".upload"
    with pytest.raises(PlatformError) as caught:
        publisher.delete(ref)
    assert caught.value.error_class == AUTH and caught.value.code == "insufficientPermissions"
    assert not yt.fake.videos[ref.id]["deleted"]


def test_metrics(yt, tmp_path):
    publisher = yt.publisher()
    ref = publisher.publish(req([video_item(tmp_path, 100)]))
    assert publisher.fetch_metrics(ref) == {"views": 100, "likes": 12, "comments": 3}
    assert yt.server.received("GET", "/youtube/v3/videos")[0].query == {"part": "statistics", "id": ref.id}
    publisher.delete(ref)
    with pytest.raises(PlatformError) as caught:
        publisher.fetch_metrics(ref)
    assert caught.value.error_class == PERMANENT and caught.value.code == "not-found"


def test_find_published_by_title_and_description_in_the_window(yt, tmp_path):
    publisher = yt.publisher()
    wanted = req([video_item(tmp_path, 100)])
    yt.fake.add_video("Camden collision: can you help?", "Appeal for witnesses after a collision in Camden.",
                      published_at=time.time() - 72 * 3600)  # the same words, three days ago: another video
    assert publisher.find_published(wanted) is None
    ref = publisher.publish(wanted)
    for n in range(60):  # newer uploads push it to the second page
        yt.fake.add_video(f"Other video {n}", published_at=time.time() + 60)
    assert publisher.find_published(wanted) == ref
    lists = yt.server.received("GET", "/youtube/v3/playlistItems")
    assert lists[-1].query["pageToken"] == "50" and lists[0].query["playlistId"] == "UUmetpolice000000000001"
    assert publisher.find_published(req([video_item(tmp_path, 100)], title="Never posted")) is None


def test_find_published_asks_for_the_uploads_playlist_when_not_kept(yt, tmp_path):
    account = yt.connect()
    del account.credentials["uploads_playlist"]
    publisher = yt.publisher(account)
    ref = publisher.publish(req([video_item(tmp_path, 100)]))
    assert publisher.find_published(req([video_item(tmp_path, 100)])) == ref
    assert yt.server.received("GET", "/youtube/v3/channels")[-1].query == {"part": "contentDetails", "mine": "true"}


def test_the_fake_checks_bearer_tokens(yt):
    reply = requests.get(yt.server.url + "/youtube/v3/channels?part=snippet&mine=true",
                         headers={"Authorization": "Bearer ya29.made-up"}, timeout=5)
    assert reply.status_code == 401 and reply.json()["error"]["errors"][0]["reason"] == "authError"
