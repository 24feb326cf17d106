"""The worker's core on both databases: one call per channel, pacing, the heartbeat's leases, successes
kept after a lease ran out, the exact wake-up, the pool, and reconciling that a person must finish."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import exc as db_errors
from sqlalchemy import func, select
from test_worker import another_channel, approved, fresh, publications

from desk.config import ConfigError, Settings, settings_from_env
from desk.db import is_postgres
from desk.domain import rate_limits
from desk.domain import workflow as wf
from desk.domain.person_decisions import NEEDS_PERSON
from desk.models import AuditEvent, Channel, Post, PublishAttempt, StrayCopy, Target, Worker
from desk.platforms import PlatformContext, PlatformError, RemoteRef
from desk.platforms.base import RATE_LIMITED
from desk.services import publishing, worker_registry
from desk.worker import Passes, Runner, run_pass

ME, OTHER = "host-a:10:aaaaaa", "host-b:20:bbbbbb"


@pytest.fixture
def settings():
    return Settings(database_url="(the test engine)", secret_key="test", max_attempts=3, retry_base_seconds=30,
                    worker_batch_size=10, lease_seconds=60, worker_pool_size=4)


def actions(session, target_id):
    return list(session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "target",
                                                                AuditEvent.object_id == str(target_id))
                                .order_by(AuditEvent.seq)))


# ---- settings ---------------------------------------------------------------------------------------

def test_worker_settings_from_the_environment(tmp_path):
    s = settings_from_env(str(tmp_path), {"DESK_WORKER_POOL_SIZE": "3", "DESK_LEASE_SECONDS": "40",
                                          "DESK_LATE_AFTER_MINUTES": "90"})
    assert (s.worker_pool_size, s.lease_seconds, s.worker_heartbeat_seconds, s.late_after_minutes) == (3, 40, 10, 90)
    assert settings_from_env(str(tmp_path), {}).worker_heartbeat_seconds == 30
    assert settings_from_env(str(tmp_path), {"DESK_LEASE_SECONDS": "3"}).worker_heartbeat_seconds == 1
    assert settings_from_env(str(tmp_path), {"DESK_WORKER_HEARTBEAT_SECONDS": "5"}).worker_heartbeat_seconds == 5
    with pytest.raises(ConfigError, match="shorter than DESK_LEASE_SECONDS"):
        settings_from_env(str(tmp_path), {"DESK_LEASE_SECONDS": "10", "DESK_WORKER_HEARTBEAT_SECONDS": "10"})
    with pytest.raises(ConfigError, match="DESK_WORKER_POOL_SIZE"):
        settings_from_env(str(tmp_path), {"DESK_WORKER_POOL_SIZE": "0"})
    assert Settings(database_url="x", secret_key="y", lease_seconds=20).worker_heartbeat_seconds == 5


# ---- one call at a time per channel, paced ------------------------------------------------------------

def test_one_claim_per_channel_however_many_are_due(world, now):
    s = world.session
    ids = [approved(world, now, body=f"Update {i}").targets[0].id for i in range(5)]
    first = publishing.claim_due(s, ME, now=now)
    assert [c.target_id for c in first] == [ids[0]]  # the earliest, alone
    assert publishing.claim_due(s, OTHER, now=now) == []  # the channel is busy: nothing for another claimer
    publishing.record_success(s, first[0], ME, RemoteRef("r0"), now=now)
    [second] = publishing.claim_due(s, OTHER, now=now)
    assert second.target_id == ids[1]


def test_concurrent_claimers_on_postgresql_take_one_target_of_a_channel(world, now, sessions):
    if not is_postgres(world.session):
        pytest.skip("SQLite runs one worker (its lock file says so): no concurrent claimers")
    for i in range(30):
        approved(world, now, body=f"Update {i}")
    start = threading.Barrier(6)

    def claimer(n):
        start.wait()
        with sessions() as s:
            return publishing.claim_due(s, f"w{n}", now=now, limit=5)

    with ThreadPoolExecutor(6) as pool:
        claims = [c for batch in pool.map(claimer, range(6)) for c in batch]
    assert len(claims) == 1
    assert world.session.scalar(select(func.count(Target.id)).where(Target.status == wf.T_SENDING)) == 1


def test_a_channel_is_not_called_before_its_next_send_at(world, now):
    s = world.session
    approved(world, now)
    s.get(Channel, world.channel.id).next_send_at = now + timedelta(seconds=10)
    s.commit()
    assert publishing.claim_due(s, ME, now=now + timedelta(seconds=9)) == []
    assert len(publishing.claim_due(s, ME, now=now + timedelta(seconds=10))) == 1


def test_what_the_platform_said_is_stored_on_the_channel_with_the_outcome(world, now):
    s = world.session
    approved(world, now)
    [claim] = publishing.claim_due(s, ME, now=now, lease_seconds=60)
    assert fresh(s, Channel, world.channel.id).next_send_at == now + timedelta(seconds=60)  # reserved for the call
    reset = now + timedelta(minutes=15)
    pacing = rate_limits.after_call("x", [{"x-rate-limit-remaining": "0",
                                           "x-rate-limit-reset": str(int(reset.timestamp()))}], now, wall=now)
    publishing.record_success(s, claim, ME, RemoteRef("r1"), now=now, pacing=pacing)
    c = fresh(s, Channel, world.channel.id)
    assert (c.next_send_at, c.rate_remaining, c.rate_reset_at) == (reset, 0, reset)


def test_a_429_holds_back_every_post_of_that_channel_until_its_retry_after(world, now, settings, sessions):
    s = world.session
    first = approved(world, now, body="First.")
    second = approved(world, now, body="Second.")
    elsewhere = approved(world, now, body="Elsewhere.", channel=another_channel(world))
    claims = {c.target_id: c for c in publishing.claim_due(s, ME, now=now)}
    assert set(claims) == {first.targets[0].id, elsewhere.targets[0].id}
    error = PlatformError(RATE_LIMITED, "Slow down.", code="429", retry_after=600)
    pacing = rate_limits.after_call("training", [], now, retry_after=600)
    assert publishing.record_failure(s, claims[first.targets[0].id], ME, error, max_attempts=3,
                                     retry_base_seconds=1, now=now, pacing=pacing) == wf.T_RETRYING
    publishing.record_success(s, claims[elsewhere.targets[0].id], ME, RemoteRef("e1"), now=now)
    assert fresh(s, Channel, world.channel.id).next_send_at == now + timedelta(seconds=600)

    for minutes in (1, 5, 9):  # the second post is due, but its account was told to wait
        assert run_pass(sessions, PlatformContext(settings, sessions), ME, settings,
                        now=now + timedelta(minutes=minutes)).outcomes == {}
    assert fresh(s, Target, second.targets[0].id).attempts == 0
    outcomes = run_pass(sessions, PlatformContext(settings, sessions), ME, settings,
                        now=now + timedelta(seconds=600)).outcomes
    assert len(outcomes) == 1 and set(outcomes.values()) == {wf.T_PUBLISHED}


# ---- leases, the heartbeat, and successes after a lease ran out ----------------------------------------

def test_the_heartbeat_keeps_a_live_call_and_a_dead_workers_lease_runs_out(world, now):
    s = world.session
    post = approved(world, now)
    [claim] = publishing.claim_due(s, ME, now=now, lease_seconds=60)
    worker_registry.register(s, ME, pool_size=4, now=now)
    for seconds in (45, 90, 135):  # a slow upload: each beat renews the lease before it runs out
        beat_at = now + timedelta(seconds=seconds)
        assert worker_registry.beat(s, ME, {claim.target_id}, lease_seconds=60, now=beat_at) == 1
        assert publishing.expire_leases(s, OTHER, now=beat_at + timedelta(seconds=59)) == 0
    assert fresh(s, Target, claim.target_id).lease_until == now + timedelta(seconds=195)
    w = fresh(s, Worker, ME)
    assert w.heartbeat_at == now + timedelta(seconds=135) and w.in_flight == 1

    # The worker dies: no more beats, and the lease runs out.
    assert publishing.expire_leases(s, OTHER, now=now + timedelta(seconds=196)) == 1
    assert fresh(s, Target, claim.target_id).status == wf.T_UNKNOWN
    # A late beat from the old worker does not pull the target back.
    assert worker_registry.beat(s, ME, {claim.target_id}, lease_seconds=60, now=now + timedelta(seconds=200)) == 0
    assert fresh(s, Target, claim.target_id).status == wf.T_UNKNOWN
    assert fresh(s, Post, post.id).status == wf.APPROVED


def test_the_heartbeat_renews_only_our_own_claims_and_says_so_again_if_its_row_went(world, now):
    s = world.session
    approved(world, now)
    [claim] = publishing.claim_due(s, OTHER, now=now, lease_seconds=60)
    assert worker_registry.beat(s, ME, {claim.target_id}, lease_seconds=60, now=now + timedelta(seconds=30)) == 0
    assert fresh(s, Target, claim.target_id).lease_until == now + timedelta(seconds=60)
    assert fresh(s, Worker, ME).heartbeat_at == now + timedelta(seconds=30)  # no row before: made by the beat
    worker_registry.stopped(s, ME, now=now + timedelta(seconds=31))
    assert fresh(s, Worker, ME).stopped_at == now + timedelta(seconds=31)


def test_a_success_recorded_after_the_lease_ran_out_is_not_lost(world, now):
    s = world.session
    post = approved(world, now)
    [claim] = publishing.claim_due(s, ME, now=now, lease_seconds=60)
    assert publishing.expire_leases(s, OTHER, now=now + timedelta(seconds=61)) == 1  # e.g. the database was away
    state = publishing.record_success(s, claim, ME, RemoteRef("r-late", "https://example.test/r-late"),
                                      now=now + timedelta(seconds=62))
    t = fresh(s, Target, claim.target_id)
    assert state == wf.T_PUBLISHED and t.status == wf.T_PUBLISHED and t.remote_id == "r-late"
    assert fresh(s, Post, post.id).status == wf.PUBLISHED
    assert actions(s, t.id) == ["target.sending", "target.unknown", "target.published"]
    last = s.scalars(select(AuditEvent).where(AuditEvent.action == "target.published")).one()
    assert '"after_lease_expired":true' in last.details and '"status_before":"unknown"' in last.details


def test_a_failure_recorded_after_the_lease_ran_out_leaves_the_target_to_reconciliation(world, now):
    s = world.session
    approved(world, now)
    [claim] = publishing.claim_due(s, ME, now=now, lease_seconds=60)
    publishing.expire_leases(s, OTHER, now=now + timedelta(seconds=61))
    error = PlatformError("transient", "Down.", code="503")
    assert publishing.record_failure(s, claim, ME, error, max_attempts=3, retry_base_seconds=30,
                                     now=now + timedelta(seconds=62)) == wf.T_UNKNOWN
    assert s.get(PublishAttempt, claim.attempt_id).outcome == "superseded"


def test_a_second_publication_is_told_not_hidden(world, now):
    s = world.session
    approved(world, now)
    [claim] = publishing.claim_due(s, ME, now=now, lease_seconds=60)
    publishing.expire_leases(s, OTHER, now=now + timedelta(seconds=61))
    publishing.record_success(s, claim, ME, RemoteRef("r-1"), now=now + timedelta(seconds=62))
    publishing.record_success(s, claim, OTHER, RemoteRef("r-2", "https://x.com/desk/status/2"),
                              now=now + timedelta(seconds=63))
    assert fresh(s, Target, claim.target_id).remote_id == "r-1"
    assert actions(s, claim.target_id)[-1] == "target.sent_after_takeover"
    [copy] = s.scalars(select(StrayCopy)).all()  # kept for a person to remove, not only told
    assert (copy.target_id, copy.remote_id, copy.remote_url, copy.worker, copy.removed_at) == (
        claim.target_id, "r-2", "https://x.com/desk/status/2", OTHER, None)


# ---- the exact wake-up ----------------------------------------------------------------------------

def test_the_next_due_moment_is_the_earliest_time_retry_or_pacing(world, now):
    s = world.session
    assert publishing.next_due_at(s, now) is None
    approved(world, now, body="Later.", when=now + timedelta(minutes=30))
    assert publishing.next_due_at(s, now) == now + timedelta(minutes=30)
    other = another_channel(world)
    retry = approved(world, now, body="Retry [fail:transient]", channel=other)
    [claim] = publishing.claim_due(s, ME, now=now)
    publishing.record_failure(s, claim, ME, PlatformError("transient", "Down.", code="503"), max_attempts=3,
                              retry_base_seconds=60, now=now)
    retry_at = fresh(s, Target, retry.targets[0].id).next_attempt_at
    assert publishing.next_due_at(s, now) == retry_at < now + timedelta(minutes=30)
    approved(world, now, body="Due now on a paced channel.", channel=other)
    s.get(Channel, other.id).next_send_at = now + timedelta(seconds=7)
    s.commit()
    assert publishing.next_due_at(s, now) == now + timedelta(seconds=7)
    assert publishing.next_due_at(s, now + timedelta(minutes=31)) is None  # the rest is due already


# ---- the pool ----------------------------------------------------------------------------------------

class Gate:
    """The training adapter, except that each call waits at a gate the test opens."""

    def __init__(self, monkeypatch):
        import desk.worker

        self.open, self.entered = threading.Event(), threading.Semaphore(0)
        real = desk.worker.publisher_for
        gate = self

        class Gated:
            def __init__(self, channel, ctx):
                self.inner = real(channel, ctx)

            def publish(self, request):
                gate.entered.release()
                assert gate.open.wait(20)
                return self.inner.publish(request)

            def find_published(self, request):
                return self.inner.find_published(request)

        monkeypatch.setattr(desk.worker, "publisher_for", Gated)


def test_the_pool_claims_only_its_free_slots_and_a_pass_does_not_wait_for_its_calls(world, now, sessions, settings,
                                                                                   monkeypatch):
    gate = Gate(monkeypatch)
    settings.worker_pool_size = 2
    channels = [world.channel] + [another_channel(world, f"Feed {i}") for i in range(2)]
    targets = [approved(world, now, channel=c, body=f"On {c.name}").targets[0].id for c in channels]
    freed = threading.Event()
    pool = ThreadPoolExecutor(2)
    runner = Runner(sessions, PlatformContext(settings, sessions), ME, settings, executor=pool, on_free=freed.set)
    try:
        runner.run_pass(now)  # returns while both calls wait at the gate
        assert gate.entered.acquire(timeout=10) and gate.entered.acquire(timeout=10)
        assert len(runner.in_flight()) == 2 and runner.free_slots() == 0
        assert runner.run_pass(now).outcomes == {}  # no free slot: nothing more is claimed
        s = world.session
        assert sorted(fresh(s, Target, t).status for t in targets) == [wf.T_QUEUED, wf.T_SENDING, wf.T_SENDING]
        gate.open.set()
        assert freed.wait(10)
        deadline = time.monotonic() + 10
        while runner.in_flight() and time.monotonic() < deadline:
            time.sleep(0.05)
        runner.run_pass(now)
    finally:
        pool.shutdown(wait=True)
    assert all(fresh(world.session, Target, t).status == wf.T_PUBLISHED for t in targets)
    assert all(publications(world.session, t) == 1 for t in targets)


def test_an_outcome_waits_in_memory_while_the_database_is_away(sessions, settings):
    settings.worker_heartbeat_seconds = 1
    runner = Runner(sessions, PlatformContext(settings, sessions), ME, settings)
    failures = iter([db_errors.OperationalError("UPDATE targets", {}, Exception("server closed the connection"))] * 2)

    def write(session):
        error = next(failures, None)
        if error:
            raise error
        return "recorded"

    assert runner._record("target=1", write) == "recorded"
    assert runner.last_error and "OperationalError" in runner.last_error
    assert runner._record("target=2", lambda session: 1 / 0) is None  # a bug is not retried for ever


def test_passes_requested_during_a_pass_make_exactly_one_more():
    started, release, runs = threading.Event(), threading.Event(), []

    def one(upkeep):
        runs.append(upkeep)
        if len(runs) == 1:
            started.set()
            release.wait(5)

    passes = Passes(one)
    first = threading.Thread(target=passes.tick)
    first.start()
    assert started.wait(5)
    for _ in range(5):
        passes.request()  # returns at once: a pass is under way
    passes.tick()
    release.set()
    first.join(5)
    assert runs == [True, True]  # the one more pass does the upkeep a tick asked for meanwhile


# ---- reconciling -------------------------------------------------------------------------------------

def test_a_platform_that_cannot_check_leaves_it_to_a_person_and_is_not_asked_again(world, now, sessions, settings,
                                                                                  monkeypatch):
    import desk.worker

    asked = []

    class CannotCheck:
        def __init__(self, channel, ctx):
            pass

        def find_published(self, request):
            asked.append(request.target_id)
            raise NotImplementedError

    s = world.session
    approved(world, now)
    [claim] = publishing.claim_due(s, OTHER, now=now, lease_seconds=60)
    monkeypatch.setattr(desk.worker, "publisher_for", CannotCheck)
    later = now + timedelta(minutes=2)
    result = run_pass(sessions, PlatformContext(settings, sessions), ME, settings, now=later)
    assert result.expired == 1 and result.reconciled == {claim.target_id: wf.T_UNKNOWN}
    t = fresh(s, Target, claim.target_id)
    assert t.status == wf.T_UNKNOWN and t.error_code == NEEDS_PERSON and "it was published" in t.error_message
    assert actions(s, t.id)[-1] == "target.needs_person"
    run_pass(sessions, PlatformContext(settings, sessions), ME, settings, now=later + timedelta(minutes=1))
    assert asked == [claim.target_id]


def test_reconciling_looks_no_further_back_than_the_first_attempt(world, now, sessions, settings, monkeypatch):
    """The platform is asked for a post made since this target was first tried, so that yesterday's post
    with the same words (a daily update) is not taken for today's; not found, it is sent again."""
    import desk.worker

    asked = []

    class Remembers:
        def __init__(self, channel, ctx):
            pass

        def find_published(self, request):
            asked.append(request)
            return None

    s = world.session
    approved(world, now)
    [claim] = publishing.claim_due(s, OTHER, now=now, lease_seconds=60)
    monkeypatch.setattr(desk.worker, "publisher_for", Remembers)
    result = run_pass(sessions, PlatformContext(settings, sessions), ME, settings, now=now + timedelta(minutes=2))
    assert result.reconciled == {claim.target_id: wf.T_QUEUED}
    [request] = asked
    assert request.not_before == now  # when the first attempt began
    assert request.earliest(0.0) == now.timestamp() - 600  # less ten minutes for the platform's clock


def test_no_reconciling_on_a_channel_with_a_call_in_flight(world, now, sessions, settings):
    s = world.session
    stuck = approved(world, now, body="Interrupted.")
    [dead] = publishing.claim_due(s, OTHER, now=now, lease_seconds=60)
    publishing.expire_leases(s, OTHER, now=now + timedelta(seconds=61))
    busy_at = now + timedelta(seconds=62)
    approved(world, busy_at, body="Now sending.")
    [live] = publishing.claim_due(s, ME, now=busy_at, lease_seconds=60)
    result = run_pass(sessions, PlatformContext(settings, sessions), "third:3:cccccc", settings, now=busy_at)
    assert result.reconciled == {} and fresh(s, Target, stuck.targets[0].id).status == wf.T_UNKNOWN
    publishing.record_success(s, live, ME, RemoteRef("r-live"), now=busy_at)
    result = run_pass(sessions, PlatformContext(settings, sessions), "third:3:cccccc", settings, now=busy_at)
    assert result.reconciled == {dead.target_id: wf.T_QUEUED}
