"""A worker process killed with SIGKILL at each point of a call, on PostgreSQL: before the platform stored
anything, after it stored the post but before the desk recorded it, and in the middle of a chunked upload.
Each time a fresh worker finds the dead one's claim when its lease runs out, asks X whether the post is
there, and ends with exactly one post on X and the audit trail telling what happened."""
from __future__ import annotations

import secrets

import pytest

from desk.domain import workflow as wf
from desk.services.audit_trail import verify
from tests.media_samples import mp4
from tests.process_support import (  # noqa: F401 (fixtures)
    NEEDS_PG,
    QUICK,
    scratch_databases,
    scratch_url,
    tweets_with,
    wait_for,
    workers,
    x_desk,
)

pytestmark = [pytest.mark.postgres, NEEDS_PG]

RESENT = ["target.sending", "target.unknown", "target.reconciled_not_found", "target.sending", "target.published"]
FOUND = ["target.sending", "target.unknown", "target.reconciled_published"]


def _killed_mid_call(desk, workers, stall, body: str, env: dict, media_ids=None) -> tuple[int, str]:
    """Start a worker, approve a post, wait until its call is held at the fake, check that this worker
    claimed it, and kill the worker; returns the target and the marker the post's text carries."""
    [channel] = desk.x_channels(1)
    first = workers.start(env).wait_started()
    token = secrets.token_hex(6)
    _, target_id = desk.approved_post(f"{body} [{token}]", channel, media_ids=media_ids)
    assert stall.wait_arrived(30), f"the call never reached X\n{workers.logs()}"
    claimed = desk.target(target_id)
    assert claimed.status == wf.T_SENDING and claimed.claimed_by and f":{first.pid}" in claimed.claimed_by
    first.kill()
    return target_id, token


def _recovered(desk, workers, target_id: int, env: dict):
    """A fresh worker, and the target it publishes or finds published."""
    workers.start(env).wait_started()
    wait_for(lambda: desk.status(target_id) == wf.T_PUBLISHED,
             lambda: f"target {target_id} to be published\n{workers.logs()}", timeout=40)
    with desk.sessions() as s:
        assert verify(s).ok
    return desk.target(target_id)


def test_killed_after_claiming_before_x_stored_anything(x_desk, workers):
    desk, env = x_desk, x_desk.env(**QUICK)
    stall = desk.server.stall("POST", "/2/tweets", when="before")
    target_id, token = _killed_mid_call(desk, workers, stall, "Road closed on the A40 after a collision.", env)
    stall.release(handle=False)  # the dead worker's request never reaches X's storage
    assert tweets_with(desk.fake, token) == []

    target = _recovered(desk, workers, target_id, env)
    [tweet] = tweets_with(desk.fake, token)
    assert target.remote_id == tweet["id"]
    assert desk.story(target_id) == RESENT
    assert [a.number for a in desk.attempts(target_id)] == [1, 2]


def test_killed_after_x_stored_the_post_before_the_outcome_was_recorded(x_desk, workers):
    desk, env = x_desk, x_desk.env(**QUICK)
    stall = desk.server.stall("POST", "/2/tweets", when="after")
    target_id, token = _killed_mid_call(desk, workers, stall, "Missing person found safe, thank you.", env)
    [tweet] = tweets_with(desk.fake, token)  # on X already; the desk never heard back
    stall.release()

    target = _recovered(desk, workers, target_id, env)
    assert target.remote_id == tweet["id"]
    assert len(tweets_with(desk.fake, token)) == 1
    assert len(desk.server.received("POST", "/2/tweets")) == 1  # found, never sent again
    assert desk.story(target_id) == FOUND
    assert len(desk.attempts(target_id)) == 1


def test_killed_in_the_middle_of_a_chunked_video_upload(x_desk, workers):
    desk = x_desk
    video = desk.stored_media("appeal.mp4", mp4(seconds=12.5, payload_bytes=8192))
    # Small chunks make several segments; the second one is held, so the first is already on X.
    stall = desk.server.stall("POST", r"^/2/media/upload/\d+/append", when="before", skip=1)
    env = desk.env(**QUICK, DESK_X_UPLOAD_CHUNK_BYTES=2048)
    target_id, token = _killed_mid_call(desk, workers, stall, "Watch the appeal for witnesses.", env, [video])
    stall.release(handle=False)
    assert tweets_with(desk.fake, token) == []

    target = _recovered(desk, workers, target_id, env)
    [tweet] = tweets_with(desk.fake, token)
    assert target.remote_id == tweet["id"]
    [media_id] = tweet["media_ids"]
    assert desk.fake.media[media_id]["state"] == "succeeded"
    assert len(desk.server.received("POST", "/2/tweets")) == 1
    assert desk.story(target_id) == RESENT
