"""The publishing worker: one pass at a time on both databases, and the real process on SQLite."""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from desk.config import Settings
from desk.db import make_session_factory
from desk.domain import workflow as wf
from desk.models import AuditEvent, Channel, Post, PublishAttempt, Target, TrainingPublication
from desk.platforms import PlatformContext, publisher_for
from desk.services import admin, posts, publishing
from desk.services.audit_trail import verify
from desk.services.posts import PostInput, TargetInput
from desk.worker import run_pass

from conftest import OPERATOR, World

ROOT = Path(__file__).resolve().parent.parent
WORKER = "test-host:1"


@pytest.fixture
def settings():
    return Settings(database_url="(the test engine)", secret_key="test", max_attempts=3, retry_base_seconds=30,
                    worker_batch_size=10, lease_seconds=60)


@pytest.fixture
def one_pass(sessions, settings):
    context = PlatformContext(settings, sessions)

    def run(now):
        return run_pass(sessions, context, WORKER, settings, now=now)

    return run


def approved(world, now, body="Road closed on the A40 until 6pm.", when=None, channel=None):
    s = world.session
    data = PostInput(body=body, targets=[TargetInput((channel or world.channel).id, None, when)])
    post = posts.save_draft(s, world.author, data, now=now).post
    posts.submit(s, world.author, post.id, now=now)
    posts.approve(s, world.approver, post.id, now=now)
    return post


def another_channel(world, name="DPA second training feed"):
    """A channel of the author's unit besides world.channel: one call at a time goes to each channel."""
    return admin.create_channel(world.session, OPERATOR, world.unit.id, "training", name)


def fresh(session, model, object_id):
    session.expire_all()
    return session.get(model, object_id)


def publications(session, target_id):
    return session.scalar(select(func.count(TrainingPublication.id))
                          .where(TrainingPublication.target_id == target_id))


def test_publishes_a_due_post_and_not_an_early_one(world, one_pass, now, caplog):
    s = world.session
    due = approved(world, now)
    early = approved(world, now, body="Tomorrow's briefing.", when=now + timedelta(hours=1))
    with caplog.at_level(logging.INFO, logger="desk.worker"):
        result = one_pass(now)
    due_target, early_target = due.targets[0].id, early.targets[0].id
    assert result.outcomes == {due_target: wf.T_PUBLISHED}
    t = fresh(s, Target, due_target)
    assert t.remote_id.startswith("trn_") and t.attempts == 1 and t.claimed_by is None
    assert fresh(s, Post, due.id).status == wf.PUBLISHED
    assert publications(s, due_target) == 1
    assert fresh(s, Target, early_target).status == wf.T_QUEUED
    line = next(r.getMessage() for r in caplog.records if "outcome=published" in r.getMessage())
    assert f"target={due_target}" in line and "platform=training" in line and "duration_ms=" in line

    assert one_pass(now + timedelta(hours=1, seconds=1)).outcomes == {early_target: wf.T_PUBLISHED}
    assert publications(s, due_target) == 1  # nothing goes out twice
    assert verify(s).ok


def test_transient_failure_retries_then_gives_up(world, one_pass, now, settings):
    s = world.session
    post = approved(world, now, body="Rehearsal [fail:transient]")
    tid = post.targets[0].id
    assert one_pass(now).outcomes == {tid: wf.T_RETRYING}
    t = fresh(s, Target, tid)
    assert t.attempts == 1 and t.next_attempt_at > now and "try again" in t.error_message
    assert fresh(s, Post, post.id).status == wf.APPROVED
    assert one_pass(now).outcomes == {}  # not before its next attempt time

    for _attempt in range(2, settings.max_attempts + 1):
        when = fresh(s, Target, tid).next_attempt_at
        outcome = one_pass(when).outcomes[tid]
    assert outcome == wf.T_FAILED
    t = fresh(s, Target, tid)
    assert t.attempts == settings.max_attempts
    assert f"gave up after {settings.max_attempts} attempts" in t.error_message
    assert fresh(s, Post, post.id).status == wf.FAILED
    assert s.scalar(select(func.count(PublishAttempt.id)).where(PublishAttempt.target_id == tid)) == 3
    assert publications(s, tid) == 0


