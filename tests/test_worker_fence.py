"""The fence before the call that creates a post, on both databases: a worker whose claim was taken over,
whose lease is running out, whose heartbeat has not renewed its leases, or whose database does not answer,
sends nothing, and says so in the audit trail (`target.claim_lost`). The real Runner and the training
adapter (which publishes into the desk's own table); the call is held between claim and send, as when a
process is frozen there, and run at the moment the test chooses."""
from __future__ import annotations

import signal
import threading
from concurrent.futures import Future
from datetime import timedelta

import pytest
from sqlalchemy import select
from test_worker import another_channel, approved, fresh, publications

from desk.config import Settings
from desk.db import is_postgres, make_engine, make_session_factory
from desk.domain import leases
from desk.domain import workflow as wf
from desk.models import AuditEvent, PublishAttempt, Target
from desk.platforms import PlatformContext
from desk.services import claim_fence, publishing, worker_registry
from desk.services.common import lock
from desk.worker import Runner, StopOnSignal, run_pass
from desk.worker.leases import Heartbeat, Renewals
from tests.process_support import RestartableProxy, through, upstream_of, wait_for

ME, OTHER = "host-a:10:aaaaaa", "host-b:20:bbbbbb"


@pytest.fixture
def settings():
    return Settings(database_url="(the test engine)", secret_key="test", max_attempts=3, retry_base_seconds=30,
                    worker_batch_size=10, lease_seconds=60)  # a heartbeat every 15 s: the margin


class Held:
    """An executor that keeps each call the pass hands it until the test runs it, at the time it chooses."""

    def __init__(self):
        self.calls: list[tuple] = []

    def submit(self, fn, item, now) -> Future:
        future: Future = Future()
        self.calls.append((fn, item, future))
        return future

    def run(self, at) -> list[str | None]:
        results = []
        for fn, item, future in self.calls:
            results.append(fn(item, at))
            future.set_result(results[-1])
        self.calls.clear()
        return results


def story(session, target_id) -> list[str]:
    return list(session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "target",
                                                                AuditEvent.object_id == str(target_id))
                                .order_by(AuditEvent.seq)))


def claim_lost_details(session, target_id) -> str:
    return session.scalars(select(AuditEvent.details).where(AuditEvent.action == "target.claim_lost",
                                                            AuditEvent.object_id == str(target_id))).one()


def held_claim(world, sessions, settings, now, **runner_kwargs):
    """A post approved and claimed by ME, whose call waits to be run."""
    target_id = approved(world, now).targets[0].id
    held = Held()
    runner = Runner(sessions, PlatformContext(settings, sessions), ME, settings, executor=held, **runner_kwargs)
    assert runner.run_pass(now).claimed == 1 and fresh(world.session, Target, target_id).claimed_by == ME
    return target_id, held, runner


def test_a_claim_taken_over_while_its_worker_was_frozen_is_not_sent(world, sessions, settings, now):
    s = world.session
    target_id, held, _ = held_claim(world, sessions, settings, now)
    # ME is frozen past its lease: OTHER finds the claim dead, asks the platform, and publishes the post.
    later = now + timedelta(seconds=61)
    context = PlatformContext(settings, sessions)
    run_pass(sessions, context, OTHER, settings, now=later)
    assert run_pass(sessions, context, OTHER, settings, now=later + timedelta(seconds=1)).outcomes == {
        target_id: wf.T_PUBLISHED}
    kept = fresh(s, Target, target_id).remote_id

    assert held.run(later + timedelta(seconds=2)) == [wf.T_PUBLISHED]  # ME wakes, and finishes its call
    assert publications(s, target_id) == 1
    assert fresh(s, Target, target_id).remote_id == kept
    attempts = {a.worker: a for a in s.scalars(select(PublishAttempt).where(PublishAttempt.target_id == target_id))}
    assert (attempts[ME].outcome, attempts[ME].error_code) == ("claim_lost", leases.TAKEN_OVER)
    assert story(s, target_id)[-1] == "target.claim_lost"
    assert '"sent":false' in claim_lost_details(s, target_id)


def test_a_claim_no_one_took_over_is_renewed_and_sent_even_late(world, sessions, settings, now):
    """Whether a claim was taken over is told by its row, not by the clock: a lease run out by our own
    clock, that no other worker acted on, is still ours; the fence renews it and the post goes out once."""
    s = world.session
    target_id, held, _ = held_claim(world, sessions, settings, now)
    assert held.run(now + timedelta(seconds=70)) == [wf.T_PUBLISHED]
    assert story(s, target_id) == ["target.sending", "target.published"]
    assert publications(s, target_id) == 1


def test_the_fence_renews_a_claim_still_ours_and_refuses_one_taken_over(world, now):
    s = world.session
    approved(world, now)
    [claim] = publishing.claim_due(s, ME, now=now, lease_seconds=60)
    at = now + timedelta(seconds=40)
    assert claim_fence.fence(s, claim, ME, lease_seconds=60, now=at) is None
    assert fresh(s, Target, claim.target_id).lease_until == at + timedelta(seconds=60)  # a whole lease from now
    assert claim_fence.fence(s, claim, OTHER, lease_seconds=60, now=at) == leases.TAKEN_OVER
    publishing.expire_leases(s, OTHER, now=at + timedelta(seconds=61))
    assert claim_fence.fence(s, claim, ME, lease_seconds=60, now=at + timedelta(seconds=62)) == leases.TAKEN_OVER
    assert fresh(s, Target, claim.target_id).status == wf.T_UNKNOWN


