"""YouTube's resumable upload through the real adapter: an interrupted upload continues from what YouTube
holds (asked with `bytes */TOTAL`), never from the start; only a break after the last byte is ambiguous."""
from __future__ import annotations

import time

import pytest
import requests

from desk.platforms.base import AMBIGUOUS, TRANSIENT, PlatformError
from desk.platforms.youtube import YouTubePublisher
from tests.youtube_support import CHUNK, req, video_file, video_item, yt  # noqa: F401


def _puts(yt):
    return yt.server.received("PUT", "/upload/youtube/v3/videos")


def _ranges(yt):
    return [p.headers["Content-Range"] for p in _puts(yt)]


def _bytes_sent(yt) -> int:
    return sum(len(p.body) for p in _puts(yt))


def test_a_broken_chunk_is_resumed_where_it_broke_off(yt, tmp_path):
    size = 4 * CHUNK + 1234
    publisher = yt.publisher()
    video = video_item(tmp_path, size)
    yt.fake.drop_next(after_bytes=100_000, skip=2)  # the third chunk: 100,000 bytes arrive, then the line dies
    ref = publisher.publish(req([video]))

    held = 2 * CHUNK + 100_000
    assert _ranges(yt) == [
        f"bytes 0-{CHUNK - 1}/{size}", f"bytes {CHUNK}-{2 * CHUNK - 1}/{size}",
        f"bytes {2 * CHUNK}-{3 * CHUNK - 1}/{size}",  # broken after 100,000 bytes
        f"bytes */{size}",  # what do you hold? 308 Range: bytes=0-{held - 1}
        f"bytes {held}-{held + CHUNK - 1}/{size}", f"bytes {held + CHUNK}-{size - 1}/{size}"]
    assert len(yt.server.received("POST", "/upload/youtube/v3/videos")) == 1  # the same session throughout
    assert _bytes_sent(yt) == size + CHUNK - 100_000  # the lost part of one chunk again, nothing more
    assert yt.fake.videos[ref.id]["bytes"] == video_file(tmp_path, size).read_bytes()


def test_a_drop_is_resumed_from_the_range_youtube_reports(yt, tmp_path):
    size = 3 * CHUNK
    publisher = yt.publisher()
    yt.fake.drop_next(after_bytes=50_000)  # the very first chunk: 50,000 bytes arrive
    ref = publisher.publish(req([video_item(tmp_path, size)]))
    assert _ranges(yt)[:3] == [f"bytes 0-{CHUNK - 1}/{size}", f"bytes */{size}",
                               f"bytes 50000-{50_000 + CHUNK - 1}/{size}"]
    assert yt.fake.videos[ref.id]["bytes"] == video_file(tmp_path, size).read_bytes()
    assert _bytes_sent(yt) < 2 * size


def test_a_drop_before_anything_arrived_starts_from_zero_in_the_same_session(yt, tmp_path):
    publisher = yt.publisher()
    yt.fake.drop_next(after_bytes=0)
    ref = publisher.publish(req([video_item(tmp_path, CHUNK + 10)]))
    status = _puts(yt)[1]
    assert status.headers["Content-Range"] == f"bytes */{CHUNK + 10}" and status.headers["Content-Length"] == "0"
    assert _ranges(yt)[2] == f"bytes 0-{CHUNK - 1}/{CHUNK + 10}"
    assert len(yt.server.received("POST", "/upload/youtube/v3/videos")) == 1 and ref.id in yt.fake.videos


def test_a_lost_final_reply_is_recovered_by_asking_the_session(yt, tmp_path):
    size = CHUNK + 10
    publisher = yt.publisher()
    yt.fake.drop_reply_next(skip=1)  # the last chunk completes the video, but its reply is lost
    ref = publisher.publish(req([video_item(tmp_path, size)]))
    assert _ranges(yt) == [f"bytes 0-{CHUNK - 1}/{size}", f"bytes {CHUNK}-{size - 1}/{size}", f"bytes */{size}"]
    assert len(yt.fake.live_videos()) == 1 and ref.id in yt.fake.videos


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_5xx_on_a_chunk_is_resumed(yt, tmp_path, status):
    publisher = yt.publisher()
    yt.fake.fail_next(status, "backendError", path="/upload/", method="PUT")
    ref = publisher.publish(req([video_item(tmp_path, 2 * CHUNK)]))
    assert _ranges(yt) == [f"bytes 0-{CHUNK - 1}/{2 * CHUNK}", f"bytes */{2 * CHUNK}",
                           f"bytes 0-{CHUNK - 1}/{2 * CHUNK}", f"bytes {CHUNK}-{2 * CHUNK - 1}/{2 * CHUNK}"]
    assert ref.id in yt.fake.videos