def test_permanent_failure_fails_at_once_in_words(world, one_pass, now):
    s = world.session
    post = approved(world, now, body="Rehearsal [fail:permanent]")
    tid = post.targets[0].id
    assert one_pass(now).outcomes == {tid: wf.T_FAILED}
    t = fresh(s, Target, tid)
    assert t.attempts == 1 and "refused" in t.error_message and "Edit the post" in t.error_message
    assert fresh(s, Post, post.id).status == wf.FAILED


def test_auth_failure_holds_until_the_channel_is_active_again(world, one_pass, now):
    s = world.session
    lapsed = approved(world, now, body="Rehearsal [fail:auth]")
    lapsed_tid = lapsed.targets[0].id
    assert one_pass(now).outcomes == {lapsed_tid: wf.T_HELD}
    channel = fresh(s, Channel, world.channel.id)
    assert channel.status == "needs_reconnect" and "reconnect" in channel.status_reason

    waiting = approved(world, now, body="An ordinary post, due now.")
    waiting_tid = waiting.targets[0].id
    assert one_pass(now).outcomes == {}
    t = fresh(s, Target, waiting_tid)
    assert t.status == wf.T_HELD and "reconnect" in t.held_reason and t.attempts == 0

    admin.update_channel(s, world.admin, world.channel.id, status="active", now=now)
    result = one_pass(now)
    assert result.released == 2
    # One call at a time per channel: the rehearsal goes first, lapses again, and the other is not tried
    # against an authorisation that just failed.
    assert result.outcomes == {lapsed_tid: wf.T_HELD}
    assert fresh(s, Channel, world.channel.id).status == "needs_reconnect"
    assert one_pass(now).outcomes == {}
    assert fresh(s, Target, waiting_tid).status == wf.T_HELD and fresh(s, Target, waiting_tid).attempts == 0
    released = s.scalars(select(AuditEvent.object_id).where(AuditEvent.action == "target.released")).all()
    assert sorted(released) == sorted([str(lapsed_tid), str(waiting_tid)])


    posts.withdraw(s, world.author, lapsed.id, now=now)  # the rehearsal is over
    admin.update_channel(s, world.admin, world.channel.id, status="active", now=now)
    assert one_pass(now).outcomes == {waiting_tid: wf.T_PUBLISHED}
    assert fresh(s, Post, waiting.id).status == wf.PUBLISHED


def test_expired_lease_reconciled_to_published_when_it_went_out(world, one_pass, sessions, settings, now):
    s = world.session
    post = approved(world, now)
    [claim] = publishing.claim_due(s, "dead-worker:9", now=now, lease_seconds=60)
    # The dead worker's call reached the platform, but it died before recording the outcome.
    ref = publisher_for(claim.channel, PlatformContext(settings, sessions)).publish(claim.request)

    assert one_pass(now + timedelta(seconds=30)).outcomes == {}  # its lease still runs
    result = one_pass(now + timedelta(minutes=5))
    assert result.expired == 1 and result.reconciled == {claim.target_id: wf.T_PUBLISHED}
    t = fresh(s, Target, claim.target_id)
    assert t.remote_id == ref.id and t.attempts == 1
    assert fresh(s, Post, post.id).status == wf.PUBLISHED
    assert publications(s, claim.target_id) == 1
    trail = s.scalars(select(AuditEvent.action).where(AuditEvent.post_id == post.id).order_by(AuditEvent.seq))
    assert [a for a in trail if a.startswith("target.")] == [
        "target.sending", "target.unknown", "target.reconciled_published"]


