"""Several real worker processes on one PostgreSQL database: a race for 2,000 due posts, a slow upload
that must not be taken over while its worker lives, and a database restart under a running worker."""
from __future__ import annotations

import re
import secrets
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from desk.domain import workflow as wf
from desk.domain.clock import utcnow
from desk.models import Post, PublishAttempt, Target, Worker
from desk.services.audit_trail import verify
from tests.media_samples import mp4
from tests.process_support import (  # noqa: F401 (fixtures)
    NEEDS_PG,
    QUICK,
    AmpleRateBudget,
    RestartableProxy,
    desk_on_fake_x,
    scratch_databases,
    scratch_url,
    terminate_backends,
    through,
    tweets_with,
    upstream_of,
    wait_for,
    workers,
    x_desk,
)

pytestmark = [pytest.mark.postgres, NEEDS_PG]

RACE_WORKERS, RACE_CHANNELS, RACE_TARGETS = 4, 40, 2000
TOKEN = re.compile(r"\[(race-\d+)\]")


@pytest.fixture
def race_desk(scratch_url, tmp_path):
    with desk_on_fake_x(scratch_url, tmp_path / "media", wrap=AmpleRateBudget) as desk:
        yield desk


def test_four_workers_publish_two_thousand_due_targets_exactly_once(race_desk, workers):
    desk = race_desk
    channels = desk.x_channels(RACE_CHANNELS)
    started = [workers.start(desk.env(**QUICK)) for _ in range(RACE_WORKERS)]
    for worker in started:
        worker.wait_started()
    # All due at once, spread over the channels: at most one call is in flight per channel.
    desk.bulk_approved([(channels[n % RACE_CHANNELS], f"Appeal for witnesses, update {n} [race-{n}]")
                        for n in range(RACE_TARGETS)], scheduled_at=utcnow() - timedelta(minutes=1))

    wait_for(lambda: desk.count_by_status() == {wf.T_PUBLISHED: RACE_TARGETS},
             lambda: f"every target to be published; they stand at {desk.count_by_status()}\n{workers.logs()}",
             timeout=300, every=0.5)

    with desk.fake.lock:
        tweets = list(desk.fake.tweets.values())
    tokens = [TOKEN.search(t["text"])[1] for t in tweets]
    assert len(tweets) == RACE_TARGETS
    assert sorted(tokens) == sorted(f"race-{n}" for n in range(RACE_TARGETS))  # each one exactly once
    tweet_of = {TOKEN.search(t["text"])[1]: t["id"] for t in tweets}
    with desk.sessions() as s:
        rows = s.execute(select(Target.remote_id, Post.body).join(Post)).all()
        assert all(remote_id == tweet_of[TOKEN.search(body)[1]] for remote_id, body in rows)
        assert set(s.scalars(select(Post.status))) == {wf.PUBLISHED}
        assert s.scalar(select(func.count(PublishAttempt.id))) == RACE_TARGETS  # never a blind second try
        by_worker = dict(s.execute(select(PublishAttempt.worker, func.count()).group_by(PublishAttempt.worker)).all())
        assert verify(s).ok
    # Each process took its share of the race (the claims are spread, not one worker doing it all).
    assert len(by_worker) == RACE_WORKERS, by_worker
    for worker in started:
        assert worker.stop() == 0, worker.log[-3000:]


