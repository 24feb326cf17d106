"""Every error PLATFORMS.md (and YouTube's error tables) list for YouTube, through the real adapter against the
fake, each mapped to its class with words a press officer can act on."""
from __future__ import annotations

import json
import logging
import time
from datetime import datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import requests
from cryptography.fernet import Fernet

from desk import crypto
from desk.platforms.base import AUTH, PERMANENT, RATE_LIMITED, TRANSIENT, PlatformError
from desk.platforms.youtube import YouTubePublisher
from desk.platforms.youtube_errors import seconds_to_quota_reset, youtube_error
from tests.youtube_support import req, video_item, yt  # noqa: F401

EXPIRED = "The YouTube channel's authorisation has expired or was revoked: an administrator must reconnect it."


def _publish_error(yt, tmp_path, publisher=None, **kwargs) -> PlatformError:
    with pytest.raises(PlatformError) as caught:
        (publisher or yt.publisher()).publish(req([video_item(tmp_path, 1000)], **kwargs))
    return caught.value


@pytest.mark.parametrize("status,reason,error_class,words", [
    (403, "quotaExceeded", RATE_LIMITED, "midnight Pacific time"),
    (403, "rateLimitExceeded", RATE_LIMITED, "slow down"),
    (403, "userRateLimitExceeded", RATE_LIMITED, "slow down"),
    (400, "uploadLimitExceeded", RATE_LIMITED, "in a day"),
    (403, "insufficientPermissions", AUTH, "reconnect it and allow everything"),
    (403, "authenticatedUserAccountSuspended", AUTH, "suspended"),
    (403, "forbidden", PERMANENT, "YouTube Studio"),
    (403, "forbiddenPrivacySetting", PERMANENT, "privacy"),
    (400, "invalidTitle", PERMANENT, "title"),
    (400, "invalidDescription", PERMANENT, "5000 bytes"),
    (400, "invalidTags", PERMANENT, "500 characters"),
    (400, "invalidCategoryId", PERMANENT, "DESK_YOUTUBE_CATEGORY_ID"),
    (400, "mediaBodyRequired", PERMANENT, "no video"),
    (403, "accessNotConfigured", PERMANENT, "Google Cloud project"),
    (500, "backendError", TRANSIENT, "try again by itself"),
    (502, "backendError", TRANSIENT, "try again by itself"),
    (503, "backendError", TRANSIENT, "try again by itself"),
    (504, "backendError", TRANSIENT, "try again by itself"),
])
def test_each_reason_when_the_upload_opens(yt, tmp_path, status, reason, error_class, words):
    publisher = yt.publisher()
    yt.fake.fail_next(status, reason, path="/upload/", method="POST")
    error = _publish_error(yt, tmp_path, publisher)
    assert (error.error_class, error.code) == (error_class, reason)
    assert words in error.message and "upload_id" not in error.message
    assert yt.fake.videos == {}


def test_an_unknown_refusal_quotes_youtube(yt, tmp_path):
    publisher = yt.publisher()
    yt.fake.fail_next(400, "somethingNew", path="/upload/", method="POST")
    error = _publish_error(yt, tmp_path, publisher)
    assert error.error_class == PERMANENT and error.code == "somethingNew"
    assert "YouTube says: \u201csomethingNew\u201d" in error.message and "Nothing was published" in error.message


def test_quota_waits_until_midnight_pacific(yt, tmp_path):
    publisher = yt.publisher()
    yt.fake.fail_next(403, "quotaExceeded", path="/upload/", method="POST")
    error = _publish_error(yt, tmp_path, publisher)
    assert abs(error.retry_after - seconds_to_quota_reset(time.time())) < 5


@pytest.mark.parametrize("local,expected", [
    (datetime(2025, 7, 1, 23, 0), 3600),                    # summer: 23:00 PDT
    (datetime(2025, 1, 15, 0, 30), 23.5 * 3600),            # winter, just after the reset
    (datetime(2025, 3, 8, 12, 0), 12 * 3600),               # the night clocks go forward is still midnight
    (datetime(2025, 7, 1, 23, 59, 30), 60),                 # never less than a minute
])
def test_seconds_to_quota_reset(local, expected):
    now = local.replace(tzinfo=ZoneInfo("America/Los_Angeles")).timestamp()
    assert seconds_to_quota_reset(now) == expected


def test_the_daily_upload_limit_waits_a_day(yt, tmp_path):
    publisher = yt.publisher()
    yt.fake.uploads_left = 0
    error = _publish_error(yt, tmp_path, publisher)
    assert error.error_class == RATE_LIMITED and error.code == "uploadLimitExceeded" and error.retry_after == 86400


def test_a_category_youtube_does_not_offer(yt, tmp_path):
    error = _publish_error(yt, tmp_path, yt.publisher(DESK_YOUTUBE_CATEGORY_ID="99"))
    assert error.error_class == PERMANENT and error.code == "invalidCategoryId"