def test_the_heartbeat_does_not_wait_behind_an_outcome_being_recorded(world, sessions, now):
    """A recording holds its target's row while it waits its turn for the audit chain; the beat renews the
    other leases meanwhile instead of waiting with them until they run out."""
    if not is_postgres(world.session):
        pytest.skip("SQLite has one writer: there is no row lock to pass by")
    s = world.session
    first = approved(world, now, body="First.").targets[0].id
    second = approved(world, now, body="Second.", channel=another_channel(world)).targets[0].id
    claims = publishing.claim_due(s, ME, now=now, lease_seconds=60)
    assert {c.target_id for c in claims} == {first, second}
    with sessions() as recording:
        lock(recording, Target, first)  # as record_success does, before it waits for the audit chain
        renewed = []

        def beat_once():
            with sessions() as beating:
                renewed.append(worker_registry.beat(beating, ME, {first, second}, lease_seconds=60,
                                                    now=now + timedelta(seconds=30)))

        beat = threading.Thread(target=beat_once)
        beat.start()
        beat.join(10)
        assert not beat.is_alive(), "the heartbeat waited behind the recording"
        recording.rollback()
    assert renewed == [1]
    assert fresh(s, Target, second).lease_until == now + timedelta(seconds=90)


def test_a_process_whose_heartbeat_has_not_renewed_its_leases_sends_nothing(world, sessions, now):
    s = world.session
    settings = Settings(database_url="(the test engine)", secret_key="test", lease_seconds=2,
                        worker_heartbeat_seconds=1)
    monotonic = [100.0]
    renewals = Renewals(settings.lease_seconds, leases.margin_seconds(1), clock=lambda: monotonic[0])
    target_id, held, runner = held_claim(world, sessions, settings, now, renewals=renewals)
    monotonic[0] += 30  # the process was stopped for 30 s: its last renewal is far behind it
    assert held.run(now) == [wf.T_RETRYING]  # it waited a lease's length for a beat that never came
    assert fresh(s, Target, target_id).error_code == leases.NO_HEARTBEAT
    assert publications(s, target_id) == 0

    # Once a beat renews its leases, the same process publishes again.
    assert runner.run_pass(now).claimed == 1
    monotonic[0] += 30
    beating = threading.Thread(target=Heartbeat(sessions, runner, settings, renewals).beat)
    beating.start()
    assert held.run(now) == [wf.T_PUBLISHED]
    beating.join(10)
    assert publications(s, target_id) == 1


def test_a_worker_that_cannot_reach_the_database_does_not_send(world, sessions, settings, now):
    """Cut off from the database but not from the platform (here the training platform, reached directly)."""
    if not is_postgres(world.session):
        pytest.skip("the database is cut off through a TCP proxy in front of PostgreSQL")
    s = world.session
    url = sessions.kw["bind"].url.render_as_string(hide_password=False)
    proxy = RestartableProxy(upstream_of(url))
    engine = make_engine(through(url, proxy.port, "fence-test"))
    settings.worker_heartbeat_seconds = 1
    held = Held()
    runner = Runner(make_session_factory(engine), PlatformContext(settings, sessions), ME, settings, executor=held)
    try:
        target_id = approved(world, now).targets[0].id
        assert runner.run_pass(now).claimed == 1
        proxy.restart()
        results = []
        call = threading.Thread(target=lambda: results.extend(held.run(now)), daemon=True)
        call.start()
        wait_for(lambda: runner.last_error, "the worker to meet the missing database", timeout=20)
        assert publications(s, target_id) == 0  # it keeps what it has to record, and sends nothing
        proxy.resume()
        call.join(30)
        assert results == [wf.T_RETRYING]
        assert fresh(s, Target, target_id).error_code == leases.NO_DATABASE
        assert publications(s, target_id) == 0 and story(s, target_id)[-1] == "target.claim_lost"
    finally:
        runner.stopping.set()  # a call still recording gives up rather than outlive the test
        proxy.close()
        engine.dispose()


def test_a_stop_signal_that_lands_inside_the_scheduler_does_not_hang_the_worker():
    """SIGTERM runs its handler on the main thread wherever it stands: here, inside the scheduler's pool while
    it hands over a job (holding the pool's lock). Found by the paused-worker test: SIGTERM right after
    SIGCONT, while the missed ticks were handed out, and the worker never stopped."""
    from apscheduler.executors.pool import ThreadPoolExecutor as SchedulerThreads
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.base import STATE_STOPPED

    scheduler = BackgroundScheduler(executors={"default": SchedulerThreads(2)})
    scheduler.start()
    stopping = threading.Event()
    stop = StopOnSignal(scheduler, stopping)
    pool_lock = scheduler._executors["default"]._pool._shutdown_lock  # what submitting a job holds

    def signal_mid_submit():
        with pool_lock:
            stop(signal.SIGTERM, None)

    main = threading.Thread(target=signal_mid_submit, daemon=True)
    main.start()
    main.join(5)
    assert not main.is_alive(), "the stop handler waited for a lock its own thread held"
    stop.thread.join(5)
    assert stopping.is_set() and scheduler.state == STATE_STOPPED


# ---- the rules ---------------------------------------------------------------------------------------------

def test_the_creating_call_gets_no_more_time_than_the_lease_leaves():
    assert leases.create_timeout((5.0, 30.0), 120, 30) == (5.0, 30.0)  # the defaults: untouched
    assert leases.create_timeout((5.0, 30.0), 3, 1) == (1.0, 1.0)  # a three-second lease: two seconds in all
    assert leases.margin_seconds(30) == 30.0
    assert leases.renewals_fresh(100.0, 189.0, 120, 30) and not leases.renewals_fresh(100.0, 190.0, 120, 30)