def test_a_slow_upload_from_a_live_worker_is_never_taken_over(x_desk, workers):
    desk = x_desk
    slow_channel, other_channel = desk.x_channels(2)
    video = desk.stored_media("cctv.mp4", mp4(seconds=20, payload_bytes=8192))
    stall = desk.server.stall("POST", r"^/2/media/upload/\d+/append", when="before", skip=1)
    env = desk.env(**QUICK, DESK_X_UPLOAD_CHUNK_BYTES=2048)
    first = workers.start(env).wait_started()
    token = secrets.token_hex(6)
    _, target_id = desk.approved_post(f"CCTV appeal after the burglary. [{token}]", slow_channel,
                                      media_ids=[video])
    assert stall.wait_arrived(30), workers.logs()
    held_since = time.monotonic()
    claimed = desk.target(target_id)
    assert claimed.status == wf.T_SENDING and f":{first.pid}" in claimed.claimed_by

    workers.start(env).wait_started()
    # Proof that the desk goes on meanwhile: another post goes out while the upload is held.
    _, other_id = desk.approved_post(f"Road reopened. [{secrets.token_hex(6)}]", other_channel)
    wait_for(lambda: desk.status(other_id) == wf.T_PUBLISHED, "the other post to go out\n" + workers.logs())

    def upload_held_for_three_leases():
        target = desk.target(target_id)
        assert target.status == wf.T_SENDING and target.claimed_by == claimed.claimed_by, workers.logs()
        return time.monotonic() - held_since > 3 * QUICK["DESK_LEASE_SECONDS"] + 1

    # The check inside runs every half second: the claim must hold at every look, not just the last.
    wait_for(upload_held_for_three_leases, "the upload to be held for three leases", timeout=30, every=0.5)
    stall.release()
    wait_for(lambda: desk.status(target_id) == wf.T_PUBLISHED, "the slow upload to finish\n" + workers.logs())

    assert desk.story(target_id) == ["target.sending", "target.published"]  # never unknown, never taken over
    assert len(desk.attempts(target_id)) == 1
    [tweet] = tweets_with(desk.fake, token)
    assert len(tweet["media_ids"]) == 1
    assert len(desk.server.received("POST", "/2/media/upload/initialize")) == 1


def test_the_worker_reconnects_after_a_database_restart_and_carries_on(x_desk, workers):
    desk = x_desk
    [channel] = desk.x_channels(1)
    proxy = RestartableProxy(upstream_of(desk.url))
    name = f"desk-worker-{secrets.token_hex(3)}"
    try:
        worker = workers.start(desk.env(**QUICK, DESK_DATABASE_URL=through(desk.url, proxy.port, name)))
        worker.wait_started()
        before, during = secrets.token_hex(6), secrets.token_hex(6)
        _, before_id = desk.approved_post(f"Before the restart. [{before}]", channel)
        wait_for(lambda: desk.status(before_id) == wf.T_PUBLISHED, "the first post\n" + workers.logs())

        # The server ends the worker's sessions, then the network cuts whatever is left and refuses new ones.
        assert terminate_backends(desk.url, name) >= 1, "the worker holds no database session to end"
        proxy.restart()
        down_since = time.monotonic()
        _, during_id = desk.approved_post(f"During the restart. [{during}]", channel)
        # A restart takes some seconds; the worker must meet the refusal, not just a quiet moment.
        wait_for(lambda: time.monotonic() - down_since > 5, "the outage to last 5 s", timeout=10)
        assert desk.status(during_id) == wf.T_QUEUED
        back = utcnow()
        proxy.resume()

        after = secrets.token_hex(6)
        _, after_id = desk.approved_post(f"After the restart. [{after}]", channel)
        for target_id in (during_id, after_id):
            wait_for(lambda target_id=target_id: desk.status(target_id) == wf.T_PUBLISHED,
                     f"target {target_id} after the restart\n" + workers.logs(), timeout=45)
        assert worker.running(), worker.log
        for token in (before, during, after):
            assert len(tweets_with(desk.fake, token)) == 1
        with desk.sessions() as s:
            assert s.scalar(select(func.count(PublishAttempt.id))) == 3

        def heartbeat_after_restart():
            with desk.sessions() as s:
                return s.scalar(select(Worker.heartbeat_at).where(Worker.pid == worker.pid,
                                                                  Worker.heartbeat_at > back))
        wait_for(heartbeat_after_restart, "the worker's heartbeat to resume\n" + worker.log[-3000:], timeout=15)
        assert proxy.open_connections >= 1  # it came back through the same address
        assert worker.stop() == 0, worker.log[-3000:]
    finally:
        proxy.close()