def test_a_timed_out_chunk_that_arrived_after_all_is_not_sent_again(yt, tmp_path, monkeypatch):
    size = 3 * CHUNK
    monkeypatch.setattr(YouTubePublisher, "sleep", staticmethod(time.sleep))  # wait until YouTube has stored it
    publisher = yt.publisher(timeout=(2.0, 0.2), DESK_YOUTUBE_RETRY_WAIT="0.3")
    yt.fake.delay_next(0.4, path="/upload/", method="PUT")  # the first chunk is stored, its reply comes too late
    ref = publisher.publish(req([video_item(tmp_path, size)]))
    assert _ranges(yt) == [f"bytes 0-{CHUNK - 1}/{size}", f"bytes */{size}",
                           f"bytes {CHUNK}-{2 * CHUNK - 1}/{size}", f"bytes {2 * CHUNK}-{size - 1}/{size}"]
    assert yt.fake.videos[ref.id]["bytes"] == video_file(tmp_path, size).read_bytes()


def test_the_waits_between_resumes_double(yt, tmp_path, monkeypatch):
    waits = []
    monkeypatch.setattr(YouTubePublisher, "sleep", staticmethod(waits.append))
    publisher = yt.publisher(DESK_YOUTUBE_RETRY_WAIT="0.5")
    yt.fake.drop_next(after_bytes=0, times=3)  # the chunk, then two status queries, break
    publisher.publish(req([video_item(tmp_path, 100)]))
    assert waits == [0.5, 1.0, 2.0]


def test_interruptions_beyond_the_limit_are_transient_and_publish_nothing(yt, tmp_path):
    publisher = yt.publisher(DESK_YOUTUBE_UPLOAD_RETRIES="2")
    yt.fake.drop_next(after_bytes=1000, times=10)
    with pytest.raises(PlatformError) as caught:
        publisher.publish(req([video_item(tmp_path, 2 * CHUNK)]))
    assert caught.value.error_class == TRANSIENT and "Nothing was published" in caught.value.message
    assert yt.fake.videos == {} and len(_puts(yt)) == 3


def test_interruptions_after_the_last_byte_are_ambiguous_and_reconciled(yt, tmp_path):
    publisher = yt.publisher(DESK_YOUTUBE_UPLOAD_RETRIES="1")
    yt.fake.drop_reply_next(times=10)  # the video is made, but no reply ever comes back
    wanted = req([video_item(tmp_path, 1000)])
    with pytest.raises(PlatformError) as caught:
        publisher.publish(wanted)
    assert caught.value.error_class == AMBIGUOUS and "may or may not be on YouTube" in caught.value.message
    [video] = yt.fake.live_videos()
    yt.fake.faults.clear()
    found = publisher.find_published(wanted)
    assert found is not None and found.id == video["resource"]["id"]


def test_a_session_that_never_finishes_is_ambiguous_not_endless(yt, tmp_path):
    from werkzeug.wrappers import Response

    publisher = yt.publisher(DESK_YOUTUBE_UPLOAD_RETRIES="2")
    original = yt.fake._put

    def holds_everything_but_never_says_done(request, environ, fault):
        original(request, environ, fault)
        return Response(status=308, headers={"Range": "bytes=0-999"})

    yt.fake._put = holds_everything_but_never_says_done
    with pytest.raises(PlatformError) as caught:
        publisher.publish(req([video_item(tmp_path, 1000)]))
    assert caught.value.error_class == AMBIGUOUS and caught.value.code == "not-finished"
    assert _ranges(yt) == ["bytes 0-999/1000"] + ["bytes */1000"] * 3