def test_expired_lease_back_to_the_queue_when_it_did_not(world, one_pass, now):
    s = world.session
    post = approved(world, now)
    [claim] = publishing.claim_due(s, "dead-worker:9", now=now, lease_seconds=60)
    later = now + timedelta(minutes=5)
    assert one_pass(later).reconciled == {claim.target_id: wf.T_QUEUED}
    assert fresh(s, Target, claim.target_id).status == wf.T_QUEUED
    assert one_pass(later).outcomes == {claim.target_id: wf.T_PUBLISHED}
    t = fresh(s, Target, claim.target_id)
    assert t.attempts == 2 and publications(s, claim.target_id) == 1
    assert fresh(s, Post, post.id).status == wf.PUBLISHED


def test_an_adapter_bug_fails_one_target_not_the_pass(world, one_pass, now, monkeypatch, caplog):
    s = world.session
    broken = approved(world, now, body="This one meets a bug.")
    fine = approved(world, now, body="This one goes out.", channel=another_channel(world))
    broken_tid = broken.targets[0].id

    import desk.worker

    real = desk.worker.publisher_for

    class Buggy:
        """The real adapter, except that one target meets a bug whose message carries a secret."""

        def __init__(self, inner):
            self.inner = inner

        def publish(self, request):
            if request.target_id == broken_tid:
                raise RuntimeError("connection to https://api.example.test/?access_token=s3cr3t-t0ken refused")
            return self.inner.publish(request)

    monkeypatch.setattr(desk.worker, "publisher_for", lambda channel, ctx: Buggy(real(channel, ctx)))
    with caplog.at_level(logging.INFO, logger="desk.worker"):
        result = one_pass(now)
    assert result.outcomes == {broken_tid: wf.T_RETRYING, fine.targets[0].id: wf.T_PUBLISHED}
    t = fresh(s, Target, broken_tid)
    assert t.error_code == "unexpected" and "unexpected error" in t.error_message
    assert "s3cr3t" not in caplog.text and "s3cr3t" not in " ".join(s.scalars(select(AuditEvent.details)))
    assert "RuntimeError at test_worker.py" in caplog.text


# ---- the real process ---------------------------------------------------------------------------

def _worker(url: str, log: Path) -> subprocess.Popen:
    env = {**os.environ, "DESK_DATABASE_URL": url, "DESK_WORKER_TICK_SECONDS": "1", "DESK_ENV": "development"}
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "desk", "worker"], cwd=ROOT, env=env,
                            stdout=log.open("w"), stderr=subprocess.STDOUT)


def _wait_for(check, what: str, seconds: float = 20.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    pytest.fail(f"waited {seconds} s for {what}")


def test_the_worker_process_publishes_refuses_a_second_and_stops_cleanly(sqlite_engine, tmp_path):
    from desk.domain.clock import utcnow

    url = str(sqlite_engine.url)
    sessions = make_session_factory(sqlite_engine)
    log = tmp_path / "worker.log"
    first = _worker(url, log)
    try:
        with sessions() as s:
            world = World(s)
            _wait_for(lambda: "started" in log.read_text() or first.poll() is not None, "the worker to start")
            assert first.poll() is None, log.read_text()
            assert "SQLite: single worker" in log.read_text()
            post = approved(world, utcnow())
            tid = post.targets[0].id
            _wait_for(lambda: fresh(s, Target, tid).status == wf.T_PUBLISHED, "the post to be published")
            assert fresh(s, Post, post.id).status == wf.PUBLISHED

        second = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "desk", "worker"], cwd=ROOT,
                                env={**os.environ, "DESK_DATABASE_URL": url}, capture_output=True, text=True,
                                timeout=30)
        assert second.returncode != 0
        assert "already publishing from this SQLite database" in second.stderr
        assert "Traceback" not in second.stderr

        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=15) == 0, log.read_text()
        text = log.read_text()
        assert f"target={tid}" in text and "outcome=published" in text and "stopped" in text
        assert "Traceback" not in text
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
