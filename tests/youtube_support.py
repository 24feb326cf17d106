"""The desk's side of the YouTube tests: the fake YouTube on 127.0.0.1, settings pointing at it, the
consent dance as the desk's routes and the administrator's browser do it, and connected publishers."""
from __future__ import annotations

from types import SimpleNamespace
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from cryptography.fernet import Fernet

from desk import crypto
from desk.config import Settings
from desk.platforms import Content, MediaItem, PlatformContext, PublishRequest
from desk.platforms.youtube import YouTubePublisher
from tests.fakes.fake_youtube import FakeYouTube
from tests.fakes.server import FakeServer

CALLBACK = "http://desk.test/channels/connect/youtube/callback"
KIB = 1024
CHUNK = 256 * KIB


class YouTubeWorld:
    def __init__(self, fake: FakeYouTube, server: FakeServer):
        self.fake, self.server = fake, server
        self.env = {"DESK_GOOGLE_AUTH_URL": server.url + "/o/oauth2/v2/auth",
                    "DESK_GOOGLE_TOKEN_URL": server.url + "/token", "DESK_YOUTUBE_API_BASE": server.url,
                    "DESK_GOOGLE_CLIENT_ID": fake.oauth.client_id,
                    "DESK_GOOGLE_CLIENT_SECRET": fake.oauth.client_secret,
                    "DESK_YOUTUBE_UPLOAD_CHUNK_BYTES": str(CHUNK), "DESK_YOUTUBE_RETRY_WAIT": "0"}

    def context(self, timeout=(2.0, 2.0), session_factory=None, **env) -> PlatformContext:
        settings = Settings(database_url="sqlite://", secret_key="test", extra={"platform_env": {**self.env, **env}})
        return PlatformContext(settings=settings, session_factory=session_factory, timeout=timeout)

    def consent(self, publisher: YouTubePublisher, state="state-yt-1"):
        """authorization_url, then the browser at Google's page, which redirects back to the desk."""
        start = publisher.authorization_url(CALLBACK, state)
        reply = requests.get(start.url, allow_redirects=False, timeout=5)
        assert reply.status_code == 302, reply.text
        location = reply.headers["Location"]
        assert location.startswith(CALLBACK + "?")
        return start, dict(parse_qsl(urlsplit(location).query))

    def connect(self, **env):
        publisher = YouTubePublisher(None, self.context(**env))
        start, args = self.consent(publisher)
        [account] = publisher.complete_authorization(args, start.pending)
        return account

    def channel(self, account, channel_id=None):
        return SimpleNamespace(id=channel_id, platform="youtube", credentials=crypto.encrypt_json(account.credentials),
                               remote_account_id=account.id)

    def publisher(self, account=None, **ctx) -> YouTubePublisher:
        return YouTubePublisher(self.channel(account or self.connect()), self.context(**ctx))


@pytest.fixture
def yt(monkeypatch):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the fake speaks plain HTTP on 127.0.0.1
    monkeypatch.setattr(crypto, "_cipher", crypto.cipher_from_env({"DESK_TOKEN_KEY": Fernet.generate_key().decode()}))
    monkeypatch.setattr(YouTubePublisher, "sleep", staticmethod(lambda seconds: None))
    fake = FakeYouTube()
    with FakeServer(fake) as server:
        yield YouTubeWorld(fake, server)


def video_file(tmp_path, size: int, name="appeal.mp4"):
    path = tmp_path / name
    path.write_bytes(bytes((i * 7) % 251 for i in range(size)))
    return path


def video_item(tmp_path, size: int, name="appeal.mp4", mime="video/mp4", duration=30.0) -> MediaItem:
    return MediaItem(str(video_file(tmp_path, size, name)), mime, size, name, duration=duration)


def content(media=(), text="Appeal for witnesses after a collision in Camden.", link=None, **extra) -> Content:
    extra.setdefault("title", "Camden collision: can you help?")
    return Content(text=text, link=link, media=tuple(media), extra=extra)


def req(media=(), **kwargs) -> PublishRequest:
    return PublishRequest(target_id=7, channel_id=3, content=content(media, **kwargs), marker="desk-5-7")
