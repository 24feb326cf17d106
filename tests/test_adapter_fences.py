"""Where each adapter asks the worker's fence: after every upload that can be repeated, right before the one
call that creates the post, and never again after it. Against each platform's fake on 127.0.0.1, with the
real adapters; a refusing fence leaves nothing on the platform but unused uploads."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest
from cryptography.fernet import Fernet

from desk import crypto
from desk.domain import leases
from desk.platforms import ClaimLost, MediaItem
from tests.test_facebook_adapter import JPEG, MP4, fb, media  # noqa: F401 (fixture)
from tests.test_facebook_adapter import req as fb_req
from tests.test_flickr_adapter import fl, photo  # noqa: F401 (fixtures)
from tests.test_flickr_adapter import req as flickr_req
from tests.test_x_adapter import _file, x  # noqa: F401 (fixture)
from tests.test_x_adapter import req as x_req
from tests.youtube_support import CHUNK, video_item, yt  # noqa: F401 (fixture)
from tests.youtube_support import req as yt_req


@pytest.fixture(autouse=True)
def _loopback(monkeypatch):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the fakes speak plain HTTP on 127.0.0.1
    monkeypatch.setattr(crypto, "_cipher", crypto.cipher_from_env({"DESK_TOKEN_KEY": Fernet.generate_key().decode()}))


class Fence:
    """A fence as the worker's, seen from the platform: what had reached the fake when it was asked."""

    def __init__(self, *servers, refuse: bool = False):
        self.servers, self.refuse = servers, refuse
        self.seen: list[list[tuple[str, str]]] = []

    def __call__(self, timeout):
        self.seen.append([(r.method, r.path) for s in self.servers for r in s.received()])
        if self.refuse:
            raise ClaimLost(leases.TAKEN_OVER)
        return timeout


def _publish(publisher, request, fence: Fence):
    return publisher.publish(replace(request, fence=fence))


# ---- X ---------------------------------------------------------------------------------------------------

def _x_images(tmp_path):
    return [MediaItem(str(_file(tmp_path, f"scene{i}.jpg", 2500)), "image/jpeg", 2500, f"scene{i}.jpg")
            for i in (1, 2)]


def test_x_asks_after_every_media_upload_and_right_before_the_post(x, tmp_path):
    fence = Fence(x.server)
    ref = _publish(x.publisher(DESK_X_UPLOAD_CHUNK_BYTES="1000"), x_req(media=_x_images(tmp_path)), fence)
    [seen] = fence.seen
    assert ("POST", "/2/tweets") not in seen
    assert sum(1 for _, path in seen if path.endswith("/finalize")) == 2  # both images were in
    assert [r.path for r in x.server.received("POST")][-1] == "/2/tweets" and ref.id in x.fake.tweets


def test_x_refused_by_the_fence_posts_nothing(x, tmp_path):
    with pytest.raises(ClaimLost):
        _publish(x.publisher(DESK_X_UPLOAD_CHUNK_BYTES="1000"), x_req(media=_x_images(tmp_path)),
                 Fence(x.server, refuse=True))
    assert x.server.received("POST", "/2/tweets") == [] and x.fake.tweets == {}


# ---- Facebook --------------------------------------------------------------------------------------------

def test_facebook_uploads_one_photo_unpublished_then_asks_before_the_post(fb, tmp_path):
    fence = Fence(fb.server, fb.video)
    photo = media(tmp_path, "cordon.jpg", JPEG, "image/jpeg")
    ref = _publish(fb.publisher(), fb_req("Officers at the cordon", media=[photo]), fence)
    [seen] = fence.seen
    page = "/v26.0/101000000000001"
    assert seen[-1] == ("POST", f"{page}/photos") and ("POST", f"{page}/feed") not in seen
    [upload] = fb.server.received("POST", f"{page}/photos")
    assert upload.form["published"] == "false"
    feed = fb.server.received("POST", f"{page}/feed")[0].form
    assert feed["message"] == "Officers at the cordon"
    assert fb.fake.objects[ref.id]["media"] == [json.loads(feed["attached_media[0]"])["media_fbid"]]


def test_facebook_refused_by_the_fence_leaves_no_post(fb, tmp_path):
    photo = media(tmp_path, "cordon.jpg", JPEG, "image/jpeg")
    with pytest.raises(ClaimLost):
        _publish(fb.publisher(), fb_req("Officers at the cordon", media=[photo]), Fence(fb.server, refuse=True))
    assert fb.fake.live() == []  # the photo waits unpublished, which Facebook discards unused


def test_facebook_asks_before_a_video_whose_upload_is_the_post(fb, tmp_path):
    clip = media(tmp_path, "appeal.mp4", MP4, "video/mp4", duration=42.0)
    with pytest.raises(ClaimLost):
        _publish(fb.publisher(), fb_req("Can you help?", media=[clip]), Fence(fb.server, fb.video, refuse=True))
    assert fb.video.received("POST") == [] and fb.fake.live() == []


def test_facebook_asks_before_a_text_post(fb):
    fence = Fence(fb.server)
    _publish(fb.publisher(), fb_req("Road reopened"), fence)
    assert len(fence.seen) == 1 and not [p for _, p in fence.seen[0] if p.endswith("/feed")]


# ---- YouTube and Flickr ----------------------------------------------------------------------------------

def test_youtube_asks_right_before_the_last_chunk(yt, tmp_path):
    fence = Fence(yt.server)
    size = 3 * CHUNK + 1000
    ref = _publish(yt.publisher(), yt_req([video_item(tmp_path, size)]), fence)
    [seen] = fence.seen
    assert [m for m, p in seen if p == "/upload/youtube/v3/videos"] == ["POST", "PUT", "PUT", "PUT"]
    last = yt.server.received("PUT", "/upload/youtube/v3/videos")[-1]
    assert last.headers["Content-Range"] == f"bytes {3 * CHUNK}-{size - 1}/{size}" and ref.id in yt.fake.videos


def test_youtube_refused_by_the_fence_creates_no_video(yt, tmp_path):
    size = 2 * CHUNK + 10
    with pytest.raises(ClaimLost):
        _publish(yt.publisher(), yt_req([video_item(tmp_path, size)]), Fence(yt.server, refuse=True))
    assert len(yt.server.received("PUT", "/upload/youtube/v3/videos")) == 2 and yt.fake.videos == {}


def test_flickr_asks_before_the_upload_that_is_the_post(fl, photo):
    with pytest.raises(ClaimLost):
        _publish(fl.publisher(), flickr_req([photo()]), Fence(fl.server, refuse=True))
    assert fl.server.received("POST", "/services/upload/") == []
    fence = Fence(fl.server)
    _publish(fl.publisher(), flickr_req([photo()]), fence)
    assert len(fence.seen) == 1 and len(fl.server.received("POST", "/services/upload/")) == 1
