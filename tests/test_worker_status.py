"""The publishing status: the snapshot's figures on a seeded database (both engines), the words it says,
and `desk worker --status` with its exit status for monitoring."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from test_worker import approved

from desk.config import Settings
from desk.domain import lateness
from desk.domain import workflow as wf
from desk.models import Channel, PublishAttempt, Target, Worker
from desk.services import admin, worker_status

from conftest import OPERATOR

BEAT = 30  # seconds between heartbeats: alive means one within 90 s


@pytest.fixture
def status_settings():
    return Settings(database_url="(the test engine)", secret_key="test", lease_seconds=120,
                    worker_heartbeat_seconds=BEAT)


def worker(session, wid, now, *, beat_ago, stopped_ago=None, in_flight=0):
    row = Worker(id=wid, host=wid.split(":")[0], pid=int(wid.split(":")[1]), pool_size=8,
                 started_at=now - timedelta(hours=2), heartbeat_at=now - timedelta(seconds=beat_ago),
                 stopped_at=None if stopped_ago is None else now - timedelta(seconds=stopped_ago),
                 in_flight=in_flight)
    session.add(row)
    session.commit()
    return row


def set_target(session, post, **fields):
    t = session.get(Target, post.targets[0].id)
    for k, v in fields.items():
        setattr(t, k, v)
    session.commit()
    return t


def attempt(session, target, now, *, finished_ago, outcome, code=None, message=None):
    session.add(PublishAttempt(target_id=target.id, number=1, worker="w:1", started_at=now - finished_ago,
                               finished_at=now - finished_ago, outcome=outcome, error_code=code, message=message))
    session.commit()


@pytest.fixture
def seeded(world, session, now):
    """Four workers (alive, silent, stopped, long gone) and a target in every state that counts."""
    m = lambda minutes: now + timedelta(minutes=minutes)  # noqa: E731
    both_units(world)
    worker(session, "alpha:11:a", now, beat_ago=10, in_flight=1)
    worker(session, "bravo:22:b", now, beat_ago=300)                   # killed: no stop recorded
    worker(session, "charlie:33:c", now, beat_ago=3600, stopped_ago=3600)
    worker(session, "delta:44:d", now, beat_ago=3 * 86400, stopped_ago=3 * 86400)
    p = {}
    p["asap"] = approved(world, m(-2), body="As soon as approved.")
    p["oldest"] = approved(world, m(-40), body="Due half an hour ago.", when=m(-30))
    p["later"] = approved(world, now, body="Tomorrow's briefing.", when=m(60))
    p["ours"] = approved(world, m(-5), body="Being sent by alpha.")
    set_target(session, p["ours"], status=wf.T_SENDING, claimed_by="alpha:11:a", lease_until=m(1))
    p["orphan"] = approved(world, m(-5), body="Being sent by bravo, which died.")
    set_target(session, p["orphan"], status=wf.T_SENDING, claimed_by="bravo:22:b", lease_until=m(-1))
    p["retry_due"] = approved(world, m(-5), body="Retry due.")
    set_target(session, p["retry_due"], status=wf.T_RETRYING, attempts=1, next_attempt_at=m(-1))
    p["retry_later"] = approved(world, m(-5), body="Retry later.")
    set_target(session, p["retry_later"], status=wf.T_RETRYING, attempts=1, next_attempt_at=m(10))
    p["late"] = approved(world, m(-300), body="Late.", channel=world.other_channel)
    set_target(session, p["late"], status=wf.T_HELD, held_reason=lateness.late_reason("09:00", None))
    p["unknown"] = approved(world, m(-5), body="Unknown.")
    set_target(session, p["unknown"], status=wf.T_UNKNOWN, error_code="needs-person")
    t = session.get(Target, p["retry_due"].targets[0].id)
    attempt(session, t, now, finished_ago=timedelta(hours=1), outcome=wf.T_RETRYING, code="rate-limited",
            message="X asked the desk to slow down.")
    attempt(session, t, now, finished_ago=timedelta(hours=2), outcome=wf.T_RETRYING, code="server-error")
    attempt(session, t, now, finished_ago=timedelta(hours=25), outcome=wf.T_FAILED, code="too-old")
    attempt(session, t, now, finished_ago=timedelta(minutes=30), outcome=wf.T_PUBLISHED)
    late_t = session.get(Target, p["late"].targets[0].id)
    attempt(session, late_t, now, finished_ago=timedelta(hours=3), outcome=wf.T_HELD, code="token-expired")
    paced = session.get(Channel, world.channel2.id)
    paced.next_send_at, paced.rate_remaining, paced.rate_reset_at = m(0.5), 0, m(0.5)
    session.commit()
    admin.update_channel(session, OPERATOR, world.other_channel.id, status="needs_reconnect")
    return p


def both_units(world):
    """The author and the approver work for CO11 too, so that a post goes to its channel."""
    for user, role in ((world.author, "author"), (world.approver, "approver")):
        admin.add_membership(world.session, OPERATOR, user.id, world.other_unit.id, role)
        world.session.refresh(user)


def ids(posts, *names):
    return {posts[n].targets[0].id for n in names}


def test_the_snapshot_counts_what_it_should(seeded, session, now, status_settings, world):
    s = worker_status.snapshot(session, now, status_settings)
    by_id = {w.id: w for w in s.workers}
    assert set(by_id) == {"alpha:11:a", "bravo:22:b", "charlie:33:c"}  # delta stopped days ago
    assert [w.id for w in s.alive] == ["alpha:11:a"]
    assert by_id["alpha:11:a"].heartbeat_age_seconds == 10 and by_id["alpha:11:a"].in_flight == 1
    assert not by_id["bravo:22:b"].alive and by_id["bravo:22:b"].stopped_at is None
    assert not by_id["charlie:33:c"].alive and by_id["charlie:33:c"].stopped_at is not None
    assert {c.target_id for c in by_id["alpha:11:a"].claims} == ids(seeded, "ours")
    assert not by_id["alpha:11:a"].claims[0].lease_expired
    assert {c.target_id for c in s.orphan_claims} == ids(seeded, "orphan") and s.orphan_claims[0].lease_expired
    assert (s.due_queued, s.due_retrying, s.due_now) == (2, 1, 3)
    assert (s.scheduled_later, s.sending, s.held, s.unknown, s.waiting_for_person) == (2, 2, 1, 1, 2)
    o = s.oldest_overdue
    assert o.target_id in ids(seeded, "oldest") and o.due_at == now - timedelta(minutes=30)
    assert o.late_seconds == 1800 and o.channel_name == world.channel.name
    assert s.failures == 3  # the 25-hour-old failure and the success are not counted
    assert s.failures_by_code == {"rate-limited": 1, "server-error": 1, "token-expired": 1}
    assert [f.error_code for f in s.recent_failures] == ["rate-limited", "server-error", "token-expired"]
    assert s.recent_failures[0].message == "X asked the desk to slow down."
    assert s.recent_failures[0].platform == "training"
    assert [c.id for c in s.paced] == [world.channel2.id] and s.paced_count == 1 and s.paced[0].rate_remaining == 0
    assert [(c.id, c.held) for c in s.needs_reconnect] == [(world.other_channel.id, 1)]
    assert s.healthy and s.last_heartbeat_at == now - timedelta(seconds=10)
    assert json.loads(json.dumps(s.to_dict()))["due_now"] == 3


def test_a_unit_administrator_sees_only_their_units_figures(seeded, session, now, status_settings, world):
    s = worker_status.snapshot(session, now, status_settings, unit_ids={world.other_unit.id})
    assert len(s.workers) == 3  # the workers publish for every unit
    assert (s.due_now, s.scheduled_later, s.sending, s.held, s.unknown) == (0, 0, 0, 1, 0)
    assert s.oldest_overdue is None and s.paced == [] and s.orphan_claims == []
    assert s.failures_by_code == {"token-expired": 1}
    assert [c.id for c in s.needs_reconnect] == [world.other_channel.id]


def test_nothing_publishing_while_posts_are_due_is_an_alarm(world, session, now, status_settings):
    approved(world, now - timedelta(minutes=1), body="Due now, nobody to send it.")
    worker(session, "echo:55:e", now, beat_ago=4 * BEAT)
    s = worker_status.snapshot(session, now, status_settings)
    assert not s.alive and s.due_now == 1 and not s.healthy
    level, words = worker_status.headline(s)
    assert level == "alarm" and words.startswith("No worker has reported for 2 minutes: nothing is being published")
    assert "flask --app app desk worker" in words


@pytest.mark.parametrize("ago, stopped, alive", [(0, False, True), (3 * BEAT, False, True),
                                                  (3 * BEAT + 1, False, False), (1, True, False)])
def test_alive_means_a_heartbeat_within_three_intervals(now, ago, stopped, alive):
    beat_at = now - timedelta(seconds=ago)
    assert worker_status.is_alive(beat_at, now if stopped else None, now, BEAT) is alive


def test_spoken_durations():
    assert [worker_status.spoken(s) for s in (1, 59, 60, 150, 7200, 90000)] == \
        ["1 second", "59 seconds", "1 minute", "2 minutes", "2 hours", "1 day"]


# ---- the command ----------------------------------------------------------------------------------

def test_status_command_exit_status_follows_the_alarm(app, web_world):
    from desk.domain.clock import utcnow

    runner = app.test_cli_runner()
    idle = runner.invoke(args=["desk", "worker", "--status"])
    assert idle.exit_code == 0, idle.output
    assert idle.output.startswith("WARNING: No worker has ever reported. Nothing is due now.")

    approved(web_world, utcnow() - timedelta(minutes=1), body="Due now.")
    due = runner.invoke(args=["desk", "worker", "--status"])
    assert due.exit_code == 1
    assert due.output.startswith("ALARM: No worker has ever reported: nothing is being published")
    assert "Queue: 1 due now (1 queued, 0 retrying)" in due.output and "Oldest overdue: target" in due.output

    with app.extensions["desk.sessions"]() as s:
        worker(s, "foxtrot:66:f", utcnow(), beat_ago=1)
    running = runner.invoke(args=["desk", "worker", "--status", "--json"])
    assert running.exit_code == 0, running.output
    data = json.loads(running.output)
    assert data["healthy"] and data["alive_workers"] == 1 and data["due_now"] == 1
    assert data["workers"][0]["id"] == "foxtrot:66:f" and data["oldest_overdue"]["post_id"]

    wrong = runner.invoke(args=["desk", "worker", "--json"])
    assert wrong.exit_code == 2 and "--json goes with --status" in wrong.output
    helped = runner.invoke(args=["desk", "worker", "--help"])
    assert "exit 0 when a worker is alive or nothing is due" in " ".join(helped.output.split())
