"""A worker frozen past its lease, on PostgreSQL: stopped with SIGSTOP in the middle of a media upload (a
paused virtual machine, a long garbage collection), another worker takes its post over and publishes it,
then the first one is continued with SIGCONT and finishes its upload. It must not send the post again: just
before the call that creates the post it asks the database whether the claim is still its own, finds that
it is not, and says so in the audit trail (`target.claim_lost`). Exactly one post on the platform, for X
(whose duplicate rule would hide a second send) and for Facebook (which has no such rule for photos)."""
from __future__ import annotations

import secrets
from contextlib import contextmanager
from datetime import timedelta

import pytest

from desk.domain import workflow as wf
from desk.domain.clock import utcnow
from desk.services import admin
from desk.services.audit_trail import verify
from tests.fakes.fake_facebook import FakeFacebook
from tests.fakes.server import FakeServer
from tests.media_samples import jpeg, mp4
from tests.process_support import (  # noqa: F401 (fixtures)
    NEEDS_PG,
    OPERATOR,
    QUICK,
    scratch_databases,
    scratch_url,
    tweets_with,
    wait_for,
    workers,
    x_desk,
)

pytestmark = [pytest.mark.postgres, NEEDS_PG]


@contextmanager
def paused(worker):
    """SIGSTOP now, SIGCONT on leaving (whatever happens in between, so no test leaves a frozen process)."""
    worker.pause()
    try:
        yield
    finally:
        worker.resume()


def _past_its_lease(desk, target_id: int) -> None:
    lease_until = desk.target(target_id).lease_until
    wait_for(lambda: utcnow() > lease_until + timedelta(seconds=1), "the paused worker's lease to run out",
             timeout=QUICK["DESK_LEASE_SECONDS"] + 5)


def _late_attempt_recorded(desk, workers, target_id: int):
    """The paused worker's own attempt (the first), once it has recorded how it ended."""
    return wait_for(lambda: next((a for a in desk.attempts(target_id) if a.number == 1 and a.finished_at), None),
                    lambda: f"the paused worker to record its attempt\n{workers.logs()}", timeout=40)


def _claimed_by(desk, target_id: int, worker) -> None:
    claimed = desk.target(target_id)
    assert claimed.status == wf.T_SENDING and f":{worker.pid}:" in claimed.claimed_by


def _second_publishes_while_the_first_is_frozen(desk, workers, env: dict, stall, channel: int, body: str,
                                                media_ids: list[int], while_frozen=lambda: None):
    """Start a worker, approve the post, wait until the worker is held inside its upload, freeze it past its
    lease, let a second worker publish, run `while_frozen`, then release the held upload; the frozen worker
    is woken on leaving. Returns the target, the first worker and the second."""
    first = workers.start(env).wait_started()
    _, target_id = desk.approved_post(body, channel, media_ids=media_ids)
    assert stall.wait_arrived(30), workers.logs()
    _claimed_by(desk, target_id, first)

    with paused(first):
        _past_its_lease(desk, target_id)
        second = workers.start(env).wait_started()
        wait_for(lambda: desk.status(target_id) == wf.T_PUBLISHED,
                 lambda: f"the second worker to publish\n{workers.logs()}", timeout=40)
        while_frozen()
        stall.release()  # the platform takes the frozen worker's bytes; the answer waits in its socket
    return target_id, first, second


def test_a_worker_paused_in_an_x_upload_past_its_lease_does_not_post_again(x_desk, workers):
    desk = x_desk
    [channel] = desk.x_channels(1)
    video = desk.stored_media("appeal.mp4", mp4(seconds=12.5, payload_bytes=8192))
    # Small chunks make several segments; the second is held at X, so the worker is inside its upload.
    stall = desk.server.stall("POST", r"^/2/media/upload/\d+/append", when="before", skip=1)
    env = desk.env(**QUICK, DESK_X_UPLOAD_CHUNK_BYTES=2048)
    token = secrets.token_hex(6)
    published = []
    target_id, first, second = _second_publishes_while_the_first_is_frozen(
        desk, workers, env, stall, channel, f"Watch the appeal for witnesses. [{token}]", [video],
        while_frozen=lambda: published.extend(tweets_with(desk.fake, token)))
    [tweet] = published

    late = _late_attempt_recorded(desk, workers, target_id)
    assert late.outcome == "claim_lost", workers.logs()
    assert tweets_with(desk.fake, token) == [tweet]
    assert len(desk.server.received("POST", "/2/tweets")) == 1, "the paused worker sent the post again"
    story = desk.story(target_id)
    assert story.count("target.claim_lost") == 1 and story[-1] == "target.claim_lost", story
    assert desk.target(target_id).remote_id == tweet["id"]
    with desk.sessions() as s:
        assert verify(s).ok
    assert first.running() and second.running()
    assert first.stop() == 0 and second.stop() == 0, workers.logs()


@pytest.fixture
def facebook(x_desk):
    """The fake Facebook (Graph host and video host), and one of its Pages connected as a channel."""
    fake = FakeFacebook()
    with FakeServer(fake) as graph, FakeServer(fake) as video:
        page = fake.pages[0]
        with x_desk.sessions() as s:
            channel = admin.create_channel(s, OPERATOR, x_desk.unit_id, "facebook", "DPA on Facebook")
            channel.credentials = x_desk.cipher.encrypt_json({"page_id": page.id, "page_access_token": page.new_token(),
                                                              "user_id": fake.user_id})
            channel.remote_account_id = page.id
            s.commit()
            channel_id = channel.id
        env = {"DESK_FACEBOOK_GRAPH_BASE": graph.url, "DESK_FACEBOOK_VIDEO_BASE": video.url,
               "DESK_FACEBOOK_APP_ID": fake.app_id, "DESK_FACEBOOK_APP_SECRET": fake.app_secret}
        yield fake, graph, channel_id, f"/{fake.version}/{page.id}", env


def test_a_worker_paused_in_a_facebook_photo_upload_past_its_lease_does_not_post_again(x_desk, facebook, workers):
    desk = x_desk
    fake, graph, channel, page_path, fb_env = facebook
    photo = desk.stored_media("cordon.jpg", jpeg(64, 48))
    stall = graph.stall("POST", f"{page_path}/photos", when="before")  # the photo's bytes are on their way
    env = desk.env(**QUICK, **fb_env)
    token = secrets.token_hex(6)
    target_id, first, second = _second_publishes_while_the_first_is_frozen(
        desk, workers, env, stall, channel, f"Officers at the cordon on the A40. [{token}]", [photo])

    late = _late_attempt_recorded(desk, workers, target_id)
    assert late.outcome == "claim_lost", workers.logs()
    with fake.lock:
        posts = [p for p in fake.live() if token in p["message"]]
    assert len(posts) == 1, f"{len(posts)} posts on the Page"
    assert desk.target(target_id).remote_id == posts[0]["id"]
    assert len(graph.received("POST", f"{page_path}/feed")) == 1
    story = desk.story(target_id)
    assert story.count("target.claim_lost") == 1 and story[-1] == "target.claim_lost", story
    with desk.sessions() as s:
        assert verify(s).ok
    assert first.stop() == 0 and second.stop() == 0, workers.logs()