def test_an_expired_session_starts_over_once(yt, tmp_path):
    publisher = yt.publisher()
    yt.fake.fail_next(404, "notFound", path="/upload/", method="PUT")
    ref = publisher.publish(req([video_item(tmp_path, CHUNK + 1)]))
    assert len(yt.server.received("POST", "/upload/youtube/v3/videos")) == 2 and ref.id in yt.fake.videos
    yt.fake.fail_next(404, "notFound", path="/upload/", method="PUT", times=2)
    with pytest.raises(PlatformError) as caught:
        publisher.publish(req([video_item(tmp_path, CHUNK + 1)], title="Another"))
    assert caught.value.error_class == TRANSIENT and caught.value.code == "session-expired"


def test_a_token_that_runs_out_mid_upload_is_refreshed_and_the_upload_goes_on(yt, tmp_path):
    size = 3 * CHUNK
    publisher = yt.publisher()
    yt.fake.expire_tokens_after_chunks = 1
    ref = publisher.publish(req([video_item(tmp_path, size)]))
    assert yt.fake.oauth.refreshes == 1
    assert _ranges(yt) == [f"bytes 0-{CHUNK - 1}/{size}", f"bytes {CHUNK}-{2 * CHUNK - 1}/{size}",  # 401
                           f"bytes {CHUNK}-{2 * CHUNK - 1}/{size}", f"bytes {2 * CHUNK}-{size - 1}/{size}"]
    assert len(yt.server.received("POST", "/upload/youtube/v3/videos")) == 1 and ref.id in yt.fake.videos


def test_the_session_uri_never_reaches_a_message(yt, tmp_path):
    publisher = yt.publisher(DESK_YOUTUBE_UPLOAD_RETRIES="0")
    yt.fake.drop_next(after_bytes=10)
    with pytest.raises(PlatformError) as caught:
        publisher.publish(req([video_item(tmp_path, 100)]))
    [session] = yt.fake.sessions
    assert session not in caught.value.message and "upload_id" not in caught.value.message


# ---- the fake holds YouTube to the protocol -------------------------------------------------------------

def _session(yt, size: int) -> str:
    token = yt.connect().credentials["access_token"]
    reply = requests.post(yt.server.url + "/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status",
                          json={"snippet": {"title": "t", "categoryId": "25"}, "status": {"privacyStatus": "private"}},
                          headers={"Authorization": f"Bearer {token}", "X-Upload-Content-Length": str(size),
                                   "X-Upload-Content-Type": "video/mp4"}, timeout=5)
    assert reply.status_code == 200
    return reply.headers["Location"], token


def test_the_fake_refuses_a_chunk_that_is_not_a_multiple_of_256_kib(yt):
    location, token = _session(yt, 2 * CHUNK)
    reply = requests.put(location, data=b"x" * 1000, headers={"Authorization": f"Bearer {token}",
                                                             "Content-Range": f"bytes 0-999/{2 * CHUNK}"}, timeout=5)
    assert reply.status_code == 400


def test_the_fake_refuses_a_gap_and_reports_what_it_holds(yt):
    location, token = _session(yt, 2 * CHUNK)
    auth = {"Authorization": f"Bearer {token}"}
    gap = requests.put(location, data=b"x" * CHUNK, headers={**auth, "Content-Range": f"bytes {CHUNK}-"
                                                             f"{2 * CHUNK - 1}/{2 * CHUNK}"}, timeout=5)
    assert gap.status_code == 400
    first = requests.put(location, data=b"x" * CHUNK, headers={**auth, "Content-Range": f"bytes 0-{CHUNK - 1}/"
                                                               f"{2 * CHUNK}"}, timeout=5)
    assert first.status_code == 308 and first.headers["Range"] == f"bytes=0-{CHUNK - 1}"
    status = requests.put(location, headers={**auth, "Content-Range": f"bytes */{2 * CHUNK}"}, timeout=5)
    assert status.status_code == 308 and status.headers["Range"] == f"bytes=0-{CHUNK - 1}"