@pytest.mark.parametrize("retry_after,expected", [("120", 120), (None, 60)])
def test_429_says_when_to_try_again(yt, tmp_path, retry_after, expected):
    publisher = yt.publisher()
    yt.fake.fail_next(429, "rateLimit429", path="/upload/", method="POST",
                      headers={"Retry-After": retry_after} if retry_after else None)
    error = _publish_error(yt, tmp_path, publisher)
    assert error.error_class == RATE_LIMITED and error.code == "RESOURCE_EXHAUSTED" and error.retry_after == expected


def test_a_401_that_survives_a_refresh_needs_a_reconnect(yt, tmp_path):
    publisher = yt.publisher()
    yt.fake.fail_next(401, "authError", path="/upload/", method="POST", times=2)
    error = _publish_error(yt, tmp_path, publisher)
    assert error.error_class == AUTH and error.code == "authError" and error.message.startswith(EXPIRED)
    assert yt.fake.oauth.refreshes == 1


def test_a_channel_that_was_removed(yt):
    publisher = yt.publisher()
    yt.fake.channel = None
    with pytest.raises(PlatformError) as caught:
        publisher.fetch_metrics(SimpleNamespace(id="vid1"))
    assert caught.value.error_class == AUTH and caught.value.code == "youtubeSignupRequired"


def test_delete_refused(yt, tmp_path):
    publisher = yt.publisher()
    ref = publisher.publish(req([video_item(tmp_path, 100)]))
    yt.fake.fail_next(403, "forbidden", path="/youtube/v3/videos", method="DELETE")
    with pytest.raises(PlatformError) as caught:
        publisher.delete(ref)
    assert caught.value.error_class == PERMANENT and caught.value.code == "forbidden"


@pytest.mark.parametrize("status", [500, 503])
def test_5xx_on_a_read_is_transient(yt, status):
    publisher = yt.publisher()
    yt.fake.fail_next(status, "backendError", path="/youtube/v3/videos")
    with pytest.raises(PlatformError) as caught:
        publisher.fetch_metrics(SimpleNamespace(id="vid1"))
    assert caught.value.error_class == TRANSIENT and caught.value.code == "backendError"


def test_a_slow_read_is_transient(yt):
    publisher = yt.publisher(timeout=(2.0, 0.2))
    yt.fake.delay_next(0.4, path="/youtube/v3/videos")
    with pytest.raises(PlatformError) as caught:
        publisher.fetch_metrics(SimpleNamespace(id="vid1"))
    assert caught.value.error_class == TRANSIENT and caught.value.code == "timeout"


def test_youtube_unreachable_is_transient(yt, tmp_path):
    publisher = yt.publisher()
    yt.server.stop()
    error = _publish_error(yt, tmp_path, publisher)
    assert error.error_class == TRANSIENT and error.code == "connect"


def test_the_newer_error_shape_is_read_too():
    reply = requests.Response()
    reply.status_code = 403
    reply._content = json.dumps({"error": {"code": 403, "message": "Request had insufficient authentication scopes.",
                                           "status": "PERMISSION_DENIED", "details": [{
                                               "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                               "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT"}]}}).encode()
    assert youtube_error(reply).code == "insufficientPermissions"
    reply._content = b"<html>Bad gateway</html>"
    reply.status_code = 502
    assert youtube_error(reply).error_class == TRANSIENT


def test_a_channel_without_credentials_needs_connecting(yt, tmp_path):
    channel = SimpleNamespace(id=1, platform="youtube", credentials=None, remote_account_id=None)
    error = _publish_error(yt, tmp_path, YouTubePublisher(channel, yt.context()))
    assert error.error_class == AUTH and error.code == "not-connected"


def test_credentials_under_a_lost_key_need_a_reconnect(yt, tmp_path):
    stranger = crypto.cipher_from_env({"DESK_TOKEN_KEY": Fernet.generate_key().decode()})
    channel = SimpleNamespace(id=1, platform="youtube", credentials=stranger.encrypt_json({"access_token": "a"}),
                              remote_account_id="UC1")
    error = _publish_error(yt, tmp_path, YouTubePublisher(channel, yt.context()))
    assert error.error_class == AUTH and error.code == "credentials-unreadable"


def test_no_credential_or_session_reaches_the_log(yt, tmp_path, caplog):
    with caplog.at_level(logging.DEBUG):
        account = yt.connect()
        account.credentials["expires_at"] = 0  # refreshed before use
        publisher = yt.publisher(account)
        yt.fake.drop_next(after_bytes=10)
        ref = publisher.publish(req([video_item(tmp_path, 100)]))
        publisher.fetch_metrics(ref)
        yt.fake.oauth.revoke()
        with pytest.raises(PlatformError):
            publisher.delete(ref)
    secrets = set(yt.fake.oauth.refresh_tokens) | set(yt.fake.oauth.bearers) | set(yt.fake.sessions)
    secrets |= {account.credentials["refresh_token"], account.credentials["access_token"],
                yt.fake.oauth.client_secret}
    logged = caplog.text + json.dumps([r.getMessage() for r in caplog.records])
    assert len(secrets) > 3 and not any(s in logged for s in secrets)
